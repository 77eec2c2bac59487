"""The `selfstab` paper's own problems as ``Problem``s (see ``models/registry.py``).

``SelfstabToyProblem`` is App. B's toy loss, params theta = (x, y, z). Its metrics measure what
Sec. 4 tracks, with the curvature library rather than closed forms, so the figure checks the
toy's App. B claims instead of assuming them:
- S(theta_t), u(theta_t) from the dense Hessian (3x3) and grad S(theta_t) = D^3 L[u, u, .]
  (Lemma 2);
- the Sec. 4 coordinates about the fixed reference point theta* = theta_0^dagger:
  x_t = u* . (theta_t - theta*), y_t = grad S* . (theta_t - theta*), with u*, grad S* measured at
  theta*, and alpha* = -grad L(theta*) . grad S*, beta* = ||grad S*||^2.
App. B gives the constrained trajectory in closed form: theta_t^dagger = (0, 0, z_t^dagger), and
since dL/dz = -1 everywhere, GD's z_t equals z_t^dagger exactly, so L(theta_t^dagger) is the loss
at theta_t with x and y zeroed (``loss_constrained``). The paper's App. B lists grad L_t =
[0, -alpha/sqrt(beta), 1] and z_t^dagger = -eta t, a sign slip for its own "-z" term; we
implement L as written, so z^dagger grows by +eta per step and L(theta^dagger) still falls by eta.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optdyn.curvature import third_derivative_contraction, top_eigenpairs
from optdyn.registry import problem_builder
from optdyn.spec.problems.selfstab import SelfstabToy

from . import networks  # noqa: F401  (the selfstab paper's networks: their @problem_builder)


def toy_loss(theta: jax.Array, eta: float, alpha: float, beta: float) -> jax.Array:
    x, y, z = theta[0], theta[1], theta[2]
    return (2 / eta + jnp.sqrt(beta) * y) * x**2 / 2 - alpha / jnp.sqrt(beta) * y - z


def sharpness_and_gradient(f, theta: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(S, u, grad S) at theta: the dense top eigenpair (u's sign fixed so its largest entry is
    positive, the sign is otherwise arbitrary) and grad S = D^3 f[u, u, .] (Lemma 2)."""
    vals, vecs = top_eigenpairs(f, theta, 1, method="dense")
    u = vecs[:, 0]
    u = u * jnp.sign(u[jnp.argmax(jnp.abs(u))])
    return vals[0], u, third_derivative_contraction(f, theta, u)


@problem_builder(SelfstabToy)
class SelfstabToyProblem:
    def __init__(self, spec: SelfstabToy, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)

    def f(self, theta: jax.Array) -> jax.Array:
        s = self.spec
        return toy_loss(theta, s.eta, s.alpha, s.beta)

    def reference(self) -> jax.Array:
        """theta* = theta_0^dagger = proj_M(theta_0) = (0, 0, 0) (App. B)."""
        return jnp.zeros(3, self.dtype)

    def init(self, key: jax.Array) -> jax.Array:
        del key  # deterministic start (x0, 0, 0)
        return jnp.asarray([self.spec.x0, 0.0, 0.0], self.dtype)

    def sample_batch(self, key: jax.Array) -> jax.Array:
        return jnp.zeros((), self.dtype)  # full batch: the loss is deterministic

    def loss(self, params: jax.Array, batch: jax.Array) -> jax.Array:
        del batch
        return self.f(params)

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        ref = self.reference()
        _, u_ref, grad_s_ref = sharpness_and_gradient(self.f, ref)
        sharpness, u, grad_s = sharpness_and_gradient(self.f, params)
        constrained = params.at[:2].set(0.0)
        return {
            "loss": self.f(params),
            "loss_constrained": self.f(constrained),
            "theta": params,
            "sharpness": sharpness,
            "u": u,
            "grad_sharpness": grad_s,
            "x": jnp.vdot(u_ref, params - ref),
            "y": jnp.vdot(grad_s_ref, params - ref),
            "alpha_ref": -jnp.vdot(jax.grad(self.f)(ref), grad_s_ref),
            "beta_ref": jnp.vdot(grad_s_ref, grad_s_ref),
        }
