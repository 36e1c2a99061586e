"""`make bench SCALE=…`: per-stage wall time and peak memory of the pipeline on synthetic IMDb snapshots, next
to two baselines measured in the same run on the same files: DuckDB computing the KPI straight from the
TSV.gz files, and `gzip -dc` of the inputs (the floor: just reading them).

Stages: landing, dbt build and publish for a first day, then for a next day at 1% change (incremental).
Peak memory is the largest resident set of the Spark Thrift server's JVM (sampled every 0.2 s) during the
stage, plus the client process; for the baselines, the child process' own peak.

Writes bench/results/bench-<scale>.json and the scale's section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import chart  # bench/chart.py, beside this script

from ingestion import config, land, publish, synth
from ingestion.datasets import DATASETS
from ingestion.thrift import session

REPO = config.REPO_ROOT
RESULTS = REPO / "bench" / "results"
BENCHMARKS = REPO / "BENCHMARKS.md"

KPI_SQL = """
with
basics as (select tconst, titleType from read_csv('{d}/title.basics.tsv.gz', {o})),
ratings as (select tconst, cast(averageRating as decimal(3,1)) as r, cast(numVotes as bigint) as v
            from read_csv('{d}/title.ratings.tsv.gz', {o})),
principals as (select distinct nconst, category, tconst from read_csv('{d}/title.principals.tsv.gz', {o})
               where category in ('actor', 'actress')),
names as (select nconst, primaryName from read_csv('{d}/name.basics.tsv.gz', {o})),
movies as (select b.tconst, r.r, r.v from basics b join ratings r using (tconst) where b.titleType = 'movie')
select p.nconst, p.category as role, any_value(n.primaryName) as primary_name, count(*) as movies_rated,
       cast(sum(m.r) as double) / count(*) as avg_rating,
       cast(sum(m.r * m.v) as double) / sum(m.v) as weighted_rating, sum(m.v) as total_votes
from principals p join movies m using (tconst) left join names n using (nconst)
group by all
"""
CSV_OPTIONS = "delim='\\t', header=true, quote='', escape='', nullstr='\\N', all_varchar=true"


def thrift_pid() -> int | None:
    pidfile = config.settings().data_dir / "run" / "spark-thrift.pid"
    return int(pidfile.read_text()) if pidfile.is_file() else None


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Stage:
    """Times a stage and samples the Thrift server's memory while it runs."""

    def __init__(self, name: str, results: list[dict]) -> None:
        self.name, self.results = name, results
        self.peak = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        pid = thrift_pid()
        while pid and not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(pid))
            time.sleep(0.2)

    def __enter__(self) -> Stage:
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        print(f"  {self.name} …", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()
        seconds = time.monotonic() - self.t0
        client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.results.append({"stage": self.name, "seconds": round(seconds, 2), "peak_mb": round(self.peak + client)})
        print(f"  {self.name}: {seconds:.1f} s, peak {self.peak + client:.0f} MB", flush=True)


def timed_child(cmd: list[str] | str, shell: bool = False) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS (MB) of one command."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{cmd} failed ({status})")
    return time.monotonic() - t0, usage.ru_maxrss / 1024


def snapshots(scale: float) -> tuple[Path, Path]:
    base = config.settings().data_dir / "bench" / f"scale-{scale:g}"
    day1, day2 = base / "day1", base / "day2"
    if not (day1 / "title.principals.tsv.gz").is_file():
        print(f"generating scale {scale:g} …", flush=True)
        synth.generate(day1, scale=scale, seed=42)
    if not (day2 / "title.principals.tsv.gz").is_file():
        synth.next_day(day1, day2, change_rate=0.01, seed=43)
    return day1, day2


