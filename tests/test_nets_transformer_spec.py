"""The `transformer` network spec (spec/components.py TransformerNet) built on prepared token
datasets (models/networks.py): the paper's defaults, int token inputs through ClassifierProblem,
the flat-vector curvature library on it, and the one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from pydantic import ValidationError

from optdyn.data.prepare import prepare
from optdyn.curvature import flatten, top_eigenpairs
from optdyn.models.networks import build_network
from optdyn.registry import MODEL_SPECS, PROBLEMS
from optdyn.spec.components import TransformerNet
from optdyn.spec.paper import RunSpec
from optdyn.train.trainer import Trainer

SMOKE = {"name": "transformer", "hidden": 16, "heads": 2, "layers": 2, "ffn": 16}  # catalog 6.2


def _spec(model: dict, dataset: str = "tok", steps: int = 20, lr: float = 0.02) -> RunSpec:
    raw = {"model": model, "data": {"name": "prepared", "dataset": dataset},
           "schedule": {"name": "constant", "lr": lr}, "steps": steps, "progress": False}
    return RunSpec.model_validate_json(json.dumps(raw))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    prepare("tok", "synthetic_tokens", {"n_train": 48, "n_test": 32, "vocab": 32, "length": 12}, root)
    prepare("img", "digits", {"rule": "first_per_class", "per_class": 10, "classes": [3, 5]}, root)
    return root


def test_defaults_are_the_papers_transformer():
    spec = TransformerNet(name="transformer")
    assert (spec.layers, spec.hidden, spec.heads, spec.ffn, spec.max_positions) == (2, 64, 2, 64, 64)
    assert spec.activation == "swish" and spec.criterion == "binary_mse" and spec.batch_size is None
    assert spec.mask_padding is False and spec.head_zero_init is True  # the code: x.mean(1), zero head
    assert PROBLEMS.get(TransformerNet) is build_network and MODEL_SPECS.info(TransformerNet).data == ("prepared",)


def test_heads_must_divide_the_width():
    with pytest.raises(ValidationError, match="heads"):
        TransformerNet(name="transformer", hidden=16, heads=3)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_builds_on_tokens_with_the_datasets_vocabulary(root):
    trainer = Trainer(_spec(SMOKE), data_root=root)
    problem = trainer.problem
    assert jnp.issubdtype(problem.X.dtype, jnp.integer) and problem.X.shape == (48, 12)
    params = trainer.init_state()["params"]
    assert params["embed"]["embedding"].shape == (32, 16)  # vocab_size from the manifest
    assert params["head"]["kernel"].shape == (16, 1)  # binary MSE: one output
    # zero-init head: f = 0 at init, so the binary MSE (f - y)^2 with y = +-1 is exactly 1
    assert float(trainer.evaluate(trainer.init_state())["loss"]) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_full_batch_gd_lowers_the_loss_on_tokens(root):
    trainer = Trainer(_spec(SMOKE, steps=30, lr=0.05), data_root=root)
    state = trainer.init_state()
    before = float(trainer.evaluate(state)["loss"])
    state, logged = trainer.advance(state, 30)
    assert np.all(np.isfinite(logged["batch_loss"]))
    assert float(trainer.evaluate(state)["loss"]) < 0.9 * before


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_curvature_on_int_inputs_matches_the_dense_hessian(root, x64):
    model = dict(SMOKE, hidden=4, heads=2, ffn=4, layers=1)
    spec = _spec(model).model_copy(update={"dtype": "float64"})
    trainer = Trainer(spec, data_root=root)
    problem = trainer.problem
    state = trainer.init_state()
    state, _ = trainer.advance(state, 5)  # away from the zero head, where the Hessian is degenerate
    f, x, _ = flatten(problem.loss, state["params"], problem.sample_batch(None))
    assert x.dtype == jnp.float64
    top = float(top_eigenpairs(f, x, 1, "lanczos", iters=min(60, x.shape[0]))[0][0])
    dense = float(jnp.linalg.eigvalsh(jax.hessian(f)(x))[-1])
    assert top == pytest.approx(dense, rel=1e-8)


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_logged_sharpness_on_tokens(root):
    trainer = Trainer(_spec(dict(SMOKE, sharpness_iters=20), steps=5), data_root=root)
    metrics = trainer.evaluate(trainer.advance(trainer.init_state(), 5)[0])
    assert np.isfinite(metrics["sharpness"]) and metrics["sharpness"] > 0


def test_wrong_kind_of_dataset_is_refused_in_one_line(root):
    with pytest.raises(ValueError) as err:
        Trainer(_spec(SMOKE, dataset="img"), data_root=root)
    assert "\n" not in str(err.value) and "token" in str(err.value) and "img" in str(err.value)
    with pytest.raises(ValueError) as err:
        Trainer(_spec({"name": "mlp", "widths": [8]}, dataset="tok"), data_root=root)
    assert "\n" not in str(err.value) and "x_train" in str(err.value)
