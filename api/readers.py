"""Reader processes: the server's query front, started and watched by the supervisor.

``kg serve`` runs as a *supervisor* that owns the writable store (writes, the SHACL gate,
checkpoints) and serves its FastAPI app on a Unix socket of its own. The public socket
is served by ``workers`` *reader* processes (:mod:`api.reader`), which all accept on it:
a reader answers SPARQL queries itself, from a read-only checkpoint, and forwards every
other request to the supervisor.

Why: a query answered in the process that parsed the HTTP request costs no hop between
processes, which is most of what a small query costs; and a reader can still be killed
when a query overruns its time limit, because it holds nothing that must survive.

The supervisor and readers share a small memory-mapped table (:class:`SharedState`):
the current checkpoint generation, and for each reader the generation it reads, whether
it is ready, whether it is cut off the network, and until when it may be busy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import mmap
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.settings import Settings

__all__ = ["MAX_READERS", "ReaderSet", "SharedState"]

log = logging.getLogger(__name__)

MAX_READERS = 64
_HEADER = 4  # current generation, then spare words
_FIELDS = 4  # per reader: generation read, ready, isolated, busy-until (monotonic ns)
_WORDS = _HEADER + MAX_READERS * _FIELDS
#: After a reader's own time limit, how long the supervisor waits before killing it.
BACKSTOP_GRACE_S = 5.0


class SharedState:
    """The table the supervisor and its readers share (aligned 64-bit words)."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        if create:
            path.write_bytes(b"\0" * (_WORDS * 8))
        self._file = path.open("r+b")
        self._map = mmap.mmap(self._file.fileno(), _WORDS * 8)
        self._words = (ctypes.c_int64 * _WORDS).from_buffer(self._map)

    # -- the supervisor writes these
    @property
    def generation(self) -> int:
        return self._words[0]

    @generation.setter
    def generation(self, value: int) -> None:
        self._words[0] = value

    def clear(self, index: int) -> None:
        base = _HEADER + index * _FIELDS
        for k in range(_FIELDS):
            self._words[base + k] = 0

    # -- each reader writes its own slot
    def _get(self, index: int, field: int) -> int:
        return self._words[_HEADER + index * _FIELDS + field]

    def _set(self, index: int, field: int, value: int) -> None:
        self._words[_HEADER + index * _FIELDS + field] = value

    def reading(self, index: int) -> int:
        """The oldest generation reader ``index`` may read (0: none yet)."""
        return self._get(index, 0)

    def set_reading(self, index: int, generation: int) -> None:
        self._set(index, 0, generation)

    def ready(self, index: int) -> bool:
        return self._get(index, 1) == 1

    def set_ready(self, index: int, isolated: bool) -> None:
        self._set(index, 2, 1 if isolated else 0)
        self._set(index, 1, 1)

    def isolated(self, index: int) -> bool:
        return self._get(index, 2) == 1

    def busy_until(self, index: int) -> float | None:
        """The monotonic time by which reader ``index`` promised to be done (None: idle)."""
        ns = self._get(index, 3)
        return ns / 1e9 if ns else None

    def set_busy_until(self, index: int, deadline: float | None) -> None:
        self._set(index, 3, int(deadline * 1e9) if deadline is not None else 0)

    def close(self) -> None:
        del self._words
        self._map.close()
        self._file.close()


@dataclass
class _Reader:
    index: int
    process: subprocess.Popen[bytes]


