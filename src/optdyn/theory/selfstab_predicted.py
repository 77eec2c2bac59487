"""The Taylor centre of the constrained trajectory and the predicted dynamics built on it
(Damian et al., Sec. 5 eq. (5)-(6), App. C; generalized: App. F eq. (11)); catalog 004 §1.5-1.6.

Everything acts on a flat parameter vector and a scalar loss ``f(x)``. The predicted step is the
authors' "gradient form" (``taylor.py::predicted_step``), not eq. (6) with its explicit
P_perp(u_{t+1}): the two agree to the order the theory keeps, and the gradient form needs no
quantity at theta_{t+1}^dagger, so the predicted deviation can be advanced in lockstep with the
constrained trajectory. Its u-component is x - eta S x - eta x y = -(1 + eta y) x when S = 2/eta,
and its grad S_perp-component is y + eta (alpha - beta x^2 / 2): on the App. B toy that is eq. (3)
exactly.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from ..probes.curvature import hvp


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


def predicted_step(f: Callable, c: Centre, v: jax.Array, eta: float, generalized: bool = False) -> jax.Array:
    """v_hat_{t+1} from v_hat_t with the centre at theta_t^dagger (eq. (5)-(6) in gradient form):
        v <- v - eta [ (x^2 - delta^2)/2 grad S_perp + H v + u x y ].
    ``generalized`` (App. F, code ``--generalized_pred``) replaces the quadratic model along u by
    the true loss there: H v -> H v_perp and + u (u . grad L(theta^dagger + x u)), whose x-part is
    2x/eta + F_t'(x), so x <- -(1 + eta y) x - eta F_t'(x) (eq. (11))."""
    x, y = coordinates(c, v)
    gs = c.grad_s_perp
    delta_sq = 2 * constants(c)["alpha"] / jnp.vdot(gs, gs)
    drift = (x**2 - delta_sq) / 2 * gs + c.u * x * y
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
    on the App. B toy that the predicted dynamics then carry along)."""
    gs = c.grad_s_perp
    excess = c.sharpness - 2 / eta
    excess = excess if active else jnp.maximum(0.0, excess)
    return c.p - excess * gs / jnp.vdot(gs, gs) - c.u * jnp.vdot(c.u, c.grad) / c.sharpness
