# Helpers shared by all rule files (config validation, the step command, code tracking).
import sys
from pathlib import Path

SRC = Path(workflow.basedir) / "src"
sys.path.insert(0, str(SRC))

from inflationary_flows.workflow.codedeps import tracked_sources
from inflationary_flows.sources import fingerprint
from inflationary_flows.tables import source_file
import hashlib
import json
import shlex

from inflationary_flows.workflow.config import (
    dataset_dim,
    dataset_names,
    embedded_specs,
    density_family,
    embedded_toys,
    figure_datasets,
    ig_sweep_variants,
    image_variants,
    is_image_set,
    load_schema,
    table1_variants,
    table_models,
    toy_schedule,
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
EMBEDDED_SETS = list(embedded_toys(config))
IMAGE_SETS = config["images"]["datasets"]
IMAGE_VARIANTS = image_variants(config)
IMAGE_MODELS = [f"{d}_{v}" for d in IMAGE_SETS for v in IMAGE_VARIANTS]
FIGURE_SET = config["images"]["figure"]["dataset"] or (IMAGE_SETS or ["none"])[0]
FIGURE_VARIANTS = ["prp"] + [
    f"prr{d}" for d in config["images"]["figure"]["dims_to_keep"]
]
TABLE_MODELS = table_models(config)
DENSITY_MODELS = config["calibration"]["density"]["models"]
SPECTRA_SETS = [d for d in DATASETS if is_image_set(config, d)]
# the residual analysis: every toy model, and the digits models (small enough for the exact
# empirical reference denoiser on the CPU)
RESIDUAL_MODELS = [("toys", m) for m in TOY_MODELS]
RESIDUAL_MODELS += [("images", m) for m in IMAGE_MODELS if m.startswith("digits_")]

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


def launcher(section, gpus):
    """How a training step starts: one Python process, or torchrun with several (DDP)."""
    procs = training_processes(section, gpus)
    if procs == 1:
        return "python -m inflationary_flows"
    # --standalone: a private rendezvous on a free localhost port, so jobs never collide
    return f"python -m torch.distributed.run --standalone --nproc-per-node {procs} -m inflationary_flows"


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


def env(name):
    return str(Path(workflow.basedir) / "envs" / f"{name}.yaml")


def dataset_source(wildcards):
    """The user's file or folder a dataset is read from (none for generated ones)."""
    data = config["data"]
    if wildcards.dataset == "cifar10":
        return [data["cifar10"]["tarball"]]
    if wildcards.dataset in data["image_folders"]:
        return [data["image_folders"][wildcards.dataset]["folder"]]
    if wildcards.dataset in data["tables"]:
        found = source_file(data["tables"][wildcards.dataset]["path"])
        return [found] if found else []
    return []


def source_fingerprint(paths):
    """A params value that changes whenever the user's files at ``paths`` change (added,
    removed or replaced, even with an older mtime), which their mtimes as inputs miss.
    """
    return " ".join(fingerprint(p) for p in paths)


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
    if name in data["tables"]:
        spec = data["tables"][name]
        return (
            f"--kind table --source {shlex.quote(spec['path'])} "
            f"--columns {json_arg(spec['columns'])} --test-fraction {spec['test_fraction']} "
            + ("--standardize" if spec["standardize"] else "--no-standardize")
        )
    spec = embedded_specs(config).get(name, {"base": name, "dim": 0})
    return (
        f"--kind {spec['base']} --embed-dim {spec['dim']} "
        f"--curvature {spec.get('curvature', 0.0)} --noise {spec.get('noise', 0.0)} "
        f"--n-train {data['n_train']} --n-test {data['n_test']}"
    )


def json_arg(value):
    """A JSON value quoted for the shell (steps take structured options as JSON)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def derived_seed(*parts):
    """A per-job seed derived from the master seed and the job's identity."""
    text = ":".join([str(config["seed"]), *map(str, parts)])
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def model_spec(family, dataset, schedule):
    """The model spec a training step builds: schedule, backbone, input space."""
    if family == "toys":
        sched = toy_schedule(config, dataset, schedule)
        backbone, space = {"kind": "mlp", **config["toys"]["network"]}, "eigen"
    else:
        images = config["images"]
        sched = IMAGE_VARIANTS[schedule]
        backbone = {"kind": images["backbone"], **images[images["backbone"]]}
        space = images["space"]
    return json_arg({"schedule": sched, "backbone": backbone, "space": space})


def variant_label(variant):
    spec = IMAGE_VARIANTS[variant]
    if spec["kind"] == "prp":
        return "PRP"
    return f"PRR d = {spec['dims_to_keep']}, IG = {spec['inflation_gap']:g}"


def with_fid(dataset):
    """FID is computed for RGB sets when a weights file is configured (digits: Frechet)."""
    return dataset != "digits" and bool(config["images"]["fid"]["weights"])


def fid_weights():
    """The Inception weights file FID reads, as an input list (none when FID is off)."""
    weights = config["images"]["fid"]["weights"]
    return [weights] if weights else []


def image_metrics_inputs(wildcards):
    found = {
        "flow": f"results/flows/images/{wildcards.dataset}_{wildcards.schedule}.h5",
        "data": f"results/data/{wildcards.dataset}.h5",
    }
    if wildcards.dataset == "digits":
        found["classifier"] = "results/models/classifier/digits.pt"
        found["classifier_spec"] = "results/models/classifier/digits.json"
    return found


def image_table_inputs(wildcards):
    variants = (
        table1_variants(config)
        if wildcards.table == "table1"
        else ig_sweep_variants(config)
    )
    models = [f"{d}_{v}" for d in IMAGE_SETS for v in variants]
    found = {"metrics": [f"results/metrics/images/{m}.json" for m in models]}
    fid = [
        f"results/metrics/images/{m}_fid.json"
        for m in models
        if with_fid(model_dataset(m))
    ]
    return found | ({"fid": fid} if fid else {})


def image_targets():
    """Outputs of the image experiments the config asks for."""
    targets = ["results/figures/supp_spectra.pdf"] if SPECTRA_SETS else []
    if not IMAGE_SETS:
        return targets
    targets += ["results/figures/fig5.pdf", "results/tables/table1.csv"]
    if config["images"]["ig_sweep"]["inflation_gaps"]:
        targets.append("results/tables/table_ig_sweep.csv")
    return targets


def model_dataset(model):
    """The dataset of a toy model '<dataset>_<schedule>' (schedule names have no '_')."""
    return model.rsplit("_", 1)[0]


def figure_flows(figure):
    schedule = config["toys"]["figures"][figure]
    return [
        f"results/flows/toys/{d}_{schedule}.h5" for d in figure_datasets(config, figure)
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
    if EMBEDDED_SETS:
        targets += [
            "results/figures/supp_embedded.pdf",
            "results/metrics/embedded.json",
        ]
    if config["calibration"]["residuals"]["enabled"] and RESIDUAL_MODELS:
        targets += [
            "results/figures/supp_residuals.pdf",
            "results/metrics/residuals.json",
        ]
    return targets


def table_targets():
    """Your own data: a figure per table with models, and the density benchmark."""
    targets = expand("results/figures/tables/{dataset}.pdf", dataset=TABLE_MODELS)
    if DENSITY_MODELS:
        targets.append("results/tables/density_benchmark.csv")
    return targets


def density_inputs(wildcards=None):
    models = [f"results/models/{density_family(config, m)}/{m}" for m in DENSITY_MODELS]
    return {
        "weights": [f"{m}.pt" for m in models],
        "specs": [f"{m}.json" for m in models],
        "data": [f"results/data/{model_dataset(m)}.h5" for m in DENSITY_MODELS],
    }


def main_targets():
    """Everything the default run builds, but the provenance table that describes it."""
    return [
        "results/tables/participation_ratio.csv",
        *toy_targets(),
        *calibration_targets(),
        *image_targets(),
        *table_targets(),
    ]


def provenance_targets(wildcards=None):
    """The outputs the provenance table reads: the main targets and what they are made of."""
    made = expand("results/data/{dataset}.h5", dataset=DATASETS)
    made += expand("results/pca/{dataset}.h5", dataset=DATASETS)
    embedded = [
        f"{d}_{config['calibration']['embedded']['schedule']}" for d in EMBEDDED_SETS
    ]
    toy_models = list(dict.fromkeys(TOY_MODELS + embedded))
    made += expand("results/models/toys/{model}.json", model=toy_models)
    made += expand("results/flows/toys/{model}.h5", model=toy_models)
    made += expand("results/posterior/{model}.h5", model=POSTERIOR_MODELS)
    made += expand("results/models/images/{model}.json", model=IMAGE_MODELS)
    made += expand("results/flows/images/{model}.h5", model=IMAGE_MODELS)
    made += expand("results/metrics/images/{model}.json", model=IMAGE_MODELS)
    return made + main_targets()
