"""`make bench SCALE=…`: per-stage wall time and peak memory of the pipeline on synthetic IMDb snapshots, next
to two baselines measured in the same run on the same files: DuckDB computing the KPI straight from the
TSV.gz files, and `gzip -dc` of the inputs (the floor: just reading them).

Stages: landing, dbt build and publish for a first day, then for a next day at 1% change (incremental);
`--days N` goes on with N-2 more days at 1% change, with the DAG's maintenance step after each day, to show
that a tenth day costs what the second does. Each stage also records its slowest Spark statements (the
loader's own, timed by core.thrift; dbt's from its JSON log), so the next bottleneck is visible without
a profiler, and landing records how each file was compared (raw diff, Spark diff, first load).
Peak memory is the largest resident set of the Spark Thrift server's JVM (sampled every 0.2 s) during the
stage, plus the client process; for the baselines, the child process' own peak.

Writes bench/results/bench-<scale>.json (bench-<scale>-<N>days.json with --days) and the scale's section of
BENCHMARKS.md.
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

from core import config, spark_ui, thrift
from core.thrift import session
from devdata import synth
from ingestion import land, maintenance
from ingestion.datasets import DATASETS
from serving import publish

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
        self._statements = thrift.recorded_statements()

    def _sample(self) -> None:
        pid = thrift_pid()
        while pid and not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(pid))
            time.sleep(0.2)

    def __enter__(self) -> Stage:
        self.statements = self._statements.__enter__()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        print(f"  {self.name} …", flush=True)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join()
        self._statements.__exit__(*exc)
        seconds = time.monotonic() - self.t0
        client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.results.append({"stage": self.name, "seconds": round(seconds, 2), "peak_mb": round(self.peak + client)})
        if self.statements:
            self.results[-1]["slowest_statements"] = slowest(self.statements)
        print(f"  {self.name}: {seconds:.1f} s, peak {self.peak + client:.0f} MB", flush=True)


def slowest(statements: list[tuple[float, str]], n: int = 5) -> list[list]:
    return [[round(sec, 1), sql] for sec, sql in sorted(statements, key=lambda x: -x[0])[:n]]


def timed_child(cmd: list[str] | str, shell: bool = False) -> tuple[float, float]:
    """Wall seconds and the child's peak RSS (MB) of one command."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, shell=shell, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"{cmd} failed ({status})")
    return time.monotonic() - t0, usage.ru_maxrss / 1024


def snapshots(scale: float, days: int = 2) -> list[Path]:
    base = config.settings().data_dir / "bench" / f"scale-{scale:g}"
    out = [base / f"day{i}" for i in range(1, days + 1)]
    if not (out[0] / "title.principals.tsv.gz").is_file():
        print(f"generating scale {scale:g} …", flush=True)
        synth.generate(out[0], scale=scale, seed=42)
    for i in range(1, days):
        if not (out[i] / "title.principals.tsv.gz").is_file():
            print(f"generating day {i + 1} …", flush=True)
            synth.next_day(out[i - 1], out[i], change_rate=0.01, seed=42 + i)
    return out


def bench_database() -> str:
    """A database of its own (`imdb_bench`), so a benchmark never replaces the KPIs the API serves."""
    import sqlalchemy as sa

    from serving.roles import grant_reader

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


