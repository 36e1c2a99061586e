"""The HTTP API: top actors/actresses by rating and the status of each day's pipeline run, read from the
PostgreSQL serving tables that `python -m ingestion publish` replaces atomically."""
