"""Benchmark: our SPARQL endpoint (``kg serve``) against ``oxigraph serve-read-only``.

In one run, for one size:

1. a synthetic graph (bench.generate, fixed seed) is loaded with the ontology into an
   on-disk store A with kg.store, exactly as bench.validation does; store A is exported
   to N-Quads and loaded into store B with ``oxigraph load``, so both hold the same quads;
2. ``kg serve`` is started on store A ("ours") and ``oxigraph serve-read-only
   --union-default-graph`` on store B ("oxigraph"), on free ports of 127.0.0.1;
3. latency: for each query of QUERIES, a few warm-up calls, then ``--repeats`` timed calls
   to each server with the same HTTP client, alternating servers call by call; every
   response must be 200 and both servers must give the same number of rows (SELECT) or
   distinct triples (CONSTRUCT, DESCRIBE), or the run fails;
4. throughput: 8 client threads (one httpx.Client each) run the query mix round-robin for
   ``--duration`` seconds per server, in slices interleaved oxigraph, ours, ours,
   oxigraph, oxigraph, ours... (``--slices`` per server), counting completed queries.

The figures go to bench/results/sparql-<size>.json and a table is printed. Targets:
median over the queries of (our median latency / Oxigraph's) <= 1.25, and our throughput
>= 0.8 times Oxigraph's.

The Oxigraph CLI is the PyPI package ``oxigraph`` (the ``bench`` extra)::

    .venv/bin/pip install 'oxigraph==0.5.13'    # or: pip install -e '.[bench]'
    PYTHONPATH=. .venv/bin/python -m bench.sparql --triples 1000000

Self-check of the harness without our server (a second Oxigraph, read-only on store A,
stands in for it; the result goes to sparql-<size>-selfcheck.json)::

    PYTHONPATH=. .venv/bin/python -m bench.sparql --triples 100000 --against-oxigraph-only

Another server can stand in for ours with ``--ours-cmd`` (placeholders {host}, {port},
{store}) plus ``--ours-path`` and ``--ours-ready``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rdflib import URIRef

from bench.generate import write
from kg._oxigraph import parse_rdf_file
from kg.formats import RdfFormat
from kg.loading import parse_dataset
from kg.manifest import read_manifest
from kg.namespaces import GRAPH, ONTOLOGY_GRAPH
from kg.reasoning import materialise
from kg.store import open_store

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"

#: Targets (issue: SPARQL endpoint): latency ratio ours/oxigraph at most this...
LATENCY_RATIO_TARGET = 1.25
#: ...and throughput ratio ours/oxigraph at least this.
THROUGHPUT_RATIO_TARGET = 0.8

#: The queries name entities up to number 80 and filter dates: below this, some would be empty.
MIN_TRIPLES = 20_000

PROLOGUE = """\
PREFIX gp: <https://w3id.org/geokg/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX oa: <http://www.w3.org/ns/oa#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""

