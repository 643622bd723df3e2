"""Full SHACL validation inside the store: the shapes compiled to SPARQL SELECT queries.

pyshacl validates focus node by focus node over an rdflib copy of the data (about
1,000 s and 2.4 GiB at 1M triples). Here every constraint of every shape becomes a
query that finds the violating (focus node, value) rows of *all* its focus nodes at
once, and the store answers it over its own indexes: nothing is copied out of the store
but the results.

The verdict is pyshacl's as :mod:`kg._pyshacl` runs it (``tests/test_validation_in_store``
checks it on the curated data and on every fixture of every shape):

- the data graph is the union of the validated graphs, ontology included, without
  inference: class targets and ``sh:class`` follow ``rdf:type/rdfs:subClassOf*`` through
  the ``rdfs:subClassOf`` triples of those graphs;
- each result has pyshacl's focus node, path, value, constraint component, source shape,
  severity and message (SHACL-SPARQL messages have their ``{?var}`` substituted the way
  pyshacl does);
- SHACL-SPARQL constraints bind ``$this`` through a join with the focus nodes instead of
  one query per focus node (equivalent to pre-binding for queries that use ``$this`` in
  their top-level pattern, the only form accepted here).

How the queries are written:

- a query whose focus class has no instance, or whose path's predicate has no triple,
  in the data is not run (one ASK each, cached per validation): typical data uses a small
  part of the ontology;
- all class targets of a shape share one ``VALUES`` of the classes and their subclasses
  (the hierarchy read once per validation);
- in a store on disk every index lookup is a RocksDB seek, so the sides of a join are
  written as subqueries, which Oxigraph scans once and hash-joins (5 times faster at 1M
  triples; the default, since big data lives on disk); in memory, lookups are faster;
- ``$this rdf:type/rdfs:subClassOf* ?value`` (the disjointness checks) joins the types of
  a node with the (class, superclass) pairs of the hierarchy instead of walking the path
  for every node.

Supported: targets (class, implicit class, subjects of, objects of, node), every path
form, sh:class, sh:datatype, sh:nodeKind, sh:in, sh:hasValue, sh:pattern (+ sh:flags),
sh:minLength, sh:maxLength, sh:min/maxInclusive, sh:min/maxExclusive, sh:languageIn,
sh:uniqueLang, sh:minCount, sh:maxCount, sh:lessThan, sh:lessThanOrEquals, sh:or, sh:and,
sh:not, sh:xone, sh:qualifiedValueShape with sh:qualifiedMin/MaxCount, nested shapes
(value and property conditions) inside the logical and qualified ones, SHACL-SPARQL
SELECT constraints (sh:prefixes, sh:declare, $PATH, messages with {?var}), severities,
sh:deactivated. A shape that uses anything else (sh:closed, sh:equals, sh:disjoint,
sh:node outside a logical constraint, whose nested results pyshacl also reports, SPARQL
constraints with solution modifiers or subqueries...) raises
:class:`UnsupportedShapeError` naming the shape, when the shapes are compiled:
validation never silently skips it.

Known differences, all outside what the project's shapes use: regular expressions are the
engine's (XPath-like) rather than Python's; the well-formedness of a typed literal is the
engine's cast rather than rdflib's parser; a shape without sh:message gets an empty message
where pyshacl writes a generic one; blank-node classes (the loader skolemises them) are
left out of the class hierarchy.
"""

from __future__ import annotations

import itertools
import re
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from rdflib import Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from kg.errors import QueryError, ShapesError
from kg.validation import (
    Severity,
    Shapes,
    ValidationReport,
    ValidationResult,
    _render_path,
    validated_graphs,
)

__all__ = ["CompiledShapes", "UnsupportedShapeError", "compile_shapes", "validate_in_store"]


class UnsupportedShapeError(ShapesError):
    """A shape uses a SHACL feature that the SPARQL compiler does not support."""

    def __init__(self, shape: Node, feature: str) -> None:
        self.shape = shape
        self.feature = feature
        super().__init__(
            f"shape {_name(shape)} cannot be validated in the store: {feature} is not "
            "supported by the SPARQL compiler (kg.shacl_sparql); validate with pyshacl "
            "(kg.validation.validate_graph) instead"
        )


def _name(node: Node) -> str:
    from kg.validation import _qname

    return _qname(node)


# ---------------------------------------------------------------- vocabulary
_COMPONENT = {
    name: SH[f"{name[0].upper()}{name[1:]}ConstraintComponent"]
    for name in (
        "class",
        "datatype",
        "nodeKind",
        "in",
        "hasValue",
        "pattern",
        "minLength",
        "maxLength",
        "minInclusive",
        "maxInclusive",
        "minExclusive",
        "maxExclusive",
        "languageIn",
        "or",
        "and",
        "not",
        "xone",
        "node",
        "minCount",
        "maxCount",
        "qualifiedMinCount",
        "qualifiedMaxCount",
        "uniqueLang",
        "lessThan",
        "lessThanOrEquals",
    )
}
_SPARQL_COMPONENT = SH.SPARQLConstraintComponent

#: Predicates of a shape that are not constraints (or are read with another one).
_NOT_CONSTRAINTS = frozenset(
    {
        SH.path,
        SH.severity,
        SH.message,
        SH.name,
        SH.description,
        SH.order,
        SH.group,
        SH.defaultValue,
        SH.deactivated,
        SH.targetClass,
        SH.targetNode,
        SH.targetSubjectsOf,
        SH.targetObjectsOf,
        SH.property,
        SH.sparql,
        SH.flags,
        SH.qualifiedValueShape,
        SH.qualifiedMinCount,
        SH.qualifiedMaxCount,
        SH.qualifiedValueShapesDisjoint,
        SH.declare,
        SH.prefixes,
    }
)

#: Components checked on each value node, and whose result carries the value.
_PER_VALUE = (
    "class",
    "datatype",
    "nodeKind",
    "in",
    "pattern",
    "minLength",
    "maxLength",
    "minInclusive",
    "maxInclusive",
    "minExclusive",
    "maxExclusive",
    "languageIn",
    "or",
    "and",
    "not",
    "xone",
    "node",
)
_KNOWN = frozenset(
    {SH[n] for n in _PER_VALUE}
    | {SH.hasValue, SH.minCount, SH.maxCount, SH.uniqueLang, SH.lessThan, SH.lessThanOrEquals}
)

