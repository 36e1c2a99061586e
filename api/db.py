"""Database access for the API: the async engine (asyncpg, read-only role), the tables it reads and the
per-request `Database` dependency.

Every endpoint awaits the database on the event loop: no request holds a thread while it waits, so a
crowd of slow clients or a busy database cannot starve the rest (as AnyIO's 40 worker threads did).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any

import asyncpg
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.settings import Settings
from serving.tables import GENERATION_TABLE, KPIS, STATUS, ServingTable

log = logging.getLogger(__name__)

# The serving tables as `serving.publish` creates them, derived from their one definition (serving.tables);
# declared here only to build queries with bound parameters (the API never creates or alters them).
metadata = sa.MetaData()

_SA_TYPE: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "text": sa.Text,
    "bigint": sa.BigInteger,
    "double precision": sa.Double,
    "date": sa.Date,
    "timestamp": sa.DateTime,
}


def _table(table: ServingTable) -> sa.Table:
    columns = (sa.Column(c.name, _SA_TYPE[c.pg_type], primary_key=c.name in table.primary_key) for c in table.columns)
    return sa.Table(table.name, metadata, *columns)


actor_actress_kpis = _table(KPIS)
etl_pipeline_status = _table(STATUS)

# One row, bumped by every publish in its swap transaction (serving.tables.GENERATION_TABLE): answers are
# valid until it changes.
publish_generation = sa.Table(
    GENERATION_TABLE,
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True),
    sa.Column("generation", sa.BigInteger),
    sa.Column("published_at", sa.DateTime),
)

UNDEFINED_TABLE = "42P01"  # SQLSTATE: nothing published yet
QUERY_CANCELED = "57014"  # SQLSTATE: statement_timeout (or a cancel request)


def async_url(url: str) -> sa.URL:
    """The URL with the asyncpg driver, whatever driver it names (`postgresql://`, `+psycopg2`, …), so the
    API_DATABASE_URL / DATABASE_URL documented for the pipeline keep working for the API."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"API_DATABASE_URL must be a PostgreSQL URL, got {parsed.drivername!r}")
    return parsed.set(drivername="postgresql+asyncpg")


def create_db_engine(settings: Settings) -> AsyncEngine:
    """An engine that does not connect until first used, so the app starts without a database.

    The request pool has no pre-ping (a round trip per request): a connection that died with a database
    restart fails at once, `Database.fetch` drops it and retries the request on another connection. The
    connect timeout keeps a request from hanging on an unreachable host.
    """
    return create_async_engine(
        async_url(settings.database_url),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        # One statement per checkout: autocommit spares a BEGIN and a ROLLBACK round trip per request.
        isolation_level="AUTOCOMMIT",
        pool_recycle=1800,
        connect_args={
            "timeout": settings.connect_timeout,
            "server_settings": {
                "application_name": "imdb-api",
                # Read-only even if the URL names a role that could write; bounded queries free the pool;
                # a session idle inside a transaction would hold publish's swap, so it is ended.
                "default_transaction_read_only": "on",
                "statement_timeout": str(settings.statement_timeout_ms),
                "idle_in_transaction_session_timeout": str(settings.idle_in_transaction_timeout_ms),
            },
        },
    )


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, raised by asyncpg itself or wrapped by SQLAlchemy."""
    return getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)


def is_undefined_table(exc: BaseException) -> bool:
    return sqlstate(exc) == UNDEFINED_TABLE


def is_query_timeout(exc: BaseException) -> bool:
    return sqlstate(exc) == QUERY_CANCELED


def is_query_bug(exc: BaseException) -> bool:
    """Errors in the query itself (syntax, permissions, data, constraints): a bug, not an outage."""
    code = sqlstate(exc) or ""
    return code[:2] in ("42", "22", "23", "0A") and code != UNDEFINED_TABLE


# The connection itself is gone (database restarted, connection cut): worth retrying on another connection.
_CONNECTION_LOST = (
    OSError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
)


class Database:
    """The app's pooled engine, and the API's queries run through it.

    Statements are SQLAlchemy Core with bound parameters, compiled once for asyncpg; each request checks a
    connection out of SQLAlchemy's pool and runs the compiled SQL on the asyncpg connection itself (a
    prepared statement per connection): SQLAlchemy's per-execution work (execution context, cursor
    emulation, result rows) cost as much CPU as the rest of the request. The connection is released before
    the answer is serialised.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._compiled: dict[int, tuple[sa.Select, str, tuple[str, ...]]] = {}

    def _sql(self, stmt: sa.Select) -> tuple[str, tuple[str, ...]]:
        compiled = self._compiled.get(id(stmt))
        if compiled is None:
            c = stmt.compile(dialect=self.engine.dialect)
            compiled = self._compiled[id(stmt)] = (stmt, c.string, tuple(c.positiontup or ()))
        return compiled[1], compiled[2]

    async def fetch(self, stmt: sa.Select, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        """The rows of a query. A pooled connection that turns out to be dead (the database restarted) is
        dropped and the query retried on the next one, so the first request after a restart answers.

        Raises asyncpg's errors as they are (the app maps them to answers); a pool that has no free
        connection within API_POOL_TIMEOUT raises sqlalchemy.exc.TimeoutError; a database that cannot be
        reached raises OSError when connecting."""
        sql, names = self._sql(stmt)
        args = [params[name] for name in names]
        # Every pooled connection may have died at once: at most one retry per pooled connection, and one
        # more on a fresh connection (whose failure to connect is not retried).
        for attempt in range(self.engine.pool.size() + 2):
            async with self.engine.connect() as conn:
                driver = (await conn.get_raw_connection()).driver_connection
                try:
                    return await driver.fetch(sql, *args)
                except asyncpg.QueryCanceledError:
                    raise
                except _CONNECTION_LOST:
                    await conn.invalidate()
                    if attempt == self.engine.pool.size() + 1:
                        raise
                    log.info("a pooled connection was dead (database restarted?); retrying on another one")
        raise AssertionError("unreachable")


async def get_database(request: Request) -> Database:  # async: FastAPI runs sync dependencies in a thread
    return request.app.state.database


Db = Annotated[Database, Depends(get_database)]
