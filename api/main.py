"""The FastAPI application: `create_app(settings)` builds it; `app` is the instance uvicorn serves.

Run it with `make api` or `python -m api` (API_WORKERS processes, one per core by default), or
`uvicorn api.main:app --host 127.0.0.1 --port 8008 --workers 2`.
Importing this module does not connect to the database (the engines connect on first use).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import fastapi_offline
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles

from api.db import Database, create_db_engine, is_query_bug, is_query_timeout
from api.generation import PublishWatch, create_watch_engine
from api.middleware import AnswerCache, BodyLimit, InFlightLimit
from api.routes import health, kpis, status
from api.server import raise_open_files_limit, serve
from api.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """
Top actors and actresses by the average rating of their rated movies, and the status of each day's
pipeline run. Data is published from the Delta Lake KPIs by `python -m ingestion publish`, which replaces
each table atomically: answers always come from one whole published version.
"""

# Answers that depend only on the published tables, so they are cached per publish generation.
CACHED_PATHS = frozenset({"/top_actor_actress", "/top_actor_actress/", "/etl_pipeline_status", "/etl_pipeline_status/"})
# Swagger UI and ReDoc from the pinned fastapi-offline package, served by the API itself: /docs works offline.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
DOCS_STATIC = "/static/docs"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = create_db_engine(settings)
    # The generation poll and /health: a thread and a connection of their own (api.generation).
    watch = PublishWatch(create_watch_engine(settings))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        raise_open_files_limit()
        try:
            await asyncio.to_thread(watch.refresh)  # cached answers from the first request on
        except Exception as exc:
            log.warning("database not answering at startup (%s); serving uncached until it does", exc)
        watch.start()
        try:
            yield
        finally:
            await asyncio.to_thread(watch.stop)
            await engine.dispose()

    app = FastAPI(
        title="IMDb actor/actress KPIs",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.database = Database(engine)
    app.state.watch = watch
    for module in (kpis, status, health):
        app.include_router(module.router)
    _offline_docs(app)

    app.add_exception_handler(RequestValidationError, _validation_error)
    # asyncpg's errors from the queries, SQLAlchemy's from opening connections and the health/generation reads
    app.add_exception_handler(asyncpg.PostgresError, _database_error)
    app.add_exception_handler(sa.exc.DBAPIError, _database_error)
    app.add_exception_handler(sa.exc.TimeoutError, _pool_exhausted)
    for exc_type in (OSError, TimeoutError, asyncpg.InterfaceError):  # cannot connect, or the connection broke
        app.add_exception_handler(exc_type, _database_unavailable)

    # Added last = outermost: bodies bounded first, then cached answers, then the bound on work in progress.
    app.add_middleware(InFlightLimit, max_in_flight=settings.max_in_flight)
    app.add_middleware(
        AnswerCache,
        watch=watch,
        paths=CACHED_PATHS,
        enabled=settings.cache,
        max_entries=settings.cache_max_entries,
        max_bytes=settings.cache_max_mb * 1024 * 1024,
        gzip_min_bytes=settings.gzip_min_bytes,
    )
    app.add_middleware(BodyLimit, max_body_bytes=settings.max_body_bytes)
    return app


def _offline_docs(app: FastAPI) -> None:
    """/docs and /redoc as FastAPI serves them, with their scripts and styles from the API, not a CDN."""
    app.mount(DOCS_STATIC, GZipMiddleware(StaticFiles(directory=DOCS_ASSETS), minimum_size=1024), name="docs-static")
    oauth2_redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=root + oauth2_redirect,
            swagger_js_url=f"{root}{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
        )

    @app.get(oauth2_redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{DOCS_STATIC}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{DOCS_STATIC}/favicon.png",
            with_google_fonts=False,
        )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 body (`detail`: list with `loc` naming the field) plus one readable `message`."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p not in ('query', 'body')) or 'body'}: {e['msg']}" for e in errors
    )
    return JSONResponse(status_code=422, content=jsonable_encoder({"detail": errors, "message": message}))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_query_timeout(exc):
        # The database is up; this query took too long (statement_timeout). Say so: retrying at once would
        # likely time out again, and "unavailable" would send an operator looking at the wrong thing.
        timeout_ms = request.app.state.settings.statement_timeout_ms
        log.warning("query timed out after %d ms: %s %s", timeout_ms, request.method, request.url.path)
        return JSONResponse(
            status_code=503,
            content={
                "detail": f"the query timed out after {timeout_ms} ms (API_STATEMENT_TIMEOUT_MS); "
                "retry later, or ask for less (a smaller limit or offset)"
            },
            headers={"Retry-After": "10"},
        )
    if is_query_bug(exc):
        raise exc  # a bug, not an outage: a 500 with the traceback in the log
    return await _database_unavailable(request, exc)


async def _pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
    timeout = request.app.state.settings.pool_timeout
    log.warning("no pooled connection free within %s s", timeout)
    return JSONResponse(
        status_code=503,
        content={"detail": f"the API is busy: no database connection became free within {timeout:g} s, retry later"},
        headers={"Retry-After": "1"},
    )


async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
    # Down, restarting or unreachable: a retryable 503 rather than a 500 with a driver traceback.
    log.warning("database unavailable: %s", exc.__class__.__name__)
    return JSONResponse(
        status_code=503,
        content={"detail": "the database is unavailable, retry later"},
        headers={"Retry-After": "5"},
    )


app = create_app()


def run() -> None:
    """Serve `app` as `python -m api` does (kept for `python -m api.main`)."""
    serve(app.state.settings)


if __name__ == "__main__":
    run()