_TYPE = f"<{RDF.type}>"
_XSD_TYPES_WITH_CAST = {
    XSD.integer,
    XSD.decimal,
    XSD.float,
    XSD.double,
    XSD.boolean,
    XSD.date,
    XSD.dateTime,
    XSD.time,
}


# ---------------------------------------------------------------- small helpers
def _term(node: Node, shape: Node) -> str:
    """A constant of the shapes in SPARQL syntax."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        return node.n3()
    raise UnsupportedShapeError(shape, f"the blank node {node.n3()} as a constant")


def _string(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def _list(g: Graph, node: Node, shape: Node, what: str) -> list[Node]:
    try:
        return list(Collection(g, node))
    except Exception as exc:  # a malformed RDF list
        raise UnsupportedShapeError(shape, f"a malformed list for {what}") from exc


def _path_sparql(g: Graph, path: Node, shape: Node) -> str:
    """A SHACL path as a SPARQL property path."""
    if isinstance(path, URIRef):
        return f"<{path}>"
    if (path, RDF.first, None) in g:
        members = _list(g, path, shape, "a sequence path")
        return "(" + "/".join(_path_sparql(g, m, shape) for m in members) + ")"
    alternatives = g.value(path, SH.alternativePath)
    if alternatives is not None:
        members = _list(g, alternatives, shape, "an alternative path")
        return "(" + "|".join(_path_sparql(g, m, shape) for m in members) + ")"
    for predicate, fmt in (
        (SH.inversePath, "^({})"),
        (SH.zeroOrMorePath, "({})*"),
        (SH.oneOrMorePath, "({})+"),
        (SH.zeroOrOnePath, "({})?"),
    ):
        inner = g.value(path, predicate)
        if inner is not None:
            return fmt.format(_path_sparql(g, inner, shape))
    raise UnsupportedShapeError(shape, f"the path {path.n3()}")


def _truthy(g: Graph, shape: Node, predicate: URIRef) -> bool:
    value = g.value(shape, predicate)
    return isinstance(value, Literal) and value.toPython() is True


def _int(g: Graph, shape: Node, predicate: URIRef) -> int | None:
    value = g.value(shape, predicate)
    if value is None:
        return None
    if not isinstance(value, Literal) or not isinstance(value.toPython(), int):
        raise UnsupportedShapeError(shape, f"a non-integer {_name(predicate)}")
    return int(value.toPython())


class _Vars:
    """Fresh variable names that cannot clash with the shapes' own queries."""

    def __init__(self) -> None:
        self._n = itertools.count()

    def __call__(self, stem: str = "v") -> str:
        return f"?_kg_{stem}{next(self._n)}"


# ---------------------------------------------------------------- the data context
class _Classes:
    """The class hierarchy of the data graph: a class and all its subclasses.

    It also says how to write the queries: with ``scan`` (a store on disk, where every
    index lookup is a seek), the sides of a join are subqueries, which Oxigraph scans
    once and hash-joins, instead of looking up the right side for each row of the left.
    """

    def __init__(self, pairs: Iterable[tuple[Node, Node]], *, scan: bool = False) -> None:
        self.scan = scan
        self._subs: dict[Node, set[Node]] = defaultdict(set)
        self._supers: dict[Node, set[Node]] = defaultdict(set)
        for sub, sup in pairs:
            self._subs[sup].add(sub)
            self._supers[sub].add(sup)
        self._cache: dict[Node, tuple[str, ...]] = {}
        self._pairs: str | None = None

    def looking_up(self) -> _Classes:
        """The same hierarchy, for queries written with lookups (not scans)."""
        if not self.scan:
            return self
        other = _Classes((), scan=False)
        other.__dict__.update({**self.__dict__, "scan": False})
        return other

    def superclass_pairs(self) -> str:
        """VALUES rows (class, superclass) of ``rdfs:subClassOf*`` for every class that has
        a superclass (itself included); a class without one is its own only superclass."""
        if self._pairs is None:
            rows = []
            for cls in sorted(self._supers, key=str):
                seen = {cls}
                todo = [cls]
                while todo:
                    for sup in self._supers.get(todo.pop(), ()):
                        if sup not in seen:
                            seen.add(sup)
                            todo.append(sup)
                if isinstance(cls, URIRef):
                    rows += [
                        f"(<{cls}> <{s}>)" for s in sorted(seen, key=str) if isinstance(s, URIRef)
                    ]
            self._pairs = " ".join(rows)
        return self._pairs

    def closure(self, cls: URIRef) -> tuple[str, ...]:
        """``cls`` and every class below it (``rdfs:subClassOf*``), as SPARQL IRIs."""
        if cls not in self._cache:
            seen = {cls}
            todo = [cls]
            while todo:
                for sub in self._subs.get(todo.pop(), ()):
                    if sub not in seen:
                        seen.add(sub)
                        todo.append(sub)
            # Blank-node classes cannot be written in a query; the loader skolemises them.
            self._cache[cls] = tuple(sorted(f"<{c}>" for c in seen if isinstance(c, URIRef)))
        return self._cache[cls]


# A piece of query text that depends on the class hierarchy of the data.
Render = Callable[[_Classes], str]


def _const(text: str) -> Render:
    return lambda _classes: text


def _join(parts: Sequence[Render], sep: str) -> Render:
    return lambda classes: sep.join(p(classes) for p in parts)


# ---------------------------------------------------------------- compiled checks
#: Something the data may lack, in which case a query cannot find anything:
#: ("class", C) an instance of C (or a subclass), ("predicate", p) a triple with p,
#: ("always",) nothing to check.
_Need = tuple[str, ...]
_ALWAYS: _Need = ("always",)


def _path_needs(g: Graph, path: Node) -> frozenset[_Need]:
    """Predicates that must all occur in the data for ``path`` to have any value."""
    if isinstance(path, URIRef):
        return frozenset({("predicate", str(path))})
    if (path, RDF.first, None) in g:
        return frozenset().union(*(_path_needs(g, m) for m in Collection(g, path)))
    inner = g.value(path, SH.inversePath) or g.value(path, SH.oneOrMorePath)
    if inner is not None:
        return _path_needs(g, inner)
    return frozenset()  # alternatives, zero-length paths: no requirement


@dataclass(frozen=True)
class _Origin:
    """Where a result comes from: its source shape and what the report says of it."""

    shape: Node
    severity: Severity
    messages: tuple[Literal, ...]
    path: str | None  # rendered as in a pyshacl report (kg.validation._render_path)

    @property
    def message(self) -> str:
        return str(self.messages[0]) if self.messages else ""


