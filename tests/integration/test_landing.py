"""Landing (SPEC: Landing semantics) on the real IMDb excerpts, through the real Thrift server and Delta."""

from __future__ import annotations

import datetime as dt
import gzip
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import SAMPLES

from core import spark_ui
from core.config import REPO_ROOT
from ingestion import land
from ingestion.datasets import DATASETS, get

pytestmark = pytest.mark.integration

DAY1 = dt.date(2024, 1, 1)
DAY2 = dt.date(2024, 1, 2)
HOTEL = 'tt9999991\tmovie\t"Hotel" Guest\t"Hotel" Guest\t0\t2019\t\\N\t90\tComedy'
DR_LOVE = 'nm5533924\tStephen "Dr" Love\t\\N\t\\N\tproducer,actor\ttt11092020,tt9324808'


def read_sample(name: str) -> list[str]:
    """Lines (without header) of a heads-2024 real excerpt."""
    return (SAMPLES / "heads-2024" / f"{name}.tsv").read_text(encoding="utf-8").splitlines()[1:]


def write_snapshot(directory: Path, lines: dict[str, list[str]]) -> dict:
    """Gzip one IMDb-format file per dataset (header from the registry) and map dataset -> path."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, rows in lines.items():
        d = get(name)
        path = directory / d.file_name
        with gzip.open(path, "wt", encoding="utf-8", newline="\n") as f:
            f.write("\t".join(d.column_names) + "\n")
            f.writelines(row + "\n" for row in rows)
        files[d] = path
    return files


def day1_lines() -> dict[str, list[str]]:
    lines = {d: read_sample(d) for d in DATASETS}
    lines["title.basics"].append(HOTEL)
    lines["name.basics"].append(DR_LOVE)
    return lines


def versions(spark) -> dict[str, int]:
    return {
        d.table: int(spark.query(f"describe history {land.landing_table(d)} limit 1")[0][0]) for d in DATASETS.values()
    }


@pytest.fixture()
def day1(spark, schema_prefix, tmp_path):
    files = write_snapshot(tmp_path / "day1", day1_lines())
    reports = land.land(spark, files, DAY1)
    return {r.table.split(".")[-1]: r for r in reports}


def test_first_day_lands_every_row(day1, spark):
    expected = {d.table: len(read_sample(d.name)) for d in DATASETS.values()}
    expected["title_basics"] += 1
    expected["name_basics"] += 1
    for table, n in expected.items():
        assert (day1[table].inserted, day1[table].source_rows, day1[table].rejected) == (n, n, 0)
        assert spark.scalar(f"select count(*) from {land.landing_table(get(table))}") == n


def test_quotes_utf8_nulls_and_types_land_exactly(day1, spark):
    t = land.landing_table(get("title.basics"))
    assert spark.query(
        f"select primaryTitle, originalTitle, endYear, runtimeMinutes from {t} where tconst = 'tt9999991'"
    ) == [('"Hotel" Guest', '"Hotel" Guest', None, 90)]
    n = land.landing_table(get("name.basics"))
    assert spark.scalar(f"select primaryName from {n} where nconst = 'nm5533924'") == 'Stephen "Dr" Love'
    assert spark.query(f"select primaryName, birthYear, deathYear from {n} where nconst = 'nm0000003'") == [
        ("Brigitte Bardot", 1934, None)
    ]
    assert spark.scalar(f"select primaryName from {n} where nconst = 'nm0000067'") == "Miklós Rózsa"
    r = land.landing_table(get("title.ratings"))
    rating, votes = spark.query(f"select averageRating, numVotes from {r} where tconst = 'tt0000001'")[0]
    assert Decimal(str(rating)) == Decimal("5.7") and votes == 2106
    types = {name: kind for name, kind, _comment in spark.query(f"describe {r}")[:3]}
    assert types == {"tconst": "string", "averageRating": "decimal(3,1)", "numVotes": "bigint"}
    p = land.landing_table(get("title.principals"))
    assert spark.scalar(f"select characters from {p} where tconst = 'tt0000001' and ordering = 1") == '["Self"]'


def test_next_day_inserts_updates_soft_deletes_and_leaves_the_rest(day1, spark, tmp_path):
    lines = day1_lines()
    ratings = lines["title.ratings"]
    ratings[0] = "tt0000001\t5.8\t2200"  # changed
    ratings[1] = "tt0000002\t5.6\t300"  # changed
    removed = {row.split("\t")[0] for row in lines["title.basics"][5:8]}
    lines["title.basics"] = [row for row in lines["title.basics"] if row.split("\t")[0] not in removed]
    lines["title.basics"].append("tt9999992\tmovie\tNew One\tNew One\t0\t2024\t\\N\t101\tDrama")
    files = write_snapshot(tmp_path / "day2", lines)
    ratings_table = land.landing_table(get("title.ratings"))
    before = spark.query(f"select tconst, _loaded_at, _run_date from {ratings_table} where tconst = 'tt0000003'")

    reports = {r.table.split(".")[-1]: r for r in land.land(spark, files, DAY2)}

    r = reports["title_ratings"]
    assert (r.inserted, r.updated, r.deleted, r.unchanged) == (0, 2, 0, 297)
    b = reports["title_basics"]
    assert (b.inserted, b.updated, b.deleted, b.unchanged) == (1, 0, 3, 297)
    for table in ("title_principals", "name_basics"):  # same rows (gzip bytes differ: header mtime)
        assert reports[table].rows_affected == 0 and reports[table].unchanged == reports[table].source_rows

    t = land.landing_table(get("title.basics"))
    deleted = spark.query(f"select tconst, _run_date from {t} where _is_deleted order by tconst")
    assert {row[0] for row in deleted} == removed and {row[1] for row in deleted} == {DAY2.isoformat()}
    rt = land.landing_table(get("title.ratings"))
    assert spark.query(f"select averageRating, numVotes, _run_date from {rt} where tconst = 'tt0000001'")[0][1:] == (
        2200,
        DAY2.isoformat(),
    )
    # an unchanged row keeps its _loaded_at and _run_date: downstream sees only real changes
    assert spark.query(f"select tconst, _loaded_at, _run_date from {rt} where tconst = 'tt0000003'") == before

    # a soft-deleted key that comes back is live again
    back = write_snapshot(tmp_path / "day3", day1_lines())
    reports = {r.table.split(".")[-1]: r for r in land.land(spark, back, dt.date(2024, 1, 3))}
    assert (reports["title_basics"].updated, reports["title_basics"].deleted) == (3, 1)
    assert spark.scalar(f"select count(*) from {t} where _is_deleted") == 1  # tt9999992 gone again


def test_a_next_day_merge_joins_only_the_landing_rows_of_the_changed_keys(day1, spark, tmp_path, monkeypatch):
    """With deletion vectors Delta writes a MERGE through `changes left join landing table` over every file a
    change touches; a runtime Bloom filter of the changes' keys (land.MERGE_SETTINGS) keeps the landing rows of
    every other key out of its joins. Without it each of the MERGE's joins reads every row of the files. (A
    table this small is broadcast whole instead: the test lowers the size from which the filter applies.)"""
    monkeypatch.setattr(land, "RUNTIME_FILTER_MIN_BYTES", 0)
    lines = day1_lines()
    tconst, ordering, *rest = lines["title.principals"][0].split("\t")
    lines["title.principals"][0] = "\t".join([tconst, ordering, *rest[:-1], '["Someone Else"]'])
    files = write_snapshot(tmp_path / "day2", {"title.principals": lines["title.principals"]})
    table = land.landing_table(get("title.principals"))
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)

    report = land.land(spark, files, DAY2)[0]

    assert (report.updated, report.inserted, report.deleted) == (1, 0, 0)
    assert spark.scalar(f"select characters from {table} where tconst = '{tconst}' and ordering = {ordering}") == (
        '["Someone Else"]'
    )
    rows = spark.scalar(f"select count(*) from {table}")
    joined = spark_ui.rows_past_filters(table, f"merge into {table} as t", since)
    assert 0 < joined < rows / 2, (joined, rows)


def test_rerunning_a_date_changes_nothing(day1, spark, tmp_path):
    before = versions(spark)
    same_bytes = {d: tmp_path / "day1" / d.file_name for d in DATASETS.values()}
    reports = land.land(spark, same_bytes, DAY1)
    assert all(r.skipped and r.rows_affected == 0 for r in reports)
    assert versions(spark) == before

    same_rows = write_snapshot(tmp_path / "again", day1_lines())  # new gzip bytes, same rows
    reports = land.land(spark, same_rows, DAY1)
    assert all(r.rows_affected == 0 and not r.skipped for r in reports)
    assert versions(spark) == before


def test_too_many_malformed_lines_fail_and_change_no_landing_table(day1, spark, tmp_path):
    lines = day1_lines()
    lines["title.ratings"][0] = "tt0000001\t5.9\t2500"  # a real change that must not land
    lines["title.ratings"][10] = "tt0000011\tfive\t100"
    lines["title.ratings"][20] = "tt0000021\t5.0"
    files = write_snapshot(tmp_path / "bad", lines)
    before = versions(spark)
    rejects_before = spark.scalar(f"select count(*) from {land.rejects_table()}")

    with pytest.raises(land.LandingError) as err:
        land.land(spark, files, DAY2)

    message = str(err.value)
    assert "title.ratings.tsv.gz: 2 of 299 lines malformed" in message
    assert "line 12: non-numeric averageRating: five" in message
    assert "line 22: expected 3 tab-separated fields, got 2" in message
    assert versions(spark) == before
    assert spark.scalar(f"select count(*) from {land.rejects_table()}") == rejects_before
    rt = land.landing_table(get("title.ratings"))
    assert spark.scalar(f"select numVotes from {rt} where tconst = 'tt0000001'") == 2106
    failed = spark.query(
        f"select table_name, status from {land.config.schema('landing')}.etl_pipeline_status "
        f"where run_date = date'{DAY2}' and stage = 'landing' and status = 'failed'"
    )
    assert ("landing.title_ratings", "failed") in failed


def test_malformed_lines_within_the_limit_go_to_rejects(day1, spark, tmp_path):
    lines = day1_lines()
    lines["title.ratings"][10] = "tt0000011\t5.1\tmany"
    files = write_snapshot(tmp_path / "some-bad", lines)
    reports = {r.table.split(".")[-1]: r for r in land.land(spark, files, DAY2, reject_share=0.01)}
    assert reports["title_ratings"].rejected == 1
    assert spark.query(f"select table_name, file, line_number, raw_line, reason from {land.rejects_table()}") == [
        ("title_ratings", "title.ratings.tsv.gz", 12, "tt0000011\t5.1\tmany", "non-numeric numVotes: many")
    ]
    # the rejected line still names its key: the landed row stays as it was (no update, no soft delete)
    rt = land.landing_table(get("title.ratings"))
    assert spark.query(f"select numVotes, _is_deleted, _run_date from {rt} where tconst = 'tt0000011'") == [
        (403, False, DAY1.isoformat())
    ]


def test_a_principal_without_a_person_or_a_category_is_rejected(spark, schema_prefix, tmp_path):
    """SPEC: in title.principals a missing nconst or category makes a line malformed. Downstream joins and the
    KPI's merge key rely on it: a null nconst never matches a merge and piled up a KPI row per rebuild."""
    lines = day1_lines()
    principals = lines["title.principals"]
    no_person = principals[3].split("\t")
    no_person[2] = "\\N"
    principals[3] = "\t".join(no_person)
    no_category = principals[7].split("\t")
    no_category[3] = "\\N"
    principals[7] = "\t".join(no_category)
    files = write_snapshot(tmp_path / "day1", lines)
    reports = {r.table.split(".")[-1]: r for r in land.land(spark, files, DAY1, reject_share=0.01)}  # first load

    assert reports["title_principals"].rejected == 2
    assert spark.query(
        f"select line_number, reason from {land.rejects_table()} where table_name = 'title_principals' "
        "order by line_number"
    ) == [(5, "missing nconst"), (9, "missing category")]
    p = land.landing_table(get("title.principals"))
    assert spark.scalar(f"select count(*) from {p} where nconst is null or category is null") == 0
    assert spark.scalar(f"select count(*) from {p}") == len(principals) - 2

    # the next day (the raw diff): a credit that loses its person keeps its landed row, as any rejected line
    day2 = day1_lines()
    moved = day2["title.principals"][10].split("\t")
    before = spark.query(f"select nconst from {p} where tconst = '{moved[0]}' and ordering = {moved[1]}")
    moved[2] = "\\N"
    day2["title.principals"][10] = "\t".join(moved)
    reports = {
        r.table.split(".")[-1]: r
        for r in land.land(spark, write_snapshot(tmp_path / "day2", day2), DAY2, reject_share=0.01)
    }
    assert reports["title_principals"].method == land.RAW_DIFF
    assert reports["title_principals"].rejected == 1
    assert spark.query(f"select nconst from {p} where tconst = '{moved[0]}' and ordering = {moved[1]}") == before
    assert spark.scalar(f"select count(*) from {p} where nconst is null or category is null") == 0


