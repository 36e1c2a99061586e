"""Land one day's IMDb snapshot into the Delta tables of schema `landing`, through the Spark Thrift server.

For every file (SPEC, Landing semantics), one of three ways, chosen per file and named in the summary:
- **first load** (the landing table is empty): Python walks the file for key order and repeated keys, and
  picks out the few lines that might be malformed, which Spark parses for their reject reasons; once every
  check passed, Spark parses the file once, straight into the landing table (a plain append: each row is
  written once, no staging copy, no sort);
- **raw diff** (the usual next day): the file landing holds (recorded in `landing.loaded_files`, still in the
  cache, SHA-256 unchanged) and today's are compared outside the JVM (ingestion/rawdiff.py); Spark parses,
  checks and hashes only the new and changed lines, and receives the deleted keys;
- **Spark diff** (the previous file is gone, altered or not comparable): the whole file is staged and
  compared with the landing table on narrow rows (key, row hash) in a full outer join.
Then, for every file and before any landing table changes: the malformed share (over the whole file), a key
repeated in the snapshot, and the snapshot guards (a share of live keys soft-deleted, a shrink of the table).
Last, one atomic Delta MERGE per table of the changed rows only (an append for a first load): new keys are
inserted, changed ones updated, missing ones soft-deleted, the rest left alone. Each changed row carries the
run's load id (`_load_id`, one per landing run, strictly increasing), which the dbt models select on.

A file whose bytes were already landed last time (same SHA-256) is skipped, so re-running a date changes
nothing, not even the Delta version. One run at a time: the run holds the pipeline lease (core/lease.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from core import config, lease, status, thrift
from core.thrift import Session
from ingestion import rawdiff
from ingestion.datasets import DATASETS, Dataset
from ingestion.land_sql import (  # noqa: F401 (re-exported: land.merge_sql etc. stay where callers find them)
    _changed_lines,
    _key_join,
    _keys_present,
    _landing_properties,
    _partitions,
    _parts,
    _q,
    _str,
    _whole_file,
    changed_keys_table,
    changed_rows_sql,
    changes_sql,
    changes_table,
    files_table,
    first_load_sql,
    landing_table,
    loads_table,
    merge_sql,
    parse_sql,
    raw_changes_sql,
    rejects_table,
    stage_table,
    staging_sql,
)

log = logging.getLogger(__name__)

NULL = r"\N"
META_COLUMNS = "_row_hash string, _is_deleted boolean, _run_date date, _loaded_at timestamp, _load_id bigint"

FIRST_LOAD, RAW_DIFF, SPARK_DIFF, SAME_FILE = "first load", "raw diff", "Spark diff", "same file"


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
    diffed: bool = False  # compared with what landing holds (False: the table was empty, all inserts)
    delta_version: int | None = None
    method: str = ""  # FIRST_LOAD, RAW_DIFF, SPARK_DIFF or SAME_FILE
    note: str = ""  # why a file fell back to the Spark diff
    load_id: int | None = None

    @property
    def rows_affected(self) -> int:
        return self.inserted + self.updated + self.deleted


# ---------------------------------------------------------------------------------------------- DDL


def _add_missing_columns(spark: Session, table: str, wanted: dict[str, str]) -> None:
    """Tables landed by an earlier version lack newer bookkeeping columns: add them (null on old rows)."""
    have = {r[0] for r in spark.query(f"describe {table}") if r[0] and not r[0].startswith("#")}
    missing = [f"{_q(c)} {t}" for c, t in wanted.items() if c not in have]
    if missing:
        spark.execute(f"alter table {table} add columns ({', '.join(missing)})")


SCHEMA_VERSION = "3"  # landing's bookkeeping layout; bump when ensure_tables() changes what it creates


def ensure_tables(spark: Session, datasets: Iterable[Dataset]) -> None:
    """Create the landing schema and tables when missing (explicit columns; never inferred), and add the
    columns an older version lacks. Once done, `landing.loads` carries the layout's version, so a daily run
    checks one table property instead of issuing some twenty DDL statements."""
    datasets = list(datasets)
    wanted = {landing_table(d).split(".")[-1] for d in datasets}
    landing = config.schema("landing")
    have = {r[1] for r in spark.query(f"show tables in {landing}")} if _schema_exists(spark, landing) else set()
    if wanted | {"loads", "loaded_files", "rejects", "etl_pipeline_status"} <= have:
        props = dict(spark.query(f"show tblproperties {loads_table()}"))
        if props.get("imdb.landing_schema_version") == SCHEMA_VERSION:
            spark.execute(f"create schema if not exists {config.schema('landing_stage')}")
            return
    spark.execute(f"create schema if not exists {landing}")
    spark.execute(f"create schema if not exists {config.schema('landing_stage')}")
    for d in datasets:
        cols = ", ".join(f"{_q(c.name)} {c.type}" for c in d.columns)
        spark.execute(f"create table if not exists {landing_table(d)} ({cols}, {META_COLUMNS}) using delta")
        _add_missing_columns(spark, landing_table(d), {"_load_id": "bigint"})
        spark.execute(f"alter table {landing_table(d)} set tblproperties ({_landing_properties(d)})")
    spark.execute(
        f"create table if not exists {rejects_table()} (table_name string, file string, line_number bigint, "
        "raw_line string, reason string, _run_date date, _loaded_at timestamp, _load_id bigint) using delta"
    )
    _add_missing_columns(spark, rejects_table(), {"_load_id": "bigint"})
    spark.execute(
        f"create table if not exists {files_table()} (table_name string, file string, sha256 string, "
        "source_rows bigint, rejected bigint, _run_date date, _loaded_at timestamp, path string, _load_id bigint) "
        "using delta"
    )
    _add_missing_columns(spark, files_table(), {"path": "string", "_load_id": "bigint"})
    spark.execute(
        f"create table if not exists {loads_table()} (load_id bigint, run_id string, run_date date, "
        "started_at timestamp) using delta"
    )
    status.ensure_table(spark)
    if set(wanted) >= {d.table for d in DATASETS.values()}:  # only a run over every dataset marks it done
        spark.execute(
            f"alter table {loads_table()} set tblproperties ('imdb.landing_schema_version' = '{SCHEMA_VERSION}')"
        )


def _schema_exists(spark: Session, schema: str) -> bool:
    return bool(spark.query(f"show schemas like '{schema}'"))


def allocate_load_id(spark: Session, run_id: str, run_date: dt.date, started_at: str) -> int:
    """The next load id, committed to `landing.loads` before any landing table changes: a landing that dies
    half way never hands its id to the next run (the lease keeps two runs from allocating at once)."""
    load_id = int(spark.scalar(f"select coalesce(max(load_id), 0) + 1 from {loads_table()}"))
    spark.execute(
        f"insert into {loads_table()} values ({load_id}, {_str(run_id)}, date'{run_date.isoformat()}', "
        f"timestamp'{started_at}')"
    )
    return load_id


# Reading parts: never split a part, never put two in one task (a task's row index is then its part's line).
_ONE_TASK_PER_FILE = {
    "spark.sql.files.maxPartitionBytes": "1073741824",
    "spark.sql.files.openCostInBytes": "1073741824",
}


@contextlib.contextmanager
def _confs(spark: Session, confs: dict[str, str]):
    for k, v in confs.items():
        spark.execute(f"set {k} = {v}")
    try:
        yield
    finally:
        for k in confs:
            spark.execute(f"reset {k}")


def check_header(d: Dataset, path: Path) -> None:
    """The file's first line must be the registry's header (read here: Spark need not open the gzip for it)."""
    import gzip

    expected = "\t".join(d.column_names)
    try:
        with gzip.open(path, "rb") as f:
            header = f.readline(1 << 16).decode("utf-8", "replace").rstrip("\n")
    except (OSError, EOFError) as exc:
        raise LandingError(f"{path.name}: cannot be read as gzip ({exc})") from exc
    if not header:
        raise LandingError(f"{path.name}: the file is empty (expected the header line {expected!r})")
    if header.rstrip("\r") != expected:
        raise LandingError(
            f"{path.name}: unexpected header {header!r}; expected {expected!r} for {d.name}. "
            "Is it the right file, or did IMDb change its format? (update ingestion/datasets.py)"
        )


def sample_rejects(spark: Session, d: Dataset, limit: int = 5) -> list[tuple[int, str, str]]:
    return spark.query(
        f"select _line_number, _reject_reason, _raw_line from {stage_table(d)} "
        f"where _reject_reason is not null order by _line_number limit {limit}"
    )


# The Spark diff broadcasts a changed-key set up to this size into its join with the staged rows.
BROADCAST_MAX_ROWS = 5_000_000

# The landing MERGE's settings. With deletion vectors Delta writes the changes through `changes left join
# landing table` over every file a change touches: with 1% of rows changed all over the table, that is every
# file, and the landing table was shuffled whole (whole rows: the join carries every column). A left join can
# only broadcast its right side, the landing table, so broadcasting the changes never helped there. Instead Spark
# builds a Bloom filter of the changes' keys at run time and filters the landing rows before the shuffle
# (InjectRuntimeFilter; the source's filter in land_sql.merge_sql makes it eligible): Spark's defaults ask the
# filtered side to scan 10 GB and the filtering side to hold 10 MB, and it skips a join it expects to broadcast,
# hence no broadcast at all. Scale 0.1, day 2, two runs each: the MERGE of title_principals (404 MB) 11.5-12.0 ->
# 5.8-7.0 s (the shuffle went from 9.9M rows, 1.8 GB, to 15K), name_basics (86 MB) 4.6-4.7 -> 2.9 s, title_basics
# (54 MB) 4.8-5.1 -> 2.2-2.6 s, the same table after each; title_ratings (6 MB) 1.9 -> 2.1-2.2 s: a table this
# small is better broadcast whole, as Spark's defaults do (the dbt models measured alike: the same threshold).
MERGE_SETTINGS = {
    "spark.sql.autoBroadcastJoinThreshold": "-1",
    "spark.sql.optimizer.runtime.bloomFilter.applicationSideScanSizeThreshold": "0",
    "spark.sql.optimizer.runtime.bloomFilter.creationSideThreshold": "256m",
}
RUNTIME_FILTER_MIN_BYTES = 32 << 20  # the landing table's files


def _commits(spark: Session, table: str, limit: int = 1) -> list[tuple[int, str, dict[str, str], dict]]:
    """(version, operation, operationMetrics, our userMetadata) of a table's newest commits, newest first."""
    out = []
    for version, _ts, _uid, _user, operation, _params, *rest in spark.query(f"describe history {table} limit {limit}"):
        try:
            ours = json.loads(rest[7] or "{}")  # userMetadata: what landing wrote with the commit
        except ValueError:
            ours = {}
        out.append((int(version), operation, json.loads(rest[6] or "{}"), ours if isinstance(ours, dict) else {}))
    return out


