rule duality:
    """Figure 1: SDE / Fokker-Planck / pfODE duality on a 1-D mixture (exact score)."""
    input:
        code=code("duality"),
    output:
        figure=report(
            "results/figures/fig1.pdf",
            caption="../report/fig1.rst",
            category="Figures",
        ),
        metrics="results/metrics/duality.json",
    log:
        "logs/duality.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        solver=json_arg(config["toys"]["solver"]),
        seed=PLAN.seed("duality"),
    shell:
        "python -m inflationary_flows duality --solver {params.solver} --seed {params.seed} "
        "--output-figure {output.figure} --output-metrics {output.metrics} > {log} 2>&1"


rule posterior:
    """Mixture-weight posteriors (NUTS) through one model's flow: Figure 4's data and SBC."""
    input:
        weights="results/models/toys/{model}.pt",
        spec="results/models/toys/{model}.json",
        code=code("posterior"),
    output:
        "results/posterior/{model}.h5",
    log:
        "logs/posterior/{model}.log",
    benchmark:
        "benchmarks/posterior/{model}.tsv"
    conda:
        env("torch")
    priority: 2
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        solver=json_arg(config["toys"]["solver"]),
        seed=lambda w: PLAN.seed("posterior", w.model),
        options=lambda w: " ".join(
            f"--{key.replace('_', '-')} {value}"
            for key, value in config["calibration"]["posterior"].items()
            if key != "models"
        ),
    shell:
        "python -m inflationary_flows posterior --model {input.weights} --model-spec {input.spec} "
        "--solver {params.solver} {params.options} --seed {params.seed} --threads {threads} "
        "--output {output} > {log} 2>&1"


rule posterior_report:
    """Figure 4 and the SBC / credible-interval summary of every posterior run."""
    input:
        posteriors=expand("results/posterior/{model}.h5", model=PLAN.posterior_models),
        code=code("posterior_report"),
    output:
        figure=report(
            "results/figures/fig4.pdf",
            caption="../report/fig4.rst",
            category="Figures",
        ),
        metrics="results/metrics/hmc_calibration.json",
    log:
        "logs/posterior_report.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=" ".join(PLAN.posterior_models),
    shell:
        "python -m inflationary_flows posterior-report --posteriors {input.posteriors} "
        "--labels {params.labels} --output-figure {output.figure} "
        "--output-metrics {output.metrics} > {log} 2>&1"


rule pr_over_time:
    """PR of samples pushed by the exact-score flow against its closed form (paper 1.2-1.4)."""
    input:
        data=expand("results/data/{dataset}.h5", dataset=PLAN.pr_datasets),
        code=code("pr_over_time"),
    output:
        figure=report(
            "results/figures/supp_pr.pdf",
            caption="../report/supp_pr.rst",
            category="Figures",
        ),
        metrics="results/metrics/pr_over_time.json",
    log:
        "logs/pr_over_time.log",
    benchmark:
        "benchmarks/pr_over_time.tsv"
    conda:
        env("torch")
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        labels=" ".join(PLAN.pr_datasets),
        schedules=json_arg(
            {
                name: config["schedules"][name]
                for name in config["calibration"]["pr_over_time"]["schedules"]
            }
        ),
        solver=json_arg(config["toys"]["solver"]),
        atoms=config["calibration"]["pr_over_time"]["atoms"],
        samples=config["calibration"]["pr_over_time"]["samples"],
        frames=config["calibration"]["pr_over_time"]["frames"],
        seed=PLAN.seed("pr_over_time"),
    shell:
        "python -m inflationary_flows pr-over-time --data {input.data} --labels {params.labels} "
        "--schedules {params.schedules} --solver {params.solver} --atoms {params.atoms} "
        "--samples {params.samples} --frames {params.frames} --seed {params.seed} "
        "--threads {threads} --output-figure {output.figure} "
        "--output-metrics {output.metrics} > {log} 2>&1"


rule prr_generation:
    """PRR against T and IG, exact score: calibration, and samples from two priors."""
    input:
        data=expand("results/data/{dataset}.h5", dataset=PLAN.prr_sweep_sets),
        code=code("prr_generation"),
    output:
        figure=report(
            "results/figures/supp_prr.pdf",
            caption="../report/supp_prr.rst",
            category="Figures",
        ),
        metrics="results/metrics/prr_generation.json",
    log:
        "logs/prr_generation.log",
    benchmark:
        "benchmarks/prr_generation.tsv"
    conda:
        env("torch")
    priority: 2
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        labels=" ".join(PLAN.prr_sweep_sets),
        schedule=json_arg(
            config["schedules"][config["calibration"]["prr_generation"]["schedule"]]
        ),
        t_max=" ".join(map(str, config["calibration"]["prr_generation"]["t_max"])),
        gaps=" ".join(
            map(str, config["calibration"]["prr_generation"]["inflation_gaps"])
        ),
        atoms=config["calibration"]["prr_generation"]["atoms"],
        bandwidth=config["calibration"]["prr_generation"]["bandwidth"],
        points=config["calibration"]["prr_generation"]["points"],
        solver=json_arg(config["toys"]["solver"]),
        seed=PLAN.seed("prr_generation"),
    shell:
        "python -m inflationary_flows prr-generation --data {input.data} "
        "--labels {params.labels} --schedule {params.schedule} --t-max {params.t_max} "
        "--inflation-gaps {params.gaps} --atoms {params.atoms} "
        "--bandwidth {params.bandwidth} --points {params.points} --solver {params.solver} "
        "--seed {params.seed} --threads {threads} --output-figure {output.figure} "
        "--output-metrics {output.metrics} > {log} 2>&1"


