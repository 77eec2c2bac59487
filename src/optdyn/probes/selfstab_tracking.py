"""Self-stabilization tracking (Damian et al. App. D.3; catalog 004 §4.3, conventions lessons 5-7).

Phase 1, ``find_instability``: full-batch GD (float32 by default, as the authors) with the
sharpness measured at the midpoint of each checked step (the midpoint averages out the period-2
wobble), checked every dt units of time (t advances by eta per step; dt = 1, 0.1, 0.01 as S passes
1/eta and 1.5/eta). A crossing of 2/eta found at a check more than one step after the previous one
is replayed step by step from that previous check, so the returned point is the first step whose
midpoint sharpness reaches 2/eta.

Phase 2, ``track``: in float64 (the dynamics near |x| ~ 0 amplify rounding, Sec. 7.1 / D.3), four
trajectories advance in lockstep from theta_0 = the instability point:
- gradient descent;
- the constrained trajectory theta^dagger: theta <- project^3(theta - eta grad L(theta)), where each
  of the ``proj_steps`` linearized projections recomputes S, u, grad S (``theory.selfstab_predicted``);
- gradient flow, each GD step of time eta split into ceil(eta S_GF) Euler sub-steps;
- the predicted deviation v_hat about theta^dagger: eq. (5)-(6) (``predicted="paper"``) or the
  authors' gradient form (``"code"``), each generalized per App. F with ``generalized=True``.
Each step logs one row and may stop early once lambda_2(hess L(theta^dagger)) >= 1.9/eta
(Assumption 2's eigengap; the authors' stop rule). Everything lives in a ``TrackState`` that
saves to / loads from one npz, so a killed tracking resumes where it stopped with the same
continuation (warm-start eigenvectors are part of the state).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from pathlib import Path
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from optdyn.curvature import third_derivative_contraction, top_eigenpairs

from ..theory.selfstab_predicted import Centre, code_step, constants, coordinates, linear_project, paper_step, place
from .selfstab_assumptions import ASSUMPTION_COLUMNS, AssumptionStats
from .selfstab_eigs import HostLobpcg

__all__ = ["find_instability", "track", "TrackState", "Tracker", "gf_substeps"]


def gf_substeps(eta: float, sharpness: float, max_substeps: int = 64) -> int:
    """Euler sub-steps per GD step of gradient flow: ceil(eta S), so the sub-step eta/n <= 1/S is
    stable along the top direction. Cohen et al.'s flow loops forever when S is unknown (0) or
    NaN; here an unknown or non-finite S takes the cap and S <= 0 a single step, so the count is
    always finite and >= 1."""
    if not math.isfinite(sharpness):
        return max_substeps
    return int(min(max_substeps, max(1, math.ceil(eta * sharpness))))


def _random_block(dim: int, k: int, dtype, key: jax.Array) -> jax.Array:
    return jnp.linalg.qr(jax.random.normal(key, (dim, k), dtype))[0]


class Tracker:
    """The compiled pieces for one loss ``f`` and learning rate ``eta``. ``method``: the
    eigen-solver of ``curvature.top_eigenpairs`` ("lobpcg" warm-started as the authors, "lanczos"
    or "dense"); LOBPCG needs dim > 5k, so small problems fall back to dense.

    ``fast`` (with "lobpcg"): the solves are ``selfstab_eigs.HostLobpcg`` (one jitted call per
    LOBPCG iteration: XLA:CPU runs convolution and attention HVPs several times slower inside the
    in-graph solver's while loop) and a step's row, its GD/GF/predicted advance, and each
    projection's centre is one jitted call each; a projection's solve is for the top pair only (it
    needs S and u; the centre's solve still gives lambda_2 every step). Same iterates up to solver tolerance
    (``tests/test_selfstab_fast_tracking.py``); ``benchmarks/selfstab_tracking.py`` times both."""

    def __init__(self, f: Callable, eta: float, *, method: str = "lobpcg", iters: int | None = None,
                 tol: float | None = 1e-9, generalized: bool = False, proj_steps: int = 3, predicted: str = "paper",
                 fast: bool = True):
        if predicted not in ("paper", "code"):
            raise ValueError(f"predicted must be 'paper' (eq. (6)) or 'code' (gradient form), not {predicted!r}")
        self.f, self.eta, self.method, self.iters, self.tol = f, float(eta), method, iters, tol
        self.predicted = predicted
        self.generalized, self.proj_steps = generalized, proj_steps
        grad = jax.grad(f)
        self.loss = jax.jit(f)
        self.gd_step = jax.jit(lambda x: x - self.eta * grad(x))
        self.gd_steps = jax.jit(lambda x, n: jax.lax.fori_loop(0, n, lambda _, z: z - self.eta * grad(z), x))
        self.gf_step = jax.jit(lambda x, n: jax.lax.fori_loop(
            0, n, lambda _, z: z - (self.eta / n.astype(x.dtype)) * grad(z), x))
        self.eigs = jax.jit(self._eigs)
        self.centre = jax.jit(self._centre)
        step = paper_step if predicted == "paper" else (lambda *a: (code_step(*a), jnp.nan))
        self.predict = jax.jit(lambda c, v: step(f, c, v, self.eta, generalized))
        self.place = jax.jit(place)
        self.project_once = jax.jit(lambda c, active: linear_project(c, self.eta, active), static_argnums=1)
        # fast: LOBPCG iterations dispatched from Python (``selfstab_eigs``) and one jitted call per
        # phase of a tracked step; False: the in-graph solver and per-quantity calls (the reference)
        self.fast = fast and method == "lobpcg"
        self._solvers: dict[int, HostLobpcg] = {}
        self._signed = jax.jit(_signed)
        self._rest = jax.jit(self._centre_rest)
        self.row_values = jax.jit(lambda gd, dagger, gf, c, v_hat: _row_values(f, self.eta, gd, dagger, gf, c, v_hat))
        # App. E: every step's assumption quantities, and rho_3 / rho_4 at the eigengap checks
        self.stats = AssumptionStats(f, self.eta)
        self.advance = jax.jit(lambda gd, gf, n, c, v_hat: (
            self.gd_step(gd), self.gf_step(gf, n), step(f, c, v_hat, self.eta, generalized)))

    def _eigs(self, x: jax.Array, U: jax.Array) -> tuple[jax.Array, jax.Array]:
        k = U.shape[1]
        method = "dense" if self.method == "lobpcg" and x.shape[0] <= 5 * k else self.method
        vals, vecs = top_eigenpairs(self.f, x, k, method, iters=self.iters, v0=U, tol=self.tol)
        return _signed(vals, vecs, U)

    def _host_eigs(self, x: jax.Array, U: jax.Array) -> tuple[jax.Array, jax.Array] | None:
        """The fast path's solve, or None where it does not apply (dense fallback of small problems)."""
        k = U.shape[1]
        if not self.fast or x.shape[0] <= 5 * k:
            return None
        if k not in self._solvers:
            self._solvers[k] = HostLobpcg(self.f, k, tol=self.tol, max_iters=100 if self.iters is None else self.iters)
        vals, vecs, _ = self._solvers[k].solve(x, U)
        return self._signed(vals, vecs, U)

    def eigs_any(self, x: jax.Array, U: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = self._host_eigs(x, U)
        return self.eigs(x, U) if out is None else out

    def _centre_rest(self, p: jax.Array, vals: jax.Array, vecs: jax.Array) -> Centre:
        loss, g = jax.value_and_grad(self.f)(p)
        return Centre(p, loss, g, vals, vecs, third_derivative_contraction(self.f, p, vecs[:, 0]))

    def _centre(self, p: jax.Array, U: jax.Array) -> Centre:
        return self._centre_rest(p, *self._eigs(p, U))

    def centre_any(self, p: jax.Array, U: jax.Array) -> Centre:
        out = self._host_eigs(p, U)
        return self.centre(p, U) if out is None else self._rest(p, *out)

    def project(self, p: jax.Array, U: jax.Array, active: bool = False) -> tuple[jax.Array, jax.Array]:
        """``proj_steps`` linearized projections onto M, each from a fresh centre warm-started
        from the previous eigenvectors (3 eigen-solves per projection, App. D.3); ``active``
        lands on S = 2/eta from below too (``linear_project``)."""
        for _ in range(self.proj_steps):
            # the fast path solves for the top pair only: a projection uses S and u, not lambda_2, and the
            # second column's convergence (lambda_2 << S, a small gap below it) set the iterations of a
            # 2-block solve (Transformer: 3-4 iterations per solve, where u alone had converged at the start)
            out = self._host_eigs(p, U[:, :1]) if self.fast and p.shape[0] > 5 * U.shape[1] else None
            if out is None:
                c = self.centre(p, U)
                p, U = self.project_once(c, active), c.vecs
            else:
                # centre and move as two calls: one compiled D^3 L for centre_any and the projections
                # (a Transformer's float64 third derivative takes minutes to compile here), so the centre
                # keeps the block's shape: the lower columns stay as they were (the next centre's 2-block
                # solve starts from them) and their eigenvalues are unknown (NaN; a projection reads S only)
                vals = jnp.full((U.shape[1],), jnp.nan, U.dtype).at[0].set(out[0][0])
                c = self._rest(p, vals, U.at[:, 0].set(out[1][:, 0]))
                p, U = self.project_once(c, active), c.vecs
        return p, U


@functools.lru_cache(maxsize=8)
def _tracker(f: Callable, eta: float, **settings) -> Tracker:
    """One Tracker (and so one set of compiled functions) per loss and settings in a process: a
    resumed or chunked ``track`` on the same ``f`` compiles nothing again (a CNN's float64 compiles
    take minutes on 2 shared cores)."""
    return Tracker(f, eta, **settings)


def _signed(vals: jax.Array, vecs: jax.Array, U: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each vector's sign made continuous with the warm start, so logged x = u . v is too."""
    sign = jnp.sign(jnp.sum(vecs * U, axis=0))
    return vals, vecs * jnp.where(sign == 0, 1, sign)


def find_instability(f: Callable, x0, eta: float, *, max_steps: int = 10_000, dtype=jnp.float32,
                     method: str = "lobpcg", iters: int | None = None, tol: float | None = None,
                     thresholds: tuple[float, float] = (1.0, 1.5), dts: tuple[float, float, float] = (1.0, 0.1, 0.01),
                     key: jax.Array | None = None, fast: bool = True) -> dict:
    """GD from ``x0`` in ``dtype`` until the midpoint sharpness S((theta_t + theta_{t+1})/2) >= 2/eta.

    Returns {"reached", "x" (theta_t at the crossing, or the last iterate), "step", "sharpness",
    "u", "checks" (list of (step, S)), "backtracked"}. ``thresholds`` (in units of 1/eta) and
    ``dts`` (in time units) set the check spacing: dts[i] applies once S >= thresholds[i-1]/eta.
    """
    tracker = _tracker(f, eta, method=method, iters=iters, tol=tol, fast=fast)
    x = jnp.asarray(x0, dtype)
    U = _random_block(x.shape[0], 1, x.dtype, jax.random.PRNGKey(0) if key is None else key)
    step, last_gap, step_by_step, backtracked = 0, 0, False, False
    checks: list[tuple[int, float]] = []
    previous = (x, step, U)
    while True:
        vals, vecs = tracker.eigs_any((x + tracker.gd_step(x)) / 2, U)
        S, U = float(vals[0]), vecs
        checks.append((step, S))
        if S >= 2 / eta:
            if last_gap > 1 and not step_by_step:
                x, step, U = previous  # the crossing lies somewhere in the last gap: replay it step by step
                step_by_step = backtracked = True
                continue
            return {"reached": True, "x": x, "step": step, "sharpness": S, "u": U[:, 0], "checks": checks,
                    "backtracked": backtracked}
        if step >= max_steps or not math.isfinite(S):
            return {"reached": False, "x": x, "step": step, "sharpness": S, "u": U[:, 0], "checks": checks,
                    "backtracked": backtracked}
        dt = dts[0] if S < thresholds[0] / eta else dts[1] if S < thresholds[1] / eta else dts[2]
        gap = 1 if step_by_step else min(max(1, round(dt / eta)), max_steps - step)
        previous = (x, step, U)
        x, step, last_gap = tracker.gd_steps(x, gap), step + gap, gap


@dataclasses.dataclass
class TrackState:
    """Everything ``track`` needs to continue: the four trajectories (GD, theta^dagger, GF, and
    the predicted deviation: v_hat itself for the code form; for eq. (6) the pre-projection w and
    the scalar x_pred_next that ``place`` puts on the next u), the warm-start
    eigenvector blocks, the previous GD sharpness (for the two-step average), why it stopped
    ("" while running) and the per-step log (column -> list)."""

    step: int
    gd: np.ndarray
    dagger: np.ndarray
    gf: np.ndarray
    v_pred: np.ndarray
    U_dagger: np.ndarray
    U_gd: np.ndarray
    U_gf: np.ndarray
    x_pred_next: float = float("nan")
    prev_gd_sharpness: float = float("nan")
    stopped: str = ""
    log: dict[str, list] = dataclasses.field(default_factory=dict)

    _ARRAYS = ("gd", "dagger", "gf", "v_pred", "U_dagger", "U_gd", "U_gf")

    def save(self, path: str | os.PathLike) -> None:
        """Atomic npz write (temp file + rename), so a kill mid-write leaves the last good state."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        arrays = {name: np.asarray(getattr(self, name)) for name in self._ARRAYS}
        arrays.update({f"log__{k}": np.asarray(v, dtype=np.float64) for k, v in self.log.items()})
        np.savez(tmp, step=self.step, prev_gd_sharpness=self.prev_gd_sharpness, x_pred_next=self.x_pred_next,
                 stopped=np.str_(self.stopped), **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrackState":
        with np.load(path) as z:
            log = {k[len("log__"):]: z[k].tolist() for k in z.files if k.startswith("log__")}
            return cls(step=int(z["step"]), prev_gd_sharpness=float(z["prev_gd_sharpness"]),
                       x_pred_next=float(z["x_pred_next"]), stopped=str(z["stopped"]),
                       log=log, **{name: z[name] for name in cls._ARRAYS})

    def table(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v) for k, v in self.log.items()}


def _initial_state(tracker: Tracker, x_star: jax.Array, key: jax.Array) -> TrackState:
    dim, dt = x_star.shape[0], x_star.dtype
    keys = jax.random.split(key, 3)
    # theta_0 is where the constraint turns active (Sec. 5), so theta_0^dagger sits on S = 2/eta
    dagger, U_dagger = tracker.project(x_star, _random_block(dim, 2, dt, keys[0]), active=True)
    v0 = x_star - dagger  # v_hat_0 = v_0 (Thm 1); for eq. (6), place(v0, u_0 . v0, u_0) = v0
    x0 = float(jnp.vdot(tracker.centre_any(dagger, U_dagger).u, v0)) if tracker.predicted == "paper" else float("nan")
    return TrackState(step=0, gd=x_star, dagger=dagger, gf=x_star, v_pred=v0, x_pred_next=x0, U_dagger=U_dagger,
                      U_gd=_random_block(dim, 1, dt, keys[1]), U_gf=_random_block(dim, 1, dt, keys[2]))


def _row_values(f: Callable, eta: float, gd, dagger, gf, c: Centre, v_hat) -> dict[str, jax.Array]:
    """The per-step quantities of a log row that are arrays (one jitted call; ``_row`` adds the rest)."""
    consts = constants(c)
    v_gd = gd - dagger
    x_gd, y_gd = coordinates(c, v_gd)
    x_pred, y_pred = coordinates(c, v_hat)
    return {
        "loss_gd": f(gd), "loss_dagger": c.loss, "loss_pred": f(dagger + v_hat), "loss_gf": f(gf),
        "sharpness_dagger": c.sharpness,
        # Thm 1: S(theta) ~ S(dagger) + grad S . v; dropping grad S . u x (the period-2 part) gives the 2-step average
        "sharpness_pred": c.sharpness + jnp.vdot(c.grad_s, v_hat), "sharpness_pred_avg2": c.sharpness + y_pred,
        "dist_gd": jnp.linalg.norm(v_gd), "dist_pred": jnp.linalg.norm(v_hat), "dist_gf": jnp.linalg.norm(gf - dagger),
        "x_gd": x_gd, "y_gd": y_gd, "x_pred": x_pred, "y_pred": y_pred,
        "lambda2": c.vals[1], "alpha": consts["alpha"], "beta": consts["beta"], "delta": consts["delta"],
        "epsilon": eta * jnp.sqrt(consts["alpha"]), "grad_dot_u": jnp.vdot(c.grad, c.u),
    }


def _row(tracker: Tracker, s: TrackState, c: Centre, v_hat: jax.Array, S_gd: float, S_gf: float,
         n_gf: int, stats: bool, slow: bool) -> dict[str, float]:
    """One log row at step s.step (before advancing); x, y are Def. 5's u . v and grad S_perp . v.
    ``stats``: App. E's per-step quantities, and with ``slow`` rho_3, rho_4 (the code's slow stats);
    NaN where not measured."""
    values = jax.device_get(tracker.row_values(s.gd, s.dagger, s.gf, c, v_hat))
    unmeasured = dict.fromkeys(ASSUMPTION_COLUMNS, np.nan)
    values.update(jax.device_get(tracker.stats.values(c, v_hat)) if stats else unmeasured)
    values.update(jax.device_get(tracker.stats.slow(c.p, c.u)) if stats and slow else {"rho3": np.nan, "rho4": np.nan})
    row = {"step": s.step, **values, "sharpness_gd": S_gd, "sharpness_gd_avg2": (S_gd + s.prev_gd_sharpness) / 2,
           "sharpness_gf": S_gf, "gf_substeps": n_gf}
    return {k: float(v) for k, v in row.items()}


def track(f: Callable, x_star, eta: float, steps: int, *, state: TrackState | None = None,
          checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 10, generalized: bool = False,
          method: str = "lobpcg", iters: int | None = None, tol: float | None = 1e-9, proj_steps: int = 3,
          predicted: str = "paper", lambda2_stop: float = 1.9, lambda2_every: int = 1, max_gf_substeps: int = 64,
          dtype=jnp.float64, key: jax.Array | None = None, fast: bool = True,
          assumption_stats: bool = True) -> TrackState:
    """Track GD, theta^dagger, GF and the predicted dynamics from ``x_star`` for up to ``steps``
    logged steps (rows 0..steps-1), or until lambda_2(theta^dagger) >= ``lambda2_stop``/eta,
    checked at steps that are multiples of ``lambda2_every`` (the authors: every 50 steps; lambda_2
    is logged every step regardless, the centre's eigen-solve has it). App. E's rho_3 and rho_4
    (``selfstab_assumptions``) are measured at the same steps, as the authors' slow stats
    (``assumption_stats=False``: none of App. E's quantities).

    ``state`` continues a given state; else ``checkpoint`` (an npz path) is resumed when it exists
    and written every ``checkpoint_every`` steps and at the end. ``state.stopped`` says why it
    ended: "lambda2", "steps" or "nonfinite". ``dtype`` float64 needs x64 on (``optdyn.precision``).
    """
    x_star = jnp.asarray(x_star, dtype)
    if x_star.dtype != jnp.dtype(dtype):
        raise ValueError(f"tracking asks for {jnp.dtype(dtype)} but got {x_star.dtype}: "
                         "call optdyn.precision.configure_process(True) at process start")
    tracker = _tracker(f, eta, method=method, iters=iters, tol=tol, generalized=generalized, proj_steps=proj_steps,
                       predicted=predicted, fast=fast)
    if state is None and checkpoint is not None and Path(checkpoint).exists():
        state = TrackState.load(checkpoint)
    if state is None:
        state = _initial_state(tracker, x_star, jax.random.PRNGKey(0) if key is None else key)
    if state.stopped in ("lambda2", "nonfinite"):
        return state  # a finished tracking resumed: nothing to add
    s = dataclasses.replace(state, stopped="", log={k: list(v) for k, v in state.log.items()})
    for name in TrackState._ARRAYS:
        setattr(s, name, jnp.asarray(getattr(s, name), dtype))

    while s.step < steps:
        c = tracker.centre_any(s.dagger, s.U_dagger)
        vals_gd, U_gd = tracker.eigs_any(s.gd, s.U_gd)
        vals_gf, U_gf = tracker.eigs_any(s.gf, s.U_gf)
        S_gd, S_gf = float(vals_gd[0]), float(vals_gf[0])
        n_gf = gf_substeps(eta, S_gf, max_gf_substeps)
        v_hat = tracker.place(s.v_pred, s.x_pred_next, c.u) if tracker.predicted == "paper" else s.v_pred
        row = _row(tracker, s, c, v_hat, S_gd, S_gf, n_gf, assumption_stats, slow=s.step % lambda2_every == 0)
        for k, v in row.items():
            s.log.setdefault(k, []).append(v)
        # the predicted columns may be NaN where Assumption 1 fails (alpha < 0: no delta); that alone is no reason to stop
        if not all(math.isfinite(row[k]) for k in ("loss_gd", "loss_dagger", "loss_gf", "sharpness_gd", "lambda2")):
            s.stopped = "nonfinite"
            break
        if s.step % lambda2_every == 0 and row["lambda2"] >= lambda2_stop / eta:
            s.stopped = "lambda2"
            break
        dagger, U_dagger = tracker.project(tracker.gd_step(s.dagger), c.vecs)
        gd, gf, (w, x_next) = tracker.advance(s.gd, s.gf, n_gf, c, v_hat)
        s = dataclasses.replace(
            s, step=s.step + 1, gd=gd, gf=gf, v_pred=w,
            x_pred_next=float(x_next), dagger=dagger, U_dagger=U_dagger, U_gd=U_gd, U_gf=U_gf, prev_gd_sharpness=S_gd)
        if checkpoint is not None and s.step % checkpoint_every == 0:
            s.save(checkpoint)
    s.stopped = s.stopped or "steps"
    if checkpoint is not None:
        s.save(checkpoint)
    return s
