"""The WSD paper's analytic toy losses as ``Problem``s, trained by the same loop as networks.

Both problems hold ``replicas`` independent copies as params of shape (replicas, 2) and return
the *sum* of per-replica losses, so one gradient call gives every replica its own exact gradient
and GD/SGD on the stack is GD/SGD on each copy. The noise models are part of the loss, as a
linear term -<stop_gradient(z), w> whose gradient is -z, so a plain optimizer step
w <- w - eta*grad adds +eta*z, exactly the papers' SGD models, with no special optimizer.

dtype: arrays are created in the ``dtype`` the problem is built with (the run's ``spec.dtype``;
float64 needs x64 on, see ``optdyn.precision``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optdyn.registry import problem_builder

from ..spec.components import QuadraticRiver, River2D
from .base import Problem


def river2d_loss(w: jax.Array, slope: float, end: float) -> jax.Array:
    """Per-point L(x1, x2) = (x2 - sin x1)^2 + slope*|end - x1| over w of shape (..., 2).
    jnp.abs differentiates to sign(end - x1), 0 at the kink: the subgradient numpy uses too."""
    x1, x2 = w[..., 0], w[..., 1]
    return (x2 - jnp.sin(x1)) ** 2 + slope * jnp.abs(end - x1)


def river2d_mountain_noise(w: jax.Array, xi: jax.Array) -> jax.Array:
    """(I - v_d v_d^T) xi at each point: xi projected off the river direction (eq. (4)).

    In 2-D the complement of v_d is the max-eigenvector u, whose angle has the closed form
    theta = atan2(2 h12, h11 - h22)/2 for a symmetric 2x2 Hessian; cheaper and sign-stable
    compared with a batched eigh. The |.| term has zero Hessian, so only the sine term enters."""
    x1, x2 = w[..., 0], w[..., 1]
    r, c, s = x2 - jnp.sin(x1), jnp.cos(x1), jnp.sin(x1)
    theta = 0.5 * jnp.arctan2(-4 * c, 2 * c**2 + 2 * r * s - 2)
    u = jnp.stack([jnp.cos(theta), jnp.sin(theta)], axis=-1)
    return u * jnp.sum(u * xi, axis=-1, keepdims=True)


class River2DProblem:
    """L summed over replicas, SGD noise N(0, sigma^2 I) projected on mountain directions."""

    replica_axis = True  # params (replicas, 2): SAM/IRE normalize and rank per replica

    def __init__(self, spec: River2D, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)

    def init(self, key: jax.Array) -> jax.Array:
        dt, s = self.dtype, self.spec
        if s.init is not None:
            return jnp.asarray(s.init, dtype=dt).reshape(s.replicas, 2)
        (x1_lo, x1_hi), (x2_lo, x2_hi) = s.init_box
        lo, hi = jnp.asarray([x1_lo, x2_lo], dt), jnp.asarray([x1_hi, x2_hi], dt)
        return jax.random.uniform(key, (s.replicas, 2), dt, minval=lo, maxval=hi)

    def sample_batch(self, key: jax.Array) -> jax.Array:
        """xi ~ N(0, sigma^2 I), (replicas, 2); zeros for GD so the batch structure (and the
        jitted step) does not depend on sigma. The projection needs w, so it is done in loss."""
        shape, dt = (self.spec.replicas, 2), self.dtype
        if self.spec.noise_sigma == 0:
            return jnp.zeros(shape, dt)
        return self.spec.noise_sigma * jax.random.normal(key, shape, dt)

    def loss(self, params: jax.Array, batch: jax.Array) -> jax.Array:
        s = self.spec
        total = jnp.sum(river2d_loss(params, s.slope, s.end))
        if s.noise_sigma == 0:
            return total
        z = jax.lax.stop_gradient(river2d_mountain_noise(params, batch))
        return total - jnp.sum(z * params)

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        return {
            "loss": jnp.mean(river2d_loss(params, self.spec.slope, self.spec.end)),
            "x1": params[:, 0],
            "x2": params[:, 1],
        }


class QuadraticRiverProblem:
    """L = gamma*x2^2/2 - x1 per replica, noise N(0, sigma^2) on the hill coordinate x2 only."""

    replica_axis = True

    def __init__(self, spec: QuadraticRiver, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)

    def init(self, key: jax.Array) -> jax.Array:
        del key  # deterministic start, as in the paper's Fig. 4 setting
        row = jnp.asarray(self.spec.init, dtype=self.dtype)
        return jnp.tile(row, (self.spec.replicas, 1))

    def sample_batch(self, key: jax.Array) -> jax.Array:
        dt = self.dtype
        if self.spec.noise_sigma == 0:
            return jnp.zeros((self.spec.replicas,), dt)
        return self.spec.noise_sigma * jax.random.normal(key, (self.spec.replicas,), dt)

    def _per_replica(self, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        hill = 0.5 * self.spec.gamma * params[:, 1] ** 2
        return hill, -params[:, 0]

    def loss(self, params: jax.Array, batch: jax.Array) -> jax.Array:
        hill, river = self._per_replica(params)
        return jnp.sum(hill + river) - jnp.sum(jax.lax.stop_gradient(batch) * params[:, 1])

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        hill, river = self._per_replica(params)
        return {"loss": jnp.mean(hill + river), "hill": jnp.mean(hill), "river": jnp.mean(river)}


@problem_builder(River2D, QuadraticRiver)
def build_toy(spec: River2D | QuadraticRiver, *, dtype=jnp.float32) -> Problem:
    """The problem of a self-contained 2-D toy model spec."""
    if isinstance(spec, River2D):
        return River2DProblem(spec, dtype=dtype)
    if isinstance(spec, QuadraticRiver):
        return QuadraticRiverProblem(spec, dtype=dtype)
    raise ValueError(f"no toy problem for model {getattr(spec, 'name', spec)!r}")
