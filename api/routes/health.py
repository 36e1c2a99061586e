"""Liveness with the database: 200 when PostgreSQL answers, 503 otherwise."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response

from api.schemas import Health

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health, "description": "the database does not answer"}},
    operation_id="get_health",
)
def health(request: Request, response: Response) -> Health:
    engine: sa.Engine = request.app.state.engine
    try:
        # Through the pool: pre-ping drops connections that died with a database restart, so the first
        # check after the database is back already answers 200.
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("health: database unavailable: %s", exc.__class__.__name__)
        response.status_code = 503
        return Health(status="unavailable", detail="the database does not answer")
    return Health(status="ok")
