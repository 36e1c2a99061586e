"""Database access for the API: the engine (read-only role, small pool, pre-ping), the tables it reads and
the per-request connection dependency."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Request

from api.settings import Settings

# The serving tables as `ingestion.publish` creates them; declared here only to build queries with bound
# parameters (the API never creates or alters them).
metadata = sa.MetaData()

actor_actress_kpis = sa.Table(
    "actor_actress_kpis",
    metadata,
    sa.Column("nconst", sa.Text, primary_key=True),
    sa.Column("role", sa.Text, primary_key=True),
    sa.Column("primary_name", sa.Text),
    sa.Column("movies_rated", sa.BigInteger),
    sa.Column("avg_rating", sa.Double),
    sa.Column("weighted_rating", sa.Double),
    sa.Column("total_votes", sa.BigInteger),
    sa.Column("updated_at", sa.DateTime),
)

etl_pipeline_status = sa.Table(
    "etl_pipeline_status",
    metadata,
    sa.Column("run_id", sa.Text),
    sa.Column("run_date", sa.Date),
    sa.Column("stage", sa.Text),
    sa.Column("table_name", sa.Text),
    sa.Column("status", sa.Text),
    sa.Column("rows_affected", sa.BigInteger),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("duration_seconds", sa.Double),
    sa.Column("error", sa.Text),
)

UNDEFINED_TABLE = "42P01"  # SQLSTATE: nothing published yet


def create_db_engine(settings: Settings) -> sa.Engine:
    """An engine that does not connect until first used, so the app starts without a database.

    pre_ping replaces connections that died with a database restart, so the API recovers by itself;
    the connect timeout keeps a request (and /health) from hanging on an unreachable host.
    """
    return sa.create_engine(
        settings.database_url,
        pool_pre_ping=True,
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_timeout=settings.connect_timeout,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": settings.connect_timeout,
            "application_name": "imdb-api",
            # Read-only even if the URL names a role that could write; bounded queries free the pool.
            "options": f"-c statement_timeout={settings.statement_timeout_ms} -c default_transaction_read_only=on",
        },
    )


def is_undefined_table(exc: sa.exc.DBAPIError) -> bool:
    return getattr(exc.orig, "pgcode", None) == UNDEFINED_TABLE


def get_connection(request: Request) -> Iterator[sa.Connection]:
    """One pooled connection per request, returned (and its transaction rolled back) afterwards."""
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as conn:
        yield conn


Connection = Annotated[sa.Connection, Depends(get_connection)]
