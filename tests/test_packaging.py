"""The server runs from a plain install (`make run` installs no test extras), so every
third-party module that kg/ and api/ import must be a core dependency."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _imports() -> set[str]:
    found = set()
    for path in [*ROOT.glob("kg/*.py"), *ROOT.glob("api/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"kg", "api", "__future__"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_runtime_import_is_a_core_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    distributions = packages_distributions()
    missing = {}
    for module in sorted(_imports()):
        dists = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        if not dists & declared:
            missing[module] = sorted(dists)
    # Modules that arrive with a declared dependency (not imported by name in pyproject).
    transitive = {"starlette": "fastapi", "pydantic": "fastapi", "pyparsing": "rdflib"}
    missing = {m: d for m, d in missing.items() if transitive.get(m) not in declared}
    assert not missing, f"imported but not in [project.dependencies]: {missing}"
