"""SHACL validation: of a whole graph, of the store, and of one change to the store.

The shapes live in ``shapes/*.ttl``. :func:`load_shapes` compiles them once and works
out what incremental validation needs to know about them: which triples a shape reads
beyond its focus node's own (the *reads*: a path from the focus node and the predicate
read at its end, for example the ``rdf:type`` of a holder for ``sh:class gp:Person``).

Incremental validation (:func:`validate_change`) gives the verdict full validation
would give after the change, without validating the whole graph:

1. The *affected* focus nodes are the subjects of the changed triples, and every node
   that reads a changed triple through one of the reads (walking the read's path back
   from the triple). No other node's results can change.
2. The *context* is what the shapes read from those nodes: their own triples, the
   triples at the end of every read path, and the class hierarchy.
3. pyshacl validates the affected nodes in the context.

A change to the class hierarchy (``rdfs:subClassOf``) can affect any node, so it is
validated in full.

>>> shapes = load_shapes(Path(__file__).resolve().parent.parent)
>>> shapes.reach >= 1
True
"""

from __future__ import annotations

import enum
import itertools
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH
from rdflib.term import Node

from kg._pyshacl import QueryCachingGraph, ShaclEngine
from kg.errors import RDFSyntaxError, ShapesError
from kg.formats import RdfFormat
from kg.namespaces import GPS, NON_ASSERTED_GRAPHS, PREFIXES
from kg.store import GraphStore

__all__ = [
    "Change",
    "Severity",
    "Shapes",
    "ValidationReport",
    "ValidationResult",
    "load_shapes",
    "store_graph",
    "validate_change",
    "validate_graph",
]

Quad = tuple[Node, URIRef, Node, URIRef]

#: Predicates whose change can affect nodes anywhere: changes to them are validated in full.
TBOX_PREDICATES = frozenset({RDFS.subClassOf})


class Severity(enum.Enum):
    """SHACL severities; only violations block a write."""

    VIOLATION = str(SH.Violation)
    WARNING = str(SH.Warning)
    INFO = str(SH.Info)

    @property
    def label(self) -> str:
        return self.name.capitalize()


# ---------------------------------------------------------------- results and reports
@dataclass(frozen=True)
class ValidationResult:
    """One SHACL result: which node broke which constraint, where, and why."""

    focus: Node
    path: str | None
    value: Node | None
    component: URIRef
    shape: Node
    severity: Severity = Severity.VIOLATION
    message: str = ""

    @property
    def key(self) -> tuple[str, ...]:
        """A comparable identity (blank shape nodes compare by their label)."""
        return (
            str(self.focus),
            self.path or "",
            "" if self.value is None else self.value.n3(),
            str(self.component),
            str(self.shape),
            self.severity.name,
            self.message,
        )


