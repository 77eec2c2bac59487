"""The cost (``train/cost.py``) of every run of a plan, for ``optdyn plan --cost``.

A run's problem is built on its dataset: the tier's own for ``tiny``/``smoke``/``check``
(prepared on demand where it is not yet), and for ``paper`` the check tier's fake dataset of
the same name (``<resources>/check/data``), since the real corpora need not be on the machine
that plans. A full-batch run on a fake dataset is costed with the real dataset's size
(``fake_formats.real_examples``), so the paper and check tiers' numbers are the paper's shapes. Runs that
share model, data, optimizer and precision share one estimate.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

from optdyn.data.fake_formats import real_examples
from optdyn.data.prepare import prepare
from optdyn.spec.check_tier import check_resources, fake_definition
from optdyn.spec.errors import SpecError
from optdyn.spec.plan import Plan, ResolvedRun

from .cost import DEVICES, USABLE, Estimate, estimate, human
from .trainer import Trainer


def prepare_for(plan: Plan, run: ResolvedRun) -> tuple[Path, int | None]:
    """Where the run's dataset is prepared (preparing it if needed), and the real training-set
    size where the prepared one is a smaller fake (the paper and check tiers)."""
    spec = run.spec
    if spec.data is None or spec.data.name != "prepared":
        return plan.data_root, None
    name, definition = spec.data.dataset, run.dataset
    if plan.tier == "paper" and definition["kind"] != "fake":
        root = Path(check_resources(plan.config.resources)) / "data"
        prepare(name, "fake", fake_definition(definition)["params"], root)
        return root, real_examples(definition["kind"], definition["params"])
    prepare(name, definition["kind"], definition["params"], plan.data_root)
    if definition["kind"] == "fake":
        real = definition["params"]["of"]
        return plan.data_root, real_examples(real["kind"], real["params"])
    return plan.data_root, None


def real_rows(trainer: Trainer, real: int | None) -> int | None:
    """The examples per step of the real run: ``real`` for a full-batch problem, else None
    (the batch does not depend on the dataset's size)."""
    full_batch = getattr(trainer.problem, "batch_size", 0) is None and hasattr(trainer.problem, "n")
    return real if full_batch else None


def _key(run: ResolvedRun) -> str:
    """Runs with one key share an estimate: the same model, data and precision, and an
    optimizer of the same structure (its numbers only say whether they are zero: a momentum
    adds a state, a learning rate or rho changes nothing of the shapes)."""
    s = run.spec
    return json.dumps([s.model.model_dump(mode="json"), s.data.model_dump(mode="json") if s.data else None,
                       _structure(s.optimizer.model_dump(mode="json")), s.dtype, run.dataset], sort_keys=True)


def _structure(node):
    if isinstance(node, dict):
        return {k: _structure(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_structure(v) for v in node]
    if isinstance(node, (int, float)) and not isinstance(node, bool):
        return bool(node)
    return node


def run_cost(plan: Plan, run: ResolvedRun) -> Estimate:
    root, real = prepare_for(plan, run)
    trainer = Trainer(run.spec, root)
    return estimate(trainer, real_rows(trainer, real), examples=real)


def plan_costs(plan: Plan, progress: Callable[[str], None] | None = None,
               failures: dict[str, str] | None = None) -> dict[str, Estimate]:
    """run id -> its estimate. A run whose problem cannot be built (a dataset with no fake, a
    model that refuses its data) is a one-line SpecError, or with ``failures`` given, is
    recorded there (run id -> why) and left out."""
    cache: dict[str, Estimate | str] = {}
    out = {}
    for rid, run in plan.runs.items():
        key = _key(run)
        if key not in cache:
            if progress:
                progress(rid)
            try:
                cache[key] = run_cost(plan, run)
            except (ValueError, TypeError, NotImplementedError) as exc:  # DataError is a ValueError
                if failures is None:
                    raise SpecError(_file(plan, run), _where(run), rid, f"a run whose problem builds ({exc})") from None
                cache[key] = str(exc)
        if isinstance(cache[key], str):
            failures[rid] = cache[key]
        else:
            out[rid] = replace(cache[key], steps=int(run.spec.steps))
    return out


def check_fits(plan: Plan, costs: dict[str, Estimate]) -> None:
    """A run that fits no configured device (``cost.DEVICES``) is a one-line error naming its
    estimate, and the least it needs per device on any of them."""
    for rid, est in costs.items():
        if est.fit() is not None:
            continue
        run = plan.runs[rid]
        ks = sorted({est.microbatches, est.batch_rows}) if est.lm_tokens is not None else [est.microbatches]
        options = [(est.per_device(k, count, count), name, size) for name, size, count in DEVICES
                   for k in ks if (count == 1 or est.shardable) and (est.batch_rows // k) % count == 0]
        least, name, size = min(options, key=lambda o: o[0] / o[2])
        raise SpecError(_file(plan, run), _where(run), f"~{human(est.per_device())} per device",
                        f"a run that fits one configured device, at most {USABLE:.0%} of its memory (run {rid}: "
                        f"at best ~{human(least)} per device on {name}); lower batch_size, raise microbatches, "
                        "set a mesh or compute in bfloat16")


def _file(plan: Plan, run: ResolvedRun) -> str:
    paper = run.used_by[0].split("/")[0] if run.used_by else "?"
    return str(plan.config_file.parent / "papers" / f"{paper}.yaml")


def _where(run: ResolvedRun) -> str:
    if not run.used_by:
        return "runs"
    _, _, rest = run.used_by[0].partition("/")
    fkey, _, name = rest.partition(":")
    return f"figures.{fkey}.runs.{name}"
