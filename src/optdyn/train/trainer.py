"""The jitted training step over any ``Problem``, advanced in ``lax.scan`` chunks.

Data randomness is ``fold_in(data_key, step)`` and the data key is fixed by the run's seed, so
the (params, optimizer state, step) triple is the whole training state: restoring it resumes a
run, or continues a branch, exactly.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from optdyn.models.registry import build_problem
from optdyn.optim.optimizers import build_optimizer, find, peak_lr
from optdyn.optim.sam import sam_value_and_grad
from optdyn.optim.schedules import build_schedule
from optdyn.precision import require_x64
from optdyn.spec.paper import RunSpec
from optdyn.train.sharding import sharding_for

#: fold_in tags of the per-step keys derived from the step's data key (_FISHER_KEY: the key the
#: optimizer's estimator gets as the extra argument ``key`` of ``update``)
_SAM_KEY, _FISHER_KEY = 1, 2


def steps_per_epoch(problem) -> int | None:
    """Steps of one pass over the training data: the problem's ``steps_per_epoch``, else a
    classifier's ceil(n / batch) or a language model's train tokens / tokens per step (at
    least 1); None when the problem has no finite training set."""
    own = getattr(problem, "steps_per_epoch", None)
    if own is not None:
        return int(own)
    if hasattr(problem, "n") and hasattr(problem, "batch_size"):
        return -(-problem.n // (problem.batch_size or problem.n))
    if all(hasattr(problem, a) for a in ("n_train", "batch_size", "seq_len")):
        return max(1, problem.n_train // (problem.batch_size * problem.seq_len))
    return None


class ChunkSchedule:
    """The run's schedule, read inside a training chunk from the table of its values at the
    chunk's steps, computed by the same elementwise code before the chunk starts.

    The learning rates (and the data key, see ``Trainer.advance``) are then arguments of the
    compiled chunk instead of constants in it, so runs that differ only in their schedule or
    seed compile one program and share it through JAX's persistent cache (docs/performance.md).
    Outside a chunk (figures, cost estimates) it is the schedule itself.
    """

    def __init__(self, schedule: optax.Schedule):
        self.schedule = schedule
        self._table = None
        self._values = jax.jit(schedule)

    def __call__(self, count):
        if self._table is None:
            return self.schedule(count)
        values, first = self._table
        return values[jnp.asarray(count, jnp.int32) - first]

    def table(self, first: int, n: int) -> jax.Array:
        """The schedule's values at steps first, ..., first + n - 1."""
        return self._values(jnp.arange(first, first + n, dtype=jnp.int32))

    @contextmanager
    def reading(self, values, first):
        self._table = (values, first)
        try:
            yield
        finally:
            self._table = None


