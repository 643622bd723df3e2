"""The errors this package raises.

Every error is a :class:`KGError`; library exceptions are caught where the library is
called and re-raised as one of these, ``from`` the original::

    KGError
    ├── ManifestError        the data manifest is missing, malformed, or names a bad file
    ├── RDFSyntaxError       an RDF file does not parse (file, line, column)
    ├── QueryError           a SPARQL query or update is malformed or fails
    ├── StoreError           the store cannot be opened, read or written
    ├── ShapesError          the SHACL shapes are missing, malformed or cannot be run
    ├── ValidationError      a change violates the shapes (carries the report); nothing was written
    └── WriteRefused         a write to something that cannot be written (a computed graph)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kg.validation import ValidationReport

__all__ = [
    "KGError",
    "ManifestError",
    "QueryError",
    "RDFSyntaxError",
    "ShapesError",
    "StoreError",
    "ValidationError",
    "WriteRefused",
]


class KGError(Exception):
    """Base class of every error raised by the knowledge graph package."""


class ManifestError(KGError):
    """The data manifest is missing or malformed, or lists a missing, empty or unlisted file."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class RDFSyntaxError(KGError):
    """An RDF file could not be parsed; carries the file and the position of the error."""

    def __init__(
        self, message: str, *, path: Path, line: int | None = None, column: int | None = None
    ) -> None:
        where = f"{path}" + (f":{line}" if line else "") + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.column = column
        self.detail = message


class QueryError(KGError):
    """A SPARQL query or update is malformed or could not be evaluated."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.line = line
        self.column = column


class StoreError(KGError):
    """The store could not be opened, read or written."""


class ShapesError(KGError):
    """The SHACL shapes are missing or malformed, or the validator could not run them."""


class ValidationError(KGError):
    """A change violates the shapes; it was rejected whole and the store is unchanged."""

    def __init__(self, report: ValidationReport) -> None:
        n = len(report.violations)
        super().__init__(f"{n} SHACL violation{'s' if n != 1 else ''}; nothing was written")
        self.report = report


class WriteRefused(KGError):
    """A write to something users cannot write (the computed graphs); nothing was written."""