def _last_commit(spark: Session, table: str) -> tuple[int, str, dict[str, str]]:
    version, operation, metrics, _ours = _commits(spark, table)[0]
    return version, operation, metrics


def _repeated_key_error(d: Dataset, file: str, detail: str) -> LandingError:
    keys = ", ".join(d.key)
    return LandingError(
        f"{file}: the natural key ({keys}) is not unique in this snapshot ({detail}); landing stopped, no landing "
        f"table was changed. Find them with: select {keys}, count(*) from <the file> group by all having count(*) > 1"
    )


def spark_diff(spark: Session, d: Dataset, report: TableReport) -> None:
    """Find what a staged snapshot changes (changed_keys_table) and count it into the report; fails, changing
    nothing, when a key repeats in the snapshot."""
    spark.execute(f"create or replace table {changed_keys_table(d)} using delta as {changes_sql(d)}")
    counts = dict(spark.query(f"select coalesce(_action, 'none'), count(*) from {changed_keys_table(d)} group by 1"))
    duplicates = spark.scalar(f"select count(*) from {changed_keys_table(d)} where _copies > 1")
    if duplicates:
        raise _repeated_key_error(d, report.file, f"{duplicates} keys repeat")
    report.inserted = int(counts.get("insert", 0))
    report.updated = int(counts.get("update", 0))
    report.deleted = int(counts.get("delete", 0))
    report.diffed = True


