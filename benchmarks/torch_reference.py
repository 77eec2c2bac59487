"""The PyTorch reference of ``benchmarks/trainer.py``: the same SGD steps hand-written in eager
PyTorch, and the numerical checks that both sides compute the same thing."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainer import Workload

class TorchLoop:
    """Eager PyTorch SGD, logging the batch loss and gradient norm of every step (as optdyn's
    trainer does). Subclasses define ``param``, ``sample()`` and ``loss(*batch)``."""

    torch: Any
    param: Any
    opt: Any

    def step(self, *batch):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss(*batch)
        loss.backward()
        self.opt.step()
        return loss

    def run(self, n: int, deadline: float = float("inf")) -> int:
        """Up to ``n`` steps, stopping early past ``deadline`` (perf_counter); returns steps done."""
        torch = self.torch
        losses, gnorms = torch.empty(n), torch.empty(n)
        for t in range(n):
            batch = self.sample()
            self.opt.zero_grad(set_to_none=True)
            loss = self.loss(*batch)
            loss.backward()
            gnorms[t] = torch.linalg.vector_norm(self.param.grad)
            self.opt.step()
            losses[t] = loss.detach()
            if time.perf_counter() > deadline:
                return t + 1
        return n

    def params(self):
        return self.param.detach().numpy().copy()


class TorchBigram(TorchLoop):
    """SGD on Theta (n, m) with one softmax row per city: city ~ U(n), name ~ Categorical(P_city),
    loss = mean cross-entropy of softmax(Theta[city]) at name, as optdyn's ``BigramProblem``.

    ``variant="idiomatic"``: ``torch.multinomial`` on the rows of P, ``F.cross_entropy``.
    ``variant="tuned"``: inverse-CDF sampling (``searchsorted`` of a uniform in the cumulative
    rows of P; the same distribution) and the loss as ``logsumexp - gather`` (the same value), which
    avoid torch's slow CPU kernels for multinomial and log_softmax over a last dimension of 10."""

    def __init__(self, torch, P, batch_size: int, lr: float, seed: int = 0, variant: str = "idiomatic"):
        self.torch, self.B, self.variant = torch, batch_size, variant
        self.P = torch.tensor(P, dtype=torch.float32)
        cum = torch.tensor(P, dtype=torch.float64).cumsum(1)
        self.cum = (cum / cum[:, -1:]).to(torch.float32)  # exactly 1 in the last column
        self.n, self.m = self.P.shape
        self.gen = torch.Generator().manual_seed(seed)
        self.param = torch.zeros(self.n, self.m, requires_grad=True)  # fig07: zero init
        self.opt = torch.optim.SGD([self.param], lr=lr)

    def sample(self):
        torch = self.torch
        city = torch.randint(0, self.n, (self.B,), generator=self.gen)
        if self.variant == "idiomatic":
            name = torch.multinomial(self.P[city], 1, generator=self.gen).squeeze(1)
        else:
            u = torch.rand(self.B, 1, generator=self.gen)
            name = torch.searchsorted(self.cum[city], u, right=True).squeeze(1).clamp_(max=self.m - 1)
        return city, name

    def loss(self, city, name):
        logits = self.param[city]
        if self.variant == "idiomatic":
            return self.torch.nn.functional.cross_entropy(logits, name)
        return (logits.logsumexp(1) - logits.gather(1, name[:, None]).squeeze(1)).mean()


class TorchRiver(TorchLoop):
    """SGD on W (replicas, 2), L = sum_r gamma x2^2/2 - x1 - z_r x2 with z ~ N(0, sigma^2) a constant
    of the step (no gradient through it), as optdyn's ``QuadraticRiverProblem.loss``."""

    def __init__(self, torch, replicas: int, gamma: float, sigma: float, lr: float, init=(0.0, 0.0), seed: int = 0):
        self.torch, self.R, self.gamma, self.sigma = torch, replicas, gamma, sigma
        self.gen = torch.Generator().manual_seed(seed)
        self.param = torch.tensor(init, dtype=torch.float32).repeat(replicas, 1).requires_grad_(True)
        self.opt = torch.optim.SGD([self.param], lr=lr)

    def sample(self):
        return (self.sigma * self.torch.randn(self.R, generator=self.gen),)

    def loss(self, z):
        x1, x2 = self.param[:, 0], self.param[:, 1]
        return (0.5 * self.gamma * x2**2 - x1).sum() - (z * x2).sum()


