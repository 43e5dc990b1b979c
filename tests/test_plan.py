"""The plan of jobs a config asks for (workflow/plan.py): targets, inputs and arguments."""

import copy
import hashlib
import json
import shlex

import yaml
from conftest import REPO

from inflationary_flows.workflow.config import load_schema, validate_config
from inflationary_flows.workflow.plan import Plan, json_arg, model_dataset

SCHEMA = load_schema(REPO / "workflow" / "schemas" / "config.schema.yaml")
DEFAULT = yaml.safe_load((REPO / "config.yaml").read_text())


def plan(**overrides) -> Plan:
    config = copy.deepcopy(DEFAULT)
    for path, value in overrides.items():
        *parents, last = path.split("__")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return Plan(validate_config(config, SCHEMA))


def test_default_targets():
    p = plan()
    targets = p.main_targets()
    assert len(targets) == len(set(targets))
    toy = {t for t in targets if t.startswith("results/metrics/toys/")}
    assert toy == {f"results/metrics/toys/{d}_{s}.json" for s in ("prp", "prr")
                   for d in ("circles", "sine", "moons", "s_curve", "swirl", "breast_cancer")}
    assert {"results/figures/fig1.pdf", "results/figures/fig2.pdf", "results/figures/fig3.pdf",
            "results/figures/fig4.pdf", "results/figures/fig5.pdf",
            "results/tables/table1.csv", "results/tables/density_benchmark.csv",
            "results/figures/tables/breast_cancer.pdf",
            "results/figures/animations/moons_prp_inflation.gif",
            "results/figures/animations/moons_prp_generation.gif"} <= set(targets)
    # what the provenance table reads: every dataset and PCA beside the targets
    made = set(p.provenance_targets())
    assert set(targets) <= made
    assert {f"results/{k}/{d}.h5" for k in ("data", "pca") for d in p.datasets} <= made
    # each toy model beside its exact-score reference, which the provenance table reads too
    assert "results/tables/summary.csv" in targets
    assert {f"results/metrics/toys/{m}_exact.json" for m in p.toy_models} <= made
    off = plan(calibration__reference__enabled=False)
    assert "results/tables/summary.csv" not in off.main_targets()


def test_switching_analyses_off_removes_their_targets():
    p = plan(calibration__posterior__models=[], calibration__coverage__models=[],
             calibration__solvers__model="", calibration__density__models=[],
             images__datasets=[])
    targets = set(p.main_targets())
    for gone in ("fig4.pdf", "supp_coverage.pdf", "supp_solvers.pdf", "density_benchmark.csv",
                 "fig5.pdf", "table1.csv"):
        assert not any(t.endswith(gone) for t in targets), gone
    assert "results/figures/fig1.pdf" in targets  # the duality needs no trained model


def test_dataset_arguments_per_kind():
    p = plan(data__embedded={"moons_4d": {"base": "moons", "dim": 4}})
    assert p.dataset_args("moons") == (
        "--kind moons --embed-dim 0 --curvature 0.0 --noise 0.0 --n-train 20000 --n-test 10000")
    assert p.dataset_args("moons_4d").startswith("--kind moons --embed-dim 4 ")
    assert p.dataset_args("digits") == "--kind digits --test-fraction 0.2"
    table = p.dataset_args("breast_cancer")
    assert table == ("--kind table --test-fraction 0.2 --source sklearn:breast_cancer "
                     "--columns '[]' --transform yeo-johnson --standardize")
    assert table.endswith(p.table_args("breast_cancer"))  # what cross_fit reads the rows with
    raw = plan(data__tables={"breast_cancer": {"path": "sklearn:breast_cancer",
                                               "standardize": False}})
    assert raw.dataset_args("breast_cancer").endswith("--transform none --no-standardize")
    assert p.dataset_source("moons") == [] and p.dataset_source("breast_cancer") == []


def test_a_folder_dataset_is_read_from_its_folder():
    p = plan(data__image_folders={"cats": {"folder": "my data/cats", "size": 16,
                                           "test_fraction": 0.1}})
    assert p.dataset_source("cats") == ["my data/cats"]
    assert p.dataset_args("cats") == ("--kind image_folder --source 'my data/cats' --size 16 "
                                      "--test-fraction 0.1")


def test_seeds_derive_from_the_master_seed_and_the_job():
    p = plan()
    expected = int(hashlib.sha256(b"2024:train:moons:prp").hexdigest()[:8], 16)
    assert p.seed("train", "moons", "prp") == expected
    assert p.seed("train", "moons", "prr") != expected
    assert plan(seed=5).seed("train", "moons", "prp") != expected


def test_flows_that_only_the_embedded_analysis_reads_inflate_only_their_trajectories():
    p = plan()
    assert p.embedded_sets and "moons_prp" in p.toy_models
    assert p.flow_rows("toys", "moons", "prp") == {"n_eval": 5000, "n_generate": 5000}
    for name in p.embedded_sets:
        assert p.flow_rows("toys", name, "prp") == {"n_eval": 1000, "n_generate": 1000}
    # an embedded set that is also a model of the summary gets the full flow
    models = copy.deepcopy(DEFAULT["toys"]["models"])
    models["prp"].append("moons_flat")
    listed = plan(toys__models=models, toys__replicates=2)
    for schedule in ("prp", "prp-r1"):  # and so does each of its further training seeds
        assert listed.flow_rows("toys", "moons_flat", schedule) == {"n_eval": 5000,
                                                                    "n_generate": 5000}
    assert listed.flow_rows("toys", "moons_curved", "prp") == {"n_eval": 1000,
                                                               "n_generate": 1000}
    assert p.flow_rows("images", "digits", "prp")["n_generate"] == 5600


