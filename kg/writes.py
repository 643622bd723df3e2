"""The validation gate that every write to the store goes through.

A write is a :class:`~kg.validation.Change` (quads to remove, quads to add). It is
validated against the shapes first, incrementally; if it violates a shape it is
rejected whole with the report (:class:`~kg.errors.ValidationError`) and nothing is
written. Otherwise the change and the refresh of the derived graph run as one SPARQL
Update, which the store applies in one transaction. Warnings are returned, not raised.
The derived graph is refreshed for the written subjects only
(:func:`kg.derivation.subjects_update`), so a small write costs the same whatever the
size of the store; a write of more than :data:`kg.derivation.INCREMENTAL_LIMIT`
subjects recomputes it whole.

Writes to the graphs the server computes (derived, inferred, load, changes) are refused.
A write may carry the record of who made it (:class:`kg.changes.ChangeRecord`): the
record goes to the changes graph in the same request, so in the same transaction.
"""

from __future__ import annotations

import logging
import time

from rdflib import BNode

from kg import reasoning
from kg._oxigraph import OxigraphStore, _to_ox
from kg.changes import ChangeRecord
from kg.derivation import INCREMENTAL_LIMIT, derivation_update, derived_from, subjects_update
from kg.errors import ValidationError
from kg.namespaces import NON_ASSERTED_GRAPHS
from kg.store import GraphStore
from kg.validation import Change, Shapes, ValidationReport, validate_change, validated_graphs

__all__ = ["apply_change", "last_inference", "last_stages"]

log = logging.getLogger("geokg.writes")

#: Statistics of the inference refresh that followed the last write in this process.
last_inference: list[reasoning.InferenceStats] = []
#: Seconds spent in each stage of the last write in this process (for the benchmarks).
last_stages: dict[str, float] = {}


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
    clock = _Stages()
    computed = sorted({str(q[3]) for q in change.quads} & NON_ASSERTED_GRAPHS)
    if computed:
        raise ValueError(f"computed graphs cannot be written: {', '.join(computed)}")
    report = validate_change(store, change, shapes)
    clock.lap("validate")
    if not report.conforms:
        raise ValidationError(report)
    asserted = set(validated_graphs(store))
    graphs = asserted | {str(q[3]) for q in change.add}
    # Only what the rules derive from the written subjects can change (each rule reads
    # one node's triples): that is read now and replaced in the write's request.
    subjects = {q[0] for q in change.quads}
    derived = (
        derived_from(store, subjects, asserted) if len(subjects) <= INCREMENTAL_LIMIT else None
    )
    if derived is None or any(isinstance(t, BNode) for triple in derived for t in triple):
        # Many subjects, or blank nodes (no DELETE DATA can name them): recompute it all.
        then = derivation_update(graphs, with_prologue=False)
    else:
        then = subjects_update(graphs, subjects, derived)
    clock.lap("derivation")
    if record is not None:
        then = " ;\n".join(x for x in (then, record.update(change)) if x)
    if not isinstance(store, OxigraphStore):
        store.apply_change(change.add, change.remove, then=then)
        clock.lap("update")
        return report
    raw = store.raw
    add = [_quad(q) for q in change.add]
    remove = [_quad(q) for q in change.remove]
    # A remote store fetches these lookups in batches (one request for many nodes); the
    # cache it keeps meanwhile is dropped by the update below, so nothing read here is
    # reused after the write. The embedded store reads them directly.
    with store.batched_reads():
        candidates = reasoning.write_candidates(raw, add, remove)
        before = reasoning.present(raw, candidates)
    clock.lap("candidates")
    then = " ;\n".join(x for x in (then, reasoning.pending_mark()) if x)
    store.apply_change(change.add, change.remove, then=then)
    clock.lap("update")
    start = time.perf_counter()
    try:
        with store.batched_reads():  # dropped again by the refresh's own update
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
    clock.lap("refresh")
    store.flush()
    clock.lap("flush")
    if stats.clashes:
        log.warning("the write typed nodes with disjoint classes: %s", stats.clashes[:5])
    last_inference[:] = [stats]
    return report


class _Stages:
    """Times the stages of one write into :data:`last_stages`."""

    def __init__(self) -> None:
        last_stages.clear()
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        last_stages[stage] = last_stages.get(stage, 0.0) + now - self._last
        self._last = now


def _quad(q: tuple) -> object:
    import pyoxigraph as ox

    s, p, o, g = (_to_ox(t) for t in q)
    return ox.Quad(s, p, o, g)
