"""What dbt_imdb guarantees after a failure or an operator's action: a failing test keeps failing until the
data is fixed (every landing tested, a full refresh tests everything), the KPI stores exactly the versions it
read, a rebuilt, restored or vacuumed upstream table makes it recompute everyone, and a next-day build reads
only the landing files of new loads."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import pytest
from conftest import REPO_ROOT, fetch_kpis, run_dbt
from kpi_reference import assert_same_kpis, expected_kpis
from random_imdb import Universe

from core import spark_ui
from ingestion import land
from ingestion.datasets import DATASETS

pytestmark = pytest.mark.integration

BUILD = ("build", "--select", "+actor_actress_kpis", "--exclude-resource-type", "unit_test")


class Days:
    """A Universe landed day by day into the test's schemas."""

    def __init__(self, spark, tmp_path, seed: int = 5) -> None:
        self.spark, self.tmp, self.universe, self.day = spark, tmp_path, Universe(random.Random(seed)), 0

    def land(self, malformed: dict | None = None):
        self.day += 1
        files, self.effective = self.tmp / f"day{self.day}", self.tmp / f"effective{self.day}"
        self.universe.write(files, self.effective, malformed or {})
        run_date = dt.date(2026, 2, 1) + dt.timedelta(days=self.day)
        return land.land(self.spark, {d: files / d.file_name for d in DATASETS.values()}, run_date)

    def a_rated_movie_with_actors(self) -> str:
        u = self.universe
        for tconst, fields in sorted(u.titles.items()):
            cast = [c for k, c in u.credits.items() if k[0] == tconst and c[3] in ("actor", "actress")]
            if fields[1] == "movie" and tconst in u.ratings and cast:
                return tconst
        raise AssertionError("the universe holds a rated movie with actors")


def test_a_failing_test_keeps_failing_until_the_data_is_fixed(spark, schema_prefix, tmp_path):
    days = Days(spark, tmp_path)
    days.land()
    run_dbt(*BUILD)
    kpis_before = fetch_kpis(spark, schema_prefix)

    # day 2: a title loses its type (a landing accepts it: only keys are required of title.basics);
    # day 3, landed before any build: an unrelated rename. One build then tests both landings.
    u = days.universe
    bad = days.a_rated_movie_with_actors()
    u.titles[bad][1] = r"\N"
    days.land()
    other = next(t for t in sorted(u.titles) if t != bad)
    u.titles[other][2] = "An unrelated rename"
    days.land()
    failed = run_dbt(*BUILD, check=False)
    assert failed.returncode != 0 and "not_null_columns_dim_title" in failed.stdout, failed.stdout[-3000:]
    # the failing row is kept for a look, and the KPI was not built from it
    audit = spark.query(f"show tables in {schema_prefix}audit")
    stored = next(r[1] for r in audit if r[1].startswith("not_null_columns_dim_title"))
    assert spark.query(f"select tconst from {schema_prefix}audit.{stored}") == [(bad,)]
    assert fetch_kpis(spark, schema_prefix) == kpis_before

    # the failed build moved no watermark: the model's next build fails the same way
    assert run_dbt("build", "--select", "dim_title", check=False).returncode != 0

    # day 4: IMDb fixes the title: the build passes and the KPI catches up
    u.titles[bad][1] = "movie"
    days.land()
    run_dbt(*BUILD)
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected_kpis(days.effective))

    # rows already proven good are not read again by an incremental build ...
    spark.execute(
        f"update {land.landing_table(DATASETS['title.basics'])} set titleType = null where tconst = '{other}'"
    )
    run_dbt("build", "--select", "dim_title")
    # ... and a --full-refresh tests every row
    refreshed = run_dbt("build", "--select", "dim_title", "--full-refresh", check=False)
    assert refreshed.returncode != 0 and "not_null_columns_dim_title" in refreshed.stdout, refreshed.stdout[-3000:]


