"""Subset rules, normalization, prepare/load through the sha256 manifest, and refusals."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest

from optdyn.data import builders, images
from optdyn.data.errors import DataError
from optdyn.data.prepare import load_prepared, prepare
from test_data_formats import tar_folder, write_cifar10
from test_data_tokens import tiny_tokenizer_json

Y = np.array([0, 1, 1, 0, 2, 1, 0, 2, 2, 0])


def test_subset_rules():
    assert images.select(Y, "first_n", n=4).tolist() == [0, 1, 2, 3]
    assert images.select(Y, "first_per_class", per_class=2).tolist() == [0, 1, 2, 3, 4, 7]
    pair = images.select(Y, "first_per_class", per_class=2, classes=[2, 0])
    assert pair.tolist() == [0, 3, 4, 7] and images.relabel(Y[pair], [2, 0]).tolist() == [1, 1, 0, 0]
    a = images.select(Y, "balanced_random", per_class=2, seed=5)
    assert (a == images.select(Y, "balanced_random", per_class=2, seed=5)).all()
    assert np.bincount(Y[a]).tolist() == [2, 2, 2]
    with pytest.raises(DataError, match=r"first_per_class \(class 1\): got '3 examples'; expected at least 4"):
        images.select(Y, "first_per_class", per_class=4)


def test_normalization_modes():
    x = np.random.default_rng(0).integers(0, 256, size=(20, 4, 4, 3), dtype=np.uint8)
    for mode in ("per_channel", "per_pixel"):
        mean, std = images.normalization_stats(images.to_unit(x), mode)
        z = images.normalize(x, mean, std)
        axes = (0, 1, 2) if mode == "per_channel" else 0
        assert np.allclose(z.mean(axis=axes), 0, atol=1e-5) and np.allclose(z.std(axis=axes), 1, atol=1e-4)
    mean, std = images.normalization_stats(x, "constants", "cifar10")
    assert np.allclose(mean, images.CHANNEL_CONSTANTS["cifar10"][0])


def test_prepare_digits_pair_and_reload_without_recomputing(tmp_path, monkeypatch):
    params = {"rule": "first_per_class", "per_class": 20, "classes": [3, 5], "normalization": "per_channel"}
    m = prepare("digits-3v5", "digits", params, root=tmp_path)
    d = load_prepared("digits-3v5", tmp_path)
    assert d["x_train"].shape == (40, 8, 8, 1) and sorted(set(d["y_train"].tolist())) == [0, 1]
    assert set(d["y_test"].tolist()) == {0, 1} and len(d["y_test"]) == (183 + 182) - 40  # digits has 183 threes, 182 fives
    x, y = images.load_digits()
    assert (y[d["index_train"]] == np.where(d["y_train"] == 0, 3, 5)).all()
    assert np.allclose(np.asarray(d["x_train"]).mean(axis=(0, 1, 2)), 0, atol=1e-5)
    @functools.wraps(builders.digits)  # keeps the signature prepare reads the allowed keys from
    def must_not_run(*a, **k):
        pytest.fail("recomputed")

    monkeypatch.setitem(builders.KINDS, "digits", must_not_run)
    assert prepare("digits-3v5", "digits", params, root=tmp_path) == m


def test_prepare_refuses_a_different_preparation_and_keeps_it(tmp_path):
    prepare("toks", "synthetic_tokens", {"n_train": 50, "n_test": 20}, root=tmp_path)
    before = (tmp_path / "toks/tokens_train.npy").read_bytes()
    with pytest.raises(DataError, match=r"toks/manifest.json: prepared with: got 'n_train=60'; expected n_train=50"):
        prepare("toks", "synthetic_tokens", {"n_train": 60, "n_test": 20}, root=tmp_path)
    assert (tmp_path / "toks/tokens_train.npy").read_bytes() == before
    with pytest.raises(DataError, match=r"synthetic_tokens.n_trian: got 5; expected a known key; allowed: n_train"):
        prepare("toks2", "synthetic_tokens", {"n_trian": 5}, root=tmp_path)
    assert not (tmp_path / "toks2").exists()


def test_corrupted_and_truncated_files_are_refused(tmp_path):
    prepare("mk", "markov", {"vocab": 8, "train_tokens": 2000, "val_tokens": 100}, root=tmp_path)
    target = tmp_path / "mk/train.bin"
    good = target.read_bytes()
    target.write_bytes(good[:100] + bytes([good[100] ^ 1]) + good[101:])
    with pytest.raises(DataError, match=r"mk/train\.bin: sha256: got '[0-9a-f]{64}'; expected [0-9a-f]{64} \(file corrupted"):
        load_prepared("mk", tmp_path)
    target.write_bytes(good[:-2])
    with pytest.raises(DataError, match=r"mk/train\.bin: size: got '3998 bytes'; expected 4000 bytes \(truncated"):
        load_prepared("mk", tmp_path)
    with pytest.raises(DataError, match=r"mk/train\.bin: size"):  # prepare verifies too, and keeps the folder
        prepare("mk", "markov", {"vocab": 8, "train_tokens": 2000, "val_tokens": 100}, root=tmp_path)
    target.write_bytes(good)
    assert len(load_prepared("mk", tmp_path)["train"]) == 2000
    (tmp_path / "mk/stray.npy").write_bytes(b"x")
    with pytest.raises(DataError, match=r"stray\.npy: file: got 'not in manifest'"):
        load_prepared("mk", tmp_path)
    with pytest.raises(DataError, match=r"nothere: dataset: got 'not prepared'"):
        load_prepared("nothere", tmp_path)


def test_prepare_cifar_subsets_from_tarball(tmp_path):
    folder, batches = write_cifar10(tmp_path / "src", n_per_batch=40)
    tarball = tar_folder(folder, tmp_path / "cifar-10-python.tar.gz")
    prepare("c5k", "cifar10", {"source": str(tarball), "rule": "first_n", "n": 50}, root=tmp_path / "data")
    d = load_prepared("c5k", tmp_path / "data")
    assert d["x_train"].shape == (50, 32, 32, 3) and d["x_test"].shape == (4, 32, 32, 3)
    assert np.allclose(np.asarray(d["x_train"]).mean(axis=(0, 1, 2)), 0, atol=1e-4)  # subset per-channel stats
    assert d.meta["info"]["source_sha256"] and d["y_train"][:40].tolist() == batches["data_batch_1"][b"labels"]
    prepare("cvd", "cifar10", {"source": str(folder), "rule": "first_per_class", "per_class": 3, "classes": [3, 5]},
            root=tmp_path / "data")
    d = load_prepared("cvd", tmp_path / "data")
    assert d["y_train"].tolist().count(0) == 3 and d["y_train"].tolist().count(1) == 3
    with pytest.raises(DataError, match="classes: got 10; expected 100"):
        prepare("c100", "cifar100", {"source": str(tarball)}, root=tmp_path / "data")


def test_prepare_sst2_and_corpus_with_tokenizer(tmp_path):
    tok = tiny_tokenizer_json(tmp_path / "tokenizer.json")
    glue = tmp_path / "SST-2"
    glue.mkdir()
    rows = ["the cat sat\t1", "a dog ran on the mat\t0", "the cat\t1", "dog\t0", "ran\t1"]
    (glue / "train.tsv").write_text("sentence\tlabel\n" + "\n".join(rows) + "\n")
    (glue / "dev.tsv").write_text("sentence\tlabel\nthe cat sat on the mat a dog ran\t1\n")
    prepare("sst", "sst2", {"source": str(glue), "tokenizer": str(tok), "per_class": 2}, root=tmp_path / "d")
    d = load_prepared("sst", tmp_path / "d")
    assert d["index_train"].tolist() == [0, 1, 2, 3] and d["y_train"].tolist() == [1, 0, 1, 0]
    assert d["tokens_train"].shape[1] == d["mask_train"].sum(1).max() and d.meta["info"]["test_truncated"] == 1
    corpus = tmp_path / "owt"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text("".join(json.dumps({"text": f"the cat sat {i}"}) + "\n" for i in range(200)))
    prepare("owt", "corpus", {"train": [str(corpus)], "tokenizer": str(tok), "val_fraction": 0.1}, root=tmp_path / "d")
    d = load_prepared("owt", tmp_path / "d")
    assert d["train"].dtype == np.uint16 and 0 < len(d["val"]) < len(d["train"])
    assert d.meta["info"]["eos_id"] == 2 and (np.asarray(d["train"]) == 2).sum() + (np.asarray(d["val"]) == 2).sum() == 200
