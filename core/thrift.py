"""The one place that opens connections to the Spark Thrift server (PyHive, the same driver dbt-spark uses).

All Spark work of the loader goes through here: there is no second Spark JVM (the embedded Derby metastore
allows one), and each connection is its own Spark session (temp views and SQL confs are per connection).

Deadlines: every Thrift call has a socket timeout (THRIFT_SOCKET_TIMEOUT_SECONDS, 300), so a server that stops
answering fails the call instead of hanging the run; statements run asynchronously and are polled, so a long
one is fine, but one still running after THRIFT_STATEMENT_TIMEOUT_SECONDS (7,200: the slowest statement at full
IMDb scale takes ~15 minutes) is cancelled and fails naming the statement.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pyhive import hive
from TCLIService.ttypes import TOperationState

from core.config import settings

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


_RUNNING = (TOperationState.INITIALIZED_STATE, TOperationState.PENDING_STATE, TOperationState.RUNNING_STATE)


def statement_timeout() -> float:
    return settings().thrift_statement_timeout_seconds


def socket_timeout() -> float:
    return settings().thrift_socket_timeout_seconds


class Session:
    """A Spark session over one Thrift connection."""

    def __init__(self, conn: hive.Connection) -> None:
        self._conn = conn
        self._cursor = conn.cursor()
        self.address = ""

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

    def detail(self, table: str) -> dict[str, Any]:
        """A Delta table's `describe detail`, by column name (numFiles, sizeInBytes, id, ...)."""
        row = self.query(f"describe detail {table}")[0]
        return dict(zip(self.columns(), row, strict=False))

    def _run(self, sql: str) -> None:
        started = time.monotonic()
        deadline = started + statement_timeout()
        try:
            self._cursor.execute(sql, async_=True)
            wait = 0.01
            while (state := self._cursor.poll(get_progress_update=False)).operationState in _RUNNING:
                if time.monotonic() > deadline:
                    with contextlib.suppress(Exception):
                        self._cursor.cancel()
                    raise ThriftError(
                        f"statement still running after {statement_timeout():.0f} s "
                        f"(THRIFT_STATEMENT_TIMEOUT_SECONDS), cancelled: {_shorten(sql)}"
                    )
                time.sleep(wait)
                wait = min(wait * 2, 0.5)
            if state.operationState != TOperationState.FINISHED_STATE:
                message = (state.errorMessage or f"operation {state.operationState}").strip().splitlines()[0]
                message = message.removeprefix("org.apache.hive.service.cli.HiveSQLException: ")
                raise ThriftError(f"{message}\n  in: {_shorten(sql)}")
        except ThriftError:
            raise
        except TimeoutError as exc:  # the socket timeout: the server took a call and never answered
            raise ThriftError(
                f"the Spark Thrift server at {self.address} did not answer within {socket_timeout():.0f} s "
                f"(THRIFT_SOCKET_TIMEOUT_SECONDS) while running: {_shorten(sql)}"
            ) from exc
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
    with contextlib.suppress(AttributeError):  # TSaslClientTransport over a TSocket: time out every call
        conn._transport._trans.setTimeout(socket_timeout() * 1000)
    s = Session(conn)
    s.address = f"{host}:{port}"
    try:
        yield s
    finally:
        s.close()
