"""The answer to a successful write: what changed, and the warnings that did not block it."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from kg.endpoint import WriteResult

__all__ = ["CHANGE_HEADER", "warnings_of", "write_summary"]


#: The header that names a write's record in the change log (``/api/v1/changes/{id}``).
CHANGE_HEADER = "X-GeoKG-Change"


def warnings_of(result: WriteResult) -> list[dict[str, str | None]]:
    return [
        {"focusNode": str(r.focus), "path": r.path, "message": r.message}
        for r in result.report.warnings
    ]


def write_summary(result: WriteResult, status: int = 200) -> Response:
    warnings = warnings_of(result)
    headers = {"X-GeoKG-Warnings": str(len(warnings))}
    if result.change is not None:
        headers[CHANGE_HEADER] = result.change
    if status == 204:
        return Response(status_code=204, headers=headers)
    body = {"added": result.added, "removed": result.removed, "warnings": warnings}
    if result.change is not None:
        body["change"] = result.change
    return JSONResponse(body, status, headers=headers)
