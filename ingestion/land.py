"""Land one day's IMDb snapshot into the Delta tables of schema `landing`, through the Spark Thrift server.

For every file (SPEC, Landing semantics):
1. stage: the gzip is read once as text, split on tabs with explicit types (no inference, no quoting, `\\N`
   is null), checked line by line, hashed, and written to `landing_stage.<table>`;
2. check: when any file's malformed share exceeds the limit the run stops here, before any landing table
   changed, and names the files, the counts and the first bad lines;
3. diff: a full outer join of narrow rows (key, row hash) against the landing table finds the keys that are
   new, changed (or back after a soft delete) and missing; a key repeated in the snapshot stops the run here;
4. merge: one atomic Delta MERGE per table, of the changed rows only, inserts new keys, updates changed ones,
   soft-deletes missing ones and leaves the rest alone (an empty table gets a plain append).

A file whose bytes were already landed last time (same SHA-256) is skipped, so re-running a date changes
nothing, not even the Delta version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from ingestion import config, status
from ingestion.datasets import Dataset
from ingestion.thrift import Session

log = logging.getLogger(__name__)

NULL = r"\N"
META_COLUMNS = "_row_hash string, _is_deleted boolean, _run_date date, _loaded_at timestamp"


class LandingError(RuntimeError):
    """The snapshot cannot be landed as it is; the message names the file and what was wrong."""


@dataclass
class TableReport:
    table: str
    file: str
    source_rows: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: bool = False  # same file as last landed: nothing to do
    diffed: bool = False  # compared with the landing table (False: the table was empty, all inserts)
    delta_version: int | None = None

    @property
    def rows_affected(self) -> int:
        return self.inserted + self.updated + self.deleted


# ---------------------------------------------------------------------------------------------- names


def landing_table(d: Dataset) -> str:
    return f"{config.schema('landing')}.{d.table}"


def stage_table(d: Dataset) -> str:
    return f"{config.schema('landing_stage')}.{d.table}"


def rejects_table() -> str:
    return f"{config.schema('landing')}.rejects"


def files_table() -> str:
    return f"{config.schema('landing')}.loaded_files"


def _q(name: str) -> str:
    return f"`{name}`"


def _key_join(d: Dataset, left: str, right: str) -> str:
    """`left.k1 = right.k1 and …` over the dataset's key columns."""
    return " and ".join(f"{left}.{_q(k)} = {right}.{_q(k)}" for k in d.key)


def _keys_present(d: Dataset) -> str:
    return " and ".join(f"{_q(k)} is not null" for k in d.key)


def _str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# ---------------------------------------------------------------------------------------------- DDL


def ensure_tables(spark: Session, datasets: Iterable[Dataset]) -> None:
    """Create the landing schema and tables when missing (explicit columns; never inferred)."""
    spark.execute(f"create schema if not exists {config.schema('landing')}")
    spark.execute(f"create schema if not exists {config.schema('landing_stage')}")
    # Deletion vectors: a MERGE that changes 1% of a 98M-row table marks rows instead of rewriting files.
    props = "tblproperties ('delta.enableDeletionVectors' = 'true')"
    for d in datasets:
        cols = ", ".join(f"{_q(c.name)} {c.type}" for c in d.columns)
        spark.execute(f"create table if not exists {landing_table(d)} ({cols}, {META_COLUMNS}) using delta {props}")
    spark.execute(
        f"create table if not exists {rejects_table()} (table_name string, file string, line_number bigint, "
        "raw_line string, reason string, _run_date date, _loaded_at timestamp) using delta"
    )
    spark.execute(
        f"create table if not exists {files_table()} (table_name string, file string, sha256 string, "
        "source_rows bigint, rejected bigint, _run_date date, _loaded_at timestamp) using delta"
    )
    status.ensure_table(spark)


# ---------------------------------------------------------------------------------------------- stage


def staging_sql(d: Dataset, path: Path) -> str:
    """SELECT that parses one gzipped IMDb file into typed columns plus line number, hash and reject reason.

    The gzip is not splittable, so Spark reads it in one task, in order: monotonically_increasing_id() is
    then the 0-based line index. Right after the read the raw lines are spread round-robin over every core
    (before splitting, so the shuffle carries each line once), and all the parsing happens in parallel.
    """
    n = len(d.columns)
    fields = []
    checks = [f"when size(_f) <> {n} then concat('expected {n} tab-separated fields, got ', size(_f))"]
    for i, c in enumerate(d.columns):
        raw = f"nullif(get(_f, {i}), '\\\\N')"
        if c.numeric:
            fields.append(f"try_cast({raw} as {c.type}) as {_q(c.name)}")
            checks.append(
                f"when {raw} is not null and try_cast({raw} as {c.type}) is null "
                f"then concat('non-numeric {c.name}: ', {raw})"
            )
        else:
            fields.append(f"{raw} as {_q(c.name)}")
    for k in d.key:
        i = d.column_names.index(k)
        checks.append(f"when nullif(get(_f, {i}), '\\\\N') is null then 'missing key {k}'")
    return f"""
        select {", ".join(fields)},
               _line as _line_number,
               md5(_raw) as _row_hash,
               _reason as _reject_reason,
               case when _reason is not null then _raw end as _raw_line
        from (
            select _line, _raw, _f, case {" ".join(checks)} end as _reason
            from (
                select _line, _raw, split(_raw, '\\t', -1) as _f
                from (select /*+ REPARTITION({_partitions()}) */ value as _raw,
                             monotonically_increasing_id() + 1 as _line
                      from text.`{path}`)
                where _line > 1
            )
        )
    """


