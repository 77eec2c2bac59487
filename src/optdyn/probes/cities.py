"""WSD paper Sec. 4: each city's loss on the name that follows it, for a language model trained on
the city -> name language (a ``bigram`` dataset: the stream [city, name, city, name, ...]).

For city i the probe reports the model's expected loss on the next (name) token,
    loss_i = - sum_j P_ij log q(name_j | context, city i),
exact in the name (the expectation over the true P_i, no sampled names), where log q is the
model's log-softmax over its whole vocabulary read at the name tokens: the loss the model pays,
mass it puts on non-name tokens included. The paper measures "the first token of [NAME]"; our
names are single tokens.

Context: the model is causal, so what precedes the city can shift its prediction. The probe
averages over ``contexts`` fixed stretches of the validation stream, each ``context_len`` tokens
(even: whole (city, name) pairs, a real prefix of the language ending in a name), taken at evenly
spaced pair-aligned offsets, followed by city i. The same stretches serve every city and run, so
the difference between two runs is paired. ``context_len`` defaults to the longest even length
below the model's ``seq_len``, where the city sits at the last position the model was trained on.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from optdyn.data.prepare import load_prepared
from optdyn.registry import probe_kind
from optdyn.spec.probes import CityLoss
from optdyn.theory.bigram import entropy, gini

from .restore import last_step, params_at


def pair_contexts(stream: np.ndarray, n_cities: int, count: int, length: int) -> np.ndarray:
    """``count`` stretches of ``length`` tokens (even) of a [city, name, ...] stream at evenly
    spaced pair-aligned offsets, int32 [count, length]; each starts with a city and ends with a name."""
    if length % 2 or length < 0:
        raise ValueError(f"context_len = {length}: a context is whole (city, name) pairs, so an even length >= 0")
    if len(stream) < length + 2:
        raise ValueError(f"the stream has {len(stream)} tokens, too few for contexts of {length}")
    starts = 2 * np.round(np.linspace(0, (len(stream) - length) // 2 - 1, count)).astype(np.int64)
    out = np.stack([np.asarray(stream[s : s + length], dtype=np.int32) for s in starts])
    if length and not (np.all(out[:, 0::2] < n_cities) and np.all(out[:, 1::2] >= n_cities)):
        raise ValueError("the stream is not [city, name, city, name, ...] with cities 0..n-1 and names n..n+m-1")
    return out


def city_name_losses(logits_fn, params, P: np.ndarray, contexts: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    """For every city i (rows of P, token i; name j is token n + j) and context c:
    ``loss`` [n, K] = - sum_j P_ij log q(n + j | c, i) and ``name_mass`` [n, K] = sum_j q(n + j | c, i),
    from ``logits_fn(params, tokens [B, T]) -> [B, T, V]``, ``batch`` sequences per forward pass."""
    n, m = P.shape
    k, length = contexts.shape
    per_chunk = max(1, batch // k)
    n_chunks = math.ceil(n / per_chunk)
    cities = np.concatenate([np.arange(n), np.zeros(n_chunks * per_chunk - n, np.int64)]).reshape(n_chunks, per_chunk)
    ctx, probs = jnp.asarray(contexts, jnp.int32), jnp.asarray(P, jnp.float32)

    @jax.jit
    def chunk(params, ids):
        c = ids.shape[0]
        head = jnp.broadcast_to(ctx[None], (c, k, length))
        tail = jnp.broadcast_to(ids[:, None, None].astype(jnp.int32), (c, k, 1))
        tokens = jnp.concatenate([head, tail], axis=-1).reshape(c * k, length + 1)
        logits = logits_fn(params, tokens)[:, -1, :].astype(jnp.float32)
        log_q = jax.nn.log_softmax(logits, axis=-1)[:, n : n + m].reshape(c, k, m)
        loss = -jnp.sum(probs[ids][:, None, :] * log_q, axis=-1)
        return loss, jnp.sum(jnp.exp(log_q), axis=-1)

    outs = [jax.device_get(chunk(params, jnp.asarray(ids))) for ids in cities]
    loss = np.concatenate([o[0] for o in outs])[:n]
    mass = np.concatenate([o[1] for o in outs])[:n]
    return {"loss": loss.astype(np.float64), "name_mass": mass.astype(np.float64)}


@probe_kind(CityLoss)
def city_loss(run, spec) -> pd.DataFrame:
    """One row per city at the run's ``spec.step`` (None: its last step): the expected name
    loss (mean over the contexts, with their spread), its excess over the city's entropy, the
    model's mass on name tokens, and the city's entropy, Gini impurity and type."""
    data = getattr(run.spec, "data", None)
    if getattr(data, "dataset", None) is None:
        raise ValueError(f"run {run.run_id} has no prepared dataset; city_loss needs a bigram language model run")
    ds = load_prepared(data.dataset, run.data_dir)  # the workflow's data folder, not always the default
    if "P" not in ds.arrays or "is_det" not in ds.arrays:
        raise ValueError(f"dataset '{data.dataset}' has no P.npy / is_det.npy: city_loss needs a bigram dataset")
    P, is_det = np.asarray(ds["P"], np.float64), np.asarray(ds["is_det"], bool)
    trainer = run.trainer()
    problem = trainer.problem
    if not hasattr(problem, "logits_fn"):
        raise ValueError(f"run {run.run_id}'s model '{run.spec.model.name}' has no logits_fn; city_loss needs a language model")
    length = spec.context_len if spec.context_len is not None else 2 * ((problem.seq_len - 1) // 2)
    if length + 1 > problem.seq_len:
        raise ValueError(f"context_len = {length} plus the city exceeds the model's seq_len = {problem.seq_len}")
    step = last_step(run) if spec.step is None else spec.step
    params = params_at(run, [step], trainer)[step]
    contexts = pair_contexts(np.asarray(ds["val"]), len(P), spec.contexts, length)
    batch = spec.batch or problem.batch_size // problem.microbatches
    out = city_name_losses(problem.logits_fn, params, P, contexts, batch)
    H = entropy(P)
    loss = out["loss"].mean(axis=1)
    return pd.DataFrame({
        "city": np.arange(len(P)), "is_det": is_det, "entropy": H, "gini": gini(P),
        "loss": loss, "loss_context_std": out["loss"].std(axis=1), "excess": loss - H,
        "name_mass": out["name_mass"].mean(axis=1), "step": step, "contexts": spec.contexts, "context_len": length,
    })
