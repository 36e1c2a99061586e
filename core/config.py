"""Project settings: one pydantic-settings object, read from the environment, which a git-ignored `.env` fills
in, with the SPEC's defaults.

One place for every path, address and knob the loader, publish, the DAG, the tests and the services share:
every Python entry point (the CLI, the DAG, the API through api.settings, bench, the tests) reads `settings()`.
`.env` is read once, when this module is imported, into the environment without overriding what is already
set (as services/common.sh does for the shell scripts), so subprocesses (dbt, the Thrift server) see the same
values. Paths are absolute so that the Thrift server (another process, another working directory) sees the
same files. `settings()` reads the environment at call time, so tests and the CLI can change it first.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

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


def _flag(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _not_flag(value: object) -> object:
    # the environment's string is inverted; the (validated) default True is already the setting
    return not _flag(value) if isinstance(value, str) else value


def _empty_is_default(value: Any) -> Any:
    if value == "":
        raise PydanticUseDefault()
    return value


Flag = Annotated[bool, BeforeValidator(_flag)]  # 1/true/yes/on (any case) is on, anything else off
NotFlag = Annotated[bool, BeforeValidator(_not_flag)]  # an IMDB_NO_… variable: on switches it off
# Unset or empty: the default (`os.environ.get(…) or default`)
OrDefault = BeforeValidator(_empty_is_default)


class Settings(BaseSettings):
    """Every setting, each named by its environment variable (README: Configuration)."""

    model_config = SettingsConfigDict(case_sensitive=True, frozen=True, extra="ignore", env_file=None)

    data_dir: Path = Field(REPO_ROOT / ".data", validation_alias="DATA_DIR")
    base_url: Annotated[str, OrDefault] = Field(DEFAULT_BASE_URL, validation_alias="IMDB_BASE_URL")
    thrift_host: str = Field("127.0.0.1", validation_alias="THRIFT_HOST")
    thrift_port: int = Field(10000, validation_alias="THRIFT_PORT")
    reject_share: float = Field(0.001, validation_alias="REJECT_SHARE")
    # snapshot guards (SPEC: Landing semantics): a file may soft-delete at most max(share x live keys, floor)
    # keys, and have at most that many rows fewer than the table's live keys, unless a shrink is allowed
    max_delete_share: float = Field(0.01, validation_alias="IMDB_MAX_DELETE_SHARE")
    max_shrink_share: float = Field(0.01, validation_alias="IMDB_MAX_SHRINK_SHARE")
    guard_floor_rows: int = Field(10_000, validation_alias="IMDB_GUARD_FLOOR_ROWS")
    allow_shrink: Flag = Field(False, validation_alias="IMDB_ALLOW_SHRINK")
    allow_older_run_date: Flag = Field(False, validation_alias="IMDB_ALLOW_OLDER_RUN_DATE")
    # next-day landing compares the raw files outside Spark when it can (IMDB_NO_RAW_DIFF switches it off)
    raw_diff: NotFlag = Field(True, validation_alias="IMDB_NO_RAW_DIFF")
    schema_prefix: str = Field("", validation_alias="IMDB_SCHEMA_PREFIX")

    # time-outs and maintenance thresholds
    thrift_statement_timeout_seconds: float = Field(7200, validation_alias="THRIFT_STATEMENT_TIMEOUT_SECONDS")
    thrift_socket_timeout_seconds: float = Field(300, validation_alias="THRIFT_SOCKET_TIMEOUT_SECONDS")
    download_deadline_seconds: float = Field(7200, validation_alias="IMDB_DOWNLOAD_DEADLINE_SECONDS")
    lease_ttl_seconds: float = Field(120, validation_alias="IMDB_LEASE_TTL_SECONDS")
    lease_gap_seconds: float = Field(900, validation_alias="IMDB_LEASE_GAP_SECONDS")
    purge_after_commits: int = Field(30, validation_alias="IMDB_PURGE_AFTER_COMMITS")
    vacuum_retain_hours: int = Field(168, validation_alias="IMDB_VACUUM_RETAIN_HOURS")
    publish_lock_timeout_ms: Annotated[int, OrDefault] = Field(1000, validation_alias="PUBLISH_LOCK_TIMEOUT_MS")
    publish_lock_attempts: Annotated[int, OrDefault] = Field(20, validation_alias="PUBLISH_LOCK_ATTEMPTS")

    # the serving database (database_url() below builds the URLs)
    database_url: str = Field("", validation_alias="DATABASE_URL")
    api_database_url: str = Field("", validation_alias="API_DATABASE_URL")
    pg_writer_user: Annotated[str, OrDefault] = Field("imdb_writer", validation_alias="PG_WRITER_USER")
    pg_reader_user: Annotated[str, OrDefault] = Field("imdb_reader", validation_alias="PG_READER_USER")
    pg_writer_password: str = Field("", validation_alias="PG_WRITER_PASSWORD")
    pg_reader_password: str = Field("", validation_alias="PG_READER_PASSWORD")
    pg_port: str = Field("5433", validation_alias="PG_PORT")
    pg_db: str = Field("imdb", validation_alias="PG_DB")

    # the Airflow DAG: dbt's paths (as Cosmos' examples take them from the environment), target and deadlines
    dbt_project_dir: Path = Field(REPO_ROOT / "dbt_imdb", validation_alias="DBT_PROJECT_DIR")
    dbt_profiles_dir: Path = Field(REPO_ROOT, validation_alias="DBT_PROFILES_DIR")
    dbt_executable_path: Path = Field(REPO_ROOT / ".venv" / "bin" / "dbt", validation_alias="DBT_EXECUTABLE_PATH")
    dbt_target: str = Field("local", validation_alias="DBT_TARGET")
    task_retries: int = Field(2, validation_alias="IMDB_TASK_RETRIES")
    download_timeout_minutes: Annotated[float, OrDefault] = Field(60, validation_alias="IMDB_DOWNLOAD_TIMEOUT_MINUTES")
    land_timeout_minutes: Annotated[float, OrDefault] = Field(120, validation_alias="IMDB_LAND_TIMEOUT_MINUTES")
    maintain_timeout_minutes: Annotated[float, OrDefault] = Field(120, validation_alias="IMDB_MAINTAIN_TIMEOUT_MINUTES")
    dbt_timeout_minutes: Annotated[float, OrDefault] = Field(45, validation_alias="IMDB_DBT_TIMEOUT_MINUTES")
    task_timeout_minutes: Annotated[float, OrDefault] = Field(30, validation_alias="IMDB_TASK_TIMEOUT_MINUTES")

    @field_validator("data_dir", "dbt_project_dir", "dbt_profiles_dir", "dbt_executable_path")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else (REPO_ROOT / value).resolve()

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"


def settings() -> Settings:
    """Current settings; read at call time so tests and the CLI can change the environment first."""
    return Settings()


def schema(layer: str) -> str:
    """Schema name for a layer ("landing", "cleansed", "aggregated").

    IMDB_SCHEMA_PREFIX (empty by default) lets tests and side-by-side experiments use their own schemas;
    dbt reads the same variable (macros/generate_schema_name.sql), so every layer moves together.
    """
    return settings().schema_prefix + layer


def database_url(read_only: bool = False) -> str:
    """SQLAlchemy URL of the serving database: the writer for the pipeline, the read-only role for the API.

    DATABASE_URL / API_DATABASE_URL point at your own server; otherwise the project-local cluster
    (services/postgres.sh) on 127.0.0.1:PG_PORT with the passwords from .env.
    """
    s = settings()
    explicit = s.api_database_url if read_only else s.database_url
    if explicit and explicit != "local":
        return explicit
    user = s.pg_reader_user if read_only else s.pg_writer_user
    password = s.pg_reader_password if read_only else s.pg_writer_password
    return f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{s.pg_port}/{s.pg_db}"
