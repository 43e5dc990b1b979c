rule pca:
    """Eigendecomposition of the training covariance in float64, computed once and saved."""
    input:
        data="results/data/{dataset}.h5",
        code=code("pca"),
    output:
        "results/pca/{dataset}.h5",
    log:
        "logs/pca/{dataset}.log",
    benchmark:
        "benchmarks/pca/{dataset}.tsv"
    conda:
        env("data")
    priority: 5
    resources:
        **slurm_resources(),
    params:
        batch_size=config["pca"]["batch_size"],
    shell:
        "python -m inflationary_flows pca --data {input.data} --batch-size {params.batch_size} "
        "--output {output} > {log} 2>&1"


rule participation_ratio_table:
    """Participation ratio and dimension of every dataset (paper section 1.2)."""
    input:
        pca=expand("results/pca/{dataset}.h5", dataset=PLAN.datasets),
        code=code("participation_ratio_table"),
    output:
        report(
            "results/tables/participation_ratio.csv",
            caption="../report/participation_ratio.rst",
            category="Tables",
        ),
    log:
        "logs/participation_ratio_table.log",
    conda:
        env("data")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows participation-ratio-table --pca {input.pca} --output {output} > {log} 2>&1"
