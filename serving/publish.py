"""Publish: copy the aggregated KPIs and the pipeline status from Delta (over Thrift) into PostgreSQL.

Each serving table is replaced atomically, so an API reader sees the whole old table or the whole new one:

1. On Spark, pin the source's current Delta version and count its rows (`version as of N`), so the count and
   the copied rows describe the same snapshot even when dbt commits meanwhile.
2. In ONE PostgreSQL transaction: create `<table>__staging`, stream the rows into it with `COPY … FROM
   STDIN` in batches (never the whole table in memory), add the primary key and indexes, ANALYZE, compare
   its row count with Spark's, then drop the live table, rename staging (and its indexes) into place and
   grant SELECT to the read-only role. Nothing is visible to readers before COMMIT; any failure rolls back
   and leaves the live table as it was (and no staging table behind).

Every swap also bumps the one row of `publish_generation` in the same transaction: the API caches answers
per generation, so a committed publish and its new generation become visible to it together.

The swap needs the live table's ACCESS EXCLUSIVE lock, and readers that hold it (a long query, or a session
idle inside a transaction) make it wait while every newer reader queues behind the waiting swap. So each
attempt waits at most PUBLISH_LOCK_TIMEOUT_MS (default 1 s), then lets the queue drain and tries again, up to
PUBLISH_LOCK_ATTEMPTS times (default 20, about half a minute): longer than the read-only role's
idle-in-transaction and statement time-outs (services/postgres.sh, api.settings), so a stuck reader is ended
by PostgreSQL before the publish gives up.

Status rows: one `publish` row per table goes to the Delta status table. The KPI row is recorded there
before the status table is copied, so it reaches PostgreSQL in the same publish. The status table's own
row cannot be inside the snapshot it describes: it is inserted into the PostgreSQL copy in the swap
transaction (so the API shows it at once) and appended to Delta right after the commit (so the next
publish, which replaces the PostgreSQL table with Delta's content, keeps it). When that table fails to
publish, its `failed` row is only in Delta until the next successful publish.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from core import config, status
from core.thrift import Session, ThriftError, session
from serving import roles
from serving.publish_sql import copy_lines_sql, create_table_sql
from serving.tables import GENERATION_DDL, GENERATION_TABLE, KPIS, STATUS, Column, ServingTable  # noqa: F401

log = logging.getLogger(__name__)

# Rows per Thrift fetch and per COPY: ~5 MB of text per batch at the KPI's row width, large enough that
# per-round-trip costs vanish, small enough that memory stays flat at any table size.
BATCH_ROWS = 50_000
# How long one swap attempt may wait for readers to release the live table (readers queue behind a waiting
# ACCESS EXCLUSIVE request, so each wait stalls the API: keep it short) and how many attempts are settings
# (PUBLISH_LOCK_TIMEOUT_MS 1000, PUBLISH_LOCK_ATTEMPTS 20); the pause between them lets queued readers through.
LOCK_RETRY_PAUSE = 0.5
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of an expired lock_timeout


class PublishError(RuntimeError):
    """A table could not be published; the message names the table and what was wrong.

    Raised by publish() after both tables were attempted, with `result` saying what did get published.
    """

    def __init__(self, message: str, result: PublishResult | None = None) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class TableResult:
    table: str
    source: str
    rows: int = 0
    delta_version: int | None = None
    seconds: float = 0.0
    error: str | None = None


@dataclass
class PublishResult:
    run_id: str
    run_date: dt.date
    tables: list[TableResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(t.error is None for t in self.tables)

    def summary(self) -> str:
        lines = [f"publish {self.run_date.isoformat()} (run {self.run_id})"]
        for t in self.tables:
            if t.error is None:
                rate = t.rows / t.seconds if t.seconds else 0.0
                outcome = f"{t.rows:>12,} rows  {t.seconds:7.2f} s  {rate:>10,.0f} rows/s"
                source = f"{t.source} (Delta v{t.delta_version})"
            else:
                outcome, source = f"FAILED: {t.error}", t.source
            lines.append(f"  {t.table:<22} {outcome}  from {source}")
        return "\n".join(lines)


def publish(
    run_date: dt.date, *, run_id: str | None = None, database_url: str | None = None, with_status: bool = True
) -> PublishResult:
    """Publish the KPIs, then the pipeline status (last, so it includes the KPI's publish row).

    A KPI failure is recorded and the status table is still published (the API then shows the failed
    row); PublishError is raised at the end when any table failed. `with_status=False` publishes the KPIs
    only: the DAG publishes the status table once, in its last task (publish_status), so a run's status rows
    go from Delta to PostgreSQL once.
    """
    run_id = run_id or status.new_run_id(run_date)
    result = PublishResult(run_id, run_date)
    engine = _engine(database_url)
    try:
        with session() as spark:
            try:
                with status.tracked(spark, run_id, run_date, "publish", KPIS.name) as row:
                    kpis = _publish_guarded(spark, engine, KPIS, result)
                    row.rows_affected = kpis.rows
            except PublishError:
                pass  # already in result and in the status row; the status table is published anyway
            if with_status:
                _publish_status(spark, engine, result, run_id, run_date)
    finally:
        engine.dispose()
    if not result.ok:
        failed = "; ".join(f"{t.table}: {t.error}" for t in result.tables if t.error)
        raise PublishError(f"publish {run_date.isoformat()} failed: {failed}", result)
    return result


def publish_status(run_date: dt.date, *, run_id: str, database_url: str | None = None) -> status.StatusRow:
    """Publish only the status table, with its own publish row: the DAG's last task calls it after adding the
    `skipped` rows, so the API shows every stage of the run, also when the run failed before `publish`.
    Returns that row (its status says whether the publish worked); raises PublishError when it failed."""
    result = PublishResult(run_id, run_date)
    engine = _engine(database_url)
    try:
        with session() as spark:
            own = _publish_status(spark, engine, result, run_id, run_date)
    finally:
        engine.dispose()
    if not result.ok:
        raise PublishError(f"publish {run_date.isoformat()} failed: {STATUS.name}: {own.error}", result)
    return own


def _engine(database_url: str | None) -> sa.Engine:
    # NullPool: one short-lived connection per publish, nothing left open in a CLI or Airflow worker.
    # UTF-8 on the wire: COPY is fed UTF-8 bytes whatever the server's default client encoding is.
    return sa.create_engine(
        database_url or config.database_url(),
        poolclass=sa.pool.NullPool,
        connect_args={"client_encoding": "utf8"},
    )


def _publish_status(
    spark: Session, engine: sa.Engine, result: PublishResult, run_id: str, run_date: dt.date
) -> status.StatusRow:
    """The status table into PostgreSQL with its own publish row added inside the swap, then that row into
    Delta (so both hold it); a failure is in `result` and in the row, not raised (but a non-publish error is)."""
    own = status.StatusRow(run_id, run_date, "publish", STATUS.name)
    t0 = time.monotonic()
    try:
        published = _publish_guarded(spark, engine, STATUS, result, own_row=own)
        own.rows_affected = published.rows
    except BaseException as exc:
        own.status, own.error = "failed", f"{type(exc).__name__}: {exc}"[:4000]
        if not isinstance(exc, PublishError):
            raise
    finally:
        own.finished_at = own.finished_at or own.started_at + dt.timedelta(seconds=time.monotonic() - t0)
        try:
            status.record(spark, [own])
        except Exception:  # as status.tracked: never hide the publish's own outcome behind this
            log.exception("could not record the publish status of %s in Delta", STATUS.name)
    return own


def _publish_guarded(
    spark: Session,
    engine: sa.Engine,
    table: ServingTable,
    result: PublishResult,
    own_row: status.StatusRow | None = None,
) -> TableResult:
    """publish_table, with the outcome appended to `result` and any error turned into a PublishError that
    starts with the table's name."""
    try:
        outcome = publish_table(spark, engine, table, own_row=own_row)
    except Exception as exc:
        message = str(exc) if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}".strip()
        log.error("publish of %s failed: %s", table.name, message)
        result.tables.append(TableResult(table.name, table.source(), error=message))
        raise PublishError(f"{table.name}: {message}") from exc
    result.tables.append(outcome)
    return outcome