@dataclass(frozen=True)
class ValidationReport:
    """The results of one validation, and which focus nodes it examined."""

    results: tuple[ValidationResult, ...]
    examined: frozenset[Node] | None = None  # the focus nodes, when not the whole graph

    @property
    def full(self) -> bool:
        """Whether the whole graph was validated."""
        return self.examined is None

    @property
    def focus_nodes(self) -> int | None:
        return None if self.examined is None else len(self.examined)

    @property
    def violations(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity is Severity.VIOLATION]

    @property
    def warnings(self) -> list[ValidationResult]:
        return [r for r in self.results if r.severity is not Severity.VIOLATION]

    @property
    def conforms(self) -> bool:
        """True when there is no violation (warnings and infos do not block)."""
        return not self.violations

    def to_graph(self) -> Graph:
        """The report as a SHACL ``sh:ValidationReport`` graph."""
        g = Graph()
        for prefix in ("sh", "gp", "gpd", "gps", "rdf", "rdfs", "xsd", "prov", "oa", "schema"):
            g.bind(prefix, PREFIXES[prefix])
        report = BNode("report")
        g.add((report, RDF.type, SH.ValidationReport))
        g.add((report, SH.conforms, Literal(self.conforms)))
        for i, r in enumerate(sorted(self.results, key=lambda r: r.key)):
            node = BNode(f"result{i}")
            g.add((report, SH.result, node))
            g.add((node, RDF.type, SH.ValidationResult))
            g.add((node, SH.focusNode, r.focus))
            g.add((node, SH.resultSeverity, URIRef(r.severity.value)))
            g.add((node, SH.sourceConstraintComponent, r.component))
            g.add((node, SH.sourceShape, r.shape))
            g.add((node, SH.resultMessage, Literal(r.message, lang="en")))
            if r.value is not None:
                g.add((node, SH.value, r.value))
            if r.path is not None:
                path = _expand_path(r.path)
                if path is not None:
                    g.add((node, SH.resultPath, path))
        return g

    def serialize(self, fmt: RdfFormat) -> str:
        """The report as Turtle or JSON-LD (or any RDF format rdflib writes)."""
        g = self.to_graph()
        if fmt is RdfFormat.JSONLD:
            context = {p: PREFIXES[p] for p in ("sh", "gp", "gpd", "gps", "xsd")}
            return json.dumps(json.loads(g.serialize(format="json-ld", context=context)), indent=2)
        names = {RdfFormat.TURTLE: "turtle", RdfFormat.NTRIPLES: "nt", RdfFormat.RDFXML: "xml"}
        if fmt not in names:
            raise ValueError(f"a validation report cannot be written as {fmt.name}")
        return g.serialize(format=names[fmt])

    def to_text(self, labels: dict[Node, str] | None = None) -> str:
        """A readable report: severity, focus node (with its label), path, value, message."""
        labels = labels or {}
        lines = [self.summary()]
        for r in sorted(self.results, key=lambda r: (r.severity.name != "VIOLATION", r.key)):
            focus = _display(r.focus, labels)
            where = f" {r.path}" if r.path else ""
            value = f" = {_display(r.value, labels)}" if r.value is not None else ""
            lines.append(f"{r.severity.label:9} {focus}{where}{value}")
            lines.append(f"          {r.message}")
            lines.append(f"          [{_qname(r.component)} from {_qname(r.shape)}]")
        return "\n".join(lines) + "\n"

    def summary(self) -> str:
        v, w = len(self.violations), len(self.warnings)
        verdict = "conforms" if self.conforms else "does not conform"
        scope = (
            "whole graph"
            if self.full
            else f"{self.focus_nodes} focus node{'s' if self.focus_nodes != 1 else ''}"
        )
        return (
            f"{verdict}: {v} violation{'s' if v != 1 else ''}, "
            f"{w} warning{'s' if w != 1 else ''} ({scope})"
        )


def _display(node: Node | None, labels: dict[Node, str]) -> str:
    if node is None:
        return ""
    if isinstance(node, Literal):
        return node.n3()
    text = _qname(node)
    return f'{text} ("{labels[node]}")' if node in labels else text


def _qname(node: Node) -> str:
    text = str(node)
    for prefix, iri in PREFIXES.items():
        if text.startswith(iri) and "/" not in text[len(iri) :] and "#" not in text[len(iri) :]:
            return f"{prefix}:{text[len(iri) :]}"
    return f"<{text}>" if isinstance(node, URIRef) else f"_:{text}"


# ---------------------------------------------------------------- the shapes
@dataclass(frozen=True)
class Read:
    """A shape reads ``predicate`` of the nodes at the end of ``via`` from its focus node.

    Each step of ``via`` is (predicate, inverse). With ``inverse`` the read is of the
    triples whose *object* is the node (an inverse path step).
    """

    via: tuple[tuple[URIRef, bool], ...]
    predicate: URIRef
    inverse: bool = False


class Shapes:
    """The compiled shapes and what incremental validation needs to know about them."""

    def __init__(self, graph: Graph, files: Sequence[Path] = ()) -> None:
        self.graph = graph
        self.files = tuple(files)
        self.engine = ShaclEngine(graph)
        self.reads = frozenset(_analyse_reads(graph))
        self.reach = max((len(r.via) for r in self.reads), default=0)

    @property
    def node_shapes(self) -> list[Node]:
        return sorted(self.graph.subjects(RDF.type, SH.NodeShape), key=str)


