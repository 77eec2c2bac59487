"""Branching with the optimizer state reset (``branch_from.reset_optimizer``), as the late-decay
authors' subpaths restart from saved weights only: the branch keeps the parent's params and
step, its momentum starts at zero; the default (carry the state over) keeps its old run ids."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np
import pytest

from optdyn.spec.identity import canonical
from optdyn.spec.load import load_plan
from optdyn.train.run import train_run

from train_helpers import SGD_M, qr, restore, rid_of, write_config

PARENT = {"model": qr(replicas=4, sigma=1.0), "optimizer": SGD_M, "schedule": {"name": "constant", "lr": 0.01},
          "steps": 40, "progress": False, "eval_every": 10}


def _branch(reset: bool | None) -> dict:
    ref = {"run": "parent", "step": 20} | ({} if reset is None else {"reset_optimizer": reset})
    return {**PARENT, "schedule": {"name": "constant", "lr": 0.001}, "branch_from": ref}


def _leaves(tree) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


@pytest.mark.slow  # ~20 s on a contended 2-core machine: trains three small runs
def test_reset_optimizer_on_branch(tmp_path: Path) -> None:
    plan = load_plan(write_config(tmp_path, {"parent": PARENT, "keep": _branch(None), "reset": _branch(True),
                                              "keep_explicit": _branch(False)}))
    keep, reset = rid_of(plan, "keep"), rid_of(plan, "reset")
    assert rid_of(plan, "keep_explicit") == keep  # False is the default: same run
    assert keep != reset
    assert "reset_optimizer" not in canonical(plan.runs[keep].spec, plan.runs[keep].parent)["branch_from"]
    parent = rid_of(plan, "parent")
    train_run(plan, parent)
    assert train_run(plan, keep)["origin"] == f"branched from {parent} at step 20"
    assert train_run(plan, reset)["origin"] == f"branched from {parent} at step 20 (optimizer state reset)"
    at_branch = restore(plan, parent, 20)
    kept, fresh = restore(plan, keep, 20), restore(plan, reset, 20)
    for a, b, c in zip(_leaves(at_branch["params"]), _leaves(kept["params"]), _leaves(fresh["params"])):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert int(fresh["step"]) == int(kept["step"]) == 20
    momentum = _leaves(at_branch["opt_state"])
    assert any(np.abs(m).max() > 0 for m in momentum)  # the parent has built up momentum
    for a, b in zip(momentum, _leaves(kept["opt_state"])):
        np.testing.assert_array_equal(a, b)
    assert all(np.abs(m).max() == 0 for m in _leaves(fresh["opt_state"]))
    # and the two branches then differ
    end_keep, end_reset = restore(plan, keep, 40), restore(plan, reset, 40)
    assert any(not np.array_equal(a, b) for a, b in zip(_leaves(end_keep["params"]), _leaves(end_reset["params"])))
