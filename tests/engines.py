"""Start and stop the external SPARQL engines the remote store is tested and benchmarked against.

Two engines, each run from a private directory, bound to 127.0.0.1 on free ports and spoken
to only through the SPARQL 1.1 protocols (Query, Update, Graph Store HTTP Protocol):

* ``oxigraph``: the ``oxigraph`` command of the PyPI package (the ``test`` and ``bench``
  extras); endpoints /query, /update and /store, no authentication.
* ``virtuoso``: Debian's Virtuoso open source 7.2 (``scripts/ensure-virtuoso``, run by
  ``make engines``) with our own ``virtuoso.ini``; the DBA password is chosen when the
  database is created and a user (``geokg``) with the SPARQL_UPDATE role writes through the
  Digest-authenticated endpoints /sparql-auth and /sparql-graph-crud-auth; the anonymous
  /sparql can only read.

From Python::

    from tests.engines import start
    with start("virtuoso", tmp_path / "vt") as engine:
        httpx.post(engine.update_url, data={"update": ...}, auth=engine.httpx_auth())

From a shell (prints KEY=VALUE lines: ENGINE, QUERY_URL, UPDATE_URL, GSP_URL, AUTH_SCHEME,
AUTH_USER, AUTH_PASSWORD, LOG, PID, DIR)::

    python -m tests.engines start virtuoso --dir /tmp/vt
    python -m tests.engines status --dir /tmp/vt
    python -m tests.engines stop --dir /tmp/vt

A directory keeps its data between runs (a new start picks new ports); ``engine.json`` in it
describes the running engine (it holds the passwords: mode 0600) and is removed on stop.
docs/engines.md says how each engine departs from the SPARQL 1.1 standards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import sysconfig
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

ENGINES = ("oxigraph", "virtuoso")
HOST = "127.0.0.1"
STATE_FILE = "engine.json"
CREDENTIALS_FILE = "credentials.json"
VIRTUOSO_USER = "geokg"

Auth = tuple[Literal["digest", "basic"], str, str]


class EngineError(RuntimeError):
    """An engine is missing, did not start in time, or did not stop."""


@dataclass(frozen=True)
class RunningEngine:
    """One running engine: where to send each kind of request, and how to stop it."""

    name: str
    query_url: str  # SPARQL 1.1 Protocol, queries (GET or POST)
    update_url: str  # SPARQL 1.1 Protocol, updates (POST)
    gsp_url: str  # SPARQL 1.1 Graph Store HTTP Protocol (?graph=IRI / ?default)
    auth: Auth | None  # what update_url and gsp_url need; query_url needs none
    log: Path
    directory: Path
    pid: int  # also the process group of the engine
    ports: tuple[int, ...] = ()
    # Virtuoso only: ("127.0.0.1:PORT", dba password) for isql-vt, for set-up and inspection.
    admin: tuple[str, str] | None = field(default=None, repr=False)

    def httpx_auth(self) -> httpx.Auth | None:
        if self.auth is None:
            return None
        scheme, user, password = self.auth
        if scheme == "digest":
            return httpx.DigestAuth(user, password)
        return httpx.BasicAuth(user, password)

    def stop(self, timeout: float = 60.0) -> None:
        """Terminates the engine's process group, kills it after ``timeout`` seconds."""
        _stop_group(self.pid, timeout, self.name, self.log)
        state = self.directory / STATE_FILE
        with contextlib.suppress(FileNotFoundError):
            if json.loads(state.read_text()).get("pid") == self.pid:
                state.unlink()

    def alive(self) -> bool:
        return bool(_group_members(self.pid))

    def __enter__(self) -> RunningEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """The KEY=VALUE lines the command line prints."""
        scheme, user, password = self.auth or ("", "", "")
        return {
            "ENGINE": self.name,
            "QUERY_URL": self.query_url,
            "UPDATE_URL": self.update_url,
            "GSP_URL": self.gsp_url,
            "AUTH_SCHEME": scheme,
            "AUTH_USER": user,
            "AUTH_PASSWORD": password,
            "LOG": str(self.log),
            "PID": str(self.pid),
            "DIR": str(self.directory),
        }


# The engines this process started, so that stop() reaps them (no zombies).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


# ----------------------------------------------------------------------------- public API


