"""Predicted SGD loss on the quadratic river L = gamma*x2^2/2 - x1 (WSD paper Fig. 4, Thms 3.4/3.5).

SGD there is x1 <- x1 + eta_t (deterministic river progress) and x2 <- x2 - eta_t*gamma*x2 +
eta_t*xi_t with xi_t ~ N(0, sigma^2) (the hill). Step convention, shared with the schedules:
``lrs[t]`` is the LR of update t, and every prediction is returned for the iterate *after* t
updates, t = 0..len(lrs), so ``out[..., -1]`` is the final iterate. Leading axes of ``lrs`` are
batch axes (several schedules at once).
"""

from __future__ import annotations

import numpy as np


def _river(lrs: np.ndarray, x1_0: float) -> np.ndarray:
    """-x1_t = -(x1_0 + sum_{k<t} eta_k), t = 0..N."""
    zero = np.zeros(lrs.shape[:-1] + (1,))
    return -(x1_0 + np.concatenate([zero, np.cumsum(lrs, axis=-1)], axis=-1))


def predicted_loss_paper(
    lrs, sigma: float, x1_0: float = 0.0, eta_at: str = "last"
) -> np.ndarray:
    """The paper's Fig. 4 curve: river term plus (d-1)*eta*sigma^2/2 with d - 1 = 1.

    ``eta_at="last"`` (default): eta is the LR of the last update applied to iterate t
    (eta_{t-1}; eta_0 at t = 0). The hill of an iterate is set by the updates it has seen, and
    with this reading the decay-phase curve is *exactly* the hill of the Lemma C.1 schedule
    (sigma^2 eta*_k / 2). ``eta_at="next"``: the literal eta_t of Thms 3.4/3.5 (the LR of the
    update about to be applied; the final iterate, which no update follows, reuses the last
    LR), which shows the drop one step earlier. Either way the stable-phase constant is about
    twice the true stationary hill (see ``stationary_hill``)."""
    lrs = np.asarray(lrs, dtype=np.float64)
    if eta_at == "last":
        eta = np.concatenate([lrs[..., :1], lrs], axis=-1)
    elif eta_at == "next":
        eta = np.concatenate([lrs, lrs[..., -1:]], axis=-1)
    else:
        raise ValueError(f"eta_at must be 'last' or 'next', not {eta_at!r}")
    return _river(lrs, x1_0) + eta * sigma**2 / 2


def hill_variance(lrs, gamma: float, sigma: float, var0: float = 0.0) -> np.ndarray:
    """Var(x2_t), t = 0..N, by the exact recursion Var_{t+1} = (1 - eta_t gamma)^2 Var_t +
    eta_t^2 sigma^2. A Python loop over steps: it is a linear recursion with time-varying
    coefficients (no closed-form filter applies) and N is a few thousand."""
    lrs = np.asarray(lrs, dtype=np.float64)
    var = np.empty(lrs.shape[:-1] + (lrs.shape[-1] + 1,))
    var[..., 0] = var0
    a, b = (1 - lrs * gamma) ** 2, lrs**2 * sigma**2
    for t in range(lrs.shape[-1]):
        var[..., t + 1] = a[..., t] * var[..., t] + b[..., t]
    return var


def predicted_loss_exact(
    lrs, gamma: float, sigma: float, x1_0: float = 0.0, var0: float = 0.0, x2_0: float = 0.0
) -> np.ndarray:
    """E[L] of the iterate after t updates, exactly: -x1_t + gamma*E[x2_t^2]/2.

    E[x2^2] = Var + mean^2; the mean of x2 decays deterministically as prod (1 - eta_k gamma),
    so ``x2_0`` (default 0, the catalog's start) only adds a transient."""
    lrs = np.asarray(lrs, dtype=np.float64)
    mean = x2_0 * np.concatenate(
        [np.ones(lrs.shape[:-1] + (1,)), np.cumprod(1 - lrs * gamma, axis=-1)], axis=-1
    )
    second_moment = hill_variance(lrs, gamma, sigma, var0) + mean**2
    return _river(lrs, x1_0) + gamma * second_moment / 2


def stationary_hill(eta, gamma: float, sigma: float):
    """E[gamma x2^2/2] at the fixed point of the variance recursion at constant eta:
    eta*sigma^2 / (2(2 - eta*gamma)), ~ eta*sigma^2/4 for small eta*gamma (the catalog's
    erratum to the paper's eta*sigma^2/2). Needs eta*gamma < 2 (otherwise SGD diverges)."""
    eta = np.asarray(eta, dtype=np.float64)
    return eta * sigma**2 / (2 * (2 - eta * gamma))


def optimal_decay(eta_max: float, gamma: float, k):
    """Lemma C.1: eta*_k = 1/(gamma(k - 1) + 2/eta_max), k = 1, 2, ...; eta*_1 = eta_max/2. With
    k = t - t_s + 1 it is the Sec. 3.2 decay eta/(2 + (t - t_s) eta gamma)."""
    k = np.asarray(k, dtype=np.float64)
    return 1.0 / (gamma * (k - 1) + 2.0 / eta_max)
