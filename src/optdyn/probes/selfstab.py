"""Probes of the `selfstab` paper (see ``probes/__init__.py``).

``selfstab_tracking`` (Fig. 4, App. D.3): rebuilds the run's problem and initial parameters (its
seed), finds the first instability by full-batch GD with the run's learning rate, then tracks
GD, the constrained trajectory, gradient flow and the predicted dynamics
(``probes/selfstab_tracking.py``). Both phases keep their state in the work folder its job is
handed (``<tier>/work/probes/<probe_id>/``; ``work_dir()`` for a direct call): ``search.npz`` once the instability is found and the
tracking's ``TrackState`` every ``checkpoint_every`` steps, so a killed probe resumes where it
stopped instead of starting over.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from optdyn.curvature import flatten
from optdyn.precision import cast_floats, require_x64
from optdyn.registry import probe_kind
from optdyn.spec.identity import digest
from optdyn.spec.problems.selfstab import SelfstabTracking
from optdyn.train.trainer import Trainer

from . import spectrum  # noqa: F401  (hessian_spectrum belongs to the selfstab paper: its @probe_kind)
from .selfstab_tracking import find_instability, track


def work_dir(run, spec) -> Path:
    """The probe's own folder under the tier's probes, named by its settings and the run's id."""
    data = spec.model_dump(mode="json") | {"run": run.run_id}
    return run.dir.parent.parent / "probes" / "work" / f"{spec.kind.replace('_', '')}-{digest(data)}"


def _gd_learning_rate(run) -> float:
    """The tracking is about plain full-batch GD: refuse anything else in one line."""
    spec = run.spec
    opt = spec.optimizer
    if spec.schedule.name != "constant":
        raise ValueError(f"selfstab_tracking needs a constant learning rate; run {run.run_id} has schedule '{spec.schedule.name}'")
    if getattr(opt, "name", None) != "sgd" or getattr(opt, "momentum", 0) or getattr(opt, "weight_decay", 0):
        raise ValueError(f"selfstab_tracking needs plain GD (sgd, no momentum/weight decay); run {run.run_id} has {opt}")
    if getattr(spec.model, "batch_size", None) is not None:
        raise ValueError(f"selfstab_tracking needs full-batch GD; run {run.run_id} has batch_size {spec.model.batch_size}")
    return float(spec.schedule.lr)


def _search(f32, x0, eta: float, spec, path: Path) -> dict:
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    found = find_instability(f32, x0, eta, max_steps=spec.search_max_steps, dtype=jnp.dtype(spec.search_dtype),
                             method=spec.method, iters=spec.iters, key=jax.random.PRNGKey(spec.seed))
    if not found["reached"]:
        raise ValueError(f"GD never reached S >= 2/eta = {2 / eta:g} within {spec.search_max_steps} steps "
                         f"(last midpoint sharpness {found['sharpness']:.4g}); raise search_max_steps or eta")
    out = {"x": np.asarray(found["x"]), "step": np.int64(found["step"]), "sharpness": np.float64(found["sharpness"]),
           "backtracked": np.bool_(found["backtracked"]), "checks": np.asarray(found["checks"], np.float64)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **out)
    tmp.rename(path)
    return out


@probe_kind(SelfstabTracking)
def selfstab_tracking(run, spec, work: Path | None = None) -> pd.DataFrame:
    """``work``: the scratch its job is handed (default: beside the run's tier, for direct calls)."""
    eta = _gd_learning_rate(run)
    search_dtype, track_dtype = jnp.dtype(spec.search_dtype), jnp.dtype(spec.dtype)
    for dtype in (search_dtype, track_dtype):  # x64 is switched at process start (precision.needs_x64)
        require_x64(dtype, f"selfstab_tracking in {dtype}")
    trainer = run.trainer()  # the run's problem in its dtype, its init from the run's seed
    params = jax.device_get(trainer.init_state()["params"])
    batch = jax.device_get(trainer.problem.sample_batch(jax.random.PRNGKey(0)))  # the full batch
    work = Path(work) if work is not None else work_dir(run, spec)
    f_search, x0, unravel = flatten(trainer.problem.loss, cast_floats(params, search_dtype), cast_floats(batch, search_dtype))
    found = _search(f_search, x0, eta, spec, work / "search.npz")
    # the tracking loss: the same problem, its parameters and data in the tracking dtype
    f_track, _, _ = flatten(trainer.problem.loss, cast_floats(unravel(jnp.asarray(found["x"], search_dtype)), track_dtype),
                            cast_floats(batch, track_dtype))
    state = track(f_track, jnp.asarray(found["x"], track_dtype), eta, spec.steps, checkpoint=work / "track.npz",
                  checkpoint_every=spec.checkpoint_every, generalized=spec.generalized, method=spec.method,
                  iters=spec.iters, tol=spec.tol, proj_steps=spec.proj_steps, predicted=spec.predicted,
                  lambda2_stop=spec.lambda2_stop, lambda2_every=spec.lambda2_every,
                  max_gf_substeps=spec.max_gf_substeps, dtype=track_dtype, key=jax.random.PRNGKey(spec.seed + 1),
                  assumption_stats=spec.assumption_stats)
    table = pd.DataFrame(state.table())
    table["step"] = table["step"].astype(int)
    # Thm 1 / Sec. 6: the predicted fixed point |x| = delta_t sits delta_t^2/eta above L(theta^dagger)
    table["loss_fixed_point"] = table["loss_dagger"] + table["delta"] ** 2 / eta
    table["lambda2_checked"] = table["step"] % spec.lambda2_every == 0
    return table.assign(eta=eta, instability_step=int(found["step"]), instability_sharpness=float(found["sharpness"]),
                        search_backtracked=bool(found["backtracked"]), stopped=state.stopped,
                        n_params=int(np.asarray(found["x"]).shape[0]), search_dtype=spec.search_dtype,
                        dtype=spec.dtype, method=spec.method)