def _merge(spark: Session, d: Dataset, changes: str, run_date: dt.date, loaded_at: str, load_id: int):
    spark.execute(f"create or replace table {changes_table(d)} using delta as {changes}")
    big = int(spark.detail(landing_table(d)).get("sizeInBytes") or 0) >= RUNTIME_FILTER_MIN_BYTES
    with _confs(spark, MERGE_SETTINGS if big else {}):
        spark.execute(merge_sql(d, run_date, loaded_at, load_id))


# ---------------------------------------------------------------------------------------------- one file


@dataclass
class _File:
    """One file's way through a landing run."""

    d: Dataset
    path: Path
    report: TableReport
    sha: str = ""
    previous: dict | None = None  # the last loaded_files row of this table
    raw: rawdiff.RawDiff | None = None
    python: Future | None = None  # the Python side's work (rawdiff.check or rawdiff.diff)
    live: int = 0  # live keys in the landing table before this run
    would_delete: int = 0
    work: Path | None = None
    parts: Path | None = None  # a first day's file, decompressed into parts for Spark (rawdiff._Parts)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _previous(spark: Session, d: Dataset) -> dict | None:
    """The file whose content the landing table holds now. Each landing commit records its file in the commit
    itself (Delta userMetadata), atomically with the data; a later `landing.loaded_files` row stands for it
    when that load found nothing to change (and committed nothing). A run that died between its commit and
    its loaded_files row is thus still known by the file it committed."""
    committed = next(
        (ours for *_rest, ours in _commits(spark, landing_table(d), limit=20) if ours.get("sha256")), None
    )  # the newest of ours (maintenance commits carry none)
    since = f" and _load_id >= {int(committed['load_id'])}" if committed else ""
    rows = spark.query(
        f"select sha256, source_rows, rejected, path, cast(_run_date as string), cast(_loaded_at as string), file "
        f"from {files_table()} where table_name = {_str(d.table)}{since} "
        "order by _load_id desc nulls last, _loaded_at desc limit 1"
    )
    if rows:
        sha, source_rows, rejected, path, run_date, loaded_at, file = rows[0]
        return {
            "sha256": sha,
            "source_rows": int(source_rows),
            "rejected": int(rejected),
            "path": path,
            "run_date": str(run_date),
            "loaded_at": str(loaded_at),
            "file": file,
        }
    return committed


