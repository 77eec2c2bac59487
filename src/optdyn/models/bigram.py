"""The WSD paper's toy bigram model (Sec. 4) as a ``Problem``: Theta in R^{n x m}, one softmax row
per city, trained on sampled (city, name) pairs and evaluated on the exact population loss.

The language P is generated once, deterministically from ``data.seed``, by
``theory.bigram.make_language``; P is small (n*m floats), so it is held as a constant and the
population loss and its deterministic/stochastic split are exact and cheap at every step.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from optdyn.registry import problem_builder

from ..spec.components import BigramLanguage, BigramSoftmax
from ..theory.bigram import entropy, make_language, population_loss


class BigramProblem:
    def __init__(self, model: BigramSoftmax, data: BigramLanguage, *, dtype=jnp.float32):
        self.model, self.data, self.dtype = model, data, jnp.dtype(dtype)
        self.P, self.is_det = make_language(
            data.n_deterministic,
            data.n_stochastic,
            data.names,
            data.det_entropy_max,
            data.sto_entropy_min,
            data.seed,
        )
        self.n, self.m = self.P.shape
        self.entropy = entropy(self.P)
        self.mean_entropy = float(self.entropy.mean())  # L* = min of the population loss

    def init(self, key: jax.Array) -> jax.Array:
        shape, dt = (self.n, self.m), self.dtype
        if self.model.init_scale == 0:
            return jnp.zeros(shape, dt)
        return self.model.init_scale * jax.random.normal(key, shape, dt)

    def sample_batch(self, key: jax.Array) -> dict[str, jax.Array]:
        """batch_size i.i.d. pairs: city ~ Uniform(n), name ~ Categorical(P_city). The log-table
        is built in float64 numpy then cast, so tiny P_ij stay finite (the floor of P is
        representable in float32), and categorical is sampled from logits directly."""
        k_city, k_name = jax.random.split(key)
        B = self.data.batch_size
        city = jax.random.randint(k_city, (B,), 0, self.n, jnp.int32)
        log_p = jnp.asarray(np.log(self.P), dtype=self.dtype)
        name = jax.random.categorical(k_name, log_p[city], axis=-1)
        return {"city": city, "name": name}

    def loss(self, params: jax.Array, batch: dict[str, jax.Array]) -> jax.Array:
        """Mean sampled cross-entropy: an unbiased estimate of the population loss (and, by
        linearity, of its gradient)."""
        log_q = jax.nn.log_softmax(params[batch["city"]], axis=-1)
        return -jnp.mean(jnp.take_along_axis(log_q, batch["name"][:, None], axis=-1))

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        per_city = population_loss(params, jnp.asarray(self.P, dtype=params.dtype))
        det = jnp.asarray(self.is_det)
        loss = jnp.mean(per_city)
        return {
            "loss": loss,
            "loss_det": jnp.sum(jnp.where(det, per_city, 0)) / det.sum(),
            "loss_sto": jnp.sum(jnp.where(det, 0, per_city)) / (~det).sum(),
            "excess": loss - self.mean_entropy,
        }


@problem_builder(BigramSoftmax)
def build_bigram(model: BigramSoftmax, data: BigramLanguage, root=None, *, dtype=jnp.float32) -> BigramProblem:
    """The problem of a run (``root`` unused: the language is drawn from its ``seed``)."""
    return BigramProblem(model, data, dtype=dtype)