def _partitions() -> int:
    return 8


def check_header(spark: Session, d: Dataset, path: Path) -> None:
    header = spark.scalar(f"select value from text.`{path}` limit 1")
    expected = "\t".join(d.column_names)
    if header is None:
        raise LandingError(f"{path.name}: the file is empty (expected the header line {expected!r})")
    if header.rstrip("\r") != expected:
        raise LandingError(
            f"{path.name}: unexpected header {header!r}; expected {expected!r} for {d.name}. "
            "Is it the right file, or did IMDb change its format? (update ingestion/datasets.py)"
        )


def stage(spark: Session, d: Dataset, path: Path) -> tuple[int, int]:
    """Parse a file into its staging table; returns (rows, rejected rows)."""
    check_header(spark, d, path)
    spark.execute(f"create or replace table {stage_table(d)} using delta as {staging_sql(d, path)}")
    total, rejected = spark.query(f"select count(*), count_if(_reject_reason is not null) from {stage_table(d)}")[0]
    return int(total), int(rejected or 0)


def sample_rejects(spark: Session, d: Dataset, limit: int = 5) -> list[tuple[int, str, str]]:
    return spark.query(
        f"select _line_number, _reject_reason, _raw_line from {stage_table(d)} "
        f"where _reject_reason is not null order by _line_number limit {limit}"
    )


# ---------------------------------------------------------------------------------------------- merge


def changed_keys_table(d: Dataset) -> str:
    return f"{config.schema('landing_stage')}.{d.table}__changed_keys"


def changes_table(d: Dataset) -> str:
    return f"{config.schema('landing_stage')}.{d.table}__changes"


def changes_sql(d: Dataset) -> str:
    """The keys a snapshot changes, found on narrow rows (key, row hash) so that the full outer join against the
    landing table shuffles a few bytes per row, not whole rows: `insert` (new key), `update` (row hash changed,
    or the key comes back after a soft delete), `delete` (live key missing from the snapshot). A rejected line
    still names its key: that key gets no action (neither updated from a broken line nor soft-deleted for
    missing), so a bad line loses no data. Keys found more than once in the snapshot are kept with `_copies`."""
    keys = ", ".join(_q(k) for k in d.key)
    first = _q(d.key[0])
    return f"""
        with s as (
            select {keys}, max(_row_hash) as _row_hash, bool_or(_reject_reason is not null) as _rejected,
                   count(*) as _copies
            from {stage_table(d)} where {_keys_present(d)} group by {keys}
        ),
        t as (select {keys}, _row_hash, _is_deleted from {landing_table(d)}),
        diff as (
            select {", ".join(f"coalesce(s.{_q(k)}, t.{_q(k)}) as {_q(k)}" for k in d.key)}, s._copies,
                   case
                       when t.{first} is null then case when not s._rejected then 'insert' end
                       when s.{first} is null then case when not t._is_deleted then 'delete' end
                       when not s._rejected and (t._row_hash <> s._row_hash or t._is_deleted) then 'update'
                   end as _action
            from s full outer join t on {_key_join(d, "s", "t")}
        )
        select * from diff where _action is not null or _copies > 1
    """


def changed_rows_sql(d: Dataset, broadcast: bool) -> str:
    """The changed keys with their staged rows (none for a delete); the keys are broadcast when few."""
    staged_cols = ", ".join(f"st.{_q(c)}" for c in d.column_names if c not in d.key)
    keys = ", ".join(f"c.{_q(k)}" for k in d.key)
    hint = "/*+ BROADCAST(c) */" if broadcast else ""
    return f"""
        select {hint} {keys}, {staged_cols}, st._row_hash, c._action
        from {changed_keys_table(d)} as c
        left join {stage_table(d)} as st on {_key_join(d, "st", "c")} and c._action <> 'delete'
    """


