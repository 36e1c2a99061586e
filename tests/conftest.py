"""Shared fixtures: the real services, started (or reused) once per test session, and per-test isolation.

Tests never mock the Spark Thrift server or PostgreSQL: the fixtures run `services/*.sh start`, which reuse
a running server, and stop at the end only what they started themselves.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from core.config import REPO_ROOT, database_url

# Real IMDb excerpts, committed with the tests (see tests/data/README.md for their terms).
SAMPLES = Path(__file__).resolve().parent / "data"
ARTIFACTS = REPO_ROOT / "test-artifacts"


def service(script: str, action: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`services/<script> <action>`, in this process's environment unless `env` is given."""
    return subprocess.run(
        [str(REPO_ROOT / "services" / script), action], env=env, capture_output=True, text=True, check=False
    )


def _ensure(script: str) -> bool:
    """Start a service unless it already runs; True when this test session started it."""
    was_running = service(script, "status").returncode == 0
    if not was_running:
        result = service(script, "start")
        if result.returncode != 0:
            pytest.fail(f"services/{script} start failed:\n{result.stderr}")
    return not was_running


@pytest.fixture(scope="session")
def thrift_server() -> Iterator[None]:
    started = _ensure("thrift.sh")
    yield
    if started and not os.environ.get("KEEP_SERVICES"):
        service("thrift.sh", "stop")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[None]:
    started = _ensure("postgres.sh")
    yield
    if started and not os.environ.get("KEEP_SERVICES"):
        service("postgres.sh", "stop")


@pytest.fixture()
def spark(thrift_server: None):
    from core.thrift import session

    with session() as s:
        yield s


@pytest.fixture()
def schema_prefix(thrift_server: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh schema prefix for this test (landing/cleansed/aggregated live under it), dropped after."""
    from core.thrift import session

    prefix = f"t{uuid.uuid4().hex[:8]}_"
    monkeypatch.setenv("IMDB_SCHEMA_PREFIX", prefix)
    yield prefix
    with session() as s:
        for (name,) in s.query(f"show schemas like '{prefix}*'"):
            s.execute(f"drop schema if exists {name} cascade")


@pytest.fixture()
def pg_database(postgres_server: None) -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database owned by the writer, readable by the read-only role.

    Yields (writer_url, reader_url); dropped after the test.
    """
    import sqlalchemy as sa

    name = f"t_{uuid.uuid4().hex[:10]}"
    writer_url = sa.make_url(database_url())
    reader_url = sa.make_url(database_url(read_only=True))
    admin = sa.create_engine(writer_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'create database "{name}"'))
    db_writer = writer_url.set(database=name)
    engine = sa.create_engine(db_writer, isolation_level="AUTOCOMMIT")
    with engine.connect() as c:
        from serving.roles import grant_reader

        grant_reader(c, reader_url.username)
    engine.dispose()
    yield (
        db_writer.render_as_string(hide_password=False),
        reader_url.set(database=name).render_as_string(hide_password=False),
    )
    # The writer may end its own sessions (WITH FORCE) but not the reader's (that needs pg_signal_backend):
    # wait for those to close first (up to a minute: a loaded machine can be slow to end a backend).
    with admin.connect() as c:
        for _ in range(300):
            others = c.execute(
                sa.text("select count(*) from pg_stat_activity where datname = :d and usename <> current_user"),
                {"d": name},
            ).scalar_one()
            if not others:
                break
            time.sleep(0.2)
        # A backend that is exiting has already left pg_stat_activity but is still in the process list that
        # DROP ... WITH (FORCE) signals, and signalling the reader's is refused: retry until it is gone.
        for attempt in range(50):
            try:
                c.execute(sa.text(f'drop database if exists "{name}" with (force)'))
                break
            except sa.exc.ProgrammingError:
                if attempt == 49:
                    raise
                time.sleep(0.2)
    admin.dispose()


