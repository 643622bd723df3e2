"""The answer to a successful write: what changed, and the warnings that did not block it."""

from __future__ import annotations

from fastapi import Response
from fastapi.responses import JSONResponse

from kg.endpoint import WriteResult

__all__ = ["write_summary"]


def write_summary(result: WriteResult, status: int = 200) -> Response:
    warnings = [
        {"focusNode": str(r.focus), "path": r.path, "message": r.message}
        for r in result.report.warnings
    ]
    if status == 204:
        return Response(status_code=204, headers={"X-GeoKG-Warnings": str(len(warnings))})
    return JSONResponse(
        {"added": result.added, "removed": result.removed, "warnings": warnings},
        status,
        headers={"X-GeoKG-Warnings": str(len(warnings))},
    )
