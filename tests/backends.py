"""The stores the backend-parametrised tests run on: embedded, Oxigraph server, Virtuoso.

A module opts in with ``pytestmark = pytest.mark.backends``: its tests then run once per
backend, through the ``backend`` fixture (conftest.py). The external engines are
started by the project's own scripts (:mod:`tests.engines`) on 127.0.0.1, once per test
session and only if a test needs them, and stopped at its end.

A remote engine is shared by the session, so a test that writes to it marks it dirty
and the next test that wants the curated data gets it back first (:meth:`Backend.curated`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from kg._oxigraph import ParsedGraph
from kg._remote import STAGING, RemoteStore
from kg.loading import load_dataset
from kg.store import Location, RemoteConfig, open_store
from kg.validation import Shapes
from tests.engines import RunningEngine

ROOT = Path(__file__).resolve().parent.parent

#: Every backend the parametrised tests run on.
BACKENDS = ("embedded", "oxigraph", "virtuoso")


def remote_config(engine: RunningEngine) -> RemoteConfig:
    """How our remote store reaches an engine started by :mod:`tests.engines`."""
    scheme, user, password = engine.auth or ("none", None, None)
    return RemoteConfig(
        engine.query_url,
        update_url=engine.update_url,
        gsp_url=engine.gsp_url,
        auth=scheme,  # type: ignore[arg-type]
        user=user,
        password=password,
        dialect=engine.name,
    )


@dataclass
class Backend:
    """One store kind, with the curated data loaded on demand."""

    name: str
    work: Path
    shapes: Shapes
    config: RemoteConfig | None = None
    _curated_path: Path | None = None
    _snapshot: list[ParsedGraph] = field(default_factory=list)
    _dirty: bool = True

    def __str__(self) -> str:
        return self.name

    @property
    def remote(self) -> bool:
        return self.config is not None

    def curated(self) -> Location:
        """A store holding exactly the curated data (read-only for the caller).

        Embedded: a directory loaded once (servers copy it). Remote: the engine, reloaded
        if a test wrote to it since.
        """
        if self.config is None:
            if self._curated_path is None:
                path = self.work / "curated"
                store = open_store(path)
                try:
                    load_dataset(store, ROOT, shapes=self.shapes)
                finally:
                    store.close()
                self._curated_path = path
            return self._curated_path
        if self._dirty:
            store = RemoteStore(self.config)
            try:
                self._drop_ours(store)
                if not self._snapshot:
                    load_dataset(store, ROOT, shapes=self.shapes)
                    self._snapshot = [
                        ParsedGraph(g, store._triples(g), "snapshot") for g in store.named_graphs()
                    ]
                else:
                    for g in self._snapshot:
                        store.raw.insert_lines(g.graph_iri, [f"{t} ." for t in g._triples])
            finally:
                store.close()
            self._dirty = False
        return self.config

    def writable(self) -> Location:
        """The curated data, for a test that writes: the caller owns it until the next call."""
        location = self.curated()
        self._dirty = self.remote
        return location

    def restore(self) -> None:
        """Put the curated data back now (remote: other servers may share the engine)."""
        if self.remote:
            self._dirty = True
            self.curated()

    def empty(self, tmp_path: Path) -> Location:
        """An empty store (embedded: under ``tmp_path``; remote: the engine, emptied)."""
        if self.config is None:
            return tmp_path / "store"
        store = RemoteStore(self.config)
        try:
            self._drop_ours(store)
        finally:
            store.close()
        self._dirty = True
        return self.config

    @staticmethod
    def _drop_ours(store: RemoteStore) -> None:
        store.raw.forget_graphs()
        graphs = store.named_graphs()
        staging = [
            g
            for (g,) in store.raw._select(
                "SELECT ?g WHERE { GRAPH ?g { ?s ?p ?o }"
                f' FILTER(STRSTARTS(STR(?g), "{STAGING}")) }} GROUP BY ?g',
                None,
            )
        ]
        drops = [f"DROP SILENT GRAPH <{g}>" for g in graphs] + [
            f"DROP SILENT GRAPH {g}" for g in staging
        ]
        if drops:
            store.update(" ;\n".join(drops))
        store.raw.forget_graphs()

    def close(self) -> None:
        if self._curated_path is not None:
            shutil.rmtree(self._curated_path, ignore_errors=True)
