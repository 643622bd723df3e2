"""Benchmark: our OWL RL reasoner against reference engines, full and after a small write.

For each size, a synthetic graph (bench.generate, fixed seed) and the derived shortcut
graph computed from it are loaded with the ontology into a store on disk (in a temporary
directory, as the server keeps it), without materialising. Then, in the same run, each
measurement in its own child process (so that its peak memory is its own):

- ours, full: :func:`kg.reasoning.materialise` on that store (wall time, peak RSS,
  triples in the inferred graph);
- ours, refresh: a 100-triple change that touches 10 existing nodes (six states linked
  by ``gp:locatedIn`` and ``gp:borders``, four weapon system models given a country of
  origin and more specific classes, two of them retyped: an asserted type removed)
  applied with :func:`kg.writes.apply_change`, then its inverse, ``--repeats`` times.
  Reported: the median refresh time (``kg.writes.last_inference``), the median wall time
  of the whole write (validation, the derived graph, refresh), what the refresh added
  and removed.
  Afterwards the change is applied once more and the inferred graph compared with a full
  materialisation of the same store (up to ``--check-max`` triples);
- owlrl (``OWLRL_Semantics``) and reasonable on the same triples our reasoner reads
  (ontology, data and derived shortcuts, as N-Triples): time, peak RSS, triples added;
  and whether they agree with us on the data-level entailments: ``rdf:type`` with a
  ``gp:`` class and triples with a ``gp:`` predicate, asserted or inferred;
- HermiT (:func:`kg._owlready.check_consistency`) on the same triples: time of the whole
  call (projection, serialisation, owlready2's load, HermiT), peak RSS of the Python side
  and of Java, verdict.

Peak RSS is the child's own high-water mark (``RUSAGE_SELF``) when the measurement ends;
``tree_peak_rss_mib`` in the JSON is the largest over the child and what it waited for.

Every child runs with a time limit and an address-space cap; one that exceeds them is
recorded as ``{"status": "timeout"}`` or ``{"status": "out of memory"}``, not as a
failure of the benchmark. The figures go to bench/results/reasoning-<size>.json and a
table is printed. Targets: refresh after the 100-triple write under 1 s at 1M triples;
full materialisation under 2 GiB peak memory at 1M.

    python -m bench.reasoning --triples 10000 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

GIB = 1 << 30
GP_NS = "https://w3id.org/geokg/ontology#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
SYNTHETIC_GRAPH = "https://w3id.org/geokg/graph/bench/synthetic"

#: Targets (at 1M triples): refresh after the 100-triple write, peak memory of a full run.
REFRESH_TARGET_S = 1.0
MATERIALISE_TARGET_BYTES = 2 * GIB
TARGET_SIZE = 1_000_000

#: Messages in a child's stderr that mean it ran out of memory under the cap.
OUT_OF_MEMORY_SIGNS = (
    "MemoryError",
    "memory allocation of",
    "OutOfMemoryError",
    "Cannot allocate memory",
    "insufficient memory for the Java Runtime",
    "Could not reserve enough space",
    "std::bad_alloc",
)

Result = dict[str, Any]


def size_label(size: int) -> str:
    return f"{size // 1000}k" if size < 1_000_000 else f"{size // 1_000_000}M"


def _mib(kib: int) -> int:
    return round(kib / 1024)


def _peak_self_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ---------------------------------------------------------------- the change
def _change(clusters: int) -> tuple[Any, Any]:
    """A 100-triple change on 10 existing nodes and its inverse (98 added, 2 removed)."""
    from rdflib import Literal, URIRef
    from rdflib.namespace import RDF, SKOS

    from bench.generate import ID
    from kg.namespaces import GP
    from kg.validation import Change

    graph = URIRef(SYNTHETIC_GRAPH)
    weapons = (clusters + 9) // 10
    if clusters < 6 or weapons < 4:
        raise ValueError("the change needs at least 6 states and 4 weapons: use 2000 triples up")
    states = [URIRef(f"{ID}state-{k * clusters // 6}") for k in range(6)]
    models = [URIRef(f"{ID}weapon-{j * weapons // 4}") for j in range(4)]
    add, remove = [], []
    for k, s in enumerate(states):
        # A chain s0 -> s1 -> ... -> s5 with links two ahead: transitivity has work.
        ahead = states[k + 1 : k + 3]
        add += [(s, GP.locatedIn, o, graph) for o in ahead]
        add += [(s, GP.borders, states[(k + 2) % 6], graph)]  # symmetric
        notes = [
            (s, GP.note, Literal(f"bench note {k}", lang="en"), graph),
            (s, GP.note, Literal(f"bench note {k}, plain"), graph),
            (s, SKOS.altLabel, Literal(f"Land {k}", lang="en"), graph),
            (s, SKOS.altLabel, Literal(f"Pays {k}", lang="fr"), graph),
            (s, SKOS.altLabel, Literal(f"Land {k}", lang="de"), graph),
            (s, SKOS.altLabel, Literal(f"Paese {k}", lang="it"), graph),
            (s, SKOS.altLabel, Literal(f"País {k}", lang="es"), graph),
            (s, SKOS.altLabel, Literal(f"Land {k}", lang="nl"), graph),
            (s, SKOS.altLabel, Literal(f"Maa {k}", lang="fi"), graph),
        ]
        add += notes[: 10 - len(ahead) - 1]
    for j, w in enumerate(models):
        if j < 2:
            # Retyped: the inferred AirDefenceSystem goes, WeaponSystemModel is rederived.
            remove.append((w, RDF.type, GP.SurfaceToAirMissileSystem, graph))
            types = [(w, RDF.type, GP.Artillery, graph)]
        else:
            # Subclasses of what is already inferred: nothing new, but all of it examined.
            types = [
                (w, RDF.type, GP.MissileDefenceSystem, graph),
                (w, RDF.type, GP.AntiAircraftSystem, graph),
            ]
        body = [
            *types,
            (w, GP.countryOfOrigin, states[j], graph),  # domain and range
            *[(w, GP.note, Literal(f"bench note {j}.{i}", lang="en"), graph) for i in range(3)],
            *[(w, SKOS.altLabel, Literal(f"System {j}.{i}", lang="en"), graph) for i in range(5)],
        ]
        add += body[: 10 - (j < 2)]
    change = Change.of(add=add, remove=remove)
    assert len(change) == 100 and len(change.remove) == 2, len(change)
    return change, Change.of(add=remove, remove=add)


# ---------------------------------------------------------------- child tasks
def _parsed_inputs(data: Path) -> list[Any]:
    """The ontology, the synthetic data and the shortcut graph derived from them."""
    from kg._oxigraph import construct_graph, parse_rdf_file
    from kg.derivation import derivation_query
    from kg.formats import RdfFormat
    from kg.loading import parse_dataset
    from kg.manifest import read_manifest
    from kg.namespaces import DERIVED_GRAPH, ONTOLOGY_GRAPH

    ontology = [g for g in parse_dataset(read_manifest(ROOT)) if g.graph_iri == ONTOLOGY_GRAPH]
    synthetic = parse_rdf_file(data, SYNTHETIC_GRAPH, RdfFormat.NTRIPLES)
    derived = construct_graph([*ontology, synthetic], derivation_query(), DERIVED_GRAPH, "rules")
    return [*ontology, synthetic, derived]


def task_prepare(p: Result) -> Result:
    """Generate the data, build the store (not materialised), write the engines' input."""
    from bench.generate import write
    from kg._oxigraph import OxigraphStore

    work = Path(p["dir"])
    data = work / "data.nt"
    generated = write(data, p["size"])
    graphs = _parsed_inputs(data)
    start = time.perf_counter()
    store = OxigraphStore(work / "store")
    store.replace_graphs(graphs)  # no materialisation: that is the next measurement
    load_s = time.perf_counter() - start
    triples = store.count()
    store.close()
    with (work / "input.ttl").open("w", encoding="utf-8") as out:  # N-Triples is Turtle
        for g in graphs:
            out.writelines(f"{t} .\n" for t in g._triples)
    return {
        "generated_triples": generated,
        "input_triples": sum(len(g) for g in graphs),
        "graphs": {g.graph_iri: len(g) for g in graphs},
        "store_triples": triples,
        "load_s": round(load_s, 2),
    }


