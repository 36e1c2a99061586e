"""The pipeline status of a run date, from the `etl_pipeline_status` serving table."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, HTTPException, Query

from api.db import Connection, etl_pipeline_status, is_undefined_table
from api.schemas import IsoDate, Message, StatusQuery, StatusRow

router = APIRouter(tags=["status"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Message, "description": "no run recorded for that date"},
    503: {"model": Message, "description": "database unavailable"},
}


def pipeline_status(conn: sa.Connection, day: dt.date) -> list[dict[str, Any]]:
    """Every status row of the day's runs, in the order the work happened; 404 when there is none."""
    s = etl_pipeline_status
    stmt = (
        sa.select(
            s.c.run_id,
            s.c.run_date,
            s.c.stage,
            s.c.table_name,
            s.c.status,
            s.c.rows_affected,
            s.c.started_at,
            s.c.finished_at,
            s.c.duration_seconds,
            s.c.error,
        )
        .where(s.c.run_date == day)
        .order_by(s.c.started_at.nulls_last(), s.c.run_id, s.c.stage, s.c.table_name)
    )
    try:
        rows = [dict(row) for row in conn.execute(stmt).mappings()]
    except sa.exc.ProgrammingError as exc:
        if not is_undefined_table(exc):
            raise
        rows = []  # nothing published yet: no run is recorded for any date
    if not rows:
        raise HTTPException(status_code=404, detail=f"no pipeline run recorded for {day.isoformat()}")
    return rows


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
def get_status(
    conn: Connection, date: Annotated[IsoDate, Query(description="run date, YYYY-MM-DD")]
) -> list[dict[str, Any]]:
    return pipeline_status(conn, date)


@router.post("/etl_pipeline_status", response_model=list[StatusRow], include_in_schema=False)
@router.post(
    "/etl_pipeline_status/",
    response_model=list[StatusRow],
    responses=_RESPONSES,
    summary="Status rows of the pipeline runs of a date (JSON body, the original API)",
    operation_id="post_etl_pipeline_status",
)
def post_status(conn: Connection, body: Annotated[StatusQuery, Body()]) -> list[dict[str, Any]]:
    return pipeline_status(conn, body.date)
