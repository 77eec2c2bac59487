"""Synthetic data made offline from a seed: the SST-2 stand-in (token classification), a
Markov language whose states have very different next-token entropies, and token streams of
the WSD paper's city -> name bigram language (theory/bigram.py).
"""

from __future__ import annotations

import numpy as np

from optdyn.theory.bigram import entropy


def token_classification(
    n: int, vocab: int = 32, length: int = 12, n_signal: int = 4, noise: float = 0.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The SST-2 stand-in (selfstab catalog Sec. 6): tokens uniform on [0, vocab); tokens
    0..n_signal-1 are "positive", n_signal..2*n_signal-1 "negative", the rest neutral; label 1
    if positives outnumber negatives, else 0 (ties are redrawn so the clean label is always
    defined), then flipped with probability ``noise``. Returns tokens (n, length) int32 and
    labels int64."""
    if 2 * n_signal > vocab:
        raise ValueError(f"2 * n_signal = {2 * n_signal} > vocab = {vocab}")
    rng = np.random.default_rng(seed)
    rows: list[np.ndarray] = []
    have = 0
    while have < n:
        cand = rng.integers(0, vocab, size=(2 * (n - have) + 16, length))
        margin = (cand < n_signal).sum(1) - ((cand >= n_signal) & (cand < 2 * n_signal)).sum(1)
        rows.append(cand[margin != 0])
        have += len(rows[-1])
    tokens = np.concatenate(rows)[:n]
    margin = (tokens < n_signal).sum(1) - ((tokens >= n_signal) & (tokens < 2 * n_signal)).sum(1)
    labels = (margin > 0).astype(np.int64)
    flip = rng.random(n) < noise
    labels[flip] = 1 - labels[flip]
    return tokens.astype(np.int32), labels


def markov_language(vocab: int, alpha_min: float = 0.005, alpha_max: float = 10.0, seed: int = 0) -> np.ndarray:
    """A (vocab, vocab) row-stochastic transition matrix whose row i is Dirichlet(alpha_i * 1)
    with alpha_i log-spaced from alpha_min to alpha_max (shuffled over states): small alpha
    gives near-deterministic successors, large alpha near-uniform ones, so per-state entropies
    span almost [0, log vocab]."""
    rng = np.random.default_rng(seed)
    alphas = rng.permutation(np.geomspace(alpha_min, alpha_max, vocab))
    P = rng.gamma(np.broadcast_to(alphas[:, None], (vocab, vocab)))
    P = np.maximum(P / P.sum(1, keepdims=True), 1e-30)  # small-alpha Gamma draws underflow
    return P / P.sum(1, keepdims=True)


def stationary(P: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eig(P.T)
    pi = np.real(v[:, np.argmin(np.abs(w - 1))])
    return pi / pi.sum()


def entropy_rate(P: np.ndarray) -> float:
    """The chain's entropy rate sum_i pi_i H(P_i) in nats: the best achievable next-token loss."""
    return float(stationary(P) @ entropy(P))


def sample_markov(P: np.ndarray, n_tokens: int, seed: int) -> np.ndarray:
    """A token stream of the chain from its stationary distribution (int64)."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(P, axis=1)
    cdf[:, -1] = 1.0
    out = np.empty(n_tokens, dtype=np.int64)
    state = rng.choice(len(P), p=stationary(P))
    u = rng.random(n_tokens)
    for t in range(n_tokens):  # sequential by nature; ~1 us/token is fine for smoke-sized streams
        out[t] = state
        state = int(np.searchsorted(cdf[state], u[t], side="right"))
    return out


def bigram_stream(P: np.ndarray, n_pairs: int, seed: int) -> np.ndarray:
    """(city, name) pairs of the bigram language as a flat stream [c, n_c, c', n_c', ...]:
    cities uniform, names ~ P[city], city ids 0..N-1 and name ids N..N+M-1 (one vocabulary)."""
    rng = np.random.default_rng(seed)
    n_cities, m = P.shape
    cities = rng.integers(0, n_cities, size=n_pairs)
    cdf = np.cumsum(P, axis=1)
    cdf[:, -1] = 1.0
    names = (rng.random(n_pairs)[:, None] > cdf[cities]).sum(1)
    return np.stack([cities, n_cities + names], axis=1).reshape(-1)