def load_shapes(root: Path) -> Shapes:
    """Parse every ``*.ttl`` file of ``root/shapes`` and compile the shapes."""
    folder = root / "shapes"
    files = sorted(folder.glob("*.ttl"))
    if not files:
        raise ShapesError(f"no shapes found: {folder} has no *.ttl file")
    g = Graph()
    for f in files:
        try:
            g.parse(f, format="turtle")
        except Exception as exc:  # rdflib raises many kinds; all mean "does not parse"
            raise RDFSyntaxError(str(exc), path=f) from exc
    return Shapes(g, files)


_VALUE_SHAPE_LISTS = (SH["not"], SH["or"], SH["and"], SH.xone)


def _analyse_reads(g: Graph) -> Iterator[Read]:
    """Every (path from the focus node, predicate read) that some shape performs."""
    seen: set[tuple[Node, tuple]] = set()

    def shape_reads(shape: Node, via: tuple) -> Iterator[Read]:
        if (shape, via) in seen:
            return
        seen.add((shape, via))
        if via and (shape, SH["class"], None) in g:
            yield Read(via, RDF.type)
        for target in g.objects(shape, SH.targetSubjectsOf):
            yield Read(via, target)
        for target in g.objects(shape, SH.targetObjectsOf):
            yield Read(via, target, inverse=True)
        for prop in g.objects(shape, SH.property):
            yield from property_reads(prop, via)
        if (shape, SH.path, None) in g:
            yield from property_reads(shape, via)
        for kind in _VALUE_SHAPE_LISTS:
            for lst in g.objects(shape, kind):
                members = [lst] if kind == SH["not"] else list(Collection(g, lst))
                for member in members:
                    yield from shape_reads(member, via)
        for nested in g.objects(shape, SH.node):
            yield from shape_reads(nested, via)
        for constraint in g.objects(shape, SH.sparql):
            yield from sparql_reads(constraint, via)

    def property_reads(prop: Node, via: tuple) -> Iterator[Read]:
        path = g.value(prop, SH.path)
        if path is None:
            return
        for predicate in (
            *g.objects(prop, SH.equals),
            *g.objects(prop, SH.disjoint),
            *g.objects(prop, SH.lessThan),
            *g.objects(prop, SH.lessThanOrEquals),
        ):
            yield Read(via, predicate)
        # An alternative path branches: follow every concrete sequence of predicates.
        for sequence in itertools.product(
            *(
                [(p, inverse) for p in alternatives]
                for alternatives, inverse in _path_steps(g, path)
            )
        ):
            here = via
            for predicate, inverse in sequence:
                yield Read(here, predicate, inverse)
                here = (*here, (predicate, inverse))
            if here != via and (prop, SH["class"], None) in g:
                yield Read(here, RDF.type)
            for kind in _VALUE_SHAPE_LISTS:
                for lst in g.objects(prop, kind):
                    members = [lst] if kind == SH["not"] else list(Collection(g, lst))
                    for member in members:
                        yield from shape_reads(member, here)
            for nested in (*g.objects(prop, SH.node), *g.objects(prop, SH.qualifiedValueShape)):
                yield from shape_reads(nested, here)

    def sparql_reads(constraint: Node, via: tuple) -> Iterator[Read]:
        declared = list(g.objects(constraint, GPS.reads))
        focus_only = (constraint, GPS.readsFocusOnly, Literal(True)) in g
        if not declared and not focus_only and (constraint, SH.select, None) in g:
            raise ShapesError(
                f"SPARQL constraint {constraint} does not declare what it reads "
                "(gps:reads, or gps:readsFocusOnly true)"
            )
        for read in declared:
            steps = _path_steps(g, g.value(read, GPS.via) or RDF.nil)
            predicate = g.value(read, GPS.predicate)
            if not isinstance(predicate, URIRef):
                raise ShapesError(f"gps:reads of {constraint} has no gps:predicate IRI")
            here = via
            for alternatives, inverse in steps:
                yield Read(here, alternatives[0], inverse)
                here = (*here, (alternatives[0], inverse))
            yield Read(here, predicate)

    for shape in set(g.subjects(RDF.type, SH.NodeShape)) | set(g.subjects(SH.targetClass, None)):
        yield from shape_reads(shape, ())


