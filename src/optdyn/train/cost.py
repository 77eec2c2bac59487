"""What a run costs before it runs: memory per device, FLOPs per step, and the smallest
configured device it fits (``optdyn plan --cost``; docs/check-tier.md).

Everything is computed from shapes (``jax.eval_shape``), so a 1.2B-parameter LLaMA costs no
memory to estimate. Peak memory per device of one training step (``Trainer._step``):

- the state: parameters and optimizer state, once as the step's input and once as its output
  (the trainer does not donate its state), split over the ``fsdp`` axis;
- the gradient, and with micro-batches also their running sum;
- the activations kept for the backward pass of one micro-batch: the residuals JAX saves for
  ``jax.vjp`` of the loss (``saved_residuals``: every array the backward pass reads that is not
  an input); or, where larger, those XLA keeps of them (``kept_residuals``) plus two cotangent
  buffers of the largest; split over every device of the mesh. A bfloat16 language model runs cuDNN's flash
  attention on a GPU (``models/lm/layers.py``), which keeps no T x T attention matrix, so
  residuals of that shape are left out for it (the trace here, on any backend, uses XLA's);
- the batch itself.

IRE's Fisher pass (``fisher_diag``: a forward pass for the logits, then the gradient of the
cross-entropy at labels drawn from them, on ``fisher_rows`` examples, every ``every`` steps) is
counted: its memory is what its activations need beyond the training step's (it runs after
the step's gradient, inside a ``lax.cond``, so the larger of the two is alive) plus its batch,
and its FLOPs are XLA's count of the loss's forward pass and gradient at that batch, divided by
``every`` (the mask's refresh period; before IRE starts there is no refresh, so this is the
cost once it has started).

Not counted: XLA's workspace (its fusions usually keep less than every residual, its scratch
buffers add some), the 1/S rule's Lanczos passes on their refresh steps (the plan's line says
so), and the evaluation. ``tests/test_plan_cost.py`` holds the estimate within 20% of XLA's own compiled
memory analysis on a LLaMA, a GPT-2, a ReLU MLP, a ReLU CNN and a GroupNorm ResNet-18; a swish
CNN is over-estimated 1.46x (docs/check-tier.md).

FLOPs per step are XLA's count (``Lowered.cost_analysis``) of one micro-batch's loss and
gradient, times the micro-batches (twice for SAM's two gradients); the optimizer's update is
a few FLOPs per parameter and left out. For language models the plan also shows the usual
6 * N * tokens (N: parameters without the input embedding) beside it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from .trainer import Trainer

GB = 10**9
#: the devices a run may be placed on, smallest first: (what the plan calls it, bytes per
#: device, devices). Usable memory is ``USABLE`` of it (XLA's allocator, CUDA context).
DEVICES: tuple[tuple[str, int, int], ...] = (
    ("one 16 GB GPU", 16 * GB, 1),
    ("one 24 GB GPU", 24 * GB, 1),
    ("one 40 GB GPU", 40 * GB, 1),
    ("one 80 GB GPU", 80 * GB, 1),
    ("one 141 GB GPU", 141 * GB, 1),
    ("8 x 80 GB GPUs (FSDP 8)", 80 * GB, 8),
)
USABLE = 0.9


def tree_bytes(tree: Any) -> int:
    return int(sum(math.prod(x.shape) * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree)))


def tree_size(tree: Any) -> int:
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(tree)))


@dataclass(frozen=True)
class Estimate:
    params: int  # parameter count
    param_bytes: int
    opt_bytes: int
    act_bytes: int  # residuals of one micro-batch, on one device of no mesh
    batch_bytes: int
    microbatches: int
    batch_rows: int  # examples (sequences) per step
    flops_step: float
    steps: int
    devices: int = 1  # mesh size (data x fsdp)
    fsdp: int = 1
    lm_tokens: int | None = None  # tokens per step of a language model
    lm_flops_6nd: float | None = None
    notes: list[str] = field(default_factory=list)
    shardable: bool = False  # takes a mesh (train/sharding.py: language models), so multi-device nodes apply
    fisher_bytes: int = 0  # IRE's Fisher pass: activations beyond the step's, plus its batch (one device of no mesh)
    fisher_flops: float = 0.0  # one Fisher pass; flops_step already holds it divided by ``fisher_every``
    fisher_every: int = 0  # IRE's refresh period K (0: no IRE)

    @property
    def flops_total(self) -> float:
        return self.flops_step * self.steps

    def parts(self, microbatches: int | None = None, devices: int | None = None, fsdp: int | None = None) -> dict[str, int]:
        """Bytes per device of each part, for another micro-batch count or mesh if given."""
        k = microbatches or self.microbatches
        n = devices or self.devices
        f = fsdp or self.fsdp
        state = (self.param_bytes + self.opt_bytes) / f
        grads = self.param_bytes / f * (2 if k > 1 else 1)
        act = self.act_bytes * self.microbatches / k / n
        out = {"state in + out": int(2 * state), "gradients": int(grads), "activations": int(act),
               "batch": int(self.batch_bytes / n)}
        if self.fisher_bytes:  # at the configured micro-batches (an LM's Fisher batch is one of them)
            out["IRE Fisher pass"] = int(self.fisher_bytes / n)
        return out

    def per_device(self, microbatches: int | None = None, devices: int | None = None, fsdp: int | None = None) -> int:
        return sum(self.parts(microbatches, devices, fsdp).values())

    def fit(self) -> tuple[str, int] | None:
        """The smallest configured device this run fits with its own micro-batches; failing
        that, the smallest with the fewest more micro-batches (divisors of the batch that keep
        each micro-batch splitting over the devices; language models only: nothing else
        accumulates micro-batches). Multi-device nodes only for models that take a mesh."""
        more = [k for k in _divisors(self.batch_rows) if k > self.microbatches] if self.lm_tokens is not None else []
        for ks in ([self.microbatches], more):
            for name, size, count in DEVICES:
                if count > 1 and not self.shardable:
                    continue
                for k in ks:
                    if (self.batch_rows // k) % count == 0 and self.per_device(k, count, count) <= USABLE * size:
                        return name, k
        return None

    def fit_text(self) -> str:
        got = self.fit()
        if got is None:
            return "fits no configured device"
        name, k = got
        if k == self.microbatches:
            return f"fits {name}" + (f" with microbatches {k}" if k > 1 else "")
        return f"fits {name} with microbatches {k} (configured: {self.microbatches})"


def _divisors(n: int) -> list[int]:
    small = [d for d in range(1, int(math.isqrt(n)) + 1) if n % d == 0]
    return sorted(set(small + [n // d for d in small]))


def human(n: float, unit: str = "B") -> str:
    if unit == "B":
        for u in ("B", "KiB", "MiB", "GiB", "TiB"):
            if abs(n) < 1024 or u == "TiB":
                return f"{n:.0f} {u}" if u == "B" else f"{n:.1f} {u}"
            n /= 1024
    for u in ("", "K", "M", "G", "T", "P", "E", "Z"):
        if abs(n) < 1000 or u == "Z":
            return f"{n:.3g}{u}"
        n /= 1000
    return str(n)


class _WithBatch:
    """The trainer's problem with ``sample_batch`` returning a given (traced) batch, so a step
    can be lowered with the batch as an argument of the real shape instead of a dataset."""

    def __init__(self, problem, batch):
        self._problem, self._batch = problem, batch

    def sample_batch(self, key):
        return self._batch

    def __getattr__(self, name):
        return getattr(self._problem, name)


def abstract_batch(trainer: Trainer, rows: int | None = None) -> Any:
    """The step's batch as shapes; ``rows``: the real examples per step where the problem's
    (fake) dataset is smaller than the real one (a full-batch run)."""
    batch = jax.eval_shape(trainer.problem.sample_batch, jax.random.PRNGKey(0))
    if rows is None:
        return batch
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((rows, *x.shape[1:]), x.dtype) if x.ndim else x, batch)


def step_fn(trainer: Trainer):
    """``(state, batch) -> (state, logged)``: ``Trainer._step`` on a handed batch."""
    def step(state, batch):
        problem = trainer.problem
        trainer.problem = _WithBatch(problem, batch)
        try:
            return trainer._step(state, None, trainer.data_key)
        finally:
            trainer.problem = problem
    return step


def compiled_step(trainer: Trainer, batch: Any | None = None):
    """The training step compiled with its real shapes (``jit(...).lower(...).compile()``)."""
    state = jax.eval_shape(trainer.init_state)
    batch = abstract_batch(trainer) if batch is None else batch
    return jax.jit(step_fn(trainer)).lower(state, batch).compile()


def xla_bytes(compiled) -> int:
    """Peak bytes of a compiled step by XLA's memory analysis: inputs, outputs not aliased to
    inputs, and temporaries."""
    m = compiled.memory_analysis()
    return int(m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes)


#: cotangent buffers of the largest activation alive at once in the backward pass (the
#: incoming gradient and the one being produced)
COTANGENTS = 2
_SOURCE = re.compile(r" from (\S+:\d+)")


def _nbytes(a) -> int:
    return math.prod(a.shape) * jnp.dtype(a.dtype).itemsize


def kept_residuals(found: list[tuple[Any, str]]) -> list[Any]:
    """Of the residuals JAX lists for the backward pass (``(array, why)``), the buffers XLA keeps:

    - a ``broadcast_in_dim`` output is a constant (ReLU's zeros) that XLA never materializes;
    - a residual listed again in a row with the same shape, dtype and origin is one elementwise
      expression's repeated output (``silu``'s x, sigmoid(x) and x sigmoid(x)): XLA fuses the
      expression and keeps one buffer;
    - a boolean mask (ReLU's ``x > 0``) costs nothing beside a float of its shape and source
      line (XLA recomputes it from that); without one, XLA keeps the float it compares instead.
    """
    out, last = [], None
    for a, why in found:
        if "broadcast_in_dim" in why:
            continue
        key = (tuple(a.shape), jnp.dtype(a.dtype), why)
        if key != last:
            out.append((a, why))
        last = key
    floats = [a.dtype for a, _ in out if jnp.issubdtype(a.dtype, jnp.floating)]
    wide = max(floats, key=lambda d: jnp.dtype(d).itemsize, default=jnp.float32)
    sources = {(tuple(a.shape), _origin(why)) for a, why in out if jnp.issubdtype(a.dtype, jnp.floating)}
    kept = []
    for a, why in out:
        if a.dtype == jnp.bool_:
            if (tuple(a.shape), _origin(why)) in sources:
                continue
            a = jax.ShapeDtypeStruct(a.shape, wide)
        kept.append(a)
    return kept


def _origin(why: str) -> str:
    found = _SOURCE.search(why)
    return found.group(1) if found else why


def _flash_on_gpu(problem) -> bool:
    """Whether a language model's attention is cuDNN's flash attention on a GPU
    (``models/lm/layers.attention_impl``), which saves no T x T matrix for the backward pass."""
    cfg = getattr(problem, "cfg", None)
    if cfg is None or not hasattr(cfg, "attention"):
        return False
    if cfg.attention == "cudnn":
        return True
    return cfg.attention == "auto" and cfg.compute_dtype == "bfloat16" and cfg.head_dim % 8 == 0 and cfg.head_dim <= 128


def _activations(problem, params, batch) -> int:
    """Bytes of the residuals the backward pass of ``problem.loss`` at ``batch`` keeps."""
    from jax._src.ad_checkpoint import saved_residuals  # public only as print_saved_residuals

    listed = [(a, why) for a, why in saved_residuals(problem.loss, params, batch)
              if hasattr(a, "shape") and not why.startswith("from the argument")]
    residuals, kept = [a for a, _ in listed], kept_residuals(listed)
    if _flash_on_gpu(problem):  # traced here with XLA's attention, which keeps softmax(q k^T)
        t = problem.seq_len
        residuals = [a for a in residuals if tuple(a.shape[-2:]) != (t, t)]
        kept = [a for a in kept if tuple(a.shape[-2:]) != (t, t)]
    # two readings of the same list, each short of XLA's peak in some family (docs/check-tier.md):
    # every listed residual (GroupNorm ResNets, SI nets), or what XLA fuses them to plus the
    # backward's cotangents (ReLU CNNs); a plan must not under-promise, so the larger
    return max(sum(map(_nbytes, residuals)), sum(map(_nbytes, kept)) + COTANGENTS * max(map(_nbytes, kept), default=0))


def _flops(fn, *args) -> float:
    return float((jax.jit(fn).lower(*args).cost_analysis() or {}).get("flops", 0.0))


def _with_rows(batch, rows: int):
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct((rows, *x.shape[1:]), x.dtype) if x.ndim else x, batch)


def fisher_rows(problem, examples: int | None = None) -> int | None:
    """Examples of one IRE Fisher pass (``fisher_diag``) at the run's shapes: the problem's own
    ``fisher_rows`` (the vision nets' fixed batch, an LM's micro-batch, a classifier's
    ``fisher_batch_size`` or training set), or None for a problem whose estimate needs no batch
    (a toy's closed form). ``examples``: the real training set's size where the problem holds a
    smaller fake (the check and paper tiers)."""
    rows = getattr(problem, "fisher_rows", None)
    return None if rows is None else rows(examples)


def fisher_cost(problem, params, micro, rows: int | None) -> tuple[int, float]:
    """(bytes, FLOPs) of one Fisher pass on ``rows`` examples of ``micro``'s shapes: the
    activations it keeps beyond those of the step's micro-batch, plus its batch; XLA's count
    of one forward pass (the sampled labels' logits) and one loss-and-gradient. The Fisher's
    loss is the cross-entropy at the sampled labels; ``problem.loss`` differs from it only in
    the last layer's criterion (label smoothing), a few FLOPs per logit."""
    if rows is None or not any(x.ndim for x in jax.tree.leaves(micro)):
        return 0, 0.0
    fb = _with_rows(micro, rows)
    extra = max(0, _activations(problem, params, fb) - _activations(problem, params, micro))
    flops = _flops(problem.loss, params, fb) + _flops(jax.value_and_grad(problem.loss), params, fb)
    return extra + tree_bytes(fb), flops


def estimate(trainer: Trainer, rows: int | None = None, examples: int | None = None) -> Estimate:
    """The cost of ``trainer``'s run from shapes; ``rows`` as in ``abstract_batch``;
    ``examples``: the real training set's size where the problem's dataset is a smaller fake
    (it caps IRE's Fisher batch, ``fisher_rows``)."""
    problem, spec = trainer.problem, trainer.spec
    state = jax.eval_shape(trainer.init_state)
    params = state["params"]
    batch = abstract_batch(trainer, rows)
    k = trainer.microbatches
    rows = [x.shape[0] for x in jax.tree.leaves(batch) if x.ndim]
    lead = rows[0] if rows else 1  # toys: a key, a scalar or no batch at all
    micro = batch if k == 1 else jax.tree.map(lambda x: jax.ShapeDtypeStruct((x.shape[0] // k, *x.shape[1:]), x.dtype), batch)
    act = _activations(problem, params, micro)
    notes = []
    if _flash_on_gpu(problem):
        notes.append("attention: cuDNN flash on GPU (no T x T residuals)")
    flops = _flops(jax.value_and_grad(problem.loss), params, micro) * k * (2 if trainer.sam is not None else 1)
    fisher_bytes, fisher_flops, every = 0, 0.0, 0
    if getattr(trainer, "ire", None) is not None:
        every, fb = trainer.ire.every, fisher_rows(problem, examples)
        fisher_bytes, fisher_flops = fisher_cost(problem, params, micro, fb)
        flops += fisher_flops / every
        notes.append(f"IRE's Fisher pass on {fb} examples every {every} steps counted" if fb is not None
                     else "IRE's Fisher pass (a closed form) not counted")
    mesh = getattr(problem, "mesh", None)
    devices, fsdp = 1, 1
    if mesh is not None:
        fsdp = mesh.fsdp
        devices = (mesh.data if mesh.data > 0 else 1) * fsdp
    lm_tokens = lm_6nd = None
    if hasattr(problem, "seq_len") and hasattr(problem, "cfg"):
        lm_tokens = lead * problem.seq_len
        embed = problem.cfg.vocab_size * problem.cfg.hidden  # a lookup, no FLOPs (an untied head has them)
        lm_6nd = 6.0 * (tree_size(params) - embed) * lm_tokens
    if getattr(trainer, "inverse_sharpness", None) is not None:
        notes.append("the 1/S rule's Lanczos passes not counted")
    return Estimate(params=tree_size(params), param_bytes=tree_bytes(params), opt_bytes=tree_bytes(state["opt_state"]),
                    act_bytes=int(act), batch_bytes=tree_bytes(batch), microbatches=k, batch_rows=lead,
                    flops_step=flops, steps=int(spec.steps), devices=devices, fsdp=fsdp, lm_tokens=lm_tokens,
                    lm_flops_6nd=lm_6nd, notes=notes, shardable=hasattr(problem, "mesh"),
                    fisher_bytes=int(fisher_bytes), fisher_flops=fisher_flops, fisher_every=every)


def summary(est: Estimate) -> str:
    """One line: parameters, memory per device by part, FLOPs, where it fits."""
    parts = est.parts()
    mem = ", ".join(f"{k} {human(v)}" for k, v in parts.items())
    flops = f"{human(est.flops_step, '')}FLOP/step, {human(est.flops_total, '')}FLOP total"
    if est.lm_flops_6nd is not None:
        flops += f" (6ND: {human(est.lm_flops_6nd, '')}FLOP/step)"
    note = f"; {'; '.join(est.notes)}" if est.notes else ""
    return (f"{human(est.params, '')} params; {human(est.per_device())}/device ({mem}); {flops}; "
            f"{est.fit_text()}{note}")
