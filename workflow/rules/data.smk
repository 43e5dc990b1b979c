rule dataset:
    """Generate or read one dataset (toy, digits, CIFAR-10, image folder); train/test split."""
    input:
        source=dataset_source,
        code=code("dataset"),
    output:
        "results/data/{dataset}.h5",
    log:
        "logs/dataset/{dataset}.log",
    conda:
        env("data")
    resources:
        **slurm_resources(),
    params:
        args=dataset_args,
        seed=config["seed"],
        # not in the command: a change of the source's files reruns the job (params trigger)
        source_state=lambda w: source_fingerprint(dataset_source(w)),
    shell:
        "python -m inflationary_flows dataset --name {wildcards.dataset} {params.args} --seed {params.seed} "
        "--output {output} > {log} 2>&1"
