"""The ``check`` tier: the paper tier's runs, unchanged in model, optimizer, schedule, precision,
batch shape and sharding, with their steps clipped to ``CHECK_STEPS`` and every prepared
dataset replaced by a small fake one in the real format (``data/fake_formats.py``).

It is a transform of the resolved paper plan, not a copy of the paper YAML: ``load_plan(tier=
"check")`` loads the paper tier (no overrides) and hands it to ``to_check``. What it changes is
listed as deviations, like any tier's overrides. Fake datasets keep their names and are
prepared under ``<resources>/check/data`` (``CHECK_RESOURCES``), so they never meet a real
preparation of the same name in ``<resources>/data``.

Each run steps 3 times: an evaluation at step 0 and at the end, a checkpoint at step 2 (the
resume point ``optdyn check`` kills and resumes at), and a branch starts at step 1 of its
clipped parent. Probes and figures need the paper's step counts, so the check tier keeps the
figures' runs but no probes: it checks that every run builds, steps, checkpoints and resumes,
not what the figures show (docs/check-tier.md).
"""

from __future__ import annotations

from pathlib import Path

from .identity import run_id
from .plan import Plan, ResolvedRun

CHECK_STEPS = 3
CHECKPOINT_AT = 2  # resumed from by the check (step CHECK_STEPS - 1)
BRANCH_AT = 1
CHECK_RESOURCES = "check"  # fake datasets: <resources>/check/data/<name>
FAKE_SEED = 0


def check_resources(resources: str) -> str:
    return str(Path(resources) / CHECK_RESOURCES)


def fake_definition(definition: dict) -> dict:
    """A dataset definition of config/data.yaml as the check tier prepares it."""
    return {"kind": "fake", "params": {"of": definition, "seed": FAKE_SEED}}


def _dataset_reason(name: str, definition: dict) -> str:
    from optdyn.data.fake_formats import fake_changes, fake_size

    changes = fake_changes(definition["kind"], definition["params"])
    shown = f"; {', '.join(f'{k} {v}' for k, v in changes.items())}" if changes else ""
    return (f"check tier: '{name}' is a small fake {definition['kind']} dataset written in the real format "
            f"({fake_size(definition['kind'])}, noise content, the real readers and tokenizer vocabulary){shown}")


def to_check(plan: Plan) -> Plan:
    """The check-tier plan of a loaded paper-tier plan (``plan.tier`` already "check")."""
    used = {r.spec.data.dataset for r in plan.runs.values() if r.spec.data is not None and r.spec.data.name == "prepared"}
    datasets = {}
    deviations = list(plan.deviations)
    for name, definition in plan.datasets.items():
        if name in used and definition["kind"] != "fake":
            datasets[name] = fake_definition(definition)
            deviations.append({"scope": "data", "path": f"datasets.{name}", "paper_value": definition,
                               "tier_value": datasets[name], "reason": _dataset_reason(name, definition)})
        else:
            datasets[name] = definition
    runs: dict[str, ResolvedRun] = {}
    new_id: dict[str, str] = {}

    def convert(rid: str) -> str:
        if rid in new_id:
            return new_id[rid]
        run = plan.runs[rid]
        parent = convert(run.parent) if run.parent is not None else None
        steps = min(run.spec.steps, CHECK_STEPS)
        update = {"steps": steps, "eval_every": steps, "checkpoint_steps": [], "checkpoint_every": None, "progress": False}
        if run.spec.branch_from is not None:
            update["branch_from"] = run.spec.branch_from.model_copy(update={"step": min(run.spec.branch_from.step, BRANCH_AT)})
        spec = run.spec.model_copy(update=update)
        dataset = datasets.get(spec.data.dataset) if spec.data is not None and spec.data.name == "prepared" else None
        nid = run_id(spec, parent, dataset)
        start = spec.branch_from.step if spec.branch_from is not None else 0
        keep = {CHECKPOINT_AT} if start < CHECKPOINT_AT < steps else set()
        new = runs.setdefault(nid, ResolvedRun(nid, spec, parent, dataset=dataset, checkpoint_steps=keep,
                                                  compile_over_budget=True))
        new.used_by += [u for u in run.used_by if u not in new.used_by]
        if parent is not None:
            runs[parent].checkpoint_steps.add(spec.branch_from.step)
        new_id[rid] = nid
        return nid

    for rid in plan.runs:
        convert(rid)
    clipped = sorted({r.spec.steps for r in plan.runs.values() if r.spec.steps > CHECK_STEPS})
    deviations.append({"scope": "runs", "path": "figures.*.runs.*.steps", "paper_value": f"{clipped[0]}..{clipped[-1]}" if clipped else None,
                       "tier_value": CHECK_STEPS, "reason": f"check tier: every run steps {CHECK_STEPS} times (evaluated at 0 and "
                       f"{CHECK_STEPS}, checkpointed at {CHECKPOINT_AT}, branches start at {BRANCH_AT}); probes are left out"})
    figures = {t: _figure(f, new_id) for t, f in plan.figures.items()}
    config = plan.config.model_copy(update={"resources": check_resources(plan.config.resources)})
    return Plan(config, plan.config_file, plan.papers, runs, figures, deviations, probes={}, datasets=datasets)


#: the deviation that makes a figure job draw the check panel (figures/check_panel.py)
CHECK_FIGURE = "check"


def _figure(fig, new_id: dict[str, str]):
    from dataclasses import replace

    note = {"scope": CHECK_FIGURE, "path": f"figures.{fig.key}", "paper_value": "the paper's figure",
            "tier_value": "a check panel", "reason": f"check tier: each run stepped {CHECK_STEPS} times or only compiled, "
            "probes left out; the figure shows what ran and its claims are not evaluated"}
    if not fig.runs and not fig.probes:  # analytic: the check tier draws the paper's figure itself
        return fig
    return replace(fig, runs={n: new_id[r] for n, r in fig.runs.items()}, probes={}, deviations=[*fig.deviations, note])


def is_check_figure(fig) -> bool:
    return any(d.get("scope") == CHECK_FIGURE for d in fig.deviations)