#: The query mix: name -> SPARQL. Each matches bench.generate's data and is selective.
QUERIES: dict[str, str] = {
    # one entity by its exact label (1 row)
    "label_lookup": PROLOGUE + """SELECT ?s WHERE { ?s rdfs:label "State 42"@en }""",
    # acquisitions of one weapon -> buyer state -> office of head of state -> holding ->
    # person label (10 rows)
    "multi_hop_join": PROLOGUE
    + """SELECT ?acquisition ?buyerLabel ?personLabel WHERE {
  ?weapon rdfs:label "Weapon 4"@en .
  ?acquisition gp:system ?weapon ; gp:buyer ?buyer .
  ?buyer rdfs:label ?buyerLabel .
  ?office gp:officeOf ?buyer .
  ?holding gp:office ?office ; gp:holder ?person .
  ?person rdfs:label ?personLabel .
}""",
    # statements drawn from one article, with the buyer when there is one (60 rows)
    "optional": PROLOGUE
    + """SELECT ?statement ?buyer WHERE {
  ?evidence oa:hasSource <https://w3id.org/geokg/id/bench/article-3> .
  ?statement prov:wasDerivedFrom ?evidence .
  OPTIONAL { ?statement gp:buyer ?buyer }
}""",
    # office holdings starting in one quarter (about 1/120 of the holdings)
    "date_range_filter": PROLOGUE
    + """SELECT ?holding ?start WHERE {
  ?holding gp:startDate ?start .
  FILTER(?start >= "2010-01-01"^^xsd:date && ?start < "2010-04-01"^^xsd:date)
}""",
    # acquisitions of ten weapon models (100) per status, with the total quantity (3 rows)
    "group_by_count": PROLOGUE
    + """SELECT ?status (COUNT(?acquisition) AS ?n) (SUM(?quantity) AS ?total) WHERE {
  VALUES ?weapon {
    <https://w3id.org/geokg/id/bench/weapon-0> <https://w3id.org/geokg/id/bench/weapon-1>
    <https://w3id.org/geokg/id/bench/weapon-2> <https://w3id.org/geokg/id/bench/weapon-3>
    <https://w3id.org/geokg/id/bench/weapon-4> <https://w3id.org/geokg/id/bench/weapon-5>
    <https://w3id.org/geokg/id/bench/weapon-6> <https://w3id.org/geokg/id/bench/weapon-7>
    <https://w3id.org/geokg/id/bench/weapon-8> <https://w3id.org/geokg/id/bench/weapon-9>
  }
  ?acquisition gp:system ?weapon ; gp:acquisitionStatus ?status ; gp:quantity ?quantity .
} GROUP BY ?status""",
    # the ten latest meetings of one year (of about 1/30 of the meetings; only meetings have
    # gp:date in the generator; 10 rows)
    "order_by_limit": PROLOGUE
    + """SELECT ?meeting ?date ?label WHERE {
  ?meeting gp:date ?date ; rdfs:label ?label .
  FILTER(?date >= "2015-01-01"^^xsd:date && ?date < "2016-01-01"^^xsd:date)
} ORDER BY DESC(?date) ?meeting LIMIT 10""",
    # a sequence path: statements whose evidence cites one article (60 rows)
    "path_derived_from": PROLOGUE
    + """SELECT ?statement WHERE {
  ?statement prov:wasDerivedFrom/oa:hasSource <https://w3id.org/geokg/id/bench/article-7> .
}""",
    # an alternative path, and rdfs:subClassOf* into the ontology graph: the weapon models in
    # the acquisitions where one state is buyer or seller, typed by a subclass of
    # gp:WeaponSystemModel (2 rows)
    "path_subclass": PROLOGUE
    + """SELECT ?acquisition ?weapon WHERE {
  VALUES ?state { <https://w3id.org/geokg/id/bench/state-42> }
  ?acquisition gp:buyer|gp:seller ?state ; gp:system ?weapon .
  ?weapon a/rdfs:subClassOf* gp:WeaponSystemModel .
}""",
    # one entity (its triples)
    "describe": PROLOGUE + "DESCRIBE <https://w3id.org/geokg/id/bench/state-42>",
    # a state and every node pointing at it, with their triples
    "construct_neighbourhood": PROLOGUE
    + """CONSTRUCT { ?node ?p ?o } WHERE {
  { BIND(<https://w3id.org/geokg/id/bench/state-42> AS ?node) }
  UNION
  { ?node ?r <https://w3id.org/geokg/id/bench/state-42> }
  ?node ?p ?o .
}""",
}

ACCEPT_RESULTS = "application/sparql-results+json"
ACCEPT_GRAPH = "application/n-triples"


