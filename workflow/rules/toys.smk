rule train_toy:
    """Train the denoiser of one toy set under one schedule (resumes from checkpoints)."""
    input:
        data="results/data/{dataset}.h5",
        pca="results/pca/{dataset}.h5",
        code=code("train"),
    output:
        weights="results/models/toys/{dataset}_{schedule}.pt",
        spec="results/models/toys/{dataset}_{schedule}.json",
    log:
        "logs/train_toy/{dataset}_{schedule}.log",
    benchmark:
        "benchmarks/train_toy/{dataset}_{schedule}.tsv"
    conda:
        env("torch")
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(config["toys"]["gpu"]),
        gpu=config["toys"]["gpu"],
    params:
        spec=lambda w: model_spec(w.schedule, config["toys"]["network"]),
        training=json_arg(config["toys"]["training"]),
        seed=lambda w: derived_seed("train", w.dataset, w.schedule),
        ckpt="results/checkpoints/toys/{dataset}_{schedule}",
        # from the gpu resource, so a profile's set-resources decides where training runs
        launch=lambda w, resources: launcher(config["toys"], resources.gpu),
        device=lambda w, resources: "cuda" if resources.gpu else "cpu",
    shell:
        "{params.launch} train --data {input.data} --pca {input.pca} "
        "--spec {params.spec} --training {params.training} --seed {params.seed} "
        "--checkpoint-dir {params.ckpt} --threads {threads} --device {params.device} "
        "--output {output.weights} --output-spec {output.spec} > {log} 2>&1"


rule flow_toy:
    """Inflate held-out points, round trip, generate; record trajectories for figures."""
    input:
        weights="results/models/toys/{dataset}_{schedule}.pt",
        spec="results/models/toys/{dataset}_{schedule}.json",
        data="results/data/{dataset}.h5",
        code=code("flow"),
    output:
        "results/flows/toys/{dataset}_{schedule}.h5",
    log:
        "logs/flow_toy/{dataset}_{schedule}.log",
    benchmark:
        "benchmarks/flow_toy/{dataset}_{schedule}.tsv"
    conda:
        env("torch")
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        solver=json_arg(config["toys"]["solver"]),
        seed=lambda w: derived_seed("flow", w.dataset, w.schedule),
        n_eval=config["toys"]["n_eval"],
        n_generate=config["toys"]["n_generate"],
        n_trajectories=config["toys"]["n_trajectories"],
        frames=config["toys"]["frames"],
    shell:
        "python -m inflationary_flows flow --model {input.weights} --model-spec {input.spec} "
        "--data {input.data} --solver {params.solver} --n-eval {params.n_eval} "
        "--n-generate {params.n_generate} --n-trajectories {params.n_trajectories} "
        "--frames {params.frames} "
        "--seed {params.seed} --threads {threads} --output {output} > {log} 2>&1"


rule metrics_toy:
    """Round-trip error, latent calibration and sample quality of one toy model."""
    input:
        flow="results/flows/toys/{dataset}_{schedule}.h5",
        data="results/data/{dataset}.h5",
        code=code("metrics"),
    output:
        "results/metrics/toys/{dataset}_{schedule}.json",
    log:
        "logs/metrics_toy/{dataset}_{schedule}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows metrics --flow {input.flow} --data {input.data} "
        "--name {wildcards.dataset}_{wildcards.schedule} --output {output} > {log} 2>&1"


rule toy_figure:
    """The paper's toy figures: one row per dataset, inflation then generation snapshots."""
    input:
        flows=lambda w: figure_flows(w.figure),
        code=code("figure"),
    output:
        report(
            "results/figures/{figure}.pdf",
            caption="../report/toy_figure.rst",
            category="Figures",
        ),
    log:
        "logs/figure/{figure}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=lambda w: " ".join(
            config["toys"]["models"][config["toys"]["figures"][w.figure]]
        ),
        title=lambda w: figure_title(w.figure),
        snapshots=config["toys"]["snapshots"],
    shell:
        "python -m inflationary_flows figure --flows {input.flows} --labels {params.labels} "
        "--title {params.title} --snapshots {params.snapshots} --output {output} > {log} 2>&1"


rule toy_animation:
    """GIFs of a toy flow (inflation and generation), as on the paper's website."""
    input:
        flow="results/flows/toys/{model}.h5",
        code=code("animate"),
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
        "logs/animation/{model}.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows animate --flow {input.flow} --label {wildcards.model} "
        "--output-inflation {output.inflation} --output-generation {output.generation} "
        "> {log} 2>&1"
