"""Top actors and actresses by average rating, from the `actor_actress_kpis` serving table."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
import sqlalchemy as sa
from fastapi import APIRouter, Body, Query, Response

from api.db import Db, actor_actress_kpis
from api.responses import rows_json
from api.schemas import ActorKpi, Message, TopQuery, TopRequest

router = APIRouter(tags=["kpis"])

_RESPONSES: dict[int | str, dict[str, Any]] = {503: {"model": Message, "description": "database unavailable"}}


def _ranking(by_role: bool) -> sa.Select:
    """The ranking, ordered at query time (no stored rank, see the SPEC): avg_rating desc, total_votes
    desc, then nconst and role so that pages never overlap or skip rows between equal ratings.

    Built once with bound parameters: each request only binds values (SQLAlchemy's compiled cache and
    asyncpg's prepared statements do the rest)."""
    k = actor_actress_kpis
    stmt = (
        sa.select(*(k.c[name] for name in ActorKpi.model_fields))  # the answer's keys, in its order
        .where(k.c.movies_rated >= sa.bindparam("min_movies"), k.c.total_votes >= sa.bindparam("min_votes"))
        .order_by(k.c.avg_rating.desc(), k.c.total_votes.desc(), k.c.nconst, k.c.role)
        # bigint: offset may be up to 2**63-1 (schemas.BIGINT_MAX)
        .limit(sa.bindparam("limit", type_=sa.BigInteger))
        .offset(sa.bindparam("offset", type_=sa.BigInteger))
    )
    return stmt.where(k.c.role == sa.bindparam("role")) if by_role else stmt


_BOTH_ROLES, _ONE_ROLE = _ranking(False), _ranking(True)


async def top_actor_actress(db: Db, q: TopQuery) -> Response:
    stmt = _BOTH_ROLES if q.role == "both" else _ONE_ROLE
    try:
        rows = await db.fetch(stmt, q.model_dump())
    except asyncpg.UndefinedTableError:
        rows = []  # nothing published yet: an empty ranking, not an error
    return rows_json(rows)


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
async def get_top(db: Db, q: Annotated[TopQuery, Query()]) -> Response:
    return await top_actor_actress(db, q)


@router.post("/top_actor_actress", response_model=list[ActorKpi], include_in_schema=False)
@router.post(
    "/top_actor_actress/",
    response_model=list[ActorKpi],
    responses=_RESPONSES,
    summary="Top actors/actresses by average rating (JSON body, the original API)",
    operation_id="post_top_actor_actress",
)
async def post_top(db: Db, body: Annotated[TopRequest | None, Body(examples=[{"role": "actor"}])] = None) -> Response:
    return await top_actor_actress(db, body or TopRequest())