class Trainer:
    def __init__(self, spec: RunSpec, data_root: Path = Path("resources/data")):
        self.dtype = jnp.dtype(spec.dtype)
        require_x64(self.dtype, f"a {spec.dtype} run")
        self.spec = spec
        self.data_root = Path(data_root)
        self.problem = build_problem(spec, data_root, dtype=self.dtype)
        self.schedule = ChunkSchedule(build_schedule(spec.schedule, dtype=self.dtype))
        self.per_replica = bool(getattr(self.problem, "replica_axis", False))
        self.sam = find(spec.optimizer, "sam")
        self.ire = find(spec.optimizer, "ire")
        if self.ire is not None and not hasattr(self.problem, "fisher_diag"):
            raise ValueError(f"model '{spec.model.name}' has no fisher_diag(params, key), which IRE ranks coordinates by")
        self.inverse_sharpness = find(spec.optimizer, "inverse_sharpness")
        if self.inverse_sharpness is not None and not hasattr(self.problem, "sharpness"):
            raise ValueError(f"model '{spec.model.name}' has no sharpness(params, examples, iters), which eta_t = lr_t/S needs")
        lr_max = peak_lr(spec.schedule) if self.ire is not None and self.ire.prog_decay else None
        # IRE's start rules: warmup_end reads the schedule, {epoch}/{train_loss_below} the epoch
        # length; the loss rule monitors the batch losses inside the step (its optimizer state)
        counts_epochs = self.ire is not None and not isinstance(self.ire.start, (int, str))
        self.ire_loss_rule = self.ire is not None and hasattr(self.ire.start, "train_loss_below")
        # the estimators read self.problem when traced (not now): a problem swapped in after
        # construction (tests count its calls) is the one they use
        self.tx = build_optimizer(spec.optimizer, self.schedule, peak_lr=lr_max, per_replica=self.per_replica,
                                  fisher_fn=lambda params, key, **_: self.problem.fisher_diag(params, key),
                                  sharpness_fn=self._sharpness, warmup_steps=getattr(spec.schedule, "warmup_steps", 0),
                                  epoch_steps=steps_per_epoch(self.problem) if counts_epochs else None)
        self.init_key, self.data_key = jax.random.split(jax.random.PRNGKey(spec.seed))
        # gradient accumulation over the problem's micro-batches (LMs: the model spec's field)
        self.microbatches = int(getattr(self.problem, "microbatches", 1))
        if self.sam is not None and self.microbatches > 1:
            raise ValueError("SAM with microbatches > 1 is not supported: its ascent direction is the whole batch's gradient")
        self.sharding = sharding_for(self.problem)
        self._chunks: dict[int, Any] = {}
        self._metrics = jax.jit(self.problem.metrics)

    def init_state(self) -> dict:
        params = self.problem.init(self.init_key)
        return self.sharding.place({"params": params, "opt_state": self.tx.init(params), "step": jnp.asarray(0, jnp.int32)})

    def _step(self, state: dict, _: Any, data_key: jax.Array) -> tuple[dict, dict]:
        t = state["step"]
        key = jax.random.fold_in(data_key, t)
        batch = self.sharding.constrain_batch(self.problem.sample_batch(key))
        if self.sam is None:
            loss, grads = self._value_and_grad(state["params"], batch)
        else:
            loss, grads = sam_value_and_grad(self.problem.loss, state["params"], batch, jax.random.fold_in(key, _SAM_KEY),
                                             self.sam.rho, self.sam.perturbation, self.per_replica)
        # the wrappers (IRE, 1/S) refresh their estimates themselves; others ignore the key
        extra = {"loss": loss} if self.ire_loss_rule else {}
        updates, opt_state = self.tx.update(grads, state["opt_state"], state["params"], key=jax.random.fold_in(key, _FISHER_KEY),
                                            **extra)
        params = optax.apply_updates(state["params"], updates)
        logged = {"batch_loss": loss, "lr": self.schedule(t), "grad_norm": optax.tree.norm(grads)}
        if self.ire is not None:
            mask = jax.tree.leaves(opt_state.mask)
            logged["ire_flat_fraction"] = sum(jnp.sum(m) for m in mask) / sum(m.size for m in mask)
            if self.ire_loss_rule:  # the step the train_loss_below rule fired at (-1: not yet)
                logged["ire_start"] = opt_state.start
        step_metrics = getattr(self.problem, "step_metrics", None)
        if step_metrics is not None:  # a problem's own per-step measurements of params_t (normsharp_net: ||w||^2, sharpness)
            logged |= step_metrics(state["params"], t)
        if self.inverse_sharpness is not None:  # the learning rate actually applied, lr_t / S
            logged["lr"] = logged["lr"] / opt_state.sharpness
            logged["inverse_sharpness_S"] = opt_state.sharpness
        return self.sharding.constrain_state({"params": params, "opt_state": opt_state, "step": t + 1}), logged

    def _value_and_grad(self, params, batch):
        """Loss and gradient of the batch; with micro-batches, the mean of the micro-batches' ones
        (a ``lax.scan``, so only one micro-batch's activations are alive). Micro-batch j holds
        rows j, j + k, j + 2k... so each device's rows of a sharded batch split evenly."""
        k = self.microbatches
        if k == 1:
            return jax.value_and_grad(self.problem.loss)(params, batch)
        micro = jax.tree.map(lambda x: jnp.swapaxes(x.reshape(x.shape[0] // k, k, *x.shape[1:]), 0, 1), batch)

        def add(acc, mb):
            return jax.tree.map(jnp.add, acc, jax.value_and_grad(self.problem.loss)(params, mb)), None

        zero = (jnp.zeros((), jax.tree.leaves(params)[0].dtype), jax.tree.map(jnp.zeros_like, params))
        total, _ = jax.lax.scan(add, zero, self.sharding.constrain_micro(micro))
        return jax.tree.map(lambda v: v / k, total)

    def _sharpness(self, params, **_):
        """The problem's sharpness S, the estimator of the 1/S rule (called on its refresh steps)."""
        spec = self.inverse_sharpness
        return self.problem.sharpness(params, examples=spec.examples, iters=spec.iters)

    def advance(self, state: dict, n: int) -> tuple[dict, dict[str, np.ndarray]]:
        """Take ``n`` steps; returns the new state and the per-step logged values.

        The chunk takes the data key and the schedule's values at its steps as arguments (see
        ``ChunkSchedule``): the program depends on the run's model, data shapes and optimizer,
        not on its seed or schedule."""
        if n not in self._chunks:
            def chunk(state, data_key, lrs):
                with self.schedule.reading(lrs, state["step"]):
                    return jax.lax.scan(lambda s, x: self._step(s, x, data_key), state, None, length=n)
            self._chunks[n] = jax.jit(chunk)
        lrs = self.schedule.table(int(state["step"]), n)
        state, logged = self._chunks[n](state, self.data_key, lrs)
        return state, jax.device_get(logged)

    def evaluate(self, state: dict) -> dict[str, np.ndarray]:
        return jax.device_get(self._metrics(state["params"]))
