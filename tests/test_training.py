"""Training: it learns beyond the Gaussian denoiser, and resumes bitwise from checkpoints."""

import copy
import math
from dataclasses import replace

import pytest
import torch

from inflationary_flows.backbones.mlp import ResidualMLP
from inflationary_flows.basis import EigenBasis
from inflationary_flows.preconditioning import IFPreconditioner, coefficients
from inflationary_flows.schedules import make_schedule
from inflationary_flows.training import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
    band_slope_penalty,
    learning_rate,
    loss_by_time_band,
)


def four_clusters(n=4000, seed=0):
    """Four tight clusters: far from Gaussian, so the optimal denoiser beats the linear one
    (the exact empirical denoiser reaches a loss ratio of 0.08 for t in [3, 5])."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    x = centres[torch.randint(0, 4, (n,), generator=g)] + 0.05 * torch.randn(n, 2, generator=g)
    return x.to(torch.float64)


def make_model(x, width=64, depth=2, kind="prp"):
    cov = torch.cov(x.T)
    lam, w = torch.linalg.eigh(cov)
    lam, w = lam.flip(0), w.flip(1)
    sched = make_schedule(kind, "exponential", lam, dims_to_keep=1)
    torch.manual_seed(0)
    net = ResidualMLP(2, t_max=15.0, width=width, depth=depth, time_features=8).float()
    return IFPreconditioner(net, sched, EigenBasis(w, x.mean(0)))


def test_lr_schedule_warms_up_and_decays():
    cfg = TrainConfig(steps=1000, lr=1e-3, warmup_steps=100, lr_min_factor=0.1)
    assert learning_rate(cfg, 0) == 1e-5 and abs(learning_rate(cfg, 99) - 1e-3) < 1e-12
    assert abs(learning_rate(cfg, 1000) - 1e-4) < 1e-12


def test_training_learns_what_the_linear_denoiser_cannot():
    x = four_clusters()
    model = make_model(x)
    u = model.basis.to_eigen(x)
    before = loss_by_time_band(model, u, [3.0, 5.0], per_band=2048)[0]["ratio"]
    trainer = Trainer(model, u, TrainConfig(steps=300, batch_size=256, stable_target_size=256,
                                            t_max=15.0, warmup_steps=20,
                                            ema_halflife_samples=5000))
    trainer.fit()
    after = loss_by_time_band(trainer.ema, u, [3.0, 5.0], per_band=2048)[0]["ratio"]
    assert abs(before - 1.0) < 1e-12  # zero-initialised output: the Gaussian denoiser
    assert after < 0.7, after


# the trajectory penalty re-solves its flow states every 5 steps: a resume at step 10 must
# re-solve them where the uninterrupted run did
@pytest.mark.parametrize("extra", [{}, {"trajectory_penalty_weight": 1.0,
                                        "trajectory_penalty_every": 5}])
def test_interrupted_training_resumes_to_bitwise_identical_weights(tmp_path, extra):
    x = four_clusters(500)
    cfg = TrainConfig(steps=30, batch_size=64, checkpoint_every=10, stable_target_size=32,
                      t_max=15.0, warmup_steps=5, **extra)

    straight = Trainer(make_model(x), make_model(x).basis.to_eigen(x), cfg)
    straight.fit()

    first = Trainer(make_model(x), make_model(x).basis.to_eigen(x), cfg, tmp_path)
    for _ in range(17):  # "killed" at step 17: the checkpoint of step 10 survives
        first.train_step()
        if first.step % cfg.checkpoint_every == 0:
            first.save_checkpoint()
    resumed = Trainer(make_model(x), make_model(x).basis.to_eigen(x), cfg, tmp_path)
    assert resumed.try_resume() is None and resumed.step == 10
    resumed.fit()
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def checkpointed(tmp_path, x, inputs, steps=10, **net):
    """A checkpoint of ``steps`` steps from a trainer whose inputs hash to ``inputs``."""
    cfg = TrainConfig(steps=steps, batch_size=64, checkpoint_every=steps, t_max=15.0,
                      warmup_steps=2)
    model = make_model(x, **net)
    Trainer(model, model.basis.to_eigen(x), cfg, tmp_path, inputs=inputs).fit()
    return cfg


def assert_weights_equal(a, b):
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name


@pytest.mark.parametrize("changed", ["data", "pca", "spec"])
def test_a_checkpoint_from_other_inputs_is_not_resumed(tmp_path, changed):
    x = four_clusters(500)
    inputs = {"data": "d0", "pca": "p0", "spec": "s0"}
    cfg = checkpointed(tmp_path, x, inputs)
    model = make_model(x)
    again = Trainer(model, model.basis.to_eigen(x), cfg, tmp_path,
                    inputs={**inputs, changed: "new"})
    assert again.try_resume() == f"it was made from other inputs ({changed} differ)"
    assert again.step == 0
    again.fit()  # from scratch: the weights of a run that never saw the checkpoint
    fresh = make_model(x)
    alone = Trainer(fresh, fresh.basis.to_eigen(x), cfg)
    alone.fit()
    assert_weights_equal(again.model, alone.model)
    # the stale checkpoint was replaced: the same inputs now resume it
    model = make_model(x)
    same = Trainer(model, model.basis.to_eigen(x), cfg, tmp_path,
                   inputs={**inputs, changed: "new"})
    assert same.try_resume() is None and same.step == cfg.steps


def test_a_changed_training_config_or_process_layout_is_not_resumed(tmp_path):
    x = four_clusters(500)
    cfg = checkpointed(tmp_path, x, {})
    model = make_model(x)
    longer = Trainer(model, model.basis.to_eigen(x), TrainConfig(**{**cfg.__dict__, "lr": 1e-3}),
                     tmp_path)
    assert longer.try_resume() == "it was made from other inputs (training differ)"
    saved = torch.load(tmp_path / "last.pt", weights_only=True)
    saved["fingerprint"] = saved["fingerprint"].replace("1 on cpu", "2 on cpu")
    torch.save(saved, tmp_path / "last.pt")
    model = make_model(x)
    assert Trainer(model, model.basis.to_eigen(x), cfg, tmp_path).try_resume() == \
        "it was made from other inputs (processes differ)"


def test_a_checkpoint_of_another_network_shape_starts_afresh_with_a_reason(tmp_path):
    x = four_clusters(500)
    cfg = checkpointed(tmp_path, x, {"spec": "same"}, width=32)
    model = make_model(x, width=16)
    trainer = Trainer(model, model.basis.to_eigen(x), cfg, tmp_path, inputs={"spec": "same"})
    reason = trainer.try_resume()
    assert reason.startswith("its network does not match (backbone.")
    assert "32" in reason and "16" in reason and trainer.step == 0


@pytest.mark.parametrize("fault", ["truncated", "not torch", "no fingerprint"])
def test_an_unreadable_or_old_checkpoint_starts_afresh_with_a_reason(tmp_path, fault):
    x = four_clusters(500)
    cfg = checkpointed(tmp_path, x, {})
    path = tmp_path / "last.pt"
    if fault == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif fault == "not torch":
        path.write_text("hello")
    else:
        saved = torch.load(path, weights_only=True)
        del saved["fingerprint"]
        torch.save(saved, path)
    model = make_model(x)
    trainer = Trainer(model, model.basis.to_eigen(x), cfg, tmp_path)
    reason = trainer.try_resume()
    expected = "it records no fingerprint" if fault == "no fingerprint" else "it cannot be used ("
    assert reason.startswith(expected) and "\n" not in reason and trainer.step == 0


class CorruptedAtStep(Trainer):
    """A trainer whose network turns to NaN at a given step, as after a bad update."""

    corrupt_at = 20

    def train_step(self):
        if self.step == self.corrupt_at:
            with torch.no_grad():
                self.model.backbone.out.bias.fill_(float("nan"))
        return super().train_step()


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    x = four_clusters(500)
    cfg = TrainConfig(steps=60, batch_size=64, checkpoint_every=10, t_max=15.0, warmup_steps=1)
    trainer = CorruptedAtStep(make_model(x), make_model(x).basis.to_eigen(x), cfg, tmp_path)
    with pytest.raises(TrainingDiverged, match="loss became nan between steps 21 and 30"):
        trainer.fit()
    kept = torch.load(tmp_path / "last.pt", weights_only=True)
    assert kept["step"] == 20
    assert all(torch.isfinite(v).all() for v in kept["model"].values()
               if v.is_floating_point())


def small_image_trainer(device="cpu", **cfg):
    """A three-level UNet with attention on digits (pixel input), float32 weights."""
    from inflationary_flows.datasets import decode, make_digits
    from inflationary_flows.models import build_model
    from inflationary_flows.pca import fit_pca

    data = make_digits(0.2, seed=0)
    x = torch.as_tensor(decode(data.train, data.params["encoding"]))
    pca = fit_pca(x.numpy())
    spec = {"schedule": {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.01,
                         "t_max": 15.01},
            "backbone": {"kind": "unet", "channels": 8, "multipliers": [1, 2, 2], "blocks": 1,
                         "attention": [4], "time_features": 4, "dim": 64, "t_max": 15.01,
                         "image_shape": [1, 8, 8]},
            "space": "data"}
    torch.manual_seed(0)
    model = build_model(spec, pca.eigenvalues, pca.eigenvectors, pca.mean)
    model.backbone.float()
    torch.nn.init.normal_(model.backbone.out.weight, std=0.02)  # a network with an output
    config = TrainConfig(steps=4, batch_size=16, warmup_steps=1, lr=1e-3, t_min=0.01,
                         t_max=15.01, **cfg)
    return Trainer(model, model.basis.to_eigen(x), config, device=device)


def test_bf16_autocast_on_the_cpu_keeps_float64_around_the_network_and_tracks_fp32():
    from inflationary_flows.flow import InflationaryFlow, SolverConfig
    from inflationary_flows.training import BF16Autocast

    fp32 = small_image_trainer(mixed_precision=True)  # CPU without mixed_precision_cpu: fp32
    bf16 = small_image_trainer(mixed_precision=True, mixed_precision_cpu=True)
    assert not isinstance(fp32.trained.backbone, BF16Autocast)
    seen = []
    bf16.model.backbone.out.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    state = bf16.gen.get_state()
    u0, t, noise, _ = bf16._batch()
    bf16.gen.set_state(state)  # both trainers then draw the same batches
    F, target = bf16.trained.loss_terms(u0, t, noise)
    assert seen == [torch.bfloat16]  # the network really ran under autocast
    assert F.dtype == target.dtype == torch.float64
    losses = {"fp32": [], "bf16": []}
    for name, trainer in (("fp32", fp32), ("bf16", bf16)):
        for _ in range(4):
            loss = trainer.train_step()
            assert loss.dtype == torch.float64
            losses[name].append(loss.item())
    # the same batches (losses 0.7-1.4 from step to step): bf16's ~3 significant digits move
    # each by well under a percent. Weights are not compared: Adam's first steps are about
    # lr * sign(gradient), and bf16 flips the sign of the many near-zero gradients.
    for a, b in zip(losses["fp32"], losses["bf16"], strict=True):
        assert abs(a - b) < 0.01 * a, losses
    # the ODE state stays float64 around a bf16 network, close to the same weights' fp32 path
    # (the same weights: after a few Adam steps the two trainers' weights differ by sign flips)
    z = torch.randn(4, 64, generator=torch.Generator().manual_seed(0))
    model = fp32.model
    ends = {}
    for name, denoiser in (("fp32", model), ("bf16", IFPreconditioner(
            BF16Autocast(model.backbone, "cpu"), model.schedule, model.basis, model.space))):
        flow = InflationaryFlow(denoiser, model.basis,
                                SolverConfig(method="heun", steps=8, t_min=0.01, t_max=15.01))
        with torch.no_grad():
            ends[name] = flow.generate(z).value
    assert ends["bf16"].dtype == torch.float64
    assert (ends["bf16"] - ends["fp32"]).abs().max() < 0.05 * ends["fp32"].abs().max()


@pytest.mark.parametrize("slope_weight, trajectory_weight", [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)])
def test_a_training_step_never_waits_on_the_host(slope_weight, trajectory_weight):
    """No tensor becomes a Python number inside a step (on a GPU each would stall the queue):
    every such read goes through aten._local_scalar_dense, which is counted here."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Reads(TorchDispatchMode):
        count = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func is torch.ops.aten._local_scalar_dense.default:
                Reads.count += 1
            return func(*args, **(kwargs or {}))

    x = four_clusters(500)
    model = make_model(x)
    trainer = Trainer(model, model.basis.to_eigen(x),
                      TrainConfig(steps=5, batch_size=64, stable_target_size=32, t_max=15.0,
                                  linear_response_weight=slope_weight,
                                  trajectory_penalty_weight=trajectory_weight))
    # the optimizer's state is created on the first step; the trajectory penalty's flow
    # states are solved there too (every 250 steps), not in the steps counted
    trainer.train_step()
    with Reads():
        for _ in range(3):
            trainer.train_step()
    assert Reads.count == 0


