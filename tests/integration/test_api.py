"""The HTTP API against a real PostgreSQL database, read as the read-only role.

The serving tables are created with publish's own DDL and filled as the writer; requests go through the
app in-process (TestClient), through a real uvicorn server on loopback, and through schemathesis.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
import schemathesis.python.asgi
import sqlalchemy as sa
import uvicorn
from api_server import Answer, allow_many_open_files, http_get, running_api
from conftest import chromium
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode

from api.db import actor_actress_kpis, etl_pipeline_status
from api.main import create_app
from api.settings import Settings
from serving import publish

pytestmark = pytest.mark.integration

COLUMNS = ("nconst", "primary_name", "role", "movies_rated", "avg_rating", "weighted_rating", "total_votes")


def kpi(
    nconst: str, role: str, name: str | None, movies: int, avg: float, votes: int, weighted: float | None = None
) -> dict[str, Any]:
    return {
        "nconst": nconst,
        "role": role,
        "primary_name": name,
        "movies_rated": movies,
        "avg_rating": avg,
        "weighted_rating": avg if weighted is None else weighted,
        "total_votes": votes,
        "updated_at": dt.datetime(2024, 1, 15, 10, 0, 0),
    }


# Ties on purpose: nm0000003/nm0000001/nm0000002 share avg_rating 8.5 (votes break the first tie, then
# nconst), and nm0000002 is both an actor and an actress with identical numbers (role breaks that tie).
KPIS = [
    kpi("nm0000001", "actor", "Miklós Rózsa", 3, 8.5, 1000),
    kpi("nm0000002", "actress", 'Stephen "Dr" Love', 2, 8.5, 1000),
    kpi("nm0000002", "actor", 'Stephen "Dr" Love', 2, 8.5, 1000),
    kpi("nm0000003", "actress", "Zoë Ødegård", 5, 8.5, 2000),
    kpi("nm0000004", "actor", None, 1, 9.1, 10),
    kpi("nm0000005", "actress", "O'Brien \\ back", 10, 7.0, 50_000, weighted=7.25),
    kpi("nm0000006", "actor", "漢字 🎬", 1, 6.0, 0),
]
EXPECTED_ORDER = [
    ("nm0000004", "actor"),
    ("nm0000003", "actress"),
    ("nm0000001", "actor"),
    ("nm0000002", "actor"),
    ("nm0000002", "actress"),
    ("nm0000005", "actress"),
    ("nm0000006", "actor"),
]


def status_row(run_id: str, day: str, stage: str, table: str, minute: int, **extra: Any) -> dict[str, Any]:
    started = dt.datetime.fromisoformat(f"{day} 02:{minute:02d}:00")
    row = {
        "run_id": run_id,
        "run_date": dt.date.fromisoformat(day),
        "stage": stage,
        "table_name": table,
        "status": "success",
        "rows_affected": 100,
        "started_at": started,
        "finished_at": started + dt.timedelta(seconds=30),
        "duration_seconds": 30.0,
        "error": None,
    }
    return row | extra


STATUS = [
    status_row("2024-01-15-aaaa", "2024-01-15", "landing", "landing.title_basics", 5),
    status_row("2024-01-15-aaaa", "2024-01-15", "download", "title.basics.tsv.gz", 1, rows_affected=None),
    status_row("2024-01-15-aaaa", "2024-01-15", "landing", "landing.title_ratings", 6, status="failed", error="boom"),
    status_row("2024-01-16-bbbb", "2024-01-16", "publish", "actor_actress_kpis", 9),
]


def fill(writer_url: str, kpis: list[dict[str, Any]] | None = None, status: list[dict[str, Any]] | None = None):
    """Create the serving tables as publish does (same DDL) and fill them as the writer."""
    engine = sa.create_engine(writer_url)
    with engine.begin() as conn:
        if kpis is not None:
            conn.exec_driver_sql(publish.create_table_sql(publish.KPIS))
            if kpis:
                conn.execute(sa.insert(actor_actress_kpis), kpis)
        if status is not None:
            conn.exec_driver_sql(publish.create_table_sql(publish.STATUS))
            if status:
                conn.execute(sa.insert(etl_pipeline_status), status)
    engine.dispose()


@contextlib.contextmanager
def app_for(pg_database: tuple[str, str], url: str | None = None, **settings: Any) -> Iterator[FastAPI]:
    """An app reading the test database as the read-only role (or through `url`).

    Afterwards every connection it opened is closed and gone from the server, so the fixture can drop the
    database: the writer may not terminate the read-only role's sessions.
    """
    writer_url, reader_url = pg_database
    app = create_app(Settings(database_url=url or reader_url, **settings))
    try:
        yield app
    finally:
        # The app's engines are disposed when its lifespan ends (TestClient's or uvicorn's exit); a closed
        # connection's server process exits a moment later.
        _wait_for_no_sessions(writer_url, sa.make_url(reader_url).username)


def _wait_for_no_sessions(writer_url: str, role: str | None, timeout: float = 10) -> None:
    writer = sa.create_engine(writer_url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        with writer.connect() as conn:
            while time.monotonic() < deadline:
                left = conn.execute(
                    sa.text(
                        "select count(*) from pg_stat_activity where datname = current_database() and usename = :role"
                    ),
                    {"role": role},
                ).scalar_one()
                conn.rollback()  # a fresh snapshot of pg_stat_activity on the next read
                if not left:
                    return
                time.sleep(0.02)
    finally:
        writer.dispose()


@pytest.fixture()
def client(pg_database: tuple[str, str]) -> Iterator[TestClient]:
    writer_url, reader_url = pg_database
    fill(writer_url, KPIS, STATUS)
    with app_for(pg_database) as app, TestClient(app) as c:
        yield c


def keys(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["nconst"], r["role"]) for r in rows]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- ranking ---------------------------------------------------------------------------------------------


def test_top_orders_by_rating_then_votes_then_nconst_then_role(client: TestClient) -> None:
    response = client.get("/top_actor_actress", params={"limit": 100})
    assert response.status_code == 200
    rows = response.json()
    assert keys(rows) == EXPECTED_ORDER
    assert set(rows[0]) == set(COLUMNS)


def test_default_is_both_roles_top_ten(client: TestClient) -> None:
    rows = client.get("/top_actor_actress").json()
    assert keys(rows) == EXPECTED_ORDER  # fewer than 10 rows
    assert {r["role"] for r in rows} == {"actor", "actress"}


@pytest.mark.parametrize("role", ["actor", "actress"])
def test_role_filter_keeps_the_order(client: TestClient, role: str) -> None:
    rows = client.get("/top_actor_actress", params={"role": role}).json()
    assert keys(rows) == [k for k in EXPECTED_ORDER if k[1] == role]


def test_min_movies_counts_rated_movies(client: TestClient) -> None:
    rows = client.get("/top_actor_actress", params={"min_movies": 3}).json()
    assert keys(rows) == [("nm0000003", "actress"), ("nm0000001", "actor"), ("nm0000005", "actress")]


def test_min_votes_is_on_total_votes(client: TestClient) -> None:
    rows = client.get("/top_actor_actress", params={"min_votes": 1000, "role": "actor"}).json()
    assert keys(rows) == [("nm0000001", "actor"), ("nm0000002", "actor")]
    assert client.get("/top_actor_actress", params={"min_votes": 50_001}).json() == []


def test_pages_are_consistent_and_never_overlap(pg_database: tuple[str, str]) -> None:
    writer_url, reader_url = pg_database
    # 250 rows over only 5 distinct ratings and 3 vote counts: ties everywhere, so only the full
    # (avg_rating, total_votes, nconst, role) order keeps pages stable.
    rows = [
        kpi(f"nm{i // 2:07d}", ("actor", "actress")[i % 2], f"P{i}", 1 + i % 4, 5.0 + i % 5, 10 * (i % 3))
        for i in range(250)
    ]
    fill(writer_url, rows)
    with app_for(pg_database) as app, TestClient(app) as c:
        everything = c.get("/top_actor_actress", params={"limit": 1000}).json()
        pages = []
        for offset in range(0, 250, 40):
            pages += c.get("/top_actor_actress", params={"limit": 40, "offset": offset}).json()
        past_the_end = c.get("/top_actor_actress", params={"offset": 250}).json()
    assert len(everything) == 250
    assert keys(pages) == keys(everything)
    assert len(set(keys(pages))) == 250
    assert past_the_end == []
    expected = sorted(rows, key=lambda r: (-r["avg_rating"], -r["total_votes"], r["nconst"], r["role"]))
    assert keys(everything) == keys(expected)


def test_limit_is_capped_at_1000(pg_database: tuple[str, str]) -> None:
    writer_url, reader_url = pg_database
    fill(writer_url, [kpi(f"nm{i:07d}", "actor", None, 1, 5.0 + (i % 50) / 10, i) for i in range(1200)])
    with app_for(pg_database) as app, TestClient(app) as c:
        assert len(c.get("/top_actor_actress", params={"limit": 1000}).json()) == 1000
        assert len(c.post("/top_actor_actress/", json={"limit": 1000}).json()) == 1000
        too_many = c.get("/top_actor_actress", params={"limit": 1001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["query", "limit"]


def test_utf8_names_and_nulls_arrive_intact(client: TestClient) -> None:
    rows = {(r["nconst"], r["role"]): r for r in client.get("/top_actor_actress", params={"limit": 100}).json()}
    assert rows["nm0000001", "actor"]["primary_name"] == "Miklós Rózsa"
    assert rows["nm0000002", "actress"]["primary_name"] == 'Stephen "Dr" Love'
    assert rows["nm0000003", "actress"]["primary_name"] == "Zoë Ødegård"
    assert rows["nm0000005", "actress"]["primary_name"] == "O'Brien \\ back"
    assert rows["nm0000006", "actor"]["primary_name"] == "漢字 🎬"
    assert rows["nm0000004", "actor"]["primary_name"] is None
    assert rows["nm0000005", "actress"] == {
        "nconst": "nm0000005",
        "primary_name": "O'Brien \\ back",
        "role": "actress",
        "movies_rated": 10,
        "avg_rating": 7.0,
        "weighted_rating": 7.25,
        "total_votes": 50_000,
    }


def test_post_body_and_get_query_give_the_same_answer(client: TestClient) -> None:
    query = {"role": "actor", "limit": 2, "offset": 1, "min_movies": 1, "min_votes": 10}
    get = client.get("/top_actor_actress", params=query)
    for path in ("/top_actor_actress/", "/top_actor_actress"):  # both spellings, no redirect
        post = client.post(path, json=query, follow_redirects=False)
        assert post.status_code == 200
        assert post.json() == get.json()
    assert client.get("/top_actor_actress/", params=query, follow_redirects=False).json() == get.json()
    # The original API's body
    original = client.post("/top_actor_actress/", json={"role": "actor"}).json()
    assert original == client.get("/top_actor_actress", params={"role": "actor"}).json()
    assert keys(client.post("/top_actor_actress/").json()) == EXPECTED_ORDER  # no body: the defaults


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"role": "director"}, "role"),
        ({"role": ""}, "role"),
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"min_movies": 0}, "min_movies"),
        ({"min_votes": -1}, "min_votes"),
        ({"offset": 2**63}, "offset"),
    ],
)
def test_bad_ranking_input_is_422_naming_the_field(client: TestClient, params: dict, field: str) -> None:
    for response in (
        client.get("/top_actor_actress", params=params),
        client.post("/top_actor_actress/", json=params),
    ):
        assert response.status_code == 422
        body = response.json()
        assert [e["loc"][-1] for e in body["detail"]] == [field]
        assert body["message"].startswith(f"{field}: ")


def test_misspelt_body_field_is_422_not_ignored(client: TestClient) -> None:
    response = client.post("/top_actor_actress/", json={"rol": "actor"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "rol"]


# --- pipeline status -------------------------------------------------------------------------------------


def test_status_lists_the_runs_of_the_date_in_order(client: TestClient) -> None:
    response = client.get("/etl_pipeline_status", params={"date": "2024-01-15"})
    assert response.status_code == 200
    rows = response.json()
    assert [(r["stage"], r["table_name"], r["status"]) for r in rows] == [
        ("download", "title.basics.tsv.gz", "success"),
        ("landing", "landing.title_basics", "success"),
        ("landing", "landing.title_ratings", "failed"),
    ]
    assert rows[0] == {
        "run_id": "2024-01-15-aaaa",
        "run_date": "2024-01-15",
        "stage": "download",
        "table_name": "title.basics.tsv.gz",
        "status": "success",
        "rows_affected": None,
        "started_at": "2024-01-15T02:01:00Z",
        "finished_at": "2024-01-15T02:01:30Z",
        "duration_seconds": 30.0,
        "error": None,
    }
    assert rows[2]["error"] == "boom"


def test_status_post_body_and_get_query_give_the_same_answer(client: TestClient) -> None:
    get = client.get("/etl_pipeline_status", params={"date": "2024-01-16"}).json()
    assert [r["run_id"] for r in get] == ["2024-01-16-bbbb"]
    for path in ("/etl_pipeline_status/", "/etl_pipeline_status"):
        assert client.post(path, json={"date": "2024-01-16"}, follow_redirects=False).json() == get


def test_status_is_404_for_a_date_without_runs(client: TestClient) -> None:
    for response in (
        client.get("/etl_pipeline_status", params={"date": "2024-01-17"}),
        client.post("/etl_pipeline_status/", json={"date": "2024-01-17"}),
    ):
        assert response.status_code == 404
        assert response.json() == {"detail": "no pipeline run recorded for 2024-01-17"}


@pytest.mark.parametrize("value", ["2024-13-01", "2024-02-30", "15/01/2024", "2024-1-5", "1705276800", "x"])
def test_bad_status_date_is_422_naming_the_field(client: TestClient, value: str) -> None:
    for response in (
        client.get("/etl_pipeline_status", params={"date": value}),
        client.post("/etl_pipeline_status/", json={"date": value}),
    ):
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "date"
    missing = client.get("/etl_pipeline_status")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "date"]


def test_before_the_first_publish_top_is_empty_and_status_404(pg_database: tuple[str, str]) -> None:
    _, reader_url = pg_database
    with app_for(pg_database) as app, TestClient(app) as c:
        assert c.get("/top_actor_actress").json() == []
        assert c.post("/top_actor_actress/", json={"role": "actress"}).json() == []
        assert c.get("/etl_pipeline_status", params={"date": "2024-01-15"}).status_code == 404
        assert c.get("/health").json() == {"status": "ok"}


# --- health ----------------------------------------------------------------------------------------------


def test_health_is_ok_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_503_and_data_routes_503_when_the_database_is_unreachable(
    pg_database: tuple[str, str],
) -> None:
    closed = sa.make_url(pg_database[1]).set(port=free_port()).render_as_string(hide_password=False)
    with app_for(pg_database, closed) as app, TestClient(app) as c:
        started = time.monotonic()
        health = c.get("/health")
        assert health.status_code == 503
        assert health.json()["status"] == "unavailable"
        assert time.monotonic() - started < 5
        top = c.get("/top_actor_actress")
        assert top.status_code == 503
        assert "unavailable" in top.json()["detail"]


class TcpProxy:
    """Loopback TCP forwarder to PostgreSQL: stop() closes the port and cuts every open connection, as a
    database restart does; start() listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._running = threading.Event()

    def start(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.1)
        self._running.set()
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def stop(self) -> None:
        self._running.clear()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for s in self._conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._running.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._conns |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)


