"""The imdb_pipeline DAG through real Airflow 3 + Cosmos: its shape, a whole daily run, a failing run, the UI."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import REPO_ROOT, chromium_session, free_port
from kpi_reference import expected_kpis

pytestmark = pytest.mark.integration

MODELS = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating", "actor_actress_kpis")
SAMPLE_DAY1 = REPO_ROOT / "sample_data" / "day1"


def airflow_env(**extra: str) -> dict[str, str]:
    """The environment services/airflow-env.sh builds, plus `extra`."""
    script = f". {REPO_ROOT}/services/common.sh && . {REPO_ROOT}/services/airflow-env.sh && env -0"
    out = subprocess.run(["bash", "-c", script], capture_output=True, check=True, env={**os.environ, **extra}).stdout
    env = dict(item.split("=", 1) for item in out.decode().split("\0") if "=" in item)
    return {**env, **extra}


def test_dag_imports_fast_with_one_task_per_model(postgres_server):
    code = """
import json, time
t0 = time.monotonic()
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
except ImportError:
    from airflow.models.dagbag import DagBag
bag = DagBag(include_examples=False)
dag = bag.get_dag("imdb_pipeline")
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "seconds": time.monotonic() - t0,
  "tasks": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
  "schedule": str(dag.schedule), "catchup": dag.catchup}))
"""
    env = airflow_env(IMDB_TASK_RETRIES="2")
    prepared = subprocess.run(
        [str(REPO_ROOT / "services/airflow.sh"), "prepare"], env=env, capture_output=True, text=True
    )
    assert prepared.returncode == 0, prepared.stderr  # metadata DB migrated, dbt manifest parsed
    result = subprocess.run([str(REPO_ROOT / ".venv/bin/python"), "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["errors"] == {}
    assert info["schedule"] == "@daily" and info["catchup"] is False
    tasks = info["tasks"]
    builds = {f"dbt.{m}_model_build" for m in MODELS}
    # exactly one task per model, tests of two models (relationships) included in the fact's task
    assert {t for t in tasks if t.startswith("dbt.")} == builds, sorted(tasks)
    # the dbt graph: each model's task builds it and runs its tests; the facts after their dimensions (so their
    # relationships tests can run in their task on a first day), the KPI model after every cleansed one
    assert set(tasks["dbt.actor_actress_kpis_model_build"]) == {f"dbt.{m}_model_build" for m in MODELS[:-1]}
    dims = ["dbt.dim_title_model_build", "dbt.dim_person_model_build"]
    assert tasks["dbt.dim_title_model_build"] == tasks["dbt.dim_person_model_build"] == ["land"]
    assert set(tasks["dbt.fct_title_principal_model_build"]) == set(dims)
    assert tasks["dbt.fct_title_rating_model_build"] == ["dbt.dim_title_model_build"]
    assert tasks["land"] == ["download"]
    assert tasks["publish"] == ["dbt.actor_actress_kpis_model_build"]
    assert tasks["maintain"] == ["publish"]
    assert tasks["source_freshness"] == ["land"]
    assert tasks["record_status"] == ["maintain", "source_freshness"]
    print(f"DagBag import of imdb_pipeline: {info['seconds']:.1f} s")


DAG_DETAILS = """
import json
try:
    from airflow.dag_processing.dagbag import DagBag  # Airflow >= 3.2
except ImportError:
    from airflow.models.dagbag import DagBag
dag = DagBag(include_examples=False).get_dag("imdb_pipeline")
print(json.dumps({"doc_md": dag.doc_md, "run_date": dag.params.get_param("run_date").schema,
  "timeouts": {t.task_id: t.execution_timeout and t.execution_timeout.total_seconds() for t in dag.tasks},
  "retries": {t.task_id: t.retries for t in dag.tasks}}))
