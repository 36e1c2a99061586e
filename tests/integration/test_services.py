"""`make up` / `make status` / `make down`: idempotent, truthful, and leaving no process of ours behind.

Runs last (see conftest.pytest_collection_modifyitems): it stops the shared services, then starts them again.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.config import REPO_ROOT, settings

pytestmark = [pytest.mark.integration, pytest.mark.lifecycle]


def make(*targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *targets], cwd=REPO_ROOT, capture_output=True, text=True)


def our_processes() -> list[str]:
    """Processes whose command line names our DATA_DIR (the Thrift server's JVM, the postgres cluster)."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    data_dir = str(settings().data_dir)
    return [line for line in out.splitlines() if data_dir in line and "pytest" not in line and " ps " not in line]


def test_up_twice_status_down_leaves_nothing(thrift_server, postgres_server):
    first, second = make("up"), make("up")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stderr

    status = make("status").stdout
    thrift_port, pg_port = os.environ.get("THRIFT_PORT", "10000"), os.environ.get("PG_PORT", "5433")
    assert "spark-thrift  running" in status and f"127.0.0.1:{thrift_port} " in status
    assert "postgres      running" in status and f"127.0.0.1:{pg_port} " in status

    api = make("api")
    assert api.returncode == 0, api.stderr
    api_pid = int((settings().data_dir / "run" / "api.pid").read_text())

    down = make("down")
    assert down.returncode == 0, down.stderr
    assert our_processes() == []
    assert not Path(f"/proc/{api_pid}").exists()  # the API server itself, not just a wrapper shell
    status = make("status").stdout
    assert "spark-thrift  stopped" in status and "postgres      stopped" in status

    assert make("down").returncode == 0  # stopping twice is harmless too

    again = make("up")
    assert again.returncode == 0, again.stderr
    assert "spark-thrift  running" in make("status").stdout
