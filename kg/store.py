"""The store interface, and opening a store: embedded (a path) or remote (a URL).

A store holds named graphs and answers SPARQL. The embedded implementation is
pyoxigraph (on disk or in memory); the remote one speaks SPARQL 1.1 Query, Update and
the Graph Store Protocol to an external engine (:mod:`kg._remote`). Which one is a
matter of configuration: a store *location* is a directory, or the URL of a SPARQL
query endpoint, with the rest of the remote settings in ``KG_STORE_*`` variables.

>>> store = open_store(None)
>>> store.count()
0
>>> store_location("http://127.0.0.1:7878/query", env={"KG_STORE_DIALECT": "oxigraph"})
RemoteConfig(query_url='http://127.0.0.1:7878/query', update_url=None, gsp_url=None, \
auth='none', user=None, dialect='oxigraph', timeout=60.0, retries=3, chunk=10000, ignore_graphs=())
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from rdflib.term import Node

from kg._oxigraph import OxigraphStore, ParsedGraph
from kg._remote import RemoteConfig, RemoteStore
from kg.errors import StoreError
from kg.formats import RdfFormat, ResultFormat

__all__ = ["GraphStore", "Location", "RemoteConfig", "open_store", "store_location"]

#: Where a store is: a directory of the embedded store, or a remote engine.
Location = Path | RemoteConfig


class GraphStore(Protocol):
    """What the rest of the package needs from a store."""

    def query(
        self,
        sparql: str,
        *,
        union_default_graph: bool = True,
        default_graphs: Sequence[str] | None = None,
    ) -> object: ...

    def query_serialized(
        self, sparql: str, fmt: ResultFormat | RdfFormat, *, union_default_graph: bool = True
    ) -> bytes: ...

    def update(self, sparql: str) -> None: ...

    def replace_graphs(self, graphs: Sequence[ParsedGraph], drop: Iterable[str] = ()) -> None: ...

    def apply_change(
        self,
        add: Iterable[tuple[Node, Node, Node, Node]],
        remove: Iterable[tuple[Node, Node, Node, Node]],
        then: str | None = None,
    ) -> None: ...

    def named_graphs(self) -> list[str]: ...

    def count(self, graph_iri: str | None = None) -> int: ...

    def export(self, fmt: RdfFormat, graph_iri: str | None = None) -> bytes: ...

    def close(self) -> None: ...


def open_store(location: Location | None) -> GraphStore:
    """Open the embedded store at a path (created if missing), in memory for None, or a remote."""
    if isinstance(location, RemoteConfig):
        return RemoteStore(location)
    return OxigraphStore(location)


#: The remote settings read from the environment, with their ``RemoteConfig`` field.
REMOTE_VARIABLES = {
    "KG_STORE_UPDATE_URL": "update_url",
    "KG_STORE_GSP_URL": "gsp_url",
    "KG_STORE_AUTH": "auth",
    "KG_STORE_USER": "user",
    "KG_STORE_PASSWORD": "password",
    "KG_STORE_TOKEN": "token",
    "KG_STORE_DIALECT": "dialect",
    "KG_STORE_TIMEOUT": "timeout",
    "KG_STORE_RETRIES": "retries",
    "KG_STORE_CHUNK": "chunk",
}


def is_url(value: str | Path) -> bool:
    return str(value).startswith(("http://", "https://"))


def store_location(value: str | Path, env: Mapping[str, str] | None = None) -> Location:
    """A path, or for an http(s) URL the remote store it names (settings from ``env``)."""
    if not is_url(value):
        return Path(value)
    env = os.environ if env is None else env
    given: dict[str, object] = {}
    for name, field_name in REMOTE_VARIABLES.items():
        raw = env.get(name)
        if raw is None or raw == "":
            continue
        try:
            given[field_name] = (
                float(raw)
                if field_name == "timeout"
                else int(raw)
                if field_name in ("retries", "chunk")
                else raw
            )
        except ValueError:
            raise StoreError(f"{name}={raw!r} is not a number") from None
    if given.get("auth", "none") not in ("none", "basic", "digest", "bearer"):
        raise StoreError(
            f"KG_STORE_AUTH must be none, basic, digest or bearer, not {given['auth']!r}"
        )
    return RemoteConfig(str(value), **given)  # type: ignore[arg-type]
