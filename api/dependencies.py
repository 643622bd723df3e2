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


def require_writer(request: Request, settings: Settings) -> None:
    """Writes need the configured bearer token; without a configured token there are none.

    Only the Authorization header counts (no cookies, no form fields), so a form posted
    from another site can never write.
    """
    if not settings.writes_enabled:
        raise Problem(
            403,
            "writes-disabled",
            "Writes are disabled",
            "this server is read-only; an operator enables writes by setting a write token",
        )
    assert settings.write_token is not None
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = settings.write_token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise Problem(
            401,
            "unauthorized",
            "A valid bearer token is required",
            "send Authorization: Bearer <token> to write",
            headers={"WWW-Authenticate": 'Bearer realm="geokg"'},
        )
