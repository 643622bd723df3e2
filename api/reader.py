"""A reader process: answers SPARQL queries itself, forwards every other request.

Started by the supervisor (:mod:`api.readers`) with the public listening socket. A
query (``GET /sparql?query=``, or a POST of a query) is checked with the same rules as
the FastAPI route (:mod:`api.protocol`) and evaluated here, over the current read-only
checkpoint. Everything else (the service description, updates, the Graph Store,
health, metrics, CORS preflights...) is forwarded to the supervisor's Unix socket.

How a query's time limit is kept:

* When this reader holds no other connection, the query runs on the event loop itself
  (the fastest path: no thread, no process hop). A watchdog thread watches the deadline;
  if it passes, the watchdog writes the 503 problem response on the client's socket and
  ends the process at once, which frees the CPU. The reader held nothing else, and the
  supervisor starts a fresh one.
* When it holds other connections, the query runs in a thread, so the other clients are
  still served. At the deadline the client gets the 503, and the reader stops accepting,
  finishes its other requests and exits; the supervisor kills it if that takes longer
  than the time limit allows.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from api.problems import MEDIA_TYPE, Problem, problem_body, problem_from_error
from api.protocol import (
    FORM,
    QUERY_BODY,
    check_one_operation,
    one,
    parse_query_string,
    prepare_query,
    refuse_update_by_get,
    split_post,
    too_large,
)
from api.readers import BACKSTOP_GRACE_S, SharedState
from api.settings import Settings
from kg._oxigraph import OxigraphStore, QueryOutput
from kg._remote import RemoteConfig, RemoteStore
from kg.errors import KGError
from kg.pool import QueryTimeout, isolate_network

__all__ = ["ReaderApp", "main"]

log = logging.getLogger("geokg.reader")

_HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}
_PR_SET_PDEATHSIG = 1
#: The most header fields a request may have (as Apache's LimitRequestFields): httpx,
#: which forwards requests to the supervisor, looks each field up among all the others,
#: so 20,000 fields took 16 s to forward.
MAX_HEADER_FIELDS = 100
_TIMEOUT_EXIT = 75  # the exit status of a reader ended by its watchdog


class Watchdog(threading.Thread):
    """Ends the process if the query on the event loop overruns its deadline.

    Arming and disarming are two attribute writes (no lock, no wake-up): the thread
    polls every 50 ms, which is also its precision.
    """

    def __init__(self) -> None:
        super().__init__(name="geokg-watchdog", daemon=True)
        self.armed: tuple[float, int, float, str] | None = None  # deadline, fd, limit, path
        self.on_fire: Any = None  # called (in this thread) just before the process ends

    def run(self) -> None:
        parent = os.getppid()
        while True:
            time.sleep(0.05)
            if os.getppid() != parent:  # the supervisor is gone: so are we
                os._exit(0)
            armed = self.armed
            if armed is not None and time.monotonic() >= armed[0]:
                if self.on_fire is not None:
                    with contextlib.suppress(Exception):
                        self.on_fire()
                self._fire(*armed)

    @staticmethod
    def _fire(deadline: float, fd: int, limit: float, path: str) -> None:
        problem = problem_from_error(QueryTimeout(f"the query did not finish within {limit:g} s"))
        body = json.dumps(problem_body(problem, path)).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\n"
            f"content-type: {MEDIA_TYPE}\r\n"
            f"content-length: {len(body)}\r\n"
            "vary: Accept\r\n"
            "connection: close\r\n\r\n"
        ).encode()
        with contextlib.suppress(OSError):
            os.set_blocking(fd, True)
            os.write(fd, head + body)
        os._exit(_TIMEOUT_EXIT)


class Stores:
    """The checkpoint this reader answers from, switched when the supervisor makes a new one."""

    def __init__(
        self, state: SharedState, index: int, directory: Path, remote: RemoteConfig | None = None
    ) -> None:
        self._state = state
        self._index = index
        self._directory = directory
        self._remote = remote
        self.generation = 0
        self._store: OxigraphStore | None = None
        self._in_use: Counter[int] = Counter()

    def current(self) -> tuple[int, OxigraphStore]:
        wanted = self._state.generation
        if wanted != self.generation or self._store is None:
            if self._remote is not None:  # no checkpoint: the engine itself, afresh
                if self._store is not None:
                    self._store.close()
                self._store = RemoteStore(self._remote)
                self.generation = wanted
                self._publish()
                return self.generation, self._store
            # Checkpoints from the oldest one we publish on are never deleted, and we
            # only ever move forward, so `wanted` exists while we open it.
            self._store = OxigraphStore.open_read_only(self._directory / f"{wanted:08d}")
            self.generation = wanted
            self._publish()
        return self.generation, self._store

    def hold(self, generation: int) -> None:
        self._in_use[generation] += 1

    def release(self, generation: int) -> None:
        self._in_use[generation] -= 1
        if not self._in_use[generation]:
            del self._in_use[generation]
        self._publish()

    def _publish(self) -> None:
        oldest = min([self.generation, *self._in_use])
        self._state.set_reading(self._index, oldest)


class ReaderApp:
    """The reader's ASGI application (see the module docstring)."""

    def __init__(
        self, settings: Settings, stores: Stores, state: SharedState, index: int, uds: Path
    ) -> None:
        import httpx

        from api.ops import Metrics

        self.settings = settings
        self.stores = stores
        self.state = state
        self.index = index
        self.metrics = Metrics()
        self.watchdog = Watchdog()
        self.watchdog.on_fire = self.metrics.timeouts.inc
        self.server: Any = None  # the uvicorn server, set by main()
        self._retiring = False
        # Labelled metric children, looked up once (labels() costs a lock and a dict).
        self._counters: dict[tuple[str, int], Any] = {}
        self._latency = self.metrics.latency.labels("/sparql")
        self._drain: asyncio.Task[None] | None = None
        # Not the loop's default executor: the loop joins that one's threads when it
        # closes, so a retiring reader would wait for its overrunning query (which never
        # ends) until the supervisor's backstop killed it, well after it had drained.
        self._threads = ThreadPoolExecutor(thread_name_prefix="geokg-query")
        self._proxy = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(uds)),
            base_url="http://geokg-supervisor",
            timeout=httpx.Timeout(settings.query_timeout + settings.queue_timeout + 60, connect=5),
        )

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if len(scope["headers"]) > MAX_HEADER_FIELDS:
            problem = Problem(
                431,
                "too-many-header-fields",
                "Too many header fields",
                f"a request may have at most {MAX_HEADER_FIELDS} header fields",
            )
            await self._problem(send, problem, scope["path"])
            return
        if scope["path"] == "/sparql" and scope["method"] in ("GET", "POST"):
            await self._sparql(scope, receive, send)
        else:
            await self._forward(scope, receive, send)

    # ------------------------------------------------------------ queries
    async def _sparql(self, scope: dict, receive: Any, send: Any) -> None:
        start = time.perf_counter()
        headers = _headers(scope)
        status = 500
        try:
            params = parse_query_string(scope["query_string"].decode("latin-1"))
            if scope["method"] == "GET":
                refuse_update_by_get(params)
                query = one(params, "query")
                if query is None:  # the service description
                    await self._forward(scope, receive, send)
                    return
            else:
                media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
                if media not in (FORM.encode(), QUERY_BODY.encode()):
                    await self._forward(scope, receive, send)  # updates, and 415s
                    return
                body = await _read_body(receive, headers, self.settings.max_body_bytes)
                params, query, update = split_post(media.decode(), body, params)
                if update is not None and query is None:
                    await self._forward(scope, receive, send, body=body)
                    return
                check_one_operation(query, update)
                assert query is not None
            accept = headers.get(b"accept")
            prepared = prepare_query(
                query, params, accept.decode("latin-1") if accept else None, self.settings
            )
            out = await self._execute(prepared.job, prepared.timeout, scope["path"])
            if prepared.media is None:
                raise prepared.not_acceptable()
            if out.truncated:
                self.metrics.truncated.inc()
            extra = prepared.headers(out, self.settings)
            status = 200
            await self._respond(send, 200, prepared.media, out.body, extra)
        except Problem as problem:
            status = problem.status
            await self._problem(send, problem, scope["path"])
        except KGError as exc:
            problem = problem_from_error(exc)
            status = problem.status
            await self._problem(send, problem, scope["path"])
        except Exception:  # the last resort: a problem body, never a library's message
            log.exception("unexpected error answering a query")
            problem = Problem(
                500, "internal-error", "Internal error", "an unexpected error happened"
            )
            await self._problem(send, problem, scope["path"])
        finally:
            key = (scope["method"], status)
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = self.metrics.requests.labels(
                    "/sparql", scope["method"], str(status)
                )
            counter.inc()
            self._latency.observe(time.perf_counter() - start)

    async def _execute(self, job: Any, timeout: float, path: str) -> QueryOutput:
        generation, store = self.stores.current()
        connections = self.server.server_state.connections if self.server else ()
        deadline = time.monotonic() + timeout
        if len(connections) <= 1 and not self._retiring:
            # Alone: run on the loop, the watchdog keeps the deadline.
            transport = next(iter(connections)).transport if connections else None
            fd = transport.get_extra_info("socket").fileno() if transport else -1
            self.state.set_busy_until(self.index, deadline)
            self.watchdog.armed = (deadline, fd, timeout, path)
            try:
                return job.run(store)
            finally:
                self.watchdog.armed = None
                self.state.set_busy_until(self.index, None)
        # Others to serve: run in a thread, keep the deadline here.
        self.stores.hold(generation)
        try:
            running = asyncio.get_running_loop().run_in_executor(self._threads, job.run, store)
            return await asyncio.wait_for(running, timeout)
        except TimeoutError:
            self._retire(deadline)
            raise QueryTimeout(f"the query did not finish within {timeout:g} s") from None
        finally:
            self.stores.release(generation)

    def _retire(self, deadline: float) -> None:
        """Stop accepting, finish the other requests, exit (the overrunning thread with us).

        Idle keep-alive connections are not cut (a client sending on one at that moment
        would see the connection drop): each gets its next response with
        ``Connection: close``, and the reader exits when none is left, or when its time
        is up (the supervisor kills it if even that fails).
        """
        self.metrics.timeouts.inc()
        if self._retiring:
            return
        self._retiring = True
        limit = time.monotonic() + self.settings.query_timeout
        self.state.set_busy_until(self.index, limit)
        if self.server is not None:
            for listening in self.server.servers:
                listening.close()  # new connections go to the other readers
            self._drain = asyncio.get_running_loop().create_task(self._exit_when_drained(limit))

    async def _exit_when_drained(self, limit: float) -> None:
        while self.server.server_state.connections and time.monotonic() < limit:
            await asyncio.sleep(0.05)
        self.server.should_exit = True

    def _closing(self) -> list[tuple[bytes, bytes]]:
        return [(b"connection", b"close")] if self._retiring else []

    # ------------------------------------------------------------ responses
    async def _respond(
        self,
        send: Any,
        status: int,
        media: str,
        body: bytes,
        extra: dict[str, str],
    ) -> None:
        raw = [
            (b"content-type", media.encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            (b"vary", b"Accept"),
            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra.items()),
        ]
        raw += self._closing()
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _problem(self, send: Any, problem: Problem, path: str) -> None:
        body = json.dumps(problem_body(problem, path)).encode()
        await self._respond(send, problem.status, MEDIA_TYPE, body, problem.headers)

    # ------------------------------------------------------------ forwarding
    async def _forward(
        self, scope: dict, receive: Any, send: Any, body: bytes | None = None
    ) -> None:
        """Send the request on to the supervisor and stream its answer back."""
        import httpx

        declared = _headers(scope).get(b"content-length", b"")
        if body is None and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            # Refused here: the supervisor would refuse it as soon as it read the header,
            # but we would still be sending it a body the client may never send.
            await self._problem(send, too_large(self.settings.max_body_bytes), scope["path"])
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        client = scope.get("client")
        if client:
            headers.append((b"x-forwarded-for", client[0].encode("latin-1")))
        headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode("latin-1")))
        if body is not None:
            headers = [(k, v) for k, v in headers if k.lower() != b"content-length"]
            content: Any = body
        else:
            content = _stream(receive)
        path = scope.get("raw_path") or scope["path"].encode()
        url = path.decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        request = self._proxy.build_request(scope["method"], url, headers=headers, content=content)
        try:
            response = await self._proxy.send(request, stream=True)
        except ClientGone:
            return
        except httpx.TransportError:
            await self._problem(
                send,
                Problem(
                    503,
                    "server-busy",
                    "The server is not ready",
                    "the server's write and metadata process did not answer; try again",
                    headers={"Retry-After": "1"},
                ),
                scope["path"],
            )
            return
        try:
            raw = [(k, v) for k, v in response.headers.raw if k.lower() not in _HOP_BY_HOP]
            raw += self._closing()
            start = {"type": "http.response.start", "status": response.status_code, "headers": raw}
            await send(start)
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def close(self) -> None:
        await self._proxy.aclose()
        self._threads.shutdown(wait=False, cancel_futures=True)


