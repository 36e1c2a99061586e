"""The whole local stack up — `make up`, `make airflow`, `make api`, `make docs` — is private by default: every
socket the stack's processes listen on is bound to loopback, files holding secrets (and logs that print them)
are readable by their owner only, and PostgreSQL's local socket asks for a password. And an operator sees what
runs: the Spark UI answers, Airflow's health panel is all green (a triggerer runs), and `make airflow` says
whether the daily schedule is on and how to switch it."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import service

from core.config import REPO_ROOT, settings

pytestmark = pytest.mark.integration

SERVICES = ("airflow.sh", "api.sh", "docs.sh")  # on top of the Thrift server and PostgreSQL (fixtures)


@pytest.fixture(scope="module")
def stack(thrift_server: None, postgres_server: None) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    """Start what is not running yet (or start it again: every start is idempotent); stop only what we started."""
    started, outputs = [], {}
    try:
        for script in SERVICES:
            was_running = service(script, "status").returncode == 0
            outputs[script] = service(script, "start")
            if not was_running:
                started.append(script)
            assert outputs[script].returncode == 0, f"services/{script} start failed:\n{outputs[script].stderr}"
        yield outputs
    finally:
        if not os.environ.get("KEEP_SERVICES"):
            for script in reversed(started):
                service(script, "stop")


def descendants(roots: set[int]) -> set[int]:
    children: dict[int, set[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        children.setdefault(int(fields[1]), set()).add(int(stat.parent.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, ())
    return found


def stack_pids() -> set[int]:
    """Every process the stack's start scripts started (their pid files, PostgreSQL's postmaster), with children."""
    roots = set()
    for pidfile in (settings().data_dir / "run").glob("*.pid"):
        text = pidfile.read_text().strip()
        if text.isdigit() and Path(f"/proc/{text}").exists():
            roots.add(int(text))
    postgres = re.search(r"running\s+pid (\d+)", service("postgres.sh", "status").stdout)
    assert postgres, "postgres is not running"
    roots.add(int(postgres[1]))
    return descendants(roots)


def address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """/proc/net/tcp{,6} local address (host byte order, per 32-bit word) to an IP address."""
    raw = bytes.fromhex(hex_address)
    return ipaddress.ip_address(b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4)))


def listening(pids: set[int]) -> dict[tuple[str, int], int]:
    """(address, port) -> pid of every TCP socket in LISTEN state that one of `pids` holds."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and inode in inodes:  # 0A: LISTEN
                host, port = local.split(":")
                found[(str(address(host)), int(port, 16))] = inodes[inode]
    return found


def loopback(text: str) -> bool:
    ip = ipaddress.ip_address(text)
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def spark_ui_port() -> int:
    match = re.search(r"Spark UI http://127\.0\.0\.1:(\d+)", service("thrift.sh", "status").stdout)
    assert match, "thrift.sh status names no Spark UI"
    return int(match[1])


def test_every_listener_of_the_stack_is_on_loopback(stack):
    pids = stack_pids()
    sockets = listening(pids)
    exposed = {
        f"{host}:{port}": Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
        for (host, port), pid in sockets.items()
        if not loopback(host)
    }
    assert exposed == {}, "listening beyond loopback"
    # and the walk above did see the whole stack
    ports = {port for _, port in sockets}
    env = os.environ
    expected = {
        "thrift": int(env.get("THRIFT_PORT", 10000)),
        "spark ui": spark_ui_port(),
        "postgres": int(env.get("PG_PORT", 5433)),
        "airflow": int(env.get("AIRFLOW_PORT", 8080)),
        "api": int(env.get("API_PORT", 8008)),
        "dbt docs": int(env.get("DOCS_PORT", 8081)),
    }
    assert {name: port for name, port in expected.items() if port not in ports} == {}
    print(f"{len(sockets)} listening sockets of {len(pids)} processes, all on loopback: {sorted(sockets)}")


def test_the_spark_ui_shows_the_servers_statements(stack):
    with urllib.request.urlopen(f"http://127.0.0.1:{spark_ui_port()}/SQL/", timeout=30) as response:
        assert response.status == 200
        assert "SQL" in response.read().decode(errors="replace")


def test_airflow_is_all_green_and_says_whether_the_schedule_is_on(stack):
    port = int(os.environ.get("AIRFLOW_PORT", 8080))
    health: dict = {}
    for _ in range(90):  # the triggerer and the DAG processor report after their first heartbeat
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=10) as response:
            health = json.load(response)
        if all(part.get("status") == "healthy" for part in health.values()):
            break
        time.sleep(2)
    assert {name: part.get("status") for name, part in health.items()} == {
        "metadatabase": "healthy",
        "scheduler": "healthy",
        "triggerer": "healthy",
        "dag_processor": "healthy",
    }
    said = stack["airflow.sh"].stderr
    assert re.search(r"imdb_pipeline is (PAUSED|ON)", said), said
    assert re.search(r"make schedule-(on|off)", said), said
    assert "downloads" in said and "/cache/<date>/" in said  # what a scheduled day fetches, and where to


def test_files_holding_secrets_and_logs_printing_them_are_private(stack):
    data = settings().data_dir
    private = [
        REPO_ROOT / ".env",
        data / "airflow" / "simple_auth_manager_passwords.json.generated",
        data / "airflow" / "secrets.env",
        data / "logs" / "airflow-api-server.log",  # prints the generated admin password
        data / "logs" / "postgres.log",
    ]
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in private if p.stat().st_mode & 0o077}
    assert modes == {}


def test_postgres_local_socket_wants_a_password_and_its_directory_is_private(stack):
    where = settings().data_dir / "postgres" / "WHERE"
    base = Path(where.read_text().strip()) if where.is_file() else settings().data_dir / "postgres"
    socket_dir = base / "socket"
    assert socket_dir.stat().st_mode & 0o077 == 0, oct(socket_dir.stat().st_mode)
    psql = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))[-1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    for role in ("postgres", "imdb_writer"):
        cmd = [str(psql), "-h", str(socket_dir), "-p", os.environ.get("PG_PORT", "5433"), "-U", role, "-w"]
        cmd += ["-d", "postgres", "-c", "select 1"]
        if os.geteuid() == 0:  # the socket's directory is the cluster owner's: try as that user, who can reach it
            cmd = [shutil.which("runuser") or "runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, env=env, capture_output=True, text=True)
        assert result.returncode != 0 and "password" in result.stderr, (role, result.stdout, result.stderr)