def publish_table(
    spark: Session,
    engine: sa.Engine,
    table: ServingTable,
    *,
    own_row: status.StatusRow | None = None,
    batch_rows: int = BATCH_ROWS,
) -> TableResult:
    """Replace one PostgreSQL table with the current snapshot of its Delta source, atomically.

    `own_row` (the status table's own publish row) is added to the PostgreSQL copy inside the swap
    transaction; it is not counted in the returned rows.
    """
    t0 = time.monotonic()
    source = table.source()
    if table is STATUS:
        status.ensure_table(spark)  # a first publish before any status row: publish an empty table
    version = _delta_version(spark, source)
    pinned = f"{source} version as of {version}"
    expected = int(spark.scalar(f"select count(*) from {pinned}"))
    reader = sa.make_url(config.database_url(read_only=True)).username

    with engine.connect() as conn, conn.begin():
        # Two publishers of the same table would fight over the staging name; the second one waits.
        conn.execute(sa.text("select pg_advisory_xact_lock(hashtext(:k))"), {"k": f"publish:{table.name}"})
        conn.exec_driver_sql(f"drop table if exists {table.staging}")
        conn.exec_driver_sql(create_table_sql(table, table.staging))
        copied = _copy_from_spark(spark, conn, table, pinned, batch_rows)
        in_pg = conn.exec_driver_sql(f"select count(*) from {table.staging}").scalar_one()
        if copied != expected or in_pg != expected:
            raise PublishError(
                f"row count mismatch: {source} (Delta version {version}) has {expected:,} rows, "
                f"{copied:,} were streamed and {in_pg:,} arrived in PostgreSQL; the live table was left "
                "unchanged"
            )
        if own_row is not None:
            own_row.rows_affected = copied
            own_row.finished_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            _insert_row(conn, table.staging, table.column_names, own_row)
        _build_indexes(conn, table)
        conn.exec_driver_sql(f"analyze {table.staging}")
        _swap(conn, table, reader)
    seconds = time.monotonic() - t0
    log.info("published %s: %d rows from %s v%s in %.2fs", table.name, copied, source, version, seconds)
    return TableResult(table.name, source, copied, version, round(seconds, 3))


