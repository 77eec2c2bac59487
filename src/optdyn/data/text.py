"""Text readers for local copies: GLUE SST-2 TSVs, and corpora (the Pile, DCLM, OpenWebText,
minipile, wikitext) as jsonl, jsonl.zst, parquet or txt, streamed one document at a time so a
corpus never has to fit in memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Iterable, Iterator, Literal

import numpy as np

from optdyn.data.errors import DataError

CORPUS_SUFFIXES = (".jsonl", ".jsonl.zst", ".parquet", ".txt", ".raw", ".tokens")
# a wikitext article starts at a top-level heading line " = Title = " (sections are " = = x = = ")
_WIKITEXT_TITLE = re.compile(r"^ = [^=].* = $")


def read_sst2(path: str | Path) -> tuple[list[str], np.ndarray]:
    """A GLUE SST-2 train.tsv/dev.tsv (header ``sentence\\tlabel``; unquoted, tab-separated):
    sentences and int64 labels (0 negative, 1 positive)."""
    path = Path(path)
    if not path.is_file():
        raise DataError.not_found(path, "SST-2 file", "GLUE SST-2 train.tsv or dev.tsv (nothing is downloaded: put a local copy there, or point the dataset's `source:` in config/data.yaml at one)")
    sentences, labels = [], []
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(rows, None)
        if header != ["sentence", "label"]:
            raise DataError(path, "header", "\t".join(header or []), "'sentence\\tlabel' (GLUE train.tsv/dev.tsv; test.tsv has no labels)")
        for line, row in enumerate(rows, start=2):
            if len(row) != 2 or row[1] not in ("0", "1"):
                raise DataError(f"{path}:{line}", "row", "\t".join(row), "<sentence>\\t<0|1>")
            sentences.append(row[0])
            labels.append(int(row[1]))
    return sentences, np.asarray(labels, dtype=np.int64)


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in CORPUS_SUFFIXES:
        if name.endswith(s):
            return s
    raise DataError(path, "corpus format", path.suffix or path.name, "one of " + ", ".join(CORPUS_SUFFIXES))


def _jsonl_lines(stream: Iterable[str], path: Path, text_key: str) -> Iterator[str]:
    for line_no, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(f"{path}:{line_no}", "jsonl record", line[:40], "one JSON object per line (truncated file?)") from None
        if not isinstance(record, dict) or not isinstance(record.get(text_key), str):
            raise DataError(f"{path}:{line_no}", f"key '{text_key}'", "absent or not a string", "a string field (set text_key)")
        yield record[text_key]


def _zst_lines(path: Path) -> Iterator[str]:
    """Lines of a (possibly multi-frame) .zst file; a frame cut short is an error, which
    zstandard's stream_reader would let pass as a clean end of file."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    dobj, pending, started = dctx.decompressobj(), b"", False
    with open(path, "rb") as raw:
        while chunk := raw.read(1 << 20):
            while chunk:
                try:
                    data = dobj.decompress(chunk)
                except zstandard.ZstdError as e:
                    raise DataError(path, "zstd stream", f"corrupt ({e})", "a complete .zst file") from None
                started = True
                chunk = dobj.unused_data if dobj.eof else b""
                if dobj.eof:
                    dobj = dctx.decompressobj()
                    started = bool(chunk)
                *lines, pending = (pending + data).split(b"\n")
                for line in lines:
                    yield line.decode("utf-8") + "\n"
    if started:
        raise DataError(path, "zstd stream", "a frame cut short", "a complete .zst file (truncated?)")
    if pending:
        yield pending.decode("utf-8")


def _parquet_texts(path: Path, text_key: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:
        raise DataError(path, "parquet", f"unreadable ({type(e).__name__})", "a complete parquet file") from None
    if text_key not in pf.schema_arrow.names:
        raise DataError(path, "parquet column", ", ".join(pf.schema_arrow.names), f"a '{text_key}' column (set text_key)")
    for batch in pf.iter_batches(columns=[text_key], batch_size=1024):
        yield from (t for t in batch.column(0).to_pylist() if t is not None)


def _txt_docs(path: Path, split: str) -> Iterator[str]:
    with open(path, encoding="utf-8") as f:
        if split == "file":
            yield f.read()
        elif split == "line":
            yield from (line for line in f if line.strip())
        elif split == "wikitext":
            article: list[str] = []
            for line in f:
                if _WIKITEXT_TITLE.match(line.rstrip("\n")) and any(s.strip() for s in article):
                    yield "".join(article)
                    article = []
                article.append(line)
            if any(s.strip() for s in article):
                yield "".join(article)
        else:
            raise DataError(path, "txt_split", split, "one of file, line, wikitext")


def iter_documents(
    path: str | Path,
    text_key: str = "text",
    txt_split: Literal["file", "line", "wikitext"] = "file",
) -> Iterator[str]:
    """Documents of one corpus file, by its suffix: jsonl / jsonl.zst (one JSON object per line,
    text under ``text_key``: the Pile, DCLM, minipile exports), parquet (a ``text_key`` column:
    HF exports of OpenWebText, minipile, wikitext), txt/raw/tokens (wikitext's wiki.*.raw: a
    whole file, each non-empty line, or each article at its `` = Title = `` heading)."""
    path = Path(path)
    if not path.is_file():
        raise DataError.not_found(path, "corpus file", "a local copy (nothing is downloaded)")
    kind = _suffix(path)
    if kind == ".jsonl":
        with open(path, encoding="utf-8") as f:
            yield from _jsonl_lines(f, path, text_key)
    elif kind == ".jsonl.zst":
        yield from _jsonl_lines(_zst_lines(path), path, text_key)
    elif kind == ".parquet":
        yield from _parquet_texts(path, text_key)
    else:
        yield from _txt_docs(path, txt_split)


def corpus_files(source: str | Path) -> list[Path]:
    """A file, or every corpus file under a folder (sorted, so the order is reproducible)."""
    source = Path(source)
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.name.lower().endswith(CORPUS_SUFFIXES))
        if files:
            return files
    raise DataError(source, "corpus source", "missing or empty", "a corpus file or a folder of " + ", ".join(CORPUS_SUFFIXES))
