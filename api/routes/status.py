"""The pipeline status of a run date, from the `etl_pipeline_status` serving table."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import asyncpg
import sqlalchemy as sa
from fastapi import APIRouter, Body, HTTPException, Query, Response

from api.db import Db, etl_pipeline_status
from api.responses import rows_json
from api.schemas import IsoDate, Message, StatusQuery, StatusRow

router = APIRouter(tags=["status"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "no run recorded for that date"},
    503: {"model": Message, "description": "database unavailable"},
}

_s = etl_pipeline_status
# Every status row of the day's runs, in the order the work happened.
_OF_DAY = (
    sa.select(*(_s.c[name] for name in StatusRow.model_fields))  # the answer's keys, in its order
    .where(_s.c.run_date == sa.bindparam("day"))
    .order_by(_s.c.started_at.nulls_last(), _s.c.run_id, _s.c.stage, _s.c.table_name)
)


async def pipeline_status(db: Db, day: dt.date) -> Response:
    """The day's status rows; 404 when there is none."""
    try:
        rows = await db.fetch(_OF_DAY, {"day": day})
    except asyncpg.UndefinedTableError:
        rows = []  # nothing published yet: no run is recorded for any date
    if not rows:
        raise HTTPException(status_code=404, detail=f"no pipeline run recorded for {day.isoformat()}")
    return rows_json(rows)


# Each path also answers with (or without) the trailing slash, directly: a redirect would make clients
# resend a POST body, and the SPEC spells GET without and POST with the slash.
@router.get("/etl_pipeline_status/", response_model=list[StatusRow], include_in_schema=False)
@router.get(
    "/etl_pipeline_status",
    response_model=list[StatusRow],
    responses=_RESPONSES,
    summary="Status rows of the pipeline runs of a date",
    operation_id="get_etl_pipeline_status",
)
async def get_status(db: Db, date: Annotated[IsoDate, Query(description="run date, YYYY-MM-DD")]) -> Response:
    return await pipeline_status(db, date)


@router.post("/etl_pipeline_status", response_model=list[StatusRow], include_in_schema=False)
@router.post(
    "/etl_pipeline_status/",
    response_model=list[StatusRow],
    responses=_RESPONSES,
    summary="Status rows of the pipeline runs of a date (JSON body, the original API)",
    operation_id="post_etl_pipeline_status",
)
async def post_status(db: Db, body: Annotated[StatusQuery, Body()]) -> Response:
    return await pipeline_status(db, body.date)
