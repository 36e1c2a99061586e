"""The platform: Delta Lake through the Spark Thrift server, and the PostgreSQL roles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.integration


def test_delta_create_merge_history_time_travel_delete(spark, schema_prefix):
    t = f"{schema_prefix}smoke.people"
    spark.execute(f"create schema {schema_prefix}smoke")
    spark.execute(f"create table {t} (id int, name string) using delta")
    spark.execute(f"insert into {t} values (1, 'Ann'), (2, 'Bob')")
    spark.execute(
        f"merge into {t} d using (select 2 id, 'Bobby' name union all select 3, 'Cy') s on d.id = s.id "
        "when matched then update set * when not matched then insert *"
    )
    assert spark.query(f"select id, name from {t} order by id") == [(1, "Ann"), (2, "Bobby"), (3, "Cy")]
    assert spark.scalar(f"describe detail {t}") == "delta"

    history = spark.query(f"describe history {t}")
    operations = {row[0]: row[4] for row in history}
    assert operations[0] == "CREATE TABLE" and operations[1] == "WRITE" and operations[2] == "MERGE"

    assert spark.query(f"select id, name from {t} version as of 1 order by id") == [(1, "Ann"), (2, "Bob")]

    spark.execute(f"delete from {t} where id = 1")
    assert spark.query(f"select id from {t} order by id") == [(2,), (3,)]
    assert spark.query(f"select id from {t} version as of 2 order by id") == [(1,), (2,), (3,)]


def test_thrift_connections_are_separate_sessions(spark, thrift_server):
    from core.thrift import ThriftError, session

    spark.execute("create temporary view only_here as select 1 as x")
    with session() as other, pytest.raises(ThriftError, match="only_here"):
        other.query("select * from only_here")


def test_hive_function_registry_loads_so_sessions_close_cleanly(spark):
    """Closing a session on a thread that holds no Hive client loads Hive's FunctionRegistry, whose static init
    needs LlapSigner from hive-llap-common, a jar Spark 4.0 stopped shipping: without it the CloseSession fails
    with NoClassDefFoundError LlapSigner$Signable and dbt fails the run. Load the class the same way here."""
    registry = "org.apache.hadoop.hive.ql.exec.FunctionRegistry"
    assert spark.scalar(f"select reflect('java.lang.Class', 'forName', '{registry}')") == f"class {registry}"


def test_writer_creates_and_fills_reader_reads_but_cannot_write(pg_database):
    writer_url, reader_url = pg_database
    writer = sa.create_engine(writer_url)
    with writer.begin() as c:
        c.execute(sa.text("create table kpi (nconst text primary key, score double precision)"))
        c.execute(sa.text("insert into kpi values ('nm1', 7.5), ('nm2', 8.0)"))
    reader = sa.create_engine(reader_url)
    with reader.connect() as c:
        assert c.execute(sa.text("select count(*) from kpi")).scalar_one() == 2
    for statement in (
        "insert into kpi values ('nm3', 1.0)",
        "update kpi set score = 0",
        "delete from kpi",
        "create table mine (x int)",
        "drop table kpi",
    ):
        with (
            reader.connect() as c,
            pytest.raises(sa.exc.ProgrammingError, match="permission denied|must be owner"),
        ):
            c.execute(sa.text(statement))
    writer.dispose()
    reader.dispose()