def _set_field(lines: list[str], i: int, field: int, value: str) -> None:
    parts = lines[i].split("\t")
    parts[field] = value
    lines[i] = "\t".join(parts)


def test_a_first_load_rejects_exactly_the_lines_spark_rejects_in_the_whole_file(spark, schema_prefix, tmp_path):
    """A first day's Spark parses only the lines Python could not vouch for (rawdiff.suspect_pattern) before it
    commits: its rejects must be those of Spark's parse of the whole file, whatever the odd values."""
    lines = day1_lines()
    ratings, principals, basics = lines["title.ratings"], lines["title.principals"], lines["title.basics"]
    for i, (field, value) in enumerate(
        [(1, "five"), (1, ""), (1, "100.0"), (1, "5.75"), (1, "-0.5"), (1, " 5.0"), (1, "5.0e0"), (1, "+5"),
         (1, "5."), (2, "1234567890123456789"), (2, "99999999999999999999"), (2, "0x10"), (2, "1.0"), (2, "\\N")]
    ):  # fmt: skip
        _set_field(ratings, 3 + 5 * i, field, value)
    ratings[90] += "\t"
    ratings[95] = ratings[95].rsplit("\t", 1)[0]
    _set_field(principals, 4, 2, "\\N")
    _set_field(principals, 9, 3, "\\N")
    _set_field(principals, 14, 4, "")
    principals[19] += "\tan actor\twith tabs"
    _set_field(basics, 5, 7, "Documentary")
    _set_field(basics, 10, 4, "2019")
    _set_field(basics, 15, 5, "-1")
    files = write_snapshot(tmp_path / "day1", lines)

    reports = {r.table.split(".")[-1]: r for r in land.land(spark, files, DAY1, reject_share=0.5)}

    for d in (get("title.ratings"), get("title.principals"), get("title.basics")):
        report = reports[d.table]
        assert report.method == land.FIRST_LOAD
        whole_file = spark.query(
            f"select _line_number, _reject_reason from ({land.staging_sql(d, files[d])}) "
            "where _reject_reason is not null order by 1"
        )
        assert whole_file, d.name
        assert (
            spark.query(
                f"select line_number, reason from {land.rejects_table()} where table_name = '{d.table}' order by 1"
            )
            == whole_file
        )
        assert report.rejected == len(whole_file)
        landed = spark.scalar(f"select count(*) from {land.landing_table(d)}")
        assert landed == report.inserted == report.source_rows - len(whole_file)


