"""Server settings: read once (options, then ``KG_*`` environment variables) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kg.changes import AGENT_NAME
from kg.errors import StoreError
from kg.store import Location, RemoteConfig, is_url

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything the server can be told; each field is also ``KG_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KG_", extra="forbid")

    store: Path | None = Field(
        default=None,
        description="The store directory (created by `kg load`); or give store_url.",
    )
    store_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="The SPARQL query endpoint of an external store, instead of a directory "
        "(see docs/deployment.md); `--store URL` sets it too.",
    )
    store_update_url: str | None = Field(
        default=None, description="Its SPARQL Update endpoint (default: the query endpoint)."
    )
    store_gsp_url: str | None = Field(
        default=None, description="Its Graph Store Protocol endpoint, used for bulk uploads."
    )
    store_auth: Literal["none", "basic", "digest", "bearer"] = "none"
    store_user: str | None = None
    store_password: SecretStr | None = None
    store_token: SecretStr | None = None
    store_dialect: Literal["standard", "oxigraph", "virtuoso"] = Field(
        default="standard", description="What the engine needs beyond the standard."
    )
    store_timeout: float = Field(default=60.0, gt=0, description="Seconds per store request.")
    store_chunk: int = Field(default=10_000, ge=1, description="Triples per bulk request.")
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
    queue_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a request may wait for a free query worker (REST views, pages, "
        "uploads) before a 503 server-busy, if longer than query_timeout; the run time that "
        "follows is query_timeout's.",
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

    @model_validator(mode="before")
    @classmethod
    def _url_as_store(cls, data: Any) -> Any:
        """``store`` may be a URL: then it is the external store's query endpoint."""
        if isinstance(data, dict) and is_url(str(data.get("store") or "")):
            data = dict(data)
            data["store_url"] = str(data.pop("store"))
        return data

    @model_validator(mode="after")
    def _one_store(self) -> Settings:
        if (self.store is None) == (self.store_url is None):
            raise ValueError("give the store: a directory (store) or a URL (store_url)")
        self.store_location()  # a remote store's settings are checked now, not at start
        return self

    def store_location(self) -> Location:
        """The store directory, or the external store's settings."""
        if self.store_url is None:
            assert self.store is not None
            return self.store
        try:
            return RemoteConfig(
                self.store_url,
                update_url=self.store_update_url,
                gsp_url=self.store_gsp_url,
                auth=self.store_auth,
                user=self.store_user,
                password=_secret(self.store_password),
                token=_secret(self.store_token),
                dialect=self.store_dialect,
                timeout=self.store_timeout,
                chunk=self.store_chunk,
            )
        except StoreError as exc:
            raise ValueError(str(exc)) from exc

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


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()
