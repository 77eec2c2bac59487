"""The App. E quantities along the constrained trajectory (Damian et al. App. E; catalog 004 §2
"App. E" and §4.3; the authors' ``taylor.py``: ``constants_fn``, ``taylor_stats_fn``,
``slow_stats_fn``). Logged by ``selfstab_tracking`` with each row, so App. E reads the same
tracked runs as Fig. 4 (no second tracking).

Every step, at the centre theta^dagger_t:
- ||grad L_t||, ||grad S_t^perp|| and gamma_t = alpha_t / (||grad L_t|| ||grad S_t^perp||)
  (Assumption 4; gamma <= 1 by Cauchy-Schwarz, so only its lower end is informative);
- the Assumption-5 ratios as the code logs them, with unit vectors orthogonal to u_t:
  ||D^3 L_t[v, v]|| for v = P_perp(u) v_hat_t / ||.|| and for v = P_perp(u) grad L_t / ||.||
  (divided by rho_3 in the figure), and |D^2 L_t[v, v]| / ||D^2 L_t|| for the first v (S_t is
  ||D^2 L_t||_2 on M, where lambda_min is small; the code logs the numerator alone).
Every ``every`` steps (the code: every 50, with the eigengap check): rho_3 and rho_4 by 20 steps of
the symmetric power method on v -> D^3 L[v, v] and v -> D^4 L[v, v, v] from u_t (``util.power_iter``),
as |D^3 L[v, v, v]| and |D^4 L[v, v, v, v]| at the final unit v (D^4 L[v, v, v] by a central difference
of D^3 L, see ``AssumptionStats``).

The paper's third Assumption-5 ratio, |lambda_min| / ||D^2 L||, is not in App. E's plots ("we verify
the assumptions on D^2 L and D^3 L") nor in the released code, so it is not logged here either.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from optdyn.curvature import hvp, third_derivative_contraction

from ..theory.selfstab_predicted import Centre, constants

__all__ = ["ASSUMPTION_COLUMNS", "POWER_ITERS", "AssumptionStats", "along_u"]

POWER_ITERS = 20  # the code's util.power_iter default
ASSUMPTION_COLUMNS = ("grad_norm", "grad_s_perp_norm", "gamma", "d3_vhat_norm", "d3_grad_norm", "d2_vhat_ratio",
                      "F_delta", "F1_delta", "F2_delta")


def _unit_perp(v: jax.Array, u: jax.Array) -> jax.Array:
    """P_perp(u) v normalized; a zero vector gives NaNs (no direction to measure), not a silent 0."""
    w = v - u * jnp.vdot(u, v)
    return w / jnp.linalg.norm(w)


def along_u(f: Callable, c: Centre, eta: float, x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """App. F's F_t(x) = L(theta^dagger + x u) - L(theta^dagger) - x^2/eta and its first two
    derivatives in x: where the loss along u leaves the quadratic whose 2-cycle is exactly stable."""
    g = lambda z: f(c.p + z * c.u) - c.loss - z**2 / eta  # noqa: E731
    return g(x), jax.grad(g)(x), jax.grad(jax.grad(g))(x)


class AssumptionStats:
    """App. E's quantities for one loss ``f`` and learning rate ``eta``, built from few compiled
    programs: every third-derivative contraction (the per-step ratios, both power methods, and
    rho_4 as a central difference of D^3 L along v) goes through one jitted D^3 L[v, v], so a CNN's
    or Transformer's float64 tracking compiles one more D^3 program, not a D^4 one (whose compile
    dominated a CNN probe's start-up on 2 shared cores).

    rho_4's difference D^4 L[v, v, v] = (D^3 L(p + h v)[v, v] - D^3 L(p - h v)[v, v]) / (2h) with unit v
    and ``h`` = 1e-3 is off by O(h^2 D^6 L), ~1e-6 relative for these smooth losses (exact for a quartic),
    far below what the O(1) comparison with eta rho_3^2 needs; the authors differentiate once more."""

    def __init__(self, f: Callable, eta: float, *, iters: int = POWER_ITERS, h: float = 1e-3):
        self.iters, self.h = iters, h
        self.d3 = jax.jit(lambda p, v: third_derivative_contraction(f, p, v))
        self._scalars = jax.jit(lambda c, v_hat: _scalars(f, c, v_hat, eta))

    def values(self, c: Centre, v_hat: jax.Array) -> dict[str, jax.Array]:
        """Per-step App. E quantities at the centre ``c`` (theta^dagger_t) for the predicted
        deviation ``v_hat``, plus F_t, F_t', F_t'' at delta_t (App. F: the generalized fixed point
        |x| = delta_t has y = -F'(delta)/delta, so S -> 2/eta - F'(delta)/delta + F''(delta) and
        L -> L(theta^dagger) + delta^2/eta + F(delta))."""
        out, vbar, gbar = self._scalars(c, v_hat)
        out["d3_vhat_norm"] = jnp.linalg.norm(self.d3(c.p, vbar))
        out["d3_grad_norm"] = jnp.linalg.norm(self.d3(c.p, gbar))
        return out

    def _power(self, contract: Callable, u: jax.Array) -> jax.Array:
        v = u / jnp.linalg.norm(u)
        for _ in range(self.iters):
            w = contract(v)
            v = w / jnp.linalg.norm(w)
        return jnp.abs(jnp.vdot(v, contract(v)))

    def slow(self, p: jax.Array, u: jax.Array) -> dict[str, jax.Array]:
        """rho_3, rho_4 at ``p`` by the power method from ``u`` (the code's ``util.power_iter``: the
        local values the authors plot; the paper's rho's are sups over a region)."""
        d4 = lambda v: (self.d3(p + self.h * v, v) - self.d3(p - self.h * v, v)) / (2 * self.h)  # noqa: E731
        return {"rho3": self._power(lambda v: self.d3(p, v), u), "rho4": self._power(d4, u)}


def _scalars(f: Callable, c: Centre, v_hat: jax.Array, eta: float) -> tuple[dict[str, jax.Array], jax.Array, jax.Array]:
    consts = constants(c)
    grad_norm = jnp.linalg.norm(c.grad)
    gs_norm = jnp.sqrt(consts["beta"])
    vbar, gbar = _unit_perp(v_hat, c.u), _unit_perp(c.grad, c.u)
    out = {
        "grad_norm": grad_norm, "grad_s_perp_norm": gs_norm, "gamma": consts["alpha"] / (grad_norm * gs_norm),
        "d2_vhat_ratio": jnp.abs(jnp.vdot(vbar, hvp(f, c.p, vbar))) / jnp.abs(c.sharpness),
        **dict(zip(("F_delta", "F1_delta", "F2_delta"), along_u(f, c, eta, consts["delta"]))),
    }
    return out, vbar, gbar