def build_torch(torch, wl: Workload, trainer, variant: str = "idiomatic") -> TorchLoop:
    s = trainer.spec
    if wl.kind == "bigram":
        return TorchBigram(torch, trainer.problem.P, s.data.batch_size, s.schedule.lr, seed=1, variant=variant)
    m = s.model
    return TorchRiver(torch, m.replicas, m.gamma, m.noise_sigma, s.schedule.lr, init=tuple(m.init), seed=1)


# --- numerical checks -----------------------------------------------------------------------------


def check_one_step(torch, wl: Workload, trainer, impl: TorchLoop) -> tuple[bool, str]:
    """One SGD step of optdyn and of ``impl`` from the same params on optdyn's first batch."""
    import jax
    import numpy as np
    import optax

    prob = trainer.problem
    batch = prob.sample_batch(jax.random.fold_in(trainer.data_key, 0))
    key = jax.random.PRNGKey(7)
    if wl.kind == "bigram":
        params = 0.5 * jax.random.normal(key, (prob.n, prob.m))  # away from the zero init
        tb = (torch.from_numpy(np.array(batch["city"], np.int64)), torch.from_numpy(np.array(batch["name"], np.int64)))
    else:
        params = trainer.init_state()["params"] + jax.random.normal(key, (prob.spec.replicas, 2))
        tb = (torch.from_numpy(np.array(batch)),)
    loss, grads = jax.value_and_grad(prob.loss)(params, batch)
    updates, _ = trainer.tx.update(grads, trainer.tx.init(params), params)
    new = optax.apply_updates(params, updates)

    with torch.no_grad():
        impl.param.copy_(torch.from_numpy(np.array(params)))
    t_loss = impl.step(*tb).item()
    t_grad, t_new = impl.param.grad.numpy().copy(), impl.params()

    def rel(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))

    errs = {"loss": rel(t_loss, loss), "grad": rel(t_grad, grads), "params": rel(t_new, new)}
    ok = all(e < 1e-5 for e in errs.values())
    return ok, f"loss {float(loss):.6g} vs {t_loss:.6g}; max rel diff " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items())


def check_after_training(wl: Workload, trainer, optdyn_params, torch_params, steps: int) -> tuple[bool, str]:
    """Exact population metrics after the same number of steps: equal within SGD noise."""
    import jax.numpy as jnp

    a = trainer.evaluate({"params": optdyn_params})
    b = trainer.evaluate({"params": jnp.asarray(torch_params)})
    if wl.kind == "bigram":
        la, lb = float(a["loss"]), float(b["loss"])
        ok = abs(la - lb) <= 0.03 * abs(la)  # stationary: 0.3% (B=128), 0.06% (B=2560) sd per stream
        return ok, f"population loss after {steps} steps: optdyn {la:.5f}, torch {lb:.5f}"
    # river: x1 = eta t exactly for every replica; the mean hill term relaxes (in ~20 steps) to
    # eta sigma^2 / (2 (2 - eta gamma))
    s = trainer.spec
    eta, gamma, sigma = s.schedule.lr, s.model.gamma, s.model.noise_sigma
    ra, rb, ha, hb = float(a["river"]), float(b["river"]), float(a["hill"]), float(b["hill"])
    hill = eta * sigma**2 / (2 * (2 - eta * gamma))
    se = hill * (2 / s.model.replicas) ** 0.5  # standard error of a mean of hill * chi^2_1
    ok = all(abs(r + eta * steps) < 1e-3 * eta * steps for r in (ra, rb))
    ok = ok and all(abs(h - hill) < 6 * se for h in (ha, hb))
    return ok, (
        f"after {steps} steps: river term optdyn {ra:.3f}, torch {rb:.3f} (exact {-eta * steps:.3f}); "
        f"hill optdyn {ha:.2f}, torch {hb:.2f} (stationary {hill:.2f} +- {se:.2f})"
    )
