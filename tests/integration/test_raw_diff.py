"""Next-day landing's raw diff gives exactly the landing tables the Spark diff gives (SPEC: Landing semantics),
through the real Thrift server: the same days landed twice, once each way, compared row for row."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from test_landing import read_sample, write_snapshot

from core.thrift import session
from ingestion import land
from ingestion.datasets import get

pytestmark = pytest.mark.integration

# One file keyed by one field, one keyed by two: enough to cover both walks, half the statements of four files.
NAMES = ("title.ratings", "title.principals")
DAY = dt.date(2024, 3, 1)


def _at(lines: list[str], tconst: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(tconst + "\t"))


def day_lines(n: int) -> dict[str, list[str]]:
    """Day n of a small history with every change kind (see the comments), from the real excerpts."""
    ratings = read_sample("title.ratings")
    principals = read_sample("title.principals")
    ratings[_at(ratings, "tt0000041")] = "tt0000041\tfive\t10"  # rejected every day (never landed)
    if n >= 2:
        ratings[_at(ratings, "tt0000001")] = "tt0000001\t5.9\t3000"  # changed
        ratings[_at(ratings, "tt0000011")] = "tt0000011\t5.1\tmany"  # rejected: tt0000011 keeps its row
        for tconst in ("tt0000022", "tt0000023", "tt0000024"):  # soft-deleted
            del ratings[_at(ratings, tconst)]
        ratings.append("tt9999999\t7.7\t77")  # new
        principals = [p for p in principals if not p.startswith("tt0000005\t")]  # a title's credits removed
        principals[0] = principals[0].replace("\tself\t", "\tactor\t")  # changed category
        principals.append('tt9999999\t1\tnm0000001\tactor\t\\N\t["X"]')
    if n >= 3:
        sample = read_sample("title.ratings")
        ratings.insert(_at(ratings, "tt0000025"), sample[_at(sample, "tt0000024")])  # tt0000024 comes back
        principals = read_sample("title.principals")  # every credit back as on day 1
    if n == 4:
        ratings.append("tt9999999\t7.8\t78")  # tt9999999 twice: the run must stop
    return {"title.ratings": ratings, "title.principals": principals}


def landed(spark, prefix: str) -> dict[str, list[tuple]]:
    out = {}
    for name in NAMES:
        d = get(name)
        cols = ", ".join([*(f"`{c}`" for c in d.column_names), "_row_hash", "_is_deleted", "_run_date"])
        out[name] = sorted(spark.query(f"select {cols} from {prefix}landing.{d.table}"), key=repr)
    out["rejects"] = sorted(
        spark.query(f"select table_name, line_number, raw_line, reason, _run_date from {prefix}landing.rejects"),
        key=repr,
    )
    return out


def counts(reports) -> list[tuple]:
    return [(r.table.split(".")[-1], r.inserted, r.updated, r.deleted, r.unchanged, r.rejected) for r in reports]


@pytest.fixture()
def two_prefixes(thrift_server):
    prefixes = [f"t{uuid.uuid4().hex[:8]}_" for _ in range(2)]
    saved = os.environ.get("IMDB_SCHEMA_PREFIX")
    yield prefixes
    with session() as spark:
        for prefix in prefixes:
            for (name,) in spark.query(f"show schemas like '{prefix}*'"):
                spark.execute(f"drop schema if exists {name} cascade")
    if saved is None:
        os.environ.pop("IMDB_SCHEMA_PREFIX", None)
    else:
        os.environ["IMDB_SCHEMA_PREFIX"] = saved


def test_raw_diff_lands_exactly_what_the_spark_diff_lands(two_prefixes, tmp_path, monkeypatch, spark):
    raw_prefix, spark_prefix = two_prefixes
    history: dict[str, list] = {raw_prefix: [], spark_prefix: []}

    def use(prefix: str) -> None:
        monkeypatch.setenv("IMDB_SCHEMA_PREFIX", prefix)
        if prefix == spark_prefix:
            monkeypatch.setenv("IMDB_NO_RAW_DIFF", "1")
        else:
            monkeypatch.delenv("IMDB_NO_RAW_DIFF", raising=False)

    for n in (1, 2, 3):
        for prefix in two_prefixes:
            use(prefix)
            files = write_snapshot(tmp_path / prefix / f"day{n}", day_lines(n))
            if n == 3 and prefix == raw_prefix:  # the previous title.ratings file is gone: Spark diff, said so
                (tmp_path / prefix / "day2" / "title.ratings.tsv.gz").unlink()
            reports = land.land(spark, files, DAY + dt.timedelta(days=n), reject_share=0.05)
            methods = {r.table.split(".")[-1]: (r.method, r.note) for r in reports}
            if prefix == raw_prefix and n == 2:
                assert {m for m, _ in methods.values()} == {land.RAW_DIFF}, methods
            if prefix == raw_prefix and n == 3:
                assert methods["title_ratings"][0] == land.SPARK_DIFF
                assert "no longer there" in methods["title_ratings"][1]
                assert methods["title_principals"][0] == land.RAW_DIFF
            history[prefix].append((counts(reports), landed(spark, prefix)))
    for n, (raw, spark_side) in enumerate(zip(history[raw_prefix], history[spark_prefix], strict=True), start=1):
        assert raw[0] == spark_side[0], f"day {n}: counts differ"
        assert raw[1] == spark_side[1], f"day {n}: landing tables differ"
    day2_counts = dict((c[0], c[1:]) for c in history[raw_prefix][1][0])
    assert day2_counts["title_ratings"] == (1, 1, 3, 293, 2)  # as the story above tells
    rejects = history[raw_prefix][1][1]["rejects"]
    day1 = day_lines(1)["title.ratings"]
    day1_rejects = [r[1:4] for r in history[raw_prefix][0][1]["rejects"]]
    assert day1_rejects == [(_at(day1, "tt0000041") + 2, "tt0000041\tfive\t10", "non-numeric averageRating: five")]
    day2 = day_lines(2)["title.ratings"]
    assert [r[1:4] for r in rejects if str(r[4]) == str(DAY + dt.timedelta(days=2))] == [
        (_at(day2, "tt0000011") + 2, "tt0000011\t5.1\tmany", "non-numeric numVotes: many"),
        # rejected on day 1 and unchanged since: the raw diff still hands it to Spark, so it is counted again
        (_at(day2, "tt0000041") + 2, "tt0000041\tfive\t10", "non-numeric averageRating: five"),
    ]

    # a repeated key stops both ways alike, changing no landing table
    for prefix in two_prefixes:
        use(prefix)
        before = landed(spark, prefix)
        files = write_snapshot(tmp_path / prefix / "day4", day_lines(4))
        with pytest.raises(land.LandingError, match=r"title.ratings.tsv.gz: the natural key \(tconst\) is not unique"):
            land.land(spark, files, DAY + dt.timedelta(days=4), reject_share=0.05)
        assert landed(spark, prefix) == before


def test_an_altered_previous_file_is_not_trusted(spark, schema_prefix, tmp_path):
    files = write_snapshot(tmp_path / "day1", {"title.ratings": read_sample("title.ratings")})
    land.land(spark, files, DAY)
    with open(files[get("title.ratings")], "ab") as f:  # the cached copy of yesterday changed since
        f.write(b"\x00")
    lines = read_sample("title.ratings")
    lines[0] = "tt0000001\t9.9\t1"
    reports = land.land(spark, write_snapshot(tmp_path / "day2", {"title.ratings": lines}), DAY + dt.timedelta(days=1))
    assert (reports[0].method, reports[0].updated) == (land.SPARK_DIFF, 1)
    assert "SHA-256 differs" in reports[0].note
