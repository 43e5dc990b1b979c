"""The CUDA path, for real: run on a machine with a GPU (skipped elsewhere, so CI never runs
it); docs/performance.md records the last run. Each test holds the GPU result to the CPU's.
``IF_TEST_DEVICE=cpu`` runs the same tests with the CPU in the GPU's place (a check of the
tests themselves, where no GPU is at hand)."""

import json
import os

import h5py
import numpy as np
import pytest
import torch
from test_training import four_clusters, make_model, small_image_trainer

from inflationary_flows.cli import main
from inflationary_flows.training import BF16Autocast, TrainConfig, Trainer

DEVICE = os.environ.get("IF_TEST_DEVICE", "cuda")
pytestmark = pytest.mark.skipif(DEVICE == "cuda" and not torch.cuda.is_available(),
                                reason="needs CUDA")


def test_an_interrupted_cuda_training_resumes_to_bitwise_identical_weights(tmp_path):
    """The checkpoint holds the CUDA generator's state; resuming restores it."""
    x = four_clusters(500)
    cfg = TrainConfig(steps=30, batch_size=64, checkpoint_every=10, stable_target_size=32,
                      t_max=15.0, warmup_steps=5)

    def trainer(folder=None):
        model = make_model(x)
        return Trainer(model, model.basis.to_eigen(x), cfg, folder, device=DEVICE)

    straight = trainer()
    straight.fit()
    first = trainer(tmp_path)
    for _ in range(17):  # killed at step 17: the checkpoint of step 10 survives
        first.train_step()
        if first.step % cfg.checkpoint_every == 0:
            first.save_checkpoint()
    resumed = trainer(tmp_path)
    assert resumed.try_resume() is None and resumed.step == 10
    resumed.fit()
    for a, b in zip(straight.ema.state_dict().values(), resumed.ema.state_dict().values(),
                    strict=True):
        assert a.device.type == DEVICE and torch.equal(a, b)


def test_a_cuda_training_step_computes_the_cpus_loss_and_update():
    """The same batch through the same weights on both devices: the float64 target agrees to
    rounding, the float32 network to float32 rounding, the losses of three steps to that."""
    x = four_clusters(500)
    # fp32 on both (TrainConfig's default is bf16 autocast on CUDA: a first GPU run compared
    # that with the CPU's fp32 and saw bf16's rounding, 6.2e-3 of F's norm)
    cfg = TrainConfig(steps=5, batch_size=64, stable_target_size=32, t_max=15.0, warmup_steps=1,
                      mixed_precision=False)
    trainers = {}
    for device in ("cpu", DEVICE):
        model = make_model(x)
        torch.nn.init.normal_(model.backbone.out.weight, std=0.05)  # a network with an output
        trainers[device] = Trainer(model, model.basis.to_eigen(x), cfg, device=device)
    batch = trainers["cpu"]._batch()
    with torch.no_grad():
        terms = {device: [v.cpu() for v in trainer.trained.loss_terms(
            *(b.to(trainer.device) for b in batch))] for device, trainer in trainers.items()}
    (F, target), (F_dev, target_dev) = terms["cpu"], terms[DEVICE]
    assert torch.allclose(target_dev, target, rtol=1e-9, atol=1e-12)
    gap = float((F_dev - F).norm() / F.norm())
    precision = (torch.backends.cuda.matmul.allow_tf32, torch.get_float32_matmul_precision())
    assert gap < 1e-5, f"F differs by {gap:.2e} of its norm (tf32, precision: {precision})"
    losses = {}
    for device, trainer in trainers.items():
        trainer._batch = lambda t=trainer: tuple(b.to(t.device) for b in batch)
        losses[device] = [trainer.train_step().item() for _ in range(3)]
    assert losses["cpu"] == pytest.approx(losses[DEVICE], rel=1e-5), losses


def test_bf16_autocast_on_cuda_runs_the_network_in_bf16_and_keeps_float64_around_it():
    fp32 = small_image_trainer(device=DEVICE, mixed_precision=False)
    assert not isinstance(fp32.trained.backbone, BF16Autocast)
    bf16 = small_image_trainer(device=DEVICE, mixed_precision=True, mixed_precision_cpu=True)
    assert isinstance(bf16.trained.backbone, BF16Autocast)
    seen = []
    bf16.model.backbone.out.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    u0, t, noise, _ = bf16._batch()
    F, target = bf16.trained.loss_terms(u0, t, noise)
    assert seen == [torch.bfloat16] and F.dtype == target.dtype == torch.float64
    F32, _ = fp32.trained.loss_terms(u0, t, noise)
    # bf16 keeps ~3 significant digits per operation; through the UNet the output moves by
    # a few percent of its norm (3.6 % at most per entry, on the CPU's bf16)
    assert torch.linalg.norm(F - F32) < 0.05 * torch.linalg.norm(F32)


