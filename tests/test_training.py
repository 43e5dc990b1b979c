"""Training: it learns beyond the Gaussian denoiser, and resumes bitwise from checkpoints."""

import pytest
import torch

from inflationary_flows.basis import EigenBasis
from inflationary_flows.networks import ResidualMLP
from inflationary_flows.preconditioning import IFPreconditioner
from inflationary_flows.schedules import make_schedule
from inflationary_flows.training import (
    TrainConfig,
    Trainer,
    TrainingDiverged,
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


def make_model(x, width=64, depth=2):
    cov = torch.cov(x.T)
    lam, w = torch.linalg.eigh(cov)
    lam, w = lam.flip(0), w.flip(1)
    sched = make_schedule("prp", "reference", lam)
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
    trainer = Trainer(model, u, TrainConfig(steps=300, batch_size=256, reference_size=256,
                                            t_max=15.0, warmup_steps=20,
                                            ema_halflife_samples=5000))
    trainer.fit()
    after = loss_by_time_band(trainer.ema, u, [3.0, 5.0], per_band=2048)[0]["ratio"]
    assert abs(before - 1.0) < 1e-12  # zero-initialised output: the Gaussian denoiser
    assert after < 0.7, after


def test_interrupted_training_resumes_to_bitwise_identical_weights(tmp_path):
    x = four_clusters(500)
    cfg = TrainConfig(steps=30, batch_size=64, checkpoint_every=10, reference_size=32,
                      t_max=15.0, warmup_steps=5)

    straight = Trainer(make_model(x), make_model(x).basis.to_eigen(x), cfg)
    straight.fit()

    first = Trainer(make_model(x), make_model(x).basis.to_eigen(x), cfg, tmp_path)
    for _ in range(17):  # "killed" at step 17: the checkpoint of step 10 survives
        first.train_step()
        if first.step % cfg.checkpoint_every == 0:
            first.save_checkpoint()
    resumed = Trainer(make_model(x), make_model(x).basis.to_eigen(x), cfg, tmp_path)
    assert resumed.try_resume() and resumed.step == 10
    resumed.fit()
    for a, b in zip(straight.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


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
