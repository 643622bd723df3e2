"""Request dependencies: the endpoint and settings of the running app, and write access."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from api.problems import Problem
from api.settings import Settings
from kg.endpoint import Endpoint

__all__ = ["EndpointDep", "SettingsDep", "require_writer"]


# Async on purpose: FastAPI runs a plain ``def`` dependency in a thread pool, a thread
# hop per request that cost about 0.3 ms each on the query path.
async def get_endpoint(request: Request) -> Endpoint:
    return request.app.state.endpoint


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


EndpointDep = Annotated[Endpoint, Depends(get_endpoint)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def require_writer(request: Request, settings: Settings) -> str:
    """The name of the writer whose bearer token the request carries, or a 401/403 problem.

    Writes need a configured token (``write_token``, whose writer is ``editor``, or one
    of ``write_tokens``); without one there are none. The token is compared with every
    writer's in constant time. Only the Authorization header counts (no cookies, no
    form fields), so a form posted from another site can never write.
    """
    writers = settings.writers()
    if not writers:
        raise Problem(
            403,
            "writes-disabled",
            "Writes are disabled",
            "this server is read-only; an operator enables writes by setting a write token",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    found = None
    for name, expected in writers:  # no early exit: the time does not tell which matched
        if hmac.compare_digest(given, expected) and found is None:
            found = name
    if scheme.lower() != "bearer" or found is None:
        raise Problem(
            401,
            "unauthorized",
            "A valid bearer token is required",
            "send Authorization: Bearer <token> to write",
            headers={"WWW-Authenticate": 'Bearer realm="geokg"'},
        )
    return found