def _open(p: Result) -> Any:
    from kg._oxigraph import OxigraphStore

    return OxigraphStore(Path(p["dir"]) / "store")


def _dump_ours(raw: Any, path: Path) -> int:
    """Our asserted and inferred triples, restricted to the data level, as N-Triples."""
    from kg.namespaces import LOAD_GRAPH

    rows = raw.query(
        "SELECT DISTINCT ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?o }"
        f" FILTER(?g != <{LOAD_GRAPH}>) FILTER(!isLiteral(?s))"
        f' FILTER((?p = <{RDF_TYPE}> && isIRI(?o) && STRSTARTS(STR(?o), "{GP_NS}"))'
        f' || STRSTARTS(STR(?p), "{GP_NS}")) }}'
    )
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for s, pr, o in rows:
            out.write(f"{s} {pr} {o} .\n")
            n += 1
    return n


def task_materialise(p: Result) -> Result:
    from kg.reasoning import materialise

    store = _open(p)
    start = time.perf_counter()
    stats = materialise(store.raw)
    store.flush()
    seconds = time.perf_counter() - start
    peak = _peak_self_kib()
    out: Result = {
        "seconds": round(seconds, 2),
        "peak_rss_mib": _mib(peak),
        "inferred": stats.inferred,
        "rounds": stats.rounds,
        "clashes": len(stats.clashes),
        "unsupported": list(stats.unsupported),
        "store_triples": store.count(),
    }
    if p.get("dump"):
        out["restricted_triples"] = _dump_ours(store.raw, Path(p["dump"]))
    store.close()
    return out


