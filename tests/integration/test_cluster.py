"""Cluster mode (SPEC: Scaling out): a Spark standalone master and worker started on loopback, the Thrift
server submitted to them (SPARK_MASTER=spark://127.0.0.1:7077), and the loader and dbt running through it.

The cluster's Thrift server has a DATA_DIR (metastore, warehouse, logs) of its own and a free port, so it
runs beside the suite's local-mode server; the Delta jars come from the same Ivy cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import fetch_kpis, free_port, run_dbt, service
from kpi_reference import assert_same_kpis, expected_kpis

from core import config
from core.config import REPO_ROOT
from core.thrift import session

pytestmark = pytest.mark.integration

MASTER = "spark://127.0.0.1:7077"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, thrift_server: None) -> Iterator[dict[str, str]]:
    """Master + worker + a Thrift server submitted to them; yields the environment that points at them."""
    data_dir = tmp_path_factory.mktemp("cluster-data")
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "IVY_DIR": str(config.settings().data_dir / "ivy"),  # resolved by the suite's own server
        "SPARK_MASTER": MASTER,
        "SPARK_MASTER_WEBUI_PORT": str(free_port()),
        "SPARK_WORKER_WEBUI_PORT": str(free_port()),
        "SPARK_WORKER_CORES": "2",
        "SPARK_WORKER_MEMORY": "2g",
        "SPARK_EXECUTOR_MEMORY": "1500m",
        "SPARK_SUBMIT_OPTS_EXTRA": "--conf spark.driver.memory=1g",
        "THRIFT_PORT": str(free_port()),
        "IMDB_SCHEMA_PREFIX": "cluster_",
    }
    try:
        for script in ("spark-cluster.sh", "thrift.sh"):
            result = service(script, "start", env)
            if result.returncode != 0:
                logs = data_dir / "logs"
                tails = {p.name: p.read_text()[-3000:] for p in logs.glob("*.log")} if logs.is_dir() else {}
                pytest.fail(f"services/{script} start failed:\n{result.stderr}\n{tails}")
        yield env
    finally:
        service("thrift.sh", "stop", env)
        service("spark-cluster.sh", "stop", env)


def master_state(env: dict[str, str]) -> dict:
    url = f"http://127.0.0.1:{env['SPARK_MASTER_WEBUI_PORT']}/json/"
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_loader_and_dbt_run_on_a_standalone_cluster(cluster, gz_samples, monkeypatch):
    for key in ("DATA_DIR", "IVY_DIR", "SPARK_MASTER", "THRIFT_PORT", "IMDB_SCHEMA_PREFIX"):
        monkeypatch.setenv(key, cluster[key])

    # the Thrift server is a driver of the standalone cluster, its executors on the worker
    state = master_state(cluster)
    assert [w["state"] for w in state["workers"]] == ["ALIVE"]
    apps = [a for a in state["activeapps"] if a["name"] == "imdb-spark-thrift"]
    assert apps and apps[0]["cores"] > 0, state["activeapps"]
    with session() as spark:
        assert spark.query("set spark.master")[0][1] == MASTER

    # the loader, as a user runs it, then dbt's build through the same server
    land = subprocess.run(
        [sys.executable, "-m", "ingestion", "land", "--run-date", "2024-01-01", "--from", str(gz_samples)],
        cwd=REPO_ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
    )
    assert land.returncode == 0, land.stdout + land.stderr
    run_dbt("build", "--select", "+actor_actress_kpis")

    with session() as spark:
        assert_same_kpis(fetch_kpis(spark, "cluster_"), expected_kpis(gz_samples))
        tables = {r[1] for r in spark.query("show tables in cluster_cleansed")}
        assert {"dim_title", "dim_person", "fct_title_principal", "fct_title_rating"} <= tables

    # the tasks ran in the worker's executor, not in the driver
    app_id = apps[0]["id"]
    executor_logs = list((Path(cluster["DATA_DIR"]) / "spark-worker" / app_id).glob("*/stderr"))
    assert executor_logs, f"no executor of {app_id} on the worker"
    assert any("Finished task" in p.read_text(errors="replace") for p in executor_logs)
