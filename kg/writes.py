"""The validation gate that every write to the store goes through.

A write is a :class:`~kg.validation.Change` (quads to remove, quads to add). It is
validated against the shapes first, incrementally; if it violates a shape it is
rejected whole with the report (:class:`~kg.errors.ValidationError`) and nothing is
written. Otherwise the change and the refresh of the derived graph run as one SPARQL
Update, which the store applies in one transaction. Warnings are returned, not raised.

Writes to the graphs the server computes (derived, inferred, load, changes) are refused.
A write may carry the record of who made it (:class:`kg.changes.ChangeRecord`): the
record goes to the changes graph in the same request, so in the same transaction.
"""

from __future__ import annotations

import logging
import time

from kg import reasoning
from kg._oxigraph import OxigraphStore, _to_ox
from kg.changes import ChangeRecord
from kg.derivation import derivation_update
from kg.errors import ValidationError
from kg.namespaces import NON_ASSERTED_GRAPHS
from kg.store import GraphStore
from kg.validation import Change, Shapes, ValidationReport, validate_change, validated_graphs

__all__ = ["apply_change", "last_inference"]

log = logging.getLogger("geokg.writes")

#: Statistics of the inference refresh that followed the last write in this process.
last_inference: list[reasoning.InferenceStats] = []


def apply_change(
    store: GraphStore, change: Change, shapes: Shapes, record: ChangeRecord | None = None
) -> ValidationReport:
    """Validate ``change`` and, if it conforms, apply it atomically; return the report.

    With a ``record``, the change's record is written to the changes graph in the same
    transaction as the change (a rejected change records nothing).

    Raises :class:`ValidationError` (nothing written) if the change violates a shape, and
    :class:`ValueError` if it writes to a computed graph. After the write, the inferred
    graph is brought up to date incrementally (:func:`kg.reasoning.refresh`); the write
    marks it pending in the same transaction, so a crash before the refresh is healed
    when the store is next opened by a server or ``kg reason``.
    """
    computed = sorted({str(q[3]) for q in change.quads} & NON_ASSERTED_GRAPHS)
    if computed:
        raise ValueError(f"computed graphs cannot be written: {', '.join(computed)}")
    report = validate_change(store, change, shapes)
    if not report.conforms:
        raise ValidationError(report)
    graphs = set(validated_graphs(store)) | {str(q[3]) for q in change.add}
    then = derivation_update(graphs, with_prologue=False)
    if record is not None:
        then += " ;\n" + record.update(change)
    if not isinstance(store, OxigraphStore):
        store.apply_change(change.add, change.remove, then=then)
        return report
    raw = store.raw
    add = [_quad(q) for q in change.add]
    remove = [_quad(q) for q in change.remove]
    candidates = reasoning.write_candidates(raw, add, remove)
    before = reasoning.present(raw, candidates)
    store.apply_change(change.add, change.remove, then=then + " ;\n" + reasoning.pending_mark())
    start = time.perf_counter()
    try:
        stats = reasoning.refresh(raw, candidates, before)
    except (OSError, ValueError, RuntimeError, SyntaxError):
        # The write is committed: it must not be reported as failed. Recompute instead;
        # if even that fails, the pending mark stays and the next start heals it.
        log.exception("the incremental refresh failed; recomputing the inferred graph")
        try:
            stats = reasoning.materialise(raw)
        except (OSError, ValueError, RuntimeError, SyntaxError):
            log.exception("the inferred graph stays stale until the store is reopened")
            store.flush()
            return report
    stats.seconds = time.perf_counter() - start
    store.flush()
    if stats.clashes:
        log.warning("the write typed nodes with disjoint classes: %s", stats.clashes[:5])
    last_inference[:] = [stats]
    return report


def _quad(q: tuple) -> object:
    import pyoxigraph as ox

    s, p, o, g = (_to_ox(t) for t in q)
    return ox.Quad(s, p, o, g)