def _inferred_set(raw: Any) -> set[str]:
    import pyoxigraph as ox

    from kg.namespaces import INFERRED_GRAPH

    graph = ox.NamedNode(INFERRED_GRAPH)
    return {str(q.triple) for q in raw.quads_for_pattern(None, None, None, graph)}


def task_refresh(p: Result) -> Result:
    from kg import writes
    from kg.validation import load_shapes

    store = _open(p)
    shapes = load_shapes(ROOT)
    change, inverse = _change(p["clusters"])
    runs: dict[str, list[Result]] = {"change": [], "inverse": []}
    for _ in range(p["repeats"]):
        for name, c in (("change", change), ("inverse", inverse)):
            start = time.perf_counter()
            report = writes.apply_change(store, c, shapes)
            wall = time.perf_counter() - start
            assert report.conforms, report.to_text()
            stats = writes.last_inference[0]
            runs[name].append(
                {
                    "write_s": wall,
                    "refresh_s": stats.seconds,
                    "added": stats.added,
                    "removed": stats.removed,
                    "examined": stats.rounds,
                }
            )
    peak = _peak_self_kib()
    out: Result = {"change_triples": len(change), "peak_rss_mib": _mib(peak)}
    for name, rs in runs.items():
        refresh = [r["refresh_s"] for r in rs]
        write = [r["write_s"] for r in rs]
        out[name] = {
            "refresh_median_s": round(statistics.median(refresh), 4),
            "refresh_max_s": round(max(refresh), 4),
            "refresh_runs_s": [round(x, 4) for x in refresh],
            "write_median_s": round(statistics.median(write), 4),
            "write_max_s": round(max(write), 4),
            "added": sorted({r["added"] for r in rs}),
            "removed": sorted({r["removed"] for r in rs}),
            "examined": sorted({r["examined"] for r in rs}),
        }
    from kg.namespaces import INFERRED_GRAPH

    out["inferred_after_repeats"] = store.count(INFERRED_GRAPH)
    if p["check"]:
        out["check"] = _check_refresh(store, change, shapes)
    store.close()
    return out


