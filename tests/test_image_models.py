"""Image models: the UNet backbone, a short image training run with a round trip, the
digits classifier, and the image metrics (Frechet distance, 8-bit MSE) against closed forms."""

import json

import numpy as np
import pytest
import torch
from scipy.linalg import sqrtm

from inflationary_flows.analyses.classifier import accuracy, train_classifier
from inflationary_flows.analyses.metrics import (
    batch_frechet_distance,
    feature_frechet_distance,
    frechet_batch_size,
    frechet_distance,
    pixel_mse,
    resampled_frechet_distance,
    to_uint8,
)
from inflationary_flows.backbones import build_backbone
from inflationary_flows.basis import EigenBasis
from inflationary_flows.datasets import decode, make_digits
from inflationary_flows.flow import InflationaryFlow, SolverConfig
from inflationary_flows.models import build_model, schedule_from_spec
from inflationary_flows.pca import fit_pca
from inflationary_flows.preconditioning import IFPreconditioner, LowTimeNetwork, ramp_weight
from inflationary_flows.training import TrainConfig, Trainer

TINY_UNET = {"kind": "unet", "channels": 8, "multipliers": [1, 2], "blocks": 1,
             "attention": [4], "dropout": 0.1, "time_features": 4}


@pytest.mark.parametrize("shape", [[1, 8, 8], [3, 16, 16]])
def test_unet_maps_flat_images_to_flat_images_with_gradients(shape):
    dim = int(np.prod(shape))
    net = build_backbone({**TINY_UNET, "dim": dim, "t_max": 15.0, "image_shape": shape})
    x, t = torch.randn(5, dim), torch.rand(5)
    out = net(x, t)
    assert out.shape == (5, dim)
    assert torch.count_nonzero(out) == 0  # zero-initialised output: F = 0 before training
    torch.nn.init.normal_(net.out.weight)
    net(x, t).square().sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # the gradient reaching the input layer is the loss's: central differences (float64,
    # dropout off) agree to ~1e-9 relative
    net.eval()
    w = net.inp.weight
    grad = torch.autograd.grad(net(x, t).square().sum(), w)[0]
    for index in [(0, 0, 0, 0), (3, 0, 1, 2), (7, shape[0] - 1, 2, 1)]:
        with torch.no_grad():
            w[index] += 1e-6
            up = net(x, t).square().sum().item()
            w[index] -= 2e-6
            down = net(x, t).square().sum().item()
            w[index] += 1e-6
        assert (up - down) / 2e-6 == pytest.approx(grad[index].item(), rel=1e-6), index


def test_unet_rejects_shapes_it_cannot_halve():
    with pytest.raises(ValueError, match="do not halve"):
        build_backbone({**TINY_UNET, "multipliers": [1, 1, 1, 1], "dim": 36, "t_max": 1.0,
                        "image_shape": [1, 6, 6]})
    with pytest.raises(ValueError, match="has 64 values, data has 65"):
        build_backbone({**TINY_UNET, "dim": 65, "t_max": 1.0, "image_shape": [8, 8]})


def digits_pixels():
    data = make_digits(0.2, seed=0)
    return (torch.as_tensor(decode(data.train, data.params["encoding"])),
            torch.as_tensor(decode(data.test, data.params["encoding"])), data)


