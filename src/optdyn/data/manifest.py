"""sha256 manifests of prepared datasets: every file's size and hash, plus how it was made.

A prepared folder is trusted only through its manifest, so a flipped byte, a truncated array or
a stray edit is refused with one line naming the file, before any job reads the numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from optdyn.data.errors import DataError

MANIFEST = "manifest.json"
_CHUNK = 1 << 22


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


#: files that are not data: Snakemake marks a finished directory output with this one
NOT_DATA = (MANIFEST, ".snakemake_timestamp")


def _data_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in NOT_DATA)


def write_manifest(root: str | Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Hash every file under ``root`` and write ``root/manifest.json`` (atomically, last, so a
    folder with a manifest is a finished one). ``meta`` records what was prepared and how."""
    root = Path(root)
    files = {
        p.relative_to(root).as_posix(): {"size": p.stat().st_size, "sha256": sha256_file(p)}
        for p in _data_files(root)
    }
    manifest = {"meta": meta, "files": files}
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True, default=str))
    os.replace(tmp, root / MANIFEST)
    return manifest


def read_manifest(root: str | Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise DataError.not_found(path, "manifest", "a prepared dataset (run `optdyn data <name>` first)")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise DataError(path, "manifest", f"invalid JSON ({e.msg} at line {e.lineno})", "the JSON written by prepare") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise DataError(path, "manifest", "no 'files' table", "{meta: ..., files: {path: {size, sha256}}}")
    return manifest


def verify_manifest(root: str | Path, hashes: bool = True) -> dict[str, Any]:
    """Check every listed file's size (catches truncation cheaply) and, with ``hashes``, its
    sha256; also refuse files the manifest does not list. Returns the manifest."""
    root = Path(root)
    manifest = read_manifest(root)
    listed = manifest["files"]
    for rel, want in sorted(listed.items()):
        path = root / rel
        if not path.is_file():
            raise DataError.not_found(path, "file", f"{want['size']} bytes listed in {root / MANIFEST}")
        size = path.stat().st_size
        if size != want["size"]:
            raise DataError(path, "size", f"{size} bytes", f"{want['size']} bytes (truncated or modified)")
        if hashes:
            digest = sha256_file(path)
            if digest != want["sha256"]:
                raise DataError(path, "sha256", digest, f"{want['sha256']} (file corrupted or modified)")
    extra = [p.relative_to(root).as_posix() for p in _data_files(root)]
    extra = [p for p in extra if p not in listed]
    if extra:
        raise DataError(root / extra[0], "file", "not in manifest", f"only the files listed in {root / MANIFEST}")
    return manifest
