"""Request and response models (Pydantic v2); their constraints are the API's input validation and
appear in the OpenAPI schema at /docs."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, create_model

from serving.tables import KPIS, STATUS, ServingTable

# PostgreSQL bigint: larger numbers could never match and would overflow OFFSET (a 500, not a 422).
BIGINT_MAX = 2**63 - 1
MAX_LIMIT = 1000

Role = Literal["actor", "actress", "both"]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    # Pydantic alone also accepts Unix timestamps ("1705276800") as dates; the API promises YYYY-MM-DD.
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("expected a date as YYYY-MM-DD")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date), Field(examples=["2024-01-15"])]


def _as_utc(value: object) -> object:
    # The pipeline stores UTC wall-clock times without a zone (PostgreSQL `timestamp`); saying so in the
    # JSON ("…Z") makes them valid RFC 3339 date-times, as the OpenAPI `date-time` format requires.
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


UtcDateTime = Annotated[dt.datetime, AfterValidator(_as_utc)]


class TopQuery(BaseModel):
    """Which actors/actresses to rank; as query parameters (GET) or a JSON body (POST)."""

    role: Role = Field("both", description="actor, actress or both")
    limit: int = Field(10, ge=1, le=MAX_LIMIT, description=f"rows to return, 1–{MAX_LIMIT}")
    offset: int = Field(0, ge=0, le=BIGINT_MAX, description="rows to skip (pagination)")
    min_movies: int = Field(1, ge=1, le=BIGINT_MAX, description="at least this many rated movies")
    min_votes: int = Field(0, ge=0, le=BIGINT_MAX, description="at least this many votes in total")


class TopRequest(TopQuery):
    # A misspelt field in a JSON body ({"rol": "actor"}) would otherwise silently rank both roles.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "actor"}]})


# Response rows derived from the serving tables' one definition (serving.tables): a column's PostgreSQL type
# gives the field's type (nullable unless `not null`), its description the field's; the field order is the
# order of the keys in the JSON answer.
_PY_TYPE: dict[str, Any] = {
    "text": str,
    "bigint": int,
    "double precision": float,
    "date": dt.date,
    "timestamp": UtcDateTime,
}


def _row_model(name: str, table: ServingTable, fields: tuple[str, ...]) -> type[BaseModel]:
    definitions: dict[str, Any] = {}
    for column in map(table.column, fields):
        kind = _PY_TYPE[column.pg_type] if column.not_null else _PY_TYPE[column.pg_type] | None
        definitions[column.name] = (kind, Field(description=column.description) if column.description else ...)
    return create_model(name, __module__=__name__, **definitions)


# The KPI answer leaves out updated_at and names the person before the role.
ActorKpi = _row_model(
    "ActorKpi",
    KPIS,
    ("nconst", "primary_name", "role", "movies_rated", "avg_rating", "weighted_rating", "total_votes"),
)


class StatusQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"date": "2024-01-15"}]})

    date: IsoDate = Field(description="run date, YYYY-MM-DD")


StatusRow = _row_model("StatusRow", STATUS, tuple(STATUS.column_names))


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    detail: str | None = None


class Message(BaseModel):
    detail: str