@dataclass(frozen=True)
class _Query:
    """One SELECT query and how its rows become validation results."""

    origin: _Origin
    text: Render
    to_results: Callable[[list[str], list[tuple]], Iterator[ValidationResult]]
    label: str  # for error messages: which shape and which constraint
    #: The query can only find something if one of these holds (it has a focus node)...
    focus: frozenset[_Need] = frozenset()
    #: ... and all of these (its path can have a value).
    values: frozenset[_Need] = frozenset()


class CompiledShapes:
    """The shapes of a :class:`Shapes`, compiled to SPARQL queries."""

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes
        self.graph = shapes.graph
        self.queries: list[_Query] = []
        self._vars = _Vars()
        self._compile()

    # -- targets
    def _targets(self, shape: Node) -> list[tuple[_Need, str]]:
        """The targets of ``shape``: (what the data needs for it to bind anything, and
        a pattern binding ``?this`` to its focus nodes, empty for class targets)."""
        g = self.graph
        parts: list[tuple[_Need, str]] = []
        classes = list(g.objects(shape, SH.targetClass))
        if (shape, RDF.type, RDFS.Class) in g:
            classes.append(shape)  # an implicit class target
        for cls in classes:
            if not isinstance(cls, URIRef):
                raise UnsupportedShapeError(shape, "a blank-node target class")
            parts.append((("class", str(cls)), ""))
        for p in g.objects(shape, SH.targetSubjectsOf):
            parts.append((("predicate", str(p)), f"?this {_term(p, shape)} ?_kg_o ."))
        for p in g.objects(shape, SH.targetObjectsOf):
            parts.append((("predicate", str(p)), f"?_kg_s {_term(p, shape)} ?this ."))
        for node in g.objects(shape, SH.targetNode):
            parts.append((_ALWAYS, f"VALUES ?this {{ {_term(node, shape)} }}"))
        return parts

    @staticmethod
    def _focus(targets: Sequence[tuple[_Need, str]]) -> Render:
        """A pattern binding ``?this`` to every focus node (some maybe more than once:
        every query either projects DISTINCT rows or counts DISTINCT values).

        All class targets share one VALUES block: the instances of any of the classes.
        """
        classes = sorted({URIRef(need[1]) for need, _p in targets if need[0] == "class"})
        patterns = list(dict.fromkeys(p for need, p in targets if need[0] != "class"))

        def class_pattern(k: _Classes) -> str:
            members = sorted({c for cls in classes for c in k.closure(cls)})
            return f"VALUES ?_kg_c {{ {' '.join(members)} }} ?this {_TYPE} ?_kg_c ."

        branches: list[Render] = ([class_pattern] if classes else []) + [
            _const(p) for p in patterns
        ]
        if len(branches) == 1:
            inline = branches[0]
        else:
            union = _join([lambda k, b=b: "{ " + b(k) + " }" for b in branches], " UNION ")
            inline = lambda k: "{ " + union(k) + " }"  # noqa: E731
        return lambda k: (
            "{ SELECT DISTINCT ?this WHERE { " + inline(k) + " } }" if k.scan else inline(k)
        )

    # -- compilation
    def _compile(self) -> None:
        g = self.graph
        shapes = (
            set(g.subjects(RDF.type, SH.NodeShape))
            | set(g.subjects(RDF.type, SH.PropertyShape))
            | {
                s
                for p in (SH.targetClass, SH.targetNode, SH.targetSubjectsOf, SH.targetObjectsOf)
                for s in g.subjects(p, None)
            }
        )
        # The focus nodes of each shape that reports results: its own targets, and those
        # of every targeted node shape that has it as a property shape.
        focus_of: dict[Node, list[tuple[_Need, str]]] = defaultdict(list)
        for shape in sorted(shapes, key=str):
            if _truthy(g, shape, SH.deactivated):
                continue
            targets = self._targets(shape)
            if not targets:
                continue
            focus_of[shape].extend(targets)
            if (shape, SH.path, None) not in g:
                for prop in g.objects(shape, SH.property):
                    if not _truthy(g, prop, SH.deactivated):
                        focus_of[prop].extend(targets)
        for shape, targets in sorted(focus_of.items(), key=lambda kv: str(kv[0])):
            self._needs_focus = frozenset(need for need, _pattern in targets)
            try:
                self._compile_shape(shape, self._focus(targets))
            except UnsupportedShapeError as exc:
                if exc.shape == shape:
                    raise
                feature = f"{exc.feature} (in its nested shape {_name(exc.shape)})"
                raise UnsupportedShapeError(shape, feature) from exc

    def _origin(self, shape: Node, path: Node | None) -> _Origin:
        g = self.graph
        severity = g.value(shape, SH.severity) or SH.Violation
        try:
            sev = Severity(str(severity))
        except ValueError as exc:
            raise UnsupportedShapeError(shape, f"the severity {severity.n3()}") from exc
        messages = tuple(sorted((m for m in g.objects(shape, SH.message)), key=str))
        return _Origin(shape, sev, messages, None if path is None else _render_path(g, path))

    def _compile_shape(self, shape: Node, focus: Render) -> None:
        g = self.graph
        path = g.value(shape, SH.path)
        for p in set(g.predicates(shape, None)):
            if str(p).startswith(str(SH)) and p not in _KNOWN and p not in _NOT_CONSTRAINTS:
                raise UnsupportedShapeError(shape, _name(p))
        if path is not None and (shape, SH.property, None) in g:
            raise UnsupportedShapeError(shape, "sh:property on a property shape")
        if (shape, SH.node, None) in g:
            # pyshacl also reports the nested shape's own results (as sh:detail).
            raise UnsupportedShapeError(shape, "sh:node (outside sh:or, sh:and, sh:xone, sh:not)")
        if path is None:
            for p in (
                SH.minCount,
                SH.maxCount,
                SH.uniqueLang,
                SH.lessThan,
                SH.lessThanOrEquals,
                SH.qualifiedValueShape,
            ):
                if (shape, p, None) in g:
                    raise UnsupportedShapeError(shape, f"{_name(p)} on a node shape")
        origin = self._origin(shape, path)
        self._needs_values = frozenset() if path is None else _path_needs(g, path)
        if path is None:
            values = _const("BIND (?this AS ?value)")
        else:
            triple = f"?this {_path_sparql(g, path, shape)} ?value ."
            values = lambda k: (  # noqa: E731
                f"{{ SELECT ?this ?value WHERE {{ {triple} }} }}" if k.scan else triple
            )
        # Components checked on each value node: one query for all of them.
        checks: list[tuple[URIRef, Render]] = []
        for name in _PER_VALUE:
            for param in g.objects(shape, SH[name]):
                if name == "class" and isinstance(param, URIRef):
                    checks.append((_COMPONENT[name], _ClassCheck(param, self._vars("t"))))
                    continue
                checks.append((_COMPONENT[name], self._component(shape, name, param, "?value")))
        if path is None:
            for param in g.objects(shape, SH.hasValue):
                checks.append(
                    (_COMPONENT["hasValue"], _const(f"sameTerm(?value, {_term(param, shape)})"))
                )
        if checks:
            self._per_value_query(origin, focus, values, checks)
        for constraint in g.objects(shape, SH.sparql):
            self._sparql_query(shape, constraint, focus, path, origin)
        if path is None:
            return
        sp = _path_sparql(g, path, shape)
        # Cardinalities.
        low, high = _int(g, shape, SH.minCount), _int(g, shape, SH.maxCount)
        if low:
            self._count_query(origin, focus, sp, _const("true"), low, "low", _COMPONENT["minCount"])
        if high is not None:
            self._count_query(
                origin, focus, sp, _const("true"), high, "high", _COMPONENT["maxCount"]
            )
        qualified = list(g.objects(shape, SH.qualifiedValueShape))
        if qualified:
            if len(qualified) > 1 or _truthy(g, shape, SH.qualifiedValueShapesDisjoint):
                raise UnsupportedShapeError(shape, "sh:qualifiedValueShapesDisjoint")
            cond = self._conforms(qualified[0], "?_kg_q")
            qlow = _int(g, shape, SH.qualifiedMinCount)
            qhigh = _int(g, shape, SH.qualifiedMaxCount)
            if qlow:
                self._count_query(
                    origin, focus, sp, cond, qlow, "low", _COMPONENT["qualifiedMinCount"], "?_kg_q"
                )
            if qhigh is not None:
                self._count_query(
                    origin,
                    focus,
                    sp,
                    cond,
                    qhigh,
                    "high",
                    _COMPONENT["qualifiedMaxCount"],
                    "?_kg_q",
                )
        for param in g.objects(shape, SH.hasValue):
            self._focus_query(
                origin,
                _COMPONENT["hasValue"],
                _join(
                    [focus, _const(f"FILTER NOT EXISTS {{ ?this {sp} {_term(param, shape)} }}")],
                    " ",
                ),
            )
        if _truthy(g, shape, SH.uniqueLang):
            pairs = (
                f"?this {sp} ?_kg_a . ?this {sp} ?_kg_b . "
                'FILTER (!sameTerm(?_kg_a, ?_kg_b) && LANG(?_kg_a) != "" '
                "&& LCASE(LANG(?_kg_a)) = LCASE(LANG(?_kg_b)))"
            )
            # Two distinct literals share a language tag iff there are more literals than tags.
            grouped = (
                f'{{ SELECT ?this WHERE {{ ?this {sp} ?_kg_a . FILTER (LANG(?_kg_a) != "") }} '
                "GROUP BY ?this HAVING (COUNT(DISTINCT ?_kg_a) > "
                "COUNT(DISTINCT LCASE(LANG(?_kg_a)))) }"
            )
            self._focus_query(
                origin,
                _COMPONENT["uniqueLang"],
                lambda k: f"{focus(k)} {grouped if k.scan else pairs}",
                values=True,
            )
        for name, op in (("lessThan", "<"), ("lessThanOrEquals", "<=")):
            for other in g.objects(shape, SH[name]):
                if not isinstance(other, URIRef):
                    raise UnsupportedShapeError(shape, f"sh:{name} with a path that is not an IRI")
                self._pair_query(origin, focus, sp, other, op, _COMPONENT[name])

    # -- value conditions
    def _component(self, shape: Node, name: str, param: Node, var: str) -> Render:
        """A SPARQL expression: the value in ``var`` satisfies ``sh:<name> param``.

        The expression never raises an error (errors count as not satisfied).
        """
        g = self.graph
        if name == "class":
            if not isinstance(param, URIRef):
                raise UnsupportedShapeError(shape, "a blank-node sh:class")
            t = self._vars("t")
            return lambda k: (
                f"EXISTS {{ {var} {_TYPE} {t} . FILTER ({t} IN ({', '.join(k.closure(param))})) }}"
            )
        if name == "datatype":
            return _const(self._datatype(shape, param, var))
        if name == "nodeKind":
            kinds = {
                SH.IRI: f"isIRI({var})",
                SH.BlankNode: f"isBlank({var})",
                SH.Literal: f"isLiteral({var})",
                SH.BlankNodeOrIRI: f"!isLiteral({var})",
                SH.BlankNodeOrLiteral: f"!isIRI({var})",
                SH.IRIOrLiteral: f"!isBlank({var})",
            }
            if param not in kinds:
                raise UnsupportedShapeError(shape, f"the node kind {param.n3()}")
            return _const(kinds[param])
        if name == "in":
            members = _list(g, param, shape, "sh:in")
            if not members:
                return _const("false")
            if all(isinstance(m, URIRef) for m in members):
                return _const(f"COALESCE({var} IN ({', '.join(f'<{m}>' for m in members)}), false)")
            return _const(
                "(" + " || ".join(f"sameTerm({var}, {_term(m, shape)})" for m in members) + ")"
            )
        if name == "pattern":
            flags = g.value(shape, SH.flags)
            flag_text = "".join(f for f in str(flags or "").lower() if f in "im")
            return _const(
                f"(!isBlank({var}) && COALESCE(REGEX(STR({var}), {_string(str(param))}, "
                f"{_string(flag_text)}), false))"
            )
        if name in ("minLength", "maxLength"):
            if not isinstance(param, Literal) or not isinstance(param.toPython(), int):
                raise UnsupportedShapeError(shape, f"a non-integer sh:{name}")
            n = int(param.toPython())
            if name == "minLength" and n == 0:
                return _const("true")
            op = ">=" if name == "minLength" else "<="
            return _const(f"(!isBlank({var}) && STRLEN(STR({var})) {op} {n})")
        if name in ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"):
            if not isinstance(param, Literal):
                raise UnsupportedShapeError(shape, f"a non-literal sh:{name}")
            op = {
                "minInclusive": ">=",
                "maxInclusive": "<=",
                "minExclusive": ">",
                "maxExclusive": "<",
            }[name]
            # pyshacl never compares a string with a non-string: both fail.
            bound_is_string = isinstance(param.toPython(), str)
            string = _is_string(var)
            kind = string if bound_is_string else f"!{string}"
            return _const(
                f"(isLiteral({var}) && {kind} && COALESCE({var} {op} {param.n3()}, false))"
            )
        if name == "languageIn":
            langs = [str(m).lower() for m in _list(g, param, shape, "sh:languageIn")]
            if "*" in langs:
                return _const(f'(isLiteral({var}) && LANG({var}) != "")')
            options = ", ".join(_string(lang) for lang in langs) or '""'
            return _const(
                f'(isLiteral({var}) && LANG({var}) != "" && (LCASE(LANG({var})) IN ({options}) '
                f'|| LCASE(STRBEFORE(CONCAT(LANG({var}), "-"), "-")) IN ({options})))'
            )
        if name in ("or", "and", "xone"):
            members = _list(g, param, shape, f"sh:{name}")
            conds = [self._conforms(m, var) for m in members]
            if name in ("or", "and"):
                joined = _join(
                    [lambda k, c=c: f"COALESCE({c(k)}, false)" for c in conds]
                    or [_const("false" if name == "or" else "true")],
                    " || " if name == "or" else " && ",
                )
                return lambda k: f"({joined(k)})"
            ones = _join(
                [lambda k, c=c: f"IF(COALESCE({c(k)}, false), 1, 0)" for c in conds]
                or [_const("0")],
                " + ",
            )
            return lambda k: f"(({ones(k)}) = 1)"
        if name == "not":
            cond = self._conforms(param, var)
            return lambda k: f"!COALESCE({cond(k)}, false)"
        if name == "node":
            cond = self._conforms(param, var)
            return lambda k: f"COALESCE({cond(k)}, false)"
        raise UnsupportedShapeError(shape, f"sh:{name}")  # pragma: no cover - guarded

    @staticmethod
    def _datatype(shape: Node, dt: Node, var: str) -> str:
        if not isinstance(dt, URIRef):
            raise UnsupportedShapeError(shape, "a blank-node sh:datatype")
        if dt == RDF.langString:
            return f'(isLiteral({var}) && LANG({var}) != "")'
        if dt == RDFS.Literal:
            return f"isLiteral({var})"
        base = f"(isLiteral({var}) && DATATYPE({var}) = <{dt}>"
        if dt in _XSD_TYPES_WITH_CAST:
            # An ill-formed literal ("3.6 million"^^xsd:integer) does not have the datatype.
            base += f" && COALESCE(DATATYPE(<{dt}>(STR({var}))) = <{dt}>, false)"
        return base + ")"

    def _conforms(self, shape: Node, var: str) -> Render:
        """A SPARQL expression: the node in ``var`` conforms to ``shape`` (a nested shape)."""
        g = self.graph
        if _truthy(g, shape, SH.deactivated):
            return _const("true")
        for p in set(g.predicates(shape, None)):
            if p == SH.sparql or (
                str(p).startswith(str(SH)) and p not in _KNOWN and p not in _NOT_CONSTRAINTS
            ):
                raise UnsupportedShapeError(shape, f"{_name(p)} in a nested shape")
            if p in (SH.qualifiedValueShape, SH.lessThan, SH.lessThanOrEquals, SH.uniqueLang):
                raise UnsupportedShapeError(shape, f"{_name(p)} in a nested shape")
        path = g.value(shape, SH.path)
        if path is None:
            parts: list[Render] = []
            for name in _PER_VALUE:
                for param in g.objects(shape, SH[name]):
                    parts.append(self._component(shape, name, param, var))
            for param in g.objects(shape, SH.hasValue):
                parts.append(_const(f"sameTerm({var}, {_term(param, shape)})"))
            for prop in g.objects(shape, SH.property):
                parts.append(self._conforms_property(prop, var))
        else:
            parts = [self._conforms_property(shape, var)]
        if not parts:
            return _const("true")
        joined = _join([lambda k, p=p: f"COALESCE({p(k)}, false)" for p in parts], " && ")
        return lambda k: f"({joined(k)})"

    def _conforms_property(self, shape: Node, var: str) -> Render:
        """The node in ``var`` conforms to the property shape ``shape``."""
        g = self.graph
        if (shape, SH.property, None) in g:
            raise UnsupportedShapeError(shape, "sh:property on a nested property shape")
        sp = _path_sparql(g, g.value(shape, SH.path), shape)
        parts: list[Render] = []
        w = self._vars("w")
        per_value = [
            self._component(shape, name, param, w)
            for name in _PER_VALUE
            for param in g.objects(shape, SH[name])
        ]
        if per_value:
            every = _join([lambda k, c=c: f"COALESCE({c(k)}, false)" for c in per_value], " && ")
            parts.append(lambda k: f"NOT EXISTS {{ {var} {sp} {w} . FILTER (!({every(k)})) }}")
        low, high = _int(g, shape, SH.minCount), _int(g, shape, SH.maxCount)
        if low:
            names = [self._vars("m") for _ in range(low)]
            distinct = " && ".join(
                f"!sameTerm({a}, {b})" for a, b in itertools.combinations(names, 2)
            )
            pattern = " . ".join(f"{var} {sp} {n}" for n in names)
            text = f"EXISTS {{ {pattern} . {f'FILTER ({distinct})' if distinct else ''} }}"
            parts.append(_const(text))
        if high is not None:
            names = [self._vars("m") for _ in range(high + 1)]
            distinct = " && ".join(
                f"!sameTerm({a}, {b})" for a, b in itertools.combinations(names, 2)
            )
            pattern = " . ".join(f"{var} {sp} {n}" for n in names)
            text = f"NOT EXISTS {{ {pattern} . {f'FILTER ({distinct})' if distinct else ''} }}"
            parts.append(_const(text))
        for param in g.objects(shape, SH.hasValue):
            parts.append(_const(f"EXISTS {{ {var} {sp} {_term(param, shape)} }}"))
        if not parts:
            return _const("true")
        joined = _join(parts, " && ")
        return lambda k: f"({joined(k)})"

    # -- queries
    def _per_value_query(
        self,
        origin: _Origin,
        focus: Render,
        values: Render,
        checks: list[tuple[URIRef, Render]],
    ) -> None:
        flags = [f"?_kg_f{i}" for i in range(len(checks))]
        binds = _join(
            [
                lambda k, c=c, f=f: (
                    c.optional(k, f)
                    if isinstance(c, _ClassCheck)
                    else f"BIND (COALESCE({c(k)}, false) AS {f})"
                )
                for (_component, c), f in zip(checks, flags, strict=True)
            ],
            " ",
        )
        failed = " || ".join(f"!{f}" for f in flags)
        text = lambda k: (  # noqa: E731
            f"SELECT DISTINCT ?this ?value {' '.join(flags)} WHERE {{ {focus(k)} {values(k)} "
            f"{binds(k)} FILTER ({failed}) }}"
        )
        components = [component for component, _c in checks]

        def to_results(_variables: list[str], rows: list[tuple]) -> Iterator[ValidationResult]:
            for this, value, *ok in rows:
                for component, passed in zip(components, ok, strict=True):
                    if not (isinstance(passed, Literal) and passed.toPython() is True):
                        yield _result(origin, this, value, component)

        self._add(_Query(origin, text, to_results, f"{_name(origin.shape)} (values)"), True)

    def _count_query(
        self,
        origin: _Origin,
        focus: Render,
        sp: str,
        cond: Render,
        bound: int,
        side: str,
        component: URIRef,
        var: str = "?_kg_v",
    ) -> None:
        """Focus nodes with fewer than ``bound`` (side low) or more (side high) distinct
        values along ``sp`` that satisfy ``cond`` (an expression on ``var``)."""
        test = lambda k: (  # noqa: E731
            "" if cond(k) == "true" else f"FILTER (COALESCE({cond(k)}, false))"
        )
        nested = self._count_text(focus, sp, test, bound, side, var)

        def text(k: _Classes) -> str:
            if not k.scan or (side == "low" and bound != 1):
                return nested(k)
            # Scans: the values are read once, grouped, and joined with the focus nodes.
            values = f"?this {sp} {var} . {test(k)}"
            if side == "low":  # bound 1
                return (
                    f"SELECT DISTINCT ?this WHERE {{ {focus(k)} MINUS {{ SELECT ?this WHERE "
                    f"{{ {values} }} }} }}"
                )
            having = (
                "" if bound == 0 else f"GROUP BY ?this HAVING (COUNT(DISTINCT {var}) > {bound})"
            )
            return (
                f"SELECT DISTINCT ?this WHERE {{ {focus(k)} {{ SELECT ?this WHERE {{ {values} }} "
                f"{having} }} }}"
            )

        self._focus_query(origin, component, None, text, values=side == "high")

    def _count_text(
        self, focus: Render, sp: str, test: Render, bound: int, side: str, var: str
    ) -> Render:
        """The count query looking up values for each focus node."""
        if side == "low" and bound == 1:
            body = lambda k: f"{focus(k)} FILTER NOT EXISTS {{ ?this {sp} {var} . {test(k)} }}"  # noqa: E731
            text = lambda k: f"SELECT DISTINCT ?this WHERE {{ {body(k)} }}"  # noqa: E731
        elif side == "high" and bound == 0:
            body = lambda k: f"{focus(k)} FILTER EXISTS {{ ?this {sp} {var} . {test(k)} }}"  # noqa: E731
            text = lambda k: f"SELECT DISTINCT ?this WHERE {{ {body(k)} }}"  # noqa: E731
        elif side == "high" and bound == 1:
            other = var + "_2"

            def text(k: _Classes) -> str:
                test2 = re.sub(re.escape(var) + r"\b", other, test(k))
                return (
                    f"SELECT DISTINCT ?this WHERE {{ {focus(k)} ?this {sp} {var} . {test(k)} "
                    f"?this {sp} {other} . {test2} FILTER (!sameTerm({var}, {other})) }}"
                )
        else:
            having = f"COUNT(DISTINCT {var}) {'<' if side == 'low' else '>'} {bound}"
            optional = "OPTIONAL" if side == "low" else ""

            def text(k: _Classes) -> str:
                return (
                    f"SELECT ?this WHERE {{ {focus(k)} {optional} {{ ?this {sp} {var} . "
                    f"{test(k)} }} }} GROUP BY ?this HAVING ({having})"
                )

        return text

    def _add(self, query: _Query, values: bool, *extra: _Need) -> None:
        """Add a query, with what the data needs for it to find anything."""
        needs = (self._needs_values if values else frozenset()) | frozenset(extra)
        self.queries.append(
            _Query(
                query.origin,
                query.text,
                query.to_results,
                query.label,
                focus=self._needs_focus,
                values=needs,
            )
        )

    def _focus_query(
        self,
        origin: _Origin,
        component: URIRef,
        body: Render | None,
        text: Render | None = None,
        *,
        values: bool = False,
    ) -> None:
        """A query whose rows are focus nodes that fail ``component`` (no value)."""
        if text is None:
            assert body is not None
            text = lambda k: f"SELECT DISTINCT ?this WHERE {{ {body(k)} }}"  # noqa: E731

        def to_results(_variables: list[str], rows: list[tuple]) -> Iterator[ValidationResult]:
            for row in rows:
                yield _result(origin, row[0], None, component)

        label = f"{_name(origin.shape)} ({_name(component)})"
        self._add(_Query(origin, text, to_results, label), values)

    def _pair_query(
        self, origin: _Origin, focus: Render, sp: str, other: URIRef, op: str, component: URIRef
    ) -> None:
        """sh:lessThan / sh:lessThanOrEquals, compared the way pyshacl compares."""
        a, b = "?value", "?_kg_other"
        sa, sb = _is_string_or_iri(a), _is_string_or_iri(b)
        ok = (
            f"IF({sa} || {sb}, {sa} && {sb} && STR({a}) {op} STR({b}), "
            f"COALESCE({a} {op} {b}, false))"
        )
        text = lambda k: (  # noqa: E731
            f"SELECT DISTINCT ?this ?value WHERE {{ {focus(k)} ?this {sp} ?value . "
            f"?this <{other}> {b} . FILTER (!COALESCE({ok}, false)) }}"
        )

        def to_results(_variables: list[str], rows: list[tuple]) -> Iterator[ValidationResult]:
            for this, value in rows:
                yield _result(origin, this, value, component)

        label = f"{_name(origin.shape)} ({_name(component)})"
        self._add(_Query(origin, text, to_results, label), True, ("predicate", str(other)))

    def _sparql_query(
        self, shape: Node, constraint: Node, focus: Render, path: Node | None, origin: _Origin
    ) -> None:
        """A SHACL-SPARQL constraint, with ``$this`` bound by a join with the focus nodes."""
        g = self.graph
        if _truthy(g, constraint, SH.deactivated):
            return
        selects = list(g.objects(constraint, SH.select))
        if len(selects) != 1:
            raise UnsupportedShapeError(shape, "a SPARQL constraint without exactly one sh:select")
        text = str(selects[0])
        # ``$this rdf:type/rdfs:subClassOf* ?value`` first (the disjointness checks): the
        # superclasses of each type come from the class hierarchy read once, instead of a
        # path walked for every focus node (five times faster on disk).
        typing = (
            path is not None and _is_type_closure(g, path) and _TYPE_TRIPLE.search(text) is not None
        )
        if path is not None:
            text = text.replace("$PATH", _path_sparql(g, path, shape))
        prologue, projection, body = _split_select(text, shape)
        if typing:
            body, found = _TYPE_BODY.subn(" {TYPES} ", body, count=1)
            typing = found == 1
        prefixes = _prefixes(g, constraint, shape)
        variables = _projected(projection, body)
        if "this" not in variables:
            variables.insert(0, "this")
        select = " ".join(f"?{v}" for v in variables)
        query = f"{prefixes}{prologue} SELECT DISTINCT {select} WHERE {{ {{FOCUS}} {body} }}"
        constraint_messages = tuple(sorted((m for m in g.objects(constraint, SH.message)), key=str))
        is_property = path is not None

        def text_of(k: _Classes) -> str:
            # The constraint's own patterns are looked up for each focus node.
            k = k.looking_up()
            text = query.replace("{FOCUS}", focus(k), 1)
            if typing:
                types = (
                    f"?this {_TYPE} ?_kg_x . OPTIONAL {{ VALUES (?_kg_x ?_kg_sup) "
                    f"{{ {k.superclass_pairs()} }} }} BIND (COALESCE(?_kg_sup, ?_kg_x) AS ?value)"
                )
                text = text.replace("{TYPES}", types, 1)
            return text

        def to_results(names: list[str], rows: list[tuple]) -> Iterator[ValidationResult]:
            for row in rows:
                bound = {n: v for n, v in zip(names, row, strict=True) if v is not None}
                this = bound.pop("this")
                p = bound.pop("path", None)
                value = bound.pop("value", None)
                if value is None and not is_property:
                    value = this
                values = dict(bound)
                values["this"] = this
                if p is not None:
                    values["path"] = p
                if value is not None:
                    values["value"] = value
                messages = constraint_messages or origin.messages
                message = _format(str(messages[0]), values) if messages else ""
                result_path = origin.path if p is None else _render_path(Graph(), p)
                yield ValidationResult(
                    focus=this,
                    path=result_path,
                    value=value,
                    component=_SPARQL_COMPONENT,
                    shape=shape,
                    severity=origin.severity,
                    message=message,
                )

        label = f"{_name(shape)} (SPARQL constraint {_name(constraint)})"
        self._add(_Query(origin, text_of, to_results, label), False)

    # -- running
    def run(self, store, graphs: Sequence[str], *, scan: bool = True) -> ValidationReport:
        """Run every query over the union of ``graphs`` in ``store``.

        ``scan`` writes joins as hash joins of index scans instead of index lookups: the
        plan for a store on disk, where a lookup is a seek (5 times faster at 1M triples).
        The default, since a store opened read-only does not say where it lives and big
        data lives on disk; ``scan=False`` is about twice as fast on an in-memory store.
        """
        graphs = list(graphs)
        if not graphs:
            return ValidationReport(())
        _vars, pairs = store.query(
            f"SELECT DISTINCT ?s ?o WHERE {{ ?s <{RDFS.subClassOf}> ?o }}", default_graphs=graphs
        )
        classes = _Classes(pairs, scan=scan)
        present = _Presence(store, graphs, classes)
        results: dict[tuple[str, ...], ValidationResult] = {}
        for q in self.queries:
            if not (any(present(n) for n in q.focus) and all(present(n) for n in q.values)):
                continue  # the data has no focus node for it, or no value on its path
            text = q.text(classes)
            try:
                variables, rows = store.query(text, default_graphs=graphs)
            except QueryError as exc:
                raise ShapesError(f"validating {q.label} failed: {exc}\n{text}") from exc
            for r in q.to_results(variables, rows):
                results[r.key] = r
        return ValidationReport(tuple(results.values()))


