"""The FastAPI application: `create_app(settings)` builds it; `app` is the instance uvicorn serves.

Run it with `make api`, `python -m api.main` or `uvicorn api.main:app --host 127.0.0.1 --port 8008`.
Importing this module does not connect to the database (the engine connects on first use).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.db import create_db_engine
from api.routes import health, kpis, status
from api.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Top actors and actresses by the average rating of their rated movies, and the status of each day's
pipeline run. Data is published from the Delta Lake KPIs by `python -m ingestion publish`, which replaces
each table atomically: answers always come from one whole published version.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_db_engine(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    app = FastAPI(title="IMDb actor/actress KPIs", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    for module in (kpis, status, health):
        app.include_router(module.router)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for exc_type in (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError):
        app.add_exception_handler(exc_type, _database_unavailable)
    return app


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body (`detail`: list with `loc` naming the field) plus one readable `message`."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'body')) or 'body'}: {e['msg']}" for e in errors
    )
    return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors, "message": message}))


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Down, restarting or overloaded: a retryable 503 rather than a 500 with a driver traceback.
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse(
        status_code=503,
        content={"detail": "the database is unavailable, retry later"},
        headers={"Retry-After": "5"},
    )


app = create_app()


def run() -> None:
    """Serve `app` on API_HOST:API_PORT (127.0.0.1:8008)."""
    import uvicorn

    settings: Settings = app.state.settings
    uvicorn.run(app, host=settings.host, port=settings.port)


if __name__ == "__main__":
    run()