def test_a_non_finite_gradient_skips_the_update_and_the_next_one_applies():
    x = four_clusters(500)
    model = make_model(x)
    trainer = Trainer(model, model.basis.to_eigen(x),
                      TrainConfig(steps=5, batch_size=64, t_max=15.0, warmup_steps=1))
    trainer.train_step()
    before = [p.detach().clone() for p in trainer.params]
    ema_before = [p.detach().clone() for p in trainer.ema_params]
    hook = trainer.params[0].register_hook(lambda g: torch.full_like(g, float("inf")))
    trainer.train_step()
    hook.remove()
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.params, strict=True))
    state = trainer.opt.state[trainer.params[0]]
    assert int(state["step"]) == 1  # the skipped update is not counted by Adam either
    # the EMA still moves toward the (unchanged) weights, as after any step
    assert not all(torch.equal(a, b) for a, b in zip(ema_before, trainer.ema_params,
                                                      strict=True))
    trainer.train_step()
    assert not torch.equal(before[0], trainer.params[0])
    assert int(state["step"]) == 2


def test_channels_last_trains_the_same_network_in_nhwc():
    plain, nhwc = small_image_trainer(), small_image_trainer(channels_last=True)
    conv = nhwc.model.backbone.down[0].blocks[0].conv1.weight  # 8 -> 8 channels
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    for _ in range(2):
        a, b = plain.train_step().item(), nhwc.train_step().item()
        assert abs(a - b) < 1e-5 * a  # the same arithmetic in another order


