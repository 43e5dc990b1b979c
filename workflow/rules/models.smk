# Training and integration, shared by the model families: toys ({schedule} names a schedule
# of the config) and images ({schedule} names an image variant: prp, prr<d>, prr<d>-ig<IG>).


rule train:
    """Train the denoiser of one dataset under one schedule (resumes from checkpoints)."""
    input:
        data="results/data/{dataset}.h5",
        pca="results/pca/{dataset}.h5",
        code=code("train"),
    output:
        weights="results/models/{family}/{dataset}_{schedule}.pt",
        spec="results/models/{family}/{dataset}_{schedule}.json",
    log:
        "logs/train/{family}/{dataset}_{schedule}.log",
    benchmark:
        "benchmarks/train/{family}/{dataset}_{schedule}.tsv"
    conda:
        env("torch")
    priority: lambda w: 4 if w.family == "images" else 3
    threads: lambda w: config[w.family]["threads"]
    resources:
        **slurm_resources(lambda w: config[w.family]["gpu"]),
        gpu=lambda w: config[w.family]["gpu"],
        runtime=lambda w: config[w.family]["runtime"],
    params:
        spec=lambda w: PLAN.model_spec(w.family, w.dataset, w.schedule),
        training=lambda w: PLAN.training(w.family, w.dataset, w.schedule),
        seed=lambda w: PLAN.seed("train", w.dataset, w.schedule),
        ckpt="results/checkpoints/{family}/{dataset}_{schedule}",
        # from the gpu resource, so a profile's set-resources decides where training runs
        launch=lambda w, resources: PLAN.launcher(w.family, resources.gpu),
        device=lambda w, resources: "cuda" if resources.gpu else "cpu",
    shell:
        "{params.launch} train --data {input.data} --pca {input.pca} "
        "--spec {params.spec} --training {params.training} --seed {params.seed} "
        "--checkpoint-dir {params.ckpt} --threads {threads} --device {params.device} "
        "--output {output.weights} --output-spec {output.spec} > {log} 2>&1"


rule flow:
    """Inflate held-out data, round trip, generate; record trajectories for figures."""
    input:
        weights="results/models/{family}/{dataset}_{schedule}.pt",
        spec="results/models/{family}/{dataset}_{schedule}.json",
        data="results/data/{dataset}.h5",
        code=code("flow"),
    output:
        "results/flows/{family}/{dataset}_{schedule}.h5",
    log:
        "logs/flow/{family}/{dataset}_{schedule}.log",
    benchmark:
        "benchmarks/flow/{family}/{dataset}_{schedule}.tsv"
    conda:
        env("torch")
    priority: 1
    threads: lambda w: config[w.family]["threads"]
    resources:
        **slurm_resources(lambda w: flow_gpus(w.family)),
        gpu=lambda w: flow_gpus(w.family),
    params:
        device=lambda w, resources: "cuda" if resources.gpu else "cpu",
        solver=lambda w: json_arg(config[w.family]["solver"]),
        seed=lambda w: PLAN.seed("flow", w.dataset, w.schedule),
        n_eval=lambda w: PLAN.flow_rows(w.family, w.dataset, w.schedule)["n_eval"],
        n_generate=lambda w: PLAN.flow_rows(w.family, w.dataset, w.schedule)["n_generate"],
        # image models record no trajectories (figures show end states)
        n_trajectories=lambda w: config[w.family].get("n_trajectories", 0),
        frames=lambda w: config[w.family].get("frames", 2),
        training_latents=lambda w: config[w.family].get("prr_training_latents", 0),
    shell:
        "python -m inflationary_flows flow --model {input.weights} --model-spec {input.spec} "
        "--data {input.data} --solver {params.solver} --n-eval {params.n_eval} "
        "--n-generate {params.n_generate} --n-trajectories {params.n_trajectories} "
        "--frames {params.frames} --training-latents {params.training_latents} "
        "--seed {params.seed} --threads {threads} --device {params.device} "
        "--output {output} > {log} 2>&1"
