"""Benchmarks with side-by-side ratios measured in the same run (``python -m
inflationary_flows bench``). Numbers are machine-dependent; every JSON records the machine."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..basis import EigenBasis
from ..datasets import make_toy
from ..denoisers import BLOCK_ELEMENTS
from ..pca import fit_pca
from ..schedules import make_schedule
from .exact import exact_flow
from .solver_accuracy import accuracy_sweep, solver_settings


def machine() -> dict:
    return {"platform": platform.platform(), "processor": platform.processor() or "unknown",
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__}


def timed(fn: Callable[[], object], repeat: int = 5, min_time: float = 0.2) -> float:
    """Median wall time of one call (after a warm-up), repeating short calls."""
    fn()
    samples = []
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_time or calls >= 1000:
                break
        samples.append(elapsed / calls)
    return statistics.median(samples)


def matmul_peak_gflops(n: int = 1024, dtype=torch.float64) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b) / 1e9


def loop_score(u: torch.Tensor, C: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Baseline: the reference algorithm, a Python loop over data points summing Gaussian
    kernel weights clipped at 1e-30 (vectorised over query points only)."""
    num = torch.zeros_like(u)
    den = torch.zeros(u.shape[0], dtype=u.dtype)
    for m in points:
        w = torch.exp(-0.5 * ((u - m) ** 2 / C).sum(-1)).clamp_min(1e-30)
        num += w.unsqueeze(-1) * (m - u)
        den += w
    return num / den.unsqueeze(-1) / C


