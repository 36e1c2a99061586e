"""Publish (SPEC: Serving and API): Delta tables on the Thrift server -> PostgreSQL, swapped in atomically.

Each test builds its own source tables under a fresh schema prefix and publishes into a fresh database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time

import pytest
import sqlalchemy as sa
from api_server import from_every_worker, running_api

from serving import publish

pytestmark = pytest.mark.integration

RUN_DATE = dt.date(2024, 1, 15)
KPI_COLUMNS = "nconst, role, primary_name, movies_rated, avg_rating, weighted_rating, total_votes, updated_at"
KPI_DDL = (
    "nconst string, role string, primary_name string, movies_rated bigint, avg_rating double, "
    "weighted_rating double, total_votes bigint, updated_at timestamp"
)

# Spark SQL literals (backslash escapes): names with quotes, a backslash, a literal "\N" (must not turn into
# a null), an empty string, a tab and a newline (never in IMDb, but the escaping must hold), 4-byte UTF-8;
# doubles that only survive when printed with all their digits.
TRICKY_ROWS = r"""
  ('nm0000001', 'actor',   'Miklós Rózsa',         3, 8.5,                  8.4,            1000,
   timestamp'2024-01-15 10:20:30.123456'),
  ('nm0000002', 'actress', 'Stephen "Dr" Love',    2, cast(1 as double)/3,  0.1d + 0.2d,    9223372036854775807,
   timestamp'1970-01-01 00:00:00'),
  ('nm0000003', 'actor',   'O\'Brien \\ back',     1, 1e-7d,                1.7976931348623157e308d, 0, null),
  ('nm0000004', 'actress', null,                   4, 123456789.123456789d, null,           42,
   timestamp'2024-02-29 23:59:59.999999'),
  ('nm0000005', 'actor',   'tab\there\nnewline',   5, 7.0,                  7.25,           5, null),
  ('nm0000006', 'actress', '漢字 🎬',              6, 6.0,                  6.0,            6, null),
  ('nm0000007', 'actor',   '\\N',                  7, 5.5,                  5.5,            7, null),
  ('nm0000007', 'actress', '',                     8, 5.5,                  5.5,            8, null)
"""


def kpi_table(prefix: str) -> str:
    return f"{prefix}aggregated.actor_actress_kpis"


def create_kpi_source(spark, prefix: str, rows_sql: str) -> None:
    spark.execute(f"create schema if not exists {prefix}aggregated")
    spark.execute(f"create or replace table {kpi_table(prefix)} ({KPI_DDL}) using delta")
    spark.execute(f"insert into {kpi_table(prefix)} {rows_sql}")


def generated_rows(n: int, movies_mod: int, movies_add: int) -> str:
    """n rows from range(): ids and names unique; movies_rated = id % movies_mod + movies_add."""
    return (
        f"select concat('nm', lpad(cast(id as string), 7, '0')), if(id % 2 = 0, 'actor', 'actress'), "
        f"concat('Person \"', id, '\" Rózsa'), id % {movies_mod} + {movies_add}, (id % 100) / 10.0d, "
        f"(id % 97) / 10.0d, id * 3, timestamp'2024-01-15 00:00:00' from range({n})"
    )


def expected_sum(n: int, movies_mod: int, movies_add: int) -> int:
    return sum(i % movies_mod + movies_add for i in range(n))


def close_sessions(engine: sa.Engine, writer_url: str) -> None:
    """Dispose a read-only engine and wait until its sessions are gone from the server: the fixture drops
    the database as the writer, who may not terminate the read-only role's sessions."""
    role = engine.url.username
    engine.dispose()
    writer = sa.create_engine(writer_url, poolclass=sa.pool.NullPool)
    with writer.connect() as conn:
        for _ in range(500):
            left = conn.execute(
                sa.text("select count(*) from pg_stat_activity where datname = current_database() and usename = :r"),
                {"r": role},
            ).scalar_one()
            conn.rollback()
            if not left:
                break
            time.sleep(0.02)
    writer.dispose()