"""


def dag_details(**extra: str) -> dict:
    env = airflow_env(IMDB_TASK_RETRIES="2", **extra)
    result = subprocess.run([str(REPO_ROOT / ".venv/bin/python"), "-c", DAG_DETAILS], env=env, capture_output=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.decode().strip().splitlines()[-1])


def test_dag_documents_itself_takes_a_date_and_puts_a_deadline_on_every_task(postgres_server):
    info = dag_details()
    assert "make schedule-on" in info["doc_md"] and "https://datasets.imdbws.com/" in info["doc_md"]
    assert info["run_date"]["format"] == "date"  # a date picker in the trigger form, YYYY-MM-DD enforced
    timeouts = info["timeouts"]
    assert all(seconds for seconds in timeouts.values()), timeouts
    # sized for the full IMDb: a landing took ~30 min there, a dbt model up to ~10 min
    assert timeouts["land"] >= 60 * 60 and timeouts["maintain"] >= 60 * 60 and timeouts["download"] >= 30 * 60
    assert min(s for t, s in timeouts.items() if t.startswith("dbt.")) >= 20 * 60
    # a failing dbt test fails again on a retry: no retries there, the other tasks keep theirs
    retries = info["retries"]
    assert {r for t, r in retries.items() if t.startswith("dbt.")} == {0}
    assert retries["land"] == 2

    overridden = dag_details(IMDB_LAND_TIMEOUT_MINUTES="7", IMDB_DBT_TIMEOUT_MINUTES="3")["timeouts"]
    assert overridden["land"] == 7 * 60 and overridden["dbt.actor_actress_kpis_model_build"] == 3 * 60


def run_pipeline(run_date: str, base_url: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO_ROOT / "services/airflow.sh"), "pipeline", run_date, base_url],
        env={**os.environ, **env, "IMDB_TASK_RETRIES": "0"},
        capture_output=True,
        text=True,
    )


def api_get(reader_url: str, path: str):
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.settings import Settings

    with TestClient(create_app(Settings(database_url=reader_url))) as client:
        return client.get(path)


def test_a_daily_run_through_airflow_lands_builds_publishes_and_reports(schema_prefix, pg_database, thrift_server):
    writer_url, reader_url = pg_database
    env = {"IMDB_SCHEMA_PREFIX": schema_prefix, "DATABASE_URL": writer_url}
    result = run_pipeline("2031-01-15", SAMPLE_DAY1.as_uri() + "/", env)
    assert result.returncode == 0, result.stderr[-4000:]
    # each task printed as it finished (task, state, seconds), then a summary table
    finished = re.findall(r"^  (\S+)\s+(\w+)\s+(\d+\.\d) s$", result.stdout, re.M)
    assert {task for task, state, _ in finished if state == "success"} >= {
        "download", "land", "source_freshness", "publish", "record_status", *(f"dbt.{m}_model_build" for m in MODELS)
    }  # fmt: skip
    assert result.stdout.index("record_status") < result.stdout.index("imdb_pipeline run")
    assert re.search(r"│ dbt\.actor_actress_kpis_model_build\s+│ success", result.stdout)

    response = api_get(reader_url, "/etl_pipeline_status?date=2031-01-15")
    assert response.status_code == 200
    rows = response.json()
    by_stage: dict[str, set[str]] = {}
    for row in rows:
        by_stage.setdefault(row["stage"], set()).add(row["status"])
    assert set(by_stage) == {"download", "landing", "cleansed", "aggregated", "publish"}
    assert all(statuses == {"success"} for statuses in by_stage.values()), by_stage
    assert {r["table_name"] for r in rows if r["stage"] == "cleansed"} == {f"cleansed.{m}" for m in MODELS[:-1]}
    # the status rows take one path per run: publish swaps in the KPIs, the last task the status table, each
    # once (every swap bumps the serving generation of this fresh database)
    import sqlalchemy as sa

    engine = sa.create_engine(writer_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select generation from publish_generation")).scalar_one() == 2
    engine.dispose()

    top = api_get(reader_url, "/top_actor_actress?role=both&limit=1000").json()
    expected = expected_kpis(SAMPLE_DAY1)
    assert len(top) == min(1000, len(expected))
    best = max(expected.items(), key=lambda kv: (kv[1]["avg_rating"], kv[1]["total_votes"]))
    assert top[0]["avg_rating"] == pytest.approx(best[1]["avg_rating"])


def test_a_run_whose_landing_fails_records_failed_and_skipped(schema_prefix, pg_database, thrift_server, tmp_path):
    writer_url, reader_url = pg_database
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE_DAY1, bad)
    with gzip.open(SAMPLE_DAY1 / "title.ratings.tsv.gz", "rt") as f:
        lines = f.read().splitlines()
    lines[2:40] = [line.replace("\t", "\tnot-a-number\t", 1) for line in lines[2:40]]  # 38 bad lines: 2%
    with gzip.open(bad / "title.ratings.tsv.gz", "wt") as f:
        f.write("\n".join(lines) + "\n")

    env = {"IMDB_SCHEMA_PREFIX": schema_prefix, "DATABASE_URL": writer_url}
    result = run_pipeline("2031-02-15", bad.as_uri() + "/", env)
    assert result.returncode != 0
    assert "FAILED" in result.stderr
    # the failing task named with its error, its last log lines and the file they come from
    assert re.search(r"^--- land failed: .*AirflowFailException: .*malformed", result.stderr, re.M)
    log_file = Path(re.search(r"^--- last \d+ lines of (.+/task_id=land/attempt=1\.log):$", result.stderr, re.M)[1])
    assert "malformed" in log_file.read_text()
    assert re.search(r"^  land\s+FAILED\s+\d+\.\d s$", result.stdout, re.M)

    rows = api_get(reader_url, "/etl_pipeline_status?date=2031-02-15").json()
    status = {(r["stage"], r["table_name"]): r["status"] for r in rows}
    assert status[("landing", "landing.title_ratings")] == "failed"
    assert "malformed" in next(r["error"] for r in rows if r["table_name"] == "landing.title_ratings")
    for model in MODELS[:-1]:
        assert status[("cleansed", f"cleansed.{model}")] == "skipped"
    assert status[("aggregated", "aggregated.actor_actress_kpis")] == "skipped"
    assert status[("publish", "actor_actress_kpis")] == "skipped"


def test_ui_answers_and_the_rest_api_lists_the_dag_tasks(postgres_server, artifacts_dir):
    port = free_port()
    # a UI of our own on a free port; all-admins so headless Chromium can open the graph without a login form
    env = airflow_env(AIRFLOW_PORT=str(port), AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS="True")
    subprocess.run([str(REPO_ROOT / "services/airflow.sh"), "prepare"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [str(REPO_ROOT / ".venv/bin/airflow"), "api-server"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        password = subprocess.run(
            [str(REPO_ROOT / "services/airflow.sh"), "password"], env=env, capture_output=True, text=True
        ).stdout.strip()
        login = urllib.request.Request(
            f"{base}/auth/token",
            data=json.dumps({"username": "admin", "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login, timeout=30) as response:
            token = json.load(response)["access_token"]
        listing = urllib.request.Request(
            f"{base}/api/v2/dags/imdb_pipeline/tasks", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(listing, timeout=30) as response:
            tasks = {t["task_id"] for t in json.load(response)["tasks"]}
        assert {"download", "land", "publish", "record_status"} <= tasks
        assert {f"dbt.{m}_model_build" for m in MODELS} <= tasks

        shot = artifacts_dir / "airflow-imdb_pipeline-graph.png"
        (page,) = chromium_session(
            [
                ("goto", f"{base}/auth/token/login"),  # all-admins login: sets the session cookie
                ("goto", f"{base}/dags/imdb_pipeline"),
                ("click_text", "graph"),  # the graph view …
                ("click_text", "expand"),  # … with every task group expanded
                ("click_css", ".react-flow__controls-fitview"),
                ("text", None),
            ],
            screenshot=shot,
        )
        for name in ("imdb_pipeline", "download", "land", "publish", "record_status", *MODELS):
            assert name in page, name
        assert shot.is_file() and shot.stat().st_size > 10_000

        # the DAG's documentation (doc_md), opened from its page
        docs_shot = artifacts_dir / "airflow-imdb_pipeline-docs.png"
        (docs,) = chromium_session(
            [
                ("goto", f"{base}/auth/token/login"),
                ("goto", f"{base}/dags/imdb_pipeline"),
                ("click_css", "[data-testid=markdown-button]"),
                ("text", None),
            ],
            screenshot=docs_shot,
        )
        assert "make schedule-on" in docs and "source_freshness" in docs and "Deadline" in docs, docs[-2000:]
        assert docs_shot.is_file() and docs_shot.stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=60)
