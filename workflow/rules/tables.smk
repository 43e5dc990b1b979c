# Your own data: tables (data.tables) train, flow and are measured through the toy rules;
# these rules add what only they need.


rule table_figure:
    """Pair plots of a table's leading principal components: data, latents, samples."""
    input:
        flows=lambda w: expand(
            "results/flows/toys/{model}.h5", model=PLAN.table_models[w.dataset]
        ),
        pca="results/pca/{dataset}.h5",
        code=code("table_figure"),
    output:
        report(
            "results/figures/tables/{dataset}.pdf",
            caption="../report/table_figure.rst",
            category="Your own data",
        ),
    log:
        "logs/table_figure/{dataset}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=lambda w: " ".join(PLAN.table_models[w.dataset]),
    shell:
        "python -m inflationary_flows table-figure --flows {input.flows} "
        "--labels {params.labels} --pca {input.pca} --title {wildcards.dataset} "
        "--output {output} > {log} 2>&1"


rule density_benchmark:
    """Held-out log-likelihood of PRP flows beside a MAF (zuko) and a Gaussian."""
    input:
        **PLAN.density_inputs(),
        code=code("density_benchmark"),
    output:
        "results/tables/density_benchmark.csv",
    log:
        "logs/density_benchmark.log",
    benchmark:
        "benchmarks/density_benchmark.tsv"
    conda:
        env("torch")
    priority: 2
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        solver=json_arg(config["calibration"]["density"]["solver"]),
        maf=json_arg(config["calibration"]["density"]["maf"]),
        n_eval=config["calibration"]["density"]["n_eval"],
        seed=PLAN.seed("density_benchmark"),
    shell:
        "python -m inflationary_flows density-benchmark --models {input.weights} "
        "--data {input.data} --solver {params.solver} --maf {params.maf} "
        "--n-eval {params.n_eval} --seed {params.seed} --threads {threads} "
        "--output {output} > {log} 2>&1"


rule cross_fit:
    """A table model's held-out calibration with every row held out once, over K folds."""
    input:
        source=lambda w: PLAN.dataset_source(w.dataset),
        code=code("cross_fit"),
    output:
        "results/metrics/cross_fit/{dataset}_{schedule}.json",
    log:
        "logs/cross_fit/{dataset}_{schedule}.log",
    benchmark:
        "benchmarks/cross_fit/{dataset}_{schedule}.tsv"
    conda:
        env("torch")
    priority: 2
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
        # one training per fold
        runtime=config["toys"]["runtime"] * config["calibration"]["cross_fit"]["folds"],
    params:
        table=lambda w: PLAN.table_args(w.dataset),
        spec=lambda w: PLAN.model_spec("toys", w.dataset, w.schedule),
        training=lambda w: PLAN.training("toys", w.dataset, w.schedule),
        solver=json_arg(config["toys"]["solver"]),
        folds=config["calibration"]["cross_fit"]["folds"],
        seed=lambda w: PLAN.seed("cross_fit", w.dataset, w.schedule),
    shell:
        "python -m inflationary_flows cross-fit {params.table} "
        "--name {wildcards.dataset}_{wildcards.schedule} --spec {params.spec} "
        "--training {params.training} --solver {params.solver} --folds {params.folds} "
        "--seed {params.seed} --threads {threads} --output {output} > {log} 2>&1"
