# optdyn: every figure and table of every paper is a target of this workflow.
# The logic lives in the `optdyn` package; rules only wire its CLI calls together.
import os
import shlex
import sys

from optdyn.cli import one_line
from optdyn.snakemake_timers import cancel_pending_timers
from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_plan

# config/config.yaml is read by optdyn alone (no `configfile:` directive, whose loader and
# JSON-Schema check would print many lines, or crash, on a broken file): Snakemake's `config`
# holds only what `--config k=v` / `--configfile` give, and each key overrides config.yaml's or
# is refused; never ignored.
CONFIGFILE = "config/config.yaml"
_overrides = dict(config)
if isinstance(_overrides.get("papers"), str):  # --config papers=wsd,normsharp
    _overrides["papers"] = [p for p in _overrides["papers"].split(",") if p]
try:
    PLAN = load_plan(CONFIGFILE, overrides=_overrides)
except SpecError as exc:  # one line and exit code 2, before any job is scheduled
    print(f"optdyn: error: {one_line(str(exc))}", file=sys.stderr)
    sys.exit(2)
TIER = PLAN.tier
RESULTS = str(PLAN.tier_dir)
# the plan's own settings, handed to every `optdyn spec` job with the papers that job reads
# (spec.jobs.job_papers); each word shell-quoted (the paths are restricted to safe characters
# too: spec/paper.py WorkflowConfig)
_given = {k: getattr(PLAN.config, k) for k in ("results", "resources", "data") if k in PLAN.config.model_fields_set}
ARGS = shlex.join(["--config", CONFIGFILE, "--tier", TIER, *[w for k, v in _given.items() for w in (f"--{k}", v)]])
# One persistent JAX compilation cache for every job of the DAG (each job is its own process,
# and many jobs compile the same step function). JAX reads these variables itself; set
# JAX_COMPILATION_CACHE_DIR yourself to move the cache, or to "" to switch it off.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.abspath(f"{PLAN.config.results}/.jax-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")


# Snakemake's rescheduling timers would keep the process alive until they fire
# (optdyn/snakemake_timers.py)
onsuccess:
    cancel_pending_timers()


onerror:
    cancel_pending_timers()


rule all:
    input:
        f"{RESULTS}/report/index.html",


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"