def _previous_file(f: _File) -> tuple[Path | None, str]:
    """The file landing holds now, if it is still where it was and unchanged; else None and why."""
    prev = f.previous
    assert prev is not None
    candidates = [Path(prev["path"])] if prev.get("path") else []
    candidates.append(config.settings().cache_dir / prev["run_date"] / f.d.file_name)  # rows of older versions
    for path in candidates:
        if path.is_file():
            if file_sha256(path) == prev["sha256"]:
                return path, ""
            return None, f"the previous file {path} changed since it was landed (SHA-256 differs)"
    return None, f"the previous file ({candidates[0]}) is no longer there"


def _newest_run_date(spark: Session) -> dt.date | None:
    value = spark.scalar(f"select cast(max(_run_date) as string) from {files_table()}")
    return None if value is None else dt.date.fromisoformat(str(value))


def check_run_date(spark: Session, run_date: dt.date, allow_older: bool) -> None:
    """Run dates only move forward: landing an older snapshot over a newer one would take every layer back."""
    newest = _newest_run_date(spark)
    if newest is not None and run_date < newest and not allow_older:
        raise LandingError(
            f"run date {run_date} is older than the newest landed snapshot ({newest}): landing it would take "
            f"landing, cleansed and the KPIs back in time. To roll back on purpose, pass --allow-older-run-date "
            f"(or set IMDB_ALLOW_OLDER_RUN_DATE=1); to reprocess {newest}, run that date again."
        )


