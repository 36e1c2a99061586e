"""Publish's SQL builders (serving.publish_sql) and the serving tables' one definition (serving.tables), as
strings, no database: pinned byte for byte to what publish sent before they moved (tests/unit/sql_pinned.json),
and the status row's Delta DDL and values (core.status) with them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from core import status
from serving import publish_sql, tables

PINNED = json.loads((Path(__file__).with_name("sql_pinned.json")).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _no_schema_prefix(monkeypatch):
    monkeypatch.delenv("IMDB_SCHEMA_PREFIX", raising=False)


@pytest.mark.parametrize("table", [tables.KPIS, tables.STATUS], ids=lambda t: t.name)
def test_create_table_is_the_pinned_one(table):
    pinned = PINNED["publish"][table.name]
    assert publish_sql.create_table_sql(table) == pinned["create_table_sql"]
    assert publish_sql.create_table_sql(table, table.staging) == pinned["create_staging_sql"]


@pytest.mark.parametrize("table", [tables.KPIS, tables.STATUS], ids=lambda t: t.name)
def test_copy_query_is_the_pinned_one(table):
    pinned = PINNED["publish"][table.name]
    assert table.source() == pinned["source"]
    assert publish_sql.copy_lines_sql(table, table.source()) == pinned["copy_lines_sql"]


def test_generation_ddl_is_the_pinned_one():
    assert PINNED["publish"]["generation_ddl"] == tables.GENERATION_DDL


def test_kpi_table_ddl_reads_as_the_spec():
    assert publish_sql.create_table_sql(tables.KPIS) == (
        "create table actor_actress_kpis (nconst text not null, role text not null, primary_name text, "
        "movies_rated bigint not null, avg_rating double precision not null, weighted_rating double precision, "
        "total_votes bigint not null, updated_at timestamp)"
    )


def test_text_columns_are_escaped_for_copy_and_the_rest_cast():
    sql = publish_sql.copy_lines_sql(tables.KPIS, "aggregated.actor_actress_kpis")
    assert sql.startswith("select concat_ws('\\t', coalesce(replace(replace(replace(replace(nconst, ")
    assert "coalesce(cast(movies_rated as string), '\\\\N')" in sql
    assert sql.endswith(" as line from aggregated.actor_actress_kpis")


def test_the_status_table_is_the_status_row():
    assert tables.STATUS.column_names == [f.name for f in status.FIELDS]
    assert PINNED["status"]["columns"] == status.COLUMNS
    assert status.table() == PINNED["status"]["table"]


def test_status_row_values_are_the_pinned_literals():
    row = status.StatusRow(
        "2026-01-15-abcdef12",
        dt.date(2026, 1, 15),
        "landing",
        "landing.title_basics",
        rows_affected=42,
        started_at=dt.datetime(2026, 1, 15, 3, 4, 5, 6),
        finished_at=dt.datetime(2026, 1, 15, 3, 4, 7, 500006),
        error="it's a \\ test",
    )
    assert row.values_sql() == PINNED["status"]["values_sql"]
    values = (None, 1, 2.5, "a'b\\c", dt.date(2026, 1, 15), dt.datetime(2026, 1, 2, 3, 4, 5))
    assert [status.literal(v) for v in values] == PINNED["status"]["literals"]
