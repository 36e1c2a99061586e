"""Seeded random days through landing and dbt: after every day the incremental KPI equals an independent Python
computation and a `--full-refresh` build, and every cleansed table equals its full refresh.

Each seed draws a small IMDb-like universe and then days that mix every change kind the pipeline must follow:
inserts, updates, soft deletes, revivals, moved credits, category and type flips, removed ratings and names,
and malformed lines below the reject limit (landing keeps the key's previous row). `IMDB_RANDOM_SEEDS=1,2,3`
runs more seeds; `IMDB_RANDOM_DAYS` sets the days per seed. CI runs one seed over two days (a first build, then
the affected-people path); from the third day on, every other day recomputes everyone (that path is also under
test in test_dbt_guarantees.py).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid

import pytest
from conftest import fetch_kpis, run_dbt
from kpi_reference import assert_same_kpis, expected_kpis
from random_imdb import Universe

from core.thrift import session
from ingestion import land
from ingestion.datasets import DATASETS

pytestmark = pytest.mark.integration

SEEDS = [int(s) for s in os.environ.get("IMDB_RANDOM_SEEDS", "20261128").split(",") if s.strip()]
DAYS = int(os.environ.get("IMDB_RANDOM_DAYS", "2"))
CLEANSED = ("dim_title", "dim_person", "fct_title_principal", "fct_title_rating")


def cleansed_rows(spark, prefix: str, model: str) -> list[tuple]:
    cols = [r[0] for r in spark.query(f"describe {prefix}cleansed.{model}") if r[0] and not r[0].startswith("#")]
    return sorted(spark.query(f"select {', '.join(cols)} from {prefix}cleansed.{model}"), key=repr)


def without_timestamps(rows: dict) -> dict:
    return {k: {c: v for c, v in row.items() if c != "updated_at"} for k, row in rows.items()}


@pytest.mark.parametrize("seed", SEEDS)
def test_random_days_stay_equal_to_a_full_refresh_and_to_python(seed, thrift_server, tmp_path, monkeypatch):
    rng = random.Random(seed)
    universe = Universe(rng)
    incremental, full = f"r{uuid.uuid4().hex[:8]}_", f"f{uuid.uuid4().hex[:8]}_"
    previous: dict = {}
    try:
        with session() as spark:
            for day in range(DAYS):
                run_date = dt.date(2026, 3, 1) + dt.timedelta(days=day)
                malformed = universe.change() if day else {}
                files, effective = tmp_path / f"day{day}", tmp_path / f"effective{day}"
                bad_lines = universe.write(files, effective, malformed)
                context = f"seed {seed}, day {day + 1}"

                monkeypatch.setenv("IMDB_SCHEMA_PREFIX", incremental)
                reports = land.land(
                    spark, {d: files / d.file_name for d in DATASETS.values()}, run_date, reject_share=0.05
                )
                assert sum(r.rejected for r in reports) == bad_lines, context
                if day:
                    assert {r.method for r in reports} == {land.RAW_DIFF}, context
                # every other day the KPI recomputes everyone, so both of its paths are drawn
                share = ["--vars", "{kpi_max_affected_share: 0}"] if day % 2 == 0 else []
                logged = run_dbt(
                    "build", "--select", "+actor_actress_kpis", "--exclude-resource-type", "unit_test", *share
                )
                path = "recomputing everyone: " if day % 2 == 0 else "affected people of"
                assert path in logged.stdout, (context, logged.stdout[-3000:])
                built = fetch_kpis(spark, incremental)
                assert_same_kpis(built, expected_kpis(effective))
                if day:  # a row whose values did not change keeps its updated_at; a changed one gets a new one
                    for key in built.keys() & previous.keys():
                        same = without_timestamps({key: built[key]}) == without_timestamps({key: previous[key]})
                        assert same == (built[key]["updated_at"] == previous[key]["updated_at"]), (context, key)
                previous = built
                if not day:
                    continue  # a first build is a full build

                # the same landing, built from scratch in schemas of its own
                spark.execute(f"create schema if not exists {full}landing")
                for d in DATASETS.values():
                    table = land.landing_table(d).split(".")[-1]
                    spark.execute(
                        f"create or replace table {full}landing.{table} using delta as "
                        f"select * from {incremental}landing.{table}"
                    )
                monkeypatch.setenv("IMDB_SCHEMA_PREFIX", full)
                run_dbt("run", "--select", "+actor_actress_kpis", "--full-refresh")
                assert without_timestamps(fetch_kpis(spark, full)) == without_timestamps(built), context
                for model in CLEANSED:
                    assert cleansed_rows(spark, incremental, model) == cleansed_rows(spark, full, model), (
                        context,
                        model,
                    )
            # a build of the KPI with nothing new changes no row
            monkeypatch.setenv("IMDB_SCHEMA_PREFIX", incremental)
            run_dbt("run", "--select", "actor_actress_kpis")
            assert fetch_kpis(spark, incremental) == previous
    finally:
        with session() as spark:
            for prefix in (incremental, full):
                for (name,) in spark.query(f"show schemas like '{prefix}*'"):
                    spark.execute(f"drop schema if exists {name} cascade")