class _ClassCheck:
    """``sh:class`` on the value nodes of a shape's own query.

    Looked up for each value (an EXISTS), or, with scans, read once for all values
    (an OPTIONAL subquery that Oxigraph hash-joins).
    """

    def __init__(self, cls: URIRef, var: str) -> None:
        self.cls = cls
        self.var = var

    def __call__(self, k: _Classes) -> str:
        t = self.var
        return (
            f"EXISTS {{ ?value {_TYPE} {t} . FILTER ({t} IN ({', '.join(k.closure(self.cls))})) }}"
        )

    def optional(self, k: _Classes, flag: str) -> str:
        if not k.scan:
            return f"BIND (COALESCE({self(k)}, false) AS {flag})"
        ok = flag + "_ok"
        return (
            f"OPTIONAL {{ SELECT DISTINCT ?value (true AS {ok}) WHERE {{ VALUES {self.var} "
            f"{{ {' '.join(k.closure(self.cls))} }} ?value {_TYPE} {self.var} }} }} "
            f"BIND (BOUND({ok}) AS {flag})"
        )


class _Presence:
    """Whether the data has instances of a class, or triples with a predicate (cached)."""

    def __init__(self, store, graphs: list[str], classes: _Classes) -> None:
        self.store = store
        self.graphs = graphs
        self.classes = classes
        self._known: dict[_Need, bool] = {_ALWAYS: True}

    def __call__(self, need: _Need) -> bool:
        if need not in self._known:
            kind, iri = need
            if kind == "class":
                values = " ".join(self.classes.closure(URIRef(iri)))
                ask = f"ASK {{ VALUES ?c {{ {values} }} ?s {_TYPE} ?c }}"
            else:
                ask = f"ASK {{ ?s <{iri}> ?o }}"
            self._known[need] = bool(self.store.query(ask, default_graphs=self.graphs))
        return self._known[need]


