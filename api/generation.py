"""Which publish the serving tables come from, and whether the database answers, on a connection of its own.

Every publish bumps the one row of `publish_generation` in the transaction that swaps a table in
(ingestion.publish), so a committed publish and its new generation become visible together. Each API
worker reads that row every POLL_SECONDS; cached answers and ETags are keyed by it.

The bound on staleness: a generation is only vouched for while the read that produced it started less than
MAX_LAG seconds ago. A read that starts after a publish commits sees the new generation, so an old one can
be held for at most MAX_LAG after the commit; when reads fail or lag (database down, overloaded), `current()`
says None and the API answers from the database, uncached. Hence: an answer lags a committed publish by at
most one second, in every worker.

Polling rather than LISTEN/NOTIFY: one tiny query per worker every quarter second costs nothing, needs no
long-lived listening session that a restart or a pooler would silently drop, and its freshness is
checkable from the clock alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.db import is_undefined_table, publish_generation

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25
MAX_LAG = 0.9  # below the promised second, leaving room for the answer itself

_READ = sa.select(publish_generation.c.generation, publish_generation.c.published_at).where(
    publish_generation.c.id == 1
)


class PublishWatch:
    """Follows the publish generation and answers health probes through its own small engine, so neither
    waits behind the request pool when the API is under load."""

    def __init__(self, engine: AsyncEngine, *, poll_seconds: float = POLL_SECONDS, max_lag: float = MAX_LAG) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.max_lag = max_lag
        self._token: str | None = None
        self._read_started = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._probe: asyncio.Future[bool] | None = None
        self._last_error_log = float("-inf")

    def current(self) -> str | None:
        """The generation's token ("<generation>-<published at, µs>"), or None when it cannot be vouched for."""
        if time.monotonic() - self._read_started < self.max_lag:
            return self._token
        return None

    async def start(self) -> None:
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._follow(), name="publish-watch")

    async def stop(self) -> None:
        """Let the current read finish (a read cancelled half-way would leave its connection checked out, and
        its session open after the engine is disposed), then end the loop."""
        if self._task is not None:
            self._stopping.set()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=10)
        if self._probe is not None and not self._probe.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._probe), timeout=10)

    async def probe(self) -> bool:
        """True when the database answers `select 1` now. Concurrent callers share one probe in flight, so
        a crowd of health checks costs one query."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self._select_one())
        return await asyncio.shield(self._probe)

    async def refresh(self) -> None:
        """Read the generation once (the poll loop's step; also used at startup)."""
        started = time.monotonic()
        try:
            async with self.engine.connect() as conn:
                row = (await conn.execute(_READ)).first()
        except sa.exc.ProgrammingError as exc:
            if not is_undefined_table(exc):
                raise
            row = None  # never published through `ingestion publish`: one generation until the first
        if row is None:
            token = "0"
        else:
            published_us = int(row.published_at.timestamp() * 1e6) if row.published_at else 0
            token = f"{row.generation}-{published_us:x}"
        if token != self._token:
            log.info("publish generation %s", token)
        self._token, self._read_started = token, started

    async def _follow(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.refresh()
            except Exception as exc:  # the database is down or busy: current() goes None by itself
                if started - self._last_error_log > 30:
                    log.warning("cannot read the publish generation (%s); answering uncached", exc.__class__.__name__)
                    self._last_error_log = started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.poll_seconds - (time.monotonic() - started))

    async def _select_one(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(sa.text("select 1"))
        except Exception as exc:
            log.warning("health: database unavailable: %s", exc.__class__.__name__)
            return False
        return True
