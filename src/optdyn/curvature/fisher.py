"""The Fisher of a softmax model with labels sampled from the model: IRE's diagonal estimator
(the GNB estimator of Sophia, IRE Eq. 6) and Tr(Fisher).

``logits_fn(params, inputs) -> logits[..., C]``: every leading position of the logits (examples,
or examples x tokens) is one prediction, N of them in all, each with its own label drawn
independently from softmax(logits). The Fisher meant throughout is the mean over the N
predictions of the per-prediction Fisher E_{y ~ p} [g g^T], g = grad log p(y | x, params).
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree


def _mean_ce(logits_fn: Callable, params, inputs, labels: jax.Array) -> jax.Array:
    logp = jax.nn.log_softmax(logits_fn(params, inputs), axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, labels[..., None], axis=-1))


def fisher_diag_at_labels(logits_fn: Callable, params, inputs, labels: jax.Array):
    """h = N * g (.) g with g = grad of the mean cross-entropy against the given ``labels``
    (int, shape logits.shape[:-1]) and N their number; a pytree like ``params``."""
    g = jax.grad(_mean_ce, argnums=1)(logits_fn, params, inputs, labels)
    n = labels.size
    return jax.tree.map(lambda gi: n * gi * gi, g)


def sampled_fisher_diag(logits_fn: Callable, params, inputs, key: jax.Array, samples: int = 1):
    """IRE's diagonal-Fisher estimate (IRE Eq. 6): labels y_hat ~ softmax(logits) drawn from
    ``key``, then h = N * (grad mean CE(y_hat)) ** 2 elementwise (``fisher_diag_at_labels``);
    averaged over ``samples`` independent label draws. A pytree like ``params``.

    One backward pass per sample. Unbiased for the diagonal of the mean per-prediction Fisher:
    the score g_i of each prediction has zero mean under its own sampled label and the labels
    are independent, so the cross terms of (sum_i g_i)^2 / N vanish in expectation. It is NOT the
    squared ordinary gradient (true labels; optax#968). Multiplying by N does not change IRE's
    ranking, it only makes the expectation the mean Fisher.
    """
    logits = jax.lax.stop_gradient(logits_fn(params, inputs))

    def one(k):
        labels = jax.random.categorical(k, logits, axis=-1)
        return fisher_diag_at_labels(logits_fn, params, inputs, labels)

    hs = jax.lax.map(one, jax.random.split(key, samples))
    return jax.tree.map(lambda h: jnp.mean(h, axis=0), hs)


def _per_prediction_score_rows(logits_fn: Callable, params, inputs):
    """(probabilities (N, C), scores (N, C, P)): grad_params log p(c | x_i) for every
    prediction i and class c, by a full Jacobian; only for small models and batches."""
    flat, unravel = ravel_pytree(params)
    logp = lambda x: jax.nn.log_softmax(logits_fn(unravel(x), inputs), axis=-1)  # noqa: E731
    lp = logp(flat)
    c = lp.shape[-1]
    jac = jax.jacrev(logp)(flat)  # (..., C, P)
    return jnp.exp(lp).reshape(-1, c), jac.reshape(-1, c, flat.shape[0])


def fisher_diag_exact(logits_fn: Callable, params, inputs):
    """The exact diagonal of the mean per-prediction Fisher, (1/N) sum_i sum_c p_ic g_ic^2, as a
    pytree like ``params``: the expectation of ``sampled_fisher_diag``. A full Jacobian (N C
    backward passes): the reference for tests and tiny models."""
    _, unravel = ravel_pytree(params)
    p, rows = _per_prediction_score_rows(logits_fn, params, inputs)
    return unravel(jnp.einsum("nc,ncp->p", p, rows * rows) / p.shape[0])


def fisher_trace(logits_fn: Callable, params, inputs, key: jax.Array | None = None, *,
                 method: str = "sampled", samples: int = 1) -> jax.Array:
    """Tr(F) of the mean per-prediction Fisher F = (1/N) sum_i E_{y ~ p_i} [g g^T]
    = (1/N) sum_i E ||grad log p(y | x_i)||^2.

    ``method="sampled"`` (default): the sum of all entries of ``sampled_fisher_diag``, i.e.
    N ||grad mean CE(y_hat)||^2 with labels drawn from the model, averaged over ``samples`` draws:
    unbiased, one backward pass per sample, for any model size (it is noisy: relative spread
    roughly sqrt(2/samples) for many predictions). ``method="exact"``: the expectation itself by
    enumerating every class of every prediction (``fisher_diag_exact``), for small models.
    """
    if method == "exact":
        h = fisher_diag_exact(logits_fn, params, inputs)
    elif method == "sampled":
        if key is None:
            raise ValueError("method='sampled' needs a PRNG key")
        h = sampled_fisher_diag(logits_fn, params, inputs, key, samples)
    else:
        raise ValueError(f"unknown method {method!r}: sampled or exact")
    return sum(jnp.sum(x) for x in jax.tree.leaves(h))
