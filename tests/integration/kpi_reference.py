"""An independent computation of the SPEC's KPI in plain Python, straight from IMDb-format .tsv.gz files.

It shares no code with the dbt models: it reads the files itself and follows the SPEC's wording.
"""

from __future__ import annotations

import gzip
from collections import defaultdict
from decimal import Decimal
from pathlib import Path


def _rows(path: Path):
    with gzip.open(path, "rt", encoding="utf-8", newline="\n") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            yield dict(zip(header, line.rstrip("\n").split("\t"), strict=True))


def expected_kpis(snapshot: Path) -> dict[tuple[str, str], dict]:
    movies = {r["tconst"] for r in _rows(snapshot / "title.basics.tsv.gz") if r["titleType"] == "movie"}
    ratings = {
        r["tconst"]: (Decimal(r["averageRating"]), int(r["numVotes"]))
        for r in _rows(snapshot / "title.ratings.tsv.gz")
        if r["tconst"] in movies
    }
    names = {
        r["nconst"]: (None if r["primaryName"] == r"\N" else r["primaryName"])
        for r in _rows(snapshot / "name.basics.tsv.gz")
    }
    credits: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in _rows(snapshot / "title.principals.tsv.gz"):
        if r["category"] in ("actor", "actress") and r["tconst"] in ratings:
            credits[(r["nconst"], r["category"])].add(r["tconst"])
    out = {}
    for (nconst, role), titles in credits.items():
        rs = [ratings[t] for t in titles]
        votes = sum(v for _, v in rs)
        out[(nconst, role)] = {
            "primary_name": names.get(nconst),
            "movies_rated": len(rs),
            "avg_rating": float(sum(r for r, _ in rs)) / len(rs),
            "weighted_rating": float(sum(r * v for r, v in rs)) / votes if votes else None,
            "total_votes": votes,
        }
    return out


def assert_same_kpis(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys(), (
        f"missing {sorted(expected.keys() - actual.keys())[:5]}, extra {sorted(actual.keys() - expected.keys())[:5]}"
    )
    for key, want in expected.items():
        got = actual[key]
        for col, value in want.items():
            if isinstance(value, float):
                assert abs(got[col] - value) < 1e-9, (key, col, got[col], value)
            else:
                assert got[col] == value, (key, col, got[col], value)
