"""A canary HTTP server on 127.0.0.1 that records every request it gets."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: A valid N-Triples document: whatever fetched it could have loaded it.
NTRIPLES = b"<http://canary.invalid/s> <http://canary.invalid/p> <http://canary.invalid/o> .\n"


@contextmanager
def canary(
    body: bytes = NTRIPLES, content_type: str = "application/n-triples"
) -> Iterator[tuple[str, list[str]]]:
    """Yield (base URL, list of requests seen); tests assert the list stays empty."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _record(self) -> None:
            seen.append(f"{self.command} {self.path}")
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_HEAD = _record

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