def _path_steps(g: Graph, path: Node) -> list[tuple[tuple[URIRef, ...], bool]]:
    """A SHACL path as steps of (alternative predicates, inverse); TBox steps dropped."""
    if isinstance(path, URIRef) and path != RDF.nil:
        return [((path,), False)]
    if path == RDF.nil:
        return []
    if (path, RDF.first, None) in g:
        return [s for member in Collection(g, path) for s in _path_steps(g, member)]
    inverse = g.value(path, SH.inversePath)
    if isinstance(inverse, URIRef):
        return [((inverse,), True)]
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        members = list(Collection(g, alternatives))
        if all(isinstance(m, URIRef) for m in members):
            return [(tuple(members), False)]
    for repeat in (SH.zeroOrMorePath, SH.oneOrMorePath):
        inner = g.value(path, repeat)
        if inner in TBOX_PREDICATES:
            return []  # the class hierarchy is always in the context
    inner = g.value(path, SH.zeroOrOnePath)
    if isinstance(inner, URIRef):
        return [((inner,), False)]
    raise ShapesError(f"incremental validation cannot bound the path {path}: unsupported form")


def _expand_path(text: str) -> URIRef | None:
    """The IRI of a one-predicate path from its display form, else None."""
    if text.startswith("<") and text.endswith(">"):
        return URIRef(text[1:-1])
    if ":" in text and not any(c in text for c in "/^*+?|() "):
        prefix, local = text.split(":", 1)
        if prefix in PREFIXES:
            return URIRef(PREFIXES[prefix] + local)
    return None


def _render_path(g: Graph, path: Node) -> str:
    """A SHACL path from a report graph, in SPARQL property path syntax."""
    if isinstance(path, URIRef):
        return _qname(path)
    if (path, RDF.first, None) in g:
        return "/".join(_render_path(g, m) for m in Collection(g, path))
    for predicate, fmt in (
        (SH.inversePath, "^{}"),
        (SH.zeroOrMorePath, "{}*"),
        (SH.oneOrMorePath, "{}+"),
        (SH.zeroOrOnePath, "{}?"),
    ):
        inner = g.value(path, predicate)
        if inner is not None:
            text = _render_path(g, inner)
            return fmt.format(f"({text})" if "/" in text or "|" in text else text)
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        return "(" + "|".join(_render_path(g, m) for m in Collection(g, alternatives)) + ")"
    return str(path)


# ---------------------------------------------------------------- full validation
def validate_graph(
    data: Graph, shapes: Shapes, focus_nodes: Sequence[URIRef] | None = None
) -> ValidationReport:
    """Validate ``data`` (or only ``focus_nodes`` in it) against the shapes."""
    if not isinstance(data, QueryCachingGraph):
        cached = QueryCachingGraph()
        cached.addN((s, p, o, cached) for s, p, o in data)
        data = cached
    report = shapes.engine.validate(data, focus_nodes)
    results = _results(report)
    if focus_nodes is not None:
        wanted = set(focus_nodes)
        results = (r for r in results if r.focus in wanted)
    # A property shape shared by two node shapes that both target a node reports twice.
    unique = {r.key: r for r in results}
    return ValidationReport(
        tuple(unique.values()),
        examined=None if focus_nodes is None else frozenset(focus_nodes),
    )