def test_two_unet_training_steps_then_a_round_trip_below_the_target_mse(tmp_path):
    train, test, _ = digits_pixels()
    pca = fit_pca(train.numpy())
    spec = {"schedule": {"kind": "prr", "form": "exponential", "rho": 1.0, "gamma0": 5e-4,
                         "A0": 1.0, "t_min": 0.01, "t_max": 15.01, "g_mode": "constant_gap",
                         "inflation_gap": 1.02, "dims_to_keep": 8},
            "backbone": {**TINY_UNET, "dim": 64, "t_max": 15.01, "image_shape": [1, 8, 8]},
            "space": "data"}
    torch.manual_seed(0)
    model = build_model(spec, pca.eigenvalues, pca.eigenvectors, pca.mean)
    model.backbone.float()
    before = [p.detach().clone() for p in model.backbone.parameters()]
    cfg = TrainConfig(steps=2, batch_size=32, warmup_steps=1, stable_target_size=16,
                      checkpoint_every=1, t_min=0.01, t_max=15.01)
    trainer = Trainer(model, model.basis.to_eigen(train), cfg, tmp_path / "ckpt")
    trainer.fit()
    assert trainer.step == 2 and (tmp_path / "ckpt/last.pt").exists()
    changed = [not torch.equal(a, b) for a, b in zip(before, model.backbone.parameters(),
                                                     strict=True)]
    assert any(changed)
    ema = trainer.ema.eval().requires_grad_(False)
    flow = InflationaryFlow(ema, ema.basis, SolverConfig(t_min=0.01, t_max=15.01))
    with torch.no_grad():
        back = flow.roundtrip(test[:8]).value
    assert pixel_mse(test[:8].numpy(), back.numpy())["float"] < 1e-3  # the target


def test_digits_classifier_learns_the_held_out_split():
    train, test, data = digits_pixels()
    model = train_classifier(train, torch.as_tensor(data.train_labels), steps=300, seed=0)
    assert accuracy(model, test, torch.as_tensor(data.test_labels)) > 0.9
    assert model.features(test.float()).shape == (len(test), 32)


def test_frechet_distance_equals_closed_forms():
    rng = np.random.default_rng(0)
    # commuting (diagonal) covariances: |m1 - m2|^2 + sum (sqrt a - sqrt b)^2
    a, b = rng.uniform(0.1, 3, 4), rng.uniform(0.1, 3, 4)
    m1, m2 = rng.normal(size=4), rng.normal(size=4)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected, rel=1e-12)
    # general covariances: the textbook trace form with a matrix square root of S1 S2
    g1, g2 = rng.normal(size=(5, 5)), rng.normal(size=(5, 5))
    s1, s2 = g1 @ g1.T + 0.1 * np.eye(5), g2 @ g2.T + 0.1 * np.eye(5)
    textbook = np.trace(s1 + s2 - 2 * np.real(sqrtm(s1 @ s2)))
    assert frechet_distance(np.zeros(5), s1, np.zeros(5), s2) == pytest.approx(textbook, rel=1e-9)
    assert frechet_distance(m1, s1, m1, s1) == pytest.approx(0.0, abs=1e-9)


def test_feature_frechet_distance_of_gaussian_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(1)
    s1, s2 = np.diag([1.0, 2.0, 0.5]), np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.0], [0, 0, 2]])
    m2 = np.array([0.5, 0.0, -0.5])
    x = rng.multivariate_normal(np.zeros(3), s1, 200_000)
    y = rng.multivariate_normal(m2, s2, 200_000)
    exact = frechet_distance(np.zeros(3), s1, m2, s2)
    assert feature_frechet_distance(x, y) == pytest.approx(exact, rel=0.02)