def _guard(f: _File, cfg: config.Settings) -> str | None:
    """A snapshot that would soft-delete or shrink too much of a table: the message, or None."""
    r = f.report
    if cfg.allow_shrink or f.live == 0:
        return None
    good = r.source_rows - r.rejected
    deletes = max(cfg.max_delete_share * f.live, cfg.guard_floor_rows)
    shrink = max(cfg.max_shrink_share * f.live, cfg.guard_floor_rows)
    problems = []
    if f.would_delete > deletes:
        problems.append(
            f"it would soft-delete {f.would_delete:,} of {f.live:,} live keys ({f.would_delete / f.live:.2%}; "
            f"the limit is {deletes:,.0f}: IMDB_MAX_DELETE_SHARE={cfg.max_delete_share:g} of the live keys, at "
            f"least IMDB_GUARD_FLOOR_ROWS={cfg.guard_floor_rows:,})"
        )
    if f.live - good > shrink:
        problems.append(
            f"it holds {good:,} good rows where {landing_table(f.d)} has {f.live:,} live keys ({f.live - good:,} "
            f"fewer; the limit is {shrink:,.0f}: IMDB_MAX_SHRINK_SHARE={cfg.max_shrink_share:g}, at least "
            f"IMDB_GUARD_FLOOR_ROWS={cfg.guard_floor_rows:,})"
        )
    if not problems:
        return None
    return (
        f"{r.file}: " + " and ".join(problems) + ". A truncated or partial export? If IMDb really removed them, "
        "land it with --allow-shrink (or IMDB_ALLOW_SHRINK=1)"
    )


# ---------------------------------------------------------------------------------------------- run


def land(
    spark: Session,
    files: dict[Dataset, Path],
    run_date: dt.date,
    *,
    run_id: str | None = None,
    reject_share: float | None = None,
    allow_shrink: bool | None = None,
    allow_older_run_date: bool | None = None,
    lease_held: bool = False,
    on_step: Callable[[str], None] | None = None,
) -> list[TableReport]:
    """Land a snapshot (dataset -> local .tsv.gz). Raises LandingError, changing no landing table, when a file
    is malformed beyond the allowed share, repeats a key or fails a guard, or the run date is older than the
    newest landed one. Records one `landing` status row per table, `failed` ones when anything goes wrong.
    Holds the pipeline lease for its duration unless the caller does (lease_held)."""
    cfg = config.settings()
    share = cfg.reject_share if reject_share is None else reject_share
    cfg = _with(cfg, allow_shrink=allow_shrink, allow_older_run_date=allow_older_run_date)
    run_id = run_id or status.new_run_id(run_date)
    step = on_step or (lambda _msg: None)
    rows = {d: status.StatusRow(run_id, run_date, "landing", f"landing.{d.table}") for d in files}
    todo: dict[Dataset, _File] = {}
    held = contextlib.nullcontext() if lease_held else lease.held(run_id, "landing", end_of_run=True)
    work_root = cfg.data_dir / "landing-work" / run_id
    try:
        with held:
            ensure_tables(spark, files)
            check_run_date(spark, run_date, cfg.allow_older_run_date)
            loaded_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            load_id = allocate_load_id(spark, run_id, run_date, loaded_at)
            todo = {
                d: _File(d, path, TableReport(landing_table(d), path.name, load_id=load_id))
                for d, path in files.items()
            }
            # the Python side of each file runs in a child process of its own: two at a time, on two cores
            with ThreadPoolExecutor(max_workers=2) as pool:
                # the biggest file first: its Python side takes longest
                for f in sorted(todo.values(), key=lambda f: -f.path.stat().st_size):
                    _plan(spark, f, pool, work_root, cfg, step)
                for f in todo.values():
                    _prepare(spark, f, share, step)
            _check_all(spark, todo, share, cfg)
            _commit_all(spark, [f for f in todo.values() if not f.report.skipped], run_date, loaded_at, load_id, step)
            # the staging tables served their purpose (after a failure they stay, for a look at the rejects)
            spark.execute(f"drop schema if exists {config.schema('landing_stage')} cascade")
    except Exception as exc:
        for d, row in rows.items():
            r = todo[d].report if d in todo else None
            done = r is not None and (r.skipped or r.delta_version is not None)
            row.status = "success" if done else "failed"
            row.rows_affected = r.rows_affected if done and r else None
            row.error = None if done else f"{type(exc).__name__}: {exc}"[:4000]
        try:
            _finish(spark, rows)
        except Exception:  # e.g. the Thrift server is gone: say so, but raise what stopped the landing
            log.exception("could not record the landing status rows")
        raise
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    for d, row in rows.items():
        row.rows_affected = todo[d].report.rows_affected
    _finish(spark, rows)
    return [f.report for f in todo.values()]


def _with(cfg: config.Settings, **overrides: object) -> config.Settings:
    return cfg.model_copy(update={k: v for k, v in overrides.items() if v is not None})


