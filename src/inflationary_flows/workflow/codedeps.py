"""The package source files a command-line step runs, so the workflow can list them as inputs.

Snakemake reruns a job when an input is newer than its outputs. A rule lists the science in
the import closure of its step's module (:func:`tracked_sources`), so that editing the solver
reruns the flows and what follows, a figure module reruns its figures, and nothing else.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PACKAGE = PACKAGE_DIR.name


def _module_file(module: str) -> Path:
    rel = module.split(".")[1:]
    path = PACKAGE_DIR.joinpath(*rel)
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def direct_imports(module: str) -> set[str]:
    """The package modules that ``module`` names in its import statements (function-level
    imports included)."""
    file = _module_file(module)
    tree = ast.parse(file.read_text(), filename=str(file))
    is_pkg = file.name == "__init__.py"
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
                names = [target] + [f"{target}.{a.name}" for a in node.names]
            elif node.module and node.module.split(".")[0] == PACKAGE:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names if a.name.split(".")[0] == PACKAGE]
        else:
            continue
        found.update(n for n in names if _module_file(n).exists())
    return found


def _imports(module: str) -> set[str]:
    """Direct imports and the packages around them: importing a.b.c runs a.b's __init__ too
    (the figures' backend is set there)."""
    found = set()
    for name in direct_imports(module):
        parts = name.split(".")
        found.update(".".join(parts[:k]) for k in range(2, len(parts) + 1))
    return found


@cache
def source_closure(module: str) -> tuple[str, ...]:
    """Absolute paths of ``module`` and every package module it imports, transitively."""
    if not module.startswith(PACKAGE):
        module = f"{PACKAGE}.{module}"
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(_imports(current) - seen)
    return tuple(sorted(str(_module_file(m)) for m in seen))


# Plumbing that decides no number in any output: reading and writing files (a changed format
# fails loudly at the next read), provenance records, argument parsing (the device a rule
# chooses reaches its command line, a param), the version string. Editing these reruns nothing.
PLUMBING = frozenset({
    "__init__", "__main__", "cli", "io", "provenance", "state_files", "steps.__init__",
    "steps.common", "steps.device",
})


def tracked_sources(module: str) -> tuple[str, ...]:
    """:func:`source_closure` without :data:`PLUMBING`: the files whose edits rerun a step."""
    plumbing = {str(_module_file(f"{PACKAGE}.{m}")) for m in PLUMBING}
    return tuple(f for f in source_closure(module) if f not in plumbing)