def test_publish_copies_rows_and_types_exactly_with_indexes_grants_and_status(
    spark, schema_prefix, pg_database
) -> None:
    writer_url, reader_url = pg_database
    create_kpi_source(spark, schema_prefix, f"values {TRICKY_ROWS}")

    result = publish.publish(RUN_DATE, run_id="run-exact", database_url=writer_url)

    assert result.ok
    assert [(t.table, t.rows) for t in result.tables] == [("actor_actress_kpis", 8), ("etl_pipeline_status", 1)]
    assert "actor_actress_kpis" in result.summary() and "8 rows" in result.summary()

    reader = sa.create_engine(reader_url)
    try:
        with reader.connect() as conn:
            in_pg = conn.execute(sa.text(f"select {KPI_COLUMNS} from actor_actress_kpis order by nconst, role")).all()
            status_pg = conn.execute(
                sa.text(
                    "select stage, table_name, status, rows_affected, error from etl_pipeline_status "
                    "where run_date = :d and run_id = 'run-exact' order by table_name"
                ),
                {"d": RUN_DATE},
            ).all()
    finally:
        close_sessions(reader, writer_url)

    # Row for row, value for value (exact doubles, microseconds, nulls, strings) as Spark has them
    in_spark = spark.query(f"select {KPI_COLUMNS} from {kpi_table(schema_prefix)} order by nconst, role")
    assert [tuple(r) for r in in_pg] == [tuple(r) for r in in_spark]
    names = {r[0] + r[1]: r[2] for r in in_pg}
    assert names["nm0000001actor"] == "Miklós Rózsa"
    assert names["nm0000002actress"] == 'Stephen "Dr" Love'
    assert names["nm0000003actor"] == "O'Brien \\ back"
    assert names["nm0000004actress"] is None
    assert names["nm0000005actor"] == "tab\there\nnewline"
    assert names["nm0000006actress"] == "漢字 🎬"
    assert names["nm0000007actor"] == "\\N"
    assert names["nm0000007actress"] == ""
    assert in_pg[1][4] == 1 / 3 and in_pg[1][5] == 0.1 + 0.2 and in_pg[1][6] == 2**63 - 1

    # Status rows: in Delta (where the pipeline records them) and in PostgreSQL (where the API reads them)
    expected_status = [
        ("publish", "actor_actress_kpis", "success", 8, None),
        ("publish", "etl_pipeline_status", "success", 1, None),
    ]
    assert [tuple(r) for r in status_pg] == expected_status
    in_delta = spark.query(
        f"select stage, table_name, status, rows_affected, error from {schema_prefix}landing.etl_pipeline_status "
        "where run_id = 'run-exact' order by table_name"
    )
    assert [tuple(r) for r in in_delta] == expected_status

    writer = sa.create_engine(writer_url)
    with writer.connect() as conn:
        types = dict(
            conn.execute(
                sa.text(
                    "select column_name, data_type from information_schema.columns "
                    "where table_name = 'actor_actress_kpis'"
                )
            ).all()
        )
        indexes = dict(
            conn.execute(sa.text("select indexname, indexdef from pg_indexes where schemaname = 'public'")).all()
        )
        # one generation per swapped table, the last one naming it (the API caches answers per generation)
        generation = conn.exec_driver_sql("select generation, table_name from publish_generation").one()
        leftovers = conn.execute(
            sa.text("select to_regclass('actor_actress_kpis__staging'), to_regclass('etl_pipeline_status__staging')")
        ).one()
        # The indexes serve the API's ranking without a sort, for one role and for both.
        conn.exec_driver_sql("set enable_seqscan = off")
        plans = {
            role: "\n".join(
                r[0]
                for r in conn.exec_driver_sql(
                    "explain select * from actor_actress_kpis "
                    + (f"where role = '{role}' " if role != "both" else "")
                    + "order by avg_rating desc, total_votes desc, nconst, role limit 10"
                )
            )
            for role in ("actor", "both")
        }
    writer.dispose()
    assert types == {
        "nconst": "text",
        "role": "text",
        "primary_name": "text",
        "movies_rated": "bigint",
        "avg_rating": "double precision",
        "weighted_rating": "double precision",
        "total_votes": "bigint",
        "updated_at": "timestamp without time zone",
    }
    assert set(indexes) == {
        "actor_actress_kpis_pkey",
        "actor_actress_kpis_role_rank_idx",
        "actor_actress_kpis_rank_idx",
        "etl_pipeline_status_run_date_idx",
        "publish_generation_pkey",
    }
    assert "(nconst, role)" in indexes["actor_actress_kpis_pkey"]
    assert "(role, avg_rating DESC, total_votes DESC, nconst)" in indexes["actor_actress_kpis_role_rank_idx"]
    assert "(run_date)" in indexes["etl_pipeline_status_run_date_idx"]
    assert leftovers == (None, None)
    assert tuple(generation) == (2, "etl_pipeline_status")
    assert "actor_actress_kpis_role_rank_idx" in plans["actor"] and "Sort" not in plans["actor"]
    assert "actor_actress_kpis_rank_idx" in plans["both"] and "Sort" not in plans["both"]


