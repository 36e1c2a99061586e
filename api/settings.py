"""API settings (pydantic-settings): environment variables prefixed `API_`, or the repository's `.env`.

| variable | default |
| --- | --- |
| API_DATABASE_URL | the read-only role on the project-local PostgreSQL (ingestion.config.database_url) |
| API_HOST / API_PORT | 127.0.0.1 / 8008 |
| API_POOL_SIZE / API_MAX_OVERFLOW | 5 / 5 connections |
| API_CONNECT_TIMEOUT | 3 seconds (health answers 503 quickly when the database is unreachable) |
| API_STATEMENT_TIMEOUT_MS | 10000 (a slow query fails instead of holding a connection, or a publish's swap) |
"""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ingestion import config


def _default_database_url() -> str:
    return config.database_url(read_only=True)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="API_", env_file=config.REPO_ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(default_factory=_default_database_url)
    host: str = "127.0.0.1"
    port: int = Field(8008, ge=1, le=65535)
    pool_size: int = Field(5, ge=1)
    max_overflow: int = Field(5, ge=0)
    connect_timeout: int = Field(3, ge=1)
    statement_timeout_ms: int = Field(10_000, ge=0)

    @field_validator("database_url", mode="before")
    @classmethod
    def _local_means_default(cls, value: object) -> object:
        # .env.example documents API_DATABASE_URL as optional; empty or "local" mean the local cluster,
        # exactly as ingestion.config reads it.
        if value is None or (isinstance(value, str) and value.strip() in ("", "local")):
            return _default_database_url()
        return value
