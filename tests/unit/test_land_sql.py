"""Landing's SQL builders (ingestion.land_sql) as strings, no Spark: every statement is pinned byte for byte to
what the loader sent before the builders moved into their own module (tests/unit/sql_pinned.json, written by
the previous ingestion/land.py for the same inputs). A change to landing's SQL shows up here first, as a diff
to review and re-pin on purpose."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ingestion import land_sql
from ingestion.datasets import DATASETS

PINNED = json.loads((Path(__file__).with_name("sql_pinned.json")).read_text(encoding="utf-8"))
RUN_DATE, LOADED_AT, LOAD_ID = dt.date(2026, 1, 15), "2026-01-15 03:04:05.123456", 7
CACHE = Path("/data/cache/2026-01-15")


@pytest.fixture(autouse=True)
def _no_schema_prefix(monkeypatch):
    monkeypatch.delenv("IMDB_SCHEMA_PREFIX", raising=False)


def built(name: str) -> dict[str, str]:
    d = DATASETS[name]
    lines = land_sql._whole_file(CACHE / d.file_name)
    return {
        "whole_file": lines,
        "parts": land_sql._parts(Path("/srv/parts") / d.table),
        "changed_lines": land_sql._changed_lines(Path("/srv/changed") / d.table),
        "parse_sql": land_sql.parse_sql(d, "select 1 as _line, 'x' as _raw"),
        "staging_sql": land_sql.staging_sql(d, CACHE / d.file_name),
        "changes_sql": land_sql.changes_sql(d),
        "changed_rows_sql_broadcast": land_sql.changed_rows_sql(d, True),
        "changed_rows_sql": land_sql.changed_rows_sql(d, False),
        "raw_changes_sql": land_sql.raw_changes_sql(d, Path("/srv/deleted") / d.table),
        "merge_sql": land_sql.merge_sql(d, RUN_DATE, LOADED_AT, LOAD_ID),
        "first_load_sql": land_sql.first_load_sql(d, lines, RUN_DATE, LOADED_AT, LOAD_ID),
        "landing_properties": land_sql._landing_properties(d),
        "landing_table": land_sql.landing_table(d),
        "stage_table": land_sql.stage_table(d),
        "changed_keys_table": land_sql.changed_keys_table(d),
        "changes_table": land_sql.changes_table(d),
    }


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("builder", sorted(PINNED["land"]["title.basics"]))
def test_each_statement_is_the_pinned_one(name, builder):
    assert built(name)[builder] == PINNED["land"][name][builder]


def test_bookkeeping_table_names():
    assert [land_sql.rejects_table(), land_sql.files_table(), land_sql.loads_table()] == PINNED["land"]["_tables"]
    assert land_sql.rejects_table() == "landing.rejects"


def test_the_schema_prefix_moves_every_name(monkeypatch):
    monkeypatch.setenv("IMDB_SCHEMA_PREFIX", "t_")
    d = DATASETS["title.ratings"]
    assert land_sql.merge_sql(d, RUN_DATE, LOADED_AT, LOAD_ID) == PINNED["land"]["_prefixed"]
    assert land_sql.landing_table(d) == "t_landing.title_ratings"
    assert land_sql.stage_table(d) == "t_landing_stage.title_ratings"


def test_merge_touches_changed_keys_only_and_stamps_the_load():
    sql = land_sql.merge_sql(DATASETS["title.ratings"], RUN_DATE, LOADED_AT, LOAD_ID)
    assert "merge into landing.title_ratings as t" in sql
    assert "using (select * from landing_stage.title_ratings__changes where _action in (" in sql
    assert "on t.`tconst` = s.`tconst`" in sql
    assert "when matched and s._action = 'delete' and not t._is_deleted then update set _is_deleted = true" in sql
    assert "_load_id = 7" in sql and "date'2026-01-15'" in sql


def test_a_broadcast_hint_only_when_asked():
    d = DATASETS["title.principals"]
    assert "/*+ BROADCAST(c) */" in land_sql.changed_rows_sql(d, True)
    assert "BROADCAST" not in land_sql.changed_rows_sql(d, False)


def test_parse_rejects_a_line_with_the_wrong_number_of_fields():
    d = DATASETS["title.ratings"]
    sql = land_sql.parse_sql(d, "lines")
    assert f"when size(_f) <> {len(d.columns)} then concat('expected {len(d.columns)} tab-separated fields" in sql
    assert "then 'missing key tconst'" in sql


def test_strings_are_escaped_as_spark_literals():
    assert land_sql._str("it's a \\ path") == "'it\\'s a \\\\ path'"
