"""The `selfstab_tracking` probe (probes/selfstab.py) on a tiny full-batch GD run: it rebuilds the
run's problem and initial parameters, finds the instability as the library does, writes one row
per tracked step, refuses runs that are not plain GD, and a probe killed mid-tracking resumes
from its work folder to the same table as an uninterrupted one."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from optdyn.data.prepare import prepare
from optdyn.probes import selfstab as probe
from optdyn.probes import selfstab_tracking as lib
from optdyn.curvature import flatten
from optdyn.spec.paper import RunSpec
from optdyn.spec.problems.selfstab import SelfstabTracking
from optdyn.train.results import RunResult
from optdyn.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("x64")  # the tracking solves in float64: x64 on, as needs_x64 asks

ETA, STEPS = 0.1, 6  # the 60-digit MLP[8] reaches 2/eta = 20 at step 7


def _run(tmp_path, name: str, **over) -> RunResult:
    raw = {"model": {"name": "mlp", "widths": [8]}, "data": {"name": "prepared", "dataset": "few"},
           "schedule": {"name": "constant", "lr": ETA}, "steps": 10, "progress": False} | over
    spec = RunSpec.model_validate_json(json.dumps(raw))
    d = tmp_path / "results" / "smoke" / "runs" / name
    d.mkdir(parents=True)
    return RunResult(name, spec, {"status": "done"}, pd.DataFrame(), d)


@pytest.fixture
def here(tmp_path, monkeypatch):
    """A working directory with a 60-digit prepared dataset where the probe's Trainer looks."""
    monkeypatch.chdir(tmp_path)
    prepare("few", "digits", {"rule": "first_n", "n": 60, "normalization": "per_channel"}, tmp_path / "resources" / "data")
    return tmp_path


def _spec(**over) -> SelfstabTracking:
    return SelfstabTracking.model_validate({"kind": "selfstab_tracking", "run": "gd", "steps": STEPS,
                                            "checkpoint_every": 2, "lambda2_every": 1} | over)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_one_row_per_tracked_step_from_the_runs_own_start(here):
    run = _run(here, "gd-aaaa")
    table = probe.selfstab_tracking(run, _spec())
    assert list(table["step"]) == list(range(STEPS))
    for col in ("loss_gd", "sharpness_gd_avg2", "dist_gd", "dist_gf", "loss_dagger", "sharpness_dagger", "x_pred",
                "y_pred", "loss_pred", "sharpness_pred_avg2", "dist_pred", "delta", "lambda2", "loss_fixed_point"):
        assert col in table and np.isfinite(table[col].iloc[1:]).all(), col
    # theta^dagger on S = 2/eta: the jointly linearized projections converge quadratically; measured
    # <= 1.3e-6 after 3 here (the authors' S-only linearization converged linearly: ~4e-4)
    np.testing.assert_allclose(table["sharpness_dagger"], 2 / ETA, rtol=1e-5)
    # the same search by hand, from the run's seed-0 initial parameters, finds the same step
    trainer = Trainer(run.spec)
    params = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), trainer.init_state()["params"])
    f, x0, _ = flatten(trainer.problem.loss, params, trainer.problem.sample_batch(None))
    found = lib.find_instability(f, x0, ETA, dtype=jnp.float32, key=jax.random.PRNGKey(0))
    assert table["instability_step"].iloc[0] == found["step"] and (table["eta"] == ETA).all()
    assert table["stopped"].iloc[0] == "steps"
    # row 0 is theta_0 itself: GD, GF and the predicted point coincide there
    row = table.iloc[0]
    assert row["loss_gd"] == pytest.approx(row["loss_gf"]) == pytest.approx(row["loss_pred"])


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_a_killed_probe_resumes_to_the_uninterrupted_table(here, monkeypatch):
    whole = probe.selfstab_tracking(_run(here / "a", "gd-bbbb"), _spec())
    run = _run(here / "b", "gd-bbbb")
    saves, original = [], lib.TrackState.save

    def save_then_die(self, path):
        original(self, path)
        saves.append(self.step)
        if len(saves) == 2:  # killed right after the second checkpoint (step 4)
            raise KeyboardInterrupt

    monkeypatch.setattr(lib.TrackState, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        probe.selfstab_tracking(run, _spec())
    monkeypatch.setattr(lib.TrackState, "save", original)
    work = probe.work_dir(run, _spec())
    assert (work / "search.npz").exists() and lib.TrackState.load(work / "track.npz").step == 4

    def no_search(*a, **k):
        raise AssertionError("the instability search must come from search.npz, not run again")

    monkeypatch.setattr(probe, "find_instability", no_search)
    resumed = probe.selfstab_tracking(run, _spec())
    numeric = [c for c in whole.columns if whole[c].dtype.kind == "f"]
    np.testing.assert_allclose(resumed[numeric].to_numpy(), whole[numeric].to_numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("over,match", [
    ({"schedule": {"name": "cosine", "peak_lr": ETA, "total_steps": 10}}, "constant"),
    ({"optimizer": {"name": "sgd", "momentum": 0.9}}, "plain GD"),
    ({"model": {"name": "mlp", "widths": [8], "batch_size": 10}}, "full-batch"),
])
def test_refuses_runs_that_are_not_plain_gd(here, over, match):
    with pytest.raises(ValueError, match=match) as err:
        probe.selfstab_tracking(_run(here, "gd-cccc", **over), _spec())
    assert "\n" not in str(err.value)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_never_unstable_is_one_line(here):
    run = _run(here, "gd-dddd", schedule={"name": "constant", "lr": 0.001})
    with pytest.raises(ValueError, match="never reached") as err:
        probe.selfstab_tracking(run, _spec(search_max_steps=20))
    assert "\n" not in str(err.value)
