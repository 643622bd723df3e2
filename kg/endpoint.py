"""The store as a server sees it: queries in killable workers, writes through the gate.

An :class:`Endpoint` owns the writable store, its read-only snapshots and the worker
pool. Reads run in workers over the current snapshot. Writes run one at a time: the
change is computed (an update is evaluated in a worker, under the time limit), passes
the SHACL gate, is applied in one transaction, and a new snapshot makes it visible to
the next reads. A rejected write leaves the store exactly as it was. A write made for
a named writer (``agent``) is recorded in the changes graph in the same transaction
(:mod:`kg.changes`).

The HTTP layer (``api/``) only translates requests to these calls.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdflib import URIRef

from kg import reasoning
from kg._oxigraph import OxigraphStore, ParsedGraph, QueryOutput
from kg._remote import RemoteConfig, RemoteStore
from kg.changes import ChangeRecord
from kg.errors import WriteRefused
from kg.formats import RdfFormat, ResultFormat
from kg.pool import (
    GraphJob,
    Job,
    ParseJob,
    QueryJob,
    RemoteSnapshots,
    Snapshots,
    WorkerPool,
)
from kg.store import Location
from kg.updates import UpdateJob
from kg.validation import Change, Shapes, ValidationReport, load_shapes
from kg.writes import apply_change

__all__ = ["DatasetCounts", "Endpoint", "WriteResult"]

log = logging.getLogger("geokg.endpoint")


@dataclass(frozen=True)
class WriteResult:
    added: int
    removed: int
    report: ValidationReport
    created: bool = False  # a named graph that held nothing now holds triples
    change: str | None = None  # the IRI of the write's record in the changes graph


@dataclass(frozen=True)
class DatasetCounts:
    generation: int
    default_graph: int
    named_graphs: dict[str, int] = field(default_factory=dict)


class Endpoint:
    """Reads and writes of one store, for a server."""

    def __init__(
        self,
        store: Location,
        root: Path,
        *,
        workers: int = 4,
        isolate: bool = True,
        queue_wait: float = 0.0,
    ) -> None:
        self.location = store
        self._root = root
        self._workers = workers
        self._queue_wait = queue_wait
        # Workers of a remote store must reach it: they keep the network.
        self._isolate = isolate and not isinstance(store, RemoteConfig)
        self._store: OxigraphStore | None = None
        self._snapshots: Snapshots | RemoteSnapshots | None = None
        self.pool: WorkerPool | None = None
        self._shapes: Shapes | None = None
        self._write_lock = asyncio.Lock()
        self._counts: DatasetCounts | None = None

    # -- life cycle
    async def start(self) -> None:
        self._shapes = await asyncio.to_thread(load_shapes, self._root)
        location = self.location
        if isinstance(location, RemoteConfig):
            self._store = await asyncio.to_thread(RemoteStore, location)
            await asyncio.to_thread(self._heal_inferences)
            self._snapshots = RemoteSnapshots(location, Path(os.devnull))
        else:
            self._store = OxigraphStore(location)
            await asyncio.to_thread(self._heal_inferences)
            snapshot_dir = location.parent / f".{location.name}.snapshots"
            self._snapshots = await asyncio.to_thread(Snapshots, self._store, snapshot_dir)
        self.pool = WorkerPool(
            self._snapshots, self._workers, self._isolate, queue_wait=self._queue_wait
        )
        await self.pool.start()

    def _heal_inferences(self) -> None:
        """Recompute the inferred graph if a write's refresh never ran or the rules changed."""
        assert self._store is not None
        raw = self._store.raw
        rules = reasoning.rules_of(raw)
        if reasoning.is_pending(raw) or reasoning.rules_changed(raw, rules):
            stats = reasoning.materialise(raw, rules)
            self._store.flush()
            log.warning(
                "the inferred graph was stale (a write without its refresh, or a new "
                "ontology): recomputed %d triples in %.1f s",
                stats.inferred,
                stats.seconds,
            )

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
        if self._snapshots is not None:
            self._snapshots.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    @property
    def root(self) -> Path:
        """The project folder (ontology, shapes)."""
        return self._root

    @property
    def ready(self) -> bool:
        return self._store is not None and self.pool is not None and self.pool.alive > 0

    @property
    def remote(self) -> RemoteConfig | None:
        """The external store's settings, or None for the embedded store."""
        return self.location if isinstance(self.location, RemoteConfig) else None

    @property
    def snapshots(self) -> Snapshots | RemoteSnapshots:
        assert self._snapshots is not None, "the endpoint is not started"
        return self._snapshots

    def release_snapshots(self) -> None:
        """Delete the checkpoints nobody reads any more."""
        if self.pool is not None:
            self.pool.release()

    @property
    def generation(self) -> int:
        assert self._snapshots is not None
        return self._snapshots.current.generation

    # -- reads
    async def query(self, job: QueryJob, timeout: float) -> QueryOutput:
        assert self.pool is not None
        return await self.pool.run(job, timeout)

    async def read(self, job: Job, timeout: float) -> Any:
        """Any read job (see :mod:`kg.resources`) in a worker, over the current snapshot."""
        assert self.pool is not None
        return await self.pool.run(job, timeout)

    async def graph(self, graph_iri: str | None, fmt: RdfFormat, timeout: float) -> bytes | None:
        """A named graph serialised (None if it holds nothing), or the union for None."""
        assert self.pool is not None
        return await self.pool.run(GraphJob(graph_iri, fmt), timeout)

    async def parse(
        self,
        data: bytes,
        graph_iri: str,
        fmt: RdfFormat,
        timeout: float,
        *,
        base_iri: str | None = None,
    ) -> ParsedGraph:
        """An uploaded document parsed for ``graph_iri``, in a worker, within ``timeout``.

        Raises :class:`~kg.errors.RDFSyntaxError`, or :class:`~kg.pool.QueryTimeout` for a
        document the parser could not read in time.
        """
        assert self.pool is not None
        return await self.pool.run(ParseJob(data, graph_iri, fmt, base_iri), timeout)

    async def counts(self, timeout: float) -> DatasetCounts:
        """Triples in the default graph (the union) and in each named graph; cached."""
        generation = self.generation
        if self._counts is not None and self._counts.generation == generation:
            return self._counts
        per_graph = await self.query(
            QueryJob(
                "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
                table_format=ResultFormat.JSON,
            ),
            timeout,
        )
        union = await self.query(
            QueryJob("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", table_format=ResultFormat.JSON),
            timeout,
        )
        rows = json.loads(per_graph.body)["results"]["bindings"]
        named = {r["g"]["value"]: int(r["n"]["value"]) for r in rows}
        total = int(json.loads(union.body)["results"]["bindings"][0]["n"]["value"])
        self._counts = DatasetCounts(generation, total, dict(sorted(named.items())))
        return self._counts

    # -- writes
    async def update(
        self,
        sparql: str,
        timeout: float,
        using: tuple[str, ...] = (),
        using_named: tuple[str, ...] = (),
        *,
        agent: str | None = None,
    ) -> WriteResult:
        """Evaluate a SPARQL update to a change, validate it and apply it, or raise.

        Here and in every write below, ``agent`` names the writer: the write is then
        recorded in the changes graph (without one, it is not).
        """
        assert self.pool is not None
        async with self._write_lock:
            record = _record(agent, "sparql-update")
            change = await self.pool.run(UpdateJob(sparql, using, using_named), timeout)
            return await self._commit(change, record)

    async def replace_graph(
        self, graph_iri: str, parsed: ParsedGraph, *, agent: str | None = None
    ) -> WriteResult:
        """Graph Store PUT: the graph holds exactly the parsed triples afterwards."""
        async with self._write_lock:
            record = _record(agent, "graph-store-put")
            old = await asyncio.to_thread(self._graph_quads, graph_iri)
            g = URIRef(graph_iri)
            new = {(s, p, o, g) for s, p, o in parsed.to_rdflib()}
            result = await self._commit(Change.of(new - old, old - new), record)
            return dataclasses.replace(result, created=not old)

    async def add_to_graph(
        self, graph_iri: str, parsed: ParsedGraph, *, agent: str | None = None
    ) -> WriteResult:
        """Graph Store POST: the parsed triples are merged into the graph."""
        async with self._write_lock:
            record = _record(agent, "graph-store-post")
            old = await asyncio.to_thread(self._graph_quads, graph_iri)
            g = URIRef(graph_iri)
            new = {(s, p, o, g) for s, p, o in parsed.to_rdflib()}
            result = await self._commit(Change.of(new - old), record)
            return dataclasses.replace(result, created=not old)

    async def delete_graph(self, graph_iri: str, *, agent: str | None = None) -> WriteResult | None:
        """Graph Store DELETE; None if the graph holds nothing."""
        async with self._write_lock:
            record = _record(agent, "graph-store-delete")
            old = await asyncio.to_thread(self._graph_quads, graph_iri)
            if not old:
                return None
            return await self._commit(Change.of(remove=old), record)

    async def write(
        self, change: Change, *, agent: str, kind: str, generated: Iterable[str] = ()
    ) -> WriteResult:
        """Validate and apply a change built by the caller, recorded as ``kind``.

        ``generated`` names the resources the change creates (for the record).
        """
        async with self._write_lock:
            record = ChangeRecord(agent, kind, generated=tuple(generated))
            return await self._commit(change, record)

    async def retract(
        self, node_iri: str, graph_iri: str, *, agent: str, kind: str
    ) -> WriteResult | None:
        """Remove a node and the nodes it owns from one graph; None if it has no triples there.

        The nodes a node owns are those whose IRI extends the node's with ``/`` (its
        evidence, their selectors...) and that it reaches in the graph. The record says
        the write invalidated the node.
        """
        async with self._write_lock:
            record = ChangeRecord(agent, kind, invalidated=(node_iri,))
            quads = await asyncio.to_thread(self._owned_quads, node_iri, graph_iri)
            if not quads:
                return None
            return await self._commit(Change.of(remove=quads), record)

    def _owned_quads(self, node_iri: str, graph_iri: str) -> set[tuple]:
        assert self._store is not None
        g, prefix = URIRef(graph_iri), node_iri + "/"
        found: set[tuple] = set()
        todo, seen = [URIRef(node_iri)], set()
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            for q in self._store.match(node, None, None, g):
                found.add(q)
                if isinstance(q[2], URIRef) and str(q[2]).startswith(prefix):
                    todo.append(q[2])
        return found

    def _graph_quads(self, graph_iri: str) -> set[tuple]:
        assert self._store is not None
        return set(self._store.match(None, None, None, URIRef(graph_iri)))

    async def _commit(self, change: Change, record: ChangeRecord | None = None) -> WriteResult:
        """Apply a change through the gate, with its record if any (an empty one: nothing)."""
        assert self._store is not None and self._shapes is not None
        assert self._snapshots is not None
        if not change:
            report = ValidationReport((), frozenset())
            return WriteResult(0, 0, report)
        try:
            report = await asyncio.to_thread(
                apply_change, self._store, change, self._shapes, record
            )
        except ValueError as exc:
            raise WriteRefused(str(exc)) from exc
        await asyncio.to_thread(self._snapshots.refresh)
        iri = record.iri if record is not None else None
        return WriteResult(len(change.add), len(change.remove), report, change=iri)


def _record(agent: str | None, kind: str) -> ChangeRecord | None:
    return None if agent is None else ChangeRecord(agent, kind)