def test_frechet_distance_of_n_rows_is_biased_by_its_closed_form_at_that_n():
    """n draws of N(0, I_d) against their own law: E[distance] = d / n (the mean) +
    d (d + 1) / (4 (n - 1)) (the covariance, to second order in its Wishart error), so
    distances compare only at equal n; batches and resampling both estimate it."""
    rng = np.random.default_rng(2)
    d, batches = 3, 400
    law = rng.standard_normal((400_000, d))  # its own error: d / 400 000
    for n in (100, 400):
        x = rng.standard_normal((n * batches + n // 2, d))  # a remainder is left out
        got = batch_frechet_distance(x, law, n)
        assert len(got["batches"]) == batches and got["n"] == n
        np.testing.assert_allclose(got["batches"][1], feature_frechet_distance(
            x[n:2 * n], law), rtol=1e-12)
        assert got["mean"] == pytest.approx(d / n + d * (d + 1) / (4 * (n - 1)), rel=0.08)
        assert got["sd"] == pytest.approx(np.std(got["batches"], ddof=1), rel=1e-12)
    # drawn with replacement from a large sample of the law: the same bias at n
    pool = rng.standard_normal((200_000, d))
    resampled = resampled_frechet_distance(pool, law, 200, batches, seed=0)
    assert resampled["mean"] == pytest.approx(d / 200 + d * (d + 1) / (4 * 199), rel=0.08)
    assert resampled == resampled_frechet_distance(pool, law, 200, batches, seed=0)
    # one batch: the distance of those rows, no sd
    one = batch_frechet_distance(x[:50], law, 50)
    assert one["mean"] == feature_frechet_distance(x[:50], law) and one["sd"] is None
    with pytest.raises(ValueError, match="batches of 50 rows need at least 50, got 49"):
        batch_frechet_distance(x[:49], law, 50)


@pytest.mark.parametrize("rows, at_most, n", [(5600, 1438, 1400), (1400, 1438, 1400),
                                              (60, 1438, 60), (1438, 1438, 1438),
                                              (1439, 1438, 719), (10, 3, 2)])
def test_generated_images_go_in_the_fewest_equal_batches_of_at_most_the_floors_size(
        rows, at_most, n):
    """The digits default: 5600 generated against 1438 training digits are 4 batches of
    1400; fewer generated than training images are one batch of them all."""
    assert frechet_batch_size(rows, at_most) == n
    assert n <= at_most and rows // n >= -(-rows // at_most)  # no batch larger than the floor


def test_pixel_mse_in_8bit_units_and_the_wrapping_uint8_convention():
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    shifted = x + 3 / 127.5  # three levels everywhere
    assert pixel_mse(x, shifted)["float"] == pytest.approx(9.0, rel=1e-12)
    small = pixel_mse(x[:, 1:3], shifted[:, 1:3])  # not clipped at the ends: exactly 3 levels
    assert small["uint8"] == pytest.approx(9.0)
    far = np.full((1, 4), -1.0), np.full((1, 4), -1.0 + 20 / 127.5)
    assert pixel_mse(*far)["float"] == pytest.approx(400.0)
    assert pixel_mse(*far)["uint8"] == 400 % 256  # uint8 arithmetic wraps
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.0, 1.0, 2.0])), [0, 128, 255, 255])


def test_image_table_puts_fid_and_the_papers_numbers_beside_each_model(tmp_path):
    from inflationary_flows.cli import main
    from inflationary_flows.io import read_csv, write_json

    def metrics(model, kind, keep, gap=None):
        sched = {"kind": kind, **({"inflation_gap": gap} if gap else {})}
        write_json(tmp_path / f"{model}.json", {
            "kind": "image_metrics", "model": model, "schedule": sched, "dims_to_keep": keep,
            "dim": 3072, "nfe": {"generation": 510},
            "roundtrip_mse_8bit": {"float": 0.5, "uint8": 0.7},
            "latent_calibration": {"max_abs_error": 0.01}})
        return str(tmp_path / f"{model}.json")

    paths = [metrics("afhqv2_prp", "prp", 3072), metrics("afhqv2_prr2", "prr", 2, 1.02),
             metrics("afhqv2_prr2-ig1.1", "prr", 2, 1.10), metrics("afhqv2_prr5", "prr", 5, 1.02)]
    write_json(tmp_path / "afhqv2_prr2_fid.json", {"kind": "fid", "fid": 12.5})
    out = tmp_path / "table.csv"
    assert main(["image-table", "--metrics", *paths, "--datasets", *["afhqv2"] * 4,
                 "--fid", str(tmp_path / "afhqv2_prr2_fid.json"), "--output", str(out)]) == 0
    rows = {r["model"]: r for r in read_csv(out)}
    assert rows["afhqv2_prr2"]["fid"] == "12.5" and rows["afhqv2_prp"]["fid"] == ""
    assert (rows["afhqv2_prp"]["paper_fid"], rows["afhqv2_prp"]["paper_mse_8bit"]) == ("11.9",
                                                                                      "0.38")
    assert rows["afhqv2_prr2"]["paper_fid"] == "11.95"
    assert rows["afhqv2_prr2-ig1.1"]["paper_fid"] == "13.98"  # the IG sweep's row
    assert rows["afhqv2_prr5"]["paper_fid"] == ""  # not in the paper


