"""imdb_pipeline: download → land → dbt (Cosmos, one task group per model with its tests) → publish → status.

The work lives in `ingestion.orchestration`; this file only builds the graph. Cosmos renders the dbt graph
from the manifest (`dbt parse` writes it; LoadMode.DBT_MANIFEST), so the file imports in about a second.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, LoadMode, TestBehavior

from ingestion import orchestration

REPO = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO / "dbt_imdb"
DBT_EXECUTABLE = str(REPO / ".venv" / "bin" / "dbt")

project_config = ProjectConfig(DBT_PROJECT, manifest_path=DBT_PROJECT / "target" / "manifest.json")
profile_config = ProfileConfig(
    profile_name="imdb", target_name=os.environ.get("DBT_TARGET", "local"), profiles_yml_filepath=REPO / "profiles.yml"
)
execution_config = ExecutionConfig(execution_mode=ExecutionMode.LOCAL, dbt_executable_path=DBT_EXECUTABLE)
render_config = RenderConfig(
    load_method=LoadMode.DBT_MANIFEST,
    select=["+actor_actress_kpis"],
    test_behavior=TestBehavior.AFTER_EACH,
    dbt_executable_path=DBT_EXECUTABLE,
)


def _run_date() -> dt.date:
    context = get_current_context()
    return orchestration.resolve_run_date(context["params"].get("run_date"), context.get("logical_date"))


@dag(
    dag_id="imdb_pipeline",
    description="IMDb daily snapshot → Delta landing → dbt star schema and KPIs → PostgreSQL → API",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # the KPI's change-feed bookkeeping assumes one run at a time
    default_args={
        "retries": int(os.environ.get("IMDB_TASK_RETRIES", "2")),
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    params={
        "run_date": Param(None, type=["null", "string"], description="YYYY-MM-DD; default: the logical date"),
        "base_url": Param(None, type=["null", "string"], description="default: IMDB_BASE_URL or IMDb"),
        "full_refresh": Param(False, type="boolean", description="rebuild every dbt model from landing"),
    },
    tags=["imdb"],
)
def imdb_pipeline():
    @task
    def download(**context) -> int:
        return orchestration.download(_run_date(), context["params"].get("base_url"), context["run_id"])

    @task
    def land(files: int, **context) -> list[dict]:
        return orchestration.land_cached(_run_date(), context["run_id"])

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        operator_args={
            "full_refresh": "{{ params.full_refresh }}",
            "install_deps": False,
            "pre_execute": orchestration.take_lease,  # one run at a time: fails naming the run that holds it
            "on_success_callback": orchestration.on_model_success,
            "on_failure_callback": orchestration.on_model_failure,
        },
    )

    @task
    def publish(**context) -> str:
        return orchestration.publish(_run_date(), context["run_id"])

    @task
    def maintain(**context) -> list[str]:
        return orchestration.maintain(context["run_id"])

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def record_status(**context) -> dict[str, int]:
        return orchestration.finalize_status(_run_date(), context["run_id"])

    landed = land(download())
    published = publish()
    landed >> dbt >> published >> maintain() >> record_status()


imdb_pipeline()