def test_health_recovers_by_itself_when_the_database_comes_back(pg_database: tuple[str, str]) -> None:
    fill(pg_database[0], KPIS, STATUS)
    reader = sa.make_url(pg_database[1])
    proxy = TcpProxy((reader.host or "127.0.0.1", reader.port or 5432))
    proxy.start()
    url = reader.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        # Answer cache off: a cached answer would (rightly) still be served for a moment after the outage
        with app_for(pg_database, url, cache=False) as app, TestClient(app) as c:
            assert c.get("/health").status_code == 200
            assert len(c.get("/top_actor_actress").json()) == len(KPIS)  # a pooled connection now exists
            proxy.stop()
            assert c.get("/health").status_code == 503
            assert c.get("/top_actor_actress").status_code == 503
            proxy.start()
            # pre-ping replaces the dead pooled connection: the first request after the restart answers
            assert c.get("/health").json() == {"status": "ok"}
            assert len(c.get("/top_actor_actress").json()) == len(KPIS)
    finally:
        proxy.stop()


# --- a real HTTP server ----------------------------------------------------------------------------------


def test_real_uvicorn_server_on_loopback(pg_database: tuple[str, str]) -> None:
    writer_url, reader_url = pg_database
    fill(writer_url, KPIS, STATUS)
    port = free_port()
    with app_for(pg_database) as app:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            deadline = time.monotonic() + 10
            while not server.started:
                assert time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, timeout=5) as http:
                assert http.get("/health").json() == {"status": "ok"}
                top = http.post("/top_actor_actress/", json={"role": "actress"})
                assert top.status_code == 200
                assert top.headers["content-type"] == "application/json"
                assert keys(top.json()) == [k for k in EXPECTED_ORDER if k[1] == "actress"]
                assert http.get("/top_actor_actress", params={"limit": 0}).status_code == 422
                status = http.post("/etl_pipeline_status/", json={"date": "2024-01-15"})
                assert len(status.json()) == 3
                assert http.get("/docs").status_code == 200
                assert "/top_actor_actress" in http.get("/openapi.json").json()["paths"]
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    assert not thread.is_alive()


