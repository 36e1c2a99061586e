"""Pipeline status rows: one per stage and table (or dbt model), appended to the Delta table
`landing.etl_pipeline_status` whatever happened, and later published to PostgreSQL for the API."""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import config

if TYPE_CHECKING:  # the API imports the row's definition (through serving.tables) without the Thrift client
    from core.thrift import Session

log = logging.getLogger(__name__)

STAGES = ("download", "landing", "cleansed", "aggregated", "publish")
STATUSES = ("success", "failed", "skipped")


@dataclass(frozen=True)
class StatusField:
    """One column of a status row, defined once: the Delta DDL below, the PostgreSQL copy (serving.tables), the
    API's table and response model (api.db, api.schemas) all derive from FIELDS."""

    name: str
    spark_type: str  # string, date, bigint, timestamp or double
    not_null: bool = False
    description: str | None = None  # shown in the API's OpenAPI document


FIELDS = (
    StatusField("run_id", "string", not_null=True),
    StatusField("run_date", "date", not_null=True),
    StatusField("stage", "string", not_null=True, description="download, landing, cleansed, aggregated or publish"),
    StatusField("table_name", "string", not_null=True),
    StatusField("status", "string", not_null=True, description="success, failed or skipped"),
    StatusField("rows_affected", "bigint"),
    StatusField("started_at", "timestamp", description="UTC"),
    StatusField("finished_at", "timestamp", description="UTC"),
    StatusField("duration_seconds", "double"),
    StatusField("error", "string"),
)

COLUMNS = ", ".join(f"{f.name} {f.spark_type}" for f in FIELDS)


def table() -> str:
    return f"{config.schema('landing')}.etl_pipeline_status"


_ensured: set[str] = set()  # tables this process created or found (saves two statements per status write)


def ensure_table(spark: Session) -> None:
    if table() in _ensured:
        return
    spark.execute(f"create schema if not exists {config.schema('landing')}")
    spark.execute(f"create table if not exists {table()} ({COLUMNS}) using delta")
    _ensured.add(table())


def new_run_id(run_date: dt.date) -> str:
    return f"{run_date.isoformat()}-{uuid.uuid4().hex[:8]}"


def literal(value: object) -> str:
    """A Spark SQL literal for a Python value (strings escaped)."""
    return _lit(value)


def _lit(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.datetime):
        return f"timestamp'{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if isinstance(value, dt.date):
        return f"date'{value.isoformat()}'"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class StatusRow:
    run_id: str
    run_date: dt.date
    stage: str
    table_name: str
    status: str = "success"
    rows_affected: int | None = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    finished_at: dt.datetime | None = None
    error: str | None = None

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.started_at).total_seconds(), 3)

    def values_sql(self) -> str:
        return "(" + ", ".join(_lit(getattr(self, f.name)) for f in FIELDS) + ")"


def record(spark: Session, rows: list[StatusRow]) -> None:
    """Append status rows (one INSERT, so one Delta version per call)."""
    if not rows:
        return
    for r in rows:
        if r.stage not in STAGES or r.status not in STATUSES:
            raise ValueError(f"bad status row: stage={r.stage!r} status={r.status!r}")
    ensure_table(spark)
    spark.execute(f"insert into {table()} values " + ", ".join(r.values_sql() for r in rows))


@contextmanager
def tracked(spark: Session, run_id: str, run_date: dt.date, stage: str, table_name: str) -> Iterator[StatusRow]:
    """Time a unit of work and record its status row, `failed` with the error when it raises."""
    row = StatusRow(run_id, run_date, stage, table_name)
    t0 = time.monotonic()
    try:
        yield row
    except BaseException as exc:
        row.status = "failed"
        row.error = f"{type(exc).__name__}: {exc}"[:4000]
        raise
    finally:
        row.finished_at = row.started_at + dt.timedelta(seconds=time.monotonic() - t0)
        try:
            record(spark, [row])
        except Exception:  # never hide the original error behind a status-write failure
            log.exception("could not record status for %s/%s", stage, table_name)
