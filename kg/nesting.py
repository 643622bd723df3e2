"""How deep brackets nest, counted in C: for the inputs that engines read by recursion.

The SPARQL engine and the JSON-LD parser recurse once per level of nesting, on a stack
of their own that a deep enough input overflows, killing the process. Their callers
measure the nesting of an input first (:mod:`kg.sparql`, :mod:`kg._oxigraph`), with
regular expressions rather than a loop over characters: inputs may be megabytes long.

>>> deepest_nesting("(()(()))()", 10)
3
"""

from __future__ import annotations

import re

__all__ = ["deepest_nesting"]

_INNERMOST = re.compile(r"\(\)")
_RUNS = re.compile(r"\(+|\)+")
_PASSES = 8


def deepest_nesting(brackets: str, stop_above: int) -> int:
    """The deepest nesting of ``brackets``, a string of ``(`` and ``)`` only.

    Counting stops once it is past ``stop_above`` (the answer is then above it, not
    necessarily the deepest). Past a ``)`` with no ``(`` a parser reads nothing more,
    so nothing after it counts.
    """
    # A few passes take out the innermost pairs, one level each (a list of siblings goes
    # at once); the runs of brackets left are few, and summed.
    levels = 0
    while levels < _PASSES:
        brackets, found = _INNERMOST.subn("", brackets)
        if not found:
            break
        levels += 1
    depth = nesting = 0
    for run in _RUNS.finditer(brackets):
        depth += len(run.group()) if run.group()[0] == "(" else -len(run.group())
        nesting = max(nesting, depth)
        if depth < 0 or levels + nesting > stop_above:
            break
    return levels + nesting
