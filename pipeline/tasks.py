"""The Airflow tasks' work, importable and testable without Airflow: what the `imdb_pipeline` DAG calls.

Every stage writes its own status rows (download, landing and publish in their modules, dbt models through
the Cosmos callbacks below); the DAG's last task, which runs whatever happened upstream, adds a `skipped`
row for every stage/table that never ran, then publishes the status table, once per run (the publish task
publishes only the KPIs), so the API sees the whole run.

One run at a time: every task takes the pipeline lease for its DAG run (core/lease.py) before it works and
parks it when done, so a second run (`make pipeline` beside the scheduler) fails fast, naming the holder; the
last task releases it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from core import config, lease, status
from core.thrift import session
from ingestion import land
from ingestion.datasets import DATASETS

log = logging.getLogger(__name__)

CLEANSED_MODELS = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating")
AGGREGATED_MODELS = ("actor_actress_kpis",)
PUBLISHED_TABLES = ("actor_actress_kpis", "etl_pipeline_status")
KPI_TABLE, STATUS_TABLE = PUBLISHED_TABLES  # the publish task writes the first, the last task the second


def expected_rows() -> list[tuple[str, str]]:
    """(stage, table_name) of every status row a complete run writes."""
    rows = [("download", d.file_name) for d in DATASETS.values()]
    rows += [("landing", f"landing.{d.table}") for d in DATASETS.values()]
    rows += [("cleansed", f"cleansed.{m}") for m in CLEANSED_MODELS]
    rows += [("aggregated", f"aggregated.{m}") for m in AGGREGATED_MODELS]
    rows += [("publish", t) for t in PUBLISHED_TABLES]
    return rows


def resolve_run_date(value: str | None, logical_date: dt.datetime | None) -> dt.date:
    """The run date: the `run_date` param when given, else the DAG run's logical date (UTC)."""
    if value:
        return dt.date.fromisoformat(str(value))
    return (logical_date or dt.datetime.now(dt.UTC)).date()


def _fail_now(exc: Exception) -> None:
    """Fail the task without retries: retrying cannot fix a malformed snapshot or another run holding the lease."""
    from airflow.exceptions import AirflowFailException

    raise AirflowFailException(str(exc)) from exc


def download(run_date: dt.date, base_url: str | None, run_id: str) -> int:
    from pipeline import daily

    try:
        with lease.held(run_id, "download", end_of_run=False):
            return len(daily.download(run_date, base_url or None, run_id=run_id))
    except lease.LeaseHeld as exc:
        _record_refusal(run_date, run_id, "download", [d.file_name for d in DATASETS.values()], exc)
        _fail_now(exc)


def land_cached(run_date: dt.date, run_id: str, **options: Any) -> list[dict[str, Any]]:
    """Land the run date's cached files."""
    cache = config.settings().cache_dir / run_date.isoformat()
    files = {d: cache / d.file_name for d in DATASETS.values()}
    try:
        with lease.held(run_id, "landing", end_of_run=False), session() as spark:
            reports = land.land(spark, files, run_date, run_id=run_id, lease_held=True, **options)
    except (land.LandingError, lease.LeaseHeld) as exc:
        _fail_now(exc)
    return [r.__dict__ for r in reports]


def _record_refusal(run_date: dt.date, run_id: str, stage: str, tables: list[str], exc: Exception) -> None:
    rows = [status.StatusRow(run_id, run_date, stage, t, status="failed", error=str(exc)[:4000]) for t in tables]
    try:
        with session() as spark:
            status.record(spark, rows)
    except Exception:
        log.exception("could not record the %s status rows", stage)


def take_lease(context: dict[str, Any]) -> None:
    """Cosmos dbt task's pre_execute: the task fails (naming the holder) when another run holds the lease."""
    lease.hold_in_this_process(context["run_id"], context["ti"].task_id)


def park_lease(context: dict[str, Any]) -> None:
    lease.park_in_this_process(context["run_id"])