def test_image_table_adds_the_calibration_checks_and_the_mean_and_sd_over_seeds(tmp_path,
                                                                               capsys):
    """Two models, each with two further seeds whose Frechet distance and held-out check
    differ: the table's mean and sd columns are numpy's over the three; a digits row holds
    its checks beside the exact score's, a row without checks leaves them empty."""
    from inflationary_flows.cli import main
    from inflationary_flows.io import read_csv, write_json

    def metrics(model, frechet, held_out):
        sched = {"kind": "prp"}
        checks = {"held_out_noised": {"trained": {"max_abs_error": held_out},
                                      "exact": {"max_abs_error": 0.99}},
                  "training_noised": {"trained": {"max_abs_error": 0.3},
                                      "exact": {"max_abs_error": 0.05}}}
        write_json(tmp_path / f"{model}.json", {
            "kind": "image_metrics", "model": model, "schedule": sched, "dims_to_keep": 64,
            "dim": 64, "nfe": {"generation": 80},
            "roundtrip_mse_8bit": {"float": 0.5, "uint8": 0.7},
            "latent_calibration": {"max_abs_error": 0.2},
            "frechet": {"frechet_distance": frechet, "floor_train_vs_test": 9.25,
                        # the reference 11 in two batches, the excess 1 apart between them
                        "exact": {"frechet_distance": 11.0},
                        "minus_exact": {"mean": frechet - 11.0, "sd": 2 ** -0.5}},
            **({"calibration_checks": checks} if held_out is not None else {})})
        return str(tmp_path / f"{model}.json")

    frechets, held = [13.0, 15.0, 20.0], [0.25, 0.1, 0.4]
    paths = [metrics("digits_prp", frechets[0], held[0]), metrics("other_prp", 30.0, None)]
    seeds = [metrics("digits_prp-r1", frechets[1], held[1]),
             metrics("digits_prp-r2", frechets[2], held[2]),
             metrics("other_prp-r1", 31.0, None), metrics("other_prp-r2", 32.0, None)]
    out = tmp_path / "table1.csv"
    assert main(["image-table", "--metrics", *paths, "--datasets", "digits", "other",
                 "--replicates", *seeds, "--output", str(out)]) == 0
    digits, other = read_csv(out)
    assert digits["replicates"] == "3"
    assert float(digits["classifier_frechet_mean"]) == pytest.approx(np.mean(frechets), rel=1e-3)
    assert float(digits["classifier_frechet_sd"]) == pytest.approx(np.std(frechets, ddof=1),
                                                                   rel=1e-3)
    assert float(digits["held_out_noised_max_error_sd"]) == pytest.approx(
        np.std(held, ddof=1), rel=1e-3)
    assert (digits["held_out_noised_max_error"], digits["held_out_noised_max_error_exact"],
            digits["training_noised_max_error_exact"]) == ("0.25", "0.99", "0.05")
    assert digits["mse_8bit_sd"] == "0"  # the same in every seed
    # the excess's sd over one model's batches, and over the seeds: two columns
    assert float(digits["classifier_frechet_minus_exact_batch_sd"]) == pytest.approx(2 ** -0.5,
                                                                                    rel=1e-3)
    assert float(digits["classifier_frechet_minus_exact_sd"]) == pytest.approx(
        np.std(frechets, ddof=1), rel=1e-3)
    assert float(digits["classifier_frechet_exact_mean"]) == 11.0
    assert other["held_out_noised_max_error"] == other["held_out_noised_max_error_mean"] == ""
    assert float(other["classifier_frechet_mean"]) == pytest.approx(31.0)
    # a seed file of another model is refused, naming it
    assert main(["image-table", "--metrics", *paths, "--datasets", "digits", "other",
                 "--replicates", seeds[0], seeds[1], seeds[0], seeds[3],
                 "--output", str(out)]) == 1
    assert "digits_prp-r1.json: model digits_prp-r1, not a seed of other_prp" in \
        capsys.readouterr().err