def _delta_version(spark: Session, source: str) -> int:
    try:
        return int(spark.query(f"describe history {source} limit 1")[0][0])
    except ThriftError as exc:
        raise PublishError(
            f"cannot read the source table {source} on the Spark Thrift server ({exc}); "
            "build it first (dbt build --select +actor_actress_kpis) or check IMDB_SCHEMA_PREFIX"
        ) from exc


def _build_indexes(conn: sa.Connection, table: ServingTable) -> None:
    # After the load, not before: one sorted build is far cheaper than maintaining the index per row.
    if table.primary_key:
        conn.exec_driver_sql(
            f"alter table {table.staging} add constraint {table.staging}_pkey "
            f"primary key ({', '.join(table.primary_key)})"
        )
    for suffix, columns in table.indexes:
        conn.exec_driver_sql(f"create index {table.staging}_{suffix} on {table.staging} ({columns})")


def _swap(conn: sa.Connection, table: ServingTable, reader: str | None) -> None:
    """Drop the live table and rename staging into its place, inside the caller's transaction."""
    _drop_live_table(conn, table)
    conn.exec_driver_sql(f"alter table {table.staging} rename to {table.name}")
    if table.primary_key:
        conn.exec_driver_sql(f"alter table {table.name} rename constraint {table.staging}_pkey to {table.name}_pkey")
    for suffix, _ in table.indexes:
        conn.exec_driver_sql(f"alter index {table.staging}_{suffix} rename to {table.name}_{suffix}")
    _grant_select(conn, table.name, reader)
    bump_generation(conn, table.name, reader)


def _lock_settings() -> tuple[int, int]:
    """(lock timeout in ms, attempts), from PUBLISH_LOCK_TIMEOUT_MS / PUBLISH_LOCK_ATTEMPTS."""
    s = config.settings()
    timeout_ms, attempts = s.publish_lock_timeout_ms, s.publish_lock_attempts
    return max(timeout_ms, 1), max(attempts, 1)


def _drop_live_table(conn: sa.Connection, table: ServingTable) -> None:
    """`drop table` with a bounded wait per attempt; between attempts the savepoint is rolled back (the
    staging table stays), so queued readers proceed, and the drop is tried again."""
    timeout_ms, attempts = _lock_settings()
    conn.exec_driver_sql(f"set local lock_timeout = '{timeout_ms}ms'")
    for attempt in range(1, attempts + 1):
        savepoint = conn.begin_nested()
        try:
            conn.exec_driver_sql(f"drop table if exists {table.name}")
        except sa.exc.OperationalError as exc:
            savepoint.rollback()
            if getattr(exc.orig, "pgcode", None) != LOCK_NOT_AVAILABLE:
                raise
            holders = _lock_holders(conn, table.name)
            if attempt == attempts:
                raise PublishError(
                    f"readers held the live table through {attempts} attempts of {timeout_ms} ms ({holders}); "
                    "it was left unchanged: retry the publish, or raise PUBLISH_LOCK_ATTEMPTS / "
                    "PUBLISH_LOCK_TIMEOUT_MS"
                ) from exc
            log.warning(
                "%s: readers hold the live table (%s); attempt %d of %d, retrying",
                table.name,
                holders,
                attempt,
                attempts,
            )
            time.sleep(LOCK_RETRY_PAUSE)
        else:
            savepoint.commit()
            return


