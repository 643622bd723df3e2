"""Shortcut triples derived from statement nodes.

Curated facts are statement nodes (an office holding, a fact statement, an
acquisition...). For the simple question, direct triples are derived from them into
their own named graph, which the load graph marks as derived: for example
``?person gp:holdsOffice ?office`` from every office holding, or ``?s ?p ?o`` from a
fact statement. Date bounds (earliest and latest day a date of some precision may
denote) are derived too, so that facts of mixed precision can be ordered and filtered.
"""

from __future__ import annotations

from collections.abc import Iterable

from kg.namespaces import DERIVED_GRAPH, sparql_prologue

__all__ = ["DERIVATION_RULES", "derivation_query", "derivation_update"]

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
