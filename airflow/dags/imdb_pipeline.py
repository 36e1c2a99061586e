"""imdb_pipeline: download → land → dbt (Cosmos, one task per model: its build and tests) → publish → status.

The work lives in `pipeline.tasks`; this file only builds the graph. Cosmos renders the dbt graph
from the manifest (`dbt parse` writes it; LoadMode.DBT_MANIFEST), so the file imports in about a second.
dbt's paths come from the environment, as Cosmos' example DAGs take them (core.config: DBT_PROJECT_DIR,
DBT_PROFILES_DIR, DBT_EXECUTABLE_PATH; by default the clone's dbt_imdb/, profiles.yml and .venv/bin/dbt).
The tasks pass nothing to each other through XCom: each reads the run date and run id from its context and
logs what it did, so nothing is pushed that no task reads.
"""

from __future__ import annotations

import datetime as dt
import logging

from airflow.sdk import Param, TriggerRule, dag, get_current_context, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, LoadMode, TestBehavior, TestIndirectSelection
from cosmos.operators.local import DbtSourceLocalOperator

from core import config
from pipeline import tasks

log = logging.getLogger(__name__)
SETTINGS = config.settings()
DBT_PROJECT = SETTINGS.dbt_project_dir
DBT_EXECUTABLE = str(SETTINGS.dbt_executable_path)

project_config = ProjectConfig(DBT_PROJECT, manifest_path=DBT_PROJECT / "target" / "manifest.json")
profile_config = ProfileConfig(
    profile_name="imdb",
    target_name=SETTINGS.dbt_target,
    profiles_yml_filepath=SETTINGS.dbt_profiles_dir / "profiles.yml",
)
execution_config = ExecutionConfig(
    execution_mode=ExecutionMode.LOCAL,
    dbt_executable_path=DBT_EXECUTABLE,
    # A test of two models (relationships: a fact's key in a dimension) runs in the fact's task: the facts are
    # built after their dimensions (`-- depends_on` in their SQL), and `buildable` selects a test in a model's
    # build only when its other model is built before it (so not in the dimension's task, where on a first day
    # the fact would not exist yet). A task of its own per such test cost ~3.5 s each on a sample day.
    test_indirect_selection=TestIndirectSelection.BUILDABLE,
)
render_config = RenderConfig(
    load_method=LoadMode.DBT_MANIFEST,
    select=["+actor_actress_kpis"],
    # one task per model that runs it and then its tests (`dbt build --select <model>`): half the dbt processes
    # of a run task plus a test task, each of which paid dbt's start-up and a Thrift session (~10 s) again
    test_behavior=TestBehavior.BUILD,
    should_detach_multiple_parents_tests=False,
    dbt_executable_path=DBT_EXECUTABLE,
)


def _minutes(minutes: float) -> dt.timedelta:
    return dt.timedelta(minutes=minutes)


# Deadlines sized for the full IMDb (scale 1.0) on 2 cores with margin: a landing took ~30 min there, a dbt
# model up to ~10 min, publish under a minute. A task past its deadline fails, naming itself, instead of
# holding the run (and, with one active run, every later day) forever.
TIMEOUTS = {
    "download": _minutes(SETTINGS.download_timeout_minutes),  # 60: ~1.3 GB from datasets.imdbws.com
    "land": _minutes(SETTINGS.land_timeout_minutes),  # 120
    "maintain": _minutes(SETTINGS.maintain_timeout_minutes),  # 120: OPTIMIZE/VACUUM may rewrite a whole table
    "dbt": _minutes(SETTINGS.dbt_timeout_minutes),  # 45: each model's run and each model's tests
    "other": _minutes(SETTINGS.task_timeout_minutes),  # 30: publish, record_status, source_freshness
}


def _shown(task: str) -> str:
    return f"{TIMEOUTS[task].total_seconds() / 60:g} min"


