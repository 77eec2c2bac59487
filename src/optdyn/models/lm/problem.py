"""A language model on a prepared packed token dataset as a ``Problem`` (``models/base.py``).

The data is a prepared dataset (``data: {name: prepared, dataset: <name>}``) with ``train.bin``
and ``val.bin`` token streams (the ``markov``, ``bigram`` and ``corpus`` builders), read only
through its verified manifest. A step's batch is ``batch_size`` windows of ``seq_len + 1``
tokens at uniform random offsets of the train stream (nanoGPT's sampling), drawn inside jit from
the step's key; the loss is the mean next-token cross-entropy over every position. The
validation loss is the mean over ``eval_windows`` fixed windows of the val stream, evenly spaced
over it and chosen once, so every eval of every run of a dataset sees the same tokens.

The train stream lives on the device (its own dtype, uint16 for vocabularies up to 65536), which
suits streams up to a few hundred million tokens. The paper tier (the Pile's ~200B tokens, DCLM,
OpenWebText) needs a host-side loader instead: each process memory-maps ``train.bin``, gathers
its shard of the windows for the step from the same ``fold_in(seed, step)`` key, and hands them
to the step with ``jax.make_array_from_process_local_data`` and the batch sharding of
``train/sharding.py`` (prefetched a few steps ahead), keeping batches a pure function of
(seed, step).
"""

from __future__ import annotations

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from optdyn.curvature import sampled_fisher_diag
from optdyn.data.prepare import load_prepared
from optdyn.registry import problem_builder
from optdyn.spec.components import GPT2 as GPT2Spec
from optdyn.spec.components import Llama as LlamaSpec
from optdyn.spec.components import PreparedData

from .config import LMConfig
from .gpt2 import GPT2
from .llama import Llama

ARCHITECTURES = {"llama": Llama, "gpt2": GPT2}


def fixed_windows(tokens: np.ndarray, count: int, seq_len: int) -> np.ndarray:
    """``count`` windows of ``seq_len + 1`` tokens at evenly spaced offsets covering the stream
    (first window at its start, last at its end), int32 [count, seq_len + 1]."""
    if len(tokens) < seq_len + 1:
        raise ValueError(f"a stream of {len(tokens)} tokens has no window of seq_len + 1 = {seq_len + 1}")
    starts = np.round(np.linspace(0, len(tokens) - seq_len - 1, count)).astype(np.int64)
    return np.stack([np.asarray(tokens[s : s + seq_len + 1], dtype=np.int32) for s in starts])


