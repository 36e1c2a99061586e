"""Keep the Delta tables fast over months of daily MERGEs: compaction, deletion-vector purges and VACUUM, each
only past a threshold, so a normal day pays nothing for it.

- OPTIMIZE (bin-packing) when a table holds many more files than its size needs: every daily MERGE adds a few
  small files of changed rows.
- REORG ... APPLY (PURGE) when many commits added deletion vectors since the last purge or compaction: each
  MERGE marks the changed rows' old copies deleted instead of rewriting files, and every scan then reads and
  drops them.
- VACUUM when the last one is older than the retention: files no longer referenced (replaced by OPTIMIZE, a
  MERGE or a full refresh) longer than the retention ago are removed. The retention (7 days,
  IMDB_VACUUM_RETAIN_HOURS) is longer than the gap between two daily runs, so the version actor_actress_kpis
  compares each cleansed table with is still readable; after a longer pause it recomputes everyone.

Runs as the DAG's `maintain` task after publish, or `python -m ingestion maintain`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass

from core import config
from core.thrift import Session
from ingestion.datasets import DATASETS

log = logging.getLogger(__name__)

TARGET_FILE_BYTES = 128 << 20

CLEANSED = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating")


@dataclass
class Action:
    table: str
    action: str  # OPTIMIZE, PURGE, VACUUM
    reason: str
    seconds: float = 0.0


def _purge_after() -> int:
    return config.settings().purge_after_commits


def _retain_hours() -> int:
    return config.settings().vacuum_retain_hours


def tables() -> list[str]:
    landing = [f"{config.schema('landing')}.{d.table}" for d in DATASETS.values()]
    cleansed = [f"{config.schema('cleansed')}.{m}" for m in CLEANSED]
    return [*landing, *cleansed, f"{config.schema('aggregated')}.actor_actress_kpis"]


def plan(spark: Session, table: str, now: dt.datetime) -> list[Action]:
    """What a table needs today, from `describe detail` and its history."""
    detail = spark.detail(table)
    files, size = int(detail.get("numFiles") or 0), int(detail.get("sizeInBytes") or 0)
    ideal = max(1, math.ceil(size / TARGET_FILE_BYTES))
    history = spark.query(f"describe history {table} limit 200")
    actions = []
    since_purge = 0
    for row in history:
        operation = row[4]
        if operation in ("REORG", "OPTIMIZE") or "CREATE" in operation or "REPLACE" in operation:
            break  # (OPTIMIZE rewrites the files whose rows are largely deleted, too)
        metrics = json.loads(row[12] or "{}")  # operationMetrics
        if any("DeletionVector" in k and "Removed" not in k and int(v or 0) > 0 for k, v in metrics.items()):
            since_purge += 1
    if since_purge >= _purge_after():  # first: the purge rewrites files, the compaction then packs them
        actions.append(Action(table, "PURGE", f"{since_purge} commits added deletion vectors since the last purge"))
    if files > 2 * ideal + 16:
        actions.append(Action(table, "OPTIMIZE", f"{files} files where {ideal} would hold its {size >> 20} MB"))
    last_vacuum = next((row[1] for row in history if str(row[4]).startswith("VACUUM")), None)
    created = history[-1][1] if history else None
    since = last_vacuum or created
    if since is not None and now - _ts(since) > dt.timedelta(hours=_retain_hours()):
        actions.append(Action(table, "VACUUM", f"no VACUUM since {since}"))
    return actions


def maintain(spark: Session, *, now: dt.datetime | None = None) -> list[Action]:
    """Run what every table needs; returns what was done."""
    import time

    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    # VACUUM leaves a commit in the history only with this on: the next run then knows it need not vacuum again
    spark.execute("set spark.databricks.delta.vacuum.logging.enabled = true")
    done = []
    for table in tables():
        if not _exists(spark, table):
            continue
        for action in plan(spark, table, now):
            started = time.monotonic()
            sql = {
                "OPTIMIZE": f"optimize {table}",
                "PURGE": f"reorg table {table} apply (purge)",
                "VACUUM": f"vacuum {table} retain {_retain_hours()} hours",
            }[action.action]
            log.info("%s: %s (%s)", table, action.action, action.reason)
            spark.execute(sql)
            action.seconds = round(time.monotonic() - started, 1)
            done.append(action)
    return done


def _exists(spark: Session, table: str) -> bool:
    schema, name = table.split(".")
    return bool(spark.query(f"show schemas like '{schema}'")) and bool(
        spark.query(f"show tables in {schema} like '{name}'")
    )


def _ts(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return dt.datetime.fromisoformat(str(value)[:26])
