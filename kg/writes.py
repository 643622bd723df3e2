"""The validation gate that every write to the store goes through.

A write is a :class:`~kg.validation.Change` (quads to remove, quads to add). It is
validated against the shapes first, incrementally; if it violates a shape it is
rejected whole with the report (:class:`~kg.errors.ValidationError`) and nothing is
written. Otherwise the change and the refresh of the derived graph run as one SPARQL
Update, which the store applies in one transaction. Warnings are returned, not raised.

Writes to the graphs the server computes (derived, inferred, load) are refused.
"""

from __future__ import annotations

from kg.derivation import derivation_update
from kg.errors import ValidationError
from kg.namespaces import NON_ASSERTED_GRAPHS
from kg.store import GraphStore
from kg.validation import Change, Shapes, ValidationReport, validate_change, validated_graphs

__all__ = ["apply_change"]


def apply_change(store: GraphStore, change: Change, shapes: Shapes) -> ValidationReport:
    """Validate ``change`` and, if it conforms, apply it atomically; return the report.

    Raises :class:`ValidationError` (nothing written) if the change violates a shape, and
    :class:`ValueError` if it writes to a computed graph.
    """
    computed = sorted({str(q[3]) for q in change.quads} & NON_ASSERTED_GRAPHS)
    if computed:
        raise ValueError(f"computed graphs cannot be written: {', '.join(computed)}")
    report = validate_change(store, change, shapes)
    if not report.conforms:
        raise ValidationError(report)
    graphs = set(validated_graphs(store)) | {str(q[3]) for q in change.add}
    store.apply_change(
        change.add, change.remove, then=derivation_update(graphs, with_prologue=False)
    )
    return report
