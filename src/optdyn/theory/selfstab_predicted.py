"""The Taylor centre of the constrained trajectory and the predicted dynamics built on it
(Damian et al., Sec. 5 eq. (5)-(6), App. C; generalized: App. F eq. (11)); catalog 004 §1.5-1.6.

Everything acts on a flat parameter vector and a scalar loss ``f(x)``. Two forms of the predicted
step:
- ``paper_step`` + ``place`` (default): eq. (6) as written. The off-u part of v_hat is advanced by
  (I - eta H_t) P_perp(u_t) plus the grad S_perp drift, the scalar x_hat by eq. (5) (or eq. (11)),
  and only then combined with u_{t+1}: v_hat_{t+1} = P_perp(u_{t+1}) w + x_hat_{t+1} u_{t+1}. The
  explicit P_perp(u_{t+1}) keeps the rotation of u from leaking the O(delta) off-u deviation into
  x_hat; without it, on a small MLP, x_hat blew up ~40 steps before GD did.
- ``code_step``: the authors' "gradient form" (``taylor.py::predicted_step``):
  v <- v - eta [(x^2 - delta^2)/2 grad S_perp + H v + u x y], which needs nothing at theta_{t+1}.
On the App. B toy (u constant) both are eq. (3) exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..curvature import hvp


class Centre(NamedTuple):
    """Taylor quantities at a point p (Def. 3): L, grad L, the top eigenpairs of hess L
    (``vals`` descending, ``vecs`` (dim, k); S = vals[0], u = vecs[:, 0]) and grad S = D^3 L[u, u, .]
    (Lemma 2)."""

    p: jax.Array
    loss: jax.Array
    grad: jax.Array
    vals: jax.Array
    vecs: jax.Array
    grad_s: jax.Array

    @property
    def sharpness(self) -> jax.Array:
        return self.vals[0]

    @property
    def u(self) -> jax.Array:
        return self.vecs[:, 0]

    @property
    def grad_s_perp(self) -> jax.Array:
        """grad S with its u-component removed (Def. 3): the direction that moves S but not x."""
        return self.grad_s - self.u * jnp.vdot(self.u, self.grad_s)


def constants(c: Centre) -> dict[str, jax.Array]:
    """Def. 4 at the centre: alpha = -grad L . grad S_perp (the code's form; equal to the paper's
    -grad L . grad S on M, where grad L . u = 0), beta = ||grad S_perp||^2, delta = sqrt(2 alpha/beta),
    epsilon = eta sqrt(alpha) needs eta and is left to the caller."""
    gs = c.grad_s_perp
    alpha = -jnp.vdot(c.grad, gs)
    beta = jnp.vdot(gs, gs)
    # alpha < 0 breaks Assumption 1; delta is then undefined (NaN) rather than silently clipped
    return {"alpha": alpha, "beta": beta, "delta": jnp.sqrt(2 * alpha / beta)}


def coordinates(c: Centre, v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(x, y) = (u . v, grad S_perp . v) of a deviation v = theta - theta^dagger (Def. 5)."""
    return jnp.vdot(c.u, v), jnp.vdot(c.grad_s_perp, v)


def _along_u_slope(f: Callable, c: Centre, x: jax.Array, eta: float) -> jax.Array:
    """F_t'(x) with F_t(x) = L(theta^dagger + x u) - L(theta^dagger) - x^2/eta (App. F): how far the
    loss along u is from the quadratic whose 2-cycle is exactly stable."""
    return jnp.vdot(c.u, jax.grad(f)(c.p + x * c.u)) - 2 * x / eta


def paper_step(f: Callable, c: Centre, v: jax.Array, eta: float, generalized: bool = False) -> tuple[jax.Array, jax.Array]:
    """Eq. (6) up to its last projection: returns (w, x_next) with
        w = (I - eta H_t) P_perp(u_t) v + eta grad S_perp (delta_t^2 - x^2)/2,
        x_next = -(1 + eta y) x                      (eq. (5))
        x_next = -(1 + eta y) x - eta F_t'(x)        (generalized, eq. (11)).
    ``place(w, x_next, u_{t+1})`` is v_hat_{t+1}."""
    x, y = coordinates(c, v)
    gs = c.grad_s_perp
    v_perp = v - c.u * x
    w = v_perp - eta * hvp(f, c.p, v_perp) + eta * gs * (constants(c)["delta"] ** 2 - x**2) / 2
    x_next = -(1 + eta * y) * x
    if generalized:
        x_next = x_next - eta * _along_u_slope(f, c, x, eta)
    return w, x_next


def place(w: jax.Array, x_next: jax.Array, u_next: jax.Array) -> jax.Array:
    """v_hat_{t+1} = P_perp(u_{t+1}) w + x_hat_{t+1} u_{t+1} (the last step of eq. (6))."""
    return w - u_next * jnp.vdot(u_next, w) + x_next * u_next


def code_step(f: Callable, c: Centre, v: jax.Array, eta: float, generalized: bool = False) -> jax.Array:
    """The authors' gradient form: v <- v - eta [(x^2 - delta^2)/2 grad S_perp + H v + u x y];
    ``generalized`` (code ``--generalized_pred``) uses H v_perp + u (u . grad L(theta^dagger + x u))
    instead of H v, whose x-part is 2x/eta + F_t'(x)."""
    x, y = coordinates(c, v)
    gs = c.grad_s_perp
    drift = (x**2 - constants(c)["delta"] ** 2) / 2 * gs + c.u * x * y
    if generalized:
        v_perp = v - c.u * x
        along_u = jnp.vdot(c.u, jax.grad(f)(c.p + x * c.u))
        return v - eta * (drift + hvp(f, c.p, v_perp) + c.u * along_u)
    return v - eta * (drift + hvp(f, c.p, v))


def linear_project(c: Centre, eta: float, active: bool = False) -> jax.Array:
    """One linearized projection onto M = {S <= 2/eta, grad L . u = 0} (code ``linear_project``,
    Lemma 13): a first-order move back to S = 2/eta along grad S_perp (only when S is above it: M
    is an inequality) and a Newton step along u that zeroes grad L . u (footnote 1).

    ``active``: move onto S = 2/eta from either side. theta_0^dagger needs it: theta_0 is by
    definition the point where the constraint becomes active (Sec. 5), and the one-sided move
    would stop wherever the first linearized step overshot into S < 2/eta (an O(eta x_0^2) offset
    on the App. B toy that the predicted dynamics then carry along).

    The two moves are linearized jointly: the Newton step b u also changes S, by b (u . grad S)
    to first order, and the move along grad S_perp cancels that too. The authors' form (which
    corrects only S - 2/eta) leaves that first-order coupling in the residual, so three projections
    converged only linearly (S(theta^dagger) 1e-4..5e-4 relative above 2/eta on small MLPs); with
    it the residual falls quadratically (~1e-9 relative after three). The fixed point (S = 2/eta,
    grad L . u = 0) is the same."""
    gs = c.grad_s_perp
    newton = -jnp.vdot(c.u, c.grad) / c.sharpness  # the step along u that zeroes grad L . u
    excess = c.sharpness - 2 / eta + newton * jnp.vdot(c.u, c.grad_s)  # S - 2/eta after that step
    excess = excess if active else jnp.maximum(0.0, excess)
    return c.p - excess * gs / jnp.vdot(gs, gs) + newton * c.u