class Diagonal(torch.nn.Module):
    """F(x, t) = scale * x, one factor per coordinate: a backbone whose output is known in
    closed form; it records the times it was evaluated at."""

    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(scale)
        self.seen: list[torch.Tensor] = []

    def forward(self, x, t):
        self.seen.append(t)
        return self.scale * x


def test_ramp_weight_is_one_then_a_half_cosine_in_log_t_then_zero():
    t = torch.tensor([0.5, 2.0, 2 * 4 ** (1 / 3), 4.0, 8.0, 12.0], dtype=torch.float64)
    expected = torch.tensor([1, 1, 0.75, 0.5, 0, 0], dtype=torch.float64)
    torch.testing.assert_close(ramp_weight(t, 2.0, 8.0), expected, rtol=0, atol=1e-15)
    # no kink at either end: the one-sided slopes in ln t vanish there
    h = 1e-4
    for end, value in ((2.0, 1.0), (8.0, 0.0)):
        inside = ramp_weight(torch.tensor([end * np.exp(h if value else -h)]), 2.0, 8.0)
        assert abs(float(inside) - value) < 1e-6


def test_a_low_t_network_blends_into_f_and_runs_only_where_its_share_is_not_zero():
    rng = np.random.default_rng(0)
    dim = 5
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    eigenvalues = torch.as_tensor(np.sort(rng.uniform(0.5, 3.0, dim))[::-1].copy())
    spec = {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.01, "t_max": 10.0}
    main_scale, low_scale = torch.as_tensor(rng.normal(size=dim)), torch.as_tensor(
        rng.normal(size=dim))
    basis = EigenBasis(torch.as_tensor(rotation), torch.zeros(dim, dtype=torch.float64))
    low = LowTimeNetwork(Diagonal(low_scale.clone()), "data", (1.0, 4.0))
    model = IFPreconditioner(Diagonal(main_scale.clone()), schedule_from_spec(spec, eigenvalues),
                             basis, "eigen", low)
    u = torch.as_tensor(rng.normal(size=(4, dim)))
    t = torch.tensor([0.5, 2.0, 4.0, 9.0], dtype=torch.float64)
    with torch.no_grad():
        got = model.residual(u, t)
    # closed form: c_out [w V^T diag(b) V x + (1 - w) a x], x = c_in u, V the rotation to pixels
    C = model.schedule.C(t)
    c_in, c_out = (eigenvalues + C).rsqrt(), (eigenvalues * C / (eigenvalues + C)).sqrt()
    x = c_in * u
    w = torch.tensor([1.0, 0.5, 0.0, 0.0], dtype=torch.float64)[:, None]
    low_f = ((x @ basis.eigenvectors.T) * low_scale) @ basis.eigenvectors
    expected = c_out * (w * low_f + (1 - w) * main_scale * x)
    torch.testing.assert_close(got, expected, rtol=1e-13, atol=1e-15)
    # the low-t network saw only the rows with t below the ramp's end
    torch.testing.assert_close(torch.cat(low.backbone.seen), t[:2])
    with pytest.raises(ValueError, match="0 < start < end"):
        LowTimeNetwork(Diagonal(low_scale), "data", (4.0, 1.0))