def _results(report: Graph) -> Iterator[ValidationResult]:
    for node in report.subjects(RDF.type, SH.ValidationResult):
        path = report.value(node, SH.resultPath)
        severity = report.value(node, SH.resultSeverity)
        message = report.value(node, SH.resultMessage)
        yield ValidationResult(
            focus=report.value(node, SH.focusNode),
            path=None if path is None else _render_path(report, path),
            value=report.value(node, SH.value),
            component=report.value(node, SH.sourceConstraintComponent),
            shape=report.value(node, SH.sourceShape),
            severity=Severity(str(severity)),
            message=str(message) if message is not None else "",
        )


def validated_graphs(store: GraphStore) -> list[str]:
    """The named graphs that validation covers: all but the derived, inferred and load graphs."""
    return [g for g in store.named_graphs() if g not in NON_ASSERTED_GRAPHS]


def store_graph(store: GraphStore) -> QueryCachingGraph:
    """The union of the store's validated graphs, as an rdflib graph."""
    g = QueryCachingGraph()
    graphs = validated_graphs(store)
    if not graphs:
        return g
    _variables, rows = store.query("SELECT ?s ?p ?o WHERE { ?s ?p ?o }", default_graphs=graphs)
    for row in rows:
        g.add(row)
    return g


def validate_store(store: GraphStore, shapes: Shapes) -> ValidationReport:
    """Validate everything the store asserts (ontology included) in full."""
    return validate_graph(store_graph(store), shapes)


# ---------------------------------------------------------------- changes
@dataclass(frozen=True)
class Change:
    """Quads to remove and to add, in one write. Removal happens first.

    Blank nodes are not allowed: a write path skolemises them before building a change,
    so that every node of the store can be named as a focus node.
    """

    add: frozenset[Quad] = frozenset()
    remove: frozenset[Quad] = frozenset()

    def __post_init__(self) -> None:
        for s, p, o, g in (*self.add, *self.remove):
            if isinstance(s, BNode) or isinstance(o, BNode) or isinstance(g, BNode):
                raise ValueError("a change cannot hold blank nodes: skolemise them first")
            if not isinstance(p, URIRef) or not isinstance(g, URIRef):
                raise ValueError("a change's predicates and graphs are IRIs")

    @classmethod
    def of(cls, add: Iterable[Quad] = (), remove: Iterable[Quad] = ()) -> Change:
        return cls(frozenset(add), frozenset(remove))

    @property
    def quads(self) -> frozenset[Quad]:
        return self.add | self.remove

    def __len__(self) -> int:
        return len(self.add) + len(self.remove)


class _PostChangeView:
    """The store as it would be after a change, read through batched SPARQL."""

    def __init__(self, store: GraphStore, change: Change) -> None:
        self.store = store
        self.change = change
        self.graphs = set(validated_graphs(store)) | {
            str(q[3]) for q in change.add if str(q[3]) not in NON_ASSERTED_GRAPHS
        }

    def _select(self, sparql: str) -> list[tuple]:
        _vars, rows = self.store.query(sparql, union_default_graph=False)
        return rows

    def quads_from(
        self, nodes: Iterable[Node], predicates: Iterable[URIRef] | None, *, inverse: bool = False
    ) -> set[Quad]:
        """Quads whose subject (object if ``inverse``) is one of ``nodes``, before the change."""
        nodes = [n for n in nodes if isinstance(n, URIRef)]
        if not nodes:
            return set()
        anchor = "?o" if inverse else "?s"
        values = " ".join(n.n3() for n in nodes)
        if predicates is None:
            body = "GRAPH ?g { ?s ?p ?o }"
        else:
            predicates = sorted(set(predicates), key=str)
            if not predicates:
                return set()
            # One block per constant predicate: Oxigraph then joins VALUES with an index
            # lookup, where VALUES ?p scanned the whole store (1 s at 1M triples).
            body = " UNION ".join(
                f"{{ GRAPH ?g {{ ?s {p.n3()} ?o }} BIND ({p.n3()} AS ?p) }}" for p in predicates
            )
        rows = self._select(f"SELECT ?s ?p ?o ?g WHERE {{ VALUES {anchor} {{ {values} }} {body} }}")
        return {r for r in rows if str(r[3]) in self.graphs}

    def edges(
        self,
        nodes: Iterable[Node],
        predicates: Iterable[URIRef] | None,
        *,
        inverse: bool = False,
        before_too: bool = False,
    ) -> set[tuple[Node, URIRef, Node]]:
        """Triples from (to, if ``inverse``) ``nodes`` after the change (and before, if asked)."""
        nodes = set(nodes)
        preds = None if predicates is None else set(predicates)
        stored = self.quads_from(nodes, preds, inverse=inverse)
        if not before_too:
            stored -= self.change.remove
        added = {
            q
            for q in self.change.add
            if (q[2] if inverse else q[0]) in nodes
            and (preds is None or q[1] in preds)
            and str(q[3]) in self.graphs
        }
        return {(s, p, o) for s, p, o, _g in stored | added}

    def tbox(self) -> set[tuple[Node, URIRef, Node]]:
        quads: set[Quad] = set()
        for predicate in TBOX_PREDICATES:  # a constant predicate: an index lookup
            rows = self._select(f"SELECT ?s ?o ?g WHERE {{ GRAPH ?g {{ ?s <{predicate}> ?o }} }}")
            quads |= {(s, predicate, o, g) for s, o, g in rows if str(g) in self.graphs}
        quads -= self.change.remove
        quads |= {q for q in self.change.add if q[1] in TBOX_PREDICATES}
        return {(s, p, o) for s, p, o, _g in quads}