def validated(x, tmp_path=None, steps=30):
    # a short EMA half-life, so that the EMA weights move from check to check
    cfg = TrainConfig(steps=steps, batch_size=64, checkpoint_every=10, t_max=15.0,
                      warmup_steps=5, validation_fraction=0.25, validate_every=5,
                      validation_points=200, ema_halflife_samples=100)
    model = make_model(x)
    return Trainer(model, model.basis.to_eigen(x), cfg, tmp_path)


def test_the_validation_rows_are_a_seeded_share_kept_out_of_training():
    x = four_clusters(40)
    trainer = validated(x)
    u = trainer.model.basis.to_eigen(x)
    held, t, noise = trainer.validation
    fit_rows, val_rows = {tuple(r.tolist()) for r in trainer.u}, {tuple(r.tolist()) for r in held}
    assert len(fit_rows) == 30 and len(val_rows) == 10 and not fit_rows & val_rows
    assert fit_rows | val_rows == {tuple(r.tolist()) for r in u}
    assert held.shape[0] == 200 and t.min() >= 0 and t.max() <= 15.0
    again = validated(x)  # the same split and draws on every run
    assert all(torch.equal(a, b) for a, b in zip(trainer.validation, again.validation,
                                                 strict=True))


def with_snapshots(trainer):
    """Record the EMA weights at every validation check."""
    snapshots, select = {}, trainer.select

    def snapshot_then_select():
        snapshots[trainer.step] = copy.deepcopy(trainer.ema.state_dict())
        select()
    trainer.select = snapshot_then_select
    return snapshots


