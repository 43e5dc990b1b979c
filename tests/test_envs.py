"""Every conda env parses, is pinned, and lists what the steps of its rules import."""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from inflationary_flows.workflow.codedeps import source_closure

# import name -> conda-forge package name, where they differ
CONDA_NAME = {"sklearn": "scikit-learn", "yaml": "pyyaml", "torch": "pytorch",
              "PIL": "pillow", "pyro": "pyro-ppl", "torch_fidelity": "torch-fidelity"}
RULE = re.compile(r"^rule (\w+):(.*?)(?=^rule |\Z)", re.S | re.M)


def rules_with_steps():
    """(rule, step module, env name) for every rule that runs a step."""
    found = []
    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for name, body in RULE.findall(smk.read_text()):
            step = re.search(r'code\("(\w+)"\)', body)
            env = re.search(r'env\("(\w+)"\)', body)
            assert env, f"rule {name} in {smk.name} has no conda env"
            if step:
                found.append((name, step.group(1), env.group(1)))
    return found


def third_party_imports(files):
    names = set()
    for file in files:
        for node in ast.walk(ast.parse(Path(file).read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "inflationary_flows"}


def env_packages(name):
    spec = yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())
    packages = {}
    for dep in spec["dependencies"]:
        if isinstance(dep, str):
            pkg, _, version = dep.partition("=")
            packages[pkg] = version
    return spec, packages


@pytest.mark.parametrize("env_file", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.stem)
def test_env_parses_and_pins(env_file):
    spec, packages = env_packages(env_file.stem)
    assert "conda-forge" in spec["channels"]
    assert packages.get("python"), "python must be pinned"
    for pkg, version in packages.items():
        assert version, f"{env_file.name}: {pkg} is not pinned"


@pytest.mark.parametrize(("rule", "step", "env"), rules_with_steps(), ids=lambda v: str(v))
def test_env_lists_what_the_rule_imports(rule, step, env):
    _, packages = env_packages(env)
    imports = third_party_imports(source_closure(f"steps.{step}"))
    missing = {CONDA_NAME.get(i, i) for i in imports} - set(packages)
    assert not missing, f"rule {rule}: env {env}.yaml lacks {sorted(missing)}"
