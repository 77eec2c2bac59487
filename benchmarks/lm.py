#!/usr/bin/env python
"""Training-step throughput of optdyn's LLaMA (``models/lm/``) against a PyTorch twin.

Run from the repository root (see benchmarks/README.md, section ``lm.py``):

    .venv/bin/python benchmarks/lm.py                          # CPU: every size, ours vs torch
    .venv/bin/python benchmarks/lm.py --sizes s128 --repeats 9 --cpus 1
    .venv/bin/python benchmarks/lm.py --gpu                    # GPU: 0.1B LLaMA, seq 1024, bf16
    .venv/bin/python benchmarks/lm.py --help

CPU mode. For each size, the same model on the same batch (fixed token windows [B, T + 1]), from
the same initial parameters, trained by

1. ``ours``: ``LMProblem.loss`` (the pipeline's loss: ``nnx.merge`` + mean next-token
   cross-entropy) under ``jax.value_and_grad``, then the pipeline's optimizer
   (``optim.optimizers.build_optimizer``: ``clip_by_global_norm(1.0)`` then ``optax.adamw``),
   one jitted step per call with donated buffers; and ``ours scan``: that step inside a
   ``lax.scan`` chunk, the way ``Trainer.advance`` runs it;
2. ``torch``: ``benchmarks/torch_llama.py`` (RMSNorm, RoPE, SwiGLU, ``scaled_dot_product_attention``),
   ``loss.backward()``, ``clip_grad_norm_``, ``torch.optim.AdamW`` (``foreach``, and ``fused``),
   at ``torch.set_num_threads(<cores>)`` and at 1 thread.

Timed interleaved (one chunk of each per repeat); the best (or median) chunk's steps/s is
reported, and the ratio ``ours / best torch`` (above 1: ours is faster). Checks first: one step from the
same params on the same batch gives the same loss and parameters within 0.1 lr on both sides.

GPU mode (``--gpu``): tokens/s and MFU of WSD Table 2's 0.1B LLaMA (d 768, I 3072, 12 layers,
12 heads), seq 1024, bf16 compute (float32 master weights), vocab 50304; MFU counts
``train_flops_per_token`` (6 x matmul parameters + 12 L T d for attention, PaLM's convention:
the causal half is not discounted) against the device's peak dense bf16 FLOP/s, and one line
goes into ``benchmarks/RESULTS.md`` with the date and the device.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

SIZES = {  # name: (vocab, hidden, intermediate, layers, heads, seq_len, batch)
    "s64": (128, 64, 256, 2, 2, 128, 32),  # catalog 000 sec. 6's tiny model, lower end
    "s128": (128, 128, 512, 2, 4, 128, 32),  # its upper end
    "s256": (512, 256, 1024, 4, 4, 256, 16),  # a step larger, where matmuls dominate
}
GPU_MODEL = (50304, 768, 3072, 12, 12, 1024)  # WSD Table 2 "0.1B"; vocab [inferred] GPT-NeoX's, padded
ADAMW = {"b1": 0.9, "b2": 0.95, "eps": 1e-8, "weight_decay": 0.1, "grad_clip": 1.0}  # catalog sec. 6
LR = 1e-3
#: peak dense bf16 FLOP/s by device kind (vendor datasheets; sparsity not counted)
PEAK_BF16 = {"H100 PCIe": 756e12, "H100": 989.4e12, "H200": 989.4e12, "A100": 312e12, "L4": 121e12, "A10": 125e12}


# --- FLOPs ----------------------------------------------------------------------------------------


def matmul_params(cfg) -> int:
    """Parameters that enter a matmul once per token: all but the input embedding table (a
    lookup), which with tied embeddings is the head and counts."""
    from optdyn.models.lm.config import llama_param_count

    return llama_param_count(cfg) - (0 if cfg.tie_embeddings else cfg.vocab_size * cfg.hidden)


def train_flops_per_token(cfg, seq_len: int | None = None) -> int:
    """6 N (forward 2 N, backward 4 N) + attention's q k^T and p v: 2 x 2 T d per layer forward,
    x 3 for training; the full T x T (PaLM, nanoGPT's estimate_mfu), causal masking not discounted."""
    t = seq_len or cfg.seq_len
    return 6 * matmul_params(cfg) + 12 * cfg.layers * t * cfg.hidden


def peak_flops(device_kind: str) -> float | None:
    for key, value in PEAK_BF16.items():  # "H100 PCIe" before "H100"
        if key.lower() in device_kind.lower():
            return value
    return None


# --- the two implementations ------------------------------------------------------------------------


def build_ours(sizes: tuple, compute_dtype: str = "float32"):
    """(LMProblem, jitted step, scan chunk, initial params, optimizer) for a size tuple."""
    import jax
    import numpy as np
    import optax

    from optdyn.models.lm.problem import LMProblem
    from optdyn.optim.optimizers import build_optimizer
    from optdyn.spec.components import AdamW, Llama

    vocab, d, inter, layers, heads, seq, batch = sizes
    spec = Llama(name="llama", hidden=d, intermediate=inter, layers=layers, heads=heads, vocab_size=vocab,
                 seq_len=seq, batch_size=batch, eval_windows=1, compute_dtype=compute_dtype)
    stream = np.random.default_rng(0).integers(0, vocab, 4 * seq * batch)
    problem = LMProblem(spec, stream, stream[: 4 * seq], vocab)
    tx = build_optimizer(AdamW(name="adamw", **ADAMW), optax.constant_schedule(LR))

    def step(state, batch):
        params, opt_state = state
        loss, grads = jax.value_and_grad(problem.loss)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    def chunk(state, batch, n: int):
        return jax.lax.scan(lambda s, _: step(s, batch), state, None, length=n)

    params = problem.init(jax.random.PRNGKey(0))
    return problem, jax.jit(step, donate_argnums=0), jax.jit(chunk, static_argnums=2, donate_argnums=0), params, tx


def check_one_step(torch, twin, problem, step, params, tx, batch_np) -> tuple[bool, str]:
    """Loss and updated params of one step, ours vs the twin, from the same params and batch."""
    import jax
    import numpy as np

    state = (jax.tree.map(np.array, params), tx.init(params))
    (new, _), loss = step(state, batch_np)
    model = twin.load_params(twin.TorchLlama(problem.cfg), params)
    tstep = twin.TorchTrainStep(model, LR, ADAMW["b1"], ADAMW["b2"], ADAMW["eps"], ADAMW["weight_decay"], ADAMW["grad_clip"])
    tloss = tstep(torch.from_numpy(batch_np.astype(np.int64))).item()
    ours = twin.TorchLlama(problem.cfg)
    twin.load_params(ours, jax.device_get(new))
    diff = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), model.parameters()))
    # Adam's first step moves every coordinate by about lr (m / sqrt(v) = sign g); where |g| is near eps
    # the ratio g / (|g| + eps) amplifies float32 round-off of g, so params agree to a fraction of lr
    ok = abs(tloss - float(loss)) < 1e-5 * abs(tloss) and diff < 0.1 * LR
    return ok, f"loss {float(loss):.6f} vs {tloss:.6f}, max |param difference| after the step {diff:.1e}"


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def bench_cpu(args, torch, twin) -> bool:
    results = [bench_size(name, args, torch, twin) for name in args.sizes]
    print(f"\n{args.stat} of {args.repeats} chunks of {args.steps} steps; steps/s; ratios > 1: ours is faster\n")
    print("| size | ours | ours scan | torch " + f"{args.threads}t | best torch | ours/best torch | ours scan/best torch |")
    print("|---|---|---|---|---|---|---|")
    for name, _, o, s, bt, b, t in results:
        print(f"| {name} | {o:.1f} | {s:.1f} | {t:.1f} | {b:.1f} ({bt}) | {o / b:.2f}x | {s / b:.2f}x |")
    return all(r[1] for r in results)