def merge_sql(d: Dataset, run_date: dt.date, loaded_at: str) -> str:
    """The MERGE of one snapshot's changed rows (changed_rows_sql): touches only changed keys."""
    cols = d.column_names
    stamp = f"_run_date = date'{run_date.isoformat()}', _loaded_at = timestamp'{loaded_at}'"
    update = ", ".join(f"{_q(c)} = s.{_q(c)}" for c in cols)
    insert_cols = ", ".join(_q(c) for c in cols)
    insert_vals = ", ".join(f"s.{_q(c)}" for c in cols)
    return f"""
        merge into {landing_table(d)} as t
        using {changes_table(d)} as s
        on {_key_join(d, "t", "s")}
        when matched and s._action = 'delete' then update set _is_deleted = true, {stamp}
        when matched and s._action = 'update' then update set
            {update}, _row_hash = s._row_hash, _is_deleted = false, {stamp}
        when not matched and s._action = 'insert' then
            insert ({insert_cols}, _row_hash, _is_deleted, _run_date, _loaded_at)
            values ({insert_vals}, s._row_hash, false, date'{run_date.isoformat()}', timestamp'{loaded_at}')
    """


def first_load_sql(d: Dataset, run_date: dt.date, loaded_at: str) -> str:
    """Into an empty landing table every good line is an insert: a plain append, no join."""
    cols = ", ".join(_q(c) for c in d.column_names)
    return f"""
        insert into {landing_table(d)} ({cols}, _row_hash, _is_deleted, _run_date, _loaded_at)
        select {cols}, _row_hash, false, date'{run_date.isoformat()}', timestamp'{loaded_at}'
        from {stage_table(d)} where _reject_reason is null and {_keys_present(d)}
    """


# A changed-key set up to this size is broadcast into the joins of the MERGE, so the landing table is never
# shuffled (a sort-merge join would shuffle all of it, ~98M rows at full IMDb scale, for 1% of changes).
BROADCAST_MAX_ROWS = 5_000_000
BROADCAST_MAX_BYTES = 256 << 20  # the changes on disk (compressed; a few times that in memory, driver 10 GB)


def _last_commit(spark: Session, table: str) -> tuple[int, str, dict[str, str]]:
    version, _ts, _uid, _user, operation, _params, *rest = spark.query(f"describe history {table} limit 1")[0]
    metrics = json.loads(rest[6] or "{}")  # operationMetrics
    return int(version), operation, metrics


def diff(spark: Session, d: Dataset, report: TableReport) -> None:
    """Find what a staged snapshot changes (changed_keys_table) and count it into the report; fails, changing
    nothing, when a key repeats in the snapshot. An empty landing table needs no diff: all are inserts."""
    if spark.scalar(f"select count(*) from {landing_table(d)}") == 0:
        report.inserted = report.source_rows - report.rejected
        return
    spark.execute(f"create or replace table {changed_keys_table(d)} using delta as {changes_sql(d)}")
    counts = dict(spark.query(f"select coalesce(_action, 'none'), count(*) from {changed_keys_table(d)} group by 1"))
    duplicates = spark.scalar(f"select count(*) from {changed_keys_table(d)} where _copies > 1")
    if duplicates:
        keys = ", ".join(d.key)
        raise LandingError(
            f"{report.file}: the natural key ({keys}) is not unique in this snapshot ({duplicates} keys repeat); "
            f"find them with: select {keys}, count(*) from {stage_table(d)} group by all having count(*) > 1"
        )
    report.inserted = int(counts.get("insert", 0))
    report.updated = int(counts.get("update", 0))
    report.deleted = int(counts.get("delete", 0))
    report.diffed = True


def merge(spark: Session, d: Dataset, run_date: dt.date, loaded_at: str, report: TableReport) -> None:
    """Apply a diffed snapshot to its landing table in one Delta commit (none when nothing changed)."""
    target = landing_table(d)
    before, _, _ = _last_commit(spark, target)
    if not report.diffed:
        spark.execute(first_load_sql(d, run_date, loaded_at))
    elif report.rows_affected:  # an unchanged snapshot commits nothing: the table keeps its version
        few = report.rows_affected <= BROADCAST_MAX_ROWS
        spark.execute(f"create or replace table {changes_table(d)} using delta as {changed_rows_sql(d, few)}")
        if few:  # let the MERGE broadcast the changes instead of shuffling the whole landing table
            spark.execute(f"set spark.sql.autoBroadcastJoinThreshold = {BROADCAST_MAX_BYTES}")
        try:
            spark.execute(merge_sql(d, run_date, loaded_at))
        finally:
            if few:
                spark.execute("reset spark.sql.autoBroadcastJoinThreshold")
        spark.execute(f"drop table if exists {changes_table(d)}")
    spark.execute(f"drop table if exists {changed_keys_table(d)}")
    report.unchanged = report.source_rows - report.rejected - report.inserted - report.updated
    version, operation, _ = _last_commit(spark, target)
    if version != before and operation not in ("MERGE", "WRITE"):
        raise LandingError(f"{target}: version {version} is a {operation}, not our load; concurrent writer?")
    report.delta_version = version