class _WithCors:
    """The supervisor's CORS middleware, to the letter, for requests that have an Origin.

    Starlette's middleware passes a request without one straight to the app; this does
    the same without building its header view and send wrapper for every query.
    """

    def __init__(self, app: Any, cors: Any) -> None:
        self._app = app
        self._cors = cors

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and all(k.lower() != b"origin" for k, _ in scope["headers"]):
            await self._app(scope, receive, send)
        else:
            await self._cors(scope, receive, send)


def _headers(scope: dict) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope["headers"]}


async def _read_body(receive: Any, headers: dict[bytes, bytes], limit: int) -> bytes:
    declared = headers.get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise too_large(limit)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Problem(400, "malformed-request", "Incomplete body", "the client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


class ClientGone(Exception):
    """The client disconnected before it had sent its whole request."""


async def _stream(receive: Any) -> Any:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone  # abandon the forwarded request: nobody waits for an answer
        yield message.get("body", b"")
        if not message.get("more_body"):
            return


# ---------------------------------------------------------------- process
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="geokg-reader")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--runtime", type=Path, required=True)
    parser.add_argument("--snapshots", type=Path, required=True)
    args = parser.parse_args(argv)
    settings = Settings.model_validate_json(os.environ["GEOKG_READER_SETTINGS"])
    _end_with_parent()
    listener = socket.socket(fileno=args.fd)
    location = settings.store_location()
    remote = location if isinstance(location, RemoteConfig) else None
    isolated = (
        isolate_network()
        if settings.isolate_workers and not settings.service_allowlist and remote is None
        else False
    )
    state = SharedState(args.runtime / "state")
    stores = Stores(state, args.index, args.snapshots, remote)
    stores.current()  # open the checkpoint before saying we are ready
    app = ReaderApp(settings, stores, state, args.index, args.runtime / "supervisor.sock")

    import uvicorn

    from api.http_protocol import protocol_class
    from api.ops import ProblemCORSMiddleware, cors_options

    config = uvicorn.Config(
        _WithCors(app, ProblemCORSMiddleware(app, **cors_options(settings))),
        lifespan="off",
        log_level="info" if settings.access_log else "warning",
        access_log=settings.access_log,
        proxy_headers=False,
        http=protocol_class(),
        timeout_graceful_shutdown=int(settings.query_timeout + BACKSTOP_GRACE_S),
    )
    server = uvicorn.Server(config)
    app.server = server
    app.watchdog.start()
    state.set_ready(args.index, isolated)
    # At start the supervisor listens only once every reader is ready; accepting before
    # that would answer queries but 503 everything that must be forwarded.
    _wait_for_supervisor(args.runtime / "supervisor.sock", 120)
    try:
        import uvloop

        uvloop.run(_serve(server, listener, app))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        # Not a normal exit: a query thread that overran must not be waited for.
        os._exit(0)


def _wait_for_supervisor(uds: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as probe:
            try:
                probe.connect(str(uds))
                return
            except OSError:
                time.sleep(0.02)
    raise SystemExit("the supervisor did not start listening")


def _end_with_parent() -> None:
    """Ask the kernel for SIGTERM when the supervisor dies (Linux; the watchdog also checks)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def _serve(server: Any, listener: socket.socket, app: ReaderApp) -> None:
    try:
        await server.serve(sockets=[listener])
    finally:
        await app.close()


if __name__ == "__main__":
    main()
