"""Configuration checking: a JSON schema (draft 2020-12) plus the checks a schema cannot say.

Used by the Snakefile at parse time, so it imports nothing heavy. Errors are one line that
names the offending key and what is allowed.
"""

from __future__ import annotations

import copy
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ..spec import resolve_dims_to_keep
from ..tables import table_dim
from ..train_config import TrainConfig


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key."""


def _filling_validator(schema: Mapping[str, Any]):
    """A draft 2020-12 validator that also fills in every schema default. jsonschema is
    imported here so that steps needing only the helpers below do not depend on it."""
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 3.0 as an integer; a step count or a size must be written as one
    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))

    def set_defaults(validator, properties, instance, sub_schema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from Draft202012Validator.VALIDATORS["properties"](
            validator, properties, instance, sub_schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults},
                             type_checker=checker)(schema)


def load_schema(path: str | Path) -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text())


def _key(error) -> str:
    parts = [str(p) for p in error.absolute_path]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        parts.append(extra[0] if extra else "?")
    if error.validator == "required":
        parts.append(error.message.split("'")[1])
    return ".".join(parts) or "<top level>"


def _allowed(error) -> str:
    schema = error.schema
    if error.validator == "additionalProperties":
        return "allowed keys here: " + ", ".join(schema.get("properties", {}))
    hints = []
    if "enum" in schema and error.validator != "enum":  # the enum message lists them already
        hints.append("one of " + ", ".join(map(str, schema["enum"])))
    if "type" in schema:
        hints.append(f"type {schema['type']}")
    for word, symbol in (("minimum", ">="), ("exclusiveMinimum", ">"),
                         ("maximum", "<="), ("exclusiveMaximum", "<")):
        if word in schema:
            hints.append(f"{symbol} {schema[word]}")
    return "allowed: " + ", ".join(hints) if hints else ""


def validate_config(config: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``config`` against ``schema`` and the cross-key rules; fill defaults in place."""
    from jsonschema.exceptions import best_match

    _check_finite(config)
    error = best_match(_filling_validator(schema).iter_errors(config))
    if error is not None:
        allowed = _allowed(error)
        raise ConfigError(
            f"config key '{_key(error)}': {error.message}" + (f" ({allowed})" if allowed else "")
        )
    _check_cross_keys(config)
    _check_memory(config)
    return config


