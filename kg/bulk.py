"""Bulk loading: big files into a new store, checked in full, swapped in for the live one.

:func:`kg.loading.load_dataset` parses every file into memory and writes one transaction:
right for the curated data, not for millions of triples. :func:`bulk_load` instead builds
a new store in a staging directory next to the target:

1. write: the ontology and curated data, exactly as ``kg load`` writes them; the graphs
   written through the server (change log, API facts, Graph Store uploads) copied from
   the live store, which a load keeps; then the big files, with the engine's bulk loader,
   into one named graph. Bulk files must not hold blank nodes (the store holds none, and
   skolemising a blank node from its content needs the whole file in memory): one is
   refused with its file and line;
2. gate: the SHACL validation of the whole staging store; a violation deletes the
   staging store and raises :class:`~kg.errors.ValidationError`;
3. derive: the shortcut graph, the rules of :func:`kg.derivation.derivation_update`
   evaluated over the asserted graphs and written with the bulk loader;
4. describe: the load graph (files, digests, sizes), as ``kg load`` writes it, the bulk
   files included;
5. infer: the OWL 2 RL materialisation;
6. compact: the store's files compacted, so that the server does not do it later, and
   the store reopened, which drops the write-ahead log of the writes above;
7. swap: the staging directory exchanged with the live one in one rename
   (``renameat2(RENAME_EXCHANGE)``; where it is missing, two renames, the old store kept
   until the second succeeded), then the old store deleted.

Any failure before the swap deletes the staging store and leaves the live one as it was.
The live store is held open (locked) from the start until the swap, so a server cannot
start on it meanwhile, and a server already running on it stops the load at once
(:class:`~kg.errors.StoreError`).

The bulk graphs are file graphs, described in the load graph like the manifest's: a later
``kg load`` or bulk load that does not name the file drops its graph, as it drops a file
removed from the manifest. The same files give the same store (no timestamps anywhere).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rdflib import RDF, Literal, URIRef
from rdflib.namespace import DCTERMS, PROV, VOID

from kg import validation
from kg._oxigraph import (
    OxigraphStore,
    bulk_add_graphs,
    bulk_load_file,
    compact,
    construct_into,
    copy_graphs,
    first_blank_node,
    graph_from_rdflib,
    graph_sizes,
    has_blank_nodes,
)
from kg.derivation import derivation_query
from kg.errors import RDFSyntaxError, StoreError, ValidationError
from kg.formats import RdfFormat
from kg.loading import _load_description, parse_dataset
from kg.manifest import read_manifest
from kg.namespaces import (
    DERIVED_GRAPH,
    GP,
    GRAPH,
    INFERRED_GRAPH,
    LOAD_GRAPH,
    NON_ASSERTED_GRAPHS,
    ONTOLOGY_GRAPH,
)
from kg.reasoning import InferenceStats, materialise
from kg.validation import Shapes, ValidationReport, load_shapes

__all__ = ["DEFAULT_BULK_GRAPH", "PHASES", "BulkReport", "bulk_load", "gate"]

NT = RdfFormat.NTRIPLES

#: The named graph of the bulk files unless another is given.
DEFAULT_BULK_GRAPH = str(GRAPH["bulk"])

#: The phases of a bulk load, in order; :attr:`BulkReport.phases` times each.
PHASES = ("write", "gate", "derive", "describe", "infer", "compact", "swap")

#: Called at the start of each phase with (description, phases done, number of phases).
ProgressCallback = Callable[[str, int, int], None]
#: The SHACL gate: the staging store and the shapes in, a report out.
Validator = Callable[[OxigraphStore, Shapes], ValidationReport]


@dataclass
class BulkReport:
    """What a bulk load wrote, what the gate said, and how long each phase took."""

    store: Path
    graphs: dict[str, int]  # triples per named graph in the new store
    bulk_graph: str
    bulk_triples: int
    validation: ValidationReport
    validator: str  # which gate ran (see :func:`gate`)
    inference: InferenceStats | None
    kept: list[str] = field(default_factory=list)  # graphs copied from the live store
    dropped: list[str] = field(default_factory=list)  # graphs of the live store not kept
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase

    @property
    def total(self) -> int:
        return sum(self.graphs.values())

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())


def gate(store: OxigraphStore, shapes: Shapes) -> ValidationReport:
    """The SHACL gate of a bulk load, run on the whole staging store.

    In-store validation (``kg.validation.validate_in_store``) when the package has it;
    until then the full pyshacl validation of everything the store asserts, which reads
    the store into memory (about 17 minutes and 2.4 GiB at 1M triples).
    """
    in_store = getattr(validation, "validate_in_store", None)
    if in_store is not None:
        return in_store(store, shapes)
    return validation.validate_store(store, shapes)


def gate_name(validator: Validator) -> str:
    if validator is gate:
        in_store = hasattr(validation, "validate_in_store")
        return "validate_in_store" if in_store else "validate_store (pyshacl, in memory)"
    return getattr(validator, "__name__", repr(validator))


def bulk_load(
    store_path: Path,
    files: Sequence[Path],
    graph_iri: str = DEFAULT_BULK_GRAPH,
    *,
    root: Path,
    progress: ProgressCallback | None = None,
    shapes: Shapes | None = None,
    validator: Validator = gate,
) -> BulkReport:
    """Build a new store with the project's dataset and ``files`` in ``graph_iri``; swap it in.

    Raises, leaving the store at ``store_path`` as it was: :class:`~kg.errors.ManifestError`
    or :class:`~kg.errors.RDFSyntaxError` for the project's files or a bulk file (with its
    line and column, or the line of a blank node), :class:`~kg.errors.ValidationError` if
    the result violates the shapes, :class:`~kg.errors.StoreError` if the store is open in
    another process (a running server) or ``store_path`` is a directory but not a store.
    """
    files = [Path(f) for f in files]
    if not files:
        raise ValueError("no bulk file given")
    formats = [_format(f) for f in files]
    manifest = read_manifest(root)
    if graph_iri in NON_ASSERTED_GRAPHS or graph_iri in {f.graph for f in manifest.files}:
        raise ValueError(f"{graph_iri} is a graph of the project or a computed graph")
    if not graph_iri.startswith(("http://", "https://", "urn:")) or any(
        c in graph_iri for c in '<>"{}|^`\\ '
    ):
        raise ValueError(f"not an IRI: {graph_iri!r}")
    shapes = shapes or load_shapes(root)
    parsed = parse_dataset(manifest)  # every project file parses before anything is made
    for path, fmt in zip(files, formats, strict=True):  # cheap: refuse before the long part
        if fmt is NT and (hit := _blank_node(path)) is not None:
            raise hit

    store_path = Path(store_path)
    live = _open_live(store_path)
    staging = store_path.parent / f".{store_path.name}.bulk-staging"
    phases: dict[str, float] = {}
    current: list = [None, 0.0]  # the phase running and when it started
    new: OxigraphStore | None = None

    def phase(name: str | None, description: str = "") -> None:
        now = time.perf_counter()
        if current[0] is not None:
            phases[current[0]] = round(now - current[1], 3)
        current[:] = [name, now]
        if progress and name is not None:
            progress(description, PHASES.index(name), len(PHASES))

    try:
        new = _open_staging(staging)  # not ours to delete if another load is building it
    except BaseException:
        if live is not None:
            live.close()
        raise
    try:
        phase("write", "writing the ontology, the curated data and the bulk files")
        project = [g for g in parsed if g.graph_iri not in (DERIVED_GRAPH, LOAD_GRAPH)]
        bulk_add_graphs(new, project)  # the store is new: no transaction, no compaction yet
        kept, dropped = _kept_graphs(live, {g.graph_iri for g in project} | {graph_iri})
        if kept:
            copy_graphs(live, new, kept)
        for path, fmt in zip(files, formats, strict=True):
            bulk_load_file(new, path, fmt, graph_iri)
        if any(fmt is not NT for fmt in formats) and has_blank_nodes(new, graph_iri):
            others = [f for f, fmt in zip(files, formats, strict=True) if fmt is not NT]
            raise RDFSyntaxError(
                "a blank node: bulk files must not have any (the store holds none); "
                "name the nodes, or load the file through the manifest, which skolemises them",
                path=others[0] if len(others) == 1 else Path(", ".join(map(str, others))),
            )
        new.flush()

        phase("gate", "validating the new store against the shapes")
        report = validator(new, shapes)
        if not report.conforms:
            raise ValidationError(report)

        phase("derive", "deriving shortcut triples")
        asserted = [g for g in new.named_graphs() if g not in NON_ASSERTED_GRAPHS]
        # The rules of derivation_update, written with the bulk loader: one update
        # transaction held 720k derived triples at 10M and took 652 s, the query 259 s.
        construct_into(new, derivation_query(), DERIVED_GRAPH, asserted)
        new.flush()

        phase("describe", "describing the load")
        sizes = graph_sizes(new)
        description = _describe(manifest, parsed, sizes, files, graph_iri, root)
        new.update(
            f"DROP SILENT GRAPH <{LOAD_GRAPH}> ;\nINSERT DATA {{ GRAPH <{LOAD_GRAPH}> {{\n"
            + "\n".join(f"{t} ." for t in description._triples)
            + "\n} }"
        )
        new.flush()

        phase("infer", "materialising OWL RL inferences")
        inference = materialise(new.raw)
        new.flush()

        phase("compact", "compacting the new store")
        compact(new)
        new.close()  # reopened: RocksDB drops the write-ahead log the writes above left
        new = OxigraphStore(staging)
        sizes[INFERRED_GRAPH] = inference.inferred
        sizes[LOAD_GRAPH] = new.count(LOAD_GRAPH)

        phase("swap", "swapping the new store in")
        new.close()
        new = None
        if live is not None:
            live.close()
            live = None
        _swap(staging, store_path)
        phase(None)
    except BaseException:
        for s in (new, live):
            if s is not None:
                with contextlib.suppress(Exception):
                    s.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BulkReport(
        store=store_path,
        graphs=dict(sorted(sizes.items())),
        bulk_graph=graph_iri,
        bulk_triples=sizes.get(graph_iri, 0),
        validation=report,
        validator=gate_name(validator),
        inference=inference,
        kept=kept,
        dropped=dropped,
        phases=phases,
    )


# ---------------------------------------------------------------- the steps
def _format(path: Path) -> RdfFormat:
    try:
        return RdfFormat.from_name(path.suffix.lstrip("."))
    except ValueError:
        raise RDFSyntaxError(
            "unknown RDF format: name the file .nt, .ttl, .rdf or .jsonld", path=path
        ) from None


def _blank_node(path: Path) -> RDFSyntaxError | None:
    try:
        found = first_blank_node(path)
    except OSError as exc:
        return RDFSyntaxError(f"cannot read file: {exc.strerror}", path=path)
    if found is None:
        return None
    line, text = found
    return RDFSyntaxError(
        f"a blank node in {text[:200]!r}: bulk files must not have any (the store holds "
        "none); name the nodes, or load the file through the manifest, which skolemises them",
        path=path,
        line=line,
    )


def _open_live(path: Path) -> OxigraphStore | None:
    """The live store, open (so locked) until the swap; None if there is none yet."""
    if not path.exists():
        return None
    if not path.is_dir():
        raise StoreError(f"{path} is not a directory")
    if not (path / "CURRENT").is_file():
        if any(path.iterdir()):
            raise StoreError(f"{path} is not a store (no CURRENT file) and not empty: not replaced")
        return None
    return OxigraphStore(path)  # StoreError if another process has it open


def _open_staging(path: Path) -> OxigraphStore:
    """A new, empty store at ``path``; what a failed earlier bulk load left there goes."""
    if path.exists():
        OxigraphStore(path).close()  # StoreError if another bulk load is building it
        shutil.rmtree(path)
    return OxigraphStore(path)


def _kept_graphs(live: OxigraphStore | None, replaced: set[str]) -> tuple[list[str], list[str]]:
    """The graphs of the live store the new one keeps, and those it drops.

    As :func:`kg.loading.load_dataset` does: graphs written through the server are kept;
    the computed graphs, the graphs this load writes and the file graphs the previous
    load described (a file no longer loaded) are not.
    """
    if live is None:
        return [], []
    described = {str(q[0]) for q in live.match(None, DCTERMS.source, None, URIRef(LOAD_GRAPH))}
    computed = {DERIVED_GRAPH, INFERRED_GRAPH, LOAD_GRAPH}
    kept, dropped = [], []
    for g in live.named_graphs():
        if g in replaced or g in computed:
            continue
        (dropped if g in described else kept).append(g)
    return kept, dropped


def _describe(
    manifest: object,
    parsed: list,
    sizes: dict[str, int],
    files: list[Path],
    graph_iri: str,
    root: Path,
) -> object:
    """The load graph: ``kg load``'s description with the store's sizes, and the bulk files."""
    g = _load_description(manifest, parsed).to_rdflib()
    for node in {*g.subjects(VOID.triples, None)}:
        g.set((node, VOID.triples, Literal(sizes.get(str(node), 0))))
    node = URIRef(graph_iri)
    derived = URIRef(DERIVED_GRAPH)
    g.add((derived, PROV.wasDerivedFrom, node))
    g.add((node, RDF.type, VOID.Dataset))
    g.add((node, VOID.triples, Literal(sizes.get(graph_iri, 0))))
    for path in files:
        where = _relative(path, root)
        g.add((node, DCTERMS.source, Literal(where)))
        g.add((node, GP.note, Literal(f"sha256 {_sha256(path)} of {where} (bulk load)")))
    if ONTOLOGY_GRAPH not in sizes:
        raise StoreError("the new store has no ontology graph")
    return graph_from_rdflib(g, LOAD_GRAPH, "load description")


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path.resolve())


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- the swap
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Exchange two directories in one step (Linux ``renameat2``); False where unsupported."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, f"cannot exchange {a} and {b}: {os.strerror(code)}")


def _swap(staging: Path, target: Path) -> None:
    """Put the store at ``staging`` in place of ``target``; delete the old one after."""
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging)  # the old store, now
        return
    old = target.parent / f".{target.name}.bulk-old"
    shutil.rmtree(old, ignore_errors=True)
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except OSError:
        os.rename(old, target)
        raise
    shutil.rmtree(old)
