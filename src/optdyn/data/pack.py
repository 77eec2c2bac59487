"""Pack tokenized documents into flat token files (``<split>.bin``: raw little-endian
uint16/uint32, the nanoGPT ``train.bin``/``val.bin`` layout the IRE LLM code reads), each
document followed by the tokenizer's end-of-document id, read back as ``np.memmap``.

Streaming writes keep a corpus of any size out of memory; the dtype and token counts go in the
manifest, whose sizes catch a truncated file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from optdyn.data.errors import DataError
from optdyn.data.tokenizer import Tokenizer

_BATCH_DOCS = 256


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 1 << 16 else np.dtype("<u4")


def _batches(docs: Iterable[str], size: int) -> Iterator[list[str]]:
    batch: list[str] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def pack_documents(
    docs_by_split: dict[str, Iterable[str]],
    tokenizer: Tokenizer,
    out_dir: str | Path,
) -> dict[str, int]:
    """Write ``out_dir/<split>.bin`` for each split; returns the token count per split."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype(tokenizer.vocab_size)
    counts = {}
    for split, docs in docs_by_split.items():
        n = 0
        with open(out_dir / f"{split}.bin", "wb") as f:
            for batch in _batches(docs, _BATCH_DOCS):
                ids = [t + [tokenizer.eos_id] for t in tokenizer.encode_batch(batch)]
                arr = np.fromiter((i for doc in ids for i in doc), dtype=np.int64)
                f.write(arr.astype(dtype).tobytes())
                n += len(arr)
        counts[split] = n
    return counts


def _uniforms(seed: int) -> Iterator[float]:
    rng = np.random.default_rng(seed)
    while True:
        yield from rng.random(4096)


def pack_split_stream(
    docs: Iterable[str], tokenizer: Tokenizer, out_dir: str | Path, val_fraction: float, seed: int
) -> dict[str, int]:
    """One streaming pass for corpora without an official validation file: each document goes
    to ``train.bin`` or ``val.bin`` by a seeded coin with P(val) = val_fraction, so the split is
    reproducible and the corpus is read once."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype(tokenizer.vocab_size)
    counts = {"train": 0, "val": 0}
    files = {s: open(out_dir / f"{s}.bin", "wb") for s in counts}
    try:
        coins = _uniforms(seed)
        for batch in _batches(docs, _BATCH_DOCS):
            for ids, u in zip(tokenizer.encode_batch(batch), coins):
                split = "val" if u < val_fraction else "train"
                arr = np.asarray(ids + [tokenizer.eos_id], dtype=dtype)
                files[split].write(arr.tobytes())
                counts[split] += len(arr)
    finally:
        for f in files.values():
            f.close()
    return counts


def load_tokens(path: str | Path, dtype: str | np.dtype, count: int | None = None) -> np.memmap:
    """Memory-map a packed ``.bin``; with ``count`` (from the manifest) a size mismatch is
    refused rather than silently read short."""
    path = Path(path)
    dtype = np.dtype(dtype)
    size = path.stat().st_size if path.is_file() else None
    if size is None:
        raise DataError.not_found(path, "token file", "a packed .bin written by prepare")
    if size % dtype.itemsize or (count is not None and size != count * dtype.itemsize):
        want = f"{count * dtype.itemsize} bytes ({count} {dtype.name} tokens)" if count is not None else f"a multiple of {dtype.itemsize} bytes"
        raise DataError(path, "size", f"{size} bytes", want + " (truncated?)")
    if size == 0:
        return np.zeros(0, dtype=dtype)  # np.memmap refuses empty files
    return np.memmap(path, dtype=dtype, mode="r")


def random_windows(tokens: np.ndarray, batch: int, seq_len: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, seq_len + 1) int32 windows at uniform random offsets (inputs = [:, :-1],
    targets = [:, 1:]), nanoGPT's sampling."""
    if len(tokens) < seq_len + 1:
        raise DataError("tokens", "length", len(tokens), f"at least seq_len + 1 = {seq_len + 1}")
    starts = rng.integers(0, len(tokens) - seq_len, size=batch)
    return np.stack([np.asarray(tokens[s : s + seq_len + 1], dtype=np.int32) for s in starts])
