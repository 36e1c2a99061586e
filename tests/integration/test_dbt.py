"""dbt_imdb on the real Thrift server: the KPI on the real IMDb excerpts against an independent computation,
and the docs site."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from conftest import fetch_kpis, run_dbt
from kpi_reference import assert_same_kpis, expected_kpis

from core.thrift import session
from ingestion import land
from ingestion.datasets import DATASETS

pytestmark = pytest.mark.integration

CLEANSED = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating")


def land_dir(spark, directory: Path, run_date: dt.date) -> None:
    land.land(spark, {d: directory / d.file_name for d in DATASETS.values()}, run_date)


@pytest.fixture(scope="module")
def excerpts_built(tmp_path_factory, thrift_server):
    """The real IMDb excerpts landed and built (unit tests included) in the module's own schemas."""
    import gzip
    import shutil

    from conftest import SAMPLES

    prefix = f"t{uuid.uuid4().hex[:8]}_"
    saved = os.environ.get("IMDB_SCHEMA_PREFIX")
    os.environ["IMDB_SCHEMA_PREFIX"] = prefix
    files = tmp_path_factory.mktemp("heads-2024")
    for tsv in sorted((SAMPLES / "heads-2024").glob("*.tsv")):
        with tsv.open("rb") as src, gzip.open(files / f"{tsv.name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    try:
        with session() as spark:
            land_dir(spark, files, dt.date(2024, 1, 1))
            run_dbt("build", "--select", "+actor_actress_kpis")
        yield prefix, files
    finally:
        with session() as spark:
            for (name,) in spark.query(f"show schemas like '{prefix}*'"):
                spark.execute(f"drop schema if exists {name} cascade")
        if saved is None:
            os.environ.pop("IMDB_SCHEMA_PREFIX", None)
        else:
            os.environ["IMDB_SCHEMA_PREFIX"] = saved


def test_kpi_equals_an_independent_computation_on_the_real_excerpts(excerpts_built, spark):
    prefix, files = excerpts_built
    expected = expected_kpis(files)
    assert expected, "the excerpts hold rated movies with actors"
    assert_same_kpis(fetch_kpis(spark, prefix), expected)


# Incremental days against a full refresh and an independent computation: tests/integration/test_random_days.py;
# after failures and operators' actions: tests/integration/test_dbt_guarantees.py.


def test_docs_site_shows_the_kpi_model_and_its_lineage(excerpts_built, artifacts_dir):
    import subprocess
    import time
    import urllib.request

    from conftest import REPO_ROOT, chromium, free_port

    run_dbt("docs", "generate")
    port = free_port()
    server = subprocess.Popen(
        [
            str(REPO_ROOT / ".venv/bin/dbt"),
            "docs",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-browser",
        ],
        cwd=REPO_ROOT / "dbt_imdb",
        env={**os.environ, "DBT_PROFILES_DIR": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(60):  # dbt takes a few seconds to start serving
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        url = f"http://127.0.0.1:{port}/#!/model/model.dbt_imdb.actor_actress_kpis"
        shot = artifacts_dir / "dbt-docs-actor_actress_kpis.png"
        dom = chromium(url, screenshot=shot)
        assert "actor_actress_kpis" in dom
        assert "Rating KPIs of every actor and actress" in dom  # the model's description
        for parent in CLEANSED:  # lineage: what it depends on
            assert parent in dom, parent
        assert "imdb_api" in dom  # and the exposure that depends on it
        assert shot.is_file() and shot.stat().st_size > 10_000
    finally:
        server.terminate()
        server.wait(timeout=30)
