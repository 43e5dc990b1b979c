# Helpers shared by all rule files (config validation, the step command, code tracking).
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from inflationary_flows.codedeps import source_closure
import hashlib
import json
import shlex

from inflationary_flows.config import (
    dataset_dim,
    dataset_names,
    load_schema,
    toy_figures,
    toy_models,
    training_processes,
    validate_config,
)

validate_config(
    config, load_schema(Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
)

DATASETS = dataset_names(config)
SCHEDULES = list(config["schedules"])
TOY_MODELS = toy_models(config)
FIGURES = toy_figures(config)
POSTERIOR_MODELS = config["calibration"]["posterior"]["models"]
PR_DATASETS = config["calibration"]["pr_over_time"]["datasets"]
COVERAGE_MODELS = config["calibration"]["coverage"]["models"]
SOLVER_MODEL = config["calibration"]["solvers"]["model"]

# Rules run the repository's own source (`python -m inflationary_flows <step>`), with or
# without --use-conda.
shell.prefix(f"export PYTHONPATH={SRC}" + "${{PYTHONPATH:+:$PYTHONPATH}}; ")


def code(step_module):
    """Source files a step imports; editing any of them reruns the jobs that use it."""
    return list(source_closure(f"inflationary_flows.steps.{step_module}"))


def launcher(section, gpus):
    """How a training step starts: one Python process, or torchrun with several (DDP)."""
    procs = training_processes(section, gpus)
    if procs == 1:
        return "python -m inflationary_flows"
    # --standalone: a private rendezvous on a free localhost port, so jobs never collide
    return f"python -m torch.distributed.run --standalone --nproc-per-node {procs} -m inflationary_flows"


def slurm_resources(gpus=0):
    """sbatch partition and account of a job, from the config's slurm section (if set)."""
    slurm = config["slurm"]
    found = {
        "slurm_partition": (gpus and slurm["gpu_partition"]) or slurm["partition"],
        "slurm_account": slurm["account"],
    }
    return {key: value for key, value in found.items() if value}


def env(name):
    return str(Path(workflow.basedir) / "envs" / f"{name}.yaml")


def dataset_source(wildcards):
    """The user's file or folder a dataset is read from (none for generated ones)."""
    data = config["data"]
    if wildcards.dataset == "cifar10":
        return [data["cifar10"]["tarball"]]
    if wildcards.dataset in data["image_folders"]:
        return [data["image_folders"][wildcards.dataset]["folder"]]
    return []


def dataset_args(wildcards):
    """Command-line arguments describing one dataset, from the validated config."""
    name, data = wildcards.dataset, config["data"]
    if name == "digits":
        return f"--kind digits --test-fraction {data['digits_test_fraction']}"
    if name == "cifar10":
        cifar = data["cifar10"]
        return f"--kind cifar10 --source {shlex.quote(cifar['tarball'])} --md5 '{cifar['md5']}'"
    if name in data["image_folders"]:
        spec = data["image_folders"][name]
        return (
            f"--kind image_folder --source {shlex.quote(spec['folder'])} "
            f"--size {spec['size']} --test-fraction {spec['test_fraction']}"
        )
    spec = data["embedded"].get(name, {"base": name, "dim": 0})
    return (
        f"--kind {spec['base']} --embed-dim {spec['dim']} "
        f"--n-train {data['n_train']} --n-test {data['n_test']}"
    )


def json_arg(value):
    """A JSON value quoted for the shell (steps take structured options as JSON)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def derived_seed(*parts):
    """A per-job seed derived from the master seed and the job's identity."""
    text = ":".join([str(config["seed"]), *map(str, parts)])
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def model_spec(schedule, network):
    """The model spec a training step builds: schedule, backbone, input space."""
    backbone = {"kind": "mlp", **network}
    return json_arg(
        {
            "schedule": config["schedules"][schedule],
            "backbone": backbone,
            "space": "eigen",
        }
    )


def model_dataset(model):
    """The dataset of a toy model '<dataset>_<schedule>' (schedule names have no '_')."""
    return model.rsplit("_", 1)[0]


def figure_flows(figure):
    schedule = config["toys"]["figures"][figure]
    return [
        f"results/flows/toys/{d}_{schedule}.h5"
        for d in config["toys"]["models"][schedule]
    ]


def figure_title(figure):
    name = config["toys"]["figures"][figure]
    spec = config["schedules"][name]
    text = f"{spec['kind'].upper()} ({spec['form']} schedule, T = {spec['t_max']})"
    if spec["kind"] == "prr":
        text += f", {spec['g_mode']}" + (
            f" IG = {spec['inflation_gap']}" if spec["g_mode"] == "constant_gap" else ""
        )
    return shlex.quote(text)


def toy_targets():
    """Every output of the toy experiments the config asks for."""
    targets = expand("results/metrics/toys/{model}.json", model=TOY_MODELS)
    targets += expand("results/figures/{figure}.pdf", figure=FIGURES)
    targets += expand(
        "results/figures/animations/{model}_{direction}.gif",
        model=config["toys"]["animations"],
        direction=["inflation", "generation"],
    )
    return targets


def calibration_targets():
    """Outputs of the calibration analyses the config asks for."""
    targets = ["results/figures/fig1.pdf", "results/metrics/duality.json"]
    if POSTERIOR_MODELS:
        targets += ["results/figures/fig4.pdf", "results/metrics/hmc_calibration.json"]
    if PR_DATASETS:
        targets += ["results/figures/supp_pr.pdf", "results/metrics/pr_over_time.json"]
    if SOLVER_MODEL:
        targets += [
            "results/figures/supp_solvers.pdf",
            "results/metrics/solver_accuracy.json",
        ]
    if COVERAGE_MODELS:
        targets += ["results/figures/supp_coverage.pdf"]
        targets += expand(
            "results/metrics/coverage_{model}.json", model=COVERAGE_MODELS
        )
    if config["calibration"]["residuals"]["enabled"] and TOY_MODELS:
        targets += [
            "results/figures/supp_residuals.pdf",
            "results/metrics/residuals.json",
        ]
    return targets


def main_targets():
    """Everything the default run builds, but the provenance table that describes it."""
    return [
        "results/tables/participation_ratio.csv",
        *toy_targets(),
        *calibration_targets(),
    ]


def provenance_targets(wildcards=None):
    """The outputs the provenance table reads: the main targets and what they are made of."""
    made = expand("results/data/{dataset}.h5", dataset=DATASETS)
    made += expand("results/pca/{dataset}.h5", dataset=DATASETS)
    made += expand("results/models/toys/{model}.json", model=TOY_MODELS)
    made += expand("results/flows/toys/{model}.h5", model=TOY_MODELS)
    made += expand("results/posterior/{model}.h5", model=POSTERIOR_MODELS)
    return made + main_targets()
