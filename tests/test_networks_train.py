"""Networks on prepared datasets: spec -> verified dataset -> ClassifierProblem -> Trainer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from optdyn.data.errors import DataError
from optdyn.data.prepare import prepare
from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_plan
from optdyn.spec.paper import RunSpec
from optdyn.train.trainer import Trainer

REPO = Path(__file__).parents[1]


def _spec(model: dict, steps: int = 30, lr: float = 0.05) -> RunSpec:
    raw = {"model": model, "data": {"name": "prepared", "dataset": "pair"}, "schedule": {"name": "constant", "lr": lr},
           "steps": steps, "progress": False}
    return RunSpec.model_validate_json(json.dumps(raw))


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    prepare("pair", "digits", {"rule": "first_per_class", "per_class": 40, "classes": [3, 5], "normalization": "per_channel"}, root)
    return root


@pytest.mark.parametrize("model", [
    {"name": "mlp", "widths": [32]},
    {"name": "mlp", "widths": [32], "criterion": "binary_mse"},
    {"name": "cnn", "channels": [4, 4]},
])
@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_full_batch_gd_on_a_prepared_dataset_lowers_the_loss(root, model):
    trainer = Trainer(_spec(model), data_root=root)
    state = trainer.init_state()
    before = float(trainer.evaluate(state)["loss"])
    state, logged = trainer.advance(state, 30)
    after = trainer.evaluate(state)
    assert float(after["loss"]) < 0.8 * before
    assert np.all(np.isfinite(logged["batch_loss"]))
    assert 0.0 <= float(after["test_accuracy"]) <= 1.0


def test_a_modified_prepared_file_is_refused_before_training(tmp_path, root):
    copy = tmp_path / "data"
    shutil.copytree(root, copy)
    target = copy / "pair" / "x_train.npy"
    raw = bytearray(target.read_bytes())
    raw[-1] ^= 0xFF
    target.write_bytes(bytes(raw))
    with pytest.raises(DataError) as err:
        Trainer(_spec({"name": "mlp", "widths": [8]}), data_root=copy)
    assert "\n" not in str(err.value) and "x_train.npy" in str(err.value)


def test_a_run_naming_an_unknown_dataset_is_a_one_line_spec_error(tmp_path):
    shutil.copytree(REPO / "config", tmp_path / "config")
    paper = tmp_path / "config" / "papers" / "wsd.yaml"
    text = paper.read_text()
    anchor = "        model: {name: river2d, init: [[0.0, 2.0]]}   # catalog's reference start\n"
    assert text.count(anchor) == 1
    paper.write_text(text.replace(anchor, "        model: {name: mlp}\n        data: {name: prepared, dataset: cifar11}\n"))
    with pytest.raises(SpecError) as err:
        load_plan(tmp_path / "config" / "config.yaml", papers=["wsd"])
    assert str(err.value).startswith(f"{paper}: figures.fig03.runs.gd.data.dataset: got 'cifar11'; not a dataset"), str(err.value)


def test_redefining_a_dataset_changes_the_run_id():
    from optdyn.spec.identity import run_id

    spec = _spec({"name": "mlp"})
    a = run_id(spec, dataset={"kind": "digits", "params": {"n": 100}})
    b = run_id(spec, dataset={"kind": "digits", "params": {"n": 200}})
    assert a != b and a.startswith("mlp-constant-")
