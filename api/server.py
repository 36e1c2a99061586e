"""Serving the API with uvicorn: `python -m api` runs `serve()` on API_HOST:API_PORT (127.0.0.1:8008) with
API_WORKERS processes.

Kept light on purpose (and so is api/__main__.py): uvicorn starts each worker as a fresh interpreter that
re-imports the main module before it answers the supervisor's health pings, so importing FastAPI, SQLAlchemy
and the app there would make a slow start on a busy machine look like a hung worker (killed and
restarted). The workers import `api.main:app` themselves.
"""

from __future__ import annotations

import logging
import resource

from api.settings import Settings

log = logging.getLogger("api")


def raise_open_files_limit() -> int:
    """Raise the soft open-files limit to the hard one (where the OS allows), so 1,000 client connections
    and the database pool fit; returns the limit in force. Worker processes inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-files limit from %d to %d: %s", soft, target, exc)
    return soft


def serve(settings: Settings | None = None) -> None:
    import uvicorn

    settings = settings or Settings()
    raise_open_files_limit()
    uvicorn.run(
        "api.main:app",
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        backlog=4096,  # a burst of 1,000 connections queues in the kernel instead of being refused
        access_log=settings.access_log,
        proxy_headers=False,  # served on loopback or behind a proxy we do not need client addresses from
        timeout_worker_healthcheck=15,
    )
