"""Bad configs are rejected before any job runs, with one line naming the key."""

import copy

import pytest
import yaml
from conftest import REPO, snakemake
from test_reliability import NO_TOYS

from inflationary_flows.workflow.config import ConfigError, load_schema, validate_config

SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def _with(path: str, value):
    config = copy.deepcopy(DEFAULT)
    *parents, last = path.split(".")
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return config


def test_default_config_is_valid_and_schema_documents_every_key():
    validate_config(copy.deepcopy(DEFAULT), SCHEMA)

    def walk(schema, where):
        for key, sub in schema.get("properties", {}).items():
            assert "description" in sub, f"{where}{key} lacks a description"
            assert "default" in sub, f"{where}{key} lacks a default"
            walk(sub, f"{where}{key}.")

    walk(SCHEMA, "")


def test_defaults_are_filled_in():
    config = validate_config({}, SCHEMA)
    assert config["data"]["n_train"] == 20000 and config["pca"]["batch_size"] == 4096


BAD = [
    ("seed", "abc", "'seed'.*not of type 'integer'"),
    ("data.n_train", -5, "'data.n_train'.*minimum of 2"),
    ("data.n_test", 1.5, "'data.n_test'.*not of type 'integer'"),
    ("data.toys", ["circles", "circle"], "'data.toys.1'.*'circle' is not one of"),
    ("data.digits_test_fraction", 1.0, "'data.digits_test_fraction'"),
    ("data.digits", "yes", "'data.digits'.*boolean"),
    ("data.bogus", 1, "'data.bogus'.*allowed keys here: toys"),
    ("pca.batch_size", 0, "'pca.batch_size'.*minimum of 1"),
    ("data.embedded", {"e": {"base": "moons"}}, "'data.embedded.e.dim'"),
    ("data.embedded", {"e": {"base": "s_curve", "dim": 2}}, "'data.embedded.e.dim'.*>= 3"),
    ("data.embedded", {"moons": {"base": "circles", "dim": 4}}, "'data.embedded.moons'.*clash"),
    ("data.embedded", {"9x": {"base": "circles", "dim": 4}}, "'data.embedded'"),
    ("toys.processes", -1, "'toys.processes'.*minimum of 0"),
    ("data.tables.breast_cancer.t_min", "soon", "'data.tables.breast_cancer.t_min'"),
    ("data.tables.breast_cancer.validation_fraction", 1.0,
     "'data.tables.breast_cancer.validation_fraction'"),
    # NaN passes every bound of a schema; infinity passes a one-sided one
    ("schedules.prp.rho", float("nan"), "'schedules.prp.rho': nan is not a finite number"),
    ("toys.solver.rtol", float("nan"), "'toys.solver.rtol': nan is not a finite number"),
    ("images.training.lr", float("inf"), "'images.training.lr': inf is not a finite number"),
    ("images.ig_sweep.inflation_gaps", [1.5, float("-inf")],
     "'images.ig_sweep.inflation_gaps.1': -inf is not a finite"),
    ("toys.solver.atol", 2.0, "'toys.solver.atol'.*< 1"),
    # JSON Schema counts 3.0 as an integer; these keys must be written as one
    ("toys.training.steps", 1500.0, "'toys.training.steps'.*not of type 'integer'"),
    ("seed", 3.0, "'seed'.*not of type 'integer'"),
    ("data.n_train", 10**13, "'data.n_train'.*GiB or more, above this machine's"),
    ("calibration.prr_generation.schedule", "prp",
     "'calibration.prr_generation.schedule': 'prp' is not a PRR schedule"),
    # the default gaps reach 3: a negative compressed rate in the main-text form
    ("calibration.prr_generation.schedule", "prrmain",
     "'calibration.prr_generation.inflation_gaps': 3.0 gives negative rates"),
    ("calibration.prr_generation.datasets", ["digits"],
     "'calibration.prr_generation.datasets': 'digits' is not in data.toys"),
    ("calibration.prr_generation.points", 6000,
     "'calibration.prr_generation.points': 6000 needs data.n_test >= 12000"),
    ("calibration.prr_generation.atoms", 30000,
     "'calibration.prr_generation.atoms': 30000 needs data.n_train >= 30000"),
    ("calibration.prr_generation.inflation_gaps", [],
     "'calibration.prr_generation.inflation_gaps'"),
    ("calibration.prr_generation.t_max", [7.0, 7.0], "'calibration.prr_generation.t_max'"),
    ("calibration.prr_generation.t_max", [7.0, 50.0],
     "'calibration.prr_generation.t_max': 50.0 overflows float32"),
    ("toys.n_generate", 10**12, "'toys.n_generate'.*GiB or more, above this machine's"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_values_are_rejected_naming_the_key(key, value, message):
    with pytest.raises(ConfigError, match=message) as info:
        validate_config(_with(key, value), SCHEMA)
    assert "\n" not in str(info.value)


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("config", "key"),
    [({"seed": "x"}, "seed"), ({"unknown": 1}, "unknown"),
     ({"data": {"n_test": 0}}, "data.n_test"),
     ({"schedules": {"prp": {"rho": float("nan")}}}, "schedules.prp.rho")],
)
def test_snakemake_rejects_bad_config_before_any_job(tmp_path, config, key):
    proc = snakemake(tmp_path, "--dry-run", config=config, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"config key '{key}'" in out
    assert not (tmp_path / "results").exists()


@pytest.mark.workflow
def test_a_bad_value_leaves_earlier_outputs_in_place(tmp_path):
    """Snakemake deletes a job's old output before running it: a value that only the job
    would reject (a float where an integer is meant) must stop the run at parse time."""
    config = copy.deepcopy(NO_TOYS)
    snakemake(tmp_path, "results/data/moons.h5", config=config)
    before = (tmp_path / "results/data/moons.h5").read_bytes()
    config["data"]["n_train"] = 200.0
    proc = snakemake(tmp_path, "results/data/moons.h5", config=config, check=False)
    assert proc.returncode != 0
    assert "config key 'data.n_train': 200.0 is not of type 'integer'" in proc.stdout + proc.stderr
    assert (tmp_path / "results/data/moons.h5").read_bytes() == before


def _merge(base, extra):
    """Snakemake's rule for --configfile: nested mappings update, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(
            out.get(key), dict) else value
    return out


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    validate_config(_merge(DEFAULT, yaml.safe_load(path.read_text())), SCHEMA)


def test_cross_key_rules():
    cases = [
        ("schedules", {"x": {"kind": "prr", "form": "exponential", "rho": 1.0, "t_max": 50.0}},
         "'schedules.x.t_max'.*overflows float32"),
        ("schedules", {"x": {"kind": "prp", "form": "proportional", "rho": 1.0, "t_max": 5.0}},
         "'schedules.x.t_min'.*main-text form"),
        ("toys.models", {"prp": ["digits"]}, "'toys.models.prp'.*dataset 'digits'"),
        ("toys.models", {"nope": ["circles"]}, "'toys.models.nope'.*unknown schedule"),
        ("toys.animations", ["circles_nope"], "'toys.animations'.*not a model"),
        ("toys.n_eval", 6000, "'toys.n_eval'.*data.n_test >= 12000"),
        ("toys.processes", 3, "'toys.training.batch_size'.*split over 3 training processes"),
        ("toys.gpu", 3, "'toys.training.batch_size'.*split over 3 training processes"),
        ("images.datasets", ["cifar10"], "'images.datasets'.*'cifar10' is not an image set"),
        ("images.datasets", ["moons"], "'images.datasets'.*'moons' is not an image set"),
        ("images.dims_to_keep", [64], "'images.dims_to_keep'.*d = 64 for 'digits'"),
        ("images.ig_sweep", {"dims_to_keep": 70, "inflation_gaps": [1.1]},
         "'images.ig_sweep.dims_to_keep'.*d = 70"),
        ("images.figure", {"dims_to_keep": [3]}, "'images.figure.dims_to_keep'.*3 has no model"),
        ("images.figure", {"dataset": "moons"}, "'images.figure.dataset'.*not in images"),
        ("images.prr", {"kind": "prp", "form": "exponential", "rho": 1.0, "t_max": 5.0},
         "'images.prr.kind'.*must be 'prr'"),
        ("images.prp", {"kind": "prp", "form": "exponential", "rho": 1.0, "t_max": 100.0},
         "'images.prp.t_max'.*overflows float32"),
        ("images.gpu", 3, "'images.training.batch_size'.*split over 3"),
        ("images.low_t", {"models": ["digits_prr3"]},
         r"'images.low_t.models': 'digits_prr3' is not a model of this config \(variants: "
         r"prp, prr2, prr8, prr16\)"),
        ("images.low_t", {"models": ["prp"]}, "'images.low_t.models': 'prp' is not <dataset>_"),
        ("images.low_t", {"models": ["digits_prp-r1"]}, "'images.low_t.models'.*'digits_prp-r1'"),
        ("images.low_t", {"models": ["digits_prp"], "ramp": [3.0, 20.0]},
         r"'images.low_t.ramp': \[3, 20\] must rise and end in .* \(0.01, 15.01\] of "
         r"'digits_prp'"),
        ("images.low_t", {"models": ["digits_prp"], "ramp": [5.0, 4.0]},
         "'images.low_t.ramp'.*must rise"),
        ("images.low_t", {"models": ["digits_prp"], "steps": 100},
         "'images.low_t.steps': 100 does not pass images.training.warmup_steps = 100"),
        ("images.model_training", {"digits_pr3": {"steps": 10}},
         r"'images.model_training': 'digits_pr3' is not <dataset>_<variant> \(variants: prp, "),
        ("images.model_training", {"prr2": {"steps": 10}},
         "'images.model_training': 'prr2' is not <dataset>_<variant>"),
        # spelled otherwise than the workflow names the model, an entry would never apply
        ("images.model_training", {"digits_prr02": {"steps": 10}}, "'digits_prr02' is not <"),
        ("images.model_training", {"digits_prr2-ig1.10": {"steps": 10}},
         "'digits_prr2-ig1.10' is not <"),
        ("images.model_training", {"digits_prr2-r1": {"steps": 10}}, "'digits_prr2-r1' is not <"),
        ("images.gpu", 2, "'images.model_training.digits_prr2': trajectory_penalty_weight needs "
                          "a single training process, not 2"),
        ("images.model_training", {"digits_prr2": {"stpes": 10, "lr": 1e-3}},
         r"'images.model_training.digits_prr2': stpes not keys of images.training"),
        # the train step's own checks, before any job runs
        ("images.training.checkpoint_every", 300,
         r"'images.model_training.digits_prr2': checkpoint_every \(300\) must be a multiple of "
         r"trajectory_penalty_every \(250\)"),
        ("images.model_training", {"digits_prr8": {"trajectory_penalty_weight": 0.3,
                                                   "trajectory_penalty_band": [2.5, 20.0]}},
         r"'images.model_training.digits_prr8': trajectory_penalty_band \[2.5, 20\] must rise "
         r"within the schedule's \[0.01, 15.01\]"),
        ("toys.training.trajectory_penalty_weight", 0.1,
         r"'toys.training': trajectory_penalty_band \[2.5, 8\] must rise within the "
         r"schedule's \[0, 7\]"),
        ("images.model_training", {"digits_prr2": {"trajectory_penalty_weight": 0.3,
                                                   "trajectory_penalty_band": [8.0, 2.5]}},
         r"'images.model_training.digits_prr2': trajectory_penalty_band \[8, 2.5\] must rise"),
        ("calibration.embedded", {"schedule": "nope"}, "'calibration.embedded.schedule'"),
        ("data.embedded", {"moons_flat": {"base": "moons", "dim": 3}},
         "'data.embedded.moons_flat'.*clashes"),
        ("data.embedded", {"e": {"base": "s_curve", "dim": 4, "curvature": 1.0}},
         "'data.embedded.e.curvature'.*only 2-D"),
        ("calibration.cross_fit", {"models": ["moons_prp"]},
         "'calibration.cross_fit.models'.*'moons_prp' is not a model of a table"),
        ("data.tables.breast_cancer.t_min", 7.0,
         "'data.tables.breast_cancer.t_min'.*not below schedules.prr.t_max = 7.0"),
    ]
    for key, value, message in cases:
        with pytest.raises(ConfigError, match=message):
            validate_config(_with(key, value), SCHEMA)


def test_a_tables_own_t_min_meets_its_schedules_rules():
    config = _with("data.tables.breast_cancer.t_min", 0.0)
    config["toys"]["models"]["prpmain"] = ["breast_cancer"]  # the main-text form
    with pytest.raises(ConfigError, match="'data.tables.breast_cancer.t_min'.*main-text form"):
        validate_config(config, SCHEMA)
    config["data"]["tables"]["breast_cancer"]["t_min"] = "auto"  # chosen above C = 0
    validate_config(config, SCHEMA)
