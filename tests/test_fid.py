"""FID end to end on the CPU: torch-fidelity's Inception-v3 from a locally built weights file."""

import numpy as np
import pytest
from fid_fixtures import fidelity_env, write_inception_weights

from inflationary_flows.steps.fid import frechet_inception_distance


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_added_noise(tmp_path):
    fidelity_env()
    weights = write_inception_weights(tmp_path / "inception.pth")
    rng = np.random.default_rng(0)
    # smooth random images (a coarse grid upsampled), rows in [-1, 1] as the datasets store
    coarse = rng.uniform(-1, 1, (6, 3, 4, 4))
    images = np.kron(coarse, np.ones((1, 1, 8, 8))).reshape(6, -1)
    # the reference's features are computed once and cached; every call reads them back
    # Inception's first feature layer (64-D) instead of FID's 2048-D: the network stops there
    # and the matrix square root is 64 x 64, seconds instead of 20 (the workflow test runs
    # the 2048-D FID through the fid rule)
    cached = {"cache_root": str(tmp_path / "cache"), "input2_cache_name": "reference",
              "save_cpu_ram": True, "feature_layer_fid": "64"}

    def fid(rows, **extra):
        return frechet_inception_distance(rows, images, [3, 32, 32], weights, batch_size=6,
                                          **cached, **extra)

    same = fid(images, input1_cache_name="reference")
    noisy = [fid(np.clip(images + rng.normal(0, sd, images.shape), -1, 1))
             for sd in (0.05, 0.5)]
    assert abs(same) < 1e-3 * noisy[0], (same, noisy)
    assert noisy[0] < noisy[1], noisy


def test_a_missing_or_truncated_weights_file_names_the_key(tmp_path, capsys):
    from inflationary_flows.steps.fid import check_weights

    with pytest.raises(ValueError, match="images.fid.weights: no file"):
        check_weights(str(tmp_path / "absent.pth"))
    # torch-fidelity's file name promises a SHA-256 prefix: a truncated download breaks it
    fake = tmp_path / "weights-inception-2015-12-05-6726825d.pth"
    fake.write_bytes(b"truncated")
    assert check_weights(str(fake)) == fake
    warning = capsys.readouterr().err.strip()
    assert len(warning.splitlines()) == 1 and "not 6726825d... as its name says" in warning
    own = tmp_path / "random-inception.pth"  # any other name is taken as given
    own.write_bytes(b"x")
    assert check_weights(str(own)) == own and capsys.readouterr().err == ""