# --- cached per publish: ETag, 304, gzip ------------------------------------------------------------------


def bump_generation(writer_url: str) -> None:
    """What every publish does in its swap transaction (the tables' content is not what matters here)."""
    engine = sa.create_engine(writer_url)
    with engine.begin() as conn:
        publish.bump_generation(conn, "actor_actress_kpis")
    engine.dispose()


def test_answers_carry_an_etag_and_a_matching_if_none_match_gets_304(pg_database: tuple[str, str]) -> None:
    writer_url, _ = pg_database
    fill(writer_url, KPIS, STATUS)
    bump_generation(writer_url)
    with app_for(pg_database) as app, TestClient(app) as c:
        first = c.get("/top_actor_actress", params={"role": "actor"})
        etag = first.headers["etag"]
        assert first.status_code == 200 and first.headers["cache-control"] == "no-cache"
        assert etag.startswith('W/"')

        again = c.get("/top_actor_actress", params={"role": "actor"}, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b"" and again.headers["etag"] == etag
        # a list of tags, and the strong form of the same tag, match too (weak comparison)
        listed = c.get("/top_actor_actress?role=actor", headers={"If-None-Match": f'"x", {etag.removeprefix("W/")}'})
        assert listed.status_code == 304

        other = c.get("/top_actor_actress", params={"role": "actress"}, headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag
        status_etag = c.get("/etl_pipeline_status", params={"date": "2024-01-15"}).headers["etag"]
        status = c.get("/etl_pipeline_status?date=2024-01-15", headers={"If-None-Match": status_etag})
        assert status.status_code == 304
        posted = c.post("/top_actor_actress/", json={"role": "actor"}, headers={"If-None-Match": etag})
        assert posted.status_code == 200 and "etag" not in posted.headers  # validators are for GET

        # A publish makes every earlier tag stale, a second later at most
        bump_generation(writer_url)
        time.sleep(1.0)
        after = c.get("/top_actor_actress", params={"role": "actor"}, headers={"If-None-Match": etag})
        assert after.status_code == 200 and after.headers["etag"] != etag
        assert after.json() == first.json()


def test_a_publish_shows_within_a_second_in_cached_answers(pg_database: tuple[str, str]) -> None:
    writer_url, _ = pg_database
    fill(writer_url, KPIS, STATUS)
    bump_generation(writer_url)
    with app_for(pg_database) as app, TestClient(app) as c:
        before = c.get("/top_actor_actress", params={"role": "actor"})
        assert c.get("/top_actor_actress", params={"role": "actor"}).headers["x-cache"] == "HIT"
        # a new table and its generation, committed together as publish does
        engine = sa.create_engine(writer_url)
        with engine.begin() as conn:
            conn.execute(sa.update(actor_actress_kpis).values(primary_name="Renamed"))
            publish.bump_generation(conn, "actor_actress_kpis")
        engine.dispose()
        time.sleep(1.0)
        after = c.get("/top_actor_actress", params={"role": "actor"})
    assert {r["primary_name"] for r in after.json()} == {"Renamed"}
    assert keys(after.json()) == keys(before.json())


def test_large_answers_are_gzipped_when_the_client_accepts_it(pg_database: tuple[str, str]) -> None:
    writer_url, _ = pg_database
    fill(writer_url, [kpi(f"nm{i:07d}", "actor", f"Person {i}", 1, 5.0 + i % 50 / 10, i) for i in range(500)])
    with app_for(pg_database) as app, TestClient(app) as c:
        plain = c.get("/top_actor_actress", params={"limit": 500}, headers={"Accept-Encoding": "identity"})
        for _ in range(2):  # computed, then from the cache
            zipped = c.get("/top_actor_actress", params={"limit": 500}, headers={"Accept-Encoding": "gzip, br"})
            assert zipped.headers["content-encoding"] == "gzip"
            assert int(zipped.headers["content-length"]) < len(plain.content) / 3
            assert zipped.content == plain.content  # httpx decodes it: the same bytes
            assert "accept-encoding" in zipped.headers["vary"].lower()
        small = c.get("/top_actor_actress", params={"limit": 1}, headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in plain.headers
    assert "content-encoding" not in small.headers  # not worth it


def test_a_request_body_over_the_limit_gets_413(client: TestClient) -> None:
    response = client.post("/top_actor_actress/", content=b'{"role": "' + b"x" * 70_000 + b'"}')
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.json()["detail"]
    assert client.post("/top_actor_actress/", json={"role": "actor"}).status_code == 200


# --- errors that say what happened -------------------------------------------------------------------------


def test_a_statement_timeout_gets_its_own_503_message(pg_database: tuple[str, str]) -> None:
    writer_url, _ = pg_database
    fill(writer_url, KPIS, STATUS)
    writer = sa.create_engine(writer_url)
    with app_for(pg_database, statement_timeout_ms=300, cache=False) as app, TestClient(app) as c:
        assert c.get("/top_actor_actress").status_code == 200
        with writer.connect() as conn, conn.begin():
            # The writer holds the table (as a long swap would): the reader's query waits until its time-out.
            conn.exec_driver_sql("lock table actor_actress_kpis in access exclusive mode")
            response = c.get("/top_actor_actress")
            health = c.get("/health")
    writer.dispose()
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the query timed out after 300 ms (API_STATEMENT_TIMEOUT_MS); retry later, or ask for less "
        "(a smaller limit or offset)"
    }
    assert "unavailable" not in response.text
    assert response.headers["retry-after"]
    assert health.json() == {"status": "ok"}  # the database itself is fine


# --- a crowd ---------------------------------------------------------------------------------------------


async def _burst(port: int, n: int) -> tuple[list[Answer], Answer]:
    """n concurrent GETs, each on its own connection, bounded in time; and a /health sent in the middle."""
    paths = [f"/top_actor_actress?role=actor&limit={1 + i % 50}&offset={i % 7}" for i in range(n)]
    tasks = [asyncio.ensure_future(http_get(port, p, timeout=BURST_TIMEOUT)) for p in paths]
    await asyncio.sleep(0.05)
    health = await http_get(port, "/health", timeout=BURST_TIMEOUT)
    return list(await asyncio.gather(*tasks)), health


BURST_TIMEOUT = 10.0


def test_a_burst_of_1000_concurrent_requests_gets_only_200_or_503_and_the_next_one_200_within_a_second(
    pg_database: tuple[str, str],
) -> None:
    writer_url, reader_url = pg_database
    fill(writer_url, KPIS, STATUS)
    allow_many_open_files(4096)
    # Two workers as deployed, a small in-flight bound and no answer cache: every admitted request does its
    # query, and most of the crowd meets the bound.
    with running_api(reader_url, API_WORKERS="2", API_MAX_IN_FLIGHT="16", API_CACHE="false") as port:
        answers, health = asyncio.run(_burst(port, 1000))
        after = asyncio.run(http_get(port, "/top_actor_actress?role=actor", timeout=BURST_TIMEOUT))

    statuses = Counter(a.status for a in answers)
    failures = [a.error for a in answers if a.status is None][:5]
    assert set(statuses) <= {200, 503}, f"{statuses}; e.g. {failures}"
    assert statuses[200] > 0 and statuses[503] > 0, statuses
    refused = [a for a in answers if a.status == 503]
    assert all(a.headers.get("retry-after") == "1" and b"at capacity" in a.body for a in refused)
    assert health.status == 200 and health.seconds < 1.0, health
    assert after.status == 200 and after.seconds < 1.0, after
    assert [r["role"] for r in json.loads(after.body)] == ["actor"] * 4


# --- /docs and /redoc without a network ------------------------------------------------------------------


def test_docs_and_redoc_render_offline_from_assets_the_api_serves(
    pg_database: tuple[str, str], artifacts_dir: Path
) -> None:
    writer_url, reader_url = pg_database
    fill(writer_url, KPIS, STATUS)
    # Every host name fails to resolve, so a page that needs a CDN stays blank; loopback still works.
    offline = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
    with running_api(reader_url, API_WORKERS="1") as port:
        base = f"http://127.0.0.1:{port}"
        html = httpx.get(f"{base}/docs").text
        docs = chromium(f"{base}/docs", screenshot=artifacts_dir / "api-docs-offline.png", extra_args=offline)
        redoc = chromium(f"{base}/redoc", screenshot=artifacts_dir / "api-redoc-offline.png", extra_args=offline)
        asset = httpx.get(f"{base}/static/docs/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert "cdn" not in html.lower() and "https://" not in html
    # Rendered by Swagger UI's script (the HTML itself holds only an empty <div id="swagger-ui">)
    assert "opblock-summary-path" in docs and "/top_actor_actress" in docs, docs[-2000:]
    assert "Failed to load API definition" not in docs
    assert "Top actors/actresses by average rating" in redoc, redoc[-2000:]
    assert asset.status_code == 200 and asset.headers["content-encoding"] == "gzip"


# --- property-based: the API's own OpenAPI schema ----------------------------------------------------------


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_generated_requests_never_get_a_server_error(pg_database: tuple[str, str], mode: GenerationMode) -> None:
    """Valid and invalid requests generated from /openapi.json: never a 5xx, only documented answers.

    (schemathesis.pytest.from_fixture does not run on pytest 9, so each operation's strategy is driven by
    hypothesis directly; derandomize makes the examples the same on every run.)
    """
    writer_url, reader_url = pg_database
    fill(writer_url, KPIS, STATUS)
    with app_for(pg_database) as app, contextlib.ExitStack() as stack:
        # schemathesis starts the app's lifespan once and keeps it: end it, so its connections close
        stack.callback(schemathesis.python.asgi.shutdown_lifespans)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) == 5
        for operation in operations:
            if mode is GenerationMode.NEGATIVE and operation.path == "/health":
                continue  # no input at all: nothing invalid to generate

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=50,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: Case) -> None:
                response = case.call()
                label = f"{case.method} {case.formatted_path} {case.query} {case.body!r}"
                # 4xx for what the API rejects (422 bad field, 400 unparsable body, 404 no run that day)
                assert 200 <= response.status_code < 500, f"{label} -> {response.status_code} {response.text}"
                if mode is GenerationMode.POSITIVE and response.status_code == 200:
                    case.validate_response(response)  # the body matches the documented response model

            check()