def test_the_kept_weights_are_those_of_the_lowest_validation_loss():
    x = four_clusters(200)
    trainer = validated(x)
    snapshots = with_snapshots(trainer)
    trainer.fit()
    curve = trainer.validation_curve
    assert [c["step"] for c in curve] == list(range(5, 31, 5))
    assert len({c["loss"] for c in curve}) == len(curve)  # the EMA moves between checks
    best = min(curve, key=lambda c: c["loss"])
    assert trainer.best["step"] == best["step"] and trainer.best["loss"] == best["loss"]
    # the trainer ends with the weights of that check, whose loss re-evaluates the same
    for name, value in trainer.ema.state_dict().items():
        assert torch.equal(value, snapshots[best["step"]][name]), name
    assert trainer.validation_loss() == best["loss"]
    # on these four tight clusters the EMA keeps improving: the last check is the best, and
    # a later worse check would not replace it (the minimum, not the last, is kept)
    trainer.validation_curve, trainer.best["loss"] = [], -1.0
    trainer.select()
    assert trainer.best["loss"] == -1.0 and trainer.validation_curve[0]["loss"] > -1.0


def test_patience_stops_after_the_best_check_and_keeps_its_weights():
    """With patience P the run stops at the first check P steps after the lowest loss so far;
    when that comes after the run's overall best, the kept weights are those of the full run
    (the checks before the stop are the same draws and steps)."""
    x = four_clusters(200)
    full = validated(x, steps=60)
    full.fit()
    losses = {c["step"]: c["loss"] for c in full.validation_curve}  # lowest at step 20
    best_step = min(losses, key=losses.get)
    assert 5 < best_step < 40
    for patience in (10, 20):
        trainer = validated(x, steps=60)
        trainer.cfg = replace(trainer.cfg, patience=patience)
        trainer.fit()
        assert trainer.step == best_step + patience  # no earlier stretch was as long
        assert [c["loss"] for c in trainer.validation_curve] == \
            [losses[s] for s in range(5, best_step + patience + 1, 5)]
        assert trainer.best["step"] == best_step
        for name, value in trainer.ema.state_dict().items():
            assert torch.equal(value, full.ema.state_dict()[name]), name
    with pytest.raises(ValueError, match="patience must be >= 0"):
        TrainConfig(patience=-1)


