"""Image datasets: scikit-learn's bundled digits and CIFAR-10/100 from local copies, subset
rules and normalization statistics, each a named choice because the papers' codes differ
(conventions.md: Cohen takes the first 5000 and per-pixel stats, Damian the first 5000 and
per-channel subset stats, Ren 500/class at random with constants).

Images are NHWC; CIFAR pixels stay uint8 until normalization.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from optdyn.data.errors import DataError

# Widely used per-channel constants (pixels scaled to [0, 1]); which one a paper's code used is
# pinned in its YAML, not here
CHANNEL_CONSTANTS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar10_kuangliu": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
CIFAR10_CATS, CIFAR10_DOGS = 3, 5

_LAYOUTS = {  # split -> member names; label key
    "cifar10": {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"], "meta": "batches.meta"},
    "cifar100": {"train": ["train"], "test": ["test"], "meta": "meta"},
}


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled 1797 8x8 digits (no download): x (N, 8, 8, 1) float32 in [0, 1]
    (the raw 0..16 grey levels / 16), y int64."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    return (d.images / 16.0).astype(np.float32)[..., None], d.target.astype(np.int64)


def _cifar_members(path: Path) -> dict[str, bytes] | Path:
    """Basename -> bytes for a tarball; the folder holding the batches for an extracted copy."""
    if path.is_dir():
        for cand in (path, path / "cifar-10-batches-py", path / "cifar-100-python"):
            if (cand / "batches.meta").is_file() or (cand / "meta").is_file():
                return cand
        raise DataError(path, "CIFAR folder", "no batches.meta or meta file", "the extracted cifar-10-batches-py or cifar-100-python folder")
    if not path.is_file():
        raise DataError.not_found(path, "CIFAR source", "cifar-10-python.tar.gz, cifar-100-python.tar.gz or their extracted folder"
                                 " (nothing is downloaded: put a local copy there, or point the dataset's `source:` in config/data.yaml at one)")
    try:
        with tarfile.open(path, "r:*") as tar:
            return {Path(m.name).name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    except (tarfile.TarError, EOFError, OSError) as e:
        raise DataError(path, "CIFAR tarball", f"unreadable ({e})", "the official python-version tarball") from None


#: every global the official CIFAR-10/100 python batches (and numpy's own array pickles) need:
#: numpy's array and scalar reconstruction, and builtins that construct plain data
_PICKLE_GLOBALS = {
    **{(m, "_reconstruct"): None for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "scalar"): None for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "_frombuffer"): None for m in ("numpy.core.numeric", "numpy._core.numeric")},  # protocol 5
    ("numpy", "ndarray"): None,
    ("numpy", "dtype"): None,
    ("_codecs", "encode"): None,  # bytes in a protocol-2 pickle written by Python 3
    **{(m, n): None for m in ("builtins", "__builtin__") for n in ("dict", "list", "str", "bytes", "bytearray", "int")},
}


class _Refused(pickle.UnpicklingError):
    pass


class _CifarUnpickler(pickle.Unpickler):
    """``pickle.load`` imports and calls whatever the file names, so a CIFAR copy from anywhere
    could run code; this one resolves only the globals of ``_PICKLE_GLOBALS``."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _PICKLE_GLOBALS:
            raise _Refused(f"{module}.{name}")
        return super().find_class(module, name)


def _unpickle(members: dict[str, bytes] | Path, name: str, source: Path) -> dict:
    try:
        raw = (members / name).read_bytes() if isinstance(members, Path) else members[name]
    except (KeyError, FileNotFoundError):
        raise DataError(source, "CIFAR member", name + " missing", "the official batch files") from None
    try:
        out = _CifarUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as e:
        raise DataError(source, f"CIFAR member {name}", f"a pickle that calls {e}",
                        "the official batch files (numpy arrays, lists and dicts only; anything else could run code)") from None
    except Exception as e:  # truncated pickles raise several different types
        raise DataError(source, f"CIFAR member {name}", f"unreadable pickle ({type(e).__name__})", "a pickled dict batch") from None
    if not isinstance(out, dict):
        raise DataError(source, f"CIFAR member {name}", f"a pickled {type(out).__name__}", "a pickled dict batch")
    return out


