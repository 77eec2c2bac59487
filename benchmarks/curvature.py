#!/usr/bin/env python
"""Cost of curvature: a Hessian-vector product against a gradient, and Lanczos against power
iteration in Hessian-vector products to a given accuracy of the sharpness lambda_1.

Run from the repository root (well under a minute on 2 idle cores; see benchmarks/README.md):

    .venv/bin/python benchmarks/curvature.py
    .venv/bin/python benchmarks/curvature.py --models mlp --repeats 9 --tol 1e-6

Workloads (plain JAX, synthetic data, float32, mean cross-entropy at the random init):
``mlp`` a 32-64-64-10 tanh MLP (6,922 params) on 256 Gaussian inputs; ``cnn`` two 3x3
convolutions (8, 16 channels, the second with stride 2, swish), global average pooling and a
linear head (1,554 params) on 128 random 8x8x3 images. Labels come from a random teacher of the same inputs.

1. Time per call (best of ``--repeats`` rounds of ``--calls`` calls, each jitted function timed
   interleaved in every round so load hits them alike) of the loss, the gradient, the HVP as
   optdyn computes it (``curvature.hvp``: forward-over-reverse, ``jvp`` of ``grad``) and, for
   reference, reverse-over-reverse (``grad`` of <grad, v>). Printed as ratios to one gradient;
   the textbook cost of forward-over-reverse is about 2x (``--max-hvp-ratio`` is the target).
2. HVPs to reach ``--tol`` relative error of lambda_1: the Ritz value of the leading m x m block of
   one long Lanczos tridiagonal is exactly m-step Lanczos, so one run gives the count (the first
   m from which it stays within ``--tol``); power iteration (driven step by step from Python)
   counts steps until its Rayleigh quotient enters ``--tol`` for good (it must then hold for as
   many steps again, at least 50). The median over ``--starts`` random start vectors is printed
   with the range. The reference lambda_1 is a longer Lanczos run from another start, certified
   by its residual. lambda_2 / lambda_1 and lambda_min / lambda_1 set power iteration's rate,
   max(|lambda_2|, |lambda_min|) / lambda_1 per step (squared for the Rayleigh quotient).

Numerical checks (exit status 1 if one fails): the HVP equals a central finite difference of
gradients (float64, relative 1e-6), forward-over-reverse equals reverse-over-reverse, and the
reference eigenpair's residual ||Hv - lambda v|| is below tol / 10 * lambda.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)  # float64 only for the finite-difference check; the workloads are float32

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from scipy.linalg import eigvalsh_tridiagonal  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from optdyn import curvature as C  # noqa: E402

F32 = jnp.float32


def _normal(rng, *shape):
    return jnp.asarray(rng.normal(size=shape), F32)  # numpy: eager jax.random would compile per shape


def _dense(rng, fan_in, fan_out):
    return {"w": _normal(rng, fan_in, fan_out) / float(np.sqrt(fan_in)), "b": jnp.zeros(fan_out, F32)}


def _conv(rng, k, c_in, c_out):
    return {"w": _normal(rng, k, k, c_in, c_out) / float(np.sqrt(k * k * c_in)), "b": jnp.zeros(c_out, F32)}


def _ce(logits, labels):
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], axis=1))


def mlp_workload(rng):
    params = [_dense(rng, 32, 64), _dense(rng, 64, 64), _dense(rng, 64, 10)]

    def logits(p, x):
        for layer in p[:-1]:
            x = jnp.tanh(x @ layer["w"] + layer["b"])
        return x @ p[-1]["w"] + p[-1]["b"]

    x = _normal(rng, 256, 32)
    y = jnp.argmax(x @ _normal(rng, 32, 10), axis=1)
    return lambda p, batch: _ce(logits(p, batch[0]), batch[1]), params, (x, y)


def cnn_workload(rng):
    params = {"c1": _conv(rng, 3, 3, 8), "c2": _conv(rng, 3, 8, 16), "head": _dense(rng, 16, 10)}

    def conv(x, layer, stride):
        y = jax.lax.conv_general_dilated(x, layer["w"], (stride, stride), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return jax.nn.swish(y + layer["b"])

    def logits(p, x):
        h = conv(conv(x, p["c1"], 1), p["c2"], 2).mean(axis=(1, 2))
        return h @ p["head"]["w"] + p["head"]["b"]

    x = _normal(rng, 128, 8, 8, 3)
    y = jnp.argmax(x.mean(axis=(1, 2)) @ _normal(rng, 3, 10), axis=1)
    return lambda p, batch: _ce(logits(p, batch[0]), batch[1]), params, (x, y)


WORKLOADS = {"mlp": mlp_workload, "cnn": cnn_workload}


# --- 1. time per call ---------------------------------------------------------------------------


def time_calls(fns: dict, x, v, calls: int, repeats: int) -> dict[str, float]:
    """Best seconds per call of each jitted function, timed interleaved round by round."""
    for fn in fns.values():  # compile and warm up
        jax.block_until_ready(fn(x, v))
    best = {name: float("inf") for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t = time.perf_counter()
            for _ in range(calls):
                out = fn(x, v)
            jax.block_until_ready(out)
            best[name] = min(best[name], (time.perf_counter() - t) / calls)
    return best


# --- 2. matvecs to a given accuracy ---------------------------------------------------------------


def lanczos_count(alpha, beta, lam, tol) -> int | None:
    """Smallest m whose m-step Ritz value is within ``tol`` (relative) of ``lam`` from then on."""
    alpha, beta = np.asarray(alpha, np.float64), np.asarray(beta, np.float64)
    top = [eigvalsh_tridiagonal(alpha[:m], beta[: m - 1], select="i", select_range=(m - 1, m - 1))[0]
           for m in range(1, alpha.size + 1)]
    errs = np.abs(np.array(top) - lam) / abs(lam)
    return first_staying_below(errs, tol)


def first_staying_below(errs: np.ndarray, tol: float) -> int | None:
    """1-based index after which every entry of ``errs`` is <= tol (None if the last is not)."""
    bad = np.flatnonzero(errs > tol)
    if bad.size == errs.size:
        return None
    return 1 if bad.size == 0 else int(bad[-1]) + 2 if bad[-1] + 1 < errs.size else None


def power_count(step, v, lam: float, tol: float, cap: int, hold: int = 50) -> int | None:
    """Power steps (one matvec each, ``step`` jitted and driven from Python) until the Rayleigh
    quotient is within ``tol`` of ``lam``; returns the step that began the final run within
    ``tol`` once it has held ``max(hold, that step)`` more steps, or None at ``cap`` steps."""
    v = v / jnp.linalg.norm(v)
    since = None
    for t in range(1, cap + 1):
        v, rq = step(v)
        if abs(float(rq) - lam) <= tol * abs(lam):
            since = since or t
            if t - since >= max(hold, since):
                return since
        else:
            since = None
    return None


def fmt_count(n: int | None, cap: int) -> str:
    return f">{cap}" if n is None else str(n)


def bench_model(name: str, args) -> tuple[dict, list[str]]:
    loss, params, batch = WORKLOADS[name](np.random.default_rng(0))
    f, x, _ = C.flatten(loss, params, batch)
    dim, failed = x.shape[0], []
    v = _normal(np.random.default_rng(1), dim)

    fns = {
        "loss": jax.jit(lambda x, v: f(x)),
        "grad": jax.jit(lambda x, v: jax.grad(f)(x)),
        "hvp": jax.jit(lambda x, v: C.hvp(f, x, v)),
        "hvp_rr": jax.jit(lambda x, v: jax.grad(lambda y: jnp.vdot(jax.grad(f)(y), v))(x)),
    }
    t = time_calls(fns, x, v, args.calls, args.repeats)

    # checks, in float64, each one compiled program (eager ops would each compile on their own)
    f64, x64, _ = C.flatten(loss, jax.tree.map(lambda a: a.astype(jnp.float64), params),
                            (batch[0].astype(jnp.float64), batch[1]))

    @jax.jit
    def fd_error(x, v, h=1e-4):
        g = jax.grad(f64)
        hv = C.hvp(f64, x, v)
        return jnp.linalg.norm((g(x + h * v) - g(x - h * v)) / (2 * h) - hv) / jnp.linalg.norm(hv)

    if float(fd_error(x64, v.astype(jnp.float64))) > 1e-6:
        failed.append(f"{name}: HVP vs finite differences")
    hv32, rr32 = fns["hvp"](x, v), fns["hvp_rr"](x, v)
    if float(jnp.linalg.norm(hv32 - rr32) / jnp.linalg.norm(rr32)) > 1e-4:
        failed.append(f"{name}: forward-over-reverse vs reverse-over-reverse")

    @jax.jit
    def reference(x, key):
        # a longer Lanczos run from another start; its residual certifies lambda_1 (an
        # eigenvalue lies within ||Hv - lv|| of l), float32 is ample for a 1e-4 target
        alpha, beta, Q = C.lanczos_tridiagonal(lambda u: C.hvp(f, x, u), dim, args.ref_iters, key)
        theta, S = jnp.linalg.eigh(C.tridiagonal(alpha, beta))
        v1 = Q.T @ S[:, -1]
        return theta[-1], theta[-2], theta[0], jnp.linalg.norm(C.hvp(f, x, v1) - theta[-1] * v1)

    lam, lam2, lam_min, resid = (float(a) for a in reference(x, jax.random.PRNGKey(99)))
    if not resid < 0.1 * args.tol * abs(lam):
        failed.append(f"{name}: reference lambda_1 residual {resid:.1e} is not below {0.1 * args.tol:g} lambda_1")

    lanc = jax.jit(lambda x, key: C.lanczos_tridiagonal(lambda u: C.hvp(f, x, u), dim, args.max_lanczos, key)[:2])

    @jax.jit
    def power_step(v):
        w = C.hvp(f, x, v)
        return w / jnp.linalg.norm(w), jnp.vdot(v, w)

    n_lanczos, n_power = [], []
    for s in range(args.starts):
        key = jax.random.PRNGKey(100 + s)
        alpha, beta = lanc(x, key)
        n_lanczos.append(lanczos_count(alpha, beta, lam, args.tol))
        start = _normal(np.random.default_rng(100 + s), dim)
        n_power.append(power_count(power_step, start, lam, args.tol, args.max_power))
    return {
        "model": name, "params": dim, "t": t, "lam": lam, "lam2": lam2, "lam_min": lam_min, "resid": resid,
        "lanczos": n_lanczos, "power": n_power,
    }, failed


def summary(counts: list[int | None], cap: int) -> tuple[str, float | None]:
    if any(c is None for c in counts):
        return f"{fmt_count(None, cap)} ({sum(c is None for c in counts)}/{len(counts)} not reached)", None
    med = statistics.median(counts)
    return f"{med:g} ({min(counts)}-{max(counts)})", med


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", choices=sorted(WORKLOADS), default=["mlp", "cnn"])
    p.add_argument("--calls", type=int, default=20, help="calls per timed round")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds (best is reported)")
    p.add_argument("--tol", type=float, default=1e-4, help="relative accuracy of lambda_1 to count HVPs to")
    p.add_argument("--starts", type=int, default=3, help="random start vectors per solver")
    p.add_argument("--max-lanczos", type=int, default=120, help="Lanczos steps run (the count's cap)")
    p.add_argument("--max-power", type=int, default=2000, help="power steps run (the count's cap)")
    p.add_argument("--ref-iters", type=int, default=150, help="Lanczos steps of the reference lambda_1")
    p.add_argument("--max-hvp-ratio", type=float, default=3.0, help="target: HVP time / gradient time")
    args = p.parse_args(argv)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    ncores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"optdyn curvature benchmark: python {platform.python_version()}, jax {jax.__version__} "
          f"({jax.devices()[0].platform}), {ncores} cores, load average {load:.1f}")
    results, failed = [], []
    for name in args.models:
        started = time.perf_counter()
        r, bad = bench_model(name, args)
        results.append(r)
        failed += bad
        took = time.perf_counter() - started
        print(f"  {name}: {r['params']:,} params, {took:.1f} s (compiles included)", flush=True)

    print(f"\n1. time per call (best of {args.repeats} x {args.calls} calls, float32), as a multiple of one gradient\n")
    print("| model | params | gradient (ms) | loss / grad | HVP fwd-over-rev / grad | HVP rev-over-rev / grad |")
    print("|---|---|---|---|---|---|")
    for r in results:
        t = r["t"]
        print(f"| {r['model']} | {r['params']:,} | {1e3 * t['grad']:.3f} | {t['loss'] / t['grad']:.2f} | "
              f"**{t['hvp'] / t['grad']:.2f}** | {t['hvp_rr'] / t['grad']:.2f} |")
    print(f"\n2. HVPs until lambda_1 stays within {args.tol:g} (relative), median (range) over {args.starts} starts\n")
    print("| model | lambda_1 | lambda_2 / lambda_1 | lambda_min / lambda_1 | Lanczos | power iteration "
          "| power / Lanczos |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        lan, lan_med = summary(r["lanczos"], args.max_lanczos)
        pow_, pow_med = summary(r["power"], args.max_power)
        ratio = f"**{pow_med / lan_med:.1f}**" if lan_med and pow_med else "n/a"
        print(f"| {r['model']} | {r['lam']:.5g} | {r['lam2'] / r['lam']:.4f} | {r['lam_min'] / r['lam']:.4f} | "
              f"{lan} | {pow_} | {ratio} |")
    slow = [r["model"] for r in results if r["t"]["hvp"] / r["t"]["grad"] > args.max_hvp_ratio]
    if slow:
        print(f"\nHVP / gradient above the target {args.max_hvp_ratio:g}x for: {', '.join(slow)}")
    if failed:
        print(f"\nNUMERICAL CHECK FAILED: {'; '.join(failed)}")
        return 1
    print("\nall numerical checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
