"""Small files in each real format, written here, read by the real readers."""

from __future__ import annotations

import json
import pickle
import tarfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from optdyn.data import images
from optdyn.data.errors import DataError
from optdyn.data.text import iter_documents, read_sst2


def _batch(rng, n, label_key, n_classes):
    return {b"data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            label_key: rng.integers(0, n_classes, size=n).tolist(), b"batch_label": b"x"}


def write_cifar10(folder, n_per_batch=6, seed=0):
    """The official cifar-10-batches-py layout (5 training batches, a test batch, meta)."""
    rng = np.random.default_rng(seed)
    d = folder / "cifar-10-batches-py"
    d.mkdir(parents=True)
    batches = {f"data_batch_{i}": _batch(rng, n_per_batch, b"labels", 10) for i in range(1, 6)}
    batches["test_batch"] = _batch(rng, 4, b"labels", 10)
    batches["batches.meta"] = {b"label_names": [f"c{i}".encode() for i in range(10)]}
    for name, obj in batches.items():
        (d / name).write_bytes(pickle.dumps(obj))
    return d, batches


def tar_folder(folder, out):
    with tarfile.open(out, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return out


def test_cifar10_tarball_and_folder_agree_with_the_pickles(tmp_path):
    folder, batches = write_cifar10(tmp_path / "src")
    tarball = tar_folder(folder, tmp_path / "cifar-10-python.tar.gz")
    for source in (tarball, folder, folder.parent):
        x, y, names = images.read_cifar(source, "train")
        assert x.shape == (30, 32, 32, 3) and x.dtype == np.uint8 and names[3] == "c3"
        first = batches["data_batch_1"]
        # row-major 3072 = 3 channel planes of 32x32: pixel (0, 1) of channel 2 is entry 2048 + 1
        assert x[0, 0, 1, 2] == first[b"data"][0, 2048 + 1]
        assert y[:6].tolist() == first[b"labels"]
        xt, yt, _ = images.read_cifar(source, "test")
        assert xt.shape == (4, 32, 32, 3) and yt.tolist() == batches["test_batch"][b"labels"]


def test_cifar100_fine_and_coarse_labels(tmp_path):
    rng = np.random.default_rng(1)
    d = tmp_path / "cifar-100-python"
    d.mkdir()
    for split, n in (("train", 5), ("test", 3)):
        b = _batch(rng, n, b"fine_labels", 100)
        b[b"coarse_labels"] = rng.integers(0, 20, size=n).tolist()
        (d / split).write_bytes(pickle.dumps(b))
    (d / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"f"] * 100, b"coarse_label_names": [b"c"] * 20}))
    tarball = tar_folder(d, tmp_path / "cifar-100-python.tar.gz")
    x, y, names = images.read_cifar(tarball, "train", "fine")
    assert x.shape == (5, 32, 32, 3) and len(names) == 100
    _, yc, names_c = images.read_cifar(tarball, "train", "coarse")
    assert len(names_c) == 20 and (yc < 20).all()


def test_truncated_cifar_tarball_is_refused(tmp_path):
    folder, _ = write_cifar10(tmp_path / "src")
    tarball = tar_folder(folder, tmp_path / "c.tar.gz")
    data = tarball.read_bytes()
    tarball.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"c\.tar\.gz: CIFAR tarball: got .*; expected"):
        images.read_cifar(tarball)


def test_sst2_tsv(tmp_path):
    tsv = tmp_path / "train.tsv"
    tsv.write_text('sentence\tlabel\nit \'s a "charming" film \t1\nawful , dull \t0\n')
    sentences, labels = read_sst2(tsv)
    assert sentences == ['it \'s a "charming" film ', "awful , dull "] and labels.tolist() == [1, 0]
    (tmp_path / "test.tsv").write_text("index\tsentence\n0\tfoo\n")
    with pytest.raises(DataError, match="test.tsv: header: got 'index\\\\tsentence'; expected 'sentence"):
        read_sst2(tmp_path / "test.tsv")


DOCS = ["first doc\nwith two lines", "second ünïcode doc", "third"]


def test_corpus_formats_yield_the_same_documents(tmp_path):
    lines = "".join(json.dumps({"text": t, "meta": {}}) + "\n" for t in DOCS)
    (tmp_path / "c.jsonl").write_text(lines)
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines.encode()))
    pq.write_table(pa.table({"text": DOCS}), tmp_path / "c.parquet", row_group_size=2)
    for name in ("c.jsonl", "c.jsonl.zst", "c.parquet"):
        assert list(iter_documents(tmp_path / name)) == DOCS, name


def test_corrupt_corpus_files_are_refused(tmp_path):
    (tmp_path / "c.jsonl").write_text('{"text": "ok"}\n{"text": "cut')
    with pytest.raises(DataError, match=r"c\.jsonl:2: jsonl record: got .*truncated"):
        list(iter_documents(tmp_path / "c.jsonl"))
    blob = zstandard.ZstdCompressor().compress(b'{"text": "x"}\n' * 1000)
    (tmp_path / "c.jsonl.zst").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataError, match=r"c\.jsonl\.zst: zstd stream"):
        list(iter_documents(tmp_path / "c.jsonl.zst"))
    (tmp_path / "c.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"c\.parquet: parquet: got"):
        list(iter_documents(tmp_path / "c.parquet"))


def test_wikitext_raw_splits(tmp_path):
    raw = " \n = Alpha = \n \n Some text .\n = = Section = = \n More .\n = Beta = \n Other .\n"
    (tmp_path / "wiki.train.raw").write_text(raw)
    path = tmp_path / "wiki.train.raw"
    assert list(iter_documents(path, txt_split="file")) == [raw]
    articles = list(iter_documents(path, txt_split="wikitext"))
    assert len(articles) == 2 and articles[0].startswith(" \n = Alpha") and articles[1].startswith(" = Beta")
    assert "".join(articles) == raw
    assert len(list(iter_documents(path, txt_split="line"))) == 6