def start(name: str, directory: Path | str, *, timeout: float = 180.0) -> RunningEngine:
    """Starts engine ``name`` from ``directory`` on free 127.0.0.1 ports; returns when it
    answers a SPARQL query. Raises EngineError (with the engine's log tail) otherwise."""
    if name == "oxigraph":
        return start_oxigraph(directory, timeout=timeout)
    if name == "virtuoso":
        return start_virtuoso(directory, timeout=timeout)
    raise EngineError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")


@contextlib.contextmanager
def running(name: str, directory: Path | str, *, timeout: float = 180.0) -> Iterator[RunningEngine]:
    engine = start(name, directory, timeout=timeout)
    try:
        yield engine
    finally:
        engine.stop()


def executable(name: str) -> str:
    """The engine's server command, or EngineError saying how to install it."""
    if name == "oxigraph":
        here = Path(sysconfig.get_path("scripts")) / "oxigraph"
        found = str(here) if here.exists() else shutil.which("oxigraph")
        hint = "pip install -e '.[test]' (the oxigraph package of PyPI, version 0.5.13)"
    elif name == "virtuoso":
        found = shutil.which("virtuoso-t")
        if found and not shutil.which("isql-vt"):
            found = None
        hint = "make engines (scripts/ensure-virtuoso installs Debian's virtuoso-opensource)"
    else:
        raise EngineError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    if not found:
        raise EngineError(f"{name} is not installed: {hint}")
    return found


def start_oxigraph(directory: Path | str, *, timeout: float = 180.0) -> RunningEngine:
    command = executable("oxigraph")
    directory = _prepare(directory)
    log = directory / "oxigraph.log"

    def launch() -> RunningEngine:
        port = free_port()
        base = f"http://{HOST}:{port}"
        proc = _spawn(
            [command, "serve", "--location", str(directory / "data"), "--bind", f"{HOST}:{port}"],
            directory,
            log,
        )
        return RunningEngine(
            name="oxigraph",
            query_url=f"{base}/query",
            update_url=f"{base}/update",
            gsp_url=f"{base}/store",
            auth=None,
            log=log,
            directory=directory,
            pid=proc.pid,
            ports=(port,),
        )

    return _launch_until_ready(launch, timeout)


def start_virtuoso(
    directory: Path | str, *, timeout: float = 180.0, buffers: int = 170_000
) -> RunningEngine:
    """Virtuoso from ``directory`` (created with its database on first use). ``buffers`` is
    NumberOfBuffers (8 KiB pages: 170000 is about 1.3 GiB)."""
    command = executable("virtuoso")
    directory = _prepare(directory)
    log = directory / "virtuoso.log"
    credentials = directory / CREDENTIALS_FILE
    fresh = not (directory / "virtuoso.db").exists()
    if fresh:
        creds = {"dba": _password(), "user": VIRTUOSO_USER, "password": _password()}
        _write_private(credentials, creds)
    elif credentials.exists():
        creds = json.loads(credentials.read_text())
    else:
        raise EngineError(f"{directory} has a Virtuoso database but no {CREDENTIALS_FILE}")

    if fresh:
        # Creates the database and sets the DBA (and DAV) password before the server ever
        # listens: `+pwdold dba +pwddba NEW` changes it and exits.
        _write_virtuoso_ini(directory, free_port(), free_port(), buffers)
        try:
            _run_bounded(
                [command, "+configfile", "virtuoso.ini", "+foreground",
                 "+pwdold", "dba", "+pwddba", creds["dba"], "+pwddav", creds["dba"]],
                directory, log, min(timeout, 180.0), "setting the DBA password",
            )  # fmt: skip
            if "The DBA password is changed" not in _tail(log, 50):
                raise EngineError(f"virtuoso did not set the DBA password\n{_log_tails(directory)}")
        except EngineError:
            _remove_virtuoso_database(directory)
            raise

    def launch() -> RunningEngine:
        sql_port, http_port = free_port(), free_port()
        _write_virtuoso_ini(directory, sql_port, http_port, buffers)
        proc = _spawn(
            [command, "+configfile", "virtuoso.ini", "+foreground"],
            directory,
            directory / "virtuoso.console",
        )
        base = f"http://{HOST}:{http_port}"
        return RunningEngine(
            name="virtuoso",
            query_url=f"{base}/sparql",
            update_url=f"{base}/sparql-auth",
            gsp_url=f"{base}/sparql-graph-crud-auth",
            auth=("digest", creds["user"], creds["password"]),
            log=log,
            directory=directory,
            pid=proc.pid,
            ports=(http_port, sql_port),
            admin=(f"{HOST}:{sql_port}", creds["dba"]),
        )

    try:
        engine = _launch_until_ready(launch, timeout)
    except EngineError:
        if fresh:
            _remove_virtuoso_database(directory)
        raise
    if fresh:
        try:
            isql(engine, _VIRTUOSO_SETUP.format(user=creds["user"], password=creds["password"]))
        except EngineError:
            engine.stop()
            _remove_virtuoso_database(directory)
            raise
    return engine