def query_form(sparql: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE: the first of those keywords after the prologue."""
    body = re.sub(r"(?im)^\s*(PREFIX|BASE)\b[^\n]*$", "", sparql)
    m = re.search(r"\b(SELECT|ASK|CONSTRUCT|DESCRIBE)\b", body, re.IGNORECASE)
    if not m:
        raise ValueError(f"cannot tell the form of {sparql!r}")
    return m.group(1).upper()


def accept_for(sparql: str) -> str:
    return ACCEPT_GRAPH if query_form(sparql) in ("CONSTRUCT", "DESCRIBE") else ACCEPT_RESULTS


def _term_key(term: dict) -> tuple:
    datatype = term.get("datatype", "")
    if datatype == "http://www.w3.org/2001/XMLSchema#string":
        datatype = ""
    kind = "literal" if term.get("type") == "typed-literal" else term.get("type", "")
    return (kind, term.get("value", ""), term.get("xml:lang", ""), datatype)


def result_summary(body: bytes, accept: str) -> tuple[int, list[str]]:
    """The number of rows (SELECT/ASK) or distinct triples, and a canonical content."""
    if accept == ACCEPT_GRAPH:
        lines = {ln.strip() for ln in body.decode("utf-8").splitlines()}
        lines = {ln for ln in lines if ln and not ln.startswith("#")}
        return len(lines), sorted(lines)
    doc = json.loads(body)
    if "boolean" in doc:
        return 1, [str(doc["boolean"])]
    rows = doc["results"]["bindings"]
    canon = sorted(
        repr(sorted((var, _term_key(term)) for var, term in row.items())) for row in rows
    )
    return len(rows), canon


# ---------------------------------------------------------------- servers


@dataclass
class Server:
    """A SPARQL server started as a subprocess on 127.0.0.1."""

    name: str
    cmd: list[str]
    port: int
    path: str  # the SPARQL endpoint, e.g. /sparql or /query
    ready: str | None  # a path answering 200 once ready; None: probe with ASK {}
    log: Path
    env: dict[str, str] | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return self.base + self.path

    def start(self) -> None:
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(  # the log handle is inherited by the child
                self.cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=ROOT,
            )

    def wait_ready(self, timeout_s: float) -> float:
        """Poll until ready (bounded); return the seconds it took."""
        assert self.proc is not None
        t0 = time.perf_counter()
        deadline = t0 + timeout_s
        with httpx.Client(timeout=5.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                    )
                try:
                    if self.ready is not None:
                        r = client.get(self.base + self.ready)
                    else:
                        r = client.get(
                            self.url, params={"query": "ASK {}"}, headers={"Accept": ACCEPT_RESULTS}
                        )
                    if r.status_code == 200:
                        return time.perf_counter() - t0
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout_s} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=15)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def oxigraph_bin() -> str:
    for candidate in (
        Path(sys.executable).parent / "oxigraph",
        ROOT / ".venv" / "bin" / "oxigraph",
    ):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("oxigraph")
    if not found:
        raise SystemExit("no oxigraph CLI: pip install 'oxigraph==0.5.13' (the bench extra)")
    return found


def oxigraph_version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def oxigraph_server(name: str, binary: str, store: Path, log: Path) -> Server:
    port = free_port()
    cmd = [binary, "serve-read-only", "--location", str(store), "--bind", f"{HOST}:{port}"]
    cmd += ["--union-default-graph", "--timeout-s", "60"]
    return Server(name, cmd, port, "/query", None, log)


def ours_server(args: argparse.Namespace, binary: str, store: Path, log: Path) -> Server:
    if args.against_oxigraph_only:
        return oxigraph_server("ours (oxigraph stand-in)", binary, store, log)
    port = free_port()
    if args.ours_cmd:
        cmd = [a.format(host=HOST, port=port, store=store) for a in shlex.split(args.ours_cmd)]
    else:
        script = Path(sys.executable).parent / "kg"  # the entry point api.cli:app
        if script.exists():
            cmd = [str(script)]
        else:
            cmd = [sys.executable, "-c", "import sys; from api.cli import app; sys.exit(app())"]
        cmd += ["serve", "--host", HOST, "--port", str(port), "--store", str(store)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    ready = args.ours_ready or None
    return Server("ours", cmd, port, args.ours_path, ready, log, env)


# ---------------------------------------------------------------- stores


def build_stores(tmp: Path, size: int) -> dict:
    """Store A (ours, kg.store on disk) and store B (oxigraph load of A's N-Quads)."""
    data, dir_a, dir_b, nquads = tmp / "data.nt", tmp / "a", tmp / "b", tmp / "data.nq"
    generated = write(data, size)
    graph = str(URIRef(GRAPH["bench/synthetic"]))
    ontology = [g for g in parse_dataset(read_manifest(ROOT)) if g.graph_iri == ONTOLOGY_GRAPH]
    t = time.perf_counter()
    store = open_store(dir_a)
    store.replace_graphs([*ontology, parse_rdf_file(data, graph, RdfFormat.NTRIPLES)])
    load_a_s = time.perf_counter() - t
    # The inferred graph, as `kg load` makes it: a server that finds none computes it at
    # start, and store B must hold the same quads. Timed apart from the load.
    t = time.perf_counter()
    materialise(store.raw)
    store.flush()
    materialise_s = time.perf_counter() - t
    quads = store.count()
    nquads.write_bytes(store.export(RdfFormat.NQUADS))
    store.close()
    del store
    gc.collect()
    data.unlink()
    t = time.perf_counter()
    subprocess.run(
        [oxigraph_bin(), "load", "--location", str(dir_b), "--file", str(nquads)],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    load_b_s = time.perf_counter() - t
    nquads.unlink()
    return {
        "dir_a": dir_a,
        "dir_b": dir_b,
        "generated_triples": generated,
        "quads": quads,
        "load_ours_s": round(load_a_s, 2),
        "load_oxigraph_s": round(load_b_s, 2),
        "materialise_ours_s": round(materialise_s, 2),
    }


def reuse_stores(directory: Path) -> dict:
    """Stores kept from an earlier build (``--keep-stores``), for quick reruns while tuning.

    Our server writes nothing to store A in this benchmark (no write requests are sent),
    so a rerun sees the same data; load times are those of the original build. Stores
    kept before the inferred graph existed are refused: our server would compute it at
    start and the two stores would no longer hold the same quads.
    """
    meta = json.loads((directory / "stores.json").read_text(encoding="utf-8"))
    if "materialise_ours_s" not in meta:
        raise SystemExit(f"{directory} was kept before stores had an inferred graph: rebuild it")
    return {**meta, "dir_a": directory / "a", "dir_b": directory / "b"}


def keep_stores(stores: dict, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for key in ("dir_a", "dir_b"):
        shutil.copytree(stores[key], directory / stores[key].name, dirs_exist_ok=True)
    meta = {k: v for k, v in stores.items() if not k.startswith("dir_")}
    (directory / "stores.json").write_text(json.dumps(meta), encoding="utf-8")


# ---------------------------------------------------------------- measuring


def call(client: httpx.Client, server: Server, sparql: str, method: str) -> httpx.Response:
    headers = {"Accept": accept_for(sparql)}
    if method == "post":
        return client.post(server.url, data={"query": sparql}, headers=headers)
    return client.get(server.url, params={"query": sparql}, headers=headers)


def _check(r: httpx.Response, server: Server, name: str) -> None:
    if r.status_code != 200:
        raise RuntimeError(f"{server.name}: query {name} -> HTTP {r.status_code}: {r.text[:500]}")


def _quantile(xs: list[float], q: int) -> float:
    return statistics.quantiles(xs, n=10, method="inclusive")[q - 1] if len(xs) > 1 else xs[0]


def latency(
    servers: list[Server], repeats: int, warmup: int, method: str, timeout_s: float
) -> dict:
    """Per query: median and p90 per server, the ratio, and the row-count check."""
    out = {}
    with httpx.Client(timeout=timeout_s) as client:
        for name, sparql in QUERIES.items():
            accept = accept_for(sparql)
            summaries = {}
            for s in servers:
                for _ in range(max(1, warmup)):  # the last warm-up call is checked
                    r = call(client, s, sparql, method)
                    _check(r, s, name)
                summaries[s.name] = result_summary(r.content, accept)
            (n_ref, c_ref), (n_ours, c_ours) = (
                summaries[servers[0].name],
                summaries[servers[1].name],
            )
            if n_ref != n_ours:
                raise RuntimeError(
                    f"query {name}: {servers[0].name} gave {n_ref} results, "
                    f"{servers[1].name} gave {n_ours}"
                )
            if n_ref == 0:
                raise RuntimeError(f"query {name} returned nothing: the mix must match the data")
            times: dict[str, list[float]] = {s.name: [] for s in servers}
            for i in range(repeats):
                for s in servers if i % 2 == 0 else servers[::-1]:
                    t = time.perf_counter()
                    r = call(client, s, sparql, method)
                    times[s.name].append(time.perf_counter() - t)
                    _check(r, s, name)
                    n = result_summary(r.content, accept)[0]
                    if n != n_ref:
                        raise RuntimeError(f"{s.name}: query {name} gave {n} results, not {n_ref}")
            ref, ours = (times[s.name] for s in servers)
            out[name] = {
                "form": query_form(sparql),
                "results": n_ref,
                "same_content": c_ref == c_ours,
                "oxigraph_median_ms": round(statistics.median(ref) * 1000, 3),
                "oxigraph_p90_ms": round(_quantile(ref, 9) * 1000, 3),
                "ours_median_ms": round(statistics.median(ours) * 1000, 3),
                "ours_p90_ms": round(_quantile(ours, 9) * 1000, 3),
                "ratio_median": round(statistics.median(ours) / statistics.median(ref), 3),
            }
    return out


def _worker(
    server: Server,
    offset: int,
    deadline: float,
    method: str,
    timeout_s: float,
    counts: list[int],
    errors: list[str],
) -> None:
    mix = list(QUERIES.items())
    done = 0
    try:
        with httpx.Client(timeout=timeout_s) as client:
            i = offset
            while time.perf_counter() < deadline:
                name, sparql = mix[i % len(mix)]
                r = call(client, server, sparql, method)
                if r.status_code != 200:
                    errors.append(f"{server.name}: {name} -> HTTP {r.status_code}")
                    return
                if time.perf_counter() <= deadline:
                    done += 1
                i += 1
    except httpx.HTTPError as exc:
        errors.append(f"{server.name}: {type(exc).__name__}: {exc}")
    finally:
        counts[offset] = done


def throughput_run(
    server: Server, clients: int, seconds: float, method: str, timeout_s: float
) -> int:
    """Queries completed by ``clients`` threads within ``seconds`` (mix round-robin)."""
    counts, errors = [0] * clients, []
    deadline = time.perf_counter() + seconds
    threads = [
        threading.Thread(
            target=_worker,
            args=(server, k, deadline, method, timeout_s, counts, errors),
            daemon=True,
        )
        for k in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.perf_counter()) + timeout_s + 10)
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"{server.name}: throughput clients did not finish in time")
    if errors:
        raise RuntimeError("; ".join(errors[:5]))
    return sum(counts)


def throughput(
    servers: list[Server], clients: int, duration: float, slices: int, method: str, timeout_s: float
) -> dict:
    """Queries/s per server over ``duration`` s each, cut into ``slices`` slices per server.

    The slices alternate in the order ref, ours, ours, ref, ref, ours... so that a drift in
    background load hits both alike; a short untimed run warms each server up first.
    """
    for s in servers:
        throughput_run(s, clients, min(2.0, duration / 10), method, timeout_s)
    piece = duration / slices
    done = {s.name: 0 for s in servers}
    order = []
    for k in range(slices):
        order += servers if k % 2 == 0 else servers[::-1]
    per_slice = []
    for s in order:
        n = throughput_run(s, clients, piece, method, timeout_s)
        done[s.name] += n
        per_slice.append({"server": "oxigraph" if s is servers[0] else "ours", "qps": n / piece})
    ref, ours = (done[s.name] / duration for s in servers)
    return {
        "clients": clients,
        "duration_s_per_server": duration,
        "slices": [{**h, "qps": round(h["qps"], 1)} for h in per_slice],
        "oxigraph_qps": round(ref, 1),
        "ours_qps": round(ours, 1),
        "ratio": round(ours / ref, 3) if ref else None,
    }


# ---------------------------------------------------------------- report


def machine() -> dict:
    info = {
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_gib"] = round(int(line.split()[1]) / 1024**2, 1)
                break
    return info


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"


def print_table(result: dict) -> None:
    head = f"{'query':<24} {'rows':>6} {'oxi med':>9} {'oxi p90':>9} {'ours med':>9} "
    head += f"{'ours p90':>9} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for name, q in result["latency"].items():
        same = "" if q["same_content"] else "  (content differs)"
        print(
            f"{name:<24} {q['results']:>6} {q['oxigraph_median_ms']:>9.2f} "
            f"{q['oxigraph_p90_ms']:>9.2f} {q['ours_median_ms']:>9.2f} {q['ours_p90_ms']:>9.2f} "
            f"{q['ratio_median']:>6.2f}{same}"
        )
    print("(latencies in ms)")
    t, tg = result["throughput"], result["targets"]
    print(
        f"median latency ratio ours/oxigraph: {result['latency_ratio_median']:.3f} "
        f"(target <= {tg['latency_ratio_max']}: {'met' if tg['latency_met'] else 'NOT met'})"
    )
    print(
        f"throughput, {t['clients']} clients: oxigraph {t['oxigraph_qps']} q/s, "
        f"ours {t['ours_qps']} q/s, ratio {t['ratio']} "
        f"(target >= {tg['throughput_ratio_min']}: "
        f"{'met' if tg['throughput_met'] else 'NOT met'})"
    )


def run(args: argparse.Namespace) -> dict:
    if args.triples < MIN_TRIPLES:
        raise SystemExit(f"--triples must be at least {MIN_TRIPLES}")
    binary = oxigraph_bin()
    info = machine()
    with tempfile.TemporaryDirectory(prefix="bench-sparql-", dir=args.workdir) as tmp_name:
        tmp = Path(tmp_name)
        if args.stores:
            stores = reuse_stores(args.stores)
        else:
            print(f"building stores for {args.triples} triples in {tmp}...", flush=True)
            stores = build_stores(tmp, args.triples)
            if args.keep_stores:
                keep_stores(stores, args.keep_stores)
        ref = oxigraph_server("oxigraph", binary, stores["dir_b"], tmp / "oxigraph.log")
        ours = ours_server(args, binary, stores["dir_a"], tmp / "ours.log")
        servers = [ref, ours]
        try:
            ready_s = {}
            for s in servers:
                print(f"starting {s.name}: {shlex.join(s.cmd)}", flush=True)
                s.start()
                ready_s[s.name] = round(s.wait_ready(args.ready_timeout), 2)
            print("latency...", flush=True)
            lat = latency(servers, args.repeats, args.warmup, args.method, args.timeout)
            print("throughput...", flush=True)
            thr = throughput(
                servers, args.clients, args.duration, args.slices, args.method, args.timeout
            )
        finally:
            for s in servers:
                try:
                    s.stop()
                except (OSError, subprocess.SubprocessError) as exc:
                    print(f"could not stop {s.name} (pid {s.proc and s.proc.pid}): {exc}")
    ratio = statistics.median(q["ratio_median"] for q in lat.values())
    return {
        "triples": stores["quads"],
        "generated_triples": stores["generated_triples"],
        "self_check": args.against_oxigraph_only,
        "stores_reused": bool(args.stores),
        "ours_cmd": shlex.join(ours.cmd),
        "oxigraph_version": oxigraph_version(binary),
        "oxigraph_cmd": shlex.join(ref.cmd),
        "load_ours_s": stores["load_ours_s"],
        "load_oxigraph_s": stores["load_oxigraph_s"],
        "materialise_ours_s": stores.get("materialise_ours_s"),
        "ready_s": {"oxigraph": ready_s[ref.name], "ours": ready_s[ours.name]},
        "method": args.method.upper(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "latency": lat,
        "latency_ratio_median": round(ratio, 3),
        "throughput": thr,
        "targets": {
            "latency_ratio_max": LATENCY_RATIO_TARGET,
            "latency_met": ratio <= LATENCY_RATIO_TARGET,
            "throughput_ratio_min": THROUGHPUT_RATIO_TARGET,
            "throughput_met": thr["ratio"] is not None and thr["ratio"] >= THROUGHPUT_RATIO_TARGET,
        },
        "queries": QUERIES,
        "machine": {**info, "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Our SPARQL endpoint against oxigraph serve.")
    parser.add_argument("--triples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per query and server")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per query and server")
    parser.add_argument("--duration", type=float, default=20.0, help="throughput s per server")
    parser.add_argument("--clients", type=int, default=8, help="throughput client threads")
    parser.add_argument("--slices", type=int, default=4, help="throughput slices per server")
    parser.add_argument("--timeout", type=float, default=60.0, help="per-request timeout (s)")
    parser.add_argument("--ready-timeout", type=float, default=300.0, help="server start (s)")
    parser.add_argument("--method", choices=["get", "post"], default="get")
    parser.add_argument(
        "--against-oxigraph-only",
        action="store_true",
        help="self-check: a second oxigraph serve-read-only on store A stands in for ours",
    )
    parser.add_argument(
        "--ours-cmd", help="command for our server; placeholders {host} {port} {store}"
    )
    parser.add_argument("--ours-path", default="/sparql", help="our SPARQL endpoint path")
    parser.add_argument(
        "--ours-ready", default="/ready", help="our readiness path ('' to probe with ASK {})"
    )
    parser.add_argument("--workdir", type=Path, help="where the temporary stores go")
    parser.add_argument("--keep-stores", type=Path, help="copy the built stores here")
    parser.add_argument(
        "--stores", type=Path, help="reuse stores kept with --keep-stores (no build)"
    )
    parser.add_argument("--out", type=Path, help="result file (default bench/results/...)")
    args = parser.parse_args()
    if min(args.repeats, args.clients, args.slices) < 1 or args.duration <= 0:
        parser.error("--repeats, --clients and --slices must be at least 1, --duration > 0")
    result = run(args)
    label = size_label(args.triples) + ("-selfcheck" if args.against_oxigraph_only else "")
    out = args.out or RESULTS / f"sparql-{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print_table(result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
