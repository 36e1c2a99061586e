"""dbt_imdb on the real Thrift server: the KPI against an independent computation, incremental runs against a
full refresh, and a build with nothing new changing nothing."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
from conftest import fetch_kpis, run_dbt
from kpi_reference import assert_same_kpis, expected_kpis

from ingestion import land, synth
from ingestion.datasets import DATASETS
from ingestion.thrift import session

pytestmark = pytest.mark.integration

CLEANSED = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating")


def land_dir(spark, directory: Path, run_date: dt.date) -> None:
    land.land(spark, {d: directory / d.file_name for d in DATASETS.values()}, run_date)


def without_timestamps(rows: dict) -> dict:
    return {k: {c: v for c, v in row.items() if c != "updated_at"} for k, row in rows.items()}


def cleansed_rows(spark, prefix: str, model: str) -> list[tuple]:
    cols = [r[0] for r in spark.query(f"describe {prefix}cleansed.{model}") if r[0] and not r[0].startswith("#")]
    return sorted(spark.query(f"select {', '.join(cols)} from {prefix}cleansed.{model}"), key=repr)


def test_kpi_equals_an_independent_computation_on_the_real_excerpts(spark, schema_prefix, gz_samples):
    land_dir(spark, gz_samples, dt.date(2024, 1, 1))
    run_dbt("build", "--select", "+actor_actress_kpis")
    expected = expected_kpis(gz_samples)
    assert expected, "the excerpts hold rated movies with actors"
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected)


@pytest.fixture(scope="module")
def three_days(tmp_path_factory, thrift_server):
    """Three synthetic days (inserts, updates, removals, a type change, a renamed person, a moved credit),
    each landed and built incrementally in the module's own schemas. Day 2 takes the affected-people path;
    day 3 has more affected people than a zero kpi_max_affected_share allows, so it recomputes everyone."""
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    saved = os.environ.get("IMDB_SCHEMA_PREFIX")
    os.environ["IMDB_SCHEMA_PREFIX"] = prefix
    root = tmp_path_factory.mktemp("synth")
    days = [root / "day1", root / "day2", root / "day3"]
    synth.generate(days[0], scale=0.0005, seed=7)
    synth.next_day(days[0], days[1], change_rate=0.05, seed=8)
    synth.next_day(days[1], days[2], change_rate=0.05, seed=9)
    builds = []
    try:
        with session() as spark:
            for i, day in enumerate(days):
                land_dir(spark, day, dt.date(2026, 1, 15) + dt.timedelta(days=i))
                limit = ["--vars", "{kpi_max_affected_share: 0}"] if i == 2 else []
                logged = run_dbt("build", "--select", "+actor_actress_kpis", *limit).stdout
                path = ["recomputing everyone: a full build", "affected people of", "recomputing everyone: "][i]
                assert path in logged, logged[-3000:]
                builds.append(fetch_kpis(spark, prefix))
        yield prefix, days, builds
    finally:
        with session() as spark:
            for (name,) in spark.query(f"show schemas like '{prefix}*'"):
                spark.execute(f"drop schema if exists {name} cascade")
        if saved is None:
            os.environ.pop("IMDB_SCHEMA_PREFIX", None)
        else:
            os.environ["IMDB_SCHEMA_PREFIX"] = saved


def test_every_incremental_day_equals_an_independent_computation(three_days):
    _prefix, days, builds = three_days
    for day, built in zip(days, builds, strict=True):
        assert_same_kpis(built, expected_kpis(day))


@pytest.mark.parametrize("day", [1, 2], ids=["affected-people", "recompute-everyone"])
def test_incremental_days_changed_only_the_affected_rows(three_days, day):
    _prefix, _days, builds = three_days
    before, after = builds[day - 1], builds[day]
    unchanged = [k for k in after.keys() & before.keys() if after[k] == before[k]]
    touched = [k for k in after if k not in before or after[k]["updated_at"] != before[k]["updated_at"]]
    assert unchanged and touched
    assert len(touched) < len(after) / 2  # 5% change: most rows keep their updated_at
    # a row whose values did not change keeps its updated_at
    for k in touched:
        if k in before:
            assert without_timestamps({k: after[k]}) != without_timestamps({k: before[k]})


def test_a_build_with_nothing_new_changes_no_row(three_days, spark):
    prefix, _days, builds = three_days
    run_dbt("build", "--select", "+actor_actress_kpis")
    assert fetch_kpis(spark, prefix) == builds[-1]  # updated_at included


def test_incremental_equals_a_full_refresh(three_days, spark):
    prefix, _days, builds = three_days
    before = {m: cleansed_rows(spark, prefix, m) for m in CLEANSED}
    run_dbt("run", "--select", "+actor_actress_kpis", "--full-refresh")
    assert without_timestamps(fetch_kpis(spark, prefix)) == without_timestamps(builds[-1])
    for model in CLEANSED:
        assert cleansed_rows(spark, prefix, model) == before[model], model
    # and the next incremental run after a full refresh still works from the rebuilt tables
    run_dbt("run", "--select", "actor_actress_kpis")
    assert without_timestamps(fetch_kpis(spark, prefix)) == without_timestamps(builds[-1])


def test_docs_site_shows_the_kpi_model_and_its_lineage(three_days, artifacts_dir):
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
