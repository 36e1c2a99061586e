"""Project settings read from the environment (and a git-ignored `.env`), with the SPEC's defaults.

One place for every path and address the loader, the tests and the services share. Paths are absolute so
that the Thrift server (another process, another working directory) sees the same files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO_ROOT / "sample_data"
DEFAULT_BASE_URL = "https://datasets.imdbws.com/"


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from `.env` into os.environ without overriding what is already set."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        os.environ.setdefault(key.strip(), value.strip().strip('"').strip("'"))


_load_dotenv(REPO_ROOT / ".env")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    base_url: str
    thrift_host: str
    thrift_port: int
    reject_share: float
    # snapshot guards (SPEC: Landing semantics): a file may soft-delete at most max(share x live keys, floor)
    # keys, and have at most that many rows fewer than the table's live keys, unless a shrink is allowed
    max_delete_share: float = 0.01
    max_shrink_share: float = 0.01
    guard_floor_rows: int = 10_000
    allow_shrink: bool = False
    allow_older_run_date: bool = False
    raw_diff: bool = True  # next-day landing compares the raw files outside Spark when it can

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


def settings() -> Settings:
    """Current settings; read at call time so tests and the CLI can change the environment first."""
    data_dir = Path(os.environ.get("DATA_DIR", REPO_ROOT / ".data"))
    if not data_dir.is_absolute():
        data_dir = (REPO_ROOT / data_dir).resolve()
    return Settings(
        data_dir=data_dir,
        base_url=os.environ.get("IMDB_BASE_URL") or DEFAULT_BASE_URL,
        thrift_host=os.environ.get("THRIFT_HOST", "127.0.0.1"),
        thrift_port=int(os.environ.get("THRIFT_PORT", "10000")),
        reject_share=float(os.environ.get("REJECT_SHARE", "0.001")),
        max_delete_share=float(os.environ.get("IMDB_MAX_DELETE_SHARE", "0.01")),
        max_shrink_share=float(os.environ.get("IMDB_MAX_SHRINK_SHARE", "0.01")),
        guard_floor_rows=int(os.environ.get("IMDB_GUARD_FLOOR_ROWS", "10000")),
        allow_shrink=_flag("IMDB_ALLOW_SHRINK"),
        allow_older_run_date=_flag("IMDB_ALLOW_OLDER_RUN_DATE"),
        raw_diff=not _flag("IMDB_NO_RAW_DIFF"),
    )


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def schema(layer: str) -> str:
    """Schema name for a layer ("landing", "cleansed", "aggregated").

    IMDB_SCHEMA_PREFIX (empty by default) lets tests and side-by-side experiments use their own schemas;
    dbt reads the same variable (macros/generate_schema_name.sql), so every layer moves together.
    """
    return os.environ.get("IMDB_SCHEMA_PREFIX", "") + layer


def database_url(read_only: bool = False) -> str:
    """SQLAlchemy URL of the serving database: the writer for the pipeline, the read-only role for the API.

    DATABASE_URL / API_DATABASE_URL point at your own server; otherwise the project-local cluster
    (services/postgres.sh) on 127.0.0.1:PG_PORT with the passwords from .env.
    """
    explicit = os.environ.get("API_DATABASE_URL" if read_only else "DATABASE_URL", "")
    if explicit and explicit != "local":
        return explicit
    user = os.environ.get("PG_READER_USER" if read_only else "PG_WRITER_USER") or (
        "imdb_reader" if read_only else "imdb_writer"
    )
    password = os.environ.get("PG_READER_PASSWORD" if read_only else "PG_WRITER_PASSWORD", "")
    port = os.environ.get("PG_PORT", "5433")
    db = os.environ.get("PG_DB", "imdb")
    return f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{port}/{db}"
