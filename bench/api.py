"""`make bench-api`: the API under load on a 1M-row KPI table, next to the same SQL run by pgbench (the floor).

1. A synthetic 1M-row `actor_actress_kpis` Delta table is published to its own PostgreSQL database
   (`imdb_bench_api`) through the real publish path: that is the publish time reported.
2. uvicorn serves the API on a free loopback port, reading that database as the read-only role; wrk runs
   `GET /top_actor_actress?role=actor&limit=50` for a bounded time (requests/s, p50/p99 latency).
3. pgbench runs the SQL the endpoint runs, with the same number of connections and time.

Writes the "API" section of BENCHMARKS.md and bench/results/bench-api.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from ingestion import config, publish
from ingestion.serving_db import grant_reader
from ingestion.thrift import session

REPO = config.REPO_ROOT
ROWS = int(os.environ.get("BENCH_API_ROWS", "1000000"))
SECONDS = int(os.environ.get("BENCH_API_SECONDS", "20"))
CONNECTIONS = 16
QUERY = (
    "select nconst, primary_name, role, movies_rated, avg_rating, weighted_rating, total_votes "
    "from actor_actress_kpis where role = 'actor' and movies_rated >= 1 and total_votes >= 0 "
    "order by avg_rating desc, total_votes desc, nconst, role limit 50 offset 0"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def wrk(url: str) -> dict:
    if not shutil.which("wrk"):
        if os.geteuid() == 0:
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
        else:
            raise SystemExit("wrk is missing: sudo apt-get install -y wrk")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url], capture_output=True, text=True
    ).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
    }


def pgbench(reader_url: str) -> dict:
    url = sa.make_url(reader_url)
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "top.sql"
        script.write_text(QUERY + ";\n")
        env = {**os.environ, "PGPASSWORD": url.password or ""}
        cmd = ["pgbench", "-n", "-h", url.host, "-p", str(url.port), "-U", url.username, "-c", str(CONNECTIONS)]
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


def main() -> int:
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

    port = free_port()
    server = subprocess.Popen(
        [str(REPO / ".venv/bin/uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "API_DATABASE_URL": reader_url, "API_POOL_SIZE": str(CONNECTIONS)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/top_actor_actress?role=actor&limit=50"
    try:
        for _ in range(60):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        api = wrk(url)
    finally:
        server.terminate()
        server.wait(timeout=30)
    floor = pgbench(reader_url)
    report = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": ROWS,
        "publish_seconds": round(publish_seconds, 2),
        "publish_kpi_seconds": kpi.seconds,
        "api": api,
        "pgbench": floor,
        "connections": CONNECTIONS,
        "seconds": SECONDS,
    }
    (REPO / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (REPO / "bench" / "results" / "bench-api.json").write_text(json.dumps(report, indent=2) + "\n")
    section = "\n".join(
        [
            "## API",
            "",
            f"Measured {report['measured_at']}: {ROWS:,}-row KPI table, {CONNECTIONS} connections for {SECONDS} s "
            "from a load generator on loopback (2 cores shared by server and load generator).",
            "",
            "| what | requests/s | p50 (ms) | p99 (ms) |",
            "| --- | ---: | ---: | ---: |",
            f"| API `GET /top_actor_actress?role=actor&limit=50` (wrk) | {api['requests_per_second']:,.0f} | "
            f"{api['p50_ms']:.2f} | {api['p99_ms']:.2f} |",
            f"| the same SQL through pgbench (the floor) | {floor['transactions_per_second']:,.0f} | "
            f"{floor['p50_ms']:.2f} | {floor['p99_ms']:.2f} |",
            "",
            f"Publishing the {ROWS:,} rows (stream from the Thrift server, COPY, index, swap): "
            f"{kpi.seconds:.1f} s for the KPI table, {publish_seconds:.1f} s for the whole publish.",
            "",
        ]
    )
    path = REPO / "BENCHMARKS.md"
    text = path.read_text() if path.is_file() else "# Benchmarks\n\n"
    text = re.sub(r"\n## API\n.*?(?=\n## |\Z)", "", text, flags=re.S).rstrip() + "\n\n" + section
    path.write_text(text)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
