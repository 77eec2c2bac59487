"""The `ire` paper's own problems as ``Problem``s (see ``models/registry.py``).

``IREValleyProblem``: params of shape (replicas, p) = [u (flat), v (sharp)] per replica; the
loss is the *sum* over replicas (each replica gets its own exact gradient) and the metrics are
replica means. Its ``fisher_diag`` is the Gauss-Newton diagonal of the squared residuals, which
for a squared loss is the Fisher ("one can simply use the Fisher", Sec. 3):
    u_j: u_j^2 |v|^2 / h,   v_i: h = 1 + |u|^2.
The u entries are O(|v|^2) and the v entries >= 1, so IRE's mask with gamma = flat_dims / p
selects exactly the u block: the exact flat-direction projection of eq. (3), through the same
IRE transform that networks use.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from optdyn.registry import problem_builder

from ..spec.problems.ire import IREValley
from .base import Problem
from . import ire_vision  # noqa: F401  (registers the vision nets of Sec. 4.1)
from .lm import post_ln  # noqa: F401  (registers the 2-layer Transformer of Table 4 / Fig. 5)


class IREValleyProblem:
    replica_axis = True

    def __init__(self, spec: IREValley, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        self.p = spec.flat_dims + spec.sharp_dims

    def split(self, params: jax.Array) -> tuple[jax.Array, jax.Array]:
        return params[:, : self.spec.flat_dims], params[:, self.spec.flat_dims :]

    def init(self, key: jax.Array) -> jax.Array:
        del key  # every replica starts at the same point; the label noise differs
        s = self.spec
        row = jnp.concatenate([jnp.full(s.flat_dims, s.init_u / s.flat_dims**0.5, self.dtype), jnp.full(s.sharp_dims, s.init_v, self.dtype)])
        return jnp.tile(row, (s.replicas, 1))

    def sample_batch(self, key: jax.Array) -> jax.Array:
        """Label noise sigma*xi of the sharp residuals, (replicas, sharp_dims); zeros without it."""
        shape = (self.spec.replicas, self.spec.sharp_dims)
        if self.spec.label_noise == 0:
            return jnp.zeros(shape, self.dtype)
        return self.spec.label_noise * jax.random.normal(key, shape, self.dtype)

    def _h(self, u: jax.Array) -> jax.Array:
        return 1.0 + jnp.sum(u**2, axis=1)

    def per_replica_loss(self, params: jax.Array) -> jax.Array:
        u, v = self.split(params)
        return self._h(u) * jnp.sum(v**2, axis=1) / 2

    def loss(self, params: jax.Array, batch: jax.Array) -> jax.Array:
        u, v = self.split(params)
        root_h = jnp.sqrt(self._h(u))[:, None]
        if self.spec.noise_model == "eq10":
            # gradient noise -sigma sqrt(h) xi on v only (the noise is not differentiated)
            return jnp.sum((root_h * v) ** 2) / 2 - jnp.sum(jax.lax.stop_gradient(root_h * batch) * v)
        return jnp.sum((root_h * v - batch) ** 2) / 2

    def fisher_diag(self, params: jax.Array, key: jax.Array) -> jax.Array:
        del key  # exact, no sampling needed for a squared loss
        u, v = self.split(params)
        h = self._h(u)[:, None]
        return jnp.concatenate([u**2 * jnp.sum(v**2, axis=1, keepdims=True) / h, jnp.broadcast_to(h, v.shape)], axis=1)

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        u, v = self.split(params)
        u_norm = jnp.sqrt(jnp.sum(u**2, axis=1))
        return {
            "loss": jnp.mean(self.per_replica_loss(params)),
            "u": jnp.mean(u[:, 0]),
            "v": jnp.mean(v[:, 0]),
            "u_norm": jnp.mean(u_norm),
            "log_u_norm": jnp.mean(jnp.log(u_norm)),
            "v_sq": jnp.mean(jnp.sum(v**2, axis=1)),
            "sharpness": jnp.mean(self.spec.sharp_dims * self._h(u)),  # Tr Hess at the projection (u, 0)
        }


@problem_builder(IREValley)
def build_valley(spec: IREValley, *, dtype=jnp.float32) -> Problem:
    return IREValleyProblem(spec, dtype=dtype)