class ReaderSet:
    """Starts ``settings.workers`` readers on ``listener``, replaces those that exit."""

    def __init__(
        self,
        settings: Settings,
        listener: socket.socket,
        runtime: Path,
        snapshot_dir: Path,
        state: SharedState,
    ) -> None:
        self._settings = settings
        self._listener = listener
        self._runtime = runtime
        self._snapshot_dir = snapshot_dir
        self.state = state
        self._readers: dict[int, _Reader] = {}
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0
        self.on_exit: list[Callable[[int], None]] = []  # run with the pid of a reader that ended
        self.on_tick: list[Callable[[], None]] = []  # run every tick of the watch (0.1 s)

    @property
    def uds(self) -> Path:
        return self._runtime / "supervisor.sock"

    def _spawn(self, index: int) -> _Reader:
        self.state.clear(index)
        fd = self._listener.fileno()
        data = json.loads(self._settings.model_dump_json(exclude={"write_token", "write_tokens"}))
        for name in ("store_password", "store_token"):  # the reader needs them in clear
            secret = getattr(self._settings, name)
            if secret is not None:
                data[name] = secret.get_secret_value()
        settings_json = json.dumps(data)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KG_")}
        env["GEOKG_READER_SETTINGS"] = settings_json
        # libuv accepts one connection per wake-up, so idle readers share new connections.
        env["UV_TCP_SINGLE_ACCEPT"] = "1"
        cmd = [
            sys.executable,
            "-m",
            "api.reader",
            "--fd",
            str(fd),
            "--index",
            str(index),
            "--runtime",
            str(self._runtime),
            "--snapshots",
            str(self._snapshot_dir),
        ]
        # A session of its own: a terminal's Ctrl-C or a signal to our process group
        # reaches the supervisor only, which stops the readers in order. A reader ends
        # itself if the supervisor dies (see api.reader).
        process = subprocess.Popen(
            cmd, pass_fds=(fd,), env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
        return _Reader(index, process)

    async def start(self, timeout: float = 60.0) -> None:
        for i in range(self._settings.workers):
            self._readers[i] = self._spawn(i)
        deadline = time.monotonic() + timeout
        while self.ready_count() < len(self._readers):
            if time.monotonic() > deadline:
                raise RuntimeError("the reader processes did not start")
            for r in self._readers.values():
                if r.process.poll() is not None:
                    raise RuntimeError(f"a reader process exited at start ({r.process.returncode})")
            await asyncio.sleep(0.05)
        self._monitor = asyncio.get_running_loop().create_task(self._watch())

    def ready_count(self) -> int:
        return sum(
            1
            for r in self._readers.values()
            if r.process.poll() is None and self.state.ready(r.index)
        )

    @property
    def isolated(self) -> bool:
        live = [r for r in self._readers.values() if self.state.ready(r.index)]
        return bool(live) and all(self.state.isolated(r.index) for r in live)

    def oldest_reading(self) -> int | None:
        """The oldest checkpoint generation a live reader may read (None: no reader)."""
        values = [self.state.reading(r.index) for r in self._readers.values()]
        if not values:
            return None
        return min(values)  # 0 (a reader still opening) pins every checkpoint

    def pids(self) -> set[int]:
        return {r.process.pid for r in self._readers.values()}

    async def _watch(self) -> None:
        while not self._stopping:
            await asyncio.sleep(0.1)
            for callback in self.on_tick:
                try:
                    callback()
                except Exception:
                    log.exception("a reader-set tick callback failed")
            now = time.monotonic()
            for index, reader in list(self._readers.items()):
                code = reader.process.poll()
                if code is None:
                    busy = self.state.busy_until(index)
                    if busy is not None and now > busy + BACKSTOP_GRACE_S:
                        # The reader's own watchdog should have ended it; make sure.
                        log.warning("reader %d overran its time limit; killing it", index)
                        with contextlib.suppress(OSError):
                            reader.process.kill()
                    continue
                if self._stopping:
                    return
                for callback in self.on_exit:
                    callback(reader.process.pid)
                self.restarts += 1
                try:
                    self._readers[index] = self._spawn(index)
                except OSError:
                    log.exception("could not start a reader process")

    async def stop(self, timeout: float = 10.0) -> None:
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
        for reader in self._readers.values():
            with contextlib.suppress(OSError):
                reader.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for reader in self._readers.values():
            while reader.process.poll() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if reader.process.poll() is None:
                reader.process.kill()
                reader.process.wait(5)
        self._readers.clear()
