"""A bad day upstream or a slip by an operator loses no data: faults tried against the real Thrift server,
Delta tables and the loader's CLI."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import service
from test_landing import DAY1, DAY2, day1_lines, versions, write_snapshot

from core import config, lease, status
from core.config import REPO_ROOT
from core.thrift import session
from ingestion import land
from ingestion.datasets import DATASETS, get
from pipeline import daily

pytestmark = pytest.mark.integration


def landing_rows(spark) -> dict[str, list[tuple]]:
    out = {}
    for d in DATASETS.values():
        cols = ", ".join([*(f"`{c}`" for c in d.column_names), "_row_hash", "_is_deleted", "_run_date"])
        out[d.table] = sorted(spark.query(f"select {cols} from {land.landing_table(d)}"), key=repr)
    return out


def failed_landing_rows(spark, run_date: dt.date) -> list[tuple]:
    return spark.query(
        f"select table_name, error from {status.table()} where run_date = date'{run_date}' and stage = 'landing' "
        "and status = 'failed'"
    )


def test_a_truncated_snapshot_is_refused_until_a_shrink_is_allowed(spark, schema_prefix, tmp_path, monkeypatch):
    land.land(spark, write_snapshot(tmp_path / "day1", day1_lines()), DAY1)
    monkeypatch.setenv("IMDB_GUARD_FLOOR_ROWS", "20")  # the excerpts are small: a floor that fits them
    lines = day1_lines()
    lines["title.principals"] = lines["title.principals"][:150]  # half of the file is missing
    truncated = write_snapshot(tmp_path / "day2", lines)
    before = versions(spark)

    with pytest.raises(land.LandingError) as err:
        land.land(spark, truncated, DAY2)

    message = str(err.value)
    assert "title.principals.tsv.gz: it would soft-delete 149 of 299 live keys" in message
    assert "--allow-shrink" in message and "IMDB_ALLOW_SHRINK=1" in message
    assert versions(spark) == before
    failed = dict(failed_landing_rows(spark, DAY2))
    assert "would soft-delete 149 of 299 live keys" in failed["landing.title_principals"]

    # a deliberate shrink goes through, and deletes what is missing
    reports = {r.table.split(".")[-1]: r for r in land.land(spark, truncated, DAY2, allow_shrink=True)}
    assert reports["title_principals"].deleted == 149


def test_small_deletions_pass_the_guards_by_default(spark, schema_prefix, tmp_path):
    """A share alone would refuse deleting one row of twelve; the absolute floor lets ordinary days through."""
    land.land(spark, write_snapshot(tmp_path / "day1", day1_lines()), DAY1)
    lines = day1_lines()
    lines["title.ratings"] = lines["title.ratings"][:-5]
    reports = {r.table.split(".")[-1]: r for r in land.land(spark, write_snapshot(tmp_path / "d2", lines), DAY2)}
    assert reports["title_ratings"].deleted == 5


def test_an_older_run_date_is_refused_unless_forced(spark, schema_prefix, tmp_path):
    newest = write_snapshot(tmp_path / "day2", day1_lines())
    land.land(spark, newest, DAY2)
    lines = day1_lines()
    lines["title.ratings"][0] = "tt0000001\t1.0\t1"
    older = write_snapshot(tmp_path / "day1", lines)
    before = versions(spark)
    with pytest.raises(
        land.LandingError, match=rf"run date {DAY1} is older than the newest landed snapshot \({DAY2}\)"
    ):
        land.land(spark, older, DAY1)
    assert versions(spark) == before
    assert all(r.skipped for r in land.land(spark, newest, DAY2))  # the newest date again: a no-op
    assert versions(spark) == before

    land.land(spark, older, DAY1, allow_older_run_date=True)  # a roll-back on purpose
    rt = land.landing_table(get("title.ratings"))
    assert spark.query(f"select numVotes, _run_date from {rt} where tconst = 'tt0000001'") == [(1, DAY1.isoformat())]


def test_a_repeated_key_stops_a_first_day(spark, schema_prefix, tmp_path):
    lines = day1_lines()
    lines["title.ratings"].insert(1, lines["title.ratings"][0])  # tt0000001 twice, on an empty table
    with pytest.raises(land.LandingError, match=r"title.ratings.tsv.gz: the natural key \(tconst\) is not unique"):
        land.land(spark, write_snapshot(tmp_path / "dup", lines), DAY1)
    for d in DATASETS.values():
        assert spark.scalar(f"select count(*) from {land.landing_table(d)}") == 0, d.table


def test_a_failure_before_the_first_status_row_is_recorded_as_failed(spark, schema_prefix, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(ValueError, match="unsupported scheme 'ftp'"):
        daily.download(DAY1, "ftp://example.org/imdb/", run_id="r-ftp", spark=spark)
    rows = spark.query(f"select table_name, status, error from {status.table()} where run_id = 'r-ftp'")
    assert {r[0] for r in rows} == {d.file_name for d in DATASETS.values()}
    assert all(r[1] == "failed" and "unsupported scheme" in r[2] for r in rows)


def test_two_runs_at_once_one_is_refused_naming_the_holder(spark, schema_prefix, tmp_path):
    source = tmp_path / "source"
    write_snapshot(source, day1_lines())
    env = {**os.environ, "IMDB_SCHEMA_PREFIX": schema_prefix}
    cmd = [sys.executable, "-m", "ingestion", "land", "--run-date", str(DAY1), "--from", str(source)]
    first = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for _ in range(600):  # until the first run holds the lease
            held = lease.current()
            if held is not None and held.pid == first.pid:
                break
            assert first.poll() is None, first.stdout.read()
            time.sleep(0.1)
        second = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        flat = " ".join(second.stdout.split())
        assert "another pipeline run holds the lease" in flat and f"pid {first.pid}" in flat
        out, _ = first.communicate(timeout=900)
        assert first.returncode == 0, out
    finally:
        if first.poll() is None:
            first.kill()
    for d in DATASETS.values():  # landed once, no key twice
        total, keys = spark.query(f"select count(*), count(distinct {', '.join(d.key)}) from {land.landing_table(d)}")[
            0
        ]
        assert total == keys > 0, d.table


@pytest.mark.lifecycle
def test_thrift_server_killed_during_a_landing_merge_loses_nothing(schema_prefix, tmp_path, monkeypatch):
    """The server dies mid-MERGE; started again, the same run repeated: the landing tables equal a clean run."""
    day1 = write_snapshot(tmp_path / "day1", day1_lines())
    lines = day1_lines()
    lines["title.ratings"] = [row.replace("\t5.", "\t6.") for row in lines["title.ratings"]]  # many updates
    lines["title.principals"] = lines["title.principals"][:-20]
    day2 = write_snapshot(tmp_path / "day2", lines)
    with session() as spark:
        land.land(spark, day1, DAY1)

    pidfile = config.settings().data_dir / "run" / "spark-thrift.pid"
    killed = threading.Event()

    def kill_when_merging(message: str) -> None:
        if "writing" in message and "title_ratings" in message and not killed.is_set():
            threading.Timer(0.5, lambda: (os.kill(int(pidfile.read_text()), signal.SIGKILL), killed.set())).start()

    try:
        with session() as spark, pytest.raises(Exception):  # noqa: B017 (whatever the dying server says)
            land.land(spark, day2, DAY2, on_step=kill_when_merging)
            time.sleep(2)  # if the MERGE finished first, the next statements meet the dead server
            land.land(spark, day2, DAY2)
    finally:
        for _ in range(100):
            if killed.is_set():
                break
            time.sleep(0.1)
        started = service("thrift.sh", "start")
        assert started.returncode == 0, started.stderr
    assert killed.is_set()

    with session() as spark:
        land.land(spark, day2, DAY2)  # the run repeated
        after = landing_rows(spark)
        clean = f"{schema_prefix}clean_"
        monkeypatch.setenv("IMDB_SCHEMA_PREFIX", clean)
        land.land(spark, day1, DAY1)
        land.land(spark, write_snapshot(tmp_path / "day2-again", lines), DAY2)
        try:
            assert landing_rows(spark) == after
        finally:
            for (name,) in spark.query(f"show schemas like '{clean}*'"):
                spark.execute(f"drop schema if exists {name} cascade")