@pytest.fixture()
def gz_samples(tmp_path: Path) -> Path:
    """The real IMDb excerpts (heads-2024) gzipped on the fly, as IMDb serves them."""
    excerpts = sorted((SAMPLES / "heads-2024").glob("*.tsv"))
    if not excerpts:  # an empty directory would only show up later as a puzzling KPI mismatch
        pytest.fail(f"no IMDb excerpts in {SAMPLES / 'heads-2024'} (they are committed with the tests)")
    out = tmp_path / "heads-2024"
    out.mkdir()
    for tsv in excerpts:
        with tsv.open("rb") as src, gzip.open(out / f"{tsv.name}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that restart the shared services run after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("lifecycle") is not None)


# Test fixtures are small: with the project's defaults the KPI would recompute everyone at once instead of taking
# the affected-people path, which most dbt tests are about, and the cleansed MERGEs would broadcast their small
# targets instead of filtering them at run time as they do at full scale. A test that wants the defaults says so.
FULL_SCALE_PATHS_ON_SMALL_TABLES = {"kpi_affected_path_min_rows": 0, "merge_runtime_filter_min_bytes": 0}


def run_dbt(*args: str, check: bool = True, project_vars: bool = False) -> subprocess.CompletedProcess[str]:
    """`dbt <args>` against the real Thrift server, in the project, with the test's schema prefix (env). A build
    or run takes the full-scale paths on small tables too (FULL_SCALE_PATHS_ON_SMALL_TABLES, merged with any
    --vars given) unless project_vars."""
    if not project_vars and args and args[0] in ("build", "run"):
        extra, rest = dict(FULL_SCALE_PATHS_ON_SMALL_TABLES), list(args)
        if "--vars" in rest:
            at = rest.index("--vars")
            extra.update(yaml.safe_load(rest[at + 1]))
            del rest[at : at + 2]
        args = (*rest, "--vars", json.dumps(extra))
    env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(REPO_ROOT),
        "DBT_PROJECT_DIR": str(REPO_ROOT / "dbt_imdb"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "DO_NOT_TRACK": "1",
    }
    dbt = REPO_ROOT / ".venv" / "bin" / "dbt"
    result = subprocess.run([str(dbt), *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-2000:]}")
    return result


def fetch_kpis(spark, prefix: str) -> dict[tuple[str, str], dict]:
    rows = spark.query(
        f"select nconst, role, primary_name, movies_rated, avg_rating, weighted_rating, total_votes, updated_at "
        f"from {prefix}aggregated.actor_actress_kpis"
    )
    cols = ("primary_name", "movies_rated", "avg_rating", "weighted_rating", "total_votes", "updated_at")
    return {(r[0], r[1]): dict(zip(cols, r[2:], strict=True)) for r in rows}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium(
    url: str, *, screenshot: Path | None = None, wait_ms: int = 15000, extra_args: tuple[str, ...] = ()
) -> str:
    """Render a page in headless Debian Chromium; returns the DOM after scripts ran (and saves a PNG).
    `extra_args` go to Chromium as they are (e.g. a --host-resolver-rules that takes the network away)."""
    import tempfile

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    # Chromium's helper processes may still write to the profile as the browser exits: never fail a test on cleanup
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        base = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--virtual-time-budget={wait_ms}",
            "--window-size=1600,1000",
            *extra_args,
        ]
        if screenshot is not None:
            subprocess.run([*base, f"--screenshot={screenshot}", url], capture_output=True, timeout=120)
        dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    return dom.stdout


def chromium_session(steps: list[tuple[str, object]], *, screenshot: Path, wait_s: float = 8) -> list[object]:
    """Drive headless Chromium over the DevTools protocol through several steps in one browser session
    (cookies kept between pages): ("goto", url), ("click_text", text), ("click_css", selector), and ("text", None),
    which returns the page's text. Saves a PNG of the last page."""
    import base64
    import json
    import tempfile
    import time

    from websockets.sync.client import connect

    binary = shutil.which("chromium") or "/usr/bin/chromium"
    out: list[object] = []
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1600,1000", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so the helpers (renderer, crashpad) stop with it
        )  # fmt: skip
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            for _ in range(100):
                if port_file.is_file() and port_file.read_text().strip():
                    break
                time.sleep(0.1)
            port = port_file.read_text().split()[0]
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
            ws_url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
            with connect(ws_url, max_size=50_000_000) as ws:
                ids = iter(range(1, 10_000))

                def call(method: str, **params):
                    i = next(ids)
                    ws.send(json.dumps({"id": i, "method": method, "params": params}))
                    while True:
                        msg = json.loads(ws.recv(timeout=60))
                        if msg.get("id") == i:
                            return msg.get("result", {})

                def evaluate(expression: str):
                    return call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

                for action, arg in steps:
                    if action == "goto":
                        call("Page.navigate", url=arg)
                        time.sleep(wait_s)
                    elif action == "click_text":  # a button by its text or its aria-label / title
                        text, label = json.dumps(arg), json.dumps(str(arg).lower())
                        evaluate(
                            "Array.from(document.querySelectorAll('button,a,[role=button]')).find(e => "
                            f"e.innerText.trim() === {text} || "
                            f"(e.getAttribute('aria-label') || e.title || '').toLowerCase().includes({label})"
                            ")?.click()"
                        )
                        time.sleep(wait_s)
                    elif action == "click_css":
                        evaluate(f"document.querySelector({json.dumps(arg)})?.click()")
                        time.sleep(wait_s)
                    elif action == "text":
                        out.append(evaluate("document.body.innerText"))
                png = call("Page.captureScreenshot", format="png")["data"]
                screenshot.write_bytes(base64.b64decode(png))
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    return out