def _plan(spark: Session, f: _File, pool: ThreadPoolExecutor, work_root: Path, cfg: config.Settings, step) -> None:
    """Choose how to land a file, and start its Python side."""
    d, r = f.d, f.report
    f.sha = file_sha256(f.path)
    f.previous = _previous(spark, d)
    if f.previous and f.previous["sha256"] == f.sha:
        r.skipped, r.method = True, SAME_FILE
        r.source_rows, r.rejected = f.previous["source_rows"], f.previous["rejected"]
        r.unchanged = r.source_rows - r.rejected
        step(f"{d.name}: same file as last landed, nothing to do")
        return
    check_header(d, f.path)
    rows, live = spark.query(f"select count(*), count_if(not _is_deleted) from {landing_table(d)}")[0]
    if not rows:
        r.method = FIRST_LOAD
        f.work = work_root / d.table
        f.python = pool.submit(rawdiff.run_in_subprocess, "check", d, f.path, None, f.work / "parts")
        return
    f.live = int(live)
    r.diffed = True
    old, why = _previous_file(f) if f.previous else (None, "landing.loaded_files names no previous file")
    if not cfg.raw_diff:
        old, why = None, "the raw diff is switched off (IMDB_NO_RAW_DIFF)"
    if old is None:
        r.method, r.note = SPARK_DIFF, why
        return
    r.method = RAW_DIFF
    bad = []
    if f.previous.get("rejected"):  # lines rejected last time are rejected again if still there
        bad = spark.query(
            f"select raw_line from {rejects_table()} where table_name = {_str(d.table)} "
            f"and _loaded_at = timestamp'{f.previous['loaded_at']}'"
        )
    f.work = work_root / d.table
    known_bad = rawdiff.known_bad_lines([b[0] for b in bad])
    f.python = pool.submit(rawdiff.run_in_subprocess, "diff", d, f.path, old, f.work, known_bad)


def _prepare(spark: Session, f: _File, share: float, step) -> None:
    """Everything up to the checks: Spark's parse of what it must see, the Python side's result, the counts."""
    d, r = f.d, f.report
    if r.skipped:
        return
    if r.method == FIRST_LOAD:
        step(f"{d.name}: checking {f.path.name}")
        suspects = None
        try:
            checked = f.python.result()
            r.source_rows, f.parts, suspects = checked.lines, checked.changed_path, checked.suspect_path
        except rawdiff.RepeatedKey as exc:
            raise _repeated_key_error(d, r.file, str(exc)) from exc
        except rawdiff.NotComparable as exc:  # not in key order: Spark reads the gzip and looks for repeats
            r.note = f"{exc}; repeated keys checked by Spark"
            step(f"{d.name}: {r.note}")
            keys = ", ".join(_q(k) for k in d.key)
            repeats = spark.scalar(
                f"select count(*) from (select {keys} from ({staging_sql(d, f.path)}) where {_keys_present(d)} "
                f"group by {keys} having count(*) > 1)"
            )
            if repeats:
                raise _repeated_key_error(d, r.file, f"{repeats} keys repeat") from None
            r.source_rows = int(spark.scalar(f"select count(*) - 1 from text.`{f.path}`"))
        if suspects is not None:  # Spark parses only the lines the check could not vouch for
            step(f"{d.name}: parsing the {checked.suspects:,} lines of {f.path.name} that may be malformed")
            lines = _changed_lines(suspects)
        else:
            step(f"{d.name}: parsing {f.path.name} for malformed lines")
            lines = _whole_file(f.path)
        spark.execute(
            f"create or replace table {stage_table(d)} using delta as "
            f"select * from ({parse_sql(d, lines)}) where _reject_reason is not null"
        )
        r.rejected = int(spark.scalar(f"select count(*) from {stage_table(d)}"))
        r.inserted = r.source_rows - r.rejected
        return
    if r.method == RAW_DIFF:
        step(f"{d.name}: comparing {f.path.name} with the file landing holds")
        try:
            f.raw = f.python.result()
        except rawdiff.RepeatedKey as exc:
            raise _repeated_key_error(d, r.file, str(exc)) from exc
        except rawdiff.NotComparable as exc:
            r.method, r.note = SPARK_DIFF, str(exc)
            step(f"{d.name}: falling back to the Spark diff: {exc}")
        else:
            spark.execute(
                f"create or replace table {stage_table(d)} using delta as "
                f"{parse_sql(d, _changed_lines(f.raw.changed_path))}"
            )
            r.source_rows = f.raw.lines
            r.rejected = int(spark.scalar(f"select count_if(_reject_reason is not null) from {stage_table(d)}"))
            f.would_delete = f.raw.deleted
            return
    # the Spark diff: stage the whole file, compare it with the landing table
    step(f"{d.name}: parsing {f.path.name}")
    spark.execute(f"create or replace table {stage_table(d)} using delta as {staging_sql(d, f.path)}")
    total, rejected = spark.query(f"select count(*), count_if(_reject_reason is not null) from {stage_table(d)}")[0]
    r.source_rows, r.rejected = int(total), int(rejected or 0)
    if r.rejected <= share * max(r.source_rows, 1):  # else the reject check stops the run: no need to compare
        step(f"{d.name}: comparing with {landing_table(d)}")
        spark_diff(spark, d, r)
    f.would_delete = r.deleted


