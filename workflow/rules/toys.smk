rule toy_metrics:
    """Round-trip error, latent calibration and sample quality of one toy model."""
    input:
        flow="results/flows/toys/{dataset}_{schedule}.h5",
        data="results/data/{dataset}.h5",
        code=code("toy_metrics"),
    output:
        "results/metrics/toys/{dataset}_{schedule}.json",
    log:
        "logs/toy_metrics/{dataset}_{schedule}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows toy-metrics --flow {input.flow} --data {input.data} "
        "--name {wildcards.dataset}_{wildcards.schedule} --output {output} > {log} 2>&1"


rule toy_figure:
    """The paper's toy figures: one row per dataset, inflation then generation snapshots."""
    input:
        flows=lambda w: PLAN.figure_flows(w.figure),
        code=code("toy_figure"),
    output:
        report(
            "results/figures/{figure}.pdf",
            caption="../report/toy_figure.rst",
            category="Figures",
        ),
    log:
        "logs/toy_figure/{figure}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=lambda w: " ".join(figure_datasets(config, w.figure)),
        snapshots=config["toys"]["snapshots"],
    shell:
        "python -m inflationary_flows toy-figure --flows {input.flows} --labels {params.labels} "
        "--snapshots {params.snapshots} --output {output} > {log} 2>&1"


rule toy_animation:
    """GIFs of a toy flow (inflation and generation), as on the paper's website."""
    input:
        flow="results/flows/toys/{model}.h5",
        code=code("toy_animation"),
    output:
        inflation=report(
            "results/figures/animations/{model}_inflation.gif",
            caption="../report/animation.rst",
            category="Animations",
        ),
        generation=report(
            "results/figures/animations/{model}_generation.gif",
            caption="../report/animation.rst",
            category="Animations",
        ),
    log:
        "logs/toy_animation/{model}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows toy-animation --flow {input.flow} --label {wildcards.model} "
        "--output-inflation {output.inflation} --output-generation {output.generation} "
        "> {log} 2>&1"
