"""The SQL publish sends, built as strings and nothing else: the serving tables' `create table` (PostgreSQL)
and the Spark query that formats each source row as one COPY line. Pure (no database), so
tests/unit/test_publish_sql.py pins it without a server; serving/publish.py runs it.
"""

from __future__ import annotations

from serving.tables import Column, ServingTable


def create_table_sql(table: ServingTable, name: str | None = None) -> str:
    """`create table` for a serving table (or its staging copy), without indexes (added after the load)."""
    columns = ", ".join(f"{c.name} {c.pg_type}{' not null' if c.not_null else ''}" for c in table.columns)
    return f"create table {name or table.name} ({columns})"


# PyHive decodes Thrift in pure Python, per value, so one string per row instead of eight values more than
# doubles the throughput, and the formatting runs in the JVM, in parallel. Written as Spark SQL literals
# (backslash-escaped): '\\' is one backslash, '\t' a tab, '\\t' a backslash and a t.
_NULL_SQL = r"'\\N'"
_ESCAPE_SQL = r"replace(replace(replace(replace({col}, '\\', '\\\\'), '\t', '\\t'), '\n', '\\n'), '\r', '\\r')"


def _field_sql(column: Column) -> str:
    """A column as COPY text: strings escaped (names contain quotes and backslashes); numbers, dates and
    timestamps through Spark's cast to string, which PostgreSQL parses back exactly (doubles print with
    enough digits to round-trip; timestamps in the session time zone, UTC)."""
    text = _ESCAPE_SQL.format(col=column.name) if column.pg_type == "text" else f"cast({column.name} as string)"
    return f"coalesce({text}, {_NULL_SQL})"


def copy_lines_sql(table: ServingTable, source: str) -> str:
    """The Spark query whose single column is one COPY text-format line per source row."""
    fields = ", ".join(_field_sql(c) for c in table.columns)
    return f"select concat_ws('\\t', {fields}) as line from {source}"