def _check_refresh(store: Any, change: Any, shapes: Any) -> Result:
    """Apply the change once more; does the refreshed graph equal a full materialisation?"""
    from kg import writes
    from kg.reasoning import materialise

    writes.apply_change(store, change, shapes)
    refreshed = _inferred_set(store.raw)
    materialise(store.raw)
    full = _inferred_set(store.raw)
    return {
        "refreshed": len(refreshed),
        "full": len(full),
        "equal": refreshed == full,
        "refresh_only": sorted(refreshed - full)[:5],
        "full_only": sorted(full - refreshed)[:5],
        "refresh_only_count": len(refreshed - full),
        "full_only_count": len(full - refreshed),
    }


def _restricted(triples: Iterable[tuple], path: Path) -> int:
    """Write the data-level triples of an rdflib-term closure as N-Triples."""
    from rdflib import Literal, URIRef

    n = 0
    with path.open("w", encoding="utf-8") as out:
        for s, pr, o in triples:
            if isinstance(s, Literal):
                continue
            ps = str(pr)
            if ps.startswith(GP_NS) or (
                ps == RDF_TYPE and isinstance(o, URIRef) and str(o).startswith(GP_NS)
            ):
                out.write(f"{s.n3()} {pr.n3()} {o.n3()} .\n")
                n += 1
    return n


def task_owlrl(p: Result) -> Result:
    import owlrl
    from rdflib import Graph

    g = Graph()
    start = time.perf_counter()
    g.parse(p["input"], format="nt")
    load_s = time.perf_counter() - start
    before = len(g)
    start = time.perf_counter()
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics).expand(g)
    seconds = time.perf_counter() - start
    peak = _peak_self_kib()
    out = {
        "semantics": "OWLRL_Semantics, owlrl's defaults (no axiomatic or datatype triples)",
        "seconds": round(seconds, 2),
        "load_s": round(load_s, 2),
        "peak_rss_mib": _mib(peak),
        "input_triples": before,
        "added": len(g) - before,
    }
    if p.get("dump"):
        out["restricted_triples"] = _restricted(g, Path(p["dump"]))
    return out


def task_reasonable(p: Result) -> Result:
    import reasonable

    r = reasonable.PyReasoner()
    start = time.perf_counter()
    r.load_file(p["input"])
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    closure = r.reason()
    seconds = time.perf_counter() - start
    peak = _peak_self_kib()
    base = len(r.get_base_triples())  # after the peak: it is a copy made only to count
    out = {
        "seconds": round(seconds, 2),
        "load_s": round(load_s, 2),
        "peak_rss_mib": _mib(peak),
        "input_triples": base,
        "added": len(closure) - base,
    }
    if p.get("dump"):
        out["restricted_triples"] = _restricted(closure, Path(p["dump"]))
    return out


def task_hermit(p: Result) -> Result:
    from rdflib import Graph

    import kg._owlready as adapter

    # The adapter has no knob for HermiT's heap; owlready2 reads this module attribute.
    adapter.owlready2.reasoning.JAVA_MEMORY = p["java_heap_mib"]
    g = Graph()
    start = time.perf_counter()
    g.parse(p["input"], format="nt")
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    try:
        report = adapter.check_consistency(g)
    except adapter.ReasonerError as exc:
        text = str(exc)
        status = "out of memory" if any(m in text for m in OUT_OF_MEMORY_SIGNS) else "error"
        return {
            "status": status,
            "limit": f"Java heap {p['java_heap_mib']} MiB",
            "message": text[-2000:],
        }
    seconds = time.perf_counter() - start
    java = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": round(seconds, 2),
        "load_s": round(load_s, 2),
        "peak_rss_mib": _mib(_peak_self_kib()),
        "java_peak_rss_mib": _mib(java),
        "java_heap_limit_mib": p["java_heap_mib"],
        "consistent": report.consistent,
        "unsatisfiable": report.unsatisfiable[:10],
        "projected_out": report.projected_out,
        "message": report.message[:2000],
    }


