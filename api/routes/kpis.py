"""Top actors and actresses by average rating, from the `actor_actress_kpis` serving table."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Query

from api.db import Connection, actor_actress_kpis, is_undefined_table
from api.schemas import ActorKpi, Message, TopQuery, TopRequest

router = APIRouter(tags=["kpis"])

_RESPONSES: dict[int | str, dict[str, Any]] = {503: {"model": Message, "description": "database unavailable"}}


def top_actor_actress(conn: sa.Connection, q: TopQuery) -> list[dict[str, Any]]:
    """The ranking, ordered at query time (no stored rank, see the SPEC): avg_rating desc, total_votes
    desc, then nconst and role so that pages never overlap or skip rows between equal ratings."""
    k = actor_actress_kpis
    stmt = (
        sa.select(
            k.c.nconst,
            k.c.primary_name,
            k.c.role,
            k.c.movies_rated,
            k.c.avg_rating,
            k.c.weighted_rating,
            k.c.total_votes,
        )
        .where(k.c.movies_rated >= q.min_movies, k.c.total_votes >= q.min_votes)
        .order_by(k.c.avg_rating.desc(), k.c.total_votes.desc(), k.c.nconst, k.c.role)
        .limit(q.limit)
        .offset(q.offset)
    )
    if q.role != "both":
        stmt = stmt.where(k.c.role == q.role)
    try:
        return [dict(row) for row in conn.execute(stmt).mappings()]
    except sa.exc.ProgrammingError as exc:
        if is_undefined_table(exc):  # nothing published yet: an empty ranking, not an error
            return []
        raise


# Each path also answers with (or without) the trailing slash, directly: a redirect would make clients
# resend a POST body, and the SPEC spells GET without and POST with the slash.
@router.get("/top_actor_actress/", response_model=list[ActorKpi], include_in_schema=False)
@router.get(
    "/top_actor_actress",
    response_model=list[ActorKpi],
    responses=_RESPONSES,
    summary="Top actors/actresses by average rating",
    operation_id="get_top_actor_actress",
)
def get_top(conn: Connection, q: Annotated[TopQuery, Query()]) -> list[dict[str, Any]]:
    return top_actor_actress(conn, q)


@router.post("/top_actor_actress", response_model=list[ActorKpi], include_in_schema=False)
@router.post(
    "/top_actor_actress/",
    response_model=list[ActorKpi],
    responses=_RESPONSES,
    summary="Top actors/actresses by average rating (JSON body, the original API)",
    operation_id="post_top_actor_actress",
)
def post_top(
    conn: Connection, body: Annotated[TopRequest | None, Body(examples=[{"role": "actor"}])] = None
) -> list[dict[str, Any]]:
    return top_actor_actress(conn, body or TopRequest())
