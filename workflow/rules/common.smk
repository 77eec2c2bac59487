# Paths and input functions shared by the rules (pure lookups into the resolved PLAN).
# Every value in a rule's shell line is quoted ({x:q}; ARGS is shell-quoted by the Snakefile):
# paths come from config.yaml, which must never be able to add a command.
import hashlib
import json

from optdyn.spec.jobs import job_papers, job_spec

FIG_EXTS = ("png", "pdf", "csv", "values.json")
RUN_FILES = ("status.json", "spec.json", "metrics.parquet", "provenance.json")


def spec_file(kind, key):
    return f"{RESULTS}/specs/{kind}/{key}.json"


def run_dir(rid):
    return f"{RESULTS}/runs/{rid}"


def run_status(rid):
    return f"{run_dir(rid)}/status.json"


def run_inputs(rids, checkpoints=False):
    """Every file of these runs a job reads: figures read logged values, probes also checkpoints."""
    names = ("status.json", "spec.json", "metrics.parquet")
    files = [f"{run_dir(r)}/{n}" for r in sorted(set(rids)) for n in names]
    return files + ([f"{run_dir(r)}/checkpoints" for r in sorted(set(rids))] if checkpoints else [])


def dataset_dir(name):
    return f"{PLAN.config.resources}/data/{name}"


def datasets_of(rids):
    return sorted({dataset_dir(PLAN.runs[r].spec.data.dataset) for r in rids if PLAN.runs[r].dataset})


def figure_files(target, exts=FIG_EXTS + ("claims.json",)):
    stem = PLAN.figure_stem(target)
    return [f"{stem}.{ext}" for ext in exts]


def digest(obj):
    """A short stable hash, passed as a rule param so an edit reruns exactly what it touches."""
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


_SPEC_DIGESTS = {}


def spec_digest(wc):
    """The digest of a job's spec, computed once per (kind, key): Snakemake asks for params more
    than once per job, and a figure's spec holds every run spec it draws."""
    key = (wc.kind, wc.key)
    if key not in _SPEC_DIGESTS:
        _SPEC_DIGESTS[key] = digest(job_spec(PLAN, wc.kind, wc.key))
    return _SPEC_DIGESTS[key]


def figure_of(wc):
    return PLAN.figures[f"{wc.paper}_{wc.fig}"]


wildcard_constraints:
    run_id=r"[a-z0-9]+-[a-z0-9]+-[0-9a-f]{12}",
    probe_id=r"[a-z0-9]+-[0-9a-f]{12}",
    paper=r"[a-z]+",
    fig=r"(fig|tab|sec|app)[A-Za-z0-9]+",
    dataset=r"[a-z0-9_]+",
    kind=r"runs|probes|figures|claims|data|report",
    key=r"[A-Za-z0-9_.-]+",


localrules:
    spec,


# Each job's resolved spec (under a second each: it loads only the papers it reads): jobs read this file, never the YAML. Its params
# are the spec's digest, so an edit rewrites exactly the specs it changes (a train job takes its
# spec as ancient(): the run id already names its content, and editing a logging field must not
# retrain). A shell job, not a run: block, which Snakemake would spawn as a whole new Snakemake.
rule spec:
    output:
        spec_file("{kind}", "{key}"),
    params:
        spec=spec_digest,
        papers=lambda wc: ",".join(job_papers(PLAN, wc.kind, wc.key)),
    shell:
        "optdyn spec {wildcards.kind:q} {wildcards.key:q} {ARGS} --papers {params.papers:q} --out {output:q}"