def _first_load_lines(f: _File) -> str:
    return _parts(f.parts) if f.parts else _whole_file(f.path)


def _check_all(spark: Session, todo: dict[Dataset, _File], share: float, cfg: config.Settings) -> None:
    """The reject limit and the snapshot guards, for every file before any landing table changes."""
    too_bad = [
        f for f in todo.values() if not f.report.skipped and f.report.rejected > share * max(f.report.source_rows, 1)
    ]
    if too_bad:
        details = []
        for f in too_bad:
            r = f.report
            examples = "; ".join(f"line {n}: {why}" for n, why, _raw in sample_rejects(spark, f.d))
            details.append(
                f"{r.file}: {r.rejected} of {r.source_rows} lines malformed "
                f"({r.rejected / max(r.source_rows, 1):.3%} > {share:.3%}), e.g. {examples}; "
                f"all of them: select * from {stage_table(f.d)} where _reject_reason is not null"
            )
        raise LandingError("landing stopped, no landing table was changed. " + " | ".join(details))
    problems = [p for f in todo.values() if not f.report.skipped and (p := _guard(f, cfg))]
    if problems:
        raise LandingError(
            "landing stopped by the snapshot guards, no landing table was changed. " + " | ".join(problems)
        )


def _commit(spark: Session, f: _File, run_date: dt.date, loaded_at: str, load_id: int) -> None:
    """Write one table (one Delta commit, none when nothing changed), then its rejects and its file record.
    The commit carries its file (userMetadata), so what the table holds is known even if the run dies before
    the loaded_files row (see _previous)."""
    d, r = f.d, f.report
    target = landing_table(d)
    record = {
        "sha256": f.sha,
        "source_rows": r.source_rows,
        "rejected": r.rejected,
        "path": str(f.path.resolve()),
        "run_date": run_date.isoformat(),
        "loaded_at": loaded_at,
        "file": f.path.name,
        "load_id": load_id,
    }
    spark.execute(f"set spark.databricks.delta.commitInfo.userMetadata = {json.dumps(record)}")
    if r.method == FIRST_LOAD:
        # a first load writes each task's rows as they come: optimized writes would shuffle the whole file once
        # more to make fewer files (the parallel parse already makes a few big ones)
        confs = {"spark.databricks.delta.optimizeWrite.enabled": "false", **(_ONE_TASK_PER_FILE if f.parts else {})}
        with _confs(spark, confs):
            spark.execute(first_load_sql(d, _first_load_lines(f), run_date, loaded_at, load_id))
        r.delta_version, _operation, metrics = _last_commit(spark, target)
        written = int(metrics.get("numOutputRows", r.inserted))
        if written != r.inserted:  # never expected: the suspect lines are a superset of what Spark rejects
            log.error(
                "%s: %s rows landed where the check expected %s; the lines Spark rejected beyond the suspect ones "
                "are not in %s (rawdiff.suspect_pattern missed them)",
                r.file,
                written,
                r.inserted,
                rejects_table(),
            )
            r.inserted, r.rejected = written, r.source_rows - written
    elif r.method == RAW_DIFF:
        assert f.raw is not None
        rows = f.raw.changed + f.raw.deleted
        if rows:
            _merge(spark, d, raw_changes_sql(d, f.raw.deleted_path), run_date, loaded_at, load_id)
        _count_raw_changes(spark, f, load_id, committed=bool(rows))
    elif r.rows_affected:  # the Spark diff; an unchanged snapshot commits nothing: the table keeps its version
        rows = r.rows_affected
        _merge(spark, d, changed_rows_sql(d, rows <= BROADCAST_MAX_ROWS), run_date, loaded_at, load_id)
    spark.execute("reset spark.databricks.delta.commitInfo.userMetadata")
    r.unchanged = r.source_rows - r.rejected - r.inserted - r.updated
    if r.rejected:
        spark.execute(
            f"insert into {rejects_table()} select {_str(d.table)}, {_str(f.path.name)}, _line_number, "
            f"_raw_line, _reject_reason, date'{run_date.isoformat()}', timestamp'{loaded_at}', {load_id} "
            f"from {stage_table(d)} where _reject_reason is not null"
        )
    spark.execute(
        f"insert into {files_table()} values ({_str(d.table)}, {_str(f.path.name)}, {_str(f.sha)}, "
        f"{r.source_rows}, {r.rejected}, date'{run_date.isoformat()}', timestamp'{loaded_at}', "
        f"{_str(record['path'])}, {load_id})"
    )
    if r.delta_version is None:  # the raw diff's count read it already
        r.delta_version = _last_commit(spark, target)[0]


