# Snakemake glue shared by all the rule files (config validation, the plan of jobs, the step
# command's environment, code tracking, resources). The decisions are in
# inflationary_flows.workflow (plan.py, config.py), pure Python with unit tests.
import shlex
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from inflationary_flows.sources import fingerprint
from inflationary_flows.workflow.codedeps import tracked_sources
from inflationary_flows.workflow.config import (
    figure_datasets,
    load_schema,
    toy_schedule,
    validate_config,
)
from inflationary_flows.workflow.plan import Plan, json_arg, model_dataset

validate_config(
    config, load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
)
PLAN = Plan(config)

# Rules run the repository's own source (`python -m inflationary_flows <step>`), with or
# without --use-conda. The path is quoted (a checkout in "my repo" would otherwise export
# PYTHONPATH=.../my and run another installed copy) and braces doubled for Snakemake's
# formatting of the prefix. A prefix replaces Snakemake's default `set -euo pipefail`: it is
# restored, so that a failing export stops the job instead of passing silently.
_SRC_QUOTED = shlex.quote(str(SRC)).replace("{", "{{").replace("}", "}}")
shell.prefix(
    f"set -euo pipefail; export PYTHONPATH={_SRC_QUOTED}"
    + '"${{PYTHONPATH:+:$PYTHONPATH}}"; '
)


def code(step_module):
    """Source files a step imports; editing any of them reruns the jobs that use it."""
    return list(tracked_sources(f"inflationary_flows.steps.{step_module}"))


def slurm_resources(gpus=0):
    """sbatch partition and account of a job, from the config's slurm section (if set);
    ``gpus`` is a job's GPU count, or a function of its wildcards."""
    slurm = config["slurm"]
    found = {"slurm_account": slurm["account"]} if slurm["account"] else {}
    if slurm["partition"] or slurm["gpu_partition"]:
        # "" leaves the partition to the cluster (the plugin skips an empty value)
        pick = lambda n: (n and slurm["gpu_partition"]) or slurm["partition"]
        found["slurm_partition"] = (
            (lambda w: pick(gpus(w))) if callable(gpus) else pick(gpus)
        )
    return found


def flow_gpus(family):
    """GPUs of a flow job: one for an image model where images train on GPUs (50 000 Heun
    samples of a UNet); toy and table flows (dopri5 on a small MLP) stay on the CPUs."""
    return min(1, config[family]["gpu"]) if family == "images" else 0


def env(name):
    return str(Path(workflow.basedir) / "envs" / f"{name}.yaml")


def source_fingerprint(paths):
    """A params value that changes whenever the user's files at ``paths`` change (added,
    removed or replaced, even with an older mtime), which their mtimes as inputs miss.
    """
    return " ".join(fingerprint(p) for p in paths)