#: ``$this $PATH ?value .`` at the start of a constraint's WHERE clause.
_TYPE_TRIPLE = re.compile(r"\{\s*[$?]this\s+\$PATH\s+\?value\s*\.")
_TYPE_BODY = re.compile(r"^\s*[$?]this\s+\(<[^>]+>/\(<[^>]+>\)\*\)\s+\?value\s*\.")


def _is_type_closure(g: Graph, path: Node) -> bool:
    """Whether ``path`` is ``( rdf:type [ sh:zeroOrMorePath rdfs:subClassOf ] )``."""
    if (path, RDF.first, None) not in g:
        return False
    members = list(Collection(g, path))
    return (
        len(members) == 2
        and members[0] == RDF.type
        and g.value(members[1], SH.zeroOrMorePath) == RDFS.subClassOf
        and len(set(g.predicate_objects(members[1]))) == 1
    )


def _is_string(var: str) -> str:
    """The value in ``var`` is a string literal (plain, xsd:string or language-tagged)."""
    return (
        f"(isLiteral({var}) && (DATATYPE({var}) = <{XSD.string}> || "
        f"DATATYPE({var}) = <{RDF.langString}>))"
    )


def _is_string_or_iri(var: str) -> str:
    return f"(isIRI({var}) || {_is_string(var)})"


