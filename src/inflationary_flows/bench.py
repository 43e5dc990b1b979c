"""Benchmarks with side-by-side ratios measured in the same run (``python -m
inflationary_flows bench``). Numbers are machine-dependent; every JSON records the machine."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from .basis import EigenBasis
from .datasets import make_toy
from .denoisers import MixtureDenoiser
from .pca import fit_pca
from .schedules import make_schedule
from .solver_accuracy import accuracy_sweep, exact_score_flow, solver_settings


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
    pca = fit_pca(data)
    sched = make_schedule("prp", "reference", torch.tensor(pca.eigenvalues))
    basis = EigenBasis(torch.tensor(pca.eigenvectors), torch.tensor(pca.mean))
    points = basis.to_eigen(torch.tensor(data))
    mix = MixtureDenoiser(sched, points)
    gen = torch.Generator().manual_seed(seed)
    t = torch.full((n_queries,), 6.0)  # noise comparable to the data: both are accurate
    C = sched.C(t)
    u = points[torch.randint(0, n_points, (n_queries,), generator=gen)] \
        + C.sqrt() * torch.randn(n_queries, dim, generator=gen, dtype=torch.float64)
    ours = mix.score(u, t)
    base = loop_score(u, C, points)
    rel = ((ours - base).norm(dim=-1) / base.norm(dim=-1)).max().item()
    t_ours = timed(lambda: mix.score(u, t))
    t_base = timed(lambda: loop_score(u, C, points), repeat=3, min_time=0.0)
    flops = n_queries * n_points * (6 * dim + 3)  # two logit products, weighted mean, exp
    return {"n_points": n_points, "dim": dim, "n_queries": n_queries,
            "seconds_ours": t_ours, "seconds_loop": t_base, "speedup": t_base / t_ours,
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
        "reference_euler_h1e-2": ref, "default": ours,
        "default_nfe_over_reference": ours["nfe"] / ref["nfe"],
        "default_error_over_reference": ours["roundtrip_relative_mse"]
        / ref["roundtrip_relative_mse"],
        "nfe_to_reach": {f"{target:g}": {m: nfe_to_reach(rows, m, target)
                                         for m in ("euler", "heun", "dopri5")}
                         for target in (1e-4, 1e-6)},
    }


def bench_solvers_exact(n_points: int = 2000, n_queries: int = 500, seed: int = 0) -> dict:
    data = make_toy("circles", n_points, n_queries, seed)
    spec = {"kind": "prp", "form": "reference", "rho": 1.0, "t_min": 0.0, "t_max": 15.0}
    flow = exact_score_flow(torch.tensor(data.train), spec)
    rows = accuracy_sweep(flow, torch.tensor(data.test), solver_settings(15.0))
    return {"score": "exact (empirical mixture, circles)", "rows": rows,
            "summary": summarise_solvers(rows, 15.0, {"method": "dopri5", "rtol": 1e-6})}


def bench_solvers_trained(weights: str, spec: str, data_path: str, n_queries: int = 500) -> dict:
    from .datasets import read_dataset
    from .models import flow_for, load_model

    model, meta = load_model(weights, spec)
    sched = meta["spec"]["schedule"]
    flow = flow_for(model, meta["spec"], {})
    x = torch.as_tensor(read_dataset(data_path, ["test"])[0]["test"][:n_queries])
    span = sched["t_max"] - sched["t_min"]
    rows = accuracy_sweep(flow, x, solver_settings(span))
    return {"score": f"trained ({Path(weights).stem})", "rows": rows,
            "summary": summarise_solvers(rows, span, {"method": "dopri5", "rtol": 1e-6})}


def bench_training(batch_sizes=(256, 1024, 4096), steps: int = 20) -> dict:
    from .networks import ResidualMLP
    from .preconditioning import IFPreconditioner
    from .training import TrainConfig, Trainer

    data = make_toy("moons", 20000, 10, 0)
    pca = fit_pca(data.train)
    sched = make_schedule("prp", "reference", torch.tensor(pca.eigenvalues))
    basis = EigenBasis(torch.tensor(pca.eigenvectors), torch.tensor(pca.mean))
    u = basis.to_eigen(torch.tensor(data.train))
    rows = []
    for bs in batch_sizes:
        for refs in (0, 1024):
            model = IFPreconditioner(ResidualMLP(2, 15.0), sched, basis)
            trainer = Trainer(model, u, TrainConfig(steps=steps, batch_size=bs,
                                                    reference_size=refs))
            trainer.train_step()
            start = time.perf_counter()
            for _ in range(steps):
                trainer.train_step()
            rate = steps * bs / (time.perf_counter() - start)
            rows.append({"batch_size": bs, "reference_size": refs, "samples_per_s": rate})
    profile = profile_step(u, sched, basis)
    return {"backbone": "ResidualMLP(width 128, depth 4), moons", "rows": rows,
            "profile_top_ops": profile}


def profile_step(u, sched, basis, batch_size: int = 1024) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    from .networks import ResidualMLP
    from .preconditioning import IFPreconditioner
    from .training import TrainConfig, Trainer

    trainer = Trainer(IFPreconditioner(ResidualMLP(2, 15.0), sched, basis), u,
                      TrainConfig(steps=10, batch_size=batch_size, reference_size=1024))
    trainer.train_step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            trainer.train_step()
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [{"op": e.key, "self_cpu_share": e.self_cpu_time_total / total} for e in events[:10]]


def workflow_times(benchmark_dir: str = "benchmarks") -> dict:
    """Per-rule wall time (s) summed over Snakemake's benchmark files."""
    totals: dict[str, float] = {}
    for tsv in sorted(Path(benchmark_dir).glob("*/*.tsv")):
        lines = tsv.read_text().splitlines()
        if len(lines) > 1:
            totals[tsv.parent.name] = totals.get(tsv.parent.name, 0.0) + float(
                lines[1].split("\t")[0])
    return totals


def run_all(output_dir: str | os.PathLike, quick: bool = False, model: dict | None = None,
            ) -> dict:
    """Run every benchmark, writing each result as soon as it is measured."""
    import sys

    from .io import write_json

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
    record("training", bench_training(steps=5 if quick else 20))
    record("workflow_seconds_per_rule", workflow_times())
    return results
