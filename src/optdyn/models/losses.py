"""Classification criteria as the self-stabilization code defines them (catalog 004 §4.2,
code ``dictionaries.py``): each takes ``logits[n, C]`` and labels ``[n]`` and returns the mean
over the n examples.

- ``cat_mse``: ||f - e_y||^2 summed over classes, **no 1/2** (Damian); ``scale=0.5`` gives
  Cohen's 1/2 ||f - e_y||^2 (conventions.md table and lesson 1), so the scale is explicit.
- ``binary_mse``: (f_0 - y)^2, y in {-1, +1}, the model has one output (n_classes = 1).
- ``cross_entropy``: -log softmax(f)_y, integer labels.
- ``logistic``: -log sigmoid(y f_0), y in {-1, +1}.

``BINARY`` names the criteria whose labels are +-1 and that read only ``f[:, 0]``.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import optax


def cat_mse(logits: jax.Array, labels: jax.Array, scale: float = 1.0) -> jax.Array:
    """mean_i scale * sum_c (f_ic - [c == y_i])^2; Damian's ``f.f - 2 f_y + 1`` with scale 1."""
    onehot = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    return scale * jnp.mean(jnp.sum((logits - onehot) ** 2, axis=-1))


def binary_mse(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """mean_i (f_i0 - y_i)^2 with y_i in {-1, +1}."""
    return jnp.mean((logits[:, 0] - labels.astype(logits.dtype)) ** 2)


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """mean_i -log softmax(f_i)_{y_i}."""
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))


def logistic(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """mean_i -log sigmoid(y_i f_i0) with y_i in {-1, +1}."""
    return -jnp.mean(jax.nn.log_sigmoid(labels.astype(logits.dtype) * logits[:, 0]))


def accuracy(logits: jax.Array, labels: jax.Array, binary: bool) -> jax.Array:
    """Fraction correct: sign(f_0) == y for +-1 labels, argmax f == y otherwise."""
    if binary:
        pred = jnp.where(logits[:, 0] >= 0, 1, -1)
    else:
        pred = jnp.argmax(logits, axis=-1)
    return jnp.mean((pred == labels).astype(logits.dtype))


CRITERIA: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "cat_mse": cat_mse,
    "binary_mse": binary_mse,
    "ce": cross_entropy,
    "logistic": logistic,
}
BINARY = frozenset({"binary_mse", "logistic"})
