"""Bad configs are rejected before any job runs, with one line naming the key."""

import copy

import pytest
import yaml
from conftest import REPO, snakemake

from inflationary_flows.config import ConfigError, load_schema, validate_config

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
     ({"data": {"n_test": 0}}, "data.n_test")],
)
def test_snakemake_rejects_bad_config_before_any_job(tmp_path, config, key):
    proc = snakemake(tmp_path, "--dry-run", config=config, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"config key '{key}'" in out
    assert not (tmp_path / "results").exists()


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
        ("schedules", {"x": {"kind": "prr", "form": "reference", "rho": 1.0, "t_max": 50.0}},
         "'schedules.x.t_max'.*overflows float32"),
        ("schedules", {"x": {"kind": "prp", "form": "main", "rho": 1.0, "t_max": 5.0}},
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
        ("images.prr", {"kind": "prp", "form": "reference", "rho": 1.0, "t_max": 5.0},
         "'images.prr.kind'.*must be 'prr'"),
        ("images.prp", {"kind": "prp", "form": "reference", "rho": 1.0, "t_max": 100.0},
         "'images.prp.t_max'.*overflows float32"),
        ("images.gpu", 3, "'images.training.batch_size'.*split over 3"),
        ("calibration.embedded", {"schedule": "nope"}, "'calibration.embedded.schedule'"),
        ("data.embedded", {"moons_flat": {"base": "moons", "dim": 3}},
         "'data.embedded.moons_flat'.*clashes"),
        ("data.embedded", {"e": {"base": "s_curve", "dim": 4, "curvature": 1.0}},
         "'data.embedded.e.curvature'.*only 2-D"),
    ]
    for key, value, message in cases:
        with pytest.raises(ConfigError, match=message):
            validate_config(_with(key, value), SCHEMA)
