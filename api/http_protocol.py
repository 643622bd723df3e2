"""uvicorn's HTTP/1.1 protocol, answering unparseable requests with a problem body.

A request the HTTP parser rejects (a control byte in the target, a malformed header) never
reaches the application: uvicorn answers it with ``400`` and a ``text/plain`` line of its
own. Every error of this server is ``application/problem+json`` (RFC 9457), so the
protocol classes below override only that answer. They are passed to uvicorn as
``http=`` (:func:`protocol_class`), which the configuration documents as taking a class.
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.h11_impl import H11Protocol

from api.problems import MEDIA_TYPE, PROBLEMS

__all__ = ["BAD_REQUEST_BODY", "ProblemH11Protocol", "protocol_class"]

#: The body sent for a request the HTTP parser rejects.
BAD_REQUEST_BODY = json.dumps(
    {
        "type": PROBLEMS + "malformed-http-request",
        "title": "Malformed HTTP request",
        "status": 400,
        "detail": (
            "The request is not valid HTTP/1.1 (for example a control character or a space "
            "in the request target, or a malformed header line); percent-encode such bytes."
        ),
    }
).encode("ascii")


def _raw_response() -> bytes:
    head = (
        "HTTP/1.1 400 Bad Request\r\n"
        f"content-type: {MEDIA_TYPE}\r\n"
        f"content-length: {len(BAD_REQUEST_BODY)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + BAD_REQUEST_BODY


class ProblemH11Protocol(H11Protocol):
    """:class:`H11Protocol` whose parser-level 400 is a problem body."""

    def send_400_response(self, msg: str) -> None:
        self.transport.write(_raw_response())
        self.transport.close()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools is optional for uvicorn
    HttpToolsProtocol = None  # type: ignore[assignment,misc]
    ProblemHttpToolsProtocol = None
else:

    class ProblemHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        """:class:`HttpToolsProtocol` whose parser-level 400 is a problem body."""

        def send_400_response(self, msg: str) -> None:
            self.transport.write(_raw_response())
            self.transport.close()


def protocol_class() -> type:
    """The protocol uvicorn's ``auto`` would pick, with the problem-body 400."""
    return ProblemHttpToolsProtocol or ProblemH11Protocol
