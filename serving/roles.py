"""The serving database's roles and GRANTs for Python callers (publish, the tests' and the benchmark's setup).

The SQL itself is in serving/roles.sql, the one file the shell scripts read too; a section's psql variables
(:"name" an identifier, :'name' a literal, :name as it is) are substituted here the way psql does.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import sqlalchemy as sa

ROLES_SQL = Path(__file__).with_name("roles.sql")
_HEADER = re.compile(r"^-- \[(\w+)\]", re.M)
_VARIABLE = re.compile(r""":"(\w+)"|:'(\w+)'|(?<![:\w]):(\w+)\b""")


@cache
def sections() -> dict[str, str]:
    """roles.sql's sections by name: from a `-- [name]` line to the next one."""
    text = ROLES_SQL.read_text(encoding="utf-8")
    heads = list(_HEADER.finditer(text))
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return {h[1]: text[h.start() : end] for h, end in zip(heads, ends, strict=True)}


def _identifier(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def statements(section: str, **variables: str) -> list[str]:
    """The section's statements with the variables put in (comments dropped; no psql meta-commands allowed)."""
    lines = [line for line in sections()[section].splitlines() if line.strip() and not line.startswith("--")]
    if any(line.startswith("\\") for line in lines):
        raise ValueError(f"roles.sql section {section!r} uses psql meta-commands; run it through psql")

    def put(m: re.Match[str]) -> str:
        ident, literal, raw = m.groups()
        if ident:
            return _identifier(variables[ident])
        if literal:
            return _literal(variables[literal])
        return variables[raw]

    sql = _VARIABLE.sub(put, "\n".join(lines))
    return [s.strip() for s in sql.split(";") if s.strip()]


def grant_reader(conn: sa.Connection, reader: str) -> None:
    """Let the read-only role read every table the writer creates in `public`, now and later; nobody
    but the owner creates tables there. Run as the database owner (the writer)."""
    db, writer = conn.execute(sa.text("select current_database(), current_user")).one()
    for statement in statements("reader_privileges", db=db, writer=writer, reader=reader):
        conn.exec_driver_sql(statement)


def grant_table(conn: sa.Connection, table: str, reader: str) -> None:
    """SELECT on one serving table for the read-only role."""
    for statement in statements("table_grant", table=table, reader=reader):
        conn.exec_driver_sql(statement)
