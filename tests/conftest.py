"""Shared fixtures: the project root, the parsed dataset and a store loaded in memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rdflib import Dataset, Graph, URIRef

from kg.loading import load_dataset, parse_dataset
from kg.manifest import read_manifest
from kg.namespaces import DERIVED_GRAPH, ONTOLOGY_GRAPH
from kg.store import GraphStore, open_store
from kg.validation import Shapes, load_shapes
from tests.backends import BACKENDS, Backend, remote_config

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT.parent / "shared" / "sources"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def parsed_graphs() -> dict[str, Graph]:
    """Every named graph the loader would write, as rdflib graphs."""
    return {g.graph_iri: g.to_rdflib() for g in parse_dataset(read_manifest(ROOT))}


@pytest.fixture(scope="session")
def ontology(parsed_graphs: dict[str, Graph]) -> Graph:
    return parsed_graphs[ONTOLOGY_GRAPH]


@pytest.fixture(scope="session")
def asserted_data(parsed_graphs: dict[str, Graph]) -> Graph:
    """The curated data (registry, sources, articles) without ontology or derived triples."""
    g = Graph()
    for iri, graph in parsed_graphs.items():
        if iri not in (ONTOLOGY_GRAPH, DERIVED_GRAPH) and not iri.endswith("/load"):
            g += graph
    return g


@pytest.fixture(scope="session")
def dataset(parsed_graphs: dict[str, Graph]) -> Dataset:
    ds = Dataset()
    for iri, graph in parsed_graphs.items():
        target = ds.graph(URIRef(iri))
        for t in graph:
            target.add(t)
    return ds


@pytest.fixture(scope="session")
def shapes() -> Shapes:
    """The project's SHACL shapes, compiled once."""
    return load_shapes(ROOT)


@pytest.fixture(scope="session")
def store(shapes: Shapes) -> GraphStore:
    """A store in memory with the ontology and curated data loaded (read-only in tests)."""
    s = open_store(None)
    load_dataset(s, ROOT, shapes=shapes)
    return s


@pytest.fixture(scope="session")
def store_path(tmp_path_factory: pytest.TempPathFactory, shapes: Shapes) -> Path:
    """An on-disk store loaded through the ``kg load`` command (read-only in tests)."""
    from typer.testing import CliRunner

    from kg.cli import app

    path = tmp_path_factory.mktemp("cli") / "store"
    result = CliRunner().invoke(app, ["load", "--store", str(path), "--root", str(ROOT)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture(scope="session")
def server(store_path: Path) -> Iterator[str]:
    """Base URL of a read-only server over the curated data (row limit 1000)."""
    from tests.server import running_server

    with running_server(store_path, max_rows="1000") as base:
        yield base


@pytest.fixture(scope="session")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


@pytest.fixture
def writable_server(store_path: Path) -> Iterator[str]:
    """Base URL of a fresh writable server (token ``tests.server.TOKEN``) on its own copy."""
    from tests.server import running_server

    with running_server(store_path, workers=2, writable=True) as base:
        yield base


# ---------------------------------------------------------------- backends (tests/backends.py)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends: run the module's tests on every backend (embedded and external)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each external engine's tests in one test process under ``pytest -n`` (xdist's
    ``--dist loadgroup``): the engine, its curated data and its servers are then set up
    once, as in a single process, instead of once per process that happens to get one of
    its tests. Without xdist the mark does nothing."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        name = callspec.params.get("backend") if callspec is not None else None
        if name is not None and name != "embedded":
            item.add_marker(pytest.mark.xdist_group(name))


@pytest.fixture(scope="session")
def _engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The external engines, started on first use and stopped at the end of the session."""
    started: dict = {}
    yield started
    for engine in started.values():
        engine.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest,
    _engines: dict,
    tmp_path_factory: pytest.TempPathFactory,
    shapes: Shapes,
) -> Iterator[Backend]:
    """Each backend in turn: the embedded store, then each external engine."""
    from tests import engines

    name = request.param
    work = tmp_path_factory.mktemp(f"backend-{name}")
    config = None
    if name != "embedded":
        if name not in _engines:
            _engines[name] = engines.start(name, work / "engine")
        config = remote_config(_engines[name])
    b = Backend(name, work, shapes, config)
    yield b
    b.close()


@pytest.fixture
def backend_store(backend: Backend) -> Iterator[GraphStore]:
    """The curated data on the backend, opened (read-only for the test)."""
    s = open_store(backend.curated())
    yield s
    s.close()


@pytest.fixture(scope="module")
def backend_server(backend: Backend) -> Iterator[str]:
    """A read-only server (row limit 1000) over the curated data on the backend."""
    from tests.server import running_server

    with running_server(backend.curated(), max_rows="1000") as base:
        yield base


@pytest.fixture(scope="module")
def backend_client(backend_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=backend_server, timeout=60) as c:
        yield c
