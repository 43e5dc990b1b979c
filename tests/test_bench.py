"""The benchmark code measures what it claims (small sizes; no timing assertions)."""

from inflationary_flows.bench import bench_exact_score, nfe_to_reach, summarise_solvers


def test_loop_baseline_agrees_with_ours_where_it_is_accurate():
    row = bench_exact_score(300, 2, n_queries=50)
    assert row["max_relative_difference"] < 1e-6
    assert row["seconds_ours"] > 0 and row["seconds_loop"] > 0


def test_solver_summary_picks_reference_and_thresholds():
    rows = [{"method": "euler", "steps": 1500, "nfe": 3000, "roundtrip_relative_mse": 1e-5},
            {"method": "euler", "steps": 250, "nfe": 500, "roundtrip_relative_mse": 1e-3},
            {"method": "heun", "steps": 64, "nfe": 256, "roundtrip_relative_mse": 5e-7},
            {"method": "dopri5", "rtol": 1e-6, "atol": 1e-6, "nfe": 300,
             "roundtrip_relative_mse": 1e-9}]
    s = summarise_solvers(rows, 15.0, {"method": "dopri5", "rtol": 1e-6})
    assert s["default_nfe_over_reference"] == 0.1
    assert s["nfe_to_reach"]["1e-06"] == {"euler": None, "heun": 256, "dopri5": 300}
    assert nfe_to_reach(rows, "euler", 1e-4) == 3000
