# Helpers shared by all rule files (config validation, the step command, code tracking).
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from inflationary_flows.codedeps import source_closure
from inflationary_flows.config import (
    dataset_dim,
    dataset_names,
    load_schema,
    validate_config,
)

validate_config(
    config, load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
)

DATASETS = dataset_names(config)

# Rules run the repository's own source (`python -m inflationary_flows <step>`), with or
# without --use-conda.
shell.prefix(f"export PYTHONPATH={SRC}" + "${{PYTHONPATH:+:$PYTHONPATH}}; ")


def code(step_module):
    """Source files a step imports; editing any of them reruns the jobs that use it."""
    return list(source_closure(f"inflationary_flows.steps.{step_module}"))


def env(name):
    return str(Path(workflow.basedir) / "envs" / f"{name}.yaml")


def dataset_args(wildcards):
    """Command-line arguments describing one dataset, from the validated config."""
    name, data = wildcards.dataset, config["data"]
    if name == "digits":
        return f"--kind digits --test-fraction {data['digits_test_fraction']}"
    spec = data["embedded"].get(name, {"base": name, "dim": 0})
    return (
        f"--kind {spec['base']} --embed-dim {spec['dim']} "
        f"--n-train {data['n_train']} --n-test {data['n_test']}"
    )
