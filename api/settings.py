"""Server settings: read once (options, then ``KG_*`` environment variables) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the server can be told; each field is also ``KG_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KG_", extra="forbid")

    store: Path = Field(description="The store directory (created by `kg load`).")
    root: Path | None = Field(
        default=None, description="Project folder with shapes/ (default: the installed project)."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(
        default=4, ge=1, le=64, description="Reader processes: they answer the queries."
    )
    query_timeout: float = Field(
        default=30.0, gt=0, description="Seconds a query may run; clients may ask for less."
    )
    max_rows: int = Field(
        default=10_000, ge=1, description="Most rows (or triples) in one result; more are cut."
    )
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    write_token: SecretStr | None = Field(
        default=None, description="Bearer token that enables writes; writes are off without it."
    )
    service_allowlist: list[str] = Field(
        default_factory=list, description="Endpoints SERVICE may call; empty refuses SERVICE."
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    access_log: bool = Field(
        default=False,
        description="Log every request (off by default: it costs about a fifth of a small "
        "query's time; /metrics counts and times requests).",
    )
    isolate_workers: bool = Field(
        default=True, description="Run query workers without network access where possible."
    )

    @property
    def writes_enabled(self) -> bool:
        return self.write_token is not None and bool(self.write_token.get_secret_value())
