"""Liveness with the database: 200 when PostgreSQL answers, 503 otherwise.

Answered whatever the load: exempt from the in-flight bound (api.middleware.InFlightLimit); the probe runs on
the publish watch's own connection, never waiting behind the request pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.generation import PublishWatch
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "the database does not answer"}},
    operation_id="get_health",
)
async def health(request: Request, response: Response) -> Health:
    watch: PublishWatch = request.app.state.watch
    if not await watch.probe():
        response.status_code = 503
        return Health(status="unavailable", detail="the database does not answer")
    return Health(status="ok")