def _commit_all(spark: Session, files: list[_File], run_date: dt.date, loaded_at: str, load_id: int, step) -> None:
    """Commit the tables in two Thrift sessions at once (this one and a second), the biggest file alone in its
    lane when it outweighs the rest: a small table's ~15 statements are mostly fixed latency (planning, Delta
    log, commit), which the other lane's work fills (bundled sample, the land task: first day 30.5 -> 13.6 s,
    next day 23.2 -> 19.5 s; at scale 1.0, where both lanes compete for the two cores, no measurable change).
    The tables are independent (their own Delta tables; loaded_files and rejects take blind appends, which
    Delta commits side by side). A lane that fails does not stop the other one's commit in flight; the first
    error is raised once both are done, and each table's status row says whether it was committed."""
    lanes: list[list[_File]] = [[], []]
    weight = [0, 0]
    for f in sorted(files, key=lambda f: -f.path.stat().st_size):
        lane = weight.index(min(weight))
        lanes[lane].append(f)
        weight[lane] += f.path.stat().st_size

    def run(lane: list[_File], session: Session) -> None:
        for f in lane:
            step(f"{f.d.name}: writing {landing_table(f.d)} ({f.report.method})")
            _commit(session, f, run_date, loaded_at, load_id)

    if not lanes[1]:
        run(lanes[0], spark)
        return
    host, _, port = spark.address.rpartition(":")
    with ThreadPoolExecutor(max_workers=1) as pool:

        def second() -> None:
            with thrift.session(host or None, int(port) if port else None) as other:
                run(lanes[1], other)

        other_lane = pool.submit(second)
        try:
            run(lanes[0], spark)
        finally:
            error = other_lane.exception()  # waits: never leave a commit running behind a raised error
        if error is not None:
            raise error


def _count_raw_changes(spark: Session, f: _File, load_id: int, committed: bool) -> None:
    """What the raw diff's MERGE did: the rows carrying this load id (Delta skips every older file by its
    statistics) and the MERGE's own count of inserted rows."""
    r = f.report
    r.inserted = r.updated = r.deleted = 0
    if not committed:
        return
    r.delta_version, operation, metrics = _last_commit(spark, landing_table(f.d))
    deleted, live = spark.query(
        f"select count_if(_is_deleted), count_if(not _is_deleted) from {landing_table(f.d)} where _load_id = {load_id}"
    )[0]
    r.inserted = int(metrics.get("numTargetRowsInserted", 0)) if operation == "MERGE" else 0
    r.deleted = int(deleted or 0)
    r.updated = int(live or 0) - r.inserted


def _finish(spark: Session, rows: dict[Dataset, status.StatusRow]) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for row in rows.values():
        row.finished_at = now
    status.record(spark, list(rows.values()))
