# Inflationary flows (de Albuquerque & Pearson, NeurIPS 2024), reproduced.
# The DAG only: every rule calls `python -m inflationary_flows <step>`; the science is in src/.
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")


# The embedded default, found from the Snakefile so that --directory elsewhere works.
configfile: Path(workflow.basedir) / "config.yaml"


include: "workflow/rules/common.smk"


wildcard_constraints:
    dataset="|".join(PLAN.datasets) or "none",
    family="toys|images",
    schedule=PLAN.schedule_pattern(),
    model="|".join(PLAN.toy_models) or "none",
    figure="|".join(PLAN.figures) or "none",


# Rule priorities (`priority:`; a job's priority does not pass to the jobs it waits for):
# datasets and PCA first, then training (it unlocks most jobs; the image models', the longest,
# before the toys'), then the longest analyses, then flows and metrics, so that on a few cores
# the last jobs to run are short ones (docs/performance.md).
include: "workflow/rules/data.smk"
include: "workflow/rules/pca.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/toys.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/reference.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        PLAN.main_targets(),
        "results/tables/provenance.csv",
