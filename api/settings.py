"""API settings (pydantic-settings): environment variables prefixed `API_`, or the repository's `.env` (read once, by
core.config, for every entry point).

| variable | default |
| --- | --- |
| API_DATABASE_URL | the read-only role on the project-local PostgreSQL (core.config.database_url) |
| API_HOST / API_PORT | 127.0.0.1 / 8008 |
| API_WORKERS | one uvicorn worker process per core |
| API_POOL_SIZE / API_MAX_OVERFLOW | 8 / 0 connections per worker (overflow ones are opened and closed per use) |
| API_POOL_TIMEOUT | 3 seconds waiting for a pooled connection before a 503 |
| API_CONNECT_TIMEOUT | 3 seconds (health answers 503 quickly when the database is unreachable) |
| API_STATEMENT_TIMEOUT_MS | 10000 (a slow query gets its own 503 instead of holding a connection or a publish's swap) |
| API_IDLE_IN_TRANSACTION_TIMEOUT_MS | 5000 (a session idle inside a transaction is ended: it holds publish's swap) |
| API_MAX_IN_FLIGHT | 32 requests doing work per worker (cached answers do not count), then a fast 503 |
| API_MAX_BODY_BYTES | 65536 (a larger request body gets 413) |
| API_CACHE | true: answers are cached per publish generation (ETag / If-None-Match work either way) |
| API_CACHE_MAX_ENTRIES / API_CACHE_MAX_MB | 10000 / 64 per worker |
| API_GZIP_MIN_BYTES | 1024 (larger answers are gzip-compressed for clients that accept it) |
| API_ACCESS_LOG | false (a log line per request costs more than a cached answer; errors are logged either way) |
"""

from __future__ import annotations

import os

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core import config


def _default_database_url() -> str:
    return config.database_url(read_only=True)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (containers, taskset)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class Settings(BaseSettings):
    # No env_file: core.config read the repository's `.env` into the environment once, when imported above
    # (without overriding what is set), as it does for every other entry point.
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    database_url: str = Field(default_factory=_default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(8008, ge=1, le=65535)
    workers: int = Field(default_factory=_cores, ge=1)
    pool_size: int = Field(8, ge=1)
    max_overflow: int = Field(0, ge=0)
    pool_timeout: float = Field(3, gt=0)
    connect_timeout: int = Field(3, ge=1)
    statement_timeout_ms: int = Field(10_000, ge=0)
    idle_in_transaction_timeout_ms: int = Field(5_000, ge=0)
    max_in_flight: int = Field(32, ge=1)
    max_body_bytes: int = Field(65_536, ge=1)
    cache: bool = True
    cache_max_entries: int = Field(10_000, ge=1)
    cache_max_mb: int = Field(64, ge=1)
    gzip_min_bytes: int = Field(1024, ge=0)
    access_log: bool = False

    @field_validator("database_url", mode="before")
    @classmethod
    def _local_means_default(cls, value: object) -> object:
        # .env.example documents API_DATABASE_URL as optional; empty or "local" mean the local cluster,
        # exactly as core.config reads it.
        if value is None or (isinstance(value, str) and value.strip() in ("", "local")):
            return _default_database_url()
        return value