# Shown on the DAG's page in the UI ("Dag Docs"); its renderer sets inline code as blocks, so plain text here.
DOC_MD = f"""
### imdb_pipeline: one day of IMDb, from the published files to the API

- **download**: title.basics, title.ratings, title.principals and name.basics (gzipped TSV) into
  DATA_DIR/cache/RUN_DATE/, once per run date. Deadline {_shown("download")}.
- **land**: one Delta MERGE per file into the landing tables; malformed lines go to landing.rejects.
  Deadline {_shown("land")}.
- **dbt**: one task per model, which builds it and then runs its tests (not retried: a failing test fails
  at once): the cleansed star schema and aggregated.actor_actress_kpis, incremental. Deadline
  {_shown("dbt")} per task.
- **source_freshness**: dbt source freshness on the landing tables (_loaded_at): warns in its log after
  2 days without a change, turns red after 7, and never stops the run. Deadline {_shown("other")}.
- **publish**: the KPIs into PostgreSQL, swapped in atomically. Deadline {_shown("other")}.
- **maintain**: compaction, purges and VACUUM of the Delta tables past their thresholds.
  Deadline {_shown("maintain")}.
- **record_status**: runs whatever happened upstream, marks what never ran as skipped, publishes the run's
  status table (once per run), fails the run when a stage failed. The API serves it at
  /etl_pipeline_status?date=YYYY-MM-DD.

**Params** (Trigger, with config): **run_date** (a date; empty = the run's logical date), **base_url** (empty =
IMDB_BASE_URL, else https://datasets.imdbws.com/), **full_refresh** (rebuild every dbt model).

**Schedule**: daily at 00:00 UTC, no catch-up, one run at a time. The DAG starts paused: switch the schedule on
with the toggle above or *make schedule-on*. A scheduled day downloads the real IMDb files (~1.3 GB) from
IMDB_BASE_URL (default https://datasets.imdbws.com/).

**Deadlines** (minutes, read when the DAG is parsed): IMDB_DOWNLOAD_TIMEOUT_MINUTES, IMDB_LAND_TIMEOUT_MINUTES,
IMDB_DBT_TIMEOUT_MINUTES, IMDB_MAINTAIN_TIMEOUT_MINUTES, and IMDB_TASK_TIMEOUT_MINUTES for the rest.
Logs: DATA_DIR/logs/airflow/.
"""


def _run_date() -> dt.date:
    context = get_current_context()
    return tasks.resolve_run_date(context["params"].get("run_date"), context.get("logical_date"))


def _warn_stale(context: dict) -> None:
    log.warning("landing tables unchanged for longer than expected: %s", context["test_names"])


@dag(
    dag_id="imdb_pipeline",
    description="IMDb daily snapshot → Delta landing → dbt star schema and KPIs → PostgreSQL → API",
    schedule="@daily",
    start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # the KPI's record of the upstream versions it processed assumes one run at a time
    doc_md=DOC_MD,
    default_args={
        "retries": SETTINGS.task_retries,
        "retry_delay": dt.timedelta(minutes=2),
        "retry_exponential_backoff": True,
        "execution_timeout": TIMEOUTS["other"],
    },
    params={
        # format "date": the trigger form shows a date picker, and anything but YYYY-MM-DD is refused
        "run_date": Param(
            None, type=["null", "string"], format="date", description="YYYY-MM-DD; default: the logical date"
        ),
        "base_url": Param(None, type=["null", "string"], description="default: IMDB_BASE_URL or IMDb"),
        "full_refresh": Param(False, type="boolean", description="rebuild every dbt model from landing"),
    },
    tags=["imdb"],
)
def imdb_pipeline():
    @task(execution_timeout=TIMEOUTS["download"])
    def download(**context) -> None:
        files = tasks.download(_run_date(), context["params"].get("base_url"), context["run_id"])
        log.info("%d files in the cache", files)

    @task(execution_timeout=TIMEOUTS["land"])
    def land(**context) -> None:
        for report in tasks.land_cached(_run_date(), context["run_id"]):
            log.info("landed %s", report)

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config,
        operator_args={
            "full_refresh": "{{ params.full_refresh }}",
            "install_deps": False,
            # dbt's unit tests check the models' SQL on fixed inputs, not the day's data: they run in `make test`,
            # CI and a developer's `dbt build`, and dbt advises leaving them out of production runs
            "dbt_cmd_flags": ["--exclude-resource-type", "unit_test"],
            "pre_execute": tasks.take_lease,  # one run at a time: fails naming the run that holds it
            "on_success_callback": tasks.on_model_success,
            "on_failure_callback": tasks.on_model_failure,
            "execution_timeout": TIMEOUTS["dbt"],
        },
    )
    # A failing dbt test fails the same way on a retry: fail now instead of minutes of retry delays (a model
    # and its tests are one task; after a transient error, clear the task in the UI).
    for dbt_task in dbt.iter_tasks():
        dbt_task.retries = 0

    # Warns (in its log) when a landing table has not changed for days; staleness never stops the run.
    source_freshness = DbtSourceLocalOperator(
        task_id="source_freshness",
        project_dir=DBT_PROJECT,
        profile_config=profile_config,
        dbt_executable_path=DBT_EXECUTABLE,
        install_deps=False,
        on_warning_callback=_warn_stale,
    )

    @task
    def publish(**context) -> None:
        log.info("%s", tasks.publish(_run_date(), context["run_id"]))

    @task(execution_timeout=TIMEOUTS["maintain"])
    def maintain(**context) -> None:
        for action in tasks.maintain(context["run_id"]):
            log.info("%s", action)

    @task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
    def record_status(**context) -> None:
        log.info("statuses of the run: %s", tasks.finalize_status(_run_date(), context["run_id"]))

    landed = download() >> land()
    published = publish()
    status = record_status()
    landed >> dbt >> published >> maintain() >> status
    landed >> source_freshness >> status


imdb_pipeline()
