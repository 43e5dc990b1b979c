rule provenance_table:
    """What produced every other output of the run (step, parameter hash, seed, versions)."""
    input:
        outputs=PLAN.provenance_targets(),
        code=code("provenance_table"),
    output:
        report(
            "results/tables/provenance.csv",
            caption="../report/provenance.rst",
            category="Provenance",
        ),
    log:
        "logs/provenance_table.log",
    conda:
        env("torch")
    resources:
        **slurm_resources(),
    shell:
        "python -m inflationary_flows provenance-table --outputs {input.outputs} "
        "--output {output} > {log} 2>&1"
