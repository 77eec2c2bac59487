#!/usr/bin/env python
"""Speed of optdyn's training step as a ratio against an equivalent PyTorch loop.

Run from the repository root (about a minute on 2 idle cores; see benchmarks/README.md):

    .venv/bin/python benchmarks/trainer.py                 # defaults: --steps 1000 --repeats 5
    .venv/bin/python benchmarks/trainer.py --stat median --repeats 9
    .venv/bin/python benchmarks/trainer.py --workloads bigram_b128 river --cpus 1

For each workload it times, in steady state (after a warm-up chunk that compiles / warms caches):

1. ``optdyn``: ``Trainer.advance(state, steps)``, one jitted ``lax.scan`` over ``steps`` SGD steps,
   including the host copy of the per-step logs (batch_loss, lr, grad_norm) that ``advance``
   returns;
2. ``torch``: the same math hand-written in eager PyTorch (sampling, loss, ``loss.backward()``,
   ``torch.optim.SGD.step()``), logging the batch loss and gradient norm per step as the trainer
   does; at ``torch.set_num_threads(<cores>)`` and at 1 thread, which is often faster for steps
   this small. For the bigram there are two variants: ``idiomatic`` (``torch.multinomial``,
   ``F.cross_entropy``) and ``tuned`` (inverse-CDF sampling, ``logsumexp - gather``: the same
   distribution and the same loss, but faster torch kernels);
3. ``per-step jit``: the trainer's own step function under ``jax.jit``, called once per step from
   Python (one dispatch per step), to show what the ``lax.scan`` chunking buys;
4. ``optdyn sampling only``: ``problem.sample_batch`` alone in the same scan, to show how much of
   optdyn's step is spent drawing the batch.

All are timed interleaved (one chunk of each per repeat) so that load from other processes hits
them alike; the table reports the best (default) or median of ``--repeats`` chunks. Ratios above 1
mean optdyn is faster. The numbers are only meaningful as ratios on one machine in one run;
performance targets live here, never in timed unit tests. A chunk slower than ``--cutoff-ms``
per step (a thread pool starved by other processes does that) is stopped there, timed over the
steps it did, and that implementation is not repeated.

Numerical checks (cheap, printed first): one SGD step of optdyn and of each PyTorch variant from
the same parameters on the same batch gives the same loss, gradient and updated parameters; after
the warm-up chunk (the same number of steps from the same initial parameters, different random
streams) the exact population metrics of optdyn and of each PyTorch variant agree within SGD
noise. The exit status is 1 when a check fails, 0 otherwise (also when torch is missing).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

from torch_reference import TorchLoop, build_torch, check_after_training, check_one_step  # noqa: E402  (sibling script module)

TORCH_VERSION = "2.13.0"
INSTALL_HINT = (
    "PyTorch is not installed, so there is nothing to compare against. Install the pinned CPU\n"
    "wheel (an unpinned `pip install torch` pulls the multi-GB CUDA build):\n\n"
    f"    .venv/bin/pip install torch=={TORCH_VERSION}\n"
)


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# --- workloads ------------------------------------------------------------------------------------

LANGUAGE = {  # WSD fig07 (config/papers/wsd.yaml): n = 3600 cities, m = 10 names
    "name": "bigram_language", "n_deterministic": 1800, "n_stochastic": 1800, "names": 10,
    "det_entropy_max": 0.2, "sto_entropy_min": 1.0, "seed": 0,
}


def bigram_spec(batch_size: int) -> dict:
    return {
        "model": {"name": "bigram_softmax"},
        "data": {**LANGUAGE, "batch_size": batch_size},
        "schedule": {"name": "constant", "lr": 600.0},  # fig07's eta, SGD, zero init
        "steps": 10000,
        "progress": False,
    }


RIVER_SPEC = {  # WSD fig04, constant run: L = gamma x2^2/2 - x1, 4000 replicas, sigma = 100
    "model": {"name": "quadratic_river", "gamma": 10.0, "replicas": 4000, "noise_sigma": 100.0},
    "schedule": {"name": "constant", "lr": 0.02},
    "steps": 2200,
    "progress": False,
}


@dataclass
class Workload:
    key: str
    title: str
    spec: dict
    kind: str  # "bigram" | "river"


WORKLOADS = {
    w.key: w
    for w in [
        Workload("bigram_b2560", "WSD fig07 bigram (n=3600, m=10, B=2560, SGD eta=600)", bigram_spec(2560), "bigram"),
        Workload("bigram_b128", "the same with B=128", bigram_spec(128), "bigram"),
        Workload("river", "WSD fig04 quadratic river (4000 replicas, sigma=100, SGD eta=0.02)", RIVER_SPEC, "river"),
    ]
}

#: torch variants per workload kind (the river's loss has no faster formulation worth a variant)
VARIANTS = {"bigram": ("idiomatic", "tuned"), "river": ("idiomatic",)}


# --- timing ---------------------------------------------------------------------------------------


@dataclass
class Timings:
    rates: list[float] = field(default_factory=list)  # steps/s of each timed chunk
    walls: list[float] = field(default_factory=list)
    cpu: float = 0.0
    wall: float = 0.0
    cut: bool = False  # a chunk hit the cutoff: not repeated

    def add(self, fn: Callable[[], int]) -> int:
        c0, t0 = time.process_time(), time.perf_counter()
        done = fn()
        w = time.perf_counter() - t0
        self.cpu, self.wall = self.cpu + time.process_time() - c0, self.wall + w
        self.rates.append(done / w)
        self.walls.append(w)
        return done

    def rate(self, stat: str) -> float:
        return max(self.rates) if stat == "best" else statistics.median(self.rates)


def bench_workload(torch, wl: Workload, args, log=print) -> dict:
    import jax
    import jax.numpy as jnp

    from optdyn.spec.paper import RunSpec
    from optdyn.train.trainer import Trainer

    steps, threads = args.steps, args.threads
    trainer = Trainer(RunSpec.model_validate_json(json.dumps(wl.spec)))
    variants = VARIANTS[wl.kind]
    thread_counts = (threads, 1) if threads != 1 else (1,)
    checks_ok = True

    # --- numerical check of one step, per torch variant (throwaway instances) ---
    torch.set_num_threads(threads)
    for v in variants:
        ok, msg = check_one_step(torch, wl, trainer, build_torch(torch, wl, trainer, v))
        checks_ok &= ok
        log(f"  [{'ok' if ok else 'MISMATCH'}] one step from the same params on the same batch, torch {v}: {msg}")

    # --- 1. optdyn: Trainer.advance, one lax.scan chunk of `steps` ---
    box = {"s": trainer.init_state()}

    def optdyn_chunk(deadline: float = float("inf")) -> int:
        box["s"], _logged = trainer.advance(box["s"], steps)
        return steps

    # --- 2. torch: every variant at `threads` threads and at 1 thread (own instance each, same seed) ---
    impls: dict[str, TorchLoop] = {}
    nthreads: dict[str, int] = {}
    for v in variants:
        for k in thread_counts:
            label = "torch" + ("" if v == "idiomatic" else f" {v}") + f" {k}t"
            impls[label], nthreads[label] = build_torch(torch, wl, trainer, v), k

    def torch_chunk(label: str) -> Callable[[float], int]:
        def run(deadline: float = float("inf")) -> int:
            torch.set_num_threads(nthreads[label])
            return impls[label].run(steps, deadline)

        return run

    # --- 3. per-step jit: the trainer's own step, one dispatch per step ---
    step_fn = jax.jit(trainer._step)
    pbox = {"s": trainer.init_state()}

    def per_step_chunk(deadline: float = float("inf")) -> int:
        s, logs = pbox["s"], []
        for _ in range(steps):
            s, logged = step_fn(s, None)
            logs.append(logged)
        pbox["s"] = s
        jax.device_get(logs)
        return steps

    # --- 4. optdyn's batch sampling alone in the same scan (a checksum in the carry keeps XLA from
    # dropping the unused samples) ---
    def sample_only(carry, _):
        t, acc = carry
        batch = trainer.problem.sample_batch(jax.random.fold_in(trainer.data_key, t))
        return (t + 1, acc + sum(jnp.sum(x).astype(jnp.float32) for x in jax.tree.leaves(batch))), None

    sample_scan = jax.jit(lambda: jax.lax.scan(sample_only, (jnp.int32(0), jnp.float32(0)), None, length=steps)[0])

    def sampling_chunk(deadline: float = float("inf")) -> int:
        jax.block_until_ready(sample_scan())
        return steps

    runners: dict[str, Callable[[float], int]] = {"optdyn": optdyn_chunk}
    runners.update({label: torch_chunk(label) for label in impls})
    if not args.no_per_step:
        runners["per-step jit"] = per_step_chunk
    if not args.no_breakdown:
        runners["optdyn sampling only"] = sampling_chunk
    timings = {name: Timings() for name in runners}
    cutoff_s = args.cutoff_ms * 1e-3 * steps

    # warm-up: one full chunk each from the initial state (compiles the jitted ones)
    t0 = time.perf_counter()
    optdyn_chunk()
    compile_s = time.perf_counter() - t0
    for name, fn in runners.items():
        if name != "optdyn":
            done = fn(time.perf_counter() + cutoff_s)
            timings[name].cut = done < steps

    # equal step counts now (one chunk from the same init), so the population metrics compare
    for label, impl in impls.items():
        if timings[label].cut:
            log(f"  [skip] vs {label}: its warm-up chunk hit the cutoff; no population check")
            continue
        if nthreads[label] != 1 and f"{label[:-len(f'{threads}t')]}1t" in impls:
            continue  # the same computation as its 1-thread twin (same seed), checked there
        ok, msg = check_after_training(wl, trainer, box["s"]["params"], impl.params(), steps)
        checks_ok &= ok
        log(f"  [{'ok' if ok else 'MISMATCH'}] vs {label}: {msg}")

    for _ in range(args.repeats):  # interleaved, so outside load hits all of them alike
        for name, fn in runners.items():
            t = timings[name]
            if t.cut and t.rates:
                continue  # far too slow under the current load: one timed chunk is enough
            t.cut |= t.add(lambda: fn(time.perf_counter() + cutoff_s)) < steps
    torch.set_num_threads(threads)

    rates = {name: t.rate(args.stat) for name, t in timings.items()}
    for name, t in timings.items():
        note = "  CUT at the cutoff, not repeated" if t.cut else ""
        log(f"  {name:>20}: {rates[name]:9.0f} steps/s {1e6 / rates[name]:8.1f} us/step   chunks "
            f"{', '.join(f'{w * 1e3:.0f}' for w in t.walls)} ms, cpu/wall {t.cpu / t.wall:.2f}{note}")
    log(f"  optdyn compile + first chunk: {compile_s:.1f} s")
    if "optdyn sampling only" in rates:
        share = rates["optdyn"] / rates["optdyn sampling only"]
        log(f"  optdyn's batch sampling alone takes {100 * share:.0f}% of its step time")
    return {"workload": wl, "rates": rates, "cut": {k for k, t in timings.items() if t.cut}, "checks_ok": checks_ok}


# --- main -----------------------------------------------------------------------------------------


def fmt_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def fmt_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}x"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=1000, help="steps per timed chunk (default 1000)")
    ap.add_argument("--repeats", type=int, default=5, help="timed chunks per implementation (default 5)")
    ap.add_argument("--stat", choices=["best", "median"], default="best", help="statistic over the repeats")
    ap.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    ap.add_argument("--cpus", type=int, default=None,
                    help="restrict the process (XLA's and torch's threads) to its first CPUS cores (default: all)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: the cores available)")
    ap.add_argument("--cutoff-ms", type=float, default=5.0,
                    help="stop a chunk once it has run steps x this many ms, and do not repeat it (default 5)")
    ap.add_argument("--no-per-step", action="store_true", help="skip the per-step jax.jit loop")
    ap.add_argument("--no-breakdown", action="store_true", help="skip timing optdyn's batch sampling alone")
    args = ap.parse_args(argv)
    if args.steps < 100:
        ap.error("--steps must be at least 100 (the population checks need the runs near stationarity)")

    if args.cpus is not None:  # before jax and torch start their thread pools
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.cpus])
    args.threads = args.threads or cores()

    try:
        import torch
    except ImportError:
        print(INSTALL_HINT)
        return 0

    import jax
    import jaxlib

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"optdyn trainer benchmark: {args.steps} steps/chunk, {args.repeats} repeats, stat = {args.stat}")
    print(f"  python {platform.python_version()}, jax {jax.__version__} (jaxlib {jaxlib.__version__}, "
          f"{jax.devices()[0].platform}), torch {torch.__version__}; {cores()} cores, torch threads {args.threads}; "
          f"load average {load:.2f}")
    if load > 0.5 * cores():
        print(f"  WARNING: load average {load:.1f} on {cores()} cores: other processes compete for the CPU, so the "
              "numbers are low and noisy, multi-threaded runs (XLA's and torch's) most; rerun on an idle machine.")

    results = []
    for key in args.workloads:
        wl = WORKLOADS[key]
        print(f"\n{key}: {wl.title}")
        results.append(bench_workload(torch, wl, args))

    main_t = f"torch {args.threads}t"
    cols = ["workload", "optdyn", main_t, "best torch", "optdyn/torch", "optdyn/best torch", "per-step jit",
            "scan/per-step"]
    rows = []
    for r in results:
        rt = r["rates"]
        torch_rates = {k: v for k, v in rt.items() if k.startswith("torch")}
        best = max(torch_rates, key=torch_rates.get)
        ps = rt.get("per-step jit")
        star = lambda k: "*" if k in r["cut"] else ""  # noqa: E731
        rows.append([
            r["workload"].key, fmt_rate(rt["optdyn"]), fmt_rate(rt[main_t]) + star(main_t),
            f"{fmt_rate(torch_rates[best])} ({best.removeprefix('torch ')})",
            fmt_ratio(rt["optdyn"] / rt[main_t]), fmt_ratio(rt["optdyn"] / torch_rates[best]),
            fmt_rate(ps), fmt_ratio(rt["optdyn"] / ps if ps else None),
        ])
    widths = [max(len(c), *(len(row[i]) for row in rows)) for i, c in enumerate(cols)]
    print(f"\nsteps/s, {args.stat} of {args.repeats} chunks of {args.steps} steps; ratios > 1: optdyn faster\n")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(cols, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths))) + " |")
    print(f"\n{main_t}: idiomatic eager PyTorch at the machine's thread count; best torch: the fastest torch variant\n"
          "and thread count; scan/per-step: Trainer.advance against one jax.jit dispatch per step; *: hit the cutoff.")
    bad = [r["workload"].key for r in results if not r["checks_ok"]]
    if bad:
        print(f"NUMERICAL CHECK FAILED for: {', '.join(bad)}")
        return 1
    print("all numerical checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