def bench_size(name: str, args, torch, twin) -> tuple:
    import jax
    import numpy as np

    sizes = SIZES[name]
    vocab, d, inter, layers, heads, seq, batch = sizes
    problem, step, chunk, params, tx = build_ours(sizes)
    batch_np = np.asarray(problem.sample_batch(jax.random.PRNGKey(1)))
    ok, msg = check_one_step(torch, twin, problem, step, params, tx, batch_np)
    n_params = sum(a.size for a in jax.tree.leaves(params))
    print(f"\n{name}: vocab {vocab}, d {d}, I {inter}, {layers} layers, {heads} heads, T {seq}, B {batch}; "
          f"{n_params:,} params\n  [{'ok' if ok else 'MISMATCH'}] one step: {msg}")

    # copies: the steps donate their state's buffers
    box = {k: (jax.tree.map(np.array, params), tx.init(params)) for k in ("s", "c")}

    def ours(n=args.steps):
        for _ in range(n):
            box["s"], loss = step(box["s"], batch_np)
        loss.block_until_ready()

    def ours_scan(n=args.steps):
        box["c"], losses = chunk(box["c"], batch_np, n)
        losses.block_until_ready()

    impls = {"ours": ours, "ours scan": ours_scan}
    tbatch = torch.from_numpy(batch_np.astype(np.int64))
    for fused in (False, True):
        for k in sorted({args.threads, 1}, reverse=True):
            tstep = twin.TorchTrainStep(twin.load_params(twin.TorchLlama(problem.cfg), params), LR, ADAMW["b1"],
                                        ADAMW["b2"], ADAMW["eps"], ADAMW["weight_decay"], ADAMW["grad_clip"], fused)

            def run(n=args.steps, tstep=tstep, k=k):
                torch.set_num_threads(k)
                for _ in range(n):
                    tstep(tbatch)

            impls[f"torch{' fused' if fused else ''} {k}t"] = run
    t0 = time.perf_counter()
    for fn in impls.values():  # warm-up, one chunk each: compiles (the scan per length), allocator, thread pools
        fn()
    print(f"  warm-up (ours compiles both step and scan) {time.perf_counter() - t0:.1f} s")
    rates = {k: [] for k in impls}
    for _ in range(args.repeats):
        for label, fn in impls.items():
            t0 = time.perf_counter()
            fn()
            rates[label].append(args.steps / (time.perf_counter() - t0))
    stat = max if args.stat == "best" else statistics.median
    rate = {k: stat(v) for k, v in rates.items()}
    best_torch = max((k for k in rate if k.startswith("torch")), key=rate.get)
    for label, r in rate.items():
        print(f"  {label:16s} {1e3 / r:8.2f} ms/step  {r * batch * seq:10,.0f} tokens/s")
    return name, ok, rate["ours"], rate["ours scan"], best_torch, rate[best_torch], rate[f"torch {args.threads}t"]


