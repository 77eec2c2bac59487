"""The check tier (spec/check_tier.py): the paper tier's runs clipped to a few steps on fake
datasets written in the real formats (data/fake_formats.py) and read by the real readers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from optdyn.cli import main
from optdyn.data import fake_formats, images
from optdyn.data.errors import DataError
from optdyn.data.prepare import load_prepared, prepare
from optdyn.data.text import iter_documents, read_sst2
from optdyn.data.tokenizer import load_tokenizer
from optdyn.spec.check_tier import BRANCH_AT, CHECK_STEPS, CHECKPOINT_AT
from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_config, load_plan


@pytest.fixture(scope="module")
def plans():
    return load_plan(tier="paper"), load_plan(tier="check")


def _by_use(plan):
    return {use: run for run in plan.runs.values() for use in run.used_by}


def test_check_runs_are_the_paper_runs_clipped(plans):
    paper, check = plans
    assert check.tier == "check" and check.tier_dir.name == "check" and not check.probes
    assert str(check.data_root).endswith("check/data")
    ours = _by_use(check)
    assert set(ours) == set(_by_use(paper))
    for use, p in _by_use(paper).items():
        c = ours[use]
        for key in ("model", "optimizer", "schedule", "dtype", "data", "seed", "divergence_threshold"):
            assert getattr(c.spec, key) == getattr(p.spec, key), (use, key)
        assert c.spec.steps == min(p.spec.steps, CHECK_STEPS) and c.spec.eval_every == c.spec.steps
        start = c.spec.branch_from.step if c.spec.branch_from is not None else 0
        if start < CHECKPOINT_AT < c.spec.steps:
            assert CHECKPOINT_AT in c.checkpoint_steps
        if p.spec.branch_from is not None:
            assert c.spec.branch_from.step == min(p.spec.branch_from.step, BRANCH_AT)
            assert c.parent in check.runs and c.spec.branch_from.step in check.runs[c.parent].checkpoint_steps
        if c.dataset is not None:
            assert c.dataset == {"kind": "fake", "params": {"of": p.dataset, "seed": 0}}
    assert not set(check.runs) & set(paper.runs)  # new ids: nothing mixes with a paper-tier result
    for fig in check.figures.values():
        assert set(fig.runs.values()) <= set(check.runs)


def test_check_tier_lists_its_deviations(plans):
    _, check = plans
    paths = {d["path"] for d in check.deviations}
    used = {r.spec.data.dataset for r in check.runs.values() if r.spec.data is not None and r.spec.data.name == "prepared"}
    assert {f"datasets.{n}" for n in used} <= paths and "figures.*.runs.*.steps" in paths
    reasons = {d["path"]: d["reason"] for d in check.deviations}
    assert "real format" in reasons["datasets.pile"] and "val_fraction 0.25" in reasons["datasets.openwebtext"]


def test_bad_tier_is_one_line(capsys):
    with pytest.raises(SpecError) as exc:
        load_config("config/config.yaml", tier="chek")
    assert "\n" not in str(exc.value) and "check" in str(exc.value)
    assert main(["validate", "--config", "config/config.yaml", "--tier", "paper", "--data", "nope.yaml"]) == 2


def test_fake_sources_read_by_the_real_readers(tmp_path):
    tarball = fake_formats.write_cifar10(tmp_path / "cifar-10-python.tar.gz", n_train=50, n_test=20)
    x, y, names = images.read_cifar(tarball, "train")
    assert x.shape == (50, 32, 32, 3) and x.dtype == np.uint8 and len(names) == 10
    assert np.bincount(y).tolist() == [5] * 10
    sentences, labels = read_sst2(fake_formats.write_sst2(tmp_path / "SST-2", n_train=10, n_dev=4) / "train.tsv")
    assert len(sentences) == 10 and labels.tolist() == [0, 1] * 5
    rng = np.random.default_rng(0)
    for name in ("a.jsonl.zst", "b.parquet", "wiki.train.raw"):
        docs = list(iter_documents(fake_formats.write_corpus_file(tmp_path / name, rng, docs=3), txt_split="wikitext"))
        assert len(docs) == 3, name
    tok = load_tokenizer(fake_formats.write_tokenizer(tmp_path / "gpt2" / "tokenizer.json", 50257))
    assert tok.vocab_size == 50257 and tok.eos_id == 2 and tok.pad_id == 1
    ids = tok.encode_batch(["w0 w1 w399"])[0]
    assert ids == [3, 4, 402]


def test_fake_refuses_what_it_cannot_stand_in_for(tmp_path):
    bad = {"kind": "corpus", "params": {"train": ["x"], "tokenizer": "resources/raw/llama3/tokenizer.json"}}
    with pytest.raises(DataError, match="tokenizer: got 'llama3'; expected a tokenizer of gpt2"):
        prepare("c", "fake", {"of": bad}, tmp_path)
    with pytest.raises(DataError, match="fake.of.kind"):
        prepare("c", "fake", {"of": {"kind": "fake", "params": {}}}, tmp_path)
    assert not list(tmp_path.iterdir())  # nothing half-prepared, no scratch left behind


@pytest.mark.slow
def test_every_check_dataset_prepares_through_the_real_builders(plans, tmp_path):
    """Each dataset the paper tier trains on, as the check tier prepares it: token streams with
    the real tokenizer's vocabulary, images and sentences at the real shapes."""
    paper, check = plans
    vocab = {"gpt2": 50257, "gpt-neox-20b": 50277, "bert-base-uncased": 30522}
    for name in sorted({r.spec.data.dataset for r in check.runs.values() if r.dataset is not None}):
        definition = check.datasets[name]
        if definition["params"]["of"]["kind"] == "imagenet":  # 1.2 GB prepared: tests/test_check_imagenet.py
            continue
        prepare(name, definition["kind"], definition["params"], tmp_path)
        ds = load_prepared(name, tmp_path)
        real = paper.datasets[name]
        info = ds.meta["info"]
        assert info["fake_of"] == real["kind"]
        if real["kind"] == "corpus":
            assert info["vocab_size"] == vocab[real["params"]["tokenizer"].split("/")[-2]]
            assert len(ds["val"]) > 4097 and len(ds["train"]) > 4097  # a window of the longest seq_len
        elif real["kind"] in ("cifar10", "cifar100"):
            assert ds["x_train"].shape[1:] == ds["x_test"].shape[1:] == (32, 32, 3) and len(ds["x_test"]) >= 200
        elif real["kind"] == "sst2":
            assert info["vocab_size"] == 30522 and ds["tokens_train"].shape[0] == 5000
    json.dumps(check.deviations)  # the report serializes them
