"""A classifier on an in-memory data set as a ``Problem`` (``models/base.py``): any Flax NNX
module (``models/nets.py``) with a criterion of ``models/losses.py``, trained by full-batch GD
(``batch_size=None``) or mini-batch SGD.

The module is split once into a static graphdef and its ``nnx.Param`` state, and params are the
plain nested dict of that state (``nnx.to_pure_dict``), so ``loss`` is a pure function of a
pytree of arrays: jit, grad, ``ravel_pytree``, Optax and Orbax see nothing but arrays. Modules
with other state (BatchNorm statistics, kept RNGs) are refused: the paper's nets are BN-free.

Ghost batches (the self-stabilization code's ``--ghost_batch_size``, catalog 004 §4.3): the
batch is cut into ``ghost`` equal sub-batches evaluated one after the other (``lax.map``, to
bound memory) and the loss is the mean of the sub-batch losses; with mean-reduced criteria and
no batch statistics this equals the whole-batch loss, only cheaper in memory.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
from flax import nnx

from ..curvature import sampled_fisher_diag
from .losses import BINARY, CRITERIA, accuracy


def opaque(x: jax.Array) -> jax.Array:
    """``x`` unchanged, hidden from XLA's constant folding. A fixed batch that a step closes over
    is a compile-time constant, and XLA would precompute from it every slice the first
    convolution takes (k x k copies of the batch: minutes of compile for an ImageNet-sized one).
    Free at run time."""
    return jax.lax.optimization_barrier(x)


def _as_float(a, dtype):
    a = jnp.asarray(a)
    return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a


def _split_params(module: nnx.Module):
    graphdef, params, rest = nnx.split(module, nnx.Param, ...)
    if jax.tree.leaves(rest):
        raise ValueError(f"{type(module).__name__} has state besides nnx.Param (BatchNorm statistics or kept "
                         "RNGs?); a ClassifierProblem's loss must be a pure function of the parameters")
    return graphdef, params


class ClassifierProblem:
    """``module_fn(rngs) -> nnx.Module`` mapping inputs ``X[i]`` to logits; labels ``y`` are ints
    (multi-class) or +-1 (``binary_mse``/``logistic``). ``criterion`` a name of
    ``losses.CRITERIA`` or a callable ``(logits, labels) -> mean loss`` (then say ``binary``).

    ``batch_size``: None for the full batch every step, else a mini-batch of that many distinct
    examples drawn uniformly from the step's key (independently across steps). ``ghost``: the
    number of ghost sub-batches (must divide the batch size). ``eval_data``: an optional
    (X_test, y_test) for test metrics. ``fisher_batch_size``: the examples ``fisher_diag`` draws
    from its key (None: the whole training set). ``dtype``: the float dtype of the params and
    the float data (the run's ``spec.dtype``).
    """

    def __init__(self, module_fn: Callable[[nnx.Rngs], nnx.Module], X, y, criterion: str | Callable = "cat_mse", *,
                 batch_size: int | None = None, ghost: int = 1, binary: bool | None = None,
                 eval_data: tuple | None = None, fisher_batch_size: int | None = None, dtype=jnp.float32):
        self.module_fn, self.dtype = module_fn, jnp.dtype(dtype)
        self.X, self.y = _as_float(X, self.dtype), jnp.asarray(y)
        self.n = self.X.shape[0]
        if isinstance(criterion, str):
            self.criterion, self.binary = CRITERIA[criterion], criterion in BINARY
        else:
            if binary is None:
                raise ValueError("a callable criterion needs binary=True/False (are labels +-1 or class indices?)")
            self.criterion, self.binary = criterion, binary
        if batch_size is not None and not 0 < batch_size <= self.n:
            raise ValueError(f"batch_size {batch_size} must be in [1, {self.n}]")
        self.batch_size = batch_size
        if (batch_size or self.n) % ghost:
            raise ValueError(f"ghost={ghost} must divide the batch size {batch_size or self.n}")
        self.ghost = ghost
        self.eval_data = None if eval_data is None else (_as_float(eval_data[0], self.dtype), jnp.asarray(eval_data[1]))
        self.fisher_batch_size = fisher_batch_size
        self.graphdef, _ = _split_params(nnx.eval_shape(lambda: module_fn(nnx.Rngs(0))))

    def init(self, key: jax.Array) -> dict:
        """The module's initial ``nnx.Param`` values as a nested dict, in the problem's ``dtype``
        (a float64 run starts from the float32 init values, exactly). Jitted: eager init of a
        ResNet dispatches hundreds of small ops."""
        return jax.jit(self._init)(key)

    def _init(self, key: jax.Array) -> dict:
        _, params = _split_params(self.module_fn(nnx.Rngs(key)))
        return jax.tree.map(lambda a: _as_float(a, self.dtype), nnx.to_pure_dict(params))

    def logits_fn(self, params: dict, x: jax.Array) -> jax.Array:
        """logits[n, C] of inputs x (for ``curvature.sampled_fisher_diag``)."""
        return nnx.merge(self.graphdef, params)(x)

    def sample_batch(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        if self.batch_size is None:
            return self.X, self.y
        idx = jax.random.choice(key, self.n, (self.batch_size,), replace=False)
        return self.X[idx], self.y[idx]

    def _over_chunks(self, fn: Callable, params: dict, x: jax.Array, y: jax.Array, chunks: int):
        """mean over ``chunks`` equal sub-batches of ``fn(logits, labels)`` (pytree outputs)."""
        if chunks == 1:
            return fn(self.logits_fn(params, x), y)
        xs = x.reshape(chunks, -1, *x.shape[1:])
        ys = y.reshape(chunks, -1, *y.shape[1:])
        per_chunk = jax.lax.map(lambda xy: fn(self.logits_fn(params, xy[0]), xy[1]), (xs, ys))
        return jax.tree.map(lambda v: jnp.mean(v, axis=0), per_chunk)

    def loss(self, params: dict, batch: tuple[jax.Array, jax.Array]) -> jax.Array:
        """The criterion on the batch: the mean of its ``ghost`` sub-batch losses."""
        x, y = batch
        return self._over_chunks(self.criterion, params, x, y, self.ghost)

    def _loss_and_accuracy(self, params: dict, x: jax.Array, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        chunks = self.ghost if x.shape[0] % self.ghost == 0 else 1
        both = lambda logits, labels: (self.criterion(logits, labels), accuracy(logits, labels, self.binary))  # noqa: E731
        return self._over_chunks(both, params, x, y, chunks)

    def metrics(self, params: dict) -> dict[str, jax.Array]:
        """Full-training-set loss and accuracy (and test ones with ``eval_data``)."""
        loss, acc = self._loss_and_accuracy(params, self.X, self.y)
        out = {"loss": loss, "accuracy": acc}
        if self.eval_data is not None:
            out["test_loss"], out["test_accuracy"] = self._loss_and_accuracy(params, *self.eval_data)
        return out

    def _softmax_logits(self, params: dict, x: jax.Array) -> jax.Array:
        """Logits of the model's predictive distribution: a one-output (+-1) model is read as
        the Bernoulli p(y = +1) = sigmoid(f_0), i.e. softmax over [0, f_0]."""
        f = self.logits_fn(params, x)
        return jnp.concatenate([jnp.zeros_like(f), f], axis=-1) if self.binary else f

    def fisher_rows(self, examples: int | None = None) -> int:
        """Examples of one ``fisher_diag`` pass: ``fisher_batch_size``, else the whole training
        set (``examples``: the real one's size where this problem holds a smaller fake)."""
        return self.fisher_batch_size or examples or self.n

    def fisher_diag(self, params: dict, key: jax.Array) -> dict:
        """IRE's sampled diagonal Fisher (``curvature.sampled_fisher_diag``) on
        ``fisher_batch_size`` examples drawn from ``key`` (all of them when None), with labels
        sampled from the model's softmax (Bernoulli for one-output binary models)."""
        batch_key, label_key = jax.random.split(key)
        if self.fisher_batch_size is None:
            x = opaque(self.X)  # the whole training set: fixed, so a constant of the step
        else:
            x = self.X[jax.random.choice(batch_key, self.n, (self.fisher_batch_size,), replace=False)]
        return sampled_fisher_diag(self._softmax_logits, params, x, label_key)