def task_compare(p: Result) -> Result:
    """Ours against an engine, on the restricted triples (both files N-Triples)."""
    import pyoxigraph as ox

    def read(path: str) -> set[str]:
        return {str(t) for t in ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES)}

    ours, theirs = read(p["ours"]), read(p["theirs"])
    return {
        "ours": len(ours),
        "theirs": len(theirs),
        "agree": ours == theirs,
        "ours_only": len(ours - theirs),
        "theirs_only": len(theirs - ours),
        "ours_only_examples": sorted(ours - theirs)[:5],
        "theirs_only_examples": sorted(theirs - ours)[:5],
    }


TASKS: dict[str, Callable[[Result], Result]] = {
    "prepare": task_prepare,
    "materialise": task_materialise,
    "refresh": task_refresh,
    "owlrl": task_owlrl,
    "reasonable": task_reasonable,
    "hermit": task_hermit,
    "compare": task_compare,
}


def child_main(task: str, params: str, result: str) -> None:
    try:
        out = TASKS[task](json.loads(params))
    except MemoryError:
        out = {"status": "out of memory", "limit": "address space"}  # the cap: filled in
    Path(result).write_text(json.dumps(out), encoding="utf-8")


# ---------------------------------------------------------------- running children
def run_child(task: str, params: Result, work: Path, timeout: float, cap: int) -> Result:
    """Run ``task`` in a child process with a time limit and an address-space cap.

    The result carries ``wall_s`` (seen from here) and ``tree_peak_rss_mib``: the largest
    resident set of the child or any process it waited for (Java, for HermiT).
    """
    result = work / f"{task}.json"
    log = work / f"{task}.log"
    result.unlink(missing_ok=True)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    cmd = [sys.executable, "-m", "bench.reasoning", "_child", task, json.dumps(params), str(result)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with log.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=err, stderr=err, preexec_fn=limit, start_new_session=True
        )
        deadline = start + timeout
        status, usage = 0, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)  # the whole session: Java too
                pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = -signal.SIGKILL
                return {
                    "status": "timeout",
                    "limit": f"{timeout:g} s",
                    "wall_s": round(time.perf_counter() - start, 1),
                }
            time.sleep(0.1)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = round(time.perf_counter() - start, 2)
    tree = _mib(usage.ru_maxrss)
    if proc.returncode == 0 and result.exists():
        out = json.loads(result.read_text(encoding="utf-8"))
        out.setdefault("status", "ok")
        if out.get("limit") == "address space":
            out["limit"] = f"address space {cap / GIB:g} GiB (MemoryError)"
        return {**out, "wall_s": wall, "tree_peak_rss_mib": tree}
    text = log.read_text(encoding="utf-8", errors="replace")
    killed = proc.returncode == -signal.SIGKILL  # by the kernel's OOM killer: not by us
    if killed or any(m in text for m in OUT_OF_MEMORY_SIGNS):
        return {
            "status": "out of memory",
            "limit": "killed (SIGKILL)" if killed else f"address space {cap / GIB:g} GiB",
            "wall_s": wall,
            "tree_peak_rss_mib": tree,
            "stderr_tail": text[-1500:],
        }
    return {
        "status": "error",
        "returncode": proc.returncode,
        "wall_s": wall,
        "stderr_tail": text[-3000:],
    }


