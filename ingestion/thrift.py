"""The one place that opens connections to the Spark Thrift server (PyHive, the same driver dbt-spark uses).

All Spark work of the loader goes through here: there is no second Spark JVM (the embedded Derby metastore
allows one), and each connection is its own Spark session (temp views and SQL confs are per connection).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyhive import hive

from ingestion.config import settings

log = logging.getLogger(__name__)
# PyHive logs every statement at INFO; ours are logged at DEBUG with their duration instead.
logging.getLogger("pyhive").setLevel(logging.WARNING)


_recorders: list[list[tuple[float, str]]] = []


@contextmanager
def recorded_statements() -> Iterator[list[tuple[float, str]]]:
    """Collect (seconds, statement) of every statement this process sends while the block runs (make bench
    shows the slowest ones of each stage)."""
    out: list[tuple[float, str]] = []
    _recorders.append(out)
    try:
        yield out
    finally:
        _recorders.remove(out)


class ThriftError(RuntimeError):
    """A statement failed on the Spark Thrift server; carries the statement and Spark's message."""


class Session:
    """A Spark session over one Thrift connection."""

    def __init__(self, conn: hive.Connection) -> None:
        self._conn = conn
        self._cursor = conn.cursor()

    def execute(self, sql: str) -> None:
        self._run(sql)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        self._run(sql)
        return self._cursor.fetchall()

    def scalar(self, sql: str) -> Any:
        rows = self.query(sql)
        return rows[0][0] if rows else None

    def columns(self) -> list[str]:
        return [d[0].split(".")[-1] for d in self._cursor.description or []]

    def _run(self, sql: str) -> None:
        started = time.monotonic()
        try:
            self._cursor.execute(sql)
        except Exception as exc:  # PyHive raises OperationalError with a thrift status inside
            message = _spark_message(exc)
            raise ThriftError(f"{message}\n  in: {_shorten(sql)}") from exc
        seconds = time.monotonic() - started
        log.debug("%.2fs %s", seconds, _shorten(sql))
        for out in _recorders:
            out.append((round(seconds, 3), _shorten(sql, 200)))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection is not worth an error
            self._conn.close()


def _shorten(sql: str, limit: int = 300) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= limit else flat[:limit] + " …"


def _spark_message(exc: Exception) -> str:
    """Spark's own error text out of PyHive's exception (which wraps a thrift TStatus)."""
    for arg in getattr(exc, "args", ()):
        status = getattr(arg, "status", None)
        if status is not None and getattr(status, "errorMessage", None):
            return status.errorMessage.strip().splitlines()[0]
    return str(exc)


@contextmanager
def session(host: str | None = None, port: int | None = None) -> Iterator[Session]:
    """Open a Thrift session; the error names the address and how to start the server."""
    cfg = settings()
    host = host or cfg.thrift_host
    port = port or cfg.thrift_port
    try:
        conn = hive.connect(host=host, port=port, username="imdb")
    except Exception as exc:
        raise ThriftError(
            f"cannot reach the Spark Thrift server at {host}:{port} ({exc}); start it with `make up`"
        ) from exc
    s = Session(conn)
    try:
        yield s
    finally:
        s.close()