# --- GPU: tokens/s and MFU of the 0.1B LLaMA ------------------------------------------------------------


def bench_gpu(args) -> bool:
    import jax
    import numpy as np

    vocab, d, inter, layers, heads, seq = GPU_MODEL if args.model == "0.1B" else (*SIZES[args.model][:6],)
    sizes = (vocab, d, inter, layers, heads, seq, args.batch)
    problem, step, _, params, tx = build_ours(sizes, compute_dtype="bfloat16")
    device = jax.devices()[0]
    kind = getattr(device, "device_kind", device.platform)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else peak_flops(kind)
    batch = jax.device_put(problem.sample_batch(jax.random.PRNGKey(1)))
    state = (params, tx.init(params))
    t0 = time.perf_counter()
    for _ in range(3):
        state, loss = step(state, batch)
    loss.block_until_ready()
    print(f"{args.model} LLaMA, {sum(a.size for a in jax.tree.leaves(params)):,} params, batch {args.batch} x {seq}, "
          f"bf16 compute on {kind}; warm-up {time.perf_counter() - t0:.1f} s")
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            state, loss = step(state, batch)
        loss.block_until_ready()
        times.append((time.perf_counter() - t0) / args.steps)
    sec = min(times) if args.stat == "best" else statistics.median(times)
    tokens = args.batch * seq / sec
    flops = train_flops_per_token(problem.cfg) * tokens
    mfu = flops / peak if peak else float("nan")
    print(f"{sec * 1e3:.1f} ms/step, {tokens:,.0f} tokens/s, {flops / 1e12:.1f} TFLOP/s, MFU {mfu:.1%} "
          f"(peak {peak / 1e12 if peak else float('nan'):.0f} TFLOP/s bf16 dense), loss {float(loss):.3f}")
    line = (f"| {datetime.date.today()} | {kind} | {args.model} LLaMA, bf16, batch {args.batch} x {seq} | "
            f"{tokens:,.0f} | {mfu:.1%} | {sec * 1e3:.1f} | jax {jax.__version__} |")
    results = Path(args.results)
    if not results.exists():
        results.write_text("# GPU benchmark results (`benchmarks/lm.py --gpu`)\n\n"
                           "| date | device | workload | tokens/s | MFU | ms/step | software |\n"
                           "|---|---|---|---|---|---|---|\n")
    with results.open("a") as f:
        f.write(line + "\n")
    print(f"appended to {results}:\n{line}")
    return np.isfinite(float(loss))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--steps", type=int, default=None, help="steps per timed chunk (CPU 10, GPU 20)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--stat", choices=("best", "median"), default="best")
    ap.add_argument("--cpus", type=int, default=None, help="pin this process (XLA and torch) to this many cores")
    ap.add_argument("--gpu", action="store_true", help="tokens/s and MFU of the 0.1B LLaMA on the default device")
    ap.add_argument("--model", default="0.1B", choices=["0.1B", *SIZES], help="--gpu: the model (a CPU size to try the path)")
    ap.add_argument("--batch", type=int, default=16, help="--gpu: sequences per step")
    ap.add_argument("--peak-tflops", type=float, default=None, help="--gpu: peak bf16 TFLOP/s if the device is not known")
    ap.add_argument("--results", default=str(Path(__file__).with_name("RESULTS.md")))
    args = ap.parse_args(argv)
    if args.cpus is not None:  # before jax and torch start their thread pools
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    args.threads = cores()
    args.steps = args.steps or (20 if args.gpu else 10)
    if args.gpu:
        return 0 if bench_gpu(args) else 1
    try:
        import torch
    except ImportError:
        print("PyTorch is not installed; install the CPU wheel: .venv/bin/pip install torch==2.13.0")
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    import jax
    import torch_llama as twin

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{platform.processor() or platform.machine()}, {args.threads} cores, load average {load:.2f}; "
          f"jax {jax.__version__}, torch {torch.__version__}; float32")
    return 0 if bench_cpu(args, torch, twin) else 1


if __name__ == "__main__":
    sys.exit(main())