def _lock_holders(conn: sa.Connection, name: str) -> str:
    """Who holds a lock on the live table: names the sessions an operator would look at."""
    rows = conn.execute(
        sa.text(
            "select a.pid, a.usename, a.state, date_trunc('second', now() - a.state_change) as held "
            "from pg_locks l join pg_stat_activity a using (pid) "
            "where l.relation = to_regclass(:t) and l.granted and a.pid <> pg_backend_pid()"
        ),
        {"t": name},
    ).all()
    return ", ".join(f"pid {r.pid} {r.usename} {r.state} for {r.held}" for r in rows) or "no holder seen"


def bump_generation(conn: sa.Connection, table_name: str, reader: str | None = None) -> int:
    """Bump the publish generation inside the caller's (swap) transaction; returns the new generation.

    A row, not a sequence: a sequence moves before the commit, and the API would then cache the old
    table's answers under the new generation."""
    # Two publishers creating the table at once would collide; the row lock serialises the bumps anyway.
    conn.execute(sa.text("select pg_advisory_xact_lock(hashtext('publish:generation'))"))
    conn.exec_driver_sql(GENERATION_DDL)
    generation = conn.execute(
        sa.text(
            f"insert into {GENERATION_TABLE} as g values (1, 1, clock_timestamp() at time zone 'utc', :t) "
            "on conflict (id) do update set generation = g.generation + 1, "
            "published_at = excluded.published_at, table_name = excluded.table_name returning generation"
        ),
        {"t": table_name},
    ).scalar_one()
    _grant_select(conn, GENERATION_TABLE, reader)
    return int(generation)


def _grant_select(conn: sa.Connection, name: str, reader: str | None) -> None:
    """Default privileges (serving.roles.grant_reader) already cover new tables; granting again makes the
    publish right on a database set up differently, and the check turns a silent 403-to-be into an error."""
    if not reader:
        return
    exists = conn.execute(sa.text("select 1 from pg_roles where rolname = :r"), {"r": reader}).first()
    if exists is None:
        log.warning("read-only role %r does not exist in this database; %s is not granted to it", reader, name)
        return
    roles.grant_table(conn, name, reader)
    can_read = conn.execute(
        sa.text("select has_table_privilege(:r, :t, 'select')"), {"r": reader, "t": name}
    ).scalar_one()
    if not can_read:
        raise PublishError(f"the read-only role {reader!r} cannot SELECT {name} after the grant")


def _insert_row(conn: sa.Connection, target: str, columns: list[str], row: status.StatusRow) -> None:
    values = {
        "run_id": row.run_id,
        "run_date": row.run_date,
        "stage": row.stage,
        "table_name": row.table_name,
        "status": row.status,
        "rows_affected": row.rows_affected,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "duration_seconds": row.duration_seconds,
        "error": row.error,
    }
    conn.execute(
        sa.text(f"insert into {target} ({', '.join(columns)}) values ({', '.join(':' + c for c in columns)})"),
        {c: values[c] for c in columns},
    )


# --- streaming: Spark builds COPY lines, Thrift batches carry them, COPY … FROM STDIN writes them ----------


# Spark formats each row as one line of COPY's text format (tab-separated, \N for null, backslash escapes):
def _fetch_batches(spark: Session, sql: str, batch_rows: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of a query in batches, with at most one batch in memory.

    Session.query() fetches everything; streaming needs the cursor itself (thrift.py is the one place
    that opens connections, so this reuses its session rather than opening a second connection).
    """
    # Let the Thrift server stream partition by partition too, instead of collecting the whole result in
    # the driver first (a session setting: each Thrift connection is its own Spark session).
    spark.execute("set spark.sql.thriftServer.incrementalCollect=true")
    spark.execute(sql)
    cursor = spark._cursor
    cursor.arraysize = batch_rows  # rows per Thrift FetchResults round trip
    while batch := cursor.fetchmany(batch_rows):
        yield batch


def _copy_from_spark(spark: Session, conn: sa.Connection, table: ServingTable, source: str, batch_rows: int) -> int:
    """Stream a Delta table into the staging table with COPY, one batch at a time; returns rows sent."""
    copy_sql = f"copy {table.staging} ({', '.join(table.column_names)}) from stdin"
    cursor = conn.connection.cursor()  # the psycopg2 cursor: copy_expert is not in the DB-API
    total = 0
    try:
        for batch in _fetch_batches(spark, copy_lines_sql(table, source), batch_rows):
            text = "\n".join([line for (line,) in batch]) + "\n"
            cursor.copy_expert(copy_sql, io.BytesIO(text.encode("utf-8")))
            total += len(batch)
            log.debug("%s: %d rows copied", table.staging, total)
    finally:
        cursor.close()
    return total
