# optdyn: every figure and table of every paper is a target of this workflow.
# The logic lives in the `optdyn` package; rules only wire its CLI calls together.
import sys

from snakemake.utils import validate

from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_plan


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.json")
CONFIGFILE = "config/config.yaml"
try:
    PLAN = load_plan(CONFIGFILE, tier=config.get("tier"), papers=config.get("papers"))
except SpecError as exc:
    sys.exit(f"optdyn: error: {exc}")
TIER = PLAN.tier
RESULTS = str(PLAN.tier_dir)
ARGS = f"--config {CONFIGFILE} --tier {TIER}"


rule all:
    input:
        f"{RESULTS}/report/index.html",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