def test_model_spec_and_launcher():
    p = plan()
    spec = json.loads(shlex.split(p.model_spec("toys", "breast_cancer", "prr"))[0])
    assert spec["backbone"]["kind"] == "mlp" and spec["space"] == "eigen"
    assert spec["schedule"]["kind"] == "prr" and spec["schedule"]["dims_to_keep"] == 5
    assert p.launcher("toys", 0) == "python -m inflationary_flows"
    assert p.launcher("images", 4).endswith("--nproc-per-node 4 -m inflationary_flows")


def test_image_inputs_labels_and_fid():
    p = plan()
    assert p.variant_label("prp") == "PRP"
    assert p.variant_label("prr2") == "PRR d = 2, IG = 1.02"  # the paper's image gap
    # digits: the classifier, and the model and PCA for the calibration checks
    assert p.image_metrics_inputs("digits", "prp") == {
        "flow": "results/flows/images/digits_prp.h5", "data": "results/data/digits.h5",
        "classifier": "results/models/classifier/digits.pt",
        "classifier_spec": "results/models/classifier/digits.json",
        "weights": "results/models/images/digits_prp.pt",
        "spec": "results/models/images/digits_prp.json", "pca": "results/pca/digits.h5"}
    assert p.fid_weights() == [] and "fid" not in p.image_table_inputs("table1")
    q = plan(images__fid__weights="w.pth", images__datasets=["digits", "cats"],
             data__image_folders={"cats": {"folder": "cats", "size": 16, "test_fraction": 0.1}})
    assert q.fid_weights() == ["w.pth"]
    fid = q.image_table_inputs("table1")["fid"]
    assert fid and all("/cats_" in f for f in fid)  # digits use the Frechet distance


def test_helpers():
    assert model_dataset("s_curve_prr") == "s_curve"
    assert shlex.split(json_arg({"b": 1, "a": "x y"})) == ['{"a": "x y", "b": 1}']


def test_replicates_are_further_seeds_of_the_same_models():
    p = plan(toys__replicates=3)
    assert p.replicates["moons_prp"] == ["moons_prp-r1", "moons_prp-r2"]
    assert len(p.replicate_models) == 2 * len(p.toy_models)
    assert p.replicate_schedules == ["prp-r1", "prp-r2", "prr-r1", "prr-r2"]
    targets = p.main_targets()
    assert "results/metrics/toys/swirl_prr-r2.json" in targets
    # the same schedule (a table's own dims_to_keep and t_min too), its own seed
    assert p.model_spec("toys", "breast_cancer", "prr-r1") == p.model_spec(
        "toys", "breast_cancer", "prr")
    assert p.seed("train", "moons", "prp-r1") != p.seed("train", "moons", "prp")
    assert plan().replicate_models == []


def test_image_replicates_are_further_seeds_of_table1_models():
    p = plan(images__replicates=3)
    assert {"digits_prp-r1", "digits_prp-r2", "digits_prr8-r2"} <= set(p.image_models)
    assert p.model_spec("images", "digits", "prr8-r1") == p.model_spec("images", "digits", "prr8")
    # the default's low-t UNet goes with digits PRP and its further seeds, not with PRR
    spec = json.loads(shlex.split(p.model_spec("images", "digits", "prp-r2"))[0])
    assert spec["low_t"] == {"backbone": {"kind": "unet", **p.config["images"]["low_t"]["unet"]},
                             "space": "data", "ramp": [3.33, 7.5], "steps": 1250}
    assert "low_t" not in json.loads(shlex.split(p.model_spec("images", "digits", "prr8"))[0])
    assert "low_t" not in json.loads(shlex.split(p.model_spec("images", "cats", "prp"))[0])
    assert p.seed("train", "digits", "prr8-r1") != p.seed("train", "digits", "prr8")
    # a model's own training keys go with it and its further seeds, over images.training
    # (an inflation-gap variant has its own name); entries for models the config does not
    # build (d = 3, another set) change nothing
    entries = {"digits_prr2": {"trajectory_penalty_weight": 0.3},
               "digits_prr2-ig1.1": {"steps": 7}}
    sweep = {"dims_to_keep": 2, "inflation_gaps": [1.1]}
    own = plan(images__replicates=2, images__ig_sweep=sweep, images__model_training={
        **entries, "digits_prr3": {"steps": 1}, "cats_prp": {"steps": 1}})
    variants = ("prr2", "prr2-r1", "prr2-ig1.1", "prr8", "prp")
    training = {s: json.loads(shlex.split(own.training("images", "digits", s))[0])
                for s in variants}
    base = own.config["images"]["training"]
    assert training["prr2"] == training["prr2-r1"] == {**base, "trajectory_penalty_weight": 0.3}
    assert training["prr2-ig1.1"] == {**base, "steps": 7}
    assert training["prr8"] == training["prp"] == base
    alone = plan(images__replicates=2, images__ig_sweep=sweep, images__model_training=entries)
    assert all(own.training("images", "digits", s) == alone.training("images", "digits", s)
               for s in variants)
    # table1 reads each model's seeds in the models' order; the residuals skip them
    table = p.image_table_inputs("table1")
    assert len(table["replicates"]) == 2 * len(table["metrics"])
    assert table["replicates"][:2] == ["results/metrics/images/digits_prp-r1.json",
                                       "results/metrics/images/digits_prp-r2.json"]
    assert all("-r" not in m for _, m in p.residual_models)
    assert "replicates" not in plan().image_table_inputs("table1")
