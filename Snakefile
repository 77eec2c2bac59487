# optdyn: every figure and table of every paper is a target of this workflow.
# The logic lives in the `optdyn` package; rules only wire its CLI calls together.
import os
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
ARGS = f"--config {CONFIGFILE} --tier {TIER} --papers {','.join(PLAN.papers)}"
# One persistent JAX compilation cache for every job of the DAG (each job is its own process,
# and many jobs compile the same step function). JAX reads these variables itself; set
# JAX_COMPILATION_CACHE_DIR yourself to move the cache, or to "" to switch it off.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.abspath(f"{PLAN.config.results}/.jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")


rule all:
    input:
        f"{RESULTS}/report/index.html",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
