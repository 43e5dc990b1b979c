rule dataset:
    """Generate or read one dataset (toy, digits, CIFAR-10, image folder); train/test split."""
    input:
        source=lambda w: PLAN.dataset_source(w.dataset),
        code=code("dataset"),
    output:
        "results/data/{dataset}.h5",
    log:
        "logs/dataset/{dataset}.log",
    conda:
        env("data")
    priority: 5
    resources:
        **slurm_resources(),
    params:
        args=lambda w: PLAN.dataset_args(w.dataset),
        seed=config["seed"],
        # not in the command: a change of the source's files reruns the job (params trigger)
        source_state=lambda w: source_fingerprint(PLAN.dataset_source(w.dataset)),
    shell:
        "python -m inflationary_flows dataset --name {wildcards.dataset} {params.args} --seed {params.seed} "
        "--output {output} > {log} 2>&1"
