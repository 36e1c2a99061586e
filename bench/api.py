"""`make bench-api`: the API under load on a 1M-row KPI table, next to the same SQL run by pgbench (the floor).

1. A synthetic 1M-row `actor_actress_kpis` Delta table is published to its own PostgreSQL database
   (`imdb_bench_api`) through the real publish path: that is the publish time reported.
2. The API as deployed (`python -m api`: one worker per core) reads that database as the read-only role,
   with its answer cache off, then on. For each, wrk runs `GET /top_actor_actress?role=actor&limit=50` with
   16, 100 and 1,000 connections for BENCH_API_SECONDS each (default 15): requests/s, p50/p99 latency,
   200s, 503s (the fast refusals past the in-flight bound) and errors (socket errors, time-outs after
   2 s, any other status). During and right after the 1,000-connection runs, /health is timed.
3. With the cache off and 16 connections, a paced run at half the measured rate gives the p99 the target
   names ("p99 <= 25 ms at half load").
4. pgbench runs the SQL the endpoint runs, 16 connections, before and after the sweep (their mean is the
   floor the ratios use: the machine's load may drift).

Everything is bounded in time (about 4 minutes on 2 cores). Writes bench/results/bench-api.json and the
"API" section of BENCHMARKS.md, with the ratios to the SPEC's targets and how busy the machine was with
other work just before the sweep.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from core import config
from core.thrift import session
from serving import publish
from serving.roles import grant_reader

REPO = config.REPO_ROOT
ROWS = int(os.environ.get("BENCH_API_ROWS", "1000000"))
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "15"))
SWEEP = (16, 100, 1000)
PATH = "/top_actor_actress?role=actor&limit=50"
QUERY = (
    "select nconst, primary_name, role, movies_rated, avg_rating, weighted_rating, total_votes "
    "from actor_actress_kpis where role = 'actor' and movies_rated >= 1 and total_votes >= 0 "
    "order by avg_rating desc, total_votes desc, nconst, role limit 50 offset 0"
)
TARGETS = {"cache_off_share": 0.25, "cache_on_share": 1.0, "half_load_p99_ms": 25.0, "health_seconds": 1.0}

# wrk's Lua hooks: done() prints what the summary lacks (p50/p99 in µs, socket errors); `count` adds a
# response() hook counting statuses per thread (it costs wrk some speed, so only the crowded runs use it);
# `pace` waits before each request on each connection (the half-load run).
LUA_DONE = """
threads = {}
function setup(thread) table.insert(threads, thread) end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    if c then for k, v in pairs(c) do total[k] = (total[k] or 0) + v end end
  end
  io.write("STATUS")
  for k, v in pairs(total) do io.write(string.format(" %d=%d", k, v)) end
  io.write("\\n")
  local e = summary.errors
  io.write(string.format("ERRORS connect=%d read=%d write=%d timeout=%d status=%d\\n",
    e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("LATENCY p50=%d p99=%d\\n", latency:percentile(50), latency:percentile(99)))
end
"""
LUA_COUNT = """
counts = {}
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
"""
LUA_PACE = """
function delay() return {delay_ms} end
"""


def database() -> tuple[str, str]:
    writer = sa.make_url(config.database_url())
    reader = sa.make_url(config.database_url(read_only=True))
    admin = sa.create_engine(writer, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        if not c.execute(sa.text("select 1 from pg_database where datname = 'imdb_bench_api'")).scalar():
            c.execute(sa.text("create database imdb_bench_api"))
    admin.dispose()
    engine = sa.create_engine(writer.set(database="imdb_bench_api"), isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        grant_reader(c, reader.username)
    engine.dispose()
    return (
        writer.set(database="imdb_bench_api").render_as_string(hide_password=False),
        reader.set(database="imdb_bench_api").render_as_string(hide_password=False),
    )


def make_source(prefix: str) -> None:
    with session() as spark:
        spark.execute(f"create schema if not exists {prefix}aggregated")
        spark.execute(
            f"create or replace table {prefix}aggregated.actor_actress_kpis using delta as "
            "select concat('nm', lpad(cast(id as string), 8, '0')) as nconst, "
            "case when id % 2 = 0 then 'actor' else 'actress' end as role, "
            "concat('Person ', id) as primary_name, cast(1 + id % 40 as bigint) as movies_rated, "
            "round(1 + rand(7) * 9, 4) as avg_rating, round(1 + rand(8) * 9, 4) as weighted_rating, "
            "cast(pow(10, 1 + rand(9) * 5) as bigint) as total_votes, current_timestamp() as updated_at "
            f"from range({ROWS})"
        )


def require_wrk() -> None:
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    else:
        raise SystemExit("wrk is missing: sudo apt-get install -y wrk")


def _many_files() -> None:  # runs in the wrk child: 1,000 sockets need more than a soft limit of 1,024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def wrk(url: str, connections: int, *, count: bool, delay_ms: float | None = None) -> dict:
    script = LUA_DONE + (LUA_COUNT if count else "") + (LUA_PACE.format(delay_ms=delay_ms) if delay_ms else "")
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as lua:
        lua.write(script)
        lua.flush()
        cmd = ["wrk", "-t2", f"-c{connections}", f"-d{SECONDS}s", "--timeout", "2s", "-s", lua.name, url]
        out = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=_many_files).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    statuses = {int(k): int(v) for k, v in re.findall(r" (\d+)=(\d+)", re.search(r"^STATUS(.*)$", out, re.M)[1])}
    errors = dict(re.findall(r"(\w+)=(\d+)", re.search(r"^ERRORS(.*)$", out, re.M)[1]))
    p50, p99 = (int(v) / 1000 for v in re.search(r"^LATENCY p50=(\d+) p99=(\d+)", out, re.M).groups())
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    socket_errors = sum(int(errors[k]) for k in ("connect", "read", "write", "timeout"))
    if not count:  # without the response hook every non-2xx is unexplained
        statuses = {200: requests - non_2xx, **({0: non_2xx} if non_2xx else {})}
    other = sum(n for s, n in statuses.items() if s not in (200, 503))
    return {
        "connections": connections,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "ok_200": statuses.get(200, 0),
        "refused_503": statuses.get(503, 0),
        "errors": socket_errors + other,
        "socket_errors": {k: int(v) for k, v in errors.items() if k != "status"},
    }


def pgbench(reader_url: str, connections: int = 16) -> dict:
    url = sa.make_url(reader_url)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "top.sql"
        script.write_text(QUERY + ";\n")
        env = {**os.environ, "PGPASSWORD": url.password or ""}
        cmd = ["pgbench", "-n", "-h", url.host, "-p", str(url.port), "-U", url.username, "-c", str(connections)]
        cmd += ["-j", "2", "-T", str(SECONDS), "-f", str(script), "-l", "--log-prefix", f"{tmp}/log", url.database]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        latencies = []
        for log in Path(tmp).glob("log*"):
            latencies += [int(line.split()[2]) / 1000 for line in log.read_text().splitlines()]
    qs = statistics.quantiles(latencies, n=100)
    tps = float(re.search(r"tps = ([\d.]+)", out.stdout).group(1))
    return {"transactions_per_second": tps, "p50_ms": round(qs[49], 3), "p99_ms": round(qs[98], 3)}


def timed_get(url: str, timeout: float = 5) -> tuple[int | None, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, time.monotonic() - started
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - started
    except OSError:
        return None, time.monotonic() - started


class HealthProbe:
    """/health every half second on a fresh connection, in a thread, while a crowded run goes on."""

    def __init__(self, base: str) -> None:
        self.url = base + "/health"
        self.answers: list[tuple[int | None, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        time.sleep(1)  # once the crowd is connected
        while not self._stop.wait(0.5):
            self.answers.append(timed_get(self.url))


def machine_busy(seconds: float = 3) -> float:
    """Share of the machine's CPU time spent busy over a few seconds (before our load starts: others' work)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields) - idle, sum(fields)

    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(total1 - total0, 1)


