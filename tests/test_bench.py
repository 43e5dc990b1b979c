"""The benchmark code measures what it claims (small sizes; no timing assertions)."""

from inflationary_flows.analyses.bench import bench_exact_score, nfe_to_reach, summarise_solvers


def test_loop_baseline_agrees_with_ours_where_it_is_accurate():
    row = bench_exact_score(300, 2, n_queries=50)
    # both float64 (measured 1.4e-14); a float32 step anywhere in either shows as ~1e-7
    assert row["max_relative_difference"] < 1e-11
    # the ratios it reports are those of the times it measured
    assert row["speedup"] == row["seconds_loop"] / row["seconds_ours"]
    assert row["speedup_ceiling_exp_bound"] == row["seconds_loop"] / row["seconds_exp_only"]


def test_solver_summary_picks_reference_and_thresholds():
    rows = [{"method": "euler", "steps": 1500, "nfe": 3000, "roundtrip_relative_mse": 1e-5},
            {"method": "euler", "steps": 250, "nfe": 500, "roundtrip_relative_mse": 1e-3},
            {"method": "heun", "steps": 64, "nfe": 256, "roundtrip_relative_mse": 5e-7},
            {"method": "dopri5", "rtol": 1e-6, "atol": 1e-6, "nfe": 300,
             "roundtrip_relative_mse": 1e-9}]
    s = summarise_solvers(rows, 15.0, {"method": "dopri5", "rtol": 1e-6})
    assert s["default_nfe_over_official"] == 0.1
    assert s["nfe_to_reach"]["1e-06"] == {"euler": None, "heun": 256, "dopri5": 300}
    assert nfe_to_reach(rows, "euler", 1e-4) == 3000


def test_workflow_times_reads_nested_benchmark_files(tmp_path):
    from inflationary_flows.analyses.bench import workflow_times

    for rel, seconds in (("train/toys/circles_prp.tsv", 12.5), ("pca/circles.tsv", 0.5)):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\n{seconds}\t0:00:01\n")
    assert workflow_times(str(tmp_path)) == {"train/toys/circles_prp": 12.5, "pca/circles": 0.5}


def test_generation_sweep_compares_the_same_latents_against_the_tightest_solve(tiny_run):
    from inflationary_flows.analyses.bench import bench_generation

    stem = tiny_run / "results/models/toys/circles_prp"
    result = bench_generation(f"{stem}.pt", f"{stem}.json",
                              str(tiny_run / "results/data/circles.h5"), n=40)
    rows = result["rows"]
    assert rows[-1]["sample_error"] == 0.0 and rows[0]["method"] == "euler"
    # fixed grids cost one (Euler) or two (Heun) evaluations per step
    per_step = {"euler": 1, "heun": 2}
    assert all(r["nfe"] == per_step[r["method"]] * r["steps"] for r in rows
               if r["method"] in per_step)
    assert all(r["energy_distance"] > -1e-9 for r in rows)  # a squared distance
    # a finer Euler grid is closer to the tight solution
    euler = [r for r in rows if r["method"] == "euler" and r["steps"] in (250, 3000)]
    assert euler[1]["sample_error"] < euler[0]["sample_error"]


def test_gpu_check_smoke_runs_the_image_path_in_both_precisions():
    """The CPU smoke version of `bench --gpu`: the same phases as on a GPU, small UNet."""
    from inflationary_flows.analyses.gpu_check import gpu_check

    result = gpu_check(budget_s=120, loss_steps=3, smoke=True)
    assert [r["precision"] for r in result["training"]] == ["fp32", "bf16"]
    fp32, bf16 = result["training"]
    assert fp32["batch_size"] == 8 and fp32["finite"] and bf16["finite"]
    # the same batches and initial weights: bf16 moves the loss by well under a percent
    assert abs(bf16["loss_first_5"] - fp32["loss_first_5"]) < 0.01 * fp32["loss_first_5"]
    gen = result["generation"][0]
    assert (gen["nfe"], gen["state_dtype"], gen["finite"]) == (16, "torch.float64", True)
    assert "ddp: 0 GPU(s)" in result["skipped"] and result["cifar10_estimate"] is None


def test_cifar10_estimate_follows_the_configs_sizes(tmp_path):
    from inflationary_flows.analyses.gpu_check import cifar10_estimate

    config = tmp_path / "c.yaml"
    config.write_text("images: {dims_to_keep: [2, 30], gpu: 4, n_eval: 100, n_generate: 200,"
                      " training: {steps: 1000, batch_size: 512}}\n")
    est = cifar10_estimate(train_rate=128.0, generation_rate=10.0, config_path=config)
    assert est["models"] == 3 and est["training_images_per_model"] == 512_000
    assert est["train_hours_per_model"] == 512_000 / (128 * 4) / 3600
    assert est["flow_hours_per_model"] == 400 / 10 / 3600
    assert est["wall_hours_one_job_at_a_time"] == 3 * (1000 + 40) / 3600


def test_allocator_benchmark_compares_two_fresh_processes():
    from inflationary_flows.analyses.bench import bench_allocator

    result = bench_allocator(steps=3)
    default, kept = result["glibc_default"], result["keep_freed_memory"]
    assert result["speed_up"] == default["ms_per_step"] / kept["ms_per_step"]
    # the two processes ran under the two policies (the page faults of glibc's default vary
    # from run to run: its adaptive threshold sometimes settles; see performance.md)
    assert kept["policy_applied"] is True and default["policy_applied"] is False
