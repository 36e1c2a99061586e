"""Which publish the serving tables come from, and whether the database answers, on a connection of its own.

Every publish bumps the one row of `publish_generation` in the transaction that swaps a table in
(serving.publish), so a committed publish and its new generation become visible together. Each API
worker reads that row every POLL_SECONDS; cached answers and ETags are keyed by it.

The bound on staleness: a generation is only vouched for while the read that produced it started less than
MAX_LAG seconds ago. A read that starts after a publish commits sees the new generation, so an old one can
be held for at most MAX_LAG after the commit; when reads fail or lag (database down or overloaded),
`current()` says None and the API answers from the database, uncached. Hence: an answer lags a committed
publish by at most one second, in every worker.

The reads run in a thread of their own on a plain (psycopg2) connection, not on the event loop: under a
crowd each turn of a worker's event loop gets long, and a poll that needs two turns would let the generation
expire, turning the cache off exactly when it matters. /health's probe runs off the loop on that engine too
(and, when the poll fell behind, an on-demand read of the generation).

Polling rather than LISTEN/NOTIFY: one tiny query per worker every quarter second costs nothing, needs no
listening session that a restart or a pooler would silently drop, and its freshness is checkable from the
clock alone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import sqlalchemy as sa

from api.db import is_undefined_table, publish_generation
from api.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
MAX_LAG = 0.9  # below the promised second, leaving room for the answer itself

_READ = sa.select(publish_generation.c.generation, publish_generation.c.published_at).where(
    publish_generation.c.id == 1
)


def create_watch_engine(settings: Settings) -> sa.Engine:
    """A small synchronous engine for the watch thread, read-only like the API's own; pre-ping replaces a
    connection that died with a database restart (off the event loop, its round trip costs nothing)."""
    url = sa.make_url(settings.database_url).set(drivername="postgresql+psycopg2")
    options = (
        f"-c statement_timeout={settings.statement_timeout_ms} -c default_transaction_read_only=on "
        f"-c idle_in_transaction_session_timeout={settings.idle_in_transaction_timeout_ms}"
    )
    return sa.create_engine(
        url,
        pool_size=1,
        max_overflow=1,  # the poll and a health probe at the same moment
        pool_timeout=settings.pool_timeout,
        pool_pre_ping=True,
        pool_recycle=1800,
        isolation_level="AUTOCOMMIT",
        connect_args={
            "connect_timeout": settings.connect_timeout,
            "application_name": "imdb-api-watch",
            "options": options,
        },
    )


class PublishWatch:
    """Follows the publish generation (a thread) and answers health probes (a small executor)."""

    def __init__(self, engine: sa.Engine, *, poll_seconds: float = POLL_SECONDS, max_lag: float = MAX_LAG) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.max_lag = max_lag
        # (token, monotonic start of the read that produced it), replaced as one object: no lock needed
        self._state: tuple[str | None, float] = (None, float("-inf"))
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._probe: Future[bool] | None = None
        self._reading: Future[None] | None = None
        self._probe_lock = threading.Lock()
        self._last_error_log = float("-inf")

    def current(self) -> str | None:
        """The generation's token ("<generation>-<published at, µs>"), or None when it cannot be vouched for."""
        token, read_started = self._state
        if time.monotonic() - read_started < self.max_lag:
            return token
        return None

    async def fresh(self) -> str | None:
        """current(), and when it cannot vouch (the poll thread starved, or the database slow), one read for
        every request that finds it so: a short wait instead of a stampede of uncached queries. None when
        that read fails or takes longer than MAX_LAG."""
        token = self.current()
        if token is not None or self._executor is None:
            return token
        with self._probe_lock:
            if self._reading is None or self._reading.done():
                self._reading = self._executor.submit(self.refresh)
            reading = self._reading
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(reading)), timeout=self.max_lag)
        except Exception:
            return None
        return self.current()

    def start(self) -> None:
        # two threads: a probe need not wait behind an on-demand generation read
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="publish-watch")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._follow, name="publish-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the thread after its current read (a read cut half-way would leave its session open), then
        close the connections."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.engine.dispose()

    async def probe(self) -> bool:
        """True when the database answers `select 1` now. Concurrent callers share the probe in flight, so
        a crowd of health checks costs one query."""
        assert self._executor is not None, "probe() before start()"
        with self._probe_lock:
            if self._probe is None or self._probe.done():
                self._probe = self._executor.submit(self._select_one)
            probe = self._probe
        return await asyncio.wrap_future(probe)

    def refresh(self) -> None:
        """Read the generation once (the thread's step; also called at startup)."""
        started = time.monotonic()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(_READ).first()
        except sa.exc.ProgrammingError as exc:
            if not is_undefined_table(exc):
                raise
            row = None  # never published through `ingestion publish`: one generation until the first
        if row is None:
            token = "0"
        else:
            published_us = int(row.published_at.timestamp() * 1e6) if row.published_at else 0
            token = f"{row.generation}-{published_us:x}"
        if token != self._state[0]:
            log.info("publish generation %s", token)
        self._state = (token, started)

    def _follow(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                self.refresh()
            except Exception as exc:  # the database is down or busy: current() goes None by itself
                if started - self._last_error_log > 30:
                    log.warning("cannot read the publish generation (%s); answering uncached", exc.__class__.__name__)
                    self._last_error_log = started
            self._stopping.wait(max(0.0, self.poll_seconds - (time.monotonic() - started)))

    def _select_one(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("select 1"))
        except Exception as exc:
            log.warning("health: database unavailable: %s", exc.__class__.__name__)
            return False
        return True
