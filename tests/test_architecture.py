"""The package's shape: imports point one way, and an edit reruns only the rules it affects."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, job_counts, snakemake

from inflationary_flows.cli import STEPS
from inflationary_flows.workflow.codedeps import PACKAGE, PACKAGE_DIR, direct_imports

# What each layer may import (besides itself): the core knows nothing above it; analyses
# use the core; figures draw what analyses compute; steps tie everything to files. The
# parse-time package (workflow/) sees only the core, so the Snakefile never imports torch-heavy
# analyses.
ALLOWED = {
    "core": {"core"},
    "workflow": {"core"},
    "analyses": {"core"},
    "figures": {"core", "analyses"},
    "steps": {"core", "analyses", "figures", "workflow"},
    "cli": {"core"},
}


def layer(module: str) -> str:
    parts = module.split(".")[1:] or ["__init__"]
    if parts[0] in ("analyses", "figures", "workflow", "steps"):
        return parts[0]
    if parts[0] in ("cli", "__main__"):
        return "cli"
    return "core"  # the flat modules and backbones/


def all_modules() -> list[str]:
    return sorted(
        ".".join([PACKAGE, *p.relative_to(PACKAGE_DIR).with_suffix("").parts])
        .removesuffix(".__init__")
        for p in PACKAGE_DIR.rglob("*.py")
    )


def violations(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{m} ({layer(m)}) imports {t} ({layer(t)})"
        for m, targets in graph.items()
        for t in targets
        if layer(t) != layer(m) and layer(t) not in ALLOWED[layer(m)]
    )


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def package_graph() -> dict[str, set[str]]:
    return {m: {t for t in direct_imports(m) if t in MODULES} for m in MODULES}


MODULES = all_modules()


def test_the_checks_see_a_bad_import_and_a_cycle():
    bad = {"inflationary_flows.flow": {"inflationary_flows.analyses.metrics"},
           "inflationary_flows.analyses.metrics": {"inflationary_flows.flow"}}
    assert violations(bad) == [
        "inflationary_flows.flow (core) imports inflationary_flows.analyses.metrics (analyses)"]
    assert cycles(bad) == [sorted(bad)]


def test_imports_point_from_steps_to_figures_to_analyses_to_the_core():
    graph = package_graph()
    assert len(graph) > 60 and sum(map(len, graph.values())) > 150  # the real package
    assert violations(graph) == []


def test_no_import_cycles():
    assert cycles(package_graph()) == []


def test_the_snakefiles_package_imports_no_torch():
    """The config checks (workflow/) run the train step's own checks through the torch-free
    train_config: parsing the Snakefile loads no torch."""
    code = ("import sys, inflationary_flows.workflow.config, inflationary_flows.workflow.plan; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == "[]"


def _retime(path: Path, text: str, mtime: float) -> None:
    path.write_text(text)
    os.utime(path, (mtime, mtime))


EDITS = {
    # the PCA reruns what reads it (the exact-score builder of duality and residuals fits one)
    "pca.py": {"pca", "train", "flow", "toy_metrics", "toy_figure", "toy_animation",
               "participation_ratio_table", "residuals", "toy_exact_metrics", "summary_table",
               "duality"},
    # the solver reruns flows and what follows them, the analyses that build an exact-score
    # flow, and training: the trajectory penalty trains on states of the model's own flow
    "solvers.py": {"train", "flow", "toy_metrics", "toy_figure", "toy_animation", "duality",
                   "toy_exact_metrics", "summary_table", "residuals"},
    "flow.py": {"train", "flow", "toy_metrics", "toy_figure", "toy_animation", "duality",
                "toy_exact_metrics", "summary_table", "residuals"},
    # retraining does not redo the exact-score reference (it never reads the model)
    "training.py": {"train", "flow", "toy_metrics", "toy_figure", "toy_animation", "residuals",
                    "summary_table"},
    "train_config.py": {"train", "flow", "toy_metrics", "toy_figure", "toy_animation",
                        "residuals", "summary_table"},
    # a figure module reruns its figures only
    "figures/toys.py": {"toy_figure", "toy_animation"},
    "figures/common.py": {"toy_figure", "toy_animation", "residuals", "duality"},
    "analyses/metrics.py": {"toy_metrics", "toy_exact_metrics", "summary_table"},
    # plumbing reruns nothing
    "io.py": set(),
    "provenance.py": set(),
    "steps/common.py": set(),
    "steps/device.py": set(),
}


@pytest.mark.workflow
def test_an_edit_reruns_exactly_the_rules_it_affects(tmp_path):
    # a copy of the repository, so that the edits cannot touch the real source
    copy = tmp_path / "repo"
    copy.mkdir()
    for part in ("Snakefile", "config.yaml", "workflow", "src", "envs"):
        (shutil.copytree if (REPO / part).is_dir() else shutil.copy)(REPO / part, copy / part)
    work = tmp_path / "work"
    config = {"data": {"toys": ["circles"], "digits": False, "n_train": 200, "n_test": 40},
              "toys": {"models": {"prp": ["circles"], "prr": []}, "figures": {"fig2": "prp"},
                       "animations": ["circles_prp"], "n_eval": 20, "n_generate": 20,
                       "n_trajectories": 10, "frames": 5, "snapshots": 3,
                       "network": {"width": 8, "depth": 1, "time_features": 2},
                       "training": {"steps": 4, "batch_size": 32, "stable_target_size": 16,
                                    "warmup_steps": 1, "checkpoint_every": 4},
                       "solver": {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3}},
              "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                              "prr_generation": {"datasets": []},
                              "coverage": {"models": []}, "solvers": {"model": ""},
                              "density": {"models": []},
                              "cross_fit": {"models": []}, "embedded": {"base": ""}},
              "images": {"datasets": []}}
    snakemake(work, config=config, snakefile=copy / "Snakefile")
    found = {}
    for module in EDITS:
        path = copy / "src" / PACKAGE / module
        text, mtime = path.read_text(), path.stat().st_mtime
        path.write_text(text + "# an edit\n")
        try:
            proc = snakemake(work, "--dry-run", config=config, snakefile=copy / "Snakefile")
        finally:
            _retime(path, text, mtime)
        nothing = "Nothing to be done" in proc.stdout + proc.stderr
        found[module] = set() if nothing else set(job_counts(proc)) - {"all", "provenance_table"}
    assert found == EDITS


def test_rule_step_and_module_names_line_up():
    """Rule `toy_figure` runs step `toy-figure`, whose code is `steps/toy_figure.py`."""
    rules = {}
    for path in sorted((REPO / "workflow/rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule )", path.read_text())[1:]:
            name = re.match(r"rule (\w+):", block).group(1)
            rules[name] = (re.findall(r'code\("(\w+)"\)', block),
                           re.findall(r"python -m inflationary_flows ([\w-]+)", block))
    assert len(rules) > 20
    for name, (codes, steps) in rules.items():
        assert codes == [name], name
        assert steps in ([name.replace("_", "-")], []), name  # train runs through a launcher
    modules = {p.stem for p in (PACKAGE_DIR / "steps").glob("*.py")} - {"__init__", "common",
                                                                     "device", "replicates"}
    assert {s.replace("-", "_") for s in STEPS} == modules
    assert {r for r in rules} <= modules