def _result(
    origin: _Origin, focus: Node, value: Node | None, component: URIRef
) -> ValidationResult:
    return ValidationResult(
        focus=focus,
        path=origin.path,
        value=value,
        component=component,
        shape=origin.shape,
        severity=origin.severity,
        message=origin.message,
    )


def _format(message: str, values: dict[str, Node]) -> str:
    """Substitute ``{?var}`` and ``{$var}`` as pyshacl does (``str`` of the bound term)."""
    for var, val in values.items():
        message = re.sub(f"{{[?$]{var}}}", str(val), message)
    return message


# ---------------------------------------------------------------- SPARQL text
_SELECT = re.compile(r"\bSELECT\b", re.IGNORECASE)
_WHERE = re.compile(r"\bWHERE\s*$", re.IGNORECASE)
_VAR = re.compile(r"[?$]([A-Za-z0-9_\u00B7\u00C0-\uFFFF]+)")


_IRI = re.compile(r'<[^<>"{}|^`\\\x00-\x20]*>')


def _skip(text: str, i: int) -> int:
    """If an IRI, a string literal or a comment starts at ``i``, the index after it."""
    if text[i] == "<":
        m = _IRI.match(text, i)
        return m.end() if m else i
    if text[i] == "#":
        end = text.find("\n", i)
        return len(text) if end < 0 else end + 1
    for quote in ('"""', "'''", '"', "'"):
        if text.startswith(quote, i):
            j = i + len(quote)
            while j < len(text):
                if text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    return j + len(quote)
                j += 1
            return len(text)
    return i


