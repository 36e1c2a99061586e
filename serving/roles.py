"""PostgreSQL serving database helpers shared by publish, the API's setup and the tests."""

from __future__ import annotations

import sqlalchemy as sa


def grant_reader(conn: sa.Connection, reader: str) -> None:
    """Let the read-only role read every table the writer creates in `public`, now and later; nobody
    but the owner creates tables there. Run as the database owner (the writer)."""
    db = conn.execute(sa.text("select current_database()")).scalar_one()
    conn.execute(sa.text("revoke create on schema public from public"))
    conn.execute(sa.text(f'grant connect on database "{db}" to "{reader}"'))
    conn.execute(sa.text(f'grant usage on schema public to "{reader}"'))
    conn.execute(sa.text(f'grant select on all tables in schema public to "{reader}"'))
    conn.execute(sa.text(f'alter default privileges in schema public grant select on tables to "{reader}"'))