def flow_step(tmp_path, model, data, device, solver):
    out = tmp_path / f"flow_{device}_{solver.get('batch_size', 0)}.h5"
    assert main(["flow", "--model", str(model), "--model-spec", str(model.with_suffix(".json")),
                 "--data", str(data), "--solver", json.dumps(solver), "--n-eval", "300",
                 "--n-generate", "300", "--n-trajectories", "20", "--frames", "5",
                 "--training-latents", "200", "--seed", "7", "--device", device,
                 "--output", str(out)]) == 0
    with h5py.File(out) as f:
        return {name: f[name][()] for name in datasets(f)}


def datasets(f) -> list[str]:
    names = []
    f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset)
                 else None)
    return names


# the plain PRP model; PRR, whose second sample set takes its compressed coordinates from
# training latents; a model of smoothed rows (t_min from the data), whose held-out rows get
# noise drawn on the CPU
SCHEDULES = {"prp": {"kind": "prp", "t_min": 0.0, "t_max": 15.0},
             "prr": {"kind": "prr", "t_min": 0.0, "t_max": 7.0},
             "prp_smoothed": {"kind": "prp", "t_min": "auto", "t_max": 15.0}}


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_the_flow_step_on_cuda_in_batches_writes_the_cpu_result(tmp_path, schedule):
    """dataset -> pca -> train (CUDA) -> flow on the CPU and on CUDA in batches of 128: the
    same draws (prior, smoothing noise), and every array equal to float32 rounding of the
    network."""
    data, pca, model = tmp_path / "moons.h5", tmp_path / "pca.h5", tmp_path / "moons.pt"
    assert main(["dataset", "--name", "moons", "--kind", "moons", "--n-train", "2000",
                 "--n-test", "600", "--seed", "1", "--output", str(data)]) == 0
    assert main(["pca", "--data", str(data), "--output", str(pca)]) == 0
    spec = {"backbone": {"kind": "mlp", "width": 64, "depth": 2, "time_features": 8},
            "schedule": {"form": "exponential", "rho": 1.0, "inflation_gap": 2.0,
                         "dims_to_keep": -1, "g_mode": "constant_gap", "gamma0": 0.0005,
                         "A0": 1.0, **SCHEDULES[schedule]},
            "space": "eigen"}
    training = {"steps": 200, "batch_size": 256, "lr": 2e-3, "warmup_steps": 20,
                "checkpoint_every": 100, "stable_target_size": 256}
    assert main(["train", "--data", str(data), "--pca", str(pca), "--spec", json.dumps(spec),
                 "--training", json.dumps(training), "--seed", "3", "--checkpoint-dir",
                 str(tmp_path / "ckpt"), "--device", DEVICE, "--output", str(model),
                 "--output-spec", str(model.with_suffix(".json"))]) == 0
    trained_on = json.loads(model.with_suffix(".json").read_text())["training"]["device"]
    assert trained_on == ("cuda:0" if DEVICE == "cuda" else "cpu")
    solver = {"method": "heun", "steps": 64}
    cpu = flow_step(tmp_path, model, data, "cpu", solver)
    gpu = flow_step(tmp_path, model, data, DEVICE, {**solver, "batch_size": 128})
    assert cpu.keys() == gpu.keys()
    assert ("generation/x_training_latents" in cpu) == (schedule == "prr")
    assert ("smoothing/test" in cpu) == (schedule == "prp_smoothed")
    assert np.array_equal(cpu["generation/z"], gpu["generation/z"])  # CPU draws on both
    for name in cpu:
        scale = np.abs(cpu[name]).max() or 1.0
        assert np.abs(cpu[name] - gpu[name]).max() <= 1e-4 * scale, name


@pytest.mark.parametrize("slope_weight", [0.0, 1.0])
def test_a_cuda_training_step_never_synchronises(slope_weight):
    """CUDA's sync debug mode raises on any operation that waits for the device (.item(), a
    bincount's output size, a boolean mask's count): none in a step, with or without the
    slope penalty (the CPU test of test_training sees only the first kind)."""
    if DEVICE != "cuda":
        pytest.skip("the sync debug mode is CUDA's")
    x = four_clusters(500)
    model = make_model(x)
    trainer = Trainer(model, model.basis.to_eigen(x),
                      TrainConfig(steps=5, batch_size=64, stable_target_size=32, t_max=15.0,
                                  linear_response_weight=slope_weight), device=DEVICE)
    trainer.train_step()  # the optimizer's state is created on the first step
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer.train_step()
    finally:
        torch.cuda.set_sync_debug_mode(0)
