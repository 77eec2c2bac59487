"""The jitted training step over any ``Problem``, advanced in ``lax.scan`` chunks.

Data randomness is ``fold_in(data_key, step)`` and the data key is fixed by the run's seed, so
the (params, optimizer state, step) triple is the whole training state: restoring it resumes a
run, or continues a branch, exactly.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optdyn.models.registry import build_problem
from optdyn.optim.optimizers import build_optimizer
from optdyn.optim.schedules import build_schedule
from optdyn.spec.paper import RunSpec


class Trainer:
    def __init__(self, spec: RunSpec):
        # x64 must be switched on before the first array of the run exists.
        jax.config.update("jax_enable_x64", spec.dtype == "float64")
        self.spec = spec
        self.problem = build_problem(spec)
        self.schedule = build_schedule(spec.schedule)
        self.tx = build_optimizer(spec.optimizer, self.schedule)
        self.init_key, self.data_key = jax.random.split(jax.random.PRNGKey(spec.seed))
        self._chunks: dict[int, Any] = {}
        self._metrics = jax.jit(self.problem.metrics)

    def init_state(self) -> dict:
        params = self.problem.init(self.init_key)
        return {"params": params, "opt_state": self.tx.init(params), "step": jnp.asarray(0, jnp.int32)}

    def _step(self, state: dict, _: Any) -> tuple[dict, dict]:
        t = state["step"]
        batch = self.problem.sample_batch(jax.random.fold_in(self.data_key, t))
        loss, grads = jax.value_and_grad(self.problem.loss)(state["params"], batch)
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        logged = {"batch_loss": loss, "lr": self.schedule(t), "grad_norm": optax.tree.norm(grads)}
        return {"params": params, "opt_state": opt_state, "step": t + 1}, logged

    def advance(self, state: dict, n: int) -> tuple[dict, dict[str, np.ndarray]]:
        """Take ``n`` steps; returns the new state and the per-step logged values."""
        if n not in self._chunks:
            self._chunks[n] = jax.jit(lambda s: jax.lax.scan(self._step, s, None, length=n))
        state, logged = self._chunks[n](state)
        return state, jax.device_get(logged)

    def evaluate(self, state: dict) -> dict[str, np.ndarray]:
        return jax.device_get(self._metrics(state["params"]))
