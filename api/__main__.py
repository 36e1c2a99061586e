"""`python -m api`: the API server (api.server.serve). Imports nothing heavy: see api.server."""

from api.server import serve

if __name__ == "__main__":
    serve()