def read_cifar(
    path: str | Path,
    split: Literal["train", "test"] = "train",
    label: Literal["fine", "coarse"] = "fine",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """CIFAR-10 or CIFAR-100 (detected from the files) from the official python tarball or its
    extracted folder: x (N, 32, 32, 3) uint8, y int64 in the official order, class names.
    ``label`` picks CIFAR-100's fine (100) or coarse (20) labels."""
    path = Path(path)
    members = _cifar_members(path)
    names = set(p.name for p in members.iterdir()) if isinstance(members, Path) else set(members)
    kind = "cifar10" if "batches.meta" in names else "cifar100" if "meta" in names else None
    if kind is None:
        raise DataError(path, "CIFAR layout", "no batches.meta or meta member", "the official CIFAR-10/100 python version")
    layout = _LAYOUTS[kind]
    meta = _unpickle(members, layout["meta"], path)
    if kind == "cifar10":
        key, classes = b"labels", meta[b"label_names"]
    else:
        key = b"fine_labels" if label == "fine" else b"coarse_labels"
        classes = meta[b"fine_label_names" if label == "fine" else b"coarse_label_names"]
    xs, ys = [], []
    for name in layout[split]:
        batch = _unpickle(members, name, path)
        data = np.asarray(batch[b"data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3072 or len(batch[key]) != len(data):
            raise DataError(path, f"CIFAR member {name}", f"data {data.shape}, {len(batch[key])} labels", "(N, 3072) uint8 with N labels")
        xs.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[key], dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys), [c.decode() for c in classes]


# ---- subset rules: each returns indices into the source, in the source's order ----

def first_n(y: np.ndarray, n: int) -> np.ndarray:
    """The first n examples (Cohen's and Damian's cifar10-5k), whatever their classes."""
    if n > len(y):
        raise DataError("subset", "first_n.n", n, f"at most {len(y)} (the source size)")
    return np.arange(n)


def _per_class(y: np.ndarray, per_class: int, classes: Sequence[int] | None, rule: str, pick) -> np.ndarray:
    """``pick(indices of class c)`` for each class, sorted back into source order."""
    picked = []
    for c in np.unique(y) if classes is None else classes:
        idx = np.flatnonzero(y == c)
        if len(idx) < per_class:
            raise DataError("subset", f"{rule} (class {c})", f"{len(idx)} examples", f"at least {per_class}")
        picked.append(pick(idx))
    return np.sort(np.concatenate(picked))


def first_per_class(y: np.ndarray, per_class: int, classes: Sequence[int] | None = None) -> np.ndarray:
    """The first ``per_class`` examples of each class, scanning in order (CIFAR-10-2k: 200 per
    class; Damian's cats-vs-dogs: the first 2500 cats and 2500 dogs)."""
    return _per_class(y, per_class, classes, "first_per_class", lambda idx: idx[:per_class])


def balanced_random(y: np.ndarray, per_class: int, seed: int, classes: Sequence[int] | None = None) -> np.ndarray:
    """``per_class`` examples of each class drawn without replacement by a seeded numpy
    Generator (Ren et al. draw 500/class with seed 23479 through their own RNG, so the same seed
    does not give their exact images)."""
    rng = np.random.default_rng(seed)
    return _per_class(y, per_class, classes, "balanced_random", lambda idx: rng.choice(idx, size=per_class, replace=False))


def select(y: np.ndarray, rule: str = "all", n: int | None = None, per_class: int | None = None,
           seed: int = 0, classes: Sequence[int] | None = None) -> np.ndarray:
    """Indices of a named subset rule: all | first_n | first_per_class | balanced_random. With
    ``classes``, only those classes are kept (before ``first_n``)."""
    pool = np.arange(len(y)) if classes is None else np.flatnonzero(np.isin(y, classes))
    if rule == "all":
        return pool
    if rule == "first_n":
        return pool[first_n(y[pool], n)]
    if rule == "first_per_class":
        return first_per_class(y, per_class, classes)
    if rule == "balanced_random":
        return balanced_random(y, per_class, seed, classes)
    raise DataError("subset", "rule", rule, "one of all, first_n, first_per_class, balanced_random")


def relabel(y: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Map ``classes[k]`` -> k (a class pair becomes 0/1 in the given order)."""
    out = np.full(len(y), -1, dtype=np.int64)
    for k, c in enumerate(classes):
        out[y == c] = k
    if (out < 0).any():
        raise DataError("labels", "relabel", sorted(set(y[out < 0].tolist()))[:5], f"only classes {list(classes)}")
    return out


# ---- normalization ----

def normalization_stats(x: np.ndarray, mode: str, constants: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) broadcastable against x (N, H, W, C) in [0, 1]:
    per_channel (over N, H, W), per_pixel (over N: Cohen's per-feature standardization),
    constants (CHANNEL_CONSTANTS[constants]) or none. Which images the stats come from (subset
    or full training set) is the caller's choice, also named in the config."""
    x = np.asarray(x, dtype=np.float64)
    if mode == "per_channel":
        return x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
    if mode == "per_pixel":
        return x.mean(axis=0), x.std(axis=0)
    if mode == "constants":
        if constants not in CHANNEL_CONSTANTS:
            raise DataError("normalization", "constants", constants, "one of " + ", ".join(CHANNEL_CONSTANTS))
        mean, std = CHANNEL_CONSTANTS[constants]
        return np.asarray(mean), np.asarray(std)
    if mode == "none":
        return np.zeros(x.shape[-1]), np.ones(x.shape[-1])
    raise DataError("normalization", "mode", mode, "one of per_channel, per_pixel, constants, none")


def to_unit(x: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [0, 1]; float images pass through."""
    return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def normalize(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    # constant pixels (digits' borders) have std 0: leave them centred rather than divide by 0
    safe = np.where(np.asarray(std) > 0, std, 1.0)
    return ((to_unit(x) - mean) / safe).astype(np.float32)


# ---- augmentation (drawn per example per step, inside the jitted training step) ----

def augment_batch(key, x, crop_padding: int = 4, hflip: bool = True, fill=0.0):
    """torchvision's RandomCrop(size, padding) + RandomHorizontalFlip on a batch x (N, H, W, C):
    each image is padded by ``crop_padding`` pixels of ``fill`` (a scalar or one value per
    channel: for normalized images, the normalized value of a black pixel is -mean/std, which is
    what torchvision pads before normalizing) and cropped back to H x W at a uniformly drawn
    offset, then mirrored left-right with probability 1/2. Jittable; a pure function of ``key``.
    Off by default: a problem applies it only when its spec asks for augmentation."""
    import jax
    import jax.numpy as jnp

    n, h, w, c = x.shape
    k_crop, k_flip = jax.random.split(key)
    if crop_padding > 0:
        p = crop_padding
        fill = jnp.broadcast_to(jnp.asarray(fill, x.dtype), (c,))
        padded = jnp.broadcast_to(fill, (n, h + 2 * p, w + 2 * p, c))
        padded = padded.at[:, p:p + h, p:p + w, :].set(x)
        offsets = jax.random.randint(k_crop, (n, 2), 0, 2 * p + 1)
        x = jax.vmap(lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, c)))(padded, offsets)
    if hflip:
        flip = jax.random.bernoulli(k_flip, 0.5, (n,))
        x = jnp.where(flip[:, None, None, None], x[:, :, ::-1, :], x)
    return x