def validate_change(store: GraphStore, change: Change, shapes: Shapes) -> ValidationReport:
    """Validate the store as it would be after ``change``, on the nodes the change affects.

    The report holds the results of the affected focus nodes only: the results of every
    other node are the same before and after the change. Nothing is written.
    """
    if any(q[1] in TBOX_PREDICATES for q in change.quads):
        return validate_graph(_post_change_graph(store, change), shapes)
    view = _PostChangeView(store, change)
    affected = affected_nodes(view, change, shapes)
    context = _context(view, affected, shapes)
    return validate_graph(context, shapes, sorted(affected, key=str))


def affected_nodes(view: _PostChangeView, change: Change, shapes: Shapes) -> set[URIRef]:
    """Every node whose results may differ after the change."""
    affected: set[URIRef] = set()
    by_read: dict[Read, set[Node]] = defaultdict(set)
    reads_by_predicate: dict[tuple[URIRef, bool], list[Read]] = defaultdict(list)
    for read in shapes.reads:
        reads_by_predicate[(read.predicate, read.inverse)].append(read)
    for s, p, o, g in change.quads:
        if str(g) not in view.graphs:
            continue
        affected.add(s)  # a node reads all of its own triples
        for read in reads_by_predicate.get((p, False), ()):
            by_read[read].add(s)
        for read in reads_by_predicate.get((p, True), ()):
            if isinstance(o, URIRef):
                by_read[read].add(o)
    for read, anchors in by_read.items():
        nodes = set(anchors)
        for predicate, inverse in reversed(read.via):
            # step back along the path: who reaches these nodes through this step?
            edges = view.edges(nodes, [predicate], inverse=not inverse, before_too=True)
            nodes = {o if inverse else s for s, _p, o in edges}
            if not nodes:
                break
        affected |= {n for n in nodes if isinstance(n, URIRef)}
    return affected