def dbt_build() -> tuple[dict[str, float], list[list]]:
    env = {**os.environ, "DBT_PROFILES_DIR": str(REPO), "DBT_PROJECT_DIR": str(REPO / "dbt_imdb")}
    log_dir = REPO / "dbt_imdb" / "logs"
    log_file = log_dir / "dbt.log"
    log_file.unlink(missing_ok=True)
    result = subprocess.run(
        [str(REPO / ".venv/bin/dbt"), "--log-format-file", "json", "--log-level-file", "debug", "build",
         "--select", "+actor_actress_kpis"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError("dbt build failed:\n" + result.stdout[-4000:])
    return dbt_node_seconds(), slowest(dbt_statements(log_file))


def dbt_statements(log_file: Path) -> list[tuple[float, str]]:
    """(seconds, SQL) of each statement in dbt's JSON log: a SQLQueryStatus closes the thread's last SQLQuery."""
    last: dict[str, str] = {}
    out = []
    if not log_file.is_file():
        return out
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        name, data = event.get("info", {}).get("name"), event.get("data", {})
        thread = event.get("info", {}).get("thread", "")
        if name == "SQLQuery":
            last[thread] = " ".join(str(data.get("sql", "")).split())[:200]
        elif name == "SQLQueryStatus" and thread in last:
            out.append((float(data.get("elapsed", 0)), last.pop(thread)))
    return out


def dbt_node_seconds() -> dict[str, float]:
    """Seconds per dbt node of the last build (models, then tests summed), to show where a build's time goes."""
    run = json.loads((REPO / "dbt_imdb" / "target" / "run_results.json").read_text())
    nodes: dict[str, float] = {}
    for r in run["results"]:
        kind, name = r["unique_id"].split(".")[0], r["unique_id"].split(".")[2]
        key = name if kind == "model" else f"{kind}s"
        nodes[key] = round(nodes.get(key, 0.0) + r["execution_time"], 1)
    return nodes


def landing_files_read(since: dt.datetime) -> dict[str, str]:
    """Per landing table: the files the build's scans read of those the table holds (Spark UI metrics)."""
    out = {}
    with session() as spark:
        for d in DATASETS.values():
            table = land.landing_table(d)
            detail = spark.detail(table)
            try:
                read = [r for r, _ in spark_ui.scans(table, since)]
            except OSError as e:  # the UI is off or elsewhere: the benchmark still stands
                return {"(Spark UI)": str(e)}
            out[table.split(".")[-1]] = f"{max(read, default=0)} of {detail.get('numFiles')} files"
    return out


def progress(scale: float, results: list[dict]) -> None:
    """The stages so far, so a run that dies at scale 1.0 after an hour still says where the time went."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"bench-{scale:g}.partial.json").write_text(json.dumps(results, indent=2) + "\n")


def run(scale: float, keep: bool, days: int = 2) -> dict:
    snaps = snapshots(scale, days)
    day1 = snaps[0]
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
    per_day = []
    try:
        for i, day in enumerate(snaps):
            label = "day 1" if i == 0 else ("day 2 (1% change)" if i == 1 else f"day {i + 1} (1% change)")
            date = dt.date(2026, 1, 15) + dt.timedelta(days=i)
            start = len(results)
            with session() as spark, Stage(f"{label}: landing", results):
                reports = land.land(spark, {d: day / d.file_name for d in DATASETS.values()}, date)
            results[-1]["landing"] = {r.table.split(".")[-1]: f"{r.method} {r.note}".strip() for r in reports}
            since = dt.datetime.now(dt.UTC)
            with Stage(f"{label}: dbt build +actor_actress_kpis", results):
                nodes, statements = dbt_build()
            results[-1]["dbt_nodes"] = nodes
            results[-1]["landing_files_read"] = landing_files_read(since)
            results[-1]["slowest_statements"] = statements
            with Stage(f"{label}: publish", results):
                publish.publish(date, database_url=db_url)
            if days > 2:  # as the DAG does after publish
                with session() as spark, Stage(f"{label}: maintain", results):
                    done = maintenance.maintain(spark)
                results[-1]["actions"] = [f"{a.table}: {a.action}" for a in done]
            per_day.append(round(sum(r["seconds"] for r in results[start:]), 2))
            progress(scale, results)
    finally:
        if not keep:
            with session() as spark:
                for (name,) in spark.query(f"show schemas like '{prefix}*'"):
                    spark.execute(f"drop schema if exists {name} cascade")
    by = {r["stage"]: r["seconds"] for r in results}
    first, second = per_day[0], per_day[1]
    ratios = {
        "first_day_vs_duckdb": round(first / by["baseline: DuckDB KPI from TSV.gz (day 1)"], 2),
        "next_day_vs_first_day": round(second / first, 2),
        "next_day_dbt_vs_first_day_dbt": round(
            by["day 2 (1% change): dbt build +actor_actress_kpis"] / by["day 1: dbt build +actor_actress_kpis"], 2
        ),
    }
    if days > 2:
        ratios["last_day_vs_second_day"] = round(per_day[-1] / second, 2)
    return {
        "scale": scale,
        "days": days,
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}",
        "rows_day1": rows,
        "stages": results,
        "day_seconds": per_day,
        "first_day_seconds": first,
        "next_day_seconds": second,
        "ratios": ratios,
    }


def _title(report: dict) -> str:
    days = report.get("days", 2)
    return f"Scale {report['scale']:g}" + (f", {days} days" if days > 2 else "")


def markdown(report: dict) -> str:
    lines = [
        f"## {_title(report)}",
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
        if r.get("landing"):
            parts = ", ".join(f"{t}: {how}" for t, how in r["landing"].items())
            lines += ["", f"{r['stage']}, per file: {parts}."]
        if r.get("dbt_nodes"):
            # sorted, not in finishing order, so the days' breakdowns read side by side
            parts = ", ".join(f"{k} {v:,.0f} s" for k, v in sorted(r["dbt_nodes"].items()))
            lines += ["", f"{r['stage']}, per node: {parts}."]
        if r.get("landing_files_read"):
            parts = ", ".join(f"{t} {n}" for t, n in r["landing_files_read"].items())
            lines += ["", f"{r['stage']}, landing files read (largest scan): {parts}."]
        if r.get("actions"):
            lines += ["", f"{r['stage']}: {', '.join(r['actions'])}."]
    slow = [r for r in report["stages"] if r.get("slowest_statements")]
    if slow:
        lines += ["", "<details><summary>Slowest Spark statements of each stage</summary>", ""]
        for r in slow:
            lines += [f"- {r['stage']}:"]
            lines += [f"  - {sec:,.1f} s `{sql[:160]}`" for sec, sql in r["slowest_statements"]]
        lines += ["", "</details>"]
    r = report["ratios"]
    lines += [
        "",
        f"- first day (landing + build + publish): {report['first_day_seconds']:,.1f} s = "
        f"**{r['first_day_vs_duckdb']}×** DuckDB's one-shot KPI (target ≤ 10×)",
        f"- next day at 1% change: {report['next_day_seconds']:,.1f} s = "
        f"**{r['next_day_vs_first_day']:.0%}** of the first day (target ≤ 30%)",
        f"- dbt part of the next day: **{r['next_day_dbt_vs_first_day_dbt']:.0%}** of the first day's full build "
        "(target ≤ 20%)",
    ]
    if "last_day_vs_second_day" in r:
        per_day = ", ".join(f"{s:,.0f}" for s in report["day_seconds"])
        lines += [
            f"- day {report['days']} costs **{r['last_day_vs_second_day']:.0%}** of day 2 (seconds per day: {per_day})"
        ]
    return "\n".join(lines + [""])


def write(report: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    days = report.get("days", 2)
    name = f"bench-{report['scale']:g}" + (f"-{days}days" if days > 2 else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    header = (
        "# Benchmarks\n\nProduced by `make bench SCALE=…` (bench/run.py); see its docstring for what is measured.\n\n"
        "![Stage times beside the DuckDB and gzip baselines](bench/results/stages.png)\n\n"
    )
    sections: dict[str, str] = {}
    if BENCHMARKS.is_file():
        for chunk in BENCHMARKS.read_text().split("\n## ")[1:]:
            title, _, body = chunk.partition("\n")
            sections[title.strip()] = "## " + chunk.rstrip() + "\n"
    sections[_title(report)] = markdown(report)

    def order(kv: tuple[str, str]) -> tuple[float, str]:
        title = kv[0]
        if not title.startswith("Scale"):
            return (1e9, title)
        return (float(title.split()[1].rstrip(",")), title)

    BENCHMARKS.write_text(header + "\n".join(body for _, body in sorted(sections.items(), key=order)))
    chart.render(RESULTS, RESULTS / "stages.png")  # every scale measured so far, this one included


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--days", type=int, default=2, help="days to run: 1 first day, then days at 1%% change")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's schemas for inspection")
    parser.add_argument("--note", default="", help="how the run was made, e.g. 'while the test suite ran'")
    args = parser.parse_args()
    report = run(args.scale, args.keep, max(args.days, 2))
    if args.note:
        report["note"] = f", {args.note}"
    write(report)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