# ---------------------------------------------------------------------------------------------- run


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _last_landed_sha(spark: Session, d: Dataset) -> tuple[str, int, int] | None:
    rows = spark.query(
        f"select sha256, source_rows, rejected from {files_table()} where table_name = {_str(d.table)} "
        "order by _loaded_at desc limit 1"
    )
    return (rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None


def land(
    spark: Session,
    files: dict[Dataset, Path],
    run_date: dt.date,
    *,
    run_id: str | None = None,
    reject_share: float | None = None,
    on_step: Callable[[str], None] | None = None,
) -> list[TableReport]:
    """Land a snapshot (dataset -> local .tsv.gz). Raises LandingError, changing no landing table, when a
    file is malformed beyond the allowed share. Records one `landing` status row per table."""
    share = config.settings().reject_share if reject_share is None else reject_share
    run_id = run_id or status.new_run_id(run_date)
    step = on_step or (lambda _msg: None)
    ensure_tables(spark, files)
    loaded_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    reports: dict[Dataset, TableReport] = {}
    shas: dict[Dataset, str] = {}
    rows: dict[Dataset, status.StatusRow] = {}
    try:
        # 1. stage every file (skip those landed before byte for byte)
        for d, path in files.items():
            report = reports[d] = TableReport(landing_table(d), path.name)
            rows[d] = status.StatusRow(run_id, run_date, "landing", f"landing.{d.table}")
            shas[d] = file_sha256(path)
            previous = _last_landed_sha(spark, d)
            if previous and previous[0] == shas[d]:
                report.skipped = True
                report.source_rows, report.rejected = previous[1], previous[2]
                report.unchanged = report.source_rows - report.rejected
                step(f"{d.name}: same file as last landed, nothing to do")
                continue
            step(f"{d.name}: parsing {path.name}")
            report.source_rows, report.rejected = stage(spark, d, path)

        # 2. the reject limit, checked for every file before any landing table changes
        too_bad = [r for r in reports.values() if not r.skipped and r.rejected > share * max(r.source_rows, 1)]
        if too_bad:
            details = []
            for r in too_bad:
                d = next(d for d in reports if reports[d] is r)
                examples = "; ".join(f"line {n}: {why}" for n, why, _raw in sample_rejects(spark, d))
                details.append(
                    f"{r.file}: {r.rejected} of {r.source_rows} lines malformed "
                    f"({r.rejected / max(r.source_rows, 1):.3%} > {share:.3%}), e.g. {examples}; "
                    f"all of them: select * from {stage_table(d)} where _reject_reason is not null"
                )
            raise LandingError("landing stopped, no landing table was changed. " + " | ".join(details))

        # 3. what each snapshot changes, and a unique key in each, also before any landing table changes
        for d, report in reports.items():
            if not report.skipped:
                step(f"{d.name}: comparing with {landing_table(d)}")
                diff(spark, d, report)

        # 4. one MERGE per table, then its rejects and the file it came from
        for d, path in files.items():
            report = reports[d]
            if report.skipped:
                continue
            step(f"{d.name}: merging into {landing_table(d)}")
            merge(spark, d, run_date, loaded_at, report)
            if report.rejected:
                spark.execute(
                    f"insert into {rejects_table()} select {_str(d.table)}, {_str(path.name)}, _line_number, "
                    f"_raw_line, _reject_reason, date'{run_date.isoformat()}', timestamp'{loaded_at}' "
                    f"from {stage_table(d)} where _reject_reason is not null"
                )
            spark.execute(
                f"insert into {files_table()} values ({_str(d.table)}, {_str(path.name)}, {_str(shas[d])}, "
                f"{report.source_rows}, {report.rejected}, date'{run_date.isoformat()}', timestamp'{loaded_at}')"
            )
            spark.execute(f"drop table if exists {stage_table(d)}")
    except Exception as exc:
        for d, row in rows.items():
            r = reports.get(d)
            done = r is not None and (r.skipped or r.delta_version is not None)
            row.status = "success" if done else "failed"
            row.rows_affected = r.rows_affected if done and r else None
            row.error = None if done else f"{type(exc).__name__}: {exc}"[:4000]
        _finish(spark, rows)
        raise
    for d, row in rows.items():
        row.rows_affected = reports[d].rows_affected
    _finish(spark, rows)
    return list(reports.values())


def _finish(spark: Session, rows: dict[Dataset, status.StatusRow]) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for row in rows.values():
        row.finished_at = now
    status.record(spark, list(rows.values()))
