"""The toy city -> name bigram language of WSD paper Sec. 4 and its closed forms.

Rows of P are cities, columns names; p_hat(name | city) = softmax(Theta_city). The population
loss is separable per city, minimized at Theta* = log P with value the mean entropy, and each
city's Hessian block is diag(q) - q q^T (Lemma C.34), whose trace at the optimum is the Gini
impurity (Lemma 4.1).
"""

from __future__ import annotations

import numpy as np

# Dirichlet concentrations of the catalog's reference generator (Sec. 3.3): one dominant name
DET_ALPHA_PEAK = 30.0
DET_ALPHA_REST = 0.02
# Gamma(0.02) draws underflow (to 0 in float64 rarely, in float32 for ~13% of entries); the
# language promises every P_ij > 0, so rows are floored here, far below anything SGD resolves
P_FLOOR = 1e-30


def entropy(P) -> np.ndarray:
    """Row entropies in nats, with 0 log 0 = 0."""
    P = np.asarray(P, dtype=np.float64)
    logP = np.log(np.where(P > 0, P, 1.0))
    return -np.sum(P * logP, axis=-1)


def gini(P) -> np.ndarray:
    """Gini impurity U_i = 1 - sum_j P_ij^2, the paper's per-city uncertainty."""
    P = np.asarray(P, dtype=np.float64)
    return 1.0 - np.sum(P**2, axis=-1)


def _rejection_rows(rng, n: int, draw, accept, what: str, max_rounds: int = 1000) -> np.ndarray:
    """n rows of ``draw(rng, k)`` that pass ``accept``, drawing whole batches (sized by the
    running acceptance rate) rather than row by row, so thousands of cities take milliseconds."""
    rows, have, tried, kept = [], 0, 0, 0
    for _ in range(max_rounds):
        need = n - have
        rate = max(kept / tried, 0.01) if tried else 1.0
        cand = draw(rng, int(need / rate * 1.2) + 16)
        ok = accept(cand)
        tried, kept = tried + len(cand), kept + int(ok.sum())
        rows.append(cand[ok][:need])
        have += len(rows[-1])
        if have == n:
            return np.concatenate(rows)
    raise RuntimeError(f"rejection sampling of {what} rows accepted {kept} of {tried} draws")


def _normalize(g: np.ndarray) -> np.ndarray:
    p = np.maximum(g / g.sum(axis=-1, keepdims=True), P_FLOOR)
    return p / p.sum(axis=-1, keepdims=True)


def make_language(
    n_det: int,
    n_sto: int,
    m: int,
    det_entropy_max: float = 0.2,
    sto_entropy_min: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(P, is_det): P (n_det + n_sto, m) float64 row-stochastic, all entries > 0; the first
    n_det cities are deterministic (``is_det``), the rest stochastic.

    The catalog's reference generator (the paper gives none): deterministic rows ~ Dirichlet with
    alpha = 0.02 except 30 at a uniformly random j*, kept if H < det_entropy_max; stochastic rows
    ~ Dirichlet(1_m), kept if H > sto_entropy_min. Dirichlet draws are normalized Gamma draws so
    the per-row alpha (random j*) vectorizes."""
    if sto_entropy_min >= np.log(m):
        raise ValueError(f"sto_entropy_min = {sto_entropy_min} nats >= log(m) = {np.log(m):.3f}")
    rng = np.random.default_rng(seed)

    def draw_det(rng, k):
        alpha = np.full((k, m), DET_ALPHA_REST)
        alpha[np.arange(k), rng.integers(0, m, size=k)] = DET_ALPHA_PEAK
        return _normalize(rng.gamma(alpha))

    def draw_sto(rng, k):
        return _normalize(rng.gamma(np.ones((k, m))))

    det = _rejection_rows(rng, n_det, draw_det, lambda p: entropy(p) < det_entropy_max, "det")
    sto = _rejection_rows(rng, n_sto, draw_sto, lambda p: entropy(p) > sto_entropy_min, "sto")
    P = np.concatenate([det, sto])
    is_det = np.concatenate([np.ones(n_det, bool), np.zeros(n_sto, bool)])
    return P, is_det


def _xp(theta):
    """jax.numpy for JAX arrays and tracers (so the loss can be differentiated), numpy else."""
    try:
        import jax
    except ImportError:  # pragma: no cover - jax is a hard dependency of the package
        return np
    if isinstance(theta, jax.Array):
        import jax.numpy as jnp

        return jnp
    return np


def population_loss(theta, P):
    """Per-city cross-entropy l_i = -sum_j P_ij log softmax(theta_i)_j, shape theta.shape[:-1];
    the population loss is its mean. numpy in, numpy out; JAX in, JAX out (differentiable)."""
    xp = _xp(theta)
    z = theta - xp.max(theta, axis=-1, keepdims=True)  # shift: stable log-softmax
    log_q = z - xp.log(xp.sum(xp.exp(z), axis=-1, keepdims=True))
    return -xp.sum(xp.asarray(P, dtype=log_q.dtype) * log_q, axis=-1)


def city_hessian_block(q) -> np.ndarray:
    """Hessian of l_i in theta_i: diag(q) - q q^T with q = softmax(theta_i) (independent of P);
    batched over leading axes of q."""
    q = np.asarray(q, dtype=np.float64)
    return q[..., :, None] * np.eye(q.shape[-1]) - q[..., :, None] * q[..., None, :]