def bench_exact_score(n_points: int, dim: int, n_queries: int = 1000, seed: int = 0) -> dict:
    kind = {2: "circles", 3: "s_curve"}.get(dim)
    data = make_toy(kind, n_points, n_queries, seed).train if kind else \
        np.random.default_rng(seed).standard_normal((n_points, dim))
    spec = {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.0, "t_max": 15.0}
    mix = exact_flow(torch.tensor(data), spec).denoiser  # sample covariance, as a PCA file's
    points = mix.means
    gen = torch.Generator().manual_seed(seed)
    t = torch.full((n_queries,), 6.0)  # noise comparable to the data: both are accurate
    C = mix.schedule.C(t)
    u = points[torch.randint(0, n_points, (n_queries,), generator=gen)] \
        + C.sqrt() * torch.randn(n_queries, dim, generator=gen, dtype=torch.float64)
    ours = mix.score(u, t)
    base = loop_score(u, C, points)
    rel = ((ours - base).norm(dim=-1) / base.norm(dim=-1)).max().item()
    t_ours = timed(lambda: mix.score(u, t))
    t_base = timed(lambda: loop_score(u, C, points), repeat=3, min_time=0.0)
    # the floor of any exact float64 kernel built on torch's exp: one exp per (query, point),
    # on a cache-sized block as ours uses
    block = torch.randn(max(8, BLOCK_ELEMENTS // n_points), n_points, dtype=torch.float64)
    t_exp = timed(lambda: torch.exp(block)) * n_queries / block.shape[0]
    flops = n_queries * n_points * (6 * dim + 3)  # two logit products, weighted mean, exp
    return {"n_points": n_points, "dim": dim, "n_queries": n_queries,
            "seconds_ours": t_ours, "seconds_loop": t_base, "speedup": t_base / t_ours,
            "seconds_exp_only": t_exp, "speedup_ceiling_exp_bound": t_base / t_exp,
            "max_relative_difference": rel, "gflops_ours": flops / t_ours / 1e9}


def nfe_to_reach(rows: list[dict], method: str, target: float) -> int | None:
    ok = [r["nfe"] for r in rows if r["method"] == method and r["roundtrip_relative_mse"] <= target]
    return min(ok) if ok else None


def summarise_solvers(rows: list[dict], t_span: float, default: dict) -> dict:
    ref_steps = int(round(t_span / 1e-2))
    ref = next(r for r in rows if r["method"] == "euler" and r["steps"] == ref_steps)
    ours = next(r for r in rows if r["method"] == default["method"]
                and r.get("rtol") == default.get("rtol"))
    return {
        "official_euler_h1e-2": ref, "default": ours,
        "default_nfe_over_official": ours["nfe"] / ref["nfe"],
        "default_error_over_official": ours["roundtrip_relative_mse"]
        / ref["roundtrip_relative_mse"],
        "nfe_to_reach": {f"{target:g}": {m: nfe_to_reach(rows, m, target)
                                         for m in ("euler", "heun", "dopri5")}
                         for target in (1e-4, 1e-6)},
    }


def bench_solvers_exact(n_points: int = 2000, n_queries: int = 500, seed: int = 0) -> dict:
    data = make_toy("circles", n_points, n_queries, seed)
    spec = {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.0, "t_max": 15.0}
    flow = exact_flow(torch.tensor(data.train), spec, covariance="empirical")
    rows = accuracy_sweep(flow, torch.tensor(data.test), solver_settings(15.0))
    return {"score": "exact (empirical mixture, circles)", "rows": rows,
            "summary": summarise_solvers(rows, 15.0, {"method": "dopri5", "rtol": 1e-6})}


def bench_solvers_trained(weights: str, spec: str, data_path: str, n_queries: int = 500) -> dict:
    from ..datasets import read_dataset
    from ..flow import flow_for
    from ..models import load_model

    model, meta = load_model(weights, spec)
    sched = meta["spec"]["schedule"]
    flow = flow_for(model, meta["spec"], {})
    x = torch.as_tensor(read_dataset(data_path, ["test"])[0]["test"][:n_queries])
    span = sched["t_max"] - sched["t_min"]
    rows = accuracy_sweep(flow, x, solver_settings(span))
    return {"score": f"trained ({Path(weights).stem})", "rows": rows,
            "summary": summarise_solvers(rows, span, {"method": "dopri5", "rtol": 1e-6})}


@torch.no_grad()
def bench_generation(weights: str, spec: str, data_path: str, n: int = 1000) -> dict:
    """NFE for generation at equal sample quality: the same latents generated with each
    solver setting, against the most accurate one (dopri5 at 1e-8): mean squared sample
    error relative to the data variance, and the energy distance to held-out data."""
    from ..datasets import read_dataset
    from ..flow import flow_for
    from ..models import load_model
    from .metrics import energy_distance

    model, meta = load_model(weights, spec)
    flow = flow_for(model, meta["spec"], {})
    test = torch.as_tensor(read_dataset(data_path, ["test"])[0]["test"])
    z = flow.sample_prior(n, torch.Generator().manual_seed(0))
    sched = meta["spec"]["schedule"]
    settings = solver_settings(sched["t_max"] - sched["t_min"])
    outputs = [(s, flow.generate(z, **s)) for s in settings]
    best = outputs[-1][1].value
    held_out = test[:n]
    rows = [{**s, "nfe": out.nfe,
             "sample_error": float(((out.value - best) ** 2).mean() / held_out.var(0).mean()),
             "energy_distance": energy_distance(out.value, held_out)} for s, out in outputs]
    return {"model": Path(weights).stem, "n": n, "rows": rows}


def bench_image_backbones(batch_size: int = 64, steps: int = 3, ddpm_batch: int = 4) -> list:
    """Training images/s on this machine for the digits MLP (eigen input), a small UNet on
    digits (pixel input) and the paper's DDPM++-size UNet on 32x32 RGB (one batch only)."""
    from ..datasets import decode, make_digits
    from ..models import build_model
    from ..training import TrainConfig, Trainer

    digits = make_digits(0.2, 0)
    train = torch.as_tensor(decode(digits.train, digits.params["encoding"]))
    sched = {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.01, "t_max": 15.01}
    cases = [("digits MLP (width 256, depth 4)", train,
              {"kind": "mlp", "width": 256, "depth": 4, "time_features": 16}, "eigen", batch_size),
             ("digits UNet (32 ch, [1, 2], 2 blocks)", train,
              {"kind": "unet", "channels": 32, "multipliers": [1, 2], "blocks": 2,
               "attention": [4], "image_shape": [1, 8, 8]}, "data", batch_size),
             ("DDPM++ UNet 32x32x3 (128 ch, [2, 2, 2], 4 blocks)",
              torch.rand(256, 3072, dtype=torch.float64) * 2 - 1,
              {"kind": "unet", "image_shape": [3, 32, 32]}, "data", ddpm_batch)]
    rows = []
    for label, x, backbone, space, bs in cases:
        pca = fit_pca(x.numpy())
        spec = {"schedule": sched, "space": space,
                "backbone": {**backbone, "dim": x.shape[1], "t_max": 15.01}}
        model = build_model(spec, pca.eigenvalues, pca.eigenvectors, pca.mean)
        model.backbone.float()
        trainer = Trainer(model, model.basis.to_eigen(x),
                          TrainConfig(steps=steps + 1, batch_size=bs, stable_target_size=0))
        trainer.train_step()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.train_step()
        rows.append({"backbone": label, "batch_size": bs, "parameters": sum(
            p.numel() for p in model.backbone.parameters()),
            "images_per_s": steps * bs / (time.perf_counter() - start)})
    return rows


def bench_training(batch_sizes=(256, 1024, 4096), steps: int = 20) -> dict:
    from ..backbones.mlp import ResidualMLP
    from ..preconditioning import IFPreconditioner
    from ..training import TrainConfig, Trainer

    data = make_toy("moons", 20000, 10, 0)
    pca = fit_pca(data.train)
    sched = make_schedule("prp", "exponential", torch.tensor(pca.eigenvalues))
    basis = EigenBasis.from_pca(pca)
    u = basis.to_eigen(torch.tensor(data.train))
    rows = []
    for bs in batch_sizes:
        for refs in (0, 1024):
            model = IFPreconditioner(ResidualMLP(2, 15.0), sched, basis)
            trainer = Trainer(model, u, TrainConfig(steps=steps, batch_size=bs,
                                                    stable_target_size=refs))
            trainer.train_step()
            start = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            rate = steps * bs / (time.perf_counter() - start)
            rows.append({"batch_size": bs, "stable_target_size": refs, "samples_per_s": rate})
    profile = profile_step(u, sched, basis)
    return {"backbone": "ResidualMLP(width 128, depth 4), moons", "rows": rows,
            "profile_top_ops": profile}


def step_times(steps: int = 30, keep: bool = False) -> dict:
    """One process's default toy training steps (swirl, 64 Fourier features, batch 1024,
    1024 reference points, one thread): ms per step, CPU seconds in user and kernel mode and
    page faults, under glibc's default allocation policy or with :func:`keep_freed_memory`
    (what every CLI step runs with)."""
    from ..allocator import keep_freed_memory
    from ..backbones.mlp import ResidualMLP
    from ..preconditioning import IFPreconditioner
    from ..training import TrainConfig, Trainer

    applied = keep and keep_freed_memory()
    torch.set_num_threads(1)
    data = make_toy("swirl", 20000, 10, 0)
    pca = fit_pca(data.train)
    sched = make_schedule("prp", "exponential", torch.tensor(pca.eigenvalues))
    basis = EigenBasis.from_pca(pca)
    trainer = Trainer(IFPreconditioner(ResidualMLP(3, 15.0, fourier_features=64), sched, basis),
                      basis.to_eigen(torch.tensor(data.train)),
                      TrainConfig(steps=steps + 5, stable_target_size=1024))
    for _ in range(5):
        trainer.train_step()
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    return {"policy_applied": applied, "ms_per_step": 1000 * wall / steps,
            "user_s": after.ru_utime - before.ru_utime,
            "system_s": after.ru_stime - before.ru_stime,
            "page_faults": after.ru_minflt - before.ru_minflt}


def bench_allocator(steps: int = 30) -> dict:
    """:func:`step_times` in two fresh processes, glibc's default policy against the kept
    freed memory, and the speed-up."""
    rows = {}
    for policy, keep in (("glibc_default", False), ("keep_freed_memory", True)):
        code = (f"import json; from {__name__} import step_times; "
                f"print(json.dumps(step_times({steps}, {keep})))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True)
        rows[policy] = json.loads(out.stdout.splitlines()[-1])
    rows["speed_up"] = rows["glibc_default"]["ms_per_step"] / rows["keep_freed_memory"][
        "ms_per_step"]
    return rows


def profile_step(u, sched, basis, batch_size: int = 1024) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    from ..backbones.mlp import ResidualMLP
    from ..preconditioning import IFPreconditioner
    from ..training import TrainConfig, Trainer

    trainer = Trainer(IFPreconditioner(ResidualMLP(2, 15.0), sched, basis), u,
                      TrainConfig(steps=10, batch_size=batch_size, stable_target_size=1024))
    trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            trainer.train_step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "self_cpu_share": e.self_cpu_time_total / total} for e in events[:10]]


def workflow_times(benchmark_dir: str = "benchmarks") -> dict:
    """Wall time (s) of every job with a Snakemake benchmark file, by rule[/family]/job."""
    root = Path(benchmark_dir)
    times = {}
    for tsv in sorted(root.rglob("*.tsv")):
        lines = tsv.read_text().splitlines()
        if len(lines) > 1:
            times[str(tsv.relative_to(root).with_suffix(""))] = float(lines[1].split("\t")[0])
    return times


def run_all(output_dir: str | os.PathLike, quick: bool = False, model: dict | None = None,
            ) -> dict:
    """Run every benchmark, writing each result as soon as it is measured."""
    import sys

    from ..io import write_json

    torch.set_default_dtype(torch.float64)
    out = Path(output_dir)
    info = machine()
    results: dict = {"machine": info}

    def record(key: str, value) -> None:
        results[key] = value
        write_json(out / f"{key}.json", {"kind": "benchmark", "machine": info, "result": value})
        print(f"[bench] {key} done", file=sys.stderr, flush=True)

    peak = matmul_peak_gflops()
    record("matmul_peak_gflops_float64", peak)
    sizes = [(2000, 2), (2000, 3)] + ([] if quick else [(20000, 2), (20000, 3)])
    rows = []
    for n, d in sizes:
        row = bench_exact_score(n, d)
        row["fraction_of_matmul_peak"] = row["gflops_ours"] / peak
        rows.append(row)
    record("exact_score", rows)
    record("solvers_exact", bench_solvers_exact(n_queries=200 if quick else 500))
    if model:
        record("solvers_trained", bench_solvers_trained(**model))
        record("generation", bench_generation(**model, n=200 if quick else 1000))
    record("training", bench_training(steps=5 if quick else 20))
    record("allocator", bench_allocator(steps=5 if quick else 30))
    record("image_backbones", bench_image_backbones(steps=1 if quick else 3))
    record("workflow_seconds_per_rule", workflow_times())
    return results
