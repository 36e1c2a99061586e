"""Tables stay fast over months of daily MERGEs: compaction, deletion-vector purges and VACUUM run past their
thresholds, on real Delta tables through the Thrift server, and leave the data as it was."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion import land, maintenance
from ingestion.datasets import get

pytestmark = pytest.mark.integration


def test_maintenance_compacts_purges_and_vacuums_only_past_thresholds(spark, schema_prefix, monkeypatch):
    d = get("title.ratings")
    land.ensure_tables(spark, [d])
    table = land.landing_table(d)
    for i in range(20):  # twenty daily appends of five rows: twenty small files
        rows = ", ".join(
            f"('tt{i:04d}{j:03d}', 5.0, {j}, 'h{i}', false, date'2024-01-01', timestamp'2024-01-01 00:00:00', {i})"
            for j in range(5)
        )
        spark.execute(f"insert into {table} values {rows}")
    for i in range(3):  # three commits that change one row of a file: deletion vectors, not rewrites
        spark.execute(f"update {table} set numVotes = numVotes + 1 where tconst = 'tt{i:04d}001'")
    before = sorted(spark.query(f"select * from {table}"))
    monkeypatch.setenv("IMDB_PURGE_AFTER_COMMITS", "3")
    today = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    assert {a.action for a in maintenance.plan(spark, table, today)} == {"OPTIMIZE", "PURGE"}
    done = maintenance.maintain(spark, now=today + dt.timedelta(days=8))  # a week after: VACUUM too

    assert {(a.table, a.action) for a in done} >= {(table, "OPTIMIZE"), (table, "PURGE"), (table, "VACUUM")}
    assert sorted(spark.query(f"select * from {table}")) == before
    row = spark.query(f"describe detail {table}")[0]
    assert int(dict(zip(spark.columns(), row, strict=False))["numFiles"]) < 5
    assert maintenance.plan(spark, table, today) == []  # nothing left to do on a normal day