def test_the_kpi_reads_explicit_versions_and_recomputes_everyone_when_a_comparison_cannot_be_trusted(
    spark, schema_prefix, tmp_path
):
    days = Days(spark, tmp_path)
    days.land()
    run_dbt(*BUILD)
    movie = days.a_rated_movie_with_actors()
    ratings = days.universe.ratings

    # a day's rating change: each table's changed rows are read from explicit versions (the end, above the
    # newest load id of the processed version; pre-images from the processed version), the upstream state at
    # those same ends, and the ends stored are the ones read (not whatever is newest when the build ends)
    ratings[movie] = [movie, "2.6", "12345"]
    days.land()
    before = dict(spark.query(f"show tblproperties {schema_prefix}aggregated.actor_actress_kpis"))
    logged = run_dbt(*BUILD, "--debug").stdout  # with the SQL it sent
    compiled = (REPO_ROOT / "dbt_imdb/target/compiled/dbt_imdb/models/aggregated/actor_actress_kpis.sql").read_text()
    plan = json.loads(re.search(r"/\* kpi_plan (\{.*\}) \*/", compiled).group(1))
    props = dict(spark.query(f"show tblproperties {schema_prefix}aggregated.actor_actress_kpis"))
    ends = {name: str(state["end"]) for name, state in plan["tables"].items()}
    assert {name: props[f"imdb.processed.{name}"] for name in ends} == ends
    assert {name: props[f"imdb.processed_load_id.{name}"] for name in ends} == {
        name: str(state["newest"]) for name, state in plan["tables"].items()
    }
    read = re.findall(r"cleansed\.(\w+) version as of (\d+)\s+where _load_id > (\d+)", logged)
    assert "fct_title_rating" in {name for name, _, _ in read}, logged[-3000:]
    for name, end, since in read:
        assert (end, since) == (ends[name], before[f"imdb.processed_load_id.{name}"]), (name, end, since, ends)
    for name, end in re.findall(r"\.(\w+) version as of (\d+)", compiled):
        assert end == ends[name], (name, end, ends)
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected_kpis(days.effective))

    # an operator restores fct_title_rating to the version before the day's MERGE and builds the KPI alone: the
    # restored rows carry older load ids, so only the history tells that they changed
    previous_day = days.effective.parent / f"effective{days.day - 1}"
    spark.execute(
        f"restore table {schema_prefix}cleansed.fct_title_rating "
        f"to version as of {before['imdb.processed.fct_title_rating']}"
    )
    logged = run_dbt("build", "--select", "actor_actress_kpis", "--exclude-resource-type", "unit_test").stdout
    assert "recomputing everyone: fct_title_rating was changed by RESTORE" in logged, logged[-3000:]
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected_kpis(previous_day))

    # an upstream table dropped and built again: its versions start again at 0, its Delta table id is new
    ratings[movie] = [movie, "6.6", "777"]
    days.land()
    spark.execute(f"drop table {schema_prefix}cleansed.fct_title_rating")
    logged = run_dbt(*BUILD).stdout
    assert "recomputing everyone: fct_title_rating was dropped and created again" in logged, logged[-3000:]
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected_kpis(days.effective))

    # an operator vacuums without retention: the files of the version the KPI processed last are gone
    ratings[movie] = [movie, "2.6", "778"]
    days.land()
    # (a next-day cleansed build reads only the landing files of the loads it has not merged: Delta skips the
    # files of the earlier loads by their _load_id statistics; the Spark UI counts the files each scan read)
    landing = land.landing_table(DATASETS["title.ratings"])
    detail = spark.query(f"describe detail {landing}")[0]
    files = int(dict(zip(spark.columns(), detail, strict=False))["numFiles"])
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    run_dbt("run", "--select", "fct_title_rating")
    scans = spark_ui.scans(landing, since)
    assert files >= 2 and scans and 0 < max(read for read, _ in scans) < files, (scans, files)
    # (and its MERGE joins only the model's rows of the changed keys: a runtime Bloom filter of the new rows' keys
    # filters the model's scans, macros/merge_with_deletes.sql; without it every row of the files goes in)
    model = f"{schema_prefix}cleansed.fct_title_rating"
    joined = spark_ui.rows_past_filters(model, f"merge into {model} as DBT_INTERNAL_DEST", since)
    assert 0 < joined < spark.scalar(f"select count(*) from {model}") / 2, joined

    spark.execute("set spark.databricks.delta.retentionDurationCheck.enabled = false")
    try:
        spark.execute(f"vacuum {schema_prefix}cleansed.fct_title_rating retain 0 hours")
    finally:
        spark.execute("reset spark.databricks.delta.retentionDurationCheck.enabled")
    logged = run_dbt(*BUILD).stdout
    assert "recomputing everyone: a VACUUM of fct_title_rating" in logged, logged[-3000:]
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected_kpis(days.effective))

    # with the project's defaults, a table this small is recomputed whole without looking for the affected
    # people (kpi_affected_path_min_rows), and no affected-people table is written
    ratings[movie] = [movie, "7.1", "779"]
    days.land()
    logged = run_dbt(*BUILD, "--debug", project_vars=True).stdout
    assert re.search(r"recomputing everyone: \d+ rows, under kpi_affected_path_min_rows \d+", logged), logged[-3000:]
    assert "__affected_people" not in logged
    assert_same_kpis(fetch_kpis(spark, schema_prefix), expected_kpis(days.effective))
