"""The jobs a validated config asks for: target lists, per-job inputs and command arguments.

Pure functions of the config (strings and lists out, no file access), so that the rule
files only bind them to wildcards and every choice here is unit-tested.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from ..tables import source_file
from .config import (
    dataset_names,
    density_family,
    embedded_specs,
    embedded_toys,
    figure_datasets,
    further_seeds,
    ig_sweep_variants,
    image_variants,
    is_image_set,
    model_training,
    replicate_base,
    replicate_models,
    table1_variants,
    table_models,
    toy_figures,
    toy_models,
    toy_schedule,
    training_processes,
)


def json_arg(value: Any) -> str:
    """A JSON value quoted for the shell (steps take structured options as JSON)."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def model_dataset(model: str) -> str:
    """The dataset of a model '<dataset>_<schedule>' (schedule names have no '_')."""
    return model.rsplit("_", 1)[0]


class Plan:
    """What a config builds. Attributes are the experiment lists the rules expand over."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        calibration, images = config["calibration"], config["images"]
        self.datasets = dataset_names(config)
        self.schedules = list(config["schedules"])
        self.toy_models = toy_models(config)
        # further training seeds of each toy model, '<model>-r<k>' (summary.csv aggregates)
        self.replicates = replicate_models(config)
        self.replicate_models = [r for rs in self.replicates.values() for r in rs]
        self.replicate_schedules = sorted({r.rsplit("_", 1)[1] for r in self.replicate_models})
        self.figures = toy_figures(config)
        self.posterior_models = calibration["posterior"]["models"]
        self.pr_datasets = calibration["pr_over_time"]["datasets"]
        self.prr_sweep_sets = calibration["prr_generation"]["datasets"]
        self.coverage_models = calibration["coverage"]["models"]
        self.solver_model = calibration["solvers"]["model"]
        self.embedded_sets = list(embedded_toys(config))
        self.image_sets = images["datasets"]
        self.image_variants = image_variants(config)
        self.image_models = [f"{d}_{v}" for d in self.image_sets for v in self.image_variants]
        self.figure_set = images["figure"]["dataset"] or (self.image_sets or ["none"])[0]
        self.figure_variants = ["prp"] + [f"prr{d}" for d in images["figure"]["dims_to_keep"]]
        self.table_models = table_models(config)
        self.density_models = calibration["density"]["models"]
        self.cross_fit_models = calibration["cross_fit"]["models"]
        self.spectra_sets = [d for d in self.datasets if is_image_set(config, d)]
        # every toy model, and the digits models (small enough for the exact empirical
        # denoiser on the CPU) but their further training seeds
        self.residual_models = [("toys", m) for m in self.toy_models] + [
            ("images", m) for m in self.image_models
            if m.startswith("digits_") and replicate_base(m) == m]

    def schedule_pattern(self) -> str:
        """The {schedule} wildcard: toy schedule names and their further seeds (prp-r<k>),
        and image variants (prp, prr<d>, prr<d>-ig<IG>)."""
        names = [*self.schedules, *self.replicate_schedules, *self.image_variants]
        return "|".join(map(re.escape, names)) or "none"

    # --- targets -------------------------------------------------------------------------

    def toy_targets(self) -> list[str]:
        animations = self.config["toys"]["animations"]
        targets = ([f"results/metrics/toys/{m}.json" for m in self.toy_models]
                   + [f"results/figures/{f}.pdf" for f in self.figures]
                   + [f"results/figures/animations/{m}_{d}.gif"
                      for m in animations for d in ("inflation", "generation")])
        targets += [f"results/metrics/toys/{m}.json" for m in self.replicate_models]
        if self.toy_models and self.config["calibration"]["reference"]["enabled"]:
            # each model beside its exact-score reference (which the table reads)
            targets.append("results/tables/summary.csv")
        return targets

    def calibration_targets(self) -> list[str]:
        targets = ["results/figures/fig1.pdf", "results/metrics/duality.json"]
        if self.posterior_models:
            targets += ["results/figures/fig4.pdf", "results/metrics/hmc_calibration.json"]
        if self.pr_datasets:
            targets += ["results/figures/supp_pr.pdf", "results/metrics/pr_over_time.json"]
        if self.prr_sweep_sets:
            targets += ["results/figures/supp_prr.pdf", "results/metrics/prr_generation.json"]
        if self.solver_model:
            targets += ["results/figures/supp_solvers.pdf",
                        "results/metrics/solver_accuracy.json"]
        if self.coverage_models:
            targets += ["results/figures/supp_coverage.pdf"]
            targets += [f"results/metrics/coverage_{m}.json" for m in self.coverage_models]
        if self.embedded_sets:
            targets += ["results/figures/supp_embedded.pdf", "results/metrics/embedded.json"]
        if self.config["calibration"]["residuals"]["enabled"] and self.residual_models:
            targets += ["results/figures/supp_residuals.pdf", "results/metrics/residuals.json"]
        return targets

    def image_targets(self) -> list[str]:
        targets = ["results/figures/supp_spectra.pdf"] if self.spectra_sets else []
        if not self.image_sets:
            return targets
        targets += ["results/figures/fig5.pdf", "results/tables/table1.csv"]
        if self.config["images"]["ig_sweep"]["inflation_gaps"]:
            targets.append("results/tables/table_ig_sweep.csv")
        return targets

    def table_targets(self) -> list[str]:
        """Your own data: a figure per table with models, the density benchmark and the
        cross-fitted calibrations."""
        targets = [f"results/figures/tables/{d}.pdf" for d in self.table_models]
        targets += [f"results/metrics/cross_fit/{m}.json" for m in self.cross_fit_models]
        if self.density_models:
            targets.append("results/tables/density_benchmark.csv")
        return targets

    def main_targets(self) -> list[str]:
        """Everything the default run builds, but the provenance table that describes it."""
        return ["results/tables/participation_ratio.csv", *self.toy_targets(),
                *self.calibration_targets(), *self.image_targets(), *self.table_targets()]

    def provenance_targets(self) -> list[str]:
        """The outputs the provenance table reads: the main targets and what they are made of."""
        schedule = self.config["calibration"]["embedded"]["schedule"]
        toys = list(dict.fromkeys(self.toy_models + self.replicate_models
                                  + [f"{d}_{schedule}" for d in self.embedded_sets]))
        made = [f"results/{kind}/{d}.h5" for kind in ("data", "pca") for d in self.datasets]
        made += [f"results/models/toys/{m}.json" for m in toys]
        made += [f"results/flows/toys/{m}.h5" for m in toys]
        made += [f"results/posterior/{m}.h5" for m in self.posterior_models]
        made += [f"results/models/images/{m}.json" for m in self.image_models]
        made += [f"results/flows/images/{m}.h5" for m in self.image_models]
        made += [f"results/metrics/images/{m}.json" for m in self.image_models]
        if "results/tables/summary.csv" in self.toy_targets():
            made += [f"results/metrics/toys/{m}_exact.json" for m in self.toy_models]
        return made + self.main_targets()

    # --- inputs --------------------------------------------------------------------------

    def dataset_source(self, dataset: str) -> list[str]:
        """The user's file or folder a dataset is read from (none for generated ones)."""
        data = self.config["data"]
        if dataset == "cifar10":
            return [data["cifar10"]["tarball"]]
        if dataset in data["image_folders"]:
            return [data["image_folders"][dataset]["folder"]]
        if dataset in data["tables"]:
            found = source_file(data["tables"][dataset]["path"])
            return [found] if found else []
        return []

    def figure_flows(self, figure: str) -> list[str]:
        schedule = self.config["toys"]["figures"][figure]
        return [f"results/flows/toys/{d}_{schedule}.h5"
                for d in figure_datasets(self.config, figure)]

    def image_metrics_inputs(self, dataset: str, variant: str) -> dict[str, str]:
        found = {"flow": f"results/flows/images/{dataset}_{variant}.h5",
                 "data": f"results/data/{dataset}.h5"}
        if dataset == "digits":
            found["classifier"] = "results/models/classifier/digits.pt"
            found["classifier_spec"] = "results/models/classifier/digits.json"
            # small enough for the exact empirical score: calibration checks beside it
            found["weights"] = f"results/models/images/{dataset}_{variant}.pt"
            found["spec"] = f"results/models/images/{dataset}_{variant}.json"
            found["pca"] = f"results/pca/{dataset}.h5"
        return found

    def image_table_inputs(self, table: str) -> dict[str, list[str]]:
        variants = (table1_variants(self.config) if table == "table1"
                    else ig_sweep_variants(self.config))
        models = [f"{d}_{v}" for d in self.image_sets for v in variants]
        found = {"metrics": [f"results/metrics/images/{m}.json" for m in models]}
        seeds = [s for m in models for s in further_seeds(m, self.config["images"]["replicates"])]
        if table == "table1" and seeds:
            found["replicates"] = [f"results/metrics/images/{s}.json" for s in seeds]
        fid = [f"results/metrics/images/{m}_fid.json" for m in models
               if self.with_fid(model_dataset(m))]
        return found | ({"fid": fid} if fid else {})

    def density_inputs(self) -> dict[str, list[str]]:
        models = [f"results/models/{density_family(self.config, m)}/{m}"
                  for m in self.density_models]
        return {"weights": [f"{m}.pt" for m in models],
                "specs": [f"{m}.json" for m in models],
                "data": [f"results/data/{model_dataset(m)}.h5" for m in self.density_models]}

    def with_fid(self, dataset: str) -> bool:
        """FID is computed for RGB sets when a weights file is configured (digits: Frechet)."""
        return dataset != "digits" and bool(self.config["images"]["fid"]["weights"])

    def fid_weights(self) -> list[str]:
        """The Inception weights file FID reads, as an input list (none when FID is off)."""
        weights = self.config["images"]["fid"]["weights"]
        return [weights] if weights else []

    # --- arguments -----------------------------------------------------------------------

    def table_args(self, table: str) -> str:
        """How a table's rows are read and preprocessed (the dataset and cross-fit steps)."""
        spec = self.config["data"]["tables"][table]
        return (f"--source {shlex.quote(spec['path'])} --columns {json_arg(spec['columns'])} "
                f"--transform {spec['transform']} "
                + ("--standardize" if spec["standardize"] else "--no-standardize"))

    def dataset_args(self, dataset: str) -> str:
        """Command-line arguments describing one dataset."""
        data = self.config["data"]
        if dataset == "digits":
            return f"--kind digits --test-fraction {data['digits_test_fraction']}"
        if dataset == "cifar10":
            cifar = data["cifar10"]
            return (f"--kind cifar10 --source {shlex.quote(cifar['tarball'])} "
                    f"--md5 '{cifar['md5']}'")
        if dataset in data["image_folders"]:
            spec = data["image_folders"][dataset]
            return (f"--kind image_folder --source {shlex.quote(spec['folder'])} "
                    f"--size {spec['size']} --test-fraction {spec['test_fraction']}")
        if dataset in data["tables"]:
            return (f"--kind table --test-fraction {data['tables'][dataset]['test_fraction']} "
                    + self.table_args(dataset))
        spec = embedded_specs(self.config).get(dataset, {"base": dataset, "dim": 0})
        return (f"--kind {spec['base']} --embed-dim {spec['dim']} "
                f"--curvature {spec.get('curvature', 0.0)} --noise {spec.get('noise', 0.0)} "
                f"--n-train {data['n_train']} --n-test {data['n_test']}")

    def seed(self, *parts: Any) -> int:
        """A per-job seed derived from the master seed and the job's identity."""
        text = ":".join([str(self.config["seed"]), *map(str, parts)])
        return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)

    def model_spec(self, family: str, dataset: str, schedule: str) -> str:
        """The model spec a training step builds: schedule, backbone, input space and, for
        the image models of images.low_t, its low-t network."""
        if family == "toys":
            sched = toy_schedule(self.config, dataset, schedule)
            backbone, space = {"kind": "mlp", **self.config["toys"]["network"]}, "eigen"
            return json_arg({"schedule": sched, "backbone": backbone, "space": space})
        images, low_t = self.config["images"], self.config["images"]["low_t"]
        spec = {"schedule": self.image_variants[schedule],
                "backbone": {"kind": images["backbone"], **images[images["backbone"]]},
                "space": images["space"]}
        if f"{dataset}_{replicate_base(schedule)}" in low_t["models"]:
            spec["low_t"] = {"backbone": {"kind": "unet", **low_t["unet"]}, "space": "data",
                             "ramp": low_t["ramp"], "steps": low_t["steps"]}
        return json_arg(spec)

    def flow_rows(self, family: str, dataset: str, schedule: str) -> dict[str, int]:
        """Held-out rows a model's flow step inflates and samples it generates. A toy model
        that only the embedded analysis reads (its recorded inflation trajectories) inflates
        and generates no more rows than it records."""
        cfg = self.config[family]
        rows = {"n_eval": cfg["n_eval"], "n_generate": cfg["n_generate"]}
        measured = self.toy_models + self.replicate_models  # toy_metrics reads their flows
        embedded_only = (family == "toys" and dataset in self.embedded_sets
                         and f"{dataset}_{schedule}" not in measured)
        if embedded_only and cfg["n_trajectories"]:
            rows = {k: min(v, cfg["n_trajectories"]) for k, v in rows.items()}
        return rows

    def training(self, family: str, dataset: str, schedule: str) -> str:
        """The training config a training step gets (an image model's own keys, a table's
        validation split added)."""
        return json_arg(model_training(self.config, family, dataset, schedule))

    def variant_label(self, variant: str) -> str:
        spec = self.image_variants[variant]
        if spec["kind"] == "prp":
            return "PRP"
        return f"PRR d = {spec['dims_to_keep']}, IG = {spec['inflation_gap']:g}"

    def launcher(self, family: str, gpus: int) -> str:
        """How a training step starts: one Python process, or torchrun with several (DDP)."""
        procs = training_processes(self.config[family], gpus)
        if procs == 1:
            return "python -m inflationary_flows"
        # --standalone: a private rendezvous on a free localhost port, so jobs never collide
        return ("python -m torch.distributed.run --standalone "
                f"--nproc-per-node {procs} -m inflationary_flows")