def test_concurrent_readers_see_the_whole_old_or_the_whole_new_table(spark, schema_prefix, pg_database) -> None:
    writer_url, reader_url = pg_database
    old = (20_000, expected_sum(20_000, 7, 1))
    new = (30_000, expected_sum(30_000, 5, 2))
    create_kpi_source(spark, schema_prefix, generated_rows(20_000, 7, 1))
    publish.publish(RUN_DATE, database_url=writer_url)
    spark.execute(f"insert overwrite table {kpi_table(schema_prefix)} {generated_rows(30_000, 5, 2)}")

    reader = sa.create_engine(reader_url, isolation_level="AUTOCOMMIT")
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_continuously() -> None:
        try:
            with reader.connect() as conn:
                while not stop.is_set():
                    count, total = conn.exec_driver_sql(
                        "select count(*), coalesce(sum(movies_rated), 0) from actor_actress_kpis"
                    ).one()
                    seen.append((count, int(total)))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=read_continuously)
    thread.start()
    try:
        publish.publish(RUN_DATE, database_url=writer_url)
        time.sleep(0.2)  # a few reads of the new version
    finally:
        stop.set()
        thread.join(timeout=30)
        close_sessions(reader, writer_url)

    assert not errors, errors
    assert len(seen) > 20, "the reader should have read many times during the publish"
    assert set(seen) <= {old, new}, f"partial tables seen: {set(seen) - {old, new}}"
    assert seen[0] == old and seen[-1] == new
    switched = seen.index(new)
    assert all(s == new for s in seen[switched:]), "the old table came back after the swap"


def test_missing_source_fails_naming_it_and_keeps_the_live_table(spark, schema_prefix, pg_database) -> None:
    writer_url, reader_url = pg_database
    # A live table from an earlier publish (same DDL), and no aggregated schema under this prefix at all.
    writer = sa.create_engine(writer_url)
    with writer.begin() as conn:
        conn.exec_driver_sql(publish.create_table_sql(publish.KPIS))
        conn.exec_driver_sql("insert into actor_actress_kpis values ('nm1', 'actor', 'Old', 1, 5.0, 5.0, 1, null)")

    with pytest.raises(publish.PublishError, match=rf"{schema_prefix}aggregated\.actor_actress_kpis") as info:
        publish.publish(RUN_DATE, run_id="run-missing", database_url=writer_url)

    assert "actor_actress_kpis" in str(info.value)
    assert info.value.result is not None
    assert [t.table for t in info.value.result.tables if t.error] == ["actor_actress_kpis"]
    with writer.connect() as conn:
        assert conn.exec_driver_sql("select nconst, primary_name from actor_actress_kpis").all() == [("nm1", "Old")]
        assert conn.exec_driver_sql("select to_regclass('actor_actress_kpis__staging')").scalar_one() is None
        # The status table was still published, so the API shows the failed publish
        failed = conn.exec_driver_sql(
            "select status, error from etl_pipeline_status where table_name = 'actor_actress_kpis'"
        ).all()
    writer.dispose()
    assert len(failed) == 1 and failed[0][0] == "failed"
    assert f"{schema_prefix}aggregated.actor_actress_kpis" in failed[0][1]


