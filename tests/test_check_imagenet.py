"""The check tier's fake ImageNet (data/fake_formats.py: real JPEGs in train/<wnid>, val/<wnid>,
read by data/imagenet.py through the real builder) and IRE's Fisher pass in the cost estimate
(train/cost.py), against a hand computation."""

from __future__ import annotations

import functools
import types

import jax
import numpy as np
import pytest
from flax import nnx
from PIL import Image

from optdyn.data import fake_formats
from optdyn.data.prepare import load_prepared, prepare
from optdyn.models.classifier import ClassifierProblem
from optdyn.train import cost

IMAGENET = {"kind": "imagenet", "params": {"source": "resources/raw/imagenet", "size": 224}}


def test_fake_imagenet_is_real_jpegs_in_class_folders_read_by_the_real_builder(tmp_path, monkeypatch):
    """The same writer and builder path as the check tier, at 5 classes (the full fake, 1000
    classes and 1.2 GB prepared, is measured in docs/check-tier.md, not in CI):
    JPEG files in the ImageFolder layout, upscaled by the reader to 224 x 224, labels the sorted
    wnids, the real training set's size for the full-batch rule."""
    src = fake_formats.write_imagenet(tmp_path / "src", classes=5, n_train=7)
    train = sorted(p.relative_to(src).as_posix() for p in (src / "train").rglob("*.JPEG"))
    assert len(train) == 7 and train[:2] == ["train/n00000000/n00000000_0.JPEG", "train/n00000000/n00000000_1.JPEG"]
    assert len(list((src / "val").rglob("*.JPEG"))) == 5
    with Image.open(src / train[0]) as im:
        assert im.format == "JPEG" and im.size == fake_formats.IMAGENET_JPEG_PX
    monkeypatch.setattr(fake_formats, "write_imagenet", functools.partial(fake_formats.write_imagenet, classes=5, n_train=7))
    prepare("imagenet", "fake", {"of": IMAGENET}, tmp_path / "data")
    ds = load_prepared("imagenet", tmp_path / "data")
    assert ds["x_train"].shape == (7, 224, 224, 3) and ds["x_test"].shape == (5, 224, 224, 3)
    assert ds["x_train"].dtype == np.float32
    assert ds["y_train"].tolist() == [0, 0, 1, 1, 2, 3, 4] and ds["y_test"].tolist() == [0, 1, 2, 3, 4]
    assert ds.meta["info"]["fake_of"] == "imagenet" and ds.meta["info"]["fake_changes"] == {}
    assert fake_formats.real_examples("imagenet", IMAGENET["params"]) == 1_281_167


D, C, K = 1024, 4, 10  # inputs, classes, IRE's refresh period


def _trainer(batch: int, fisher: int, ire: bool):
    """A linear softmax classifier (D -> C) on 64 examples, as the estimate reads a trainer."""
    rng = np.random.default_rng(0)
    problem = ClassifierProblem(lambda r: nnx.Linear(D, C, rngs=r), rng.normal(size=(64, D)), rng.integers(0, C, 64), "ce",
                                batch_size=batch, fisher_batch_size=fisher)

    def init_state():
        return {"params": problem.init(jax.random.PRNGKey(0)), "opt_state": {}, "step": 0}

    return types.SimpleNamespace(problem=problem, spec=types.SimpleNamespace(steps=3), init_state=init_state, microbatches=1,
                                 sam=None, ire=types.SimpleNamespace(every=K) if ire else None, inverse_sharpness=None)


@pytest.mark.parametrize("batch, fisher", [(8, 32), (32, 8)])
def test_ire_fisher_pass_in_the_estimate_by_hand(batch, fisher):
    """The Fisher pass on ``fisher`` examples every K steps. FLOPs: its forward pass (2 F D C for
    the logits) and its loss-and-gradient (forward again, and 2 F D C for the weight's gradient:
    the inputs get none), so 6 F D C of matmuls plus at most 50 FLOPs a logit of softmax, log
    and bias; a step pays 1/K of it. Memory: the activations are linear in the rows, so the
    Fisher's exceed the step's by act(B) (F - B) / B when F > B, and nothing otherwise; plus its
    batch held on the device (F float32 rows of D and F int32 labels). (Up to the loss's scalar
    residuals, a few bytes that do not scale with the rows.)"""
    plain = cost.estimate(_trainer(batch, fisher, ire=False))
    est = cost.estimate(_trainer(batch, fisher, ire=True))
    matmuls = 6 * fisher * D * C
    assert matmuls <= est.fisher_flops <= matmuls + 50 * fisher * C
    assert est.fisher_every == K and est.flops_step == pytest.approx(plain.flops_step + est.fisher_flops / K, rel=1e-12)
    beyond = plain.act_bytes * (fisher - batch) / batch if fisher > batch else 0
    assert est.fisher_bytes == pytest.approx(beyond + fisher * (4 * D + 4), abs=16)
    assert est.act_bytes == plain.act_bytes and plain.fisher_bytes == 0 and "IRE Fisher pass" not in plain.parts()
    assert est.per_device() - plain.per_device() == est.parts()["IRE Fisher pass"] == est.fisher_bytes
    assert "IRE's Fisher pass on %d examples every %d steps counted" % (fisher, K) in est.notes


def test_fisher_batch_of_each_problem_kind():
    """The rows of one Fisher pass, as each problem states it: a classifier's fisher_batch_size
    (its whole training set when None, the real one where the data is a fake); the vision nets'
    fixed batch, capped by the training set; an LM's one micro-batch; none for a closed form."""
    from optdyn.models.classifier import ClassifierProblem
    from optdyn.models.ire_vision import VisionProblem
    from optdyn.models.lm.problem import LMProblem

    clf = types.SimpleNamespace(n=64, fisher_batch_size=None)
    rows = functools.partial(ClassifierProblem.fisher_rows, clf)
    assert rows() == 64 and rows(examples=50_000) == 50_000
    clf.fisher_batch_size = 16
    assert rows(examples=50_000) == 16
    vision = types.SimpleNamespace(n=1024, spec=types.SimpleNamespace(fisher_batch_size=128))
    assert VisionProblem.fisher_rows(vision, examples=1_281_167) == 128
    assert VisionProblem.fisher_rows(types.SimpleNamespace(n=100, spec=vision.spec)) == 100
    lm = types.SimpleNamespace(seq_len=128, batch_size=240, microbatches=4)
    assert LMProblem.fisher_rows(lm) == 60 and LMProblem.fisher_rows(lm, examples=10**9) == 60
    assert cost.fisher_rows(types.SimpleNamespace(fisher_rows=lambda examples: 7)) == 7
    assert cost.fisher_rows(types.SimpleNamespace()) is None