rule residuals:
    """Temporal correlation of the trained denoisers' residuals (paper appendix C.3)."""
    input:
        models=[f"results/models/{family}/{m}.pt" for family, m in PLAN.residual_models],
        specs=[
            f"results/models/{family}/{m}.json" for family, m in PLAN.residual_models
        ],
        data=[f"results/data/{model_dataset(m)}.h5" for _, m in PLAN.residual_models],
        code=code("residuals"),
    output:
        figure=report(
            "results/figures/supp_residuals.pdf",
            caption="../report/supp_residuals.rst",
            category="Figures",
        ),
        metrics="results/metrics/residuals.json",
    log:
        "logs/residuals.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=" ".join(m for _, m in PLAN.residual_models),
        points=config["calibration"]["residuals"]["points"],
        times=config["calibration"]["residuals"]["times"],
        seed=PLAN.seed("residuals"),
    shell:
        "python -m inflationary_flows residuals --models {input.models} --data {input.data} "
        "--labels {params.labels} --points {params.points} --times {params.times} "
        "--seed {params.seed} --output-figure {output.figure} "
        "--output-metrics {output.metrics} > {log} 2>&1"


rule coverage:
    """The paper's coverage experiment through one model's flow (appendix C.2.1)."""
    input:
        weights="results/models/toys/{model}.pt",
        spec="results/models/toys/{model}.json",
        code=code("coverage"),
    output:
        "results/metrics/coverage_{model}.json",
    log:
        "logs/coverage/{model}.log",
    benchmark:
        "benchmarks/coverage/{model}.tsv"
    conda:
        env("torch")
    priority: 2
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        solver=json_arg(config["toys"]["solver"]),
        seed=lambda w: PLAN.seed("coverage", w.model),
        seeds=config["calibration"]["coverage"]["seeds"],
        n_test=config["calibration"]["coverage"]["n_test"],
        n_boundary=config["calibration"]["coverage"]["n_boundary"],
    shell:
        "python -m inflationary_flows coverage --model {input.weights} --model-spec {input.spec} "
        "--solver {params.solver} --seeds {params.seeds} --n-test {params.n_test} "
        "--n-boundary {params.n_boundary} --seed {params.seed} --threads {threads} "
        "--output {output} > {log} 2>&1"


rule coverage_report:
    """supp_coverage.pdf: coverage through the flows, and held-out latent calibration."""
    input:
        coverage=expand(
            "results/metrics/coverage_{model}.json", model=PLAN.coverage_models
        ),
        metrics=expand("results/metrics/toys/{model}.json", model=PLAN.toy_models),
        code=code("coverage_report"),
    output:
        report(
            "results/figures/supp_coverage.pdf",
            caption="../report/supp_coverage.rst",
            category="Figures",
        ),
    log:
        "logs/coverage_report.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows coverage-report --coverage {input.coverage} "
        "--metrics {input.metrics} --output {output} > {log} 2>&1"


rule solver_accuracy:
    """Round-trip and calibration error against NFE per solver, trained and exact score."""
    input:
        weights=f"results/models/toys/{PLAN.solver_model}.pt",
        spec=f"results/models/toys/{PLAN.solver_model}.json",
        data=f"results/data/{model_dataset(PLAN.solver_model)}.h5",
        code=code("solver_accuracy"),
    output:
        figure=report(
            "results/figures/supp_solvers.pdf",
            caption="../report/supp_solvers.rst",
            category="Figures",
        ),
        metrics="results/metrics/solver_accuracy.json",
    log:
        "logs/solver_accuracy.log",
    benchmark:
        "benchmarks/solver_accuracy.tsv"
    conda:
        env("torch")
    priority: 2
    threads: config["toys"]["threads"]
    resources:
        **slurm_resources(),
    params:
        atoms=config["calibration"]["solvers"]["atoms"],
        bandwidth=config["calibration"]["solvers"]["bandwidth"],
        points=config["calibration"]["solvers"]["points"],
    shell:
        "python -m inflationary_flows solver-accuracy --model {input.weights} --data {input.data} "
        "--atoms {params.atoms} --bandwidth {params.bandwidth} --points {params.points} "
        "--threads {threads} "
        "--output-figure {output.figure} --output-metrics {output.metrics} > {log} 2>&1"


rule embedded:
    """Embedded toys: neighbourhoods of the 2-D set along inflation, flat and bent, +- noise."""
    input:
        flows=expand(
            "results/flows/toys/{dataset}_{schedule}.h5",
            dataset=PLAN.embedded_sets,
            schedule=config["calibration"]["embedded"]["schedule"],
        ),
        data=expand("results/data/{dataset}.h5", dataset=PLAN.embedded_sets),
        code=code("embedded"),
    output:
        figure=report(
            "results/figures/supp_embedded.pdf",
            caption="../report/supp_embedded.rst",
            category="Figures",
        ),
        metrics="results/metrics/embedded.json",
    log:
        "logs/embedded.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    params:
        labels=" ".join(PLAN.embedded_sets),
        k=config["calibration"]["embedded"]["neighbours"],
    shell:
        "python -m inflationary_flows embedded --flows {input.flows} --data {input.data} "
        "--labels {params.labels} --neighbours {params.k} --output {output.figure} "
        "--output-json {output.metrics} > {log} 2>&1"
