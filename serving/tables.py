"""The PostgreSQL serving tables, each defined once: its columns (PostgreSQL type, not null, the description
the API documents), key, indexes and the Delta table it copies. publish's DDL and COPY query
(serving.publish_sql), the API's SQLAlchemy tables (api.db) and its response models (api.schemas) all derive
from these definitions. The status table's columns come from the status row itself (core.status.FIELDS).

Pure data: no database driver is imported here, so the API can read it without the loader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from core import config, status


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    not_null: bool = False
    description: str | None = None  # shown in the API's OpenAPI document


@dataclass(frozen=True)
class ServingTable:
    """A PostgreSQL serving table and the Delta table it is a copy of."""

    name: str
    columns: tuple[Column, ...]
    source: Callable[[], str]  # resolved at publish time: the schema prefix comes from the environment
    primary_key: tuple[str, ...] = ()
    # (name suffix, column list) — created on the staging table, renamed with it
    indexes: tuple[tuple[str, str], ...] = ()

    @property
    def staging(self) -> str:
        return f"{self.name}__staging"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


KPIS = ServingTable(
    name="actor_actress_kpis",
    columns=(
        Column("nconst", "text", not_null=True, description="IMDb person id"),
        Column("role", "text", not_null=True, description="actor or actress"),
        Column("primary_name", "text", description="name from name.basics; null when the person is missing"),
        Column(
            "movies_rated",
            "bigint",
            not_null=True,
            description="distinct rated movies the person appears in, in this role",
        ),
        Column(
            "avg_rating", "double precision", not_null=True, description="plain mean of those movies' averageRating"
        ),
        Column("weighted_rating", "double precision", description="mean of averageRating weighted by numVotes"),
        Column("total_votes", "bigint", not_null=True, description="sum of numVotes over those movies"),
        Column("updated_at", "timestamp"),
    ),
    source=lambda: f"{config.schema('aggregated')}.actor_actress_kpis",
    primary_key=("nconst", "role"),
    indexes=(
        # `WHERE role = ? ORDER BY avg_rating DESC, total_votes DESC, nconst` (the SPEC's index)
        ("role_rank_idx", "role, avg_rating desc, total_votes desc, nconst"),
        # role=both (the API's default) orders the same way over both roles
        ("rank_idx", "avg_rating desc, total_votes desc, nconst, role"),
    ),
)

# The status row's Spark types as PostgreSQL types.
_PG_TYPE = {
    "string": "text",
    "date": "date",
    "bigint": "bigint",
    "timestamp": "timestamp",
    "double": "double precision",
}

STATUS = ServingTable(
    name="etl_pipeline_status",
    columns=tuple(Column(f.name, _PG_TYPE[f.spark_type], f.not_null, f.description) for f in status.FIELDS),
    source=status.table,
    indexes=(("run_date_idx", "run_date"),),
)

# The publish generation: one row, bumped in every swap transaction (the API caches answers per generation).
GENERATION_TABLE = "publish_generation"
GENERATION_DDL = (
    f"create table if not exists {GENERATION_TABLE} (id smallint primary key check (id = 1), "
    "generation bigint not null, published_at timestamp not null, table_name text not null)"
)
