"""The jitted training step over any ``Problem``, advanced in ``lax.scan`` chunks.

Data randomness is ``fold_in(data_key, step)`` and the data key is fixed by the run's seed, so
the (params, optimizer state, step) triple is the whole training state: restoring it resumes a
run, or continues a branch, exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optdyn.models.registry import build_problem
from optdyn.optim.ire import refresh_due
from optdyn.optim.optimizers import build_optimizer, find, peak_lr
from optdyn.optim.sam import sam_value_and_grad
from optdyn.optim.schedules import build_schedule
from optdyn.spec.paper import RunSpec

#: fold_in tags of the per-step keys derived from the step's data key
_SAM_KEY, _FISHER_KEY = 1, 2


class Trainer:
    def __init__(self, spec: RunSpec, data_root: Path = Path("resources/data")):
        # x64 must be switched on before the first array of the run exists.
        jax.config.update("jax_enable_x64", spec.dtype == "float64")
        self.spec = spec
        self.problem = build_problem(spec, data_root)
        self.schedule = build_schedule(spec.schedule)
        self.per_replica = bool(getattr(self.problem, "replica_axis", False))
        self.sam = find(spec.optimizer, "sam")
        self.ire = find(spec.optimizer, "ire")
        if self.ire is not None and not hasattr(self.problem, "fisher_diag"):
            raise ValueError(f"model '{spec.model.name}' has no fisher_diag(params, key), which IRE ranks coordinates by")
        lr_max = peak_lr(spec.schedule) if self.ire is not None and self.ire.prog_decay else None
        self.tx = build_optimizer(spec.optimizer, self.schedule, peak_lr=lr_max, per_replica=self.per_replica)
        self.init_key, self.data_key = jax.random.split(jax.random.PRNGKey(spec.seed))
        self._chunks: dict[int, Any] = {}
        self._metrics = jax.jit(self.problem.metrics)

    def init_state(self) -> dict:
        params = self.problem.init(self.init_key)
        return {"params": params, "opt_state": self.tx.init(params), "step": jnp.asarray(0, jnp.int32)}

    def _step(self, state: dict, _: Any) -> tuple[dict, dict]:
        t = state["step"]
        key = jax.random.fold_in(self.data_key, t)
        batch = self.problem.sample_batch(key)
        if self.sam is None:
            loss, grads = jax.value_and_grad(self.problem.loss)(state["params"], batch)
        else:
            loss, grads = sam_value_and_grad(self.problem.loss, state["params"], batch, jax.random.fold_in(key, _SAM_KEY),
                                             self.sam.rho, self.sam.perturbation, self.per_replica)
        if self.ire is None:
            updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        else:
            fisher = self._fisher(state["params"], t, jax.random.fold_in(key, _FISHER_KEY))
            updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"], step=t, fisher_diag=fisher)
        params = optax.apply_updates(state["params"], updates)
        logged = {"batch_loss": loss, "lr": self.schedule(t), "grad_norm": optax.tree.norm(grads)}
        if self.ire is not None:
            mask = jax.tree.leaves(opt_state.mask)
            logged["ire_flat_fraction"] = sum(jnp.sum(m) for m in mask) / sum(m.size for m in mask)
        return {"params": params, "opt_state": opt_state, "step": t + 1}, logged

    def _fisher(self, params, t, key):
        """The problem's diagonal-Fisher estimate on IRE's refresh steps, zeros otherwise."""
        return jax.lax.cond(refresh_due(t, self.ire.start, self.ire.every),
                            lambda: jax.tree.map(lambda h, p: h.astype(p.dtype), self.problem.fisher_diag(params, key), params),
                            lambda: jax.tree.map(jnp.zeros_like, params))

    def advance(self, state: dict, n: int) -> tuple[dict, dict[str, np.ndarray]]:
        """Take ``n`` steps; returns the new state and the per-step logged values."""
        if n not in self._chunks:
            self._chunks[n] = jax.jit(lambda s: jax.lax.scan(self._step, s, None, length=n))
        state, logged = self._chunks[n](state)
        return state, jax.device_get(logged)

    def evaluate(self, state: dict) -> dict[str, np.ndarray]:
        return jax.device_get(self._metrics(state["params"]))
