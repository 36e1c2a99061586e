"""The Airflow tasks' work, importable and testable without Airflow: what the `imdb_pipeline` DAG calls.

Every stage writes its own status rows (download, landing and publish in their modules, dbt models through
the Cosmos callbacks below); the DAG's last task, which runs whatever happened upstream, adds a `skipped`
row for every stage/table that never ran, then publishes the status table so the API sees the whole run.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ingestion import config, land, status
from ingestion.datasets import DATASETS
from ingestion.thrift import session

log = logging.getLogger(__name__)

CLEANSED_MODELS = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating")
AGGREGATED_MODELS = ("actor_actress_kpis",)
PUBLISHED_TABLES = ("actor_actress_kpis", "etl_pipeline_status")


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


def download(run_date: dt.date, base_url: str | None, run_id: str) -> list[str]:
    from ingestion import pipeline

    files = pipeline.download(run_date, base_url or None, run_id=run_id)
    return [str(p) for p in files.values()]


def land_cached(run_date: dt.date, run_id: str) -> list[dict[str, Any]]:
    """Land the run date's cached files; a malformed snapshot fails without retries (retrying can't fix it)."""
    cache = config.settings().cache_dir / run_date.isoformat()
    files = {d: cache / d.file_name for d in DATASETS.values()}
    try:
        with session() as spark:
            reports = land.land(spark, files, run_date, run_id=run_id)
    except land.LandingError as exc:
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc
    return [r.__dict__ for r in reports]


def _model_row(context: dict[str, Any], state: str) -> None:
    """Cosmos callback: one status row per dbt model (its run and tests), success or failed."""
    ti = context["ti"]
    parts = ti.task_id.split(".")  # dbt.<model>.run / dbt.<model>.test (TestBehavior.AFTER_EACH)
    model = parts[-2] if len(parts) >= 2 else parts[-1]
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


def on_model_success(context: dict[str, Any]) -> None:
    if context["ti"].task_id.endswith(".test"):  # the model is done once its tests passed
        _model_row(context, "success")


def on_model_failure(context: dict[str, Any]) -> None:
    _model_row(context, "failed")


def finalize_status(run_date: dt.date, run_id: str) -> dict[str, int]:
    """Mark every stage/table of this run that recorded nothing as `skipped`, publish the status table, and
    fail when any stage failed (so the DAG run is marked failed although this all_done task ran)."""
    from ingestion import publish

    with session() as spark:
        status.ensure_table(spark)
        seen = {
            (stage, table)
            for stage, table in spark.query(
                f"select stage, table_name from {status.table()} where run_id = '{run_id}'"  # run ids are ours
            )
        }
        missing = [
            status.StatusRow(run_id, run_date, stage, table, status="skipped")
            for stage, table in expected_rows()
            if (stage, table) not in seen
        ]
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for row in missing:
            row.finished_at = now
        status.record(spark, missing)
        counts = dict(
            spark.query(f"select status, count(*) from {status.table()} where run_id = '{run_id}' group by status")
        )
    publish.publish_status(run_date, run_id=run_id)
    counts = {k: int(v) for k, v in counts.items()}
    if counts.get("failed"):
        # this task is the DAG's only leaf: failing it is what marks the whole run failed in Airflow
        from airflow.exceptions import AirflowFailException

        raise AirflowFailException(f"run {run_id}: {counts['failed']} stage/table(s) failed; statuses {counts}")
    return counts
