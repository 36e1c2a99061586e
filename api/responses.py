"""Rows straight to JSON bytes: no per-row Pydantic model on the way out.

The routes still declare their `response_model` (the OpenAPI document is unchanged and the tests validate
answers against it); they return these bytes, which FastAPI sends as they are. The rows come from SQL with
the documented columns and types, so the model would only re-check what the table's DDL guarantees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson
from fastapi import Response

# Timestamps are stored as UTC wall-clock times without a zone: say so ("…Z"), as the schemas' UtcDateTime does.
_OPTIONS = orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def rows_json(rows: Iterable[Mapping[str, object]]) -> Response:
    """A JSON array of objects, one per row (asyncpg records: their keys are the selected columns)."""
    body = orjson.dumps([dict(row) for row in rows], option=_OPTIONS)
    return Response(content=body, media_type="application/json")