def test_a_repeated_key_fails_before_any_landing_table_changes(day1, spark, tmp_path):
    lines = day1_lines()
    lines["title.basics"][0] = lines["title.basics"][0].replace("\tshort\t", "\tmovie\t")  # a real change
    lines["title.ratings"].append("tt0000002\t5.6\t301")  # tt0000002 twice
    files = write_snapshot(tmp_path / "dup", lines)
    before = versions(spark)
    with pytest.raises(land.LandingError, match=r"title.ratings.tsv.gz: the natural key \(tconst\) is not unique"):
        land.land(spark, files, DAY2)
    assert versions(spark) == before


def test_wrong_header_is_a_clear_error(spark, schema_prefix, tmp_path):
    d = get("title.ratings")
    path = tmp_path / d.file_name
    with gzip.open(path, "wt") as f:
        f.write("tconst\trating\tvotes\ntt0000001\t5.7\t2106\n")
    with pytest.raises(land.LandingError, match="title.ratings.tsv.gz: unexpected header"):
        land.land(spark, {d: path}, DAY1)


def test_cli_run_downloads_lands_and_summarises(schema_prefix, tmp_path, monkeypatch):
    write_snapshot(tmp_path / "source", day1_lines())
    env = {"DATA_DIR": str(tmp_path / "data"), "IMDB_SCHEMA_PREFIX": schema_prefix}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingestion",
            "run",
            "--run-date",
            "2024-01-01",
            "--base-url",
            (tmp_path / "source").as_uri(),
        ],
        cwd=REPO_ROOT,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "landing.title_principals" in result.stdout and "299" in result.stdout
    assert (tmp_path / "data" / "cache" / "2024-01-01" / "title.basics.tsv.gz").is_file()

    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "ingestion",
            "run",
            "--run-date",
            "2024-01-02",
            "--base-url",
            "file:///nonexistent/",
        ],
        cwd=REPO_ROOT,
        env={**__import__("os").environ, **env},
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1 and "title.basics.tsv.gz" in bad.stdout
