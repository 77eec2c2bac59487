"""What a researcher needs to trust (or redo) a run: spec, ids, code version, machine, time."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

PACKAGES = ("optdyn", "jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy", "snakemake")


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return "unknown"
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def device() -> str:
    import jax

    devs = jax.devices()
    return f"{len(devs)} x {devs[0].device_kind} ({jax.default_backend()})"


def write_json(path: Path, data: dict) -> None:
    """Write-then-rename, so a reader never sees half a file."""
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def record(**fields) -> dict:
    return {
        **fields,
        "git_commit": git_commit(),
        "versions": versions(),
        "device": device(),
        "host": platform.node(),
        "python": sys.version.split()[0],
        "argv": sys.argv,
    }