class Api:
    """`python -m api` (as services/api.sh runs it) on a free loopback port."""

    def __init__(self, reader_url: str, **settings: str) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "API_DATABASE_URL": reader_url, "API_PORT": str(self.port), **settings}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "api"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def __enter__(self) -> Api:
        for _ in range(240):
            if timed_get(self.base + PATH, timeout=2)[0] == 200:
                time.sleep(2)  # every worker up (they import in parallel), not just the first one
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"python -m api exited with {self.proc.returncode}")
            time.sleep(0.5)
        raise RuntimeError("python -m api did not answer within 2 minutes")

    def __exit__(self, *_: object) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def api_settings() -> dict:
    """The API's effective settings, as the server reads them (this file's name hides the `api` package)."""
    code = (
        "import json; from api.settings import Settings; s = Settings(); "
        "print(json.dumps({'workers': s.workers, 'max_in_flight': s.max_in_flight}))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def sweep(reader_url: str, cache: bool) -> dict:
    runs, health = [], {}
    with Api(reader_url, API_CACHE=str(cache).lower()) as api:
        url_of = api.base + PATH
        timed_get(url_of)  # warm: the compiled statement, the cache
        for connections in SWEEP:
            print(f"  cache {'on' if cache else 'off'}, {connections} connections, {SECONDS} s", flush=True)
            crowded = connections > 16
            if connections == max(SWEEP):
                with HealthProbe(api.base) as probe:
                    run = wrk(url_of, connections, count=True)
                after = [timed_get(api.base + "/health"), timed_get(url_of)]
                health = {
                    "during_max_seconds": round(max((s for _, s in probe.answers), default=float("nan")), 3),
                    "during_statuses": sorted({st for st, _ in probe.answers}, key=str),
                    "during_probes": len(probe.answers),
                    "after_health": {"status": after[0][0], "seconds": round(after[0][1], 3)},
                    "after_request": {"status": after[1][0], "seconds": round(after[1][1], 3)},
                }
            else:
                run = wrk(url_of, connections, count=crowded)
            runs.append(run)
            time.sleep(2)  # let closed connections drain between runs
        half = None
        if not cache:
            full = runs[0]["requests_per_second"]
            # each of the 16 connections waits before each request: at most half the measured rate overall
            delay_ms = 1000 * 16 / (full / 2)
            print(f"  cache off, 16 connections paced to at most {full / 2:,.0f} req/s", flush=True)
            half = wrk(url_of, 16, count=False, delay_ms=round(delay_ms, 3))
    return {"cache": cache, "runs": runs, "health_at_1000": health, "half_load": half}


def fmt_health(h: dict) -> str:
    if not h:
        return "-"
    return (
        f"during: max {h['during_max_seconds']:.3f} s over {h['during_probes']} probes, "
        f"statuses {h['during_statuses']}; right after: /health {h['after_health']['status']} in "
        f"{h['after_health']['seconds']:.3f} s, a request {h['after_request']['status']} in "
        f"{h['after_request']['seconds']:.3f} s"
    )


def report_section(report: dict) -> str:
    floor = report["pgbench_floor_tps"]
    off, on = report["cache_off"], report["cache_on"]
    half = off["half_load"]
    r = report["ratios"]
    busy = report["machine_busy_before"]
    contention = (
        f" **Measured under contention:** the machine was {busy:.0%} busy with other work just before the sweep "
        "(its 2 cores are shared with other sessions); re-run alone for reference numbers."
        if busy > 0.10
        else f" The machine was {busy:.0%} busy with other work just before the sweep."
    )
    lines = [
        "## API",
        "",
        f"Measured {report['measured_at']} with `make bench-api`: {report['rows']:,}-row KPI table, "
        f"`GET {PATH}` from wrk on loopback, {report['seconds']} s per run, the API as deployed "
        f"(`python -m api`, {report['workers']} workers, in-flight bound {report['max_in_flight']} per worker), "
        "server, database and load generator on the same 2 cores." + contention,
        "",
        "| cache | connections | requests/s | p50 (ms) | p99 (ms) | 200 | 503 | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for sweep_ in (off, on):
        for run in sweep_["runs"]:
            lines.append(
                f"| {'on' if sweep_['cache'] else 'off'} | {run['connections']:,} | {run['requests_per_second']:,.0f} "
                f"| {run['p50_ms']:.2f} | {run['p99_ms']:.2f} | {run['ok_200']:,} | {run['refused_503']:,} "
                f"| {run['errors']:,} |"
            )
    lines += [
        f"| off, paced to half the rate | 16 | {half['requests_per_second']:,.0f} | {half['p50_ms']:.2f} "
        f"| {half['p99_ms']:.2f} | {half['ok_200']:,} | {half['refused_503']:,} | {half['errors']:,} |",
        "",
        "| pgbench, the same SQL (the floor) | connections | transactions/s | p50 (ms) | p99 (ms) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for label, pg in (("before the sweep", report["pgbench_before"]), ("after the sweep", report["pgbench_after"])):
        lines.append(
            f"| {label} | 16 | {pg['transactions_per_second']:,.0f} | {pg['p50_ms']:.2f} | {pg['p99_ms']:.2f} |"
        )
    lines += [
        "",
        "Errors are socket errors, time-outs (2 s) and any status but 200 or 503; 503 is the API's fast refusal "
        "past its in-flight bound (with `Retry-After`). The 16-connection runs do not count statuses (wrk's "
        "response hook would slow it): their 503 column is 0 and any non-2xx shows as an error.",
        "",
        "| target (SPEC, 2 cores) | measured | ratio |",
        "| --- | --- | ---: |",
        f"| 16 connections, cache off: at least 25% of pgbench's rate | {off['runs'][0]['requests_per_second']:,.0f} "
        f"of {floor:,.0f}/s = {r['cache_off_share']:.1%} | {r['cache_off_share'] / TARGETS['cache_off_share']:.2f}× |",
        f"| 16 connections, cache on: at least pgbench's rate | {on['runs'][0]['requests_per_second']:,.0f} "
        f"of {floor:,.0f}/s = {r['cache_on_share']:.0%} | {r['cache_on_share'] / TARGETS['cache_on_share']:.2f}× |",
        f"| p99 at half load (cache off, 16 connections) at most 25 ms | {half['p99_ms']:.2f} ms at "
        f"{half['requests_per_second']:,.0f}/s | {TARGETS['half_load_p99_ms'] / max(half['p99_ms'], 1e-9):.2f}× |",
        f"| 1,000 connections: no error, only 200 or 503 | cache off {off['runs'][-1]['errors']:,} errors, "
        f"cache on {on['runs'][-1]['errors']:,} errors | - |",
        f"| /health within 1 s during and right after 1,000 connections | cache off {r['health_off_max_s']:.3f} s, "
        f"cache on {r['health_on_max_s']:.3f} s (slowest) | {1 / max(r['health_max_s'], 1e-9):.2f}× |",
        "",
        f"/health at 1,000 connections, cache off — {fmt_health(off['health_at_1000'])}.",
        f"Cache on — {fmt_health(on['health_at_1000'])}.",
        "",
        f"Publishing the {report['rows']:,} rows (stream from the Thrift server, COPY, index, swap): "
        f"{report['publish_kpi_seconds']:.1f} s for the KPI table, {report['publish_seconds']:.1f} s for the whole "
        "publish.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    require_wrk()
    prefix = "benchapi_"
    os.environ["IMDB_SCHEMA_PREFIX"] = prefix
    writer_url, reader_url = database()
    print(f"source: {ROWS:,} synthetic KPI rows", flush=True)
    make_source(prefix)
    t0 = time.monotonic()
    result = publish.publish(dt.date(2026, 1, 15), database_url=writer_url)
    publish_seconds = time.monotonic() - t0
    kpi = next(t for t in result.tables if t.table == "actor_actress_kpis")
    print(result.summary(), flush=True)

    settings = api_settings()
    busy = machine_busy()
    print(f"machine {busy:.0%} busy with other work; pgbench, 16 connections", flush=True)
    pg_before = pgbench(reader_url)
    cache_off = sweep(reader_url, cache=False)
    cache_on = sweep(reader_url, cache=True)
    print("pgbench again", flush=True)
    pg_after = pgbench(reader_url)
    floor = (pg_before["transactions_per_second"] + pg_after["transactions_per_second"]) / 2

    def health_max(s: dict) -> float:
        h = s["health_at_1000"]
        return max(h["during_max_seconds"], h["after_health"]["seconds"])

    report = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": ROWS,
        "seconds": SECONDS,
        "workers": settings["workers"],
        "max_in_flight": settings["max_in_flight"],
        "machine_busy_before": round(busy, 3),
        "publish_seconds": round(publish_seconds, 2),
        "publish_kpi_seconds": kpi.seconds,
        "pgbench_before": pg_before,
        "pgbench_after": pg_after,
        "pgbench_floor_tps": round(floor, 1),
        "cache_off": cache_off,
        "cache_on": cache_on,
        "ratios": {
            "cache_off_share": round(cache_off["runs"][0]["requests_per_second"] / floor, 4),
            "cache_on_share": round(cache_on["runs"][0]["requests_per_second"] / floor, 4),
            "half_load_p99_ms": cache_off["half_load"]["p99_ms"],
            "health_off_max_s": health_max(cache_off),
            "health_on_max_s": health_max(cache_on),
            "health_max_s": max(health_max(cache_off), health_max(cache_on)),
        },
        "targets": TARGETS,
    }
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / "bench-api.json").write_text(json.dumps(report, indent=2) + "\n")
    section = report_section(report)
    path = REPO / "BENCHMARKS.md"
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    text = re.sub(r"\n## API\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
    path.write_text(text)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