def next_token_losses(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Per-position cross-entropy, float32 (or the logits' wider dtype)."""
    logits = logits.astype(jnp.promote_types(logits.dtype, jnp.float32))
    return optax.softmax_cross_entropy_with_integer_labels(logits, targets)


class LMProblem:
    """``spec``: a ``Llama`` or ``GPT2`` model spec; ``train``/``val``: token streams (1-D integer
    arrays); ``vocab_size``: the dataset's, used when the spec has none; ``dtype``: the master
    weights' float dtype (the run's ``spec.dtype``)."""

    def __init__(self, spec: LlamaSpec | GPT2Spec, train: np.ndarray, val: np.ndarray, vocab_size: int | None = None, *,
                 dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        self.cfg = LMConfig.from_spec(spec, vocab_size)
        self.architecture = ARCHITECTURES[spec.name]
        self.batch_size, self.seq_len = spec.batch_size, spec.seq_len
        self.microbatches = spec.microbatches  # read by the trainer (gradient accumulation)
        self.mesh = spec.mesh  # read by the trainer (train/sharding.py)
        if len(train) < self.seq_len + 1:
            raise ValueError(f"the train stream has {len(train)} tokens, fewer than seq_len + 1 = {self.seq_len + 1}")
        self.train = jnp.asarray(np.asarray(train))
        self.n_train = len(train)
        windows = fixed_windows(val, spec.eval_windows, self.seq_len)
        # evaluated in chunks of one micro-batch (what fits in memory for training fits here),
        # padded with copies of window 0 that get zero weight
        chunk = min(spec.eval_windows, self.batch_size // self.microbatches)
        n_chunks = math.ceil(spec.eval_windows / chunk)
        pad = n_chunks * chunk - spec.eval_windows
        self.val_windows = jnp.asarray(np.concatenate([windows, np.repeat(windows[:1], pad, 0)]).reshape(n_chunks, chunk, -1))
        self.val_weights = jnp.asarray(np.concatenate([np.ones(spec.eval_windows), np.zeros(pad)]).reshape(n_chunks, chunk), self.dtype)
        self.graphdef, _ = nnx.split(nnx.eval_shape(lambda: self.module(nnx.Rngs(0))), nnx.Param)

    def module(self, rngs: nnx.Rngs) -> nnx.Module:
        return self.architecture(self.cfg, rngs=rngs)

    def init(self, key: jax.Array) -> dict:
        """Initial parameters as a nested dict (``nnx.to_pure_dict``) in the run's float dtype.
        Eager: JAX caches each initializer op by shape across problems, where a jitted init
        would compile anew for every problem (every job, branch and restore template). Sizes
        beyond one device's memory would need a jitted init with FSDP ``out_shardings``."""
        _, params = nnx.split(self.module(nnx.Rngs(key)), nnx.Param)
        return jax.tree.map(lambda a: a.astype(self.dtype), nnx.to_pure_dict(params))

    def logits_fn(self, params: dict, tokens: jax.Array) -> jax.Array:
        """float32 logits [B, T, V] of int tokens [B, T]."""
        return nnx.merge(self.graphdef, params)(tokens)

    def sample_batch(self, key: jax.Array) -> jax.Array:
        """int32 [batch_size, seq_len + 1] windows at uniform offsets of the train stream."""
        starts = jax.random.randint(key, (self.batch_size,), 0, self.n_train - self.seq_len, jnp.int32)
        window = lambda s: jax.lax.dynamic_slice(self.train, (s,), (self.seq_len + 1,))
        return jax.vmap(window)(starts).astype(jnp.int32)

    def token_losses(self, params: dict, tokens: jax.Array) -> jax.Array:
        """Per-position next-token losses [B, T] of windows [B, T + 1] (for per-group probes)."""
        return next_token_losses(self.logits_fn(params, tokens[:, :-1]), tokens[:, 1:])

    def loss(self, params: dict, batch: jax.Array) -> jax.Array:
        return jnp.mean(self.token_losses(params, batch))

    def metrics(self, params: dict) -> dict[str, jax.Array]:
        """``val_loss``: the mean next-token loss over the fixed validation windows."""
        def chunk(xs):
            windows, weights = xs
            return jnp.sum(jnp.mean(self.token_losses(params, windows), axis=1) * weights)

        total = jnp.sum(jax.lax.map(chunk, (self.val_windows, self.val_weights)))
        return {"val_loss": total / self.spec.eval_windows}

    def fisher_rows(self, examples: int | None = None) -> int:
        """Windows of one ``fisher_diag`` pass: one micro-batch, whatever the corpus's size."""
        return self.batch_size // self.microbatches

    def fisher_diag(self, params: dict, key: jax.Array) -> dict:
        """IRE's sampled diagonal Fisher (``curvature/fisher.py``) on one micro-batch of train windows
        drawn from ``key``, labels sampled from the model at every position."""
        batch_key, label_key = jax.random.split(key)
        tokens = self.sample_batch(batch_key)[: self.batch_size // self.microbatches, :-1]
        return sampled_fisher_diag(self.logits_fn, params, tokens, label_key)


@problem_builder(LlamaSpec, GPT2Spec)
def build_lm(spec: LlamaSpec | GPT2Spec, data: PreparedData, root: Path, *, dtype=jnp.float32) -> LMProblem:
    """The problem of a run: the dataset's verified ``train``/``val`` streams and vocabulary."""
    ds = load_prepared(data.dataset, root)
    missing = {"train", "val"} - set(ds.arrays)
    if missing:
        raise ValueError(f"dataset '{data.dataset}' has no {' or '.join(sorted(missing))} token stream "
                         "(a language model needs a markov, bigram or corpus dataset)")
    vocab = ds.meta.get("info", {}).get("vocab_size")
    return LMProblem(spec, ds["train"], ds["val"], vocab, dtype=dtype)