def _check_finite(node: Any, where: tuple[str, ...] = ()) -> None:
    """Reject YAML's .nan and .inf first: they pass every schema bound (any comparison with
    NaN is false), and a NaN rate or tolerance trains to nothing or hangs a solver."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(f"config key '{'.'.join(where) or '<top level>'}': {node} is not a "
                          "finite number")
    items = node.items() if isinstance(node, Mapping) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        _check_finite(value, (*where, str(key)))


def physical_memory_bytes() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _check_memory(config: dict[str, Any]) -> None:
    """Sizes whose float64 arrays cannot fit in this machine's memory fail here, before
    Snakemake deletes any earlier output, not as a MemoryError inside a job. The counts of
    copies are lower bounds: a size that passes may still need more."""
    limit = physical_memory_bytes()
    data, images = config["data"], config["images"]
    toy_dims = [dataset_dim(config, n) for n in dataset_names(config)
                if not is_image_set(config, n)]
    image_dims = [dataset_dim(config, n) for n in images["datasets"]]
    # a generated set holds at least its raw and its z-scored float64 copy
    sizes = [("data.n_train", data["n_train"] + data["n_test"], toy_dims, 2)]
    for section, dims in (("toys", toy_dims), ("images", image_dims)):
        n = config[section]
        # the flow holds the points, their latents, a solver stage and the result at once
        sizes += [(f"{section}.{key}", n[key], dims, 4) for key in ("n_eval", "n_generate")]
        if "n_trajectories" in n:
            sizes.append((f"{section}.n_trajectories", n["n_trajectories"] * n["frames"],
                          dims, 1))
    for key, rows, dims, copies in sizes:
        need = rows * max(dims, default=0) * 8 * copies
        if need > limit:
            raise ConfigError(f"config key '{key}': {rows} rows of D = {max(dims)} need about "
                              f"{need / 2**30:.3g} GiB or more, above this machine's "
                              f"{limit / 2**30:.3g} GiB of memory")


# log of float32's largest value: exp(rho g T) must stay below it
_FLOAT32_LOG_MAX = 88.72


def _check_cross_keys(config: dict[str, Any]) -> None:
    from ..datasets import TOY_DIMS

    data = config["data"]
    builtin = {*TOY_DIMS, "digits", "cifar10"}
    earlier: set[str] = set()  # names of the sections before, in dataset_names' order
    for section in ("embedded", "image_folders", "tables"):
        for name in data[section]:
            if name in builtin or name in earlier:
                raise ConfigError(f"config key 'data.{section}.{name}': name clashes with a "
                                  "dataset")
        earlier |= set(data[section])
    for name, spec in data["tables"].items():
        try:
            table_dim(spec)
        except (ValueError, OSError) as err:
            raise ConfigError(f"config key 'data.tables.{name}.path': {err}") from None
    for name in embedded_toys(config):
        if name in data["embedded"]:
            raise ConfigError(f"config key 'data.embedded.{name}': name clashes with a dataset "
                              "of calibration.embedded")
    for name, spec in data["embedded"].items():
        if spec.get("curvature") and TOY_DIMS[spec["base"]] != 2:
            raise ConfigError(f"config key 'data.embedded.{name}.curvature': only 2-D sets are "
                              f"bent, '{spec['base']}' is {TOY_DIMS[spec['base']]}-D")
        if spec.get("curvature") and spec["dim"] < 3:
            raise ConfigError(f"config key 'data.embedded.{name}.dim': a bent set needs 3 "
                              "dimensions (allowed: >= 3)")
        base_dim = TOY_DIMS[spec["base"]]
        if spec["dim"] < base_dim:
            raise ConfigError(
                f"config key 'data.embedded.{name}.dim': {spec['dim']} is smaller than the "
                f"dimension {base_dim} of '{spec['base']}' (allowed: >= {base_dim})"
            )
    for name, spec in config["schedules"].items():
        _check_schedule(f"schedules.{name}", spec)
    _check_toys(config)
    embedded_schedule = config["calibration"]["embedded"]["schedule"]
    if embedded_toys(config) and embedded_schedule not in config["schedules"]:
        raise ConfigError(f"config key 'calibration.embedded.schedule': unknown schedule "
                          f"'{embedded_schedule}' (allowed: {', '.join(config['schedules'])})")
    _check_images(config)
    _check_density(config)
    _check_cross_fit(config)


def _check_schedule(key: str, spec: dict[str, Any]) -> None:
    g_max = 2.0 if spec["kind"] == "prr" else 1.0
    horizon = _FLOAT32_LOG_MAX / (spec["rho"] * g_max)
    if spec["t_max"] >= horizon:
        raise ConfigError(f"config key '{key}.t_max': {spec['t_max']} overflows float32 in "
                          f"exp(rho g_max T) (allowed: < {horizon:.3g} for rho = {spec['rho']})")
    if spec["t_min"] >= spec["t_max"]:
        raise ConfigError(f"config key '{key}.t_min': {spec['t_min']} is not below t_max "
                          f"{spec['t_max']}")
    if spec["form"] == "proportional" and spec["t_min"] <= 0:
        raise ConfigError(f"config key '{key}.t_min': the main-text form has C(0) = 0, where the "
                          "score is singular (allowed: > 0, e.g. 1e-3)")
    if spec["form"] == "proportional" and spec["kind"] == "prr" \
            and spec["g_mode"] == "constant_gap" and spec["inflation_gap"] > 2:
        raise ConfigError(f"config key '{key}.inflation_gap': {spec['inflation_gap']} makes "
                          "compressed rates negative in the main-text form (allowed: <= 2)")


def _check_toys(config: dict[str, Any]) -> None:
    toys, schedules = config["toys"], config["schedules"]
    known = dataset_names(config)
    for sched, datasets in toys["models"].items():
        if sched not in schedules:
            raise ConfigError(f"config key 'toys.models.{sched}': unknown schedule (allowed: "
                              f"{', '.join(schedules)})")
        toys_known = [n for n in known if not is_image_set(config, n)]
        toys_known += [t for t in config["data"]["tables"] if t not in toys_known]
        for name in datasets:
            if name not in toys_known:
                raise ConfigError(f"config key 'toys.models.{sched}': dataset '{name}' is not a "
                                  f"toy set of data.toys, data.embedded or data.tables (allowed: "
                                  f"{', '.join(toys_known)})")
            table = config["data"]["tables"].get(name, {})
            key = (f"data.tables.{name}.dims_to_keep" if table.get("dims_to_keep")
                   else f"schedules.{sched}.dims_to_keep")
            spec = toy_schedule(config, name, sched)
            _check_keep(key, spec, dataset_dim(config, name), name)
            if table.get("t_min", "auto") != "auto":  # a number replaces the schedule's
                if spec["t_min"] >= spec["t_max"]:
                    raise ConfigError(f"config key 'data.tables.{name}.t_min': {spec['t_min']} "
                                      f"is not below schedules.{sched}.t_max = {spec['t_max']}")
                _check_schedule(f"data.tables.{name}", spec)
    for fig, sched in toys["figures"].items():
        if sched not in toys["models"]:
            raise ConfigError(f"config key 'toys.figures.{fig}': '{sched}' has no models "
                              f"(allowed: {', '.join(toys['models'])})")
    # Config files merge into the defaults, so an empty model list is how a user switches a
    # schedule (and its figure) off.
    models = set(toy_models(config))
    for name in toys["animations"]:
        if name not in models:
            raise ConfigError(f"config key 'toys.animations': '{name}' is not a model "
                              f"(allowed: {', '.join(sorted(models))})")
    procs = training_processes(toys, toys["gpu"])
    if toys["training"]["batch_size"] % procs:
        raise ConfigError(f"config key 'toys.training.batch_size': {toys['training']['batch_size']}"
                          f" does not split over {procs} training processes (allowed: a "
                          f"multiple of {procs})")
    trained = [(name, sched) for sched, names in toys["models"].items() for name in names]
    embedded = config["calibration"]["embedded"]["schedule"]
    if embedded in schedules:  # an unknown one is refused by name in validate_config
        trained += [(name, embedded) for name in embedded_toys(config)]
    for name, sched in trained:
        _check_training("toys.training", model_training(config, "toys", name, sched),
                        toy_schedule(config, name, sched), procs)
    pr = config["calibration"]["pr_over_time"]
    for name in pr["datasets"]:
        if name not in config["data"]["toys"]:
            raise ConfigError(f"config key 'calibration.pr_over_time.datasets': '{name}' is not "
                              f"in data.toys (allowed: {', '.join(config['data']['toys'])})")
        for sched in pr["schedules"]:
            if sched not in schedules:
                raise ConfigError(f"config key 'calibration.pr_over_time.schedules': unknown "
                                  f"schedule '{sched}' (allowed: {', '.join(schedules)})")
            _check_keep(f"schedules.{sched}.dims_to_keep", schedules[sched],
                        dataset_dim(config, name), name)
    if pr["datasets"] and config["data"]["n_train"] < pr["atoms"]:
        raise ConfigError(f"config key 'calibration.pr_over_time.atoms': {pr['atoms']} needs "
                          f"data.n_train >= {pr['atoms']}")
    _check_prr_generation(config)
    for analysis in ("posterior", "coverage"):
        for name in config["calibration"][analysis]["models"]:
            if name not in models:
                raise ConfigError(f"config key 'calibration.{analysis}.models': '{name}' is not "
                                  f"a model (allowed: {', '.join(sorted(models))})")
    solver_model = config["calibration"]["solvers"]["model"]
    if solver_model and solver_model not in models:
        raise ConfigError(f"config key 'calibration.solvers.model': '{solver_model}' is not a "
                          f"model (allowed: {', '.join(sorted(models))})")
    for name in config["calibration"]["coverage"]["models"]:
        dim = dataset_dim(config, name.rsplit("_", 1)[0])
        if dim not in (2, 3):
            raise ConfigError(f"config key 'calibration.coverage.models': '{name}' has D = "
                              f"{dim} (allowed: 2-D or 3-D data, whose regions are drawn)")
    if config["data"]["n_test"] < 2 * toys["n_eval"]:
        raise ConfigError(f"config key 'toys.n_eval': {toys['n_eval']} needs data.n_test >= "
                          f"{2 * toys['n_eval']} (held-out reference plus noise floor)")


def _check_prr_generation(config: dict[str, Any]) -> None:
    sweep, key = config["calibration"]["prr_generation"], "calibration.prr_generation"
    schedules = config["schedules"]
    spec = schedules.get(sweep["schedule"])
    if spec is None or spec["kind"] != "prr":  # the rule reads it even with the analysis off
        prr = [n for n, s in schedules.items() if s["kind"] == "prr"]
        raise ConfigError(f"config key '{key}.schedule': '{sweep['schedule']}' is not a PRR "
                          f"schedule (allowed: {', '.join(prr) or 'none'})")
    if not sweep["datasets"]:
        return
    if spec["form"] == "proportional" and max(sweep["inflation_gaps"]) > 2:
        raise ConfigError(f"config key '{key}.inflation_gaps': {max(sweep['inflation_gaps'])} "
                          "gives negative rates in the proportional form (allowed: <= 2)")
    spec = {**spec, "g_mode": "constant_gap"}  # the sweep's rates, whatever the schedule's
    for t_max in sweep["t_max"]:
        _check_schedule(key, {**spec, "t_max": t_max})
    for name in sweep["datasets"]:
        if name not in config["data"]["toys"]:
            raise ConfigError(f"config key '{key}.datasets': '{name}' is not in data.toys "
                              f"(allowed: {', '.join(config['data']['toys'])})")
        _check_keep(f"schedules.{sweep['schedule']}.dims_to_keep", spec,
                    dataset_dim(config, name), name)
    data = config["data"]
    if data["n_train"] < sweep["atoms"]:
        raise ConfigError(f"config key '{key}.atoms': {sweep['atoms']} needs data.n_train >= "
                          f"{sweep['atoms']}")
    if data["n_test"] < 2 * sweep["points"]:
        raise ConfigError(f"config key '{key}.points': {sweep['points']} needs data.n_test >= "
                          f"{2 * sweep['points']} (samples against two held-out halves)")


def _check_density(config: dict[str, Any]) -> None:
    toys = set(toy_models(config))
    images = [f"{d}_prp" for d in config["images"]["datasets"]]
    for name in config["calibration"]["density"]["models"]:
        if name not in toys and name not in images:
            raise ConfigError(f"config key 'calibration.density.models': '{name}' is not a "
                              f"model (allowed: {', '.join(sorted(toys) + images)})")
        if name in toys and config["schedules"][name.rsplit("_", 1)[1]]["kind"] != "prp":
            raise ConfigError(f"config key 'calibration.density.models': '{name}' is not a PRP "
                              "model (log_prob needs every dimension kept)")


def _check_cross_fit(config: dict[str, Any]) -> None:
    tables = [m for models in table_models(config).values() for m in models]
    for name in config["calibration"]["cross_fit"]["models"]:
        if name not in tables:
            raise ConfigError(f"config key 'calibration.cross_fit.models': '{name}' is not a "
                              f"model of a table (allowed: {', '.join(tables) or 'none'})")


def _check_images(config: dict[str, Any]) -> None:
    images = config["images"]
    image_sets = [n for n in dataset_names(config) if is_image_set(config, n)]
    for name in images["datasets"]:
        if name not in image_sets:
            raise ConfigError(f"config key 'images.datasets': '{name}' is not an image set the "
                              f"config builds (allowed: {', '.join(image_sets) or 'none'})")
    for kind in ("prp", "prr"):
        if images[kind]["kind"] != kind:
            raise ConfigError(f"config key 'images.{kind}.kind': must be '{kind}'")
    for name, spec in image_variants(config).items():
        _check_schedule(f"images.{spec['kind']}", spec)
        key = ("images.dims_to_keep" if replicate_base(name) in table1_variants(config)
               else "images.ig_sweep.dims_to_keep")
        for dataset in images["datasets"]:
            _check_keep(key, spec, dataset_dim(config, dataset), dataset)
    figure = images["figure"]
    if images["datasets"] and figure["dataset"] not in ("", *images["datasets"]):
        raise ConfigError(f"config key 'images.figure.dataset': '{figure['dataset']}' is not in "
                          f"images.datasets (allowed: {', '.join(images['datasets'])})")
    for d in figure["dims_to_keep"]:
        if d not in images["dims_to_keep"]:
            raise ConfigError(f"config key 'images.figure.dims_to_keep': {d} has no model "
                              f"(allowed: {', '.join(map(str, images['dims_to_keep']))})")
    _check_low_t(config)
    procs = training_processes(images, images["gpu"])
    if images["training"]["batch_size"] % procs:
        raise ConfigError(f"config key 'images.training.batch_size': does not split over "
                          f"{procs} training processes (allowed: a multiple of {procs})")
    _check_model_training(config, procs)


def _image_model(key: str, model: str) -> str:
    """The variant of a first-seed image model '<dataset>_<variant>', spelled as the
    workflow names it (a model's further seeds follow it)."""
    dataset, _, variant = model.rpartition("_")
    prr = re.fullmatch(r"prr(\d+)(?:-ig([0-9.e+-]+))?", variant)
    try:
        spelled = prr and f"prr{int(prr[1])}" + (f"-ig{float(prr[2]):g}" if prr[2] else "")
    except ValueError:  # a gap that is not a number
        spelled = None
    if not dataset or variant not in ("prp", spelled):
        raise ConfigError(f"config key '{key}': '{model}' is not <dataset>_<variant> "
                          f"(variants: prp, prr<d>, prr<d>-ig<gap> as in 'digits_prr2-ig1.1')")
    return variant


def _image_variant(config: dict[str, Any], key: str, model: str) -> str:
    """The variant of an image model this config builds, named under ``key``; a set outside
    images.datasets is not checked (a toys-only config keeps the default's entries)."""
    bases = [name for name in image_variants(config) if replicate_base(name) == name]
    variant = _image_model(key, model)
    if variant not in bases:
        raise ConfigError(f"config key '{key}': '{model}' is not a model of this config "
                          f"(variants: {', '.join(bases)})")
    return variant


def _check_low_t(config: dict[str, Any]) -> None:
    images = config["images"]
    low_t, variants = images["low_t"], image_variants(config)
    start, end = low_t["ramp"]
    for model in low_t["models"]:
        spec = variants[_image_variant(config, "images.low_t.models", model)]
        if not spec["t_min"] < end <= spec["t_max"] or start >= end:
            raise ConfigError(f"config key 'images.low_t.ramp': [{start:g}, {end:g}] must rise "
                              f"and end in (t_min, t_max] = ({spec['t_min']:g}, "
                              f"{spec['t_max']:g}] of '{model}'")
    warmup = images["training"]["warmup_steps"]
    if low_t["models"] and low_t["steps"] <= warmup:
        raise ConfigError(f"config key 'images.low_t.steps': {low_t['steps']} does not pass "
                          f"images.training.warmup_steps = {warmup}")


def _check_model_training(config: dict[str, Any], processes: int) -> None:
    """Entries name '<dataset>_<variant>' exactly (prr2's entry is not prr2-ig1.1's). One
    for a model this config does not build (a set outside images.datasets, a d outside
    images.dims_to_keep) does nothing, so that a config merged over the default (which cannot
    delete its entries) needs no say about them."""
    images = config["images"]
    for model, keys in images["model_training"].items():
        _image_model("images.model_training", model)
        unknown = sorted(set(keys) - set(images["training"]))
        if unknown:
            raise ConfigError(f"config key 'images.model_training.{model}': {', '.join(unknown)} "
                              f"not keys of images.training")
    for variant, spec in image_variants(config).items():
        if replicate_base(variant) != variant:
            continue  # a further seed trains as its first
        for dataset in images["datasets"]:
            name = f"{dataset}_{variant}"
            key = (f"images.model_training.{name}" if name in images["model_training"]
                   else "images.training")
            _check_training(key, model_training(config, "images", dataset, variant), spec,
                            processes)


def _check_training(key: str, training: Mapping[str, Any], spec: Mapping[str, Any],
                    processes: int) -> None:
    """The train step's own checks of a model's training keys (a trajectory penalty's band
    within the schedule's times, its re-solve interval a divisor of checkpoint_every...)."""
    if training.get("trajectory_penalty_weight") and processes > 1:
        # its flow states are solved by one process (training.Trainer refuses it too)
        raise ConfigError(f"config key '{key}': trajectory_penalty_weight needs a single "
                          f"training process, not {processes} (gpu / processes)")
    # t_min 'auto' is resolved from the data in the train step, which checks it again then
    t_min = spec["t_min"] if isinstance(spec["t_min"], (int, float)) else 0.0
    try:
        TrainConfig(**training, t_min=t_min, t_max=spec["t_max"])
    except ValueError as err:
        raise ConfigError(f"config key '{key}': {str(err).removeprefix('TrainConfig: ')}") \
            from None


def _gap_variant(kept: int, gap: float, base_gap: float) -> str:
    return f"prr{kept}" if gap == base_gap else f"prr{kept}-ig{gap:g}"


def image_variants(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Schedule of every image model variant: 'prp', 'prr<d>' (IG = images.inflation_gap),
    'prr<d>-ig<IG>' (the inflation-gap sweep), and the further training seeds of Table 1's
    variants, '<variant>-r<k>' (images.replicates)."""
    images = config["images"]

    def prr(kept: int, gap: float) -> dict[str, Any]:
        return {**images["prr"], "dims_to_keep": kept, "inflation_gap": gap}

    variants = {"prp": dict(images["prp"])}
    for kept in images["dims_to_keep"]:
        variants[f"prr{kept}"] = prr(kept, images["inflation_gap"])
    sweep = images["ig_sweep"]
    for gap in sweep["inflation_gaps"]:
        name = _gap_variant(sweep["dims_to_keep"], gap, images["inflation_gap"])
        variants[name] = prr(sweep["dims_to_keep"], gap)
    for name in table1_variants(config):
        for seed in further_seeds(name, images["replicates"]):
            variants[seed] = variants[name]
    return variants


def ig_sweep_variants(config: Mapping[str, Any]) -> list[str]:
    images = config["images"]
    sweep = images["ig_sweep"]
    return [_gap_variant(sweep["dims_to_keep"], gap, images["inflation_gap"])
            for gap in sweep["inflation_gaps"]]


def table1_variants(config: Mapping[str, Any]) -> list[str]:
    return ["prp", *(f"prr{kept}" for kept in config["images"]["dims_to_keep"])]


def _check_keep(key: str, spec: dict[str, Any], dim: int, dataset: str) -> None:
    if spec["kind"] != "prr":
        return
    keep = resolve_dims_to_keep(spec, dim)
    if not 0 < keep < dim:
        raise ConfigError(f"config key '{key}': {spec['dims_to_keep']} gives d = {keep} for "
                          f"'{dataset}' with D = {dim} (allowed: 0 < d < D)")
    if spec["form"] == "proportional" and spec["g_mode"] == "orig" and dim / (dim - keep) > 2:
        raise ConfigError(f"config key '{key}': 'orig' rates for d = {keep}, D = {dim} are "
                          "negative in the main-text form (allowed: d <= D/2)")


def training_processes(section: Mapping[str, Any], gpus: int) -> int:
    """Training processes of a job: ``processes`` if set, else one per GPU (1 on the CPU)."""
    return int(section["processes"]) or max(1, int(gpus))


def toy_schedule(config: Mapping[str, Any], dataset: str, schedule: str) -> dict[str, Any]:
    """The schedule of a toy model; a table's own dims_to_keep replaces a PRR schedule's, its
    t_min (``auto``: chosen from the data in the training step) the schedule's."""
    spec = dict(config["schedules"][replicate_base(schedule)])
    table = config["data"]["tables"].get(dataset, {})
    if table.get("dims_to_keep") and spec["kind"] == "prr":
        spec["dims_to_keep"] = table["dims_to_keep"]
    if "t_min" in table:
        spec["t_min"] = table["t_min"]
    return spec


def model_training(config: Mapping[str, Any], family: str, dataset: str,
                   schedule: str) -> dict[str, Any]:
    """The training config of a model: its family's, with an image model's own keys
    (images.model_training; its further seeds follow it) or a table's validation_fraction."""
    training = dict(config[family]["training"])
    if family == "images":
        name = f"{dataset}_{replicate_base(schedule)}"
        training.update(config["images"]["model_training"].get(name, {}))
    table = config["data"]["tables"].get(dataset, {}) if family == "toys" else {}
    if table.get("validation_fraction"):
        training["validation_fraction"] = table["validation_fraction"]
    return training


def figure_datasets(config: Mapping[str, Any], figure: str) -> list[str]:
    """The rows of a toy figure: its schedule's datasets but tables (they have their own)."""
    toys = config["toys"]
    return [d for d in toys["models"].get(toys["figures"][figure], [])
            if d not in config["data"]["tables"]]


def toy_figures(config: Mapping[str, Any]) -> list[str]:
    """Figures whose schedule has at least one model of a toy set."""
    return [fig for fig in config["toys"]["figures"] if figure_datasets(config, fig)]


def table_models(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each table that has models, with them ('<table>_<schedule>'), for its figure."""
    found: dict[str, list[str]] = {}
    for sched, datasets in config["toys"]["models"].items():
        for name in datasets:
            if name in config["data"]["tables"]:
                found.setdefault(name, []).append(f"{name}_{sched}")
    return found


def density_family(config: Mapping[str, Any], model: str) -> str:
    """Where a density-benchmark model lives: 'toys' or 'images'."""
    return "toys" if model in toy_models(config) else "images"


def toy_models(config: Mapping[str, Any]) -> list[str]:
    """Every toy model as '<dataset>_<schedule>'."""
    return [f"{d}_{s}" for s, datasets in config["toys"]["models"].items() for d in datasets]


_REPLICATE = re.compile(r"-r\d+$")


def replicate_base(name: str) -> str:
    """A further training seed's model or schedule name without its '-r<k>' suffix
    ('moons_prp-r2' -> 'moons_prp', 'prp-r2' -> 'prp'); other names unchanged."""
    return _REPLICATE.sub("", name)


def further_seeds(name: str, replicates: int) -> list[str]:
    """The names of a model's (or variant's) further training seeds, '<name>-r<k>' for
    k = 1 .. replicates - 1: the same data, PCA and config, their own seeds."""
    return [f"{name}-r{k}" for k in range(1, replicates)]


def replicate_models(config: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each toy model's further training seeds (toys.replicates - 1 of them)."""
    return {m: further_seeds(m, config["toys"]["replicates"]) for m in toy_models(config)}


EMBEDDINGS = {"flat": (False, False), "curved": (True, False), "flat_noisy": (False, True),
              "curved_noisy": (True, True)}


def embedded_toys(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The embedded-toys analysis's datasets as data.embedded-style specs, by name."""
    spec = config["calibration"]["embedded"]
    if not spec["base"]:
        return {}
    return {f"{spec['base']}_{name}": {"base": spec["base"], "dim": spec["dim"],
                                        "curvature": spec["curvature"] if bent else 0.0,
                                        "noise": spec["noise"] if noisy else 0.0}
            for name, (bent, noisy) in EMBEDDINGS.items()}


def embedded_specs(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every embedded toy set: data.embedded and those of the embedded-toys analysis."""
    return {**config["data"]["embedded"], **embedded_toys(config)}


def dataset_names(config: Mapping[str, Any]) -> list[str]:
    """Every dataset the config asks for, in a stable order."""
    data = config["data"]
    names = list(data["toys"]) + list(embedded_specs(config))
    names += ["digits"] if data["digits"] else []
    names += ["cifar10"] if data["cifar10"]["tarball"] else []
    # a table is built when a toy model uses it: a config that lists other models leaves
    # the default's table out (merged mappings cannot drop a key)
    used = {d for datasets in config["toys"]["models"].values() for d in datasets}
    return names + list(data["image_folders"]) + [t for t in data["tables"] if t in used]


def is_image_set(config: Mapping[str, Any], name: str) -> bool:
    return name in ("digits", "cifar10") or name in config["data"]["image_folders"]


def dataset_dim(config: Mapping[str, Any], name: str) -> int:
    from ..datasets import TOY_DIMS

    if name == "digits":
        return 64
    if name == "cifar10":
        return 3 * 32 * 32
    if name in config["data"]["image_folders"]:
        return 3 * config["data"]["image_folders"][name]["size"] ** 2
    if name in embedded_specs(config):
        return int(embedded_specs(config)[name]["dim"])
    if name in config["data"]["tables"]:
        return table_dim(config["data"]["tables"][name])
    return TOY_DIMS[name]