def _context(view: _PostChangeView, focus: set[URIRef], shapes: Shapes) -> QueryCachingGraph:
    """Everything the shapes read from the focus nodes, after the change.

    Nodes one forward step away are found in the focus nodes' own triples, and each
    predicate read is fetched for all the nodes that need it in one query, so the number
    of queries does not grow with the number of shapes.
    """
    context = QueryCachingGraph()
    own = view.edges(focus, None)
    for t in own:
        context.add(t)
    by_via: dict[tuple, list[Read]] = defaultdict(list)
    for read in shapes.reads:
        by_via[read.via].append(read)
    frontier: dict[tuple, set[Node]] = {(): set(focus)}
    wanted: dict[tuple[URIRef, bool], set[Node]] = defaultdict(set)
    for via in sorted({r.via[:i] for r in shapes.reads for i in range(len(r.via) + 1)}, key=len):
        if via not in frontier:
            parent = frontier.get(via[:-1], set())
            predicate, inverse = via[-1]
            if len(via) == 1 and not inverse:
                nodes = {o for _s, p, o in own if p == predicate}
            elif parent:
                edges = view.edges(parent, [predicate], inverse=inverse)
                nodes = {s if inverse else o for s, _p, o in edges}
            else:
                nodes = set()
            frontier[via] = {n for n in nodes if isinstance(n, URIRef)}
        nodes = frontier[via]
        if not nodes:
            continue
        for read in by_via.get(via, ()):
            if via or read.inverse:  # the focus nodes' own triples are already in
                wanted[(read.predicate, read.inverse)] |= nodes
    by_nodes: dict[tuple[frozenset, bool], set[URIRef]] = defaultdict(set)
    for (predicate, inverse), nodes in wanted.items():
        by_nodes[(frozenset(nodes), inverse)].add(predicate)
    for (nodes, inverse), predicates in by_nodes.items():
        for t in view.edges(nodes, predicates, inverse=inverse):
            context.add(t)
    for t in view.tbox():
        context.add(t)
    return context


def _post_change_graph(store: GraphStore, change: Change) -> QueryCachingGraph:
    """The union of the validated graphs after the change, triple by triple."""
    graphs = validated_graphs(store)
    quads: set[Quad] = set()
    if graphs:
        _vars, rows = store.query(
            "SELECT ?s ?p ?o ?g WHERE { GRAPH ?g { ?s ?p ?o } }", union_default_graph=False
        )
        quads = {r for r in rows if str(r[3]) in graphs}
    quads -= change.remove
    quads |= {q for q in change.add if str(q[3]) not in NON_ASSERTED_GRAPHS}
    g = QueryCachingGraph()
    for s, p, o, _g in quads:
        g.add((s, p, o))
    return g


def labels_for(store: GraphStore, nodes: Iterable[Node]) -> dict[Node, str]:
    """English (or any) labels of ``nodes``, for readable reports."""
    iris = sorted({n for n in nodes if isinstance(n, URIRef)}, key=str)
    if not iris:
        return {}
    values = " ".join(n.n3() for n in iris)
    _vars, rows = store.query(
        "SELECT ?n (SAMPLE(?l) AS ?label) WHERE { VALUES ?n { "
        + values
        + " } ?n <http://www.w3.org/2000/01/rdf-schema#label>|"
        "<http://www.w3.org/2004/02/skos/core#prefLabel> ?l } GROUP BY ?n"
    )
    return {n: str(label) for n, label in rows if label is not None}


def graph_labels(graph: Graph, nodes: Iterable[Node]) -> dict[Node, str]:
    """Labels of ``nodes`` found in an rdflib graph."""
    out: dict[Node, str] = {}
    for n in nodes:
        label = graph.value(n, RDFS.label) or graph.value(
            n, URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")
        )
        if label is not None:
            out[n] = str(label)
    return out


# ---------------------------------------------------------------- validation inside the store
def validate_in_store(
    store: GraphStore, shapes: Shapes, graphs: Sequence[str] | None = None
) -> ValidationReport:
    """Validate the union of ``graphs`` (default: the validated graphs) inside ``store``.

    The same report as :func:`validate_store` (same results: focus node, path, value,
    component, source shape, severity, message), but the shapes run as SPARQL queries in
    the store (:mod:`kg.shacl_sparql`) instead of pyshacl over an rdflib copy: bulk loads
    of millions of triples can be validated before they are made visible. A shape that
    uses a feature the compiler does not support raises
    :class:`kg.shacl_sparql.UnsupportedShapeError` naming it.
    """
    from kg.shacl_sparql import validate_in_store as _validate_in_store

    return _validate_in_store(store, shapes, graphs)