def _split_select(text: str, shape: Node) -> tuple[str, str, str]:
    """(prologue, projection, WHERE body without braces) of a plain SELECT query."""
    i = 0
    select_at = -1
    while i < len(text):
        j = _skip(text, i)
        if j != i:
            i = j
            continue
        if _SELECT.match(text, i):
            select_at = i
            break
        i += 1
    if select_at < 0:
        raise UnsupportedShapeError(shape, "a SPARQL constraint that is not a SELECT query")
    open_at = -1
    i = select_at
    while i < len(text):
        j = _skip(text, i)
        if j != i:
            i = j
            continue
        if text[i] == "{":
            open_at = i
            break
        i += 1
    if open_at < 0:
        raise UnsupportedShapeError(shape, "a SPARQL constraint without a WHERE clause")
    depth = 0
    close_at = -1
    i = open_at
    while i < len(text):
        j = _skip(text, i)
        if j != i:
            i = j
            continue
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                close_at = i
                break
        i += 1
    if close_at < 0:
        raise UnsupportedShapeError(shape, "a SPARQL constraint with unbalanced braces")
    head = text[select_at + len("SELECT") : open_at]
    head = _WHERE.sub("", head.rstrip()).strip()
    tail = text[close_at + 1 :].strip()
    if tail:
        raise UnsupportedShapeError(
            shape, f"a SPARQL constraint with solution modifiers ({tail.split()[0]}...)"
        )
    if "(" in head:
        raise UnsupportedShapeError(shape, "a SPARQL constraint that projects expressions")
    words = head.split()
    if words and words[0].upper() in ("DISTINCT", "REDUCED"):
        words = words[1:]
    body = text[open_at + 1 : close_at]
    if not re.search(r"[?$]this\b", body):
        raise UnsupportedShapeError(shape, "a SPARQL constraint that does not use $this")
    if re.search(r"\b(MINUS|VALUES|SERVICE)\b|\bSELECT\b", body, re.IGNORECASE):
        raise UnsupportedShapeError(
            shape, "a SPARQL constraint with MINUS, VALUES, SERVICE or a subquery"
        )
    return text[:select_at], " ".join(words), body