def test_a_resumed_run_keeps_the_same_selection(tmp_path):
    x = four_clusters(200)
    straight = validated(x)
    straight.fit()
    first = validated(x, tmp_path)
    for _ in range(23):  # "killed" at step 23: the checkpoint of step 20 survives
        first.train_step()
        if first.step % 5 == 0:
            first.select()
        if first.step % 10 == 0:
            first.save_checkpoint()
    resumed = validated(x, tmp_path)
    assert resumed.try_resume() is None and resumed.step == 20
    assert [c["step"] for c in resumed.validation_curve] == [5, 10, 15, 20]
    resumed.fit()
    assert resumed.validation_curve == straight.validation_curve
    assert resumed.best["step"] == straight.best["step"]
    assert_weights_equal(straight.ema, resumed.ema)


def test_a_non_finite_validation_loss_is_never_kept():
    trainer = validated(four_clusters(200))
    trainer.validation_loss = lambda: float("nan")
    trainer.select()
    assert trainer.best is None and math.isnan(trainer.validation_curve[0]["loss"])


@pytest.mark.parametrize("fraction", [-0.1, 1.0])
def test_a_validation_fraction_outside_0_1_is_refused(fraction):
    with pytest.raises(ValueError, match="validation_fraction"):
        TrainConfig(validation_fraction=fraction)


def test_fourier_input_features_are_the_closed_form_and_travel_with_the_weights():
    from inflationary_flows.backbones import build_backbone

    torch.manual_seed(3)
    net = ResidualMLP(3, t_max=15.0, width=16, depth=1, time_features=2, fourier_features=5,
                      fourier_scale=2.0)
    B = net.inputs.frequencies
    assert B.shape == (3, 5) and 1.0 < float(B.std()) < 3.5  # N(0, 2^2) draws
    x = torch.randn(7, 3)
    angle = x @ B
    assert torch.equal(net.inputs(x), torch.cat([x, angle.sin(), angle.cos()], -1))
    # rebuilt from its JSON config and state_dict (as load_model does), another global seed:
    # the frequencies come from the file, not from a new draw
    torch.manual_seed(4)
    again = build_backbone(net.config)
    again.load_state_dict(net.state_dict())
    t = torch.rand(7)
    assert torch.equal(again(x, t), net(x, t))
    # without features the network has exactly the parameters and buffers it had before
    plain = ResidualMLP(3, t_max=15.0, width=16, depth=1, time_features=2)
    assert not any(key.startswith("inputs") for key in plain.state_dict())
    assert "fourier_features" not in plain.config


class _SlopeError(torch.nn.Module):
    """F that makes D = D_Gaussian + delta y: a denoiser whose only error is its slope."""

    def __init__(self, schedule, delta):
        super().__init__()
        self.schedule, self.delta = schedule, delta
        self.unused = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))  # for the optimiser

    def forward(self, x, t):
        _, c_in, c_out = coefficients(self.schedule.eigenvalues, self.schedule.C(t))
        return self.delta * (x / c_in) / c_out + 0 * self.unused


