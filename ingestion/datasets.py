"""The dataset registry: which IMDb files we load, their columns and types, and their natural keys.

Adding title.akas, title.crew or title.episode is one entry in DATASETS (the loader, the landing tables and
the status rows all follow from it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str  # IMDb's column name, kept as is in landing
    type: str  # Spark SQL type; anything but string is checked as a number when landing

    @property
    def numeric(self) -> bool:
        return self.type != "string"


@dataclass(frozen=True)
class Dataset:
    name: str  # IMDb file stem, e.g. "title.basics" (served as <name>.tsv.gz)
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # natural key
    # columns besides the key that a line must have (else it is malformed and rejected): what downstream
    # models join or group on, so that it is never null in cleansed
    required: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.tsv.gz"

    @property
    def table(self) -> str:
        """Landing table name: the file name with dots as underscores (title.basics -> title_basics)."""
        return self.name.replace(".", "_")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _cols(spec: str) -> tuple[Column, ...]:
    return tuple(Column(*part.split(":")) for part in spec.split())


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "title.basics",
            _cols(
                "tconst:string titleType:string primaryTitle:string originalTitle:string isAdult:int "
                "startYear:int endYear:int runtimeMinutes:int genres:string"
            ),
            ("tconst",),
        ),
        Dataset(
            "title.ratings",
            # decimal keeps sums exact, so the KPI does not depend on the order Spark adds rows in
            _cols("tconst:string averageRating:decimal(3,1) numVotes:bigint"),
            ("tconst",),
        ),
        Dataset(
            "title.principals",
            _cols("tconst:string ordering:int nconst:string category:string job:string characters:string"),
            ("tconst", "ordering"),
            required=("nconst", "category"),  # SPEC: a principal without a person or a category is malformed
        ),
        Dataset(
            "name.basics",
            _cols(
                "nconst:string primaryName:string birthYear:int deathYear:int "
                "primaryProfession:string knownForTitles:string"
            ),
            ("nconst",),
        ),
    )
}


def get(name: str) -> Dataset:
    """Look a dataset up by IMDb name ("title.basics") or table name ("title_basics")."""
    for d in DATASETS.values():
        if name in (d.name, d.table, d.file_name):
            return d
    raise KeyError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
