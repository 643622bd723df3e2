"""Queries in worker processes that can be killed, over read-only snapshots of the store.

The embedded engine cannot cancel a running query, so every query runs in a worker
process; when a query's time is up its worker is killed (the CPU is really freed) and
a fresh one takes its place. Workers open *checkpoints* of the store, read-only: a
checkpoint is a consistent copy made of hard links, which no process ever writes, so
readers never block the writer and always see whole transactions. After each write
the server takes a new checkpoint; a worker moves to it with its next job, and a
checkpoint no worker uses any more is deleted.

Workers cut themselves off the network (a network namespace of their own, where the
kernel allows it), so no query can make the server contact another host, whatever the
engine would try. A worker is a fresh interpreter (not a fork of the server, which has
threads and open stores); replacing a killed one takes a fraction of a second, during
which the other workers go on serving.

Jobs are picklable objects with a ``run(store)`` method; see :class:`QueryJob`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import multiprocessing.connection
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from kg import errors
from kg._oxigraph import OxigraphStore, ParsedGraph, QueryOutput, parse_rdf_bytes
from kg._remote import RemoteConfig, RemoteStore
from kg.errors import KGError, StoreError
from kg.formats import RdfFormat, ResultFormat

__all__ = [
    "GraphJob",
    "Job",
    "ParseJob",
    "PoolBusy",
    "QueryJob",
    "QueryTimeout",
    "RemoteSnapshots",
    "Snapshot",
    "Snapshots",
    "WorkerCrashed",
    "WorkerPool",
]

log = logging.getLogger(__name__)


class QueryTimeout(KGError):
    """The job ran out of time; its worker was killed."""


class PoolBusy(KGError):
    """No worker became free before the job's time was up."""


class WorkerCrashed(KGError):
    """The worker died or the engine failed unexpectedly while running the job."""


class Job(Protocol):
    def run(self, store: OxigraphStore) -> Any: ...


@dataclass(frozen=True)
class QueryJob:
    """A SPARQL query to run and serialise in a worker."""

    sparql: str
    table_format: ResultFormat = ResultFormat.JSON
    graph_format: RdfFormat = RdfFormat.TURTLE
    default_graphs: Sequence[str] | None = None
    named_graphs: Sequence[str] | None = None
    union_default_graph: bool = True
    max_rows: int | None = None
    stated_only: bool = False  # leave out the derived shortcuts and the inferences

    def run(self, store: OxigraphStore) -> QueryOutput:
        default_graphs, named_graphs = self.default_graphs, self.named_graphs
        if self.stated_only:
            default_graphs = named_graphs = store.stated_graphs()
        return store.execute(
            self.sparql,
            table_format=self.table_format,
            graph_format=self.graph_format,
            default_graphs=default_graphs,
            named_graphs=named_graphs,
            union_default_graph=self.union_default_graph,
            max_rows=self.max_rows,
        )


@dataclass(frozen=True)
class GraphJob:
    """One named graph (or the union of all, for None) serialised whole; None if absent."""

    graph_iri: str | None
    fmt: RdfFormat

    def run(self, store: OxigraphStore) -> bytes | None:
        if self.graph_iri is not None and not store.has_graph(self.graph_iri):
            return None
        return store.dump_graph(self.fmt, self.graph_iri)


@dataclass(frozen=True)
class ParseJob:
    """An uploaded RDF document, parsed and skolemised in a worker.

    Not in the server's own process: some documents cost the parsers far more than
    their size (RDF/XML nested 20,000 deep, under 1 MB, took 13 s; JSON-LD with many
    scoped contexts grows as the cube of their number), and only a worker can be
    stopped when its time is up.
    """

    data: bytes
    graph_iri: str
    fmt: RdfFormat
    base_iri: str | None = None

    def run(self, store: OxigraphStore) -> ParsedGraph:
        return parse_rdf_bytes(self.data, self.graph_iri, self.fmt, base_iri=self.base_iri)


