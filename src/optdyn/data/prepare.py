"""Prepare a dataset by name into ``resources/data/<name>/`` with a sha256 manifest, and load
it back only through that manifest.

A folder is built under a temporary name and renamed into place when complete, so a crash
leaves nothing that looks prepared. An existing preparation is never overwritten: the same
kind and parameters reuse it (after verification), different ones are refused.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optdyn.data.builders import KINDS
from optdyn.data.errors import DataError
from optdyn.data.manifest import MANIFEST, read_manifest, verify_manifest, write_manifest
from optdyn.data.pack import load_tokens

DEFAULT_ROOT = Path("resources/data")
FORMAT_VERSION = 1  # bump when a builder's output changes for the same parameters


@dataclass
class Prepared:
    name: str
    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]


def resolve_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The builder's full parameters (defaults filled in, JSON-normalized), refusing unknown
    or missing keys in one line."""
    if kind not in KINDS:
        raise DataError("data", "kind", kind, "one of " + ", ".join(KINDS))
    sig = inspect.signature(KINDS[kind])
    allowed = [p for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    names = [p.name for p in allowed]
    for key in params:
        if key not in names:
            raise DataError("data", f"{kind}.{key}", params[key], "a known key; allowed: " + ", ".join(names))
    out = {}
    for p in allowed:
        if p.name not in params and p.default is inspect.Parameter.empty:
            raise DataError("data", f"{kind}.{p.name}", None, "a value (required key)")
        out[p.name] = params.get(p.name, p.default)
    return json.loads(json.dumps(out, default=str))  # tuples -> lists, paths -> str, as stored


def _identity(name: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "kind": kind, "params": params, "format_version": FORMAT_VERSION}


def prepare(name: str, kind: str, params: dict[str, Any] | None = None, root: str | Path = DEFAULT_ROOT) -> dict[str, Any]:
    """Build ``root/name`` (unless an identical preparation is there) and return its manifest."""
    params = resolve_params(kind, params or {})
    want = _identity(name, kind, params)
    root = Path(root)
    final = root / name
    if final.is_dir() and not any(final.iterdir()):
        final.rmdir()  # an empty folder holds nothing to lose (Snakemake makes its output's folder first)
    if final.exists():
        if not (final / MANIFEST).is_file():
            raise DataError(final, "folder", "exists without a manifest", "no folder (move it away; prepare never overwrites)")
        have = read_manifest(final)["meta"]
        have_id = {k: have.get(k) for k in want}
        if have_id != want:
            diff = sorted(k for k in set(want["params"]) | set(have.get("params") or {})
                          if want["params"].get(k) != (have.get("params") or {}).get(k))
            shown = ", ".join(f"{k}={want['params'].get(k)!r}" for k in diff) or f"{kind} v{FORMAT_VERSION}"
            stored = ", ".join(f"{k}={(have.get('params') or {}).get(k)!r}" for k in diff) or f"{have.get('kind')} v{have.get('format_version')}"
            raise DataError(final / MANIFEST, "prepared with", shown, f"{stored} (a different preparation; use a new name or move it away)")
        return verify_manifest(final)
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        info = KINDS[kind](tmp, **params)
        manifest = write_manifest(tmp, want | {"info": info})
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def load_prepared(name: str, root: str | Path = DEFAULT_ROOT, hashes: bool = True) -> Prepared:
    """Verify ``root/name``'s manifest (sizes always, sha256 unless ``hashes=False``), then
    return its arrays: .npy files memory-mapped, packed .bin token files as np.memmap."""
    path = Path(root) / name
    if not path.is_dir():
        raise DataError(path, "dataset", "not prepared", f"a folder made by prepare('{name}', ...)")
    manifest = verify_manifest(path, hashes=hashes)
    meta, info = manifest["meta"], manifest["meta"].get("info", {})
    arrays: dict[str, np.ndarray] = {}
    for rel in manifest["files"]:
        file = path / rel
        key = Path(rel).stem
        if rel.endswith(".npy"):
            try:
                arrays[key] = np.load(file, mmap_mode="r")
            except ValueError as e:
                raise DataError(file, "npy", f"unreadable ({e})", "an array written by prepare") from None
        elif rel.endswith(".bin"):
            arrays[key] = load_tokens(file, info["dtype"], info["tokens"][key])
    return Prepared(name, path, meta, arrays)


def load_square_images(dataset: str, root: str | Path, model: str):
    """(x_train, y_train, x_test, y_test, fill) of a prepared image dataset as numpy arrays
    (int32 labels), for a network that needs square NHWC images (anything else is a one-line
    error naming the model and the shape). ``fill``: the normalized value of a black pixel per
    channel, what crop padding uses, since torchvision pads with 0 before normalizing."""
    import numpy as np

    ds = load_prepared(dataset, root)
    x_train, y_train = np.asarray(ds["x_train"]), np.asarray(ds["y_train"]).astype(np.int32)
    x_test, y_test = np.asarray(ds["x_test"]), np.asarray(ds["y_test"]).astype(np.int32)
    if x_train.ndim != 4 or x_train.shape[1] != x_train.shape[2]:
        raise ValueError(f"model '{model}' needs square NHWC images; '{dataset}' has x_train of shape {x_train.shape}")
    c = x_train.shape[-1]
    mean = np.asarray(ds["norm_mean"], np.float32).reshape(-1, c).mean(0) if "norm_mean" in ds.arrays else np.zeros(c, np.float32)
    std = np.asarray(ds["norm_std"], np.float32).reshape(-1, c).mean(0) if "norm_std" in ds.arrays else np.ones(c, np.float32)
    return x_train, y_train, x_test, y_test, -mean / np.where(std > 0, std, 1.0)