def test_a_row_breaking_the_contract_fails_naming_the_column_and_keeps_the_live_table(
    spark, schema_prefix, pg_database
) -> None:
    writer_url, _ = pg_database
    writer = sa.create_engine(writer_url)
    with writer.begin() as conn:  # the live table of an earlier publish
        conn.exec_driver_sql(publish.create_table_sql(publish.KPIS))
        conn.exec_driver_sql("insert into actor_actress_kpis values ('nm1', 'actor', 'Old', 1, 5.0, 5.0, 1, null)")
    # avg_rating orders the ranking; a null would sort first in PostgreSQL, so the serving table forbids it
    create_kpi_source(
        spark,
        schema_prefix,
        "values ('nm0000001', 'actor', 'Fine', 1, 7.0, 7.0, 1, null), "
        "('nm9999999', 'actor', 'Null Rating', 1, null, null, 1, null)",
    )

    with pytest.raises(publish.PublishError, match=r"actor_actress_kpis: .*avg_rating"):
        publish.publish(RUN_DATE, database_url=writer_url)

    with writer.connect() as conn:
        assert conn.exec_driver_sql("select nconst, primary_name from actor_actress_kpis").all() == [("nm1", "Old")]
        assert conn.exec_driver_sql("select to_regclass('actor_actress_kpis__staging')").scalar_one() is None
    writer.dispose()


def test_a_reader_idle_in_a_transaction_does_not_hold_a_publish_hostage(spark, schema_prefix, pg_database) -> None:
    writer_url, reader_url = pg_database
    writer = sa.create_engine(writer_url, poolclass=sa.pool.NullPool)
    create_kpi_source(spark, schema_prefix, generated_rows(100, 7, 1))
    publish.publish_table(spark, writer, publish.KPIS)  # the KPI table alone: its swap is what waits
    spark.execute(f"insert overwrite table {kpi_table(schema_prefix)} {generated_rows(200, 5, 2)}")

    # A real reader session, as the read-only role, that read the live table and then went idle inside its
    # transaction: it holds a lock that publish's swap must wait for, as long as the session stays so.
    reader = sa.create_engine(reader_url, poolclass=sa.pool.NullPool)
    idle = reader.connect()
    idle.begin()
    assert idle.exec_driver_sql("select count(*) from actor_actress_kpis").scalar_one() == 100

    result = publish.publish_table(spark, writer, publish.KPIS)

    assert result.rows == 200
    with writer.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from actor_actress_kpis").scalar_one() == 200
    writer.dispose()
    # PostgreSQL ended the idle session (the read-only role's idle-in-transaction time-out), not the publish
    with pytest.raises(sa.exc.OperationalError):
        idle.exec_driver_sql("select 1")
    idle.invalidate()
    close_sessions(reader, writer_url)


def test_a_second_after_a_publish_commits_every_worker_answers_from_the_new_table(
    spark, schema_prefix, pg_database
) -> None:
    writer_url, reader_url = pg_database
    writer = sa.create_engine(writer_url, poolclass=sa.pool.NullPool)
    path = "/top_actor_actress?role=actor&limit=5"
    create_kpi_source(spark, schema_prefix, "select * from values ('nm1', 'actor', 'Old', 1, 9.0d, 9.0d, 10L, null)")
    publish.publish_table(spark, writer, publish.KPIS)
    spark.execute(
        f"insert overwrite table {kpi_table(schema_prefix)} "
        "values ('nm1', 'actor', 'New', 1, 9.0d, 9.0d, 10L, null), ('nm2', 'actor', 'New', 2, 8.0d, 8.0d, 20L, null)"
    )

    def names(answers) -> set[str]:
        return {row["primary_name"] for a in answers for row in json.loads(a.body)}

    with running_api(reader_url, API_WORKERS="2") as port:
        # every worker holds the old answer in its cache
        before = asyncio.run(from_every_worker(port, path, workers=2, until="HIT"))
        assert names(before) == {"Old"}

        publish.publish_table(spark, writer, publish.KPIS)  # returns after the commit
        time.sleep(1.0)
        after = asyncio.run(from_every_worker(port, path, workers=2))

    writer.dispose()
    assert {a.status for a in after} == {200}
    assert names(after) == {"New"}, "a worker answered from the old table a second after the publish"
    assert len({a.headers["etag"] for a in after}) == 1
