# The exact-score reference of every toy model: the model's flow and metrics with the exact
# empirical score of its training set. Its inputs are the data, the PCA and the schedule
# spec, not the trained model, so retraining does not redo it.


rule toy_exact_metrics:
    """A toy model's metrics with the exact empirical score of its training set."""
    input:
        data="results/data/{dataset}.h5",
        pca="results/pca/{dataset}.h5",
        code=code("toy_exact_metrics"),
    output:
        "results/metrics/toys/{dataset}_{schedule}_exact.json",
    log:
        "logs/toy_exact_metrics/{dataset}_{schedule}.log",
    benchmark:
        "benchmarks/toy_exact_metrics/{dataset}_{schedule}.tsv"
    conda:
        env("torch")
    priority: 1
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        schedule=lambda w: json_arg(toy_schedule(config, w.dataset, w.schedule)),
        solver=json_arg(config["toys"]["solver"]),
        n_eval=config["calibration"]["reference"]["n_eval"],
        n_train=config["calibration"]["reference"]["n_train"],
        seed=lambda w: PLAN.seed("metrics_exact", w.dataset, w.schedule),
    shell:
        "python -m inflationary_flows toy-exact-metrics --data {input.data} --pca {input.pca} "
        "--schedule {params.schedule} --solver {params.solver} --n-eval {params.n_eval} "
        "--n-train {params.n_train} --seed {params.seed} --threads {threads} "
        "--name {wildcards.dataset}_{wildcards.schedule} --output {output} > {log} 2>&1"


rule summary_table:
    """One row per toy model: its metrics beside its exact-score reference."""
    input:
        trained=[f"results/metrics/toys/{m}.json" for m in PLAN.toy_models],
        exact=[f"results/metrics/toys/{m}_exact.json" for m in PLAN.toy_models],
        flows=[f"results/flows/toys/{m}.h5" for m in PLAN.toy_models],
        data=[f"results/data/{model_dataset(m)}.h5" for m in PLAN.toy_models],
        replicates=[f"results/metrics/toys/{m}.json" for m in PLAN.replicate_models],
        code=code("summary_table"),
    output:
        report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
    log:
        "logs/summary_table.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows summary-table --trained {input.trained} "
        "--exact {input.exact} --flows {input.flows} --data {input.data} "
        "--replicates {input.replicates} --output {output} > {log} 2>&1"
