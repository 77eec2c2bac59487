"""config/data.yaml through the spec, the `optdyn data` command and the Snakemake `data` rule."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_plan

REPO = Path(__file__).parents[1]
BIN = Path(sys.executable).parent


def _workspace(tmp_path: Path) -> Path:
    for name in ("Snakefile",):
        shutil.copy2(REPO / name, tmp_path / name)
    for name in ("workflow", "config"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", ".snakemake"))
    return tmp_path


def _run(cwd: Path, exe: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([str(BIN / exe), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_the_plan_resolves_every_dataset_with_its_builder_defaults():
    plan = load_plan(REPO / "config" / "config.yaml", papers=["wsd"])
    assert {"digits", "cifar10_5k", "sst2_5k"} <= set(plan.datasets)
    cifar = plan.datasets["cifar10_5k"]
    assert cifar["kind"] == "cifar10" and cifar["params"]["n"] == 5000 and cifar["params"]["normalization"] == "per_channel"
    assert plan.dataset_dir("digits") == Path("resources/data/digits")


@pytest.mark.parametrize("edit, path", [
    ("  digits:                 # the CIFAR", "datasets.Digits"),
    ("{kind: digits, rule: all, normalization: per_channel}", "datasets.digits.colour"),
    ("{kind: synthetic_tokens}", "datasets.synthetic_tokens.kind"),
])
def test_a_bad_dataset_entry_is_a_one_line_error_naming_its_key(tmp_path, edit, path):
    ws = _workspace(tmp_path)
    data = ws / "config" / "data.yaml"
    text = data.read_text()
    assert text.count(edit) == 1
    broken = {
        "  digits:                 # the CIFAR": "  Digits:                 # the CIFAR",
        "{kind: digits, rule: all, normalization: per_channel}": "{kind: digits, rule: all, normalization: per_channel, colour: 1}",
        "{kind: synthetic_tokens}": "{kind: synthetic_words}",
    }[edit]
    data.write_text(text.replace(edit, broken))
    with pytest.raises(SpecError) as err:
        load_plan(ws / "config" / "config.yaml", papers=["wsd"])
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(f"{data}: {path}: got "), msg


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_the_data_rule_prepares_a_dataset_and_refuses_a_missing_real_one(tmp_path):
    ws = _workspace(tmp_path)
    ok = _run(ws, "snakemake", "-c1", "resources/data/digits_3_vs_5")
    assert ok.returncode == 0, ok.stderr[-3000:]
    manifest = json.loads((ws / "resources/data/digits_3_vs_5/manifest.json").read_text())
    assert manifest["meta"]["kind"] == "digits" and "x_train.npy" in manifest["files"]
    spec = next((ws / "results").glob("*/specs/data/digits_3_vs_5.json"))
    again = _run(ws, "optdyn", "data", str(spec), "--out", "resources/data/digits_3_vs_5")  # verified and reused
    assert again.returncode == 0 and "manifest verified" in again.stdout

    assert _run(ws, "optdyn", "spec", "data", "cifar10_5k", "--tier", "paper", "--out", "cifar.json").returncode == 0
    missing = _run(ws, "optdyn", "data", "cifar.json", "--out", "resources/data/cifar10_5k")
    assert missing.returncode == 2
    line = missing.stderr.strip()
    assert "\n" not in line and "resources/raw/cifar-10-python.tar.gz" in line, line
    assert not (ws / "resources/data/cifar10_5k").exists()