def _projected(projection: str, body: str) -> list[str]:
    names = _VAR.findall(body if projection.strip() == "*" else projection)
    return list(dict.fromkeys(n for n in names if not n.startswith("_kg_")))


def _prefixes(g: Graph, constraint: Node, shape: Node) -> str:
    lines = []
    for source in g.objects(constraint, SH.prefixes):
        for decl in g.objects(source, SH.declare):
            prefix = g.value(decl, SH.prefix)
            namespace = g.value(decl, SH.namespace)
            if prefix is None or namespace is None:
                raise UnsupportedShapeError(shape, "an sh:declare without prefix or namespace")
            lines.append(f"PREFIX {prefix}: <{namespace}>")
    return "\n".join(dict.fromkeys(lines)) + "\n"


# ---------------------------------------------------------------- entry points
_COMPILED: weakref.WeakKeyDictionary[Shapes, CompiledShapes] = weakref.WeakKeyDictionary()


def compile_shapes(shapes: Shapes) -> CompiledShapes:
    """The SPARQL compilation of ``shapes`` (cached for the life of the Shapes object)."""
    compiled = _COMPILED.get(shapes)
    if compiled is None:
        compiled = CompiledShapes(shapes)
        _COMPILED[shapes] = compiled
    return compiled


def validate_in_store(
    store, shapes: Shapes, graphs: Sequence[str] | None = None, *, scan: bool = True
) -> ValidationReport:
    """Validate the union of ``graphs`` (default: the validated graphs) inside ``store``.

    ``scan``: see :meth:`CompiledShapes.run` (the default suits the store).
    """
    compiled = compile_shapes(shapes)
    return compiled.run(store, validated_graphs(store) if graphs is None else graphs, scan=scan)
