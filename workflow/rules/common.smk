# Paths and input functions shared by the rules (pure lookups into the resolved PLAN).
import hashlib
import json

FIG_EXTS = ("png", "pdf", "csv", "values.json")


def run_status(rid):
    return f"{RESULTS}/runs/{rid}/status.json"


def dataset_manifest(name):
    return f"{PLAN.config.resources}/data/{name}/manifest.json"


def figure_files(target, exts=FIG_EXTS + ("claims.json",)):
    stem = PLAN.figure_stem(target)
    return [f"{stem}.{ext}" for ext in exts]


def digest(obj):
    """A short stable hash, passed as a rule param so an edit reruns exactly what it touches."""
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def figure_of(wc):
    return PLAN.figures[f"{wc.paper}_{wc.fig}"]


wildcard_constraints:
    run_id=r"[a-z0-9]+-[a-z0-9]+-[0-9a-f]{12}",
    probe_id=r"[a-z0-9]+-[0-9a-f]{12}",
    paper=r"[a-z]+",
    fig=r"(fig|tab|sec|app)[A-Za-z0-9]+",
    dataset=r"[a-z0-9_]+",
