"""The API as it is deployed (`python -m api`: a uvicorn supervisor and its worker processes) on a free
loopback port, for tests that need several workers or a real crowd; and a minimal raw HTTP/1.1 client whose
cost per request is small enough to send a thousand at once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

from core.config import REPO_ROOT


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_api(reader_url: str, **settings: str) -> Iterator[int]:
    """`python -m api` reading `reader_url`, with API_* settings (e.g. API_WORKERS="2"); yields its port.

    Stopped afterwards by its pid (the supervisor ends its workers); its log is shown when it fails to start.
    """
    port = free_port()
    env = {**os.environ, "API_DATABASE_URL": reader_url, "API_HOST": "127.0.0.1", "API_PORT": str(port), **settings}
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([sys.executable, "-m", "api"], cwd=REPO_ROOT, env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 90  # a busy 2-core machine imports slowly
            workers = int(settings.get("API_WORKERS", "1"))
            while True:
                log.seek(0)
                started = log.read().count("Application startup complete")
                if started >= workers and _answers(port):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"python -m api did not start (exit {proc.poll()}):\n{log.read()[-4000:]}")
                time.sleep(0.1)
            yield port
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def allow_many_open_files(needed: int) -> None:
    """A thousand client sockets in this process need more than the usual soft limit of 1,024 files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(needed, soft), hard), hard))


@dataclass
class Answer:
    status: int | None  # None: no answer (refused, reset, or timed out)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    error: str | None = None


async def http_get(port: int, path: str, *, timeout: float, headers: dict[str, str] | None = None) -> Answer:
    """One GET on its own connection (`Connection: close`), never raising: failures are in the Answer."""
    started = time.monotonic()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
            writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            body = await reader.read()
        lines = head.decode("latin-1").split("\r\n")
        parsed = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
        return Answer(int(lines[0].split(" ")[1]), {k.lower(): v for k, v in parsed.items()}, body,
                      time.monotonic() - started)  # fmt: skip
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        return Answer(None, seconds=time.monotonic() - started, error=f"{type(exc).__name__}: {exc}")
    finally:
        if writer is not None:
            writer.close()


async def from_every_worker(
    port: int, path: str, workers: int, *, until: str = "any", rounds: int = 50, per_round: int = 20
) -> list[Answer]:
    """Concurrent GETs of `path`, round after round, until each of `workers` worker processes (told apart by
    their X-API-Worker header) has answered, or, with until="HIT", has answered from its cache. Connections
    go to whichever worker accepts them first, so only a crowd reaches them all."""
    answers: list[Answer] = []
    for _ in range(rounds):
        answers += await asyncio.gather(*[http_get(port, path, timeout=10) for _ in range(per_round)])
        done = {
            a.headers.get("x-api-worker")
            for a in answers
            if a.status == 200 and (until == "any" or a.headers.get("x-cache") == until)
        }
        if len(done) >= workers:
            return answers
    seen = {a.headers.get("x-api-worker") for a in answers}
    raise AssertionError(f"after {rounds} rounds only workers {seen} answered (until {until}): {answers[-1]}")