def _remove_virtuoso_database(directory: Path) -> None:
    """After a failed first start: the next start creates the database anew."""
    for name in ("virtuoso.db", "virtuoso-temp.db", "virtuoso.trx", "virtuoso-temp.trx",
                 "virtuoso.pxa", "virtuoso.lck", CREDENTIALS_FILE):  # fmt: skip
        (directory / name).unlink(missing_ok=True)


def isql(engine: RunningEngine, sql: str, *, timeout: float = 120.0) -> str:
    """Runs SQL statements (each ending with ';') as dba through isql-vt; returns its output.
    Raises EngineError when a statement fails."""
    if engine.admin is None:
        raise EngineError(f"{engine.name} has no SQL interface")
    address, dba = engine.admin
    script = engine.directory / f"isql-{os.getpid()}-{time.monotonic_ns()}.sql"
    script.write_text(sql)
    try:
        done = subprocess.run(
            ["isql-vt", address, "dba", dba, "PROMPT=OFF", "VERBOSE=OFF", "ERRORS=STDOUT",
             str(script)],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise EngineError(f"isql-vt did not finish in {timeout}s") from e
    finally:
        script.unlink(missing_ok=True)
    out = done.stdout + done.stderr
    if done.returncode != 0 or "*** Error" in out:
        raise EngineError(f"isql-vt failed ({done.returncode}):\n{out[-3000:]}")
    return done.stdout


def stop(directory: Path | str, *, timeout: float = 60.0) -> RunningEngine | None:
    """Stops the engine described by ``directory``/engine.json (started by any process)."""
    engine = read_state(directory)
    if engine is not None:
        engine.stop(timeout)
    return engine


def read_state(directory: Path | str) -> RunningEngine | None:
    """The engine running from ``directory``, if its engine.json names a live process."""
    state = Path(directory).resolve() / STATE_FILE
    try:
        data = json.loads(state.read_text())
    except FileNotFoundError:
        return None
    data["log"], data["directory"] = Path(data["log"]), Path(data["directory"])
    data["ports"] = tuple(data.get("ports", ()))
    for key in ("auth", "admin"):
        if data.get(key) is not None:
            data[key] = tuple(data[key])
    engine = RunningEngine(**data)
    if not _is_engine_process(engine.pid, engine.directory):
        state.unlink(missing_ok=True)
        return None
    return engine


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the engine may still lose it: start() retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def listening_addresses(pid: int) -> set[tuple[str, int]]:
    """The (address, port) pairs on which the processes of group ``pid`` listen (TCP)."""
    inodes: set[str] = set()
    for member in _group_members(pid):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{member}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{member}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes.add(link[8:-1])
    found: set[tuple[str, int]] = set()
    for table, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                parts = line.split()
                if parts[3] != "0A" or parts[9] not in inodes:  # 0A: LISTEN
                    continue
                address, port = parts[1].split(":")
                found.add((_proc_net_address(address, v6), int(port, 16)))
    return found


# ------------------------------------------------------------------------------- Virtuoso

_VIRTUOSO_SETUP = """\
DB.DBA.USER_CREATE ('{user}', '{password}');
GRANT SPARQL_UPDATE TO "{user}";
-- Graph-level permissions as well as roles: everyone (nobody) may only read, our user
-- reads and writes every graph.
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 1);
DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('{user}', 3);
checkpoint;
"""

_VIRTUOSO_INI = """\
; Written by tests/engines.py at each start (the ports change): edits are lost.
[Database]
DatabaseFile       = virtuoso.db
ErrorLogFile       = virtuoso.log
LockFile           = virtuoso.lck
TransactionFile    = virtuoso.trx
xa_persistent_file = virtuoso.pxa
ErrorLogLevel      = 7
FileExtend         = 200
MaxCheckpointRemap = 2000
Striping           = 0
TempStorage        = TempDatabase

[TempDatabase]
DatabaseFile       = virtuoso-temp.db
TransactionFile    = virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping           = 0

[Parameters]
ServerPort           = {host}:{sql_port}
DisableUnixSocket    = 1
DisableTcpSocket     = 0
MaxClientConnections = 100
CheckpointInterval   = 60
O_DIRECT             = 0
CaseMode             = 2
MaxStaticCursorRows  = 5000
AllowOSCalls         = 0
DirsAllowed          = ., {directory}
MaxSortedTopRows     = 1000000
ThreadCleanupInterval = 0
ThreadThreshold      = 10
ResourcesCleanupInterval = 0
FreeTextBatchSize    = 100000
SingleCPU            = 0
PrefixResultNames    = 0
IndexTreeMaps        = 64
MaxQueryMem          = 2G
VectorSize           = 1000
MaxVectorSize        = 1000000
AdjustVectorSize     = 0
ThreadsPerQuery      = 2
AsyncQueueMaxThreads = 10
; 8 KiB pages: 170000 is about 1.3 GiB, modest on a 24 GiB machine.
NumberOfBuffers      = {buffers}
MaxDirtyBuffers      = {dirty}

[HTTPServer]
ServerPort           = {host}:{http_port}
ServerRoot           = {directory}/www
MaxClientConnections = 100
DavRoot              = DAV
EnabledDavVSP        = 0
HTTPProxyEnabled     = 0
TempASPXDir          = 0
ServerThreads        = 32
MaxKeepAlives        = 32
KeepAliveTimeout     = 10
HTTPThreadSize       = 280000
HttpPrintWarningsInOutput = 0
Charset              = UTF-8
EnabledGzipContent   = 0

[Client]
SQL_PREFETCH_ROWS    = 100
SQL_PREFETCH_BYTES   = 16000
SQL_QUERY_TIMEOUT    = 0
SQL_TXN_TIMEOUT      = 0

[SPARQL]
ResultSetMaxRows           = 10000000
MaxQueryCostEstimationTime = 3600   ; seconds
MaxQueryExecutionTime      = 3600   ; seconds
"""


def _write_virtuoso_ini(directory: Path, sql_port: int, http_port: int, buffers: int) -> None:
    (directory / "www").mkdir(exist_ok=True)  # the HTTP server's file root: empty
    (directory / "virtuoso.ini").write_text(
        _VIRTUOSO_INI.format(
            host=HOST,
            sql_port=sql_port,
            http_port=http_port,
            directory=directory,
            buffers=buffers,
            dirty=buffers * 13 // 17,
        )
    )


def _password() -> str:
    # Nothing to quote for isql or a shell; 16 characters (95 bits) because Virtuoso 7.2.5
    # accepts a longer one for +pwddba but then refuses every login with it.
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16))