@pytest.mark.parametrize("kind", ["prp", "prr"])
@pytest.mark.parametrize("delta", [0.0, 0.1])
def test_slope_error_diagnostic_and_penalty_in_closed_form(kind, delta):
    """Gaussian data, D = D_Gaussian + delta y: E[q] = delta in every direction; the band's
    variance drift is -(t_hi - t_lo) rho g_max delta on the kept ones (dC/dt = rho g C); the
    penalty's expectation is (number kept) delta^2. n = 200 000: q's sd is at most 1/2, so
    the means are good to 1.1e-3 (sd)."""
    lam = torch.tensor([2.0, 1.0, 0.3, 0.05], dtype=torch.float64)
    sched = make_schedule(kind, "exponential", lam, dims_to_keep=2, inflation_gap=1.5)
    model = IFPreconditioner(_SlopeError(sched, delta), sched, EigenBasis.identity(4))
    g = torch.Generator().manual_seed(1)
    n = 200_000
    u = torch.randn(n, 4, generator=g, dtype=torch.float64) * lam.sqrt()
    t = 0.5 + 3.5 * torch.rand(n, generator=g, dtype=torch.float64)
    noise = torch.randn(n, 4, generator=g, dtype=torch.float64)
    F, target = model.loss_terms(u, t, noise)
    q = model.response_terms(u, t, noise, F, target)
    torch.testing.assert_close(q.mean(0), torch.full((4,), delta, dtype=torch.float64),
                               atol=5e-3, rtol=0)
    kept = sched.kept
    assert kept.tolist() == ([True] * 4 if kind == "prp" else [True, True, False, False])
    penalty = band_slope_penalty(q[:, kept], t, 0.5, 4.0, 5)
    assert penalty.item() == pytest.approx(int(kept.sum()) * delta**2, abs=2e-3)
    for row in loss_by_time_band(model, u, [0.5, 2.0, 4.0], per_band=n):
        expected = -(row["t_hi"] - row["t_lo"]) * sched.rho * sched.g_max * delta
        assert row["variance_drift"] == pytest.approx([expected] * 2, abs=0.02)


def test_band_slope_penalty_is_the_mean_of_squared_band_means_without_row_noise():
    """Two bands, known rows: ((sum q)^2 - sum q^2) / (n (n - 1)) per direction, summed, then
    averaged over the bands; a band with one row adds 0."""
    q = torch.tensor([[1.0, 0.0], [3.0, 2.0], [5.0, -1.0]], dtype=torch.float64)
    t = torch.tensor([0.1, 0.2, 0.9], dtype=torch.float64)
    pairs = ((4.0**2 - 10.0) + (2.0**2 - 4.0)) / 2  # band 1: rows 0 and 1
    assert band_slope_penalty(q, t, 0.0, 1.0, 2).item() == pytest.approx(pairs / 2)


# a first step whose loss a test rebuilds from its parts
FIRST_STEP = TrainConfig(steps=5, batch_size=64, stable_target_size=32, t_max=15.0,
                         warmup_steps=1)


def off_gaussian_prr(x):
    """A PRR model (d = 1 of 2) whose output layer is not zero: not the Gaussian denoiser,
    so it has a slope error; the same weights on every call."""
    net = make_model(x, kind="prr")
    torch.nn.init.normal_(net.backbone.out.weight, std=0.05)
    return net


def test_the_slope_penalty_enters_the_training_loss():
    """The first step's loss with linear_response_weight w is the denoising loss plus w times
    the penalty of the kept directions on the same draws: under PRR to d = 1 of 2, the
    first direction's alone."""
    x = four_clusters(500)
    cfg, weighted = FIRST_STEP, replace(FIRST_STEP, linear_response_weight=3.0)

    def model():
        return off_gaussian_prr(x)

    u = model().basis.to_eigen(x)
    draws = Trainer(model(), u, cfg)._batch()
    F, target = model().loss_terms(*draws)
    q = model().response_terms(*draws[:3], F, target)
    band = (cfg.t_min, cfg.t_max, cfg.linear_response_bands)
    kept, dropped = (band_slope_penalty(q[:, [i]], draws[1], *band) for i in (0, 1))
    plain = Trainer(model(), u, cfg).train_step().item()
    assert plain == pytest.approx(((F - target) ** 2).mean().item(), rel=1e-6)
    assert kept.item() > 0 and dropped.item() > 0  # real checks, told apart
    assert abs(kept.item() - dropped.item()) > 1e-3 * kept.item()
    assert Trainer(model(), u, weighted).train_step().item() == pytest.approx(
        plain + 3.0 * kept.item(), rel=1e-6)


@pytest.mark.parametrize("weight", [-1.0, float("nan")])
def test_a_negative_or_nan_slope_weight_is_refused(weight):
    with pytest.raises(ValueError, match="linear_response_weight"):
        TrainConfig(linear_response_weight=weight)