def bench_database() -> str:
    """A database of its own (`imdb_bench`), so a benchmark never replaces the KPIs the API serves."""
    import sqlalchemy as sa

    from ingestion.serving_db import grant_reader

    url = sa.make_url(config.database_url())
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if not c.execute(sa.text("select 1 from pg_database where datname = 'imdb_bench'")).scalar():
            c.execute(sa.text("create database imdb_bench"))
    admin.dispose()
    bench = url.set(database="imdb_bench")
    engine = sa.create_engine(bench, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        grant_reader(c, sa.make_url(config.database_url(read_only=True)).username)
    engine.dispose()
    return bench.render_as_string(hide_password=False)


def dbt_build() -> dict[str, float]:
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "DBT_PROJECT_DIR": str(REPO / "dbt_imdb")}
    result = subprocess.run(
        [str(REPO / ".venv/bin/dbt"), "build", "--select", "+actor_actress_kpis"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError("dbt build failed:\n" + result.stdout[-4000:])
    return dbt_node_seconds()


def dbt_node_seconds() -> dict[str, float]:
    """Seconds per dbt node of the last build (models, then tests summed), to show where a build's time goes."""
    run = json.loads((REPO / "dbt_imdb" / "target" / "run_results.json").read_text())
    nodes: dict[str, float] = {}
    for r in run["results"]:
        kind, name = r["unique_id"].split(".")[0], r["unique_id"].split(".")[2]
        key = name if kind == "model" else f"{kind}s"
        nodes[key] = round(nodes.get(key, 0.0) + r["execution_time"], 1)
    return nodes


def progress(scale: float, results: list[dict]) -> None:
    """The stages so far, so a run that dies at scale 1.0 after an hour still says where the time went."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bench-{scale:g}.partial.json").write_text(json.dumps(results, indent=2) + "\n")


def run(scale: float, keep: bool) -> dict:
    day1, day2 = snapshots(scale)
    results: list[dict] = []
    inputs = [str(day1 / d.file_name) for d in DATASETS.values()]
    rows = {d.name: sum(1 for _ in os.popen(f"gzip -dc {day1 / d.file_name}")) - 1 for d in DATASETS.values()}

    seconds, peak = timed_child(f"gzip -dc {' '.join(inputs)} > /dev/null", shell=True)
    results.append({"stage": "baseline: gzip -dc (day 1 inputs)", "seconds": round(seconds, 2), "peak_mb": round(peak)})
    duck = [sys.executable, "-c", f"import duckdb; duckdb.sql({KPI_SQL.format(d=day1, o=CSV_OPTIONS)!r}).fetchall()"]
    seconds, peak = timed_child(duck)
    results.append(
        {"stage": "baseline: DuckDB KPI from TSV.gz (day 1)", "seconds": round(seconds, 2), "peak_mb": round(peak)}
    )

    progress(scale, results)
    prefix = f"bench{uuid.uuid4().hex[:6]}_"
    os.environ["IMDB_SCHEMA_PREFIX"] = prefix
    db_url = os.environ.get("BENCH_DATABASE_URL") or bench_database()
    try:
        for label, day, date in (
            ("day 1", day1, dt.date(2026, 1, 15)),
            ("day 2 (1% change)", day2, dt.date(2026, 1, 16)),
        ):
            with session() as spark, Stage(f"{label}: landing", results):
                land.land(spark, {d: day / d.file_name for d in DATASETS.values()}, date)
            with Stage(f"{label}: dbt build +actor_actress_kpis", results):
                nodes = dbt_build()
            results[-1]["dbt_nodes"] = nodes
            with Stage(f"{label}: publish", results):
                publish.publish(date, database_url=db_url)
            progress(scale, results)
    finally:
        if not keep:
            with session() as spark:
                for (name,) in spark.query(f"show schemas like '{prefix}*'"):
                    spark.execute(f"drop schema if exists {name} cascade")
    by = {r["stage"]: r["seconds"] for r in results}
    first = sum(v for k, v in by.items() if k.startswith("day 1:"))
    second = sum(v for k, v in by.items() if k.startswith("day 2"))
    ratios = {
        "first_day_vs_duckdb": round(first / by["baseline: DuckDB KPI from TSV.gz (day 1)"], 2),
        "next_day_vs_first_day": round(second / first, 2),
        "next_day_dbt_vs_first_day_dbt": round(
            by["day 2 (1% change): dbt build +actor_actress_kpis"] / by["day 1: dbt build +actor_actress_kpis"], 2
        ),
    }
    return {
        "scale": scale,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "rows_day1": rows,
        "stages": results,
        "first_day_seconds": round(first, 2),
        "next_day_seconds": round(second, 2),
        "ratios": ratios,
    }


def markdown(report: dict) -> str:
    lines = [
        f"## Scale {report['scale']:g}",
        "",
        f"Measured {report['measured_at']} on {report['machine']}{report.get('note', '')}; day 1 rows: "
        + ", ".join(f"{k} {v:,}" for k, v in report["rows_day1"].items())
        + ".",
        "",
        "| stage | wall time (s) | peak memory (MB) |",
        "| --- | ---: | ---: |",
    ]
    lines += [f"| {r['stage']} | {r['seconds']:,.1f} | {r['peak_mb']:,} |" for r in report["stages"]]
    for r in report["stages"]:
        if r.get("dbt_nodes"):
            # sorted, not in finishing order, so the two days' breakdowns read side by side
            parts = ", ".join(f"{k} {v:,.0f} s" for k, v in sorted(r["dbt_nodes"].items()))
            lines += ["", f"{r['stage']}, per node: {parts}."]
    r = report["ratios"]
    lines += [
        "",
        f"- first day (landing + build + publish): {report['first_day_seconds']:,.1f} s = "
        f"**{r['first_day_vs_duckdb']}×** DuckDB's one-shot KPI (target ≤ 5×)",
        f"- next day at 1% change: {report['next_day_seconds']:,.1f} s = "
        f"**{r['next_day_vs_first_day']:.0%}** of the first day (target ≤ 30%)",
        f"- dbt part of the next day: **{r['next_day_dbt_vs_first_day_dbt']:.0%}** of the first day's full build "
        "(target ≤ 10%)",
        "",
    ]
    return "\n".join(lines)


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bench-{report['scale']:g}.json").write_text(json.dumps(report, indent=2) + "\n")
    header = (
        "# Benchmarks\n\nProduced by `make bench SCALE=…` (bench/run.py); see its docstring for what is measured.\n\n"
        "![Stage times beside the DuckDB and gzip baselines](bench/results/stages.png)\n\n"
    )
    sections: dict[str, str] = {}
    if BENCHMARKS.is_file():
        for chunk in BENCHMARKS.read_text().split("\n## ")[1:]:
            title, _, body = chunk.partition("\n")
            sections[title.strip()] = "## " + chunk.rstrip() + "\n"
    sections[f"Scale {report['scale']:g}"] = markdown(report)
    ordered = sorted(sections.items(), key=lambda kv: float(kv[0].split()[-1]) if kv[0].startswith("Scale") else 1e9)
    BENCHMARKS.write_text(header + "\n".join(body for _, body in ordered))
    chart.render(RESULTS, RESULTS / "stages.png")  # every scale measured so far, this one included


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's schemas for inspection")
    parser.add_argument("--note", default="", help="how the run was made, e.g. 'while the test suite ran'")
    args = parser.parse_args()
    report = run(args.scale, args.keep)
    if args.note:
        report["note"] = f", {args.note}"
    write(report)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