# ------------------------------------------------------------------------------ processes


def _prepare(directory: Path | str) -> Path:
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    other = read_state(directory)
    if other is not None:
        raise EngineError(f"{other.name} is already running from {directory} (pid {other.pid})")
    return directory


def _spawn(argv: list[str], directory: Path, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=directory,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() signals the whole group
        )
    _CHILDREN[proc.pid] = proc
    return proc


def _run_bounded(argv: list[str], directory: Path, log: Path, timeout: float, what: str) -> None:
    proc = _spawn(argv, directory, directory / "virtuoso.console")
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc.pid, 10, "virtuoso", log)
        raise EngineError(
            f"virtuoso: {what} took over {timeout:.0f}s\n{_log_tails(directory)}"
        ) from None
    finally:
        _CHILDREN.pop(proc.pid, None)
    if proc.returncode != 0:
        raise EngineError(
            f"virtuoso: {what} failed (exit {proc.returncode})\n{_log_tails(directory)}"
        )


def _launch_until_ready(launch: Any, timeout: float, attempts: int = 3) -> RunningEngine:
    """Launches, waits until the engine answers ASK {} on its query URL, writes engine.json.
    A start that fails because a port was taken in the meantime is retried on new ports."""
    for attempt in range(attempts):
        engine: RunningEngine = launch()
        _write_private(engine.directory / STATE_FILE, _state(engine))
        try:
            _wait_ready(engine, timeout)
            return engine
        except EngineError as e:
            engine.stop(15)
            text = str(e).lower()  # Oxigraph, Virtuoso's SQL port: "address already in use"
            taken = any(x in text for x in ("in use", "failed to bind", "failed http listen"))
            if not taken or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def _wait_ready(engine: RunningEngine, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    proc = _CHILDREN.get(engine.pid)
    last = "no answer"
    with httpx.Client(timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise EngineError(
                    f"{engine.name} exited with {proc.returncode} while starting\n"
                    f"{_log_tails(engine.directory)}"
                )
            try:
                r = client.get(engine.query_url, params={"query": "ASK {}"})
                if r.status_code == 200 and all(_accepts(port) for port in engine.ports):
                    return  # every port (Virtuoso's SQL port too) takes connections
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.25)
    raise EngineError(
        f"{engine.name} did not answer on {engine.query_url} within {timeout:.0f}s ({last})\n"
        f"{_log_tails(engine.directory)}"
    )


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(2.0)
        return s.connect_ex((HOST, port)) == 0


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of process group ``pgid``."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry))
    return members


def _stop_group(pgid: int, timeout: float, name: str, log: Path) -> None:
    proc = _CHILDREN.pop(pgid, None)

    def signal_group(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def wait_gone(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            if proc is not None:
                proc.poll()  # reaps the leader when it has exited
            if not _group_members(pgid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    signal_group(signal.SIGTERM)
    if not wait_gone(timeout):
        signal_group(signal.SIGKILL)
        if not wait_gone(10):
            raise EngineError(f"{name} (process group {pgid}) survived SIGKILL")
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def _is_engine_process(pid: int, directory: Path) -> bool:
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return Path(cwd) == directory and bool(_group_members(pid))


def _state(engine: RunningEngine) -> dict[str, Any]:
    data = asdict(engine)
    data["log"], data["directory"] = str(engine.log), str(engine.directory)
    return data


def _write_private(path: Path, data: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _log_tails(directory: Path) -> str:
    parts = []
    for name in ("oxigraph.log", "virtuoso.log", "virtuoso.console"):
        text = _tail(directory / name)
        if text:
            parts.append(f"--- last lines of {directory / name}:\n{text}")
    return "\n".join(parts) or f"(no log in {directory})"


def _proc_net_address(hex_address: str, v6: bool) -> str:
    raw = bytes.fromhex(hex_address)
    if not v6:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.engines",
        description="Start or stop an external SPARQL engine (oxigraph, virtuoso) on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_start = sub.add_parser("start", help="start an engine; prints KEY=VALUE lines")
    p_start.add_argument("engine", choices=ENGINES)
    p_start.add_argument("--dir", required=True, type=Path, help="the engine's own directory")
    p_start.add_argument("--timeout", type=float, default=180.0)
    p_stop = sub.add_parser("stop", help="stop the engine running from --dir")
    p_stop.add_argument("engine", nargs="?", choices=ENGINES)
    p_stop.add_argument("--dir", required=True, type=Path)
    p_stop.add_argument("--timeout", type=float, default=60.0)
    p_status = sub.add_parser("status", help="print the running engine's KEY=VALUE lines")
    p_status.add_argument("--dir", required=True, type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            engine = start(args.engine, args.dir, timeout=args.timeout)
            _CHILDREN.pop(engine.pid, None)  # it outlives this process
        else:
            engine = read_state(args.dir)
            if engine is None:
                print(f"no engine is running from {args.dir}", file=sys.stderr)
                return 0 if args.command == "stop" else 1
            if args.command == "stop":
                if args.engine and args.engine != engine.name:
                    print(f"{args.dir} runs {engine.name}, not {args.engine}", file=sys.stderr)
                    return 1
                engine.stop(args.timeout)
                print(f"stopped {engine.name} (pid {engine.pid})")
                return 0
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for key, value in engine.env().items():
        print(f"{key}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