@dataclass(frozen=True, order=True)
class Snapshot:
    """What a worker reads: a checkpoint directory, or a remote store (no checkpoint)."""

    generation: int
    path: Path = field(compare=False)
    remote: RemoteConfig | None = field(default=None, compare=False)

    def open(self) -> OxigraphStore:
        if self.remote is not None:
            return RemoteStore.for_reading(self.remote)
        return OxigraphStore.open_read_only(self.path)


# ---------------------------------------------------------------- worker side
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWNET = 0x40000000


def isolate_network() -> bool:
    """Move this process into an empty network namespace; False if the kernel refuses."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.unshare(_CLONE_NEWNET) == 0 or (
            libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0
        )
    except (OSError, AttributeError):
        return False


def _error_payload(exc: KGError) -> tuple[str, str, dict[str, Any]]:
    return (type(exc).__name__, str(exc), dict(vars(exc)))


def _worker_main(conn: multiprocessing.connection.Connection, isolate: bool) -> None:
    isolated = isolate_network() if isolate else False
    conn.send(("ready", isolated))
    store: OxigraphStore | None = None
    current: Snapshot | None = None
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        except Exception as exc:  # a job this worker cannot unpickle
            conn.send(("crash", f"unreadable job: {type(exc).__name__}"))
            continue
        if message is None:
            return
        snapshot, job = message
        try:
            if snapshot != current or store is None:
                if store is not None:
                    store.close()  # the old checkpoint before opening the new one
                store = None
                store = snapshot.open()
                current = snapshot
            elif isinstance(store, RemoteStore):
                store.raw.clear_cache()  # each job reads the engine as it is now
            reply = ("ok", job.run(store))
        except KGError as exc:
            reply = ("error", _error_payload(exc))
        except Exception as exc:  # the last resort of a worker: report, do not die
            reply = ("crash", f"{type(exc).__name__}")
        except BaseException as exc:  # pyo3 turns engine panics into BaseException
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            reply = ("crash", f"{type(exc).__name__}")
        conn.send(reply)


def _rebuild_error(payload: tuple[str, str, dict[str, Any]]) -> KGError:
    name, message, attributes = payload
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, KGError)):
        cls = globals().get(name, KGError)
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    vars(exc).update(attributes)
    return exc


# ---------------------------------------------------------------- snapshots
class Snapshots:
    """Numbered read-only checkpoints of a writable store, in ``directory``.

    Other processes may read them too (the server's reader processes): ``on_refresh`` is
    told each new generation before :meth:`refresh` returns, and ``pinned`` answers the
    oldest generation any of them may still read (None: no pins), so that no checkpoint
    from it on is deleted.
    """

    def __init__(self, store: OxigraphStore, directory: Path) -> None:
        self._store = store
        self.directory = directory
        self._lock = threading.Lock()
        self.on_refresh: Callable[[int], None] | None = None
        self.pinned: Callable[[], int | None] | None = None
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        self._generations = itertools.count(1)
        self._on_disk: set[int] = set()
        self.current = self._take()

    def _take(self) -> Snapshot:
        generation = next(self._generations)
        path = self.directory / f"{generation:08d}"
        self._store.checkpoint(path)
        self._on_disk.add(generation)
        return Snapshot(generation, path)

    def refresh(self) -> Snapshot:
        """Checkpoint the store as it is now; later jobs see this state."""
        with self._lock:
            self.current = self._take()
        if self.on_refresh is not None:
            self.on_refresh(self.current.generation)
        return self.current

    def release(self, in_use: set[int]) -> None:
        """Delete every checkpoint but the current one and those in ``in_use``."""
        keep = in_use | {self.current.generation}
        oldest_pin = self.pinned() if self.pinned is not None else None
        if oldest_pin is not None:
            keep |= {g for g in self._on_disk if g >= oldest_pin}
        if self._on_disk <= keep:  # the common case, after every query: nothing to do
            return
        with self._lock:
            for generation in self._on_disk - keep:
                shutil.rmtree(self.directory / f"{generation:08d}", ignore_errors=True)
            self._on_disk &= keep

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class RemoteSnapshots:
    """The :class:`Snapshots` of a remote store: generations without checkpoints.

    An external engine gives no snapshot to read from, so a read sees the store as it
    is when it runs (a read during a write may see the write's requests that came
    before it; see docs/deployment.md). The generation still counts our writes: caches
    keyed on it (the graph list of a worker, the counts) start afresh after each.
    """

    def __init__(self, config: RemoteConfig, directory: Path) -> None:
        self.config = config
        self.directory = directory  # kept for the interface; nothing is written there
        self.on_refresh: Callable[[int], None] | None = None
        self.pinned: Callable[[], int | None] | None = None
        self._generations = itertools.count(1)
        self.current = Snapshot(next(self._generations), directory, config)

    def refresh(self) -> Snapshot:
        self.current = Snapshot(next(self._generations), self.directory, self.config)
        if self.on_refresh is not None:
            self.on_refresh(self.current.generation)
        return self.current

    def release(self, in_use: set[int]) -> None:
        """Nothing to delete."""

    def close(self) -> None:
        """Nothing to delete."""


# ---------------------------------------------------------------- pool side
_ENTRY = (
    "import sys; from kg.pool import _worker_entry; _worker_entry(int(sys.argv[1]), sys.argv[2])"
)


def _worker_entry(fd: int, isolate: str) -> None:
    _worker_main(multiprocessing.connection.Connection(fd), isolate == "isolate")


class _Worker:
    """A worker process and our end of the socket it listens on.

    While the pool runs, the event loop watches the socket for good (one reader for the
    worker's life, not one per job): a reply completes :attr:`pending`, and anything
    else (the worker died) is reported to the pool through ``on_lost``.
    """

    def __init__(self, isolate: bool) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _ENTRY, str(theirs.fileno()), "isolate" if isolate else "-"],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                # Signals to the server's process group (Ctrl-C) are the server's to
                # handle; a worker ends when its socket closes.
                start_new_session=True,
            )
        finally:
            theirs.close()
        self.conn = multiprocessing.connection.Connection(ours.detach())
        if not self.conn.poll(60):
            self.kill()
            raise StoreError("a query worker did not start")
        try:
            _, self.isolated = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise StoreError("a query worker did not start") from exc
        self.generation: int | None = None
        self.pending: asyncio.Future[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def watch(self, loop: asyncio.AbstractEventLoop, on_lost: Any) -> None:
        """Route the worker's replies to :attr:`pending`, from now on."""
        fd = self.conn.fileno()

        def on_readable() -> None:
            pending, self.pending = self.pending, None
            try:
                message = self.conn.recv()
            except (EOFError, OSError) as exc:
                self.unwatch()
                if pending is not None and not pending.done():
                    pending.set_exception(WorkerCrashed(f"the query worker died: {exc!r}"))
                elif pending is None:
                    on_lost(self)
                return
            if pending is not None and not pending.done():
                pending.set_result(message)

        loop.add_reader(fd, on_readable)
        # The event loop may make the socket non-blocking; once a reply has started to
        # arrive the worker writes the rest, so a blocking read of it is short.
        os.set_blocking(fd, True)
        self._loop = loop

    def unwatch(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self._loop.remove_reader(self.conn.fileno())
            self._loop = None

    def is_alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.unwatch()
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        with contextlib.suppress(OSError):
            self.conn.close()


def _expire(reply: asyncio.Future[Any]) -> None:
    if not reply.done():
        reply.set_exception(TimeoutError())


class WorkerPool:
    """``size`` worker processes running jobs over the current snapshot, with time limits."""

    def __init__(
        self,
        snapshots: Snapshots | RemoteSnapshots,
        size: int = 4,
        isolate: bool = True,
        *,
        queue_wait: float = 0.0,
    ) -> None:
        self._snapshots = snapshots
        self.size = size
        #: Seconds a job may wait for a free worker, if longer than its time limit.
        self.queue_wait = queue_wait
        self._isolate = isolate
        self._workers: set[_Worker] = set()
        self._idle: asyncio.Queue[_Worker] | None = None
        self._replacing: set[asyncio.Task[None]] = set()
        self.stats = {"timeouts": 0, "restarts": 0, "crashes": 0}

    @property
    def isolated(self) -> bool:
        """True if every worker runs without network access."""
        return bool(self._workers) and all(w.isolated for w in self._workers)

    @property
    def alive(self) -> int:
        return sum(1 for w in self._workers if w.is_alive())

    async def start(self) -> None:
        self._idle = asyncio.Queue()
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(
            *(loop.run_in_executor(None, _Worker, self._isolate) for _ in range(self.size))
        )
        for w in workers:
            self._add(w)

    def _add(self, worker: _Worker) -> None:
        assert self._idle is not None
        worker.watch(asyncio.get_running_loop(), self._lost)
        self._workers.add(worker)
        self._idle.put_nowait(worker)

    def _lost(self, worker: _Worker) -> None:
        """An idle worker died: replace it in the background."""
        self.stats["crashes"] += 1
        task = asyncio.get_running_loop().create_task(self._replace(worker))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _take(self, timeout: float) -> _Worker:
        assert self._idle is not None
        while True:
            if not self._idle.empty():  # the common case: no task, no timer
                worker = self._idle.get_nowait()
            else:
                try:
                    worker = await asyncio.wait_for(self._idle.get(), timeout)
                except TimeoutError:
                    raise PoolBusy(f"no query worker became free within {timeout:g} s") from None
            if worker in self._workers:  # not one that died while idle
                return worker

    async def run(self, job: Job, timeout: float) -> Any:
        """Run ``job`` in a worker for at most ``timeout`` seconds, once one is free.

        The run time counts from the moment a worker takes the job: a job that waited
        for a worker gets its whole time, so a busy server does not kill (and pay to
        restart) workers for jobs that never had a chance to run. Waiting longer than
        ``timeout`` or :attr:`queue_wait`, whichever is longer, is :class:`PoolBusy`.

        Raises :class:`QueryTimeout` (the worker is killed and replaced),
        :class:`PoolBusy`, :class:`WorkerCrashed`, or the job's own :class:`KGError`.
        """
        assert self._idle is not None, "the pool is not started"
        loop = asyncio.get_running_loop()
        worker = await self._take(max(timeout, self.queue_wait))
        deadline = loop.time() + timeout
        snapshot = self._snapshots.current
        reply: asyncio.Future[Any] = loop.create_future()
        worker.pending = reply
        try:
            worker.conn.send((snapshot, job))
        except (OSError, ValueError):
            worker.pending = None
            await self._replace(worker)
            raise WorkerCrashed("the query worker could not take the job") from None
        worker.generation = snapshot.generation
        timer = loop.call_at(deadline, _expire, reply)
        try:
            status, payload = await reply
        except (TimeoutError, asyncio.CancelledError) as exc:
            worker.pending = None
            await self._replace(worker)
            if isinstance(exc, TimeoutError):
                self.stats["timeouts"] += 1
                raise QueryTimeout(f"the query did not finish within {timeout:g} s") from None
            raise
        except WorkerCrashed:
            self.stats["crashes"] += 1
            await self._replace(worker)
            raise
        finally:
            timer.cancel()
        self._idle.put_nowait(worker)
        self.release()
        if status == "ok":
            return payload
        if status == "error":
            raise _rebuild_error(payload)
        self.stats["crashes"] += 1
        raise WorkerCrashed(f"the engine failed while running the job ({payload})")

    async def _replace(self, worker: _Worker) -> None:
        assert self._idle is not None
        self._workers.discard(worker)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, worker.kill)
        self.stats["restarts"] += 1
        try:
            fresh = await loop.run_in_executor(None, _Worker, self._isolate)
        except StoreError:
            log.exception("could not start a query worker")
            return
        self._add(fresh)
        self.release()

    def release(self) -> None:
        in_use = {w.generation for w in self._workers if w.generation is not None}
        self._snapshots.release(in_use)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for task in list(self._replacing):
            task.cancel()
        for w in list(self._workers):
            w.unwatch()
            with contextlib.suppress(OSError, ValueError):
                w.conn.send(None)
        for w in list(self._workers):
            await loop.run_in_executor(None, _wait, w.process, 2)
            await loop.run_in_executor(None, w.kill)
        self._workers.clear()


def _wait(process: subprocess.Popen[bytes], timeout: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout)
