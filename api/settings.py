"""Server settings: read once (options, then ``KG_*`` environment variables) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kg.changes import AGENT_NAME

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
        default=None,
        description="Bearer token that enables writes; writes are off without it (or "
        "write_tokens). Its writer is named `editor` in the change log.",
    )
    write_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Named writers: a JSON object of writer name -> bearer token. Each "
        "token enables writes, recorded in the change log under its writer's name.",
    )
    service_allowlist: list[str] = Field(
        default_factory=list, description="Endpoints SERVICE may call; empty refuses SERVICE."
    )
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    public_base: str = Field(
        default="https://w3id.org/geokg/",
        pattern=r"^https?://[^\s<>\"{}|^`\\]+/$",
        description="Where the IRIs of the data live (ending in /): the server answers "
        "for them under its own host (/id/..., /ontology, /graph/...).",
    )
    access_log: bool = Field(
        default=False,
        description="Log every request (off by default: it costs about a fifth of a small "
        "query's time; /metrics counts and times requests).",
    )
    isolate_workers: bool = Field(
        default=True, description="Run query workers without network access where possible."
    )

    @model_validator(mode="after")
    def _check_writers(self) -> Settings:
        for name, token in self.write_tokens.items():
            if not AGENT_NAME.fullmatch(name):
                raise ValueError(
                    f"writer name {name!r}: letters, digits, '.', '_' and '-', at most 64"
                )
            if not token.get_secret_value():
                raise ValueError(f"writer {name!r} has an empty token")
        tokens = [token for _name, token in self.writers()]
        if len(set(tokens)) != len(tokens):
            raise ValueError("two writers share a token: each writer needs its own")
        return self

    def writers(self) -> list[tuple[str, bytes]]:
        """(name, token) of every writer: ``editor`` for write_token, then write_tokens."""
        out = []
        if self.write_token is not None and self.write_token.get_secret_value():
            out.append(("editor", self.write_token.get_secret_value().encode()))
        out += [(n, t.get_secret_value().encode()) for n, t in self.write_tokens.items()]
        return out

    @property
    def writes_enabled(self) -> bool:
        return bool(self.writers())
