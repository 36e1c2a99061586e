"""One pipeline run at a time: a lease over a whole day's run (download, landing, dbt, publish).

Airflow runs each task in a process of its own, so a lock held by one process cannot span the run. The lease
is a small JSON file, DATA_DIR/run/pipeline.lease, only ever changed under an exclusive flock of its sidecar
`.lock`. It names the run that holds it, the process working for it right now (host, pid, task) and since
when. It is free when nobody holds it, when its holder process has died (same host: the pid is gone), or when
its heartbeat is older than the TTL (another host, or a process that hung without dying).

Between two tasks of one run no process holds it: the ending task *parks* it (no pid, heartbeat now), and it
stays reserved for that run for IMDB_LEASE_GAP_SECONDS, so another run cannot slip in between landing and
dbt. The run's last task releases it. A task of the same run (a retry, the next task) takes it over at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from core import config

log = logging.getLogger(__name__)


class LeaseHeld(RuntimeError):
    """Another run holds the lease; the message names it, the process and since when."""


@dataclass
class Lease:
    run_id: str
    task: str  # what the holder is doing ("landing", "dbt.dim_title.run", …)
    host: str
    pid: int | None  # None: parked between two tasks of the run
    since: float  # when the run took the lease (epoch seconds)
    heartbeat: float

    def describe(self, now: float) -> str:
        since = dt.datetime.fromtimestamp(self.since, dt.UTC).isoformat(timespec="seconds")
        who = f"pid {self.pid} on {self.host}" if self.pid else "between two of its tasks"
        return f"run {self.run_id} ({self.task}, {who}) since {since}, last heartbeat {now - self.heartbeat:.0f} s ago"


def _ttl() -> float:
    return config.settings().lease_ttl_seconds


def _gap() -> float:
    return config.settings().lease_gap_seconds


def _path() -> Path:
    run = config.settings().data_dir / "run"
    run.mkdir(parents=True, exist_ok=True)
    return run / "pipeline.lease"


@contextmanager
def _locked() -> Iterator[Path]:
    path = _path()
    with open(path.with_suffix(".lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _read(path: Path) -> Lease | None:
    try:
        return Lease(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write(path: Path, lease: Lease | None) -> None:
    if lease is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(lease)))
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _live(lease: Lease, now: float) -> bool:
    if lease.pid is None:
        return now - lease.heartbeat < _gap()
    if lease.host == socket.gethostname() and not _pid_alive(lease.pid):
        return False  # its holder died: free at once
    return now - lease.heartbeat < _ttl()


def current() -> Lease | None:
    """The live lease, if any."""
    with _locked() as path:
        lease = _read(path)
        return lease if lease is not None and _live(lease, time.time()) else None


def acquire(run_id: str, task: str) -> Lease:
    """Take the lease for `run_id` in this process; raises LeaseHeld when another run holds it."""
    now = time.time()
    with _locked() as path:
        held = _read(path)
        if held is not None and held.run_id != run_id and _live(held, now):
            raise LeaseHeld(
                f"another pipeline run holds the lease: {held.describe(now)}. One run at a time (landing, dbt and "
                f"publish share the landing staging tables and the KPI's bookkeeping); wait for it, or, if it is "
                f"gone, remove {path}"
            )
        since = held.since if held is not None and held.run_id == run_id else now
        lease = Lease(run_id, task, socket.gethostname(), os.getpid(), since, now)
        _write(path, lease)
        return lease


def _update(run_id: str, **changes: object) -> None:
    with _locked() as path:
        held = _read(path)
        if held is not None and held.run_id == run_id:
            for k, v in changes.items():
                setattr(held, k, v)
            _write(path, held)


def park(run_id: str) -> None:
    """End of a task that is not the run's last: keep the lease for the run's next task."""
    _update(run_id, pid=None, heartbeat=time.time())


def release(run_id: str) -> None:
    """End of the run: free the lease (only if this run holds it)."""
    with _locked() as path:
        held = _read(path)
        if held is not None and held.run_id == run_id:
            _write(path, None)


class _Heartbeat(threading.Thread):
    def __init__(self, run_id: str) -> None:
        super().__init__(daemon=True, name=f"lease-heartbeat-{run_id}")
        self.run_id = run_id
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(max(_ttl() / 4, 1)):
            try:
                _update(self.run_id, heartbeat=time.time())
            except OSError:  # a full disk must not kill the work; the lease then expires
                log.exception("lease heartbeat failed")


@contextmanager
def held(run_id: str, task: str, *, end_of_run: bool) -> Iterator[Lease]:
    """Hold the lease while the block runs, with a heartbeat; park it after (release it at the end of a run)."""
    lease = acquire(run_id, task)
    beat = _Heartbeat(run_id)
    beat.start()
    try:
        yield lease
    finally:
        beat.stop.set()
        beat.join()
        release(run_id) if end_of_run else park(run_id)


_beats: dict[str, _Heartbeat] = {}


def hold_in_this_process(run_id: str, task: str) -> None:
    """For an Airflow task whose work is not ours to wrap (a Cosmos dbt task): take the lease and beat until
    `park_in_this_process` (the task's success or failure callback) or the process ends."""
    acquire(run_id, task)
    if run_id not in _beats:
        _beats[run_id] = beat = _Heartbeat(run_id)
        beat.start()


def park_in_this_process(run_id: str) -> None:
    beat = _beats.pop(run_id, None)
    if beat is not None:
        beat.stop.set()
    park(run_id)