def _model_row(context: dict[str, Any], state: str) -> None:
    """Cosmos callback: one status row per dbt model (its run and tests), success or failed."""
    ti = context["ti"]
    model = model_of(ti.task_id)
    stage = "aggregated" if model in AGGREGATED_MODELS else "cleansed"
    params = context.get("params") or {}
    run_date = resolve_run_date(params.get("run_date"), context.get("logical_date"))
    row = status.StatusRow(context["run_id"], run_date, stage, f"{stage}.{model}", status=state)
    start = getattr(ti, "start_date", None)
    if start is not None:
        row.started_at = start.astimezone(dt.UTC).replace(tzinfo=None)
    row.finished_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if state == "failed":
        row.error = f"{ti.task_id} failed: {context.get('exception')}"[:4000]
    try:
        with session() as spark:
            status.record(spark, [row])
    except Exception:  # a status write must never turn a green model red
        log.exception("could not record the status of %s", ti.task_id)


def model_of(task_id: str) -> str:
    """The dbt model of a Cosmos task: dbt.<model>_model_build (TestBehavior.BUILD) or dbt.<model>.run/.test."""
    last = task_id.split(".")[-1]
    if last.endswith("_build"):
        return last.removesuffix("_build").removesuffix("_model")
    parts = task_id.split(".")
    return parts[-2] if len(parts) >= 2 else last


def on_model_success(context: dict[str, Any]) -> None:
    park_lease(context)
    task_id = context["ti"].task_id
    if task_id.endswith(("_build", ".test")):  # the model is done once its tests passed
        _model_row(context, "success")


def on_model_failure(context: dict[str, Any]) -> None:
    park_lease(context)
    _model_row(context, "failed")


def publish(run_date: dt.date, run_id: str) -> str:
    from serving import publish as serving

    try:
        with lease.held(run_id, "publish", end_of_run=False):
            return serving.publish(run_date, run_id=run_id, with_status=False).summary()
    except lease.LeaseHeld as exc:
        _record_refusal(run_date, run_id, "publish", [KPI_TABLE], exc)
        _fail_now(exc)
        raise


def maintain(run_id: str) -> list[str]:
    """The DAG's maintenance task, after publish: compaction, purges and VACUUM past their thresholds."""
    from ingestion import maintenance

    try:
        with lease.held(run_id, "maintain", end_of_run=False), session() as spark:
            return [f"{a.table}: {a.action} ({a.reason}) {a.seconds} s" for a in maintenance.maintain(spark)]
    except lease.LeaseHeld as exc:
        _fail_now(exc)
        raise


def latest_outcomes(spark, run_id: str) -> dict[tuple[str, str], str]:
    """(stage, table) -> status of its latest attempt in this run: a task that failed once and then succeeded
    on retry counts as a success."""
    rows = spark.query(
        f"select stage, table_name, status, cast(coalesce(finished_at, started_at) as string) "
        f"from {status.table()} where run_id = {status.literal(run_id)}"
    )
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for stage, table, state, at in rows:
        if (stage, table) not in latest or (at or "") >= latest[(stage, table)][0]:
            latest[(stage, table)] = (at or "", state)
    return {k: v[1] for k, v in latest.items()}


def finalize_status(run_date: dt.date, run_id: str) -> dict[str, int]:
    """Mark every stage/table of this run that recorded nothing as `skipped`, publish the status table (its own
    publish row included), release the pipeline lease, and fail when the latest attempt of any stage failed (so
    the DAG run is marked failed although this all_done task ran)."""
    from serving import publish

    try:
        with session() as spark:
            status.ensure_table(spark)
            outcomes = latest_outcomes(spark, run_id)
            missing = [
                status.StatusRow(run_id, run_date, stage, table, status="skipped")
                for stage, table in expected_rows()
                if (stage, table) not in outcomes and (stage, table) != ("publish", STATUS_TABLE)
            ]
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            for row in missing:
                row.finished_at = now
                outcomes[(row.stage, row.table_name)] = "skipped"
            status.record(spark, missing)
        own = publish.publish_status(run_date, run_id=run_id)  # raises PublishError when it failed
        outcomes[("publish", STATUS_TABLE)] = own.status
    finally:
        lease.release(run_id)
    counts: dict[str, int] = {}
    for state in outcomes.values():
        counts[state] = counts.get(state, 0) + 1
    if counts.get("failed"):
        # this task is the DAG's only leaf: failing it is what marks the whole run failed in Airflow
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(f"run {run_id}: {counts['failed']} stage/table(s) failed; statuses {counts}")
    return counts
