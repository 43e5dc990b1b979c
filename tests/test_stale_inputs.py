"""Never stale: a checkout whose path has a space runs its own code, and a changed image folder
or CIFAR tarball rebuilds its dataset (and only then)."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from conftest import REPO, job_counts, snakemake
from image_fixtures import cifar_batches, write_cifar_tarball, write_png_folder

from inflationary_flows.io import read_h5, read_provenance

pytestmark = pytest.mark.workflow

OFF = {"calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                       "prr_generation": {"datasets": []},
                       "coverage": {"models": []}, "solvers": {"model": ""},
                       "density": {"models": []}, "cross_fit": {"models": []},
                       "embedded": {"base": ""}}, "images": {"datasets": []}}
TOY_CHAIN = {
    "seed": 3,
    "data": {"toys": ["circles"], "digits": False, "n_train": 200, "n_test": 40},
    "toys": {"models": {"prp": ["circles"], "prr": []}, "animations": [],
             "network": {"width": 8, "depth": 1, "time_features": 2},
             "training": {"steps": 10, "batch_size": 32, "stable_target_size": 0,
                          "checkpoint_every": 10, "warmup_steps": 2},
             "solver": {"method": "dopri5", "rtol": 1.0e-3, "atol": 1.0e-3},
             "n_eval": 20, "n_generate": 20, "n_trajectories": 5, "frames": 3},
    **OFF,
}
CHAIN = ["results/data/circles.h5", "results/pca/circles.h5",
         "results/models/toys/circles_prp.json", "results/flows/toys/circles_prp.h5",
         "results/metrics/toys/circles_prp.json"]


def clone(dest):
    """The working tree's files (tracked and new, edits included), as a checkout at ``dest``."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others",
                             "--exclude-standard", "-z"], capture_output=True, check=True)
    for rel in filter(None, listed.stdout.decode().split("\0")):
        if (REPO / rel).is_file():  # a tracked file deleted in the working tree is skipped
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    return dest


def test_a_checkout_path_with_a_space_runs_its_own_code(tmp_path):
    repo = clone(tmp_path / "my repo")
    init = repo / "src/inflationary_flows/__init__.py"
    text = init.read_text()
    assert '__version__ = "0.1.0"' in text
    init.write_text(text.replace('__version__ = "0.1.0"', '__version__ = "0.1.0+clone"'))
    work = tmp_path / "work dir"
    snakemake(work, CHAIN[-1], config=TOY_CHAIN, snakefile=repo / "Snakefile")
    for output in CHAIN:
        assert read_provenance(work / output)["package_version"] == "0.1.0+clone", output


def image_config(**data):
    return {"data": {"toys": [], "digits": False, **data},
            "toys": {"models": {"prp": [], "prr": []}, "animations": []}, **OFF}


def planned(workdir, target, config):
    """The jobs a dry run plans for ``target`` ({} when there is nothing to do)."""
    proc = snakemake(workdir, "-n", target, config=config)
    if "Nothing to be done" in proc.stdout + proc.stderr:
        return {}
    return job_counts(proc)


def set_back(path, seconds=3600):
    """Give ``path`` an mtime older than any output (as ``cp -p`` of an old file would)."""
    past = path.stat().st_mtime_ns - seconds * 10**9
    os.utime(path, ns=(past, past))


def colours(h5):
    """The (R, G, B) of every image of a flat-colour dataset, train and test together."""
    arrays, _ = read_h5(h5, "dataset")
    rows = np.concatenate([arrays["train/x"], arrays["test/x"]])
    return sorted(tuple(int(v) for v in row.reshape(3, -1)[:, 0]) for row in rows)


def test_a_changed_image_folder_rebuilds_its_dataset(tmp_path):
    folder = tmp_path / "my pets"  # a space, as user paths have
    write_png_folder(folder, per_class=4)
    config = image_config(image_folders={"pets": {"folder": str(folder), "size": 2,
                                                  "test_fraction": 0.25}})
    work, target = tmp_path / "w", "results/data/pets.h5"
    snakemake(work, target, config=config)
    assert len(colours(work / target)) == 8
    assert planned(work, target, config) == {}  # the new state was recorded
    assert planned(work, target, config) == {}  # untouched: nothing to do

    # (a) an image added to a label subfolder (the folder's own mtime does not change)
    shutil.copy(folder / "dog/000.png", folder / "dog/004.png")
    assert planned(work, target, config) == {"dataset": 1}
    snakemake(work, target, config=config)
    assert len(colours(work / target)) == 9

    # (b) an image replaced by different content with an older mtime
    from PIL import Image

    cat = folder / "cat/000.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(cat)
    set_back(cat)
    assert planned(work, target, config) == {"dataset": 1}
    snakemake(work, target, config=config)
    assert (1, 2, 3) in colours(work / target)

    # (c) an image removed
    (folder / "cat/001.png").unlink()
    assert planned(work, target, config) == {"dataset": 1}
    snakemake(work, target, config=config)
    assert len(colours(work / target)) == 8
    assert planned(work, target, config) == {}  # the new state was recorded


def test_a_replaced_cifar_tarball_rebuilds_its_dataset(tmp_path):
    tarball = write_cifar_tarball(tmp_path / "cifar 10.tar.gz", cifar_batches(4, seed=0))
    config = image_config(cifar10={"tarball": str(tarball), "md5": ""})
    work, target = tmp_path / "w", "results/data/cifar10.h5"
    snakemake(work, target, config=config)
    assert read_h5(work / target, "dataset")[0]["train/x"].shape == (20, 3072)
    assert planned(work, target, config) == {}

    # replaced by another tarball with an older mtime (cp -p, an unpacked backup)
    write_cifar_tarball(tarball, cifar_batches(5, seed=1))
    set_back(tarball)
    assert planned(work, target, config) == {"dataset": 1}
    snakemake(work, target, config=config)
    assert read_h5(work / target, "dataset")[0]["train/x"].shape == (25, 3072)
    assert planned(work, target, config) == {}
