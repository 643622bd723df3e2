"""Shortcut triples derived from statement nodes.

Curated facts are statement nodes (an office holding, a fact statement, an
acquisition...). For the simple question, direct triples are derived from them into
their own named graph, which the load graph marks as derived: for example
``?person gp:holdsOffice ?office`` from every office holding, or ``?s ?p ?o`` from a
fact statement. Date bounds (earliest and latest day a date of some precision may
denote) are derived too, so that facts of mixed precision can be ordered and filtered.

Every rule reads the triples of one node only, its *focus* (the statement node, or the
dated node): the first variable of its pattern (a test holds the rules to that). So a
write changes only what the rules derive from the subjects it writes, and the derived
graph is kept up to date after a write without recomputing it
(:func:`subjects_update`): the triples the written subjects gave before the write are
deleted, and what they give after it is inserted, as are those of the deleted triples
that another focus still gives (a person may hold an office through two holdings). A
derived triple's own subject is not the focus (``?person gp:holdsOffice ?office`` comes
from the holding), hence the old triples are read by focus before the write
(:func:`derived_from`). :func:`derivation_update` recomputes the whole graph (a load,
or a write too large to be worth the restriction).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from rdflib.term import Node

from kg._oxigraph import _nt
from kg.namespaces import DERIVED_GRAPH, PREFIXES, sparql_prologue

if TYPE_CHECKING:
    from kg.store import GraphStore

__all__ = [
    "DERIVATION_RULES",
    "INCREMENTAL_LIMIT",
    "derivation_query",
    "derivation_update",
    "derived_from",
    "rule_focus",
    "subjects_update",
]

#: Each rule is the body of a CONSTRUCT: (name, template, pattern).
DERIVATION_RULES: tuple[tuple[str, str, str], ...] = (
    (
        "fact-statement",
        "?s ?p ?o",
        "?st a gp:FactStatement ; gp:statementSubject ?s ; gp:statementPredicate ?p ;"
        " gp:statementObject ?o .",
    ),
    (
        "office-holding",
        "?h gp:holdsOffice ?o",
        "?st a gp:OfficeHolding ; gp:holder ?h ; gp:office ?o .",
    ),
    (
        "membership",
        "?m gp:memberOf ?o",
        "?st a gp:Membership ; gp:member ?m ; gp:organisation ?o .",
    ),
    (
        "acquisition",
        "?b gp:acquired ?s",
        "?st a gp:Acquisition ; gp:buyer ?b ; gp:system ?s ; gp:acquisitionStatus ?status ."
        " FILTER(?status IN (gp:AcquisitionContracted, gp:AcquisitionDelivered))",
    ),
    (
        "system-operation",
        "?a gp:operates ?s",
        "?st a gp:SystemOperation ; gp:operator ?a ; gp:system ?s ."
        " FILTER NOT EXISTS { ?st gp:factuality ?f FILTER(?f != gp:Actual) }",
    ),
    (
        "conflict-opposition",
        "?a gp:opposes ?b",
        "?st a gp:ConflictOpposition ; gp:opposingParty ?a , ?b . FILTER(?a != ?b)",
    ),
    (
        "date-bounds",
        "?x gp:earliestDate ?d . ?x gp:latestDate ?last",
        "?x gp:date ?d . OPTIONAL { ?x gp:datePrecision ?p }"
        " BIND(YEAR(?d) AS ?y) BIND(MONTH(?d) AS ?m)"
        " BIND(IF(?m = 2, IF((?y - 4 * FLOOR(?y / 4) = 0 && ?y - 100 * FLOOR(?y / 100) != 0)"
        " || ?y - 400 * FLOOR(?y / 400) = 0, 29, 28), IF(?m IN (4, 6, 9, 11), 30, 31)) AS ?len)"
        ' BIND(STRDT(IF(?p = gp:YearPrecision, CONCAT(STR(?y), "-12-31"),'
        " IF(?p = gp:MonthPrecision, CONCAT(SUBSTR(STR(?d), 1, 8), STR(?len)), STR(?d))),"
        " xsd:date) AS ?last)",
    ),
)


def derivation_query() -> str:
    """One CONSTRUCT query that evaluates every derivation rule over the asserted data."""
    template = " .\n  ".join(t for _, t, _ in DERIVATION_RULES)
    union = "\n  UNION\n  ".join(f"{{ {p} }}" for _, _, p in DERIVATION_RULES)
    return f"{sparql_prologue()}CONSTRUCT {{\n  {template} .\n}} WHERE {{\n  {union}\n}}"


def derivation_update(graphs: Iterable[str], *, with_prologue: bool = True) -> str:
    """A SPARQL Update that recomputes the derived graph from ``graphs``.

    ``USING`` makes the union of the asserted graphs the default graph of the WHERE
    clause, so the update can run in the same request, and the same transaction, as
    the write that made it necessary. Without ``with_prologue`` the caller declares the
    standard prefixes at the start of the request (Oxigraph 0.5 rejects a prologue after
    the first operation, although SPARQL 1.1 allows one before each).
    """
    prologue = sparql_prologue() if with_prologue else ""
    template = " .\n  ".join(t for _, t, _ in DERIVATION_RULES)
    union = "\n  UNION\n  ".join(f"{{ {p} }}" for _, _, p in DERIVATION_RULES)
    using = "".join(f"USING <{g}>\n" for g in sorted(graphs))
    if not using:
        return f"DROP SILENT GRAPH <{DERIVED_GRAPH}>"
    return (
        f"{prologue}DROP SILENT GRAPH <{DERIVED_GRAPH}> ;\n"
        f"INSERT {{ GRAPH <{DERIVED_GRAPH}> {{\n  {template} .\n}} }}\n{using}"
        f"WHERE {{\n  {union}\n}}"
    )


# ---------------------------------------------------------------- after a write
#: Above this many written subjects a write recomputes the whole derived graph: the
#: restricted update grows with the subjects, the full one with the store.
INCREMENTAL_LIMIT = 5000

_VARIABLE = re.compile(r"\?\w+")
Triple = tuple[Node, Node, Node]


def rule_focus(pattern: str) -> str:
    """The focus variable of a rule: the subject of its first triple pattern."""
    match = _VARIABLE.match(pattern)
    if match is None:
        raise ValueError(f"a derivation rule starts with its focus variable: {pattern[:40]}")
    return match.group()


def _bound_by_bind(pattern: str) -> set[str]:
    return set(re.findall(r"\bAS\s+(\?\w+)", pattern))


def _values(variables: list[str], rows: Iterable[tuple[Node, ...]]) -> str:
    lines = sorted({"(" + " ".join(_nt(t) for t in row) + ")" for row in rows})
    return f"VALUES ({' '.join(variables)}) {{ {' '.join(lines)} }}"


def _focus_branches(subjects: Iterable[Node]) -> list[str]:
    """One WHERE branch per rule, restricted to ``subjects`` as its focus."""
    nodes = sorted({_nt(s) for s in subjects})
    if not nodes:
        return []
    values = " ".join(nodes)
    return [f"{{ VALUES {rule_focus(p)} {{ {values} }} {p} }}" for _, _, p in DERIVATION_RULES]


def _template_triples(template: str) -> list[list[str]]:
    return [t.split() for t in template.split(" . ")]


def _triple_branches(triples: Iterable[Triple]) -> list[str]:
    """WHERE branches of the rules restricted to the foci that may derive ``triples``.

    Each template triple of a rule that can give one of ``triples`` binds the variables
    it shares with the triple (a variable a BIND computes is left free: the rule then
    gives all of its triples for that subject, a few more than asked, all of them due).
    """
    triples = set(triples)
    branches = []
    for _name, template, pattern in DERIVATION_RULES:
        computed = _bound_by_bind(pattern)
        for parts in _template_triples(template):
            rows: set[tuple[Node, ...]] = set()
            positions = [i for i, w in enumerate(parts) if w.startswith("?") and w not in computed]
            for t in triples:
                if not all(
                    parts[i].startswith("?") or _expand(parts[i]) == str(t[i]) for i in range(3)
                ):
                    continue
                rows.add(tuple(t[i] for i in positions))
            if rows and positions:
                variables = [parts[i] for i in positions]
                branches.append(f"{{ {_values(variables, rows)} {pattern} }}")
    return branches


def _expand(word: str) -> str:
    """A constant of a template (a prefixed name, an IRI or ``a``) as an IRI string."""
    if word == "a":
        return PREFIXES["rdf"] + "type"
    if word.startswith("<") and word.endswith(">"):
        return word[1:-1]
    prefix, _, local = word.partition(":")
    return PREFIXES[prefix] + local


def _template() -> str:
    return " .\n  ".join(t for _, t, _ in DERIVATION_RULES)


def derived_from(store: GraphStore, subjects: Iterable[Node], graphs: Iterable[str]) -> set[Triple]:
    """The triples the rules derive from ``subjects`` (as foci) over ``graphs``, now.

    Read before a write, this is what the write may take out of the derived graph (see
    :func:`subjects_update`).
    """
    branches = _focus_branches(subjects)
    graphs = sorted(graphs)
    if not branches or not graphs:
        return set()
    union = "\n  UNION\n  ".join(branches)
    query = f"{sparql_prologue()}CONSTRUCT {{\n  {_template()} .\n}} WHERE {{\n  {union}\n}}"
    result = store.query(query, default_graphs=graphs)
    return set(result)  # type: ignore[call-overload]


def subjects_update(graphs: Iterable[str], subjects: Iterable[Node], before: set[Triple]) -> str:
    """A SPARQL Update (no prologue) that brings the derived graph up to date after a write.

    To run in the write's request, after its DELETE DATA and INSERT DATA: ``subjects``
    are the subjects the write changed, ``graphs`` the asserted graphs after it, and
    ``before`` what the rules derived from ``subjects`` before it (:func:`derived_from`).
    The update deletes ``before``, then inserts what the rules derive after the write
    from ``subjects`` and from any focus that derives a triple of ``before``: the derived
    graph is what :func:`derivation_update` would make, at the cost of the write's
    subjects, not of the store. No other write may come between the read of ``before``
    and this update (the server makes its writes one at a time).
    """
    using = "".join(f"USING <{g}>\n" for g in sorted(graphs))
    parts = []
    if before:
        body = "\n".join(sorted(f"{_nt(s)} {_nt(p)} {_nt(o)} ." for s, p, o in before))
        parts.append(f"DELETE DATA {{ GRAPH <{DERIVED_GRAPH}> {{\n{body}\n}} }}")
    branches = _focus_branches(subjects) + _triple_branches(before)
    if branches and using:
        union = "\n  UNION\n  ".join(branches)
        parts.append(
            f"INSERT {{ GRAPH <{DERIVED_GRAPH}> {{\n  {_template()} .\n}} }}\n{using}"
            f"WHERE {{\n  {union}\n}}"
        )
    return " ;\n".join(parts)
