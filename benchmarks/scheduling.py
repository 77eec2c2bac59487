#!/usr/bin/env python
"""Snakemake's own scheduling cost on this workflow: the default profile against plain ``-c2``.

Run from the repository root (Linux: the main process's CPU time is read from ``/proc``):

    .venv/bin/python benchmarks/scheduling.py              # the smoke tier's spec jobs, ~4 minutes
    .venv/bin/python benchmarks/scheduling.py --tier tiny  # ~1 minute
    .venv/bin/python benchmarks/scheduling.py --help

Builds the tier's spec jobs only (``--until spec``: hundreds of sub-second jobs, all ready at
once, which is where Snakemake's rescheduling costs most) into fresh temporary folders, once with
``snakemake -c2`` (the reference) and once with ``snakemake --profile workflow/profiles/default``,
alternating ``--repeats`` times, and prints each build's wall time and the CPU time of the main
Snakemake process (the jobs' own time excluded), then the ratios. docs/performance.md says why
the profile lifts Snakemake's submission rate limit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = {"-c2": ["-c2"], "default profile": ["--profile", "workflow/profiles/default"]}


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def build_specs(args: list[str], tier: str) -> tuple[float, float]:
    """(wall s, main-process CPU s) of one cold ``--until spec`` build."""
    out = Path(tempfile.mkdtemp(prefix="optdyn-sched-"))
    exe = Path(sys.executable).with_name("snakemake")
    cmd = [str(exe), *args, "--until", "spec", "--config", f"tier={tier}", f"results={out}/r", f"resources={out}/res"]
    log = out / "snakemake.log"  # a file, not a pipe: Snakemake's log would fill a pipe and block it
    t0 = time.perf_counter()
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        cpu = 0.0
        while proc.poll() is None:
            cpu = _cpu_seconds(proc.pid) or cpu
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    tail = log.read_text()[-2000:]
    shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed (rc={proc.returncode}):\n{tail}")
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tier", default="smoke", help="the tier whose spec jobs are built (default smoke)")
    ap.add_argument("--repeats", type=int, default=1, help="alternating builds of each variant (default 1)")
    args = ap.parse_args()
    if not Path("/proc/self/stat").exists():
        raise SystemExit("needs Linux's /proc to read the main process's CPU time")
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in VARIANTS}
    for r in range(args.repeats):
        for name, flags in VARIANTS.items():
            wall, cpu = build_specs(flags, args.tier)
            times[name].append((wall, cpu))
            print(f"[{r + 1}/{args.repeats}] {name:16s} wall {wall:7.1f} s   main process CPU {cpu:6.1f} s "
                  f"({100 * cpu / wall:4.1f}% of a core)", flush=True)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in times.items()}
    ref, new = med["-c2"], med["default profile"]
    print(f"\nspec jobs of the {args.tier} tier, median of {args.repeats}: wall profile/-c2 = {new[0] / ref[0]:.2f}, "
          f"main-process CPU profile/-c2 = {new[1] / max(ref[1], 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