# ---------------------------------------------------------------- one size
def run(size: int, args: argparse.Namespace) -> Result:
    from bench.generate import TRIPLES_PER_CLUSTER

    cap = int(args.memory_cap_gib * GIB)
    clusters = max(1, size // TRIPLES_PER_CLUSTER)
    with tempfile.TemporaryDirectory(prefix="bench-reasoning-") as tmp:
        work = Path(tmp)

        def child(task: str, params: Result, timeout: float) -> Result:
            print(f"  [{size_label(size)}] {task} ...", file=sys.stderr, flush=True)
            out = run_child(task, {"dir": tmp, **params}, work, timeout, cap)
            print(f"  [{size_label(size)}] {task}: {_brief(out)}", file=sys.stderr, flush=True)
            return out

        engine_input = str(work / "input.ttl")
        prep = child("prepare", {"size": size}, args.timeout)
        if prep["status"] != "ok":
            return {"triples_target": size, "prepare": prep}
        engines = {
            "owlrl": size <= args.owlrl_max,
            "reasonable": size <= args.reasonable_max,
        }
        compare = any(engines.values())
        ours_dump = str(work / "ours.nt")
        full = child("materialise", {"dump": ours_dump if compare else None}, args.timeout)
        refresh = child(
            "refresh",
            {"clusters": clusters, "repeats": args.repeats, "check": size <= args.check_max},
            args.timeout,
        )
        result: Result = {
            "triples": prep["store_triples"],
            "generated_triples": prep["generated_triples"],
            "input_triples": prep["input_triples"],
            "graphs": prep["graphs"],
            "load_s": prep["load_s"],
            "ours_materialise": full,
            "ours_refresh": refresh,
        }
        skipped = {
            "owlrl": f"skipped: above --owlrl-max {args.owlrl_max} (reference 175 s at 100k)",
            "reasonable": (
                f"skipped: above --reasonable-max {args.reasonable_max}"
                " (reference 6.1 GB at 300k, did not finish at 1M)"
            ),
        }
        agreement: Result = {}
        for engine, runs in engines.items():
            if not runs:
                result[engine] = {"status": skipped[engine]}
                continue
            dump = str(work / f"{engine}.nt")
            out = child(engine, {"input": engine_input, "dump": dump}, args.engine_timeout)
            result[engine] = out
            if out["status"] == "ok" and full["status"] == "ok":
                agreement[engine] = child(
                    "compare", {"ours": ours_dump, "theirs": dump}, args.timeout
                )
        result["agreement"] = agreement
        if size <= args.hermit_max:
            result["hermit"] = child(
                "hermit",
                {"input": engine_input, "java_heap_mib": args.java_heap_mib},
                args.engine_timeout,
            )
        else:
            result["hermit"] = {"status": f"skipped: above --hermit-max {args.hermit_max}"}
    result["targets"] = _targets(size, full, refresh)
    result["limits"] = {
        "engine_timeout_s": args.engine_timeout,
        "child_timeout_s": args.timeout,
        "address_space_gib": args.memory_cap_gib,
        "java_heap_mib": args.java_heap_mib,
    }
    result["versions"] = _versions()
    result["machine"] = f"{platform.machine()}, {platform.python_version()}"
    result["cpus"] = os.cpu_count()
    result["memory_gib"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1)
    return result


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("pyoxigraph", "rdflib", "owlrl", "reasonable", "owlready2"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30)
        out["java"] = (java.stderr.splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired):
        out["java"] = "not found"
    return out


def _targets(size: int, full: Result, refresh: Result) -> Result:
    applies = size >= TARGET_SIZE
    out: Result = {}
    if refresh.get("status") == "ok":
        got = refresh["change"]["refresh_median_s"]
        out["refresh_under_1s"] = {
            "value_s": got,
            "met": got < REFRESH_TARGET_S,
            "applies_at_this_size": applies,
        }
    if full.get("status") == "ok":
        got = full["tree_peak_rss_mib"]
        out["materialise_under_2GiB"] = {
            "value_mib": got,
            "met": got * (1 << 20) < MATERIALISE_TARGET_BYTES,
            "applies_at_this_size": applies,
        }
    return out


# ---------------------------------------------------------------- output
def _brief(out: Result) -> str:
    if out.get("status") != "ok":
        return str(out.get("status"))
    keys = ("seconds", "peak_rss_mib", "inferred", "added", "consistent", "agree", "load_s")
    return ", ".join(f"{k}={out[k]}" for k in keys if k in out) or f"wall {out['wall_s']} s"


def _counts(xs: list[int]) -> str:
    return "/".join(map(str, xs))


def _row(name: str, out: Result, seconds: str, count: str, note: str = "") -> list[str]:
    if out.get("status") != "ok":
        text = str(out.get("status"))
        if "limit" in out:
            text += f" ({out['limit']})"
        return [name, "-", "-", "-", text]
    return [name, seconds, str(out.get("peak_rss_mib", "-")), count, note]


def table(size: int, r: Result) -> str:
    if "prepare" in r:
        return f"{size_label(size)}: the store could not be built: {r['prepare']}"
    rows = [["measurement", "time s", "peak RSS MiB", "triples", "note"]]
    full = r["ours_materialise"]
    rows.append(
        _row(
            "ours: full materialisation",
            full,
            str(full.get("seconds")),
            f"{full.get('inferred')} inferred",
        )
    )
    ref = r["ours_refresh"]
    if ref.get("status") == "ok":
        c, i = ref["change"], ref["inverse"]
        rows.append(
            _row(
                f"ours: refresh, {ref['change_triples']}-triple write (median)",
                ref,
                str(c["refresh_median_s"]),
                f"+{_counts(c['added'])} -{_counts(c['removed'])}",
                f"inverse {i['refresh_median_s']} s"
                f" (+{_counts(i['added'])} -{_counts(i['removed'])})",
            )
        )
        rows.append(
            _row(
                "ours: whole write, apply_change (median)",
                ref,
                str(c["write_median_s"]),
                "",
                f"inverse {i['write_median_s']} s",
            )
        )
    else:
        rows.append(_row("ours: refresh", ref, "", ""))

    for engine in ("owlrl", "reasonable"):
        out = r[engine]
        agree = r["agreement"].get(engine)
        note = ""
        if agree and agree.get("status") == "ok":
            note = (
                "agrees with ours"
                if agree["agree"]
                else f"differs: {agree['ours_only']} ours-only, {agree['theirs_only']} theirs-only"
            )
        rows.append(_row(engine, out, str(out.get("seconds")), f"{out.get('added')} added", note))
    h = r["hermit"]
    verdict = ""
    if h.get("status") == "ok":
        verdict = "consistent" if h["consistent"] else "INCONSISTENT"
        verdict += f"; Java peak RSS {h['java_peak_rss_mib']} MiB"
    rows.append(_row("HermiT consistency", h, str(h.get("seconds")), "", verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [f"{size_label(size)}: {r.get('triples')} triples in the store"]
    for k, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    for name, t in r["targets"].items():
        value = t.get("value_s", t.get("value_mib"))
        unit = "s" if "value_s" in t else "MiB"
        where = "" if t["applies_at_this_size"] else " (the target is for 1M)"
        lines.append(f"target {name}: {value} {unit}: {'met' if t['met'] else 'NOT met'}{where}")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "_child":
        child_main(*sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description="OWL RL reasoning: ours against references.")
    parser.add_argument("--triples", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--engine-timeout", type=float, default=600, help="seconds per engine run")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run of ours")
    parser.add_argument("--memory-cap-gib", type=float, default=12, help="RLIMIT_AS per child")
    parser.add_argument("--owlrl-max", type=int, default=100_000)
    parser.add_argument("--reasonable-max", type=int, default=300_000)
    parser.add_argument("--hermit-max", type=int, default=1_000_000)
    parser.add_argument("--java-heap-mib", type=int, default=6144, help="HermiT's -Xmx")
    parser.add_argument(
        "--check-max",
        type=int,
        default=1_000_000,
        help="compare the refreshed inferred graph with a full one up to this size",
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    for size in args.triples:
        result = run(size, args)
        out = RESULTS / f"reasoning-{size_label(size)}.json"
        out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(table(size, result), flush=True)
        print(f"-> {out.relative_to(ROOT)}\n", flush=True)


if __name__ == "__main__":
    main()