def test_a_low_t_network_trains_alone_and_its_settings_never_reach_the_main_one(tmp_path,
                                                                                   capsys):
    """Train step: the main network's weights are bitwise those of a run without a low-t
    network; the low-t one trains on t up to its ramp's end; a changed low-t setting retrains
    the low-t network only (the main one resumes), and the model file loads back."""
    from inflationary_flows.cli import main
    from inflationary_flows.models import load_model

    data, pca = tmp_path / "digits.h5", tmp_path / "pca.h5"
    assert main(["dataset", "--name", "digits", "--kind", "digits", "--seed", "0",
                 "--output", str(data)]) == 0
    assert main(["pca", "--data", str(data), "--output", str(pca)]) == 0
    spec = {"schedule": {"kind": "prp", "form": "exponential", "rho": 1.0, "gamma0": 5e-4,
                         "A0": 1.0, "t_min": 0.01, "t_max": 15.01},
            "backbone": {"kind": "mlp", "width": 16, "depth": 1, "time_features": 4},
            "space": "eigen"}
    low = {"backbone": {**TINY_UNET, "attention": []}, "space": "data", "ramp": [1.0, 5.0],
           "steps": 3}
    training = {"steps": 4, "batch_size": 32, "warmup_steps": 1, "checkpoint_every": 2,
                "stable_target_size": 16, "band_points": 64}

    def train(name, spec):
        out = tmp_path / f"{name}.pt"
        assert main(["train", "--data", str(data), "--pca", str(pca), "--spec", json.dumps(spec),
                     "--training", json.dumps(training), "--seed", "3", "--checkpoint-dir",
                     str(tmp_path / f"ckpt_{name}"), "--output", str(out),
                     "--output-spec", str(out.with_suffix(".json"))]) == 0
        return load_model(out, out.with_suffix(".json"))

    alone, _ = train("alone", spec)
    blended, meta = train("blended", {**spec, "low_t": low})
    state, blended_state = alone.state_dict(), blended.state_dict()
    for key, value in state.items():
        assert torch.equal(value, blended_state[key]), key
    assert blended.low_t.ramp == (1.0, 5.0) and blended.low_t.space == "data"
    assert meta["training"]["low_t"]["config"]["t_max"] == 5.0
    assert meta["training"]["low_t"]["config"]["steps"] == 3
    assert blended.low_t.backbone.out.weight.abs().sum() > 0  # trained off its zero start
    capsys.readouterr()
    again, _ = train("blended", {**spec, "low_t": {**low, "steps": 4}})
    log = capsys.readouterr().err
    assert "resumed from" in log and "ckpt_blended/last.pt at step 4" in log
    assert "not resuming from" in log and "low_t/last.pt" in log
    assert not torch.equal(again.low_t.backbone.out.weight, blended.low_t.backbone.out.weight)
    for key, value in state.items():
        assert torch.equal(value, again.state_dict()[key]), key


def test_a_low_t_network_is_built_aside_and_never_trained_attached():
    """Building it leaves torch's generator where the main network's left it (a main network
    with dropout on the CPU draws from it in training); the Trainer refuses the blend, whose
    loss would scale the main network's gradient by 1 - w; a ramp ending below t_min is
    refused by name."""
    from inflationary_flows.steps.train import train_low_t

    pca = fit_pca(np.random.default_rng(0).normal(size=(200, 64)))
    spec = {"schedule": {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.01,
                         "t_max": 15.01},
            "backbone": {"kind": "mlp", "width": 8, "depth": 1, "time_features": 2, "dim": 64,
                         "t_max": 15.01}, "space": "eigen"}
    low = {"backbone": {**TINY_UNET, "dim": 64, "t_max": 15.01, "image_shape": [1, 8, 8]},
           "space": "data", "ramp": [1.0, 5.0], "steps": 3}
    draws = []
    for model_spec in (spec, {**spec, "low_t": low}):
        torch.manual_seed(0)
        model = build_model(model_spec, pca.eigenvalues, pca.eigenvectors, pca.mean)
        draws.append(torch.rand(3))
    torch.testing.assert_close(draws[0], draws[1], rtol=0, atol=0)
    cfg = TrainConfig(steps=2, t_min=0.01, t_max=15.01)
    with pytest.raises(ValueError, match="detach the model's low-t network"):
        Trainer(model, model.basis.to_eigen(torch.zeros(4, 64, dtype=torch.float64)), cfg)
    late = TrainConfig(steps=2, t_min=6.0, t_max=15.01)
    with pytest.raises(ValueError, match="low_t ramp end 5 must exceed the schedule's t_min 6"):
        train_low_t(model.low_t, model, 3, late, torch.zeros(4, 64), "unused", "cpu", None,
                    {}, None)
