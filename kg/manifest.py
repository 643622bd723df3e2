"""What the loader loads: the ontology modules (from the Protégé catalog) and the data
files listed in ``data/manifest.toml``.

A data file that is listed but missing or empty, or present under ``data/`` but not
listed, is an error, never a silent skip.
"""

from __future__ import annotations

import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from kg.errors import ManifestError
from kg.namespaces import ONTOLOGY_GRAPH, graph_iri

__all__ = ["DataFile", "Manifest", "read_manifest"]

_CATALOG_NS = "{urn:oasis:names:tc:entity:xmlns:xml:catalog}"


@dataclass(frozen=True)
class DataFile:
    """One file to load, and the named graph it goes to."""

    path: Path
    graph: str
    kind: str
    source: str | None = None


@dataclass(frozen=True)
class Manifest:
    root: Path
    ontology: tuple[DataFile, ...]
    data: tuple[DataFile, ...]

    @property
    def files(self) -> tuple[DataFile, ...]:
        return self.ontology + self.data


def read_manifest(root: Path) -> Manifest:
    """Read the ontology catalog and the data manifest of the project at ``root``."""
    return Manifest(root, _ontology_files(root / "ontology"), _data_files(root / "data"))


def _ontology_files(folder: Path) -> tuple[DataFile, ...]:
    catalog = folder / "catalog-v001.xml"
    aggregator = folder / "geokg.ttl"
    try:
        tree = ET.parse(catalog)
    except (OSError, ET.ParseError) as exc:
        raise ManifestError(f"cannot read ontology catalog: {exc}", path=catalog) from exc
    files = [aggregator]
    for uri in tree.getroot().iter(f"{_CATALOG_NS}uri"):
        files.append(folder / uri.attrib["uri"])
    listed = {f.resolve() for f in files}
    for f in sorted(folder.rglob("*.ttl")):
        if f.resolve() not in listed:
            raise ManifestError("ontology module not listed in catalog-v001.xml", path=f)
    for f in files:
        _check_file(f)
    return tuple(DataFile(f, ONTOLOGY_GRAPH, "ontology") for f in files)


def _data_files(folder: Path) -> tuple[DataFile, ...]:
    manifest = folder / "manifest.toml"
    try:
        doc = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"cannot read data manifest: {exc}", path=manifest) from exc
    entries = doc.get("file")
    if not isinstance(entries, list) or not entries:
        raise ManifestError("the manifest lists no [[file]] entries", path=manifest)
    files = []
    for i, entry in enumerate(entries):
        try:
            path = folder / entry["path"]
            files.append(
                DataFile(path, graph_iri(entry["graph"]), entry["kind"], entry.get("source"))
            )
        except (KeyError, TypeError) as exc:
            raise ManifestError(f"entry {i + 1} needs path, graph and kind", path=manifest) from exc
        _check_file(path)
    graphs = [f.graph for f in files]
    if len(set(graphs)) != len(graphs):
        raise ManifestError("two entries share a graph name", path=manifest)
    listed = {f.path.resolve() for f in files}
    for f in sorted(folder.rglob("*")):
        if (
            f.suffix in {".ttl", ".trig", ".nt", ".nq", ".jsonld", ".rdf"}
            and f.resolve() not in listed
        ):
            raise ManifestError("data file not listed in the manifest", path=f)
    return tuple(files)


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise ManifestError("listed file is missing", path=path)
    if path.stat().st_size == 0:
        raise ManifestError("listed file is empty", path=path)
