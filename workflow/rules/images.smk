# Image experiments (paper section 2.3): classifier features for digits, metrics, FID,
# Figure 5, Table 1 and the inflation-gap sweep, dataset spectra. Models come from the
# shared train / flow rules (models.smk) with family "images".


rule classifier:
    """The digits classifier whose features the digits Frechet distance uses."""
    input:
        data="results/data/{dataset}.h5",
        code=code("classifier"),
    output:
        weights="results/models/classifier/{dataset}.pt",
        spec="results/models/classifier/{dataset}.json",
    log:
        "logs/classifier/{dataset}.log",
    conda:
        env("torch")
    priority: 3
    resources:
        **slurm_resources(),
    params:
        steps=config["images"]["classifier_steps"],
        seed=lambda w: PLAN.seed("classifier", w.dataset),
    shell:
        "python -m inflationary_flows classifier --data {input.data} --steps {params.steps} "
        "--seed {params.seed} --output {output.weights} --output-spec {output.spec} "
        "> {log} 2>&1"


rule image_metrics:
    """Round-trip MSE in 8-bit units, held-out latent calibration, digits Frechet distance."""
    input:
        unpack(lambda w: PLAN.image_metrics_inputs(w.dataset, w.schedule)),
        code=code("image_metrics"),
    output:
        "results/metrics/images/{dataset}_{schedule}.json",
    log:
        "logs/image_metrics/{dataset}_{schedule}.log",
    conda:
        env("torch")
    priority: 1
    resources:
        **slurm_resources(),
    params:
        classifier=lambda w, input: (
            f"--classifier {input.classifier} --classifier-spec {input.classifier_spec} "
            # one resampled floor per dataset: no model enters it
            f"--floor-seed {PLAN.seed('frechet_floor', w.dataset)}"
            if "classifier" in input.keys()
            else ""
        ),
        checks=lambda w, input: (
            f"--model {input.weights} --model-spec {input.spec} --pca {input.pca} "
            f"--solver {json_arg(config['images']['solver'])} "
            f"--exact-solver {json_arg(config['images']['exact_solver'])} "
            f"--seed {PLAN.seed('image_metrics', w.dataset, w.schedule)}"
            if "weights" in input.keys()
            else ""
        ),
    shell:
        "python -m inflationary_flows image-metrics --flow {input.flow} --data {input.data} "
        "--name {wildcards.dataset}_{wildcards.schedule} {params.classifier} "
        "{params.checks} --output {output} > {log} 2>&1"


rule fid:
    """FID of one model's generated images (torch-fidelity, local Inception weights)."""
    input:
        flow="results/flows/images/{dataset}_{schedule}.h5",
        data="results/data/{dataset}.h5",
        weights=PLAN.fid_weights(),
        code=code("fid"),
    output:
        "results/metrics/images/{dataset}_{schedule}_fid.json",
    log:
        "logs/fid/{dataset}_{schedule}.log",
    conda:
        env("fid")
    resources:
        **slurm_resources(lambda w: config["images"]["gpu"]),
        gpu=config["images"]["gpu"],
    params:
        weights=shlex.quote(config["images"]["fid"]["weights"]),
        # replaced weights rerun FID even when the new file's mtime is older
        weights_state=source_fingerprint(PLAN.fid_weights()),
        batch_size=config["images"]["fid"]["batch_size"],
        n_reference=config["images"]["fid"]["n_reference"],
        device=lambda w, resources: "cuda" if resources.gpu else "cpu",
    shell:
        "python -m inflationary_flows fid --flow {input.flow} --data {input.data} "
        "--weights {params.weights} --batch-size {params.batch_size} "
        "--n-reference {params.n_reference} "
        "--device {params.device} --output {output} > {log} 2>&1"


rule image_figure:
    """Figure 5: generated images and round trips of PRP and PRR models of one image set."""
    input:
        flows=expand(
            "results/flows/images/{dataset}_{schedule}.h5",
            dataset=PLAN.figure_set,
            schedule=PLAN.figure_variants,
        ),
        data=f"results/data/{PLAN.figure_set}.h5",
        code=code("image_figure"),
    output:
        report(
            "results/figures/fig5.pdf",
            caption="../report/fig5.rst",
            category="Figures",
        ),
    log:
        "logs/image_figure/fig5.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=" ".join(
            shlex.quote(PLAN.variant_label(v)) for v in PLAN.figure_variants
        ),
        title=shlex.quote(
            f"{PLAN.figure_set}: generation and round trips, PRR at IG = "
            f"{config['images']['inflation_gap']:g}"
        ),
        samples=config["images"]["figure"]["samples"],
        roundtrips=config["images"]["figure"]["roundtrips"],
    shell:
        "python -m inflationary_flows image-figure --flows {input.flows} "
        "--labels {params.labels} --data {input.data} --title {params.title} "
        "--samples {params.samples} --roundtrips {params.roundtrips} --output {output} "
        "> {log} 2>&1"


rule image_table:
    """Table 1 (kept dimensions at one gap) or the inflation-gap sweep, paper values beside."""
    input:
        unpack(lambda w: PLAN.image_table_inputs(w.table)),
        code=code("image_table"),
    output:
        report(
            "results/tables/{table}.csv",
            caption="../report/image_table.rst",
            category="Tables",
        ),
    log:
        "logs/image_table/{table}.log",
    wildcard_constraints:
        table="table1|table_ig_sweep",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        datasets=lambda w, input: " ".join(
            model_dataset(Path(m).stem) for m in input.metrics
        ),
        fid=lambda w, input: (
            "--fid " + " ".join(input.fid) if "fid" in input.keys() else ""
        ),
        replicates=lambda w, input: (
            "--replicates " + " ".join(input.replicates)
            if "replicates" in input.keys()
            else ""
        ),
    shell:
        "python -m inflationary_flows image-table --metrics {input.metrics} "
        "--datasets {params.datasets} {params.fid} {params.replicates} --output {output} "
        "> {log} 2>&1"


rule spectra_figure:
    """Eigenvalue spectra of the image sets with their participation ratios (appendix)."""
    input:
        pca=expand("results/pca/{dataset}.h5", dataset=PLAN.spectra_sets),
        code=code("spectra_figure"),
    output:
        report(
            "results/figures/supp_spectra.pdf",
            caption="../report/supp_spectra.rst",
            category="Figures",
        ),
    log:
        "logs/spectra_figure.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows spectra-figure --pca {input.pca} --output {output} > {log} 2>&1"
