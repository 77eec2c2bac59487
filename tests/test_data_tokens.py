"""Tokenizers, packing into memory-mapped token files, and the synthetic languages."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from optdyn.data import synthetic
from optdyn.data.pack import load_tokens, pack_documents, pack_split_stream, random_windows
from optdyn.data.tokenizer import ByteTokenizer, load_tokenizer
from optdyn.data.errors import DataError

DOCS = ["the cat sat on the mat", "a dog ran", "the cat ran on"] * 20


def tiny_tokenizer_json(path):
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(DOCS, trainers.BpeTrainer(vocab_size=60, special_tokens=["[UNK]", "[PAD]", "<|endoftext|>"]))
    tok.save(str(path))
    return path


def test_json_tokenizer_round_trip_and_specials(tmp_path):
    tok = load_tokenizer(tiny_tokenizer_json(tmp_path / "tokenizer.json"))
    assert tok.eos_id == 2 and tok.pad_id == 1
    ids = tok.encode_batch(["the cat sat", "dog"])
    assert tok.decode(ids[0]).replace(" ", "") == "thecatsat" and len(ids[1]) >= 1
    long = "the cat sat\n" * 20000  # > one encoding piece: still every token, in order
    assert tok.encode_batch([long])[0] == tok.encode_batch(["the cat sat\n"])[0] * 20000
    with pytest.raises(DataError, match="nope.json: tokenizer not found"):
        load_tokenizer(tmp_path / "nope.json")


def test_pack_round_trip_with_official_splits(tmp_path):
    tok = ByteTokenizer()
    counts = pack_documents({"train": DOCS[:2], "val": DOCS[2:3]}, tok, tmp_path)
    train = load_tokens(tmp_path / "train.bin", "uint16", counts["train"])
    assert train.dtype == np.uint16 and counts["train"] == len(DOCS[0]) + len(DOCS[1]) + 2
    eos = np.flatnonzero(np.asarray(train) == tok.eos_id)
    assert tok.decode(train[: eos[0]]) == DOCS[0] and tok.decode(train[eos[0] + 1 : eos[1]]) == DOCS[1]
    with pytest.raises(DataError, match=r"train\.bin: size: got '\d+ bytes'; expected"):
        load_tokens(tmp_path / "train.bin", "uint16", counts["train"] + 1)


def test_pack_split_stream_is_seeded_and_complete(tmp_path):
    tok = load_tokenizer(tiny_tokenizer_json(tmp_path / "tok.json"))
    a = pack_split_stream(DOCS, tok, tmp_path / "a", val_fraction=0.25, seed=3)
    b = pack_split_stream(DOCS, tok, tmp_path / "b", val_fraction=0.25, seed=3)
    assert a == b and (tmp_path / "a/val.bin").read_bytes() == (tmp_path / "b/val.bin").read_bytes()
    total = sum(len(t) + 1 for t in tok.encode_batch(DOCS))
    assert a["train"] + a["val"] == total and 0 < a["val"] < a["train"]
    val = load_tokens(tmp_path / "a/val.bin", "uint16", a["val"])
    windows = random_windows(val, batch=4, seq_len=5, rng=np.random.default_rng(0))
    assert windows.shape == (4, 6) and windows.max() < tok.vocab_size


def test_token_classification_labels_follow_the_rule():
    tokens, labels = synthetic.token_classification(500, vocab=32, length=12, n_signal=4, noise=0.0, seed=0)
    margin = (tokens < 4).sum(1) - ((tokens >= 4) & (tokens < 8)).sum(1)
    assert tokens.shape == (500, 12) and (margin != 0).all() and (labels == (margin > 0)).all()
    _, noisy = synthetic.token_classification(4000, noise=0.2, seed=0)
    _, clean = synthetic.token_classification(4000, noise=0.0, seed=0)
    assert abs((noisy != clean).mean() - 0.2) < 0.03


def test_markov_language_entropies_are_heterogeneous_and_sampling_matches():
    from optdyn.theory.bigram import entropy

    P = synthetic.markov_language(16, seed=0)
    H = entropy(P)
    assert np.allclose(P.sum(1), 1) and H.min() < 0.5 and H.max() > 0.8 * np.log(16)
    stream = synthetic.sample_markov(P, 100_000, seed=1)
    counts = np.zeros_like(P)
    np.add.at(counts, (stream[:-1], stream[1:]), 1)
    emp = counts / counts.sum(1, keepdims=True)
    pi = synthetic.stationary(P)
    assert np.abs(emp - P).max() < 0.05 and np.abs(np.bincount(stream, minlength=16) / 1e5 - pi).max() < 0.01
    # the empirical next-token loss of the true chain equals the entropy rate
    assert abs(-np.log(P[stream[:-1], stream[1:]]).mean() - synthetic.entropy_rate(P)) < 0.02


def test_bigram_stream_alternates_cities_and_names():
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    s = synthetic.bigram_stream(P, 30_000, seed=0)
    cities, names = s[0::2], s[1::2] - 3
    assert (cities < 3).all() and set(np.unique(names)) == {0, 1}
    assert abs((names[cities == 1] == 1).mean() - 0.8) < 0.02
