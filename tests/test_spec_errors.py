"""Malformed configs: every one must fail in ``load_plan`` with a one-line ``SpecError``.

Each case copies ``config/`` into a temporary folder, breaks one thing in ``config.yaml`` or in
``papers/wsd.yaml`` and checks that the error is one line of the form

    <file>: <key path>: got <value>; <what is allowed>

naming the offending file, the exact key path, the offending value and what would be allowed,
and that nothing was written to the results folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_plan
from spec_error_cases import CASES, GD_PATH, Case, run  # noqa: E402  (sibling test module)

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


# --- fixtures and helpers ---------------------------------------------------------------------


@dataclass
class Workspace:
    root: Path  # tmp_path
    config: Path  # <root>/config/config.yaml
    paper: Path  # <root>/config/papers/wsd.yaml
    results: Path  # the results folder config.yaml points to (must never be created)

    def read(self, which: str) -> dict:
        return yaml.safe_load(self.file(which).read_text())

    def write(self, which: str, data: dict) -> None:
        self.file(which).write_text(yaml.safe_dump(data, sort_keys=False, width=1000))

    def file(self, which: str) -> Path:
        return {"config": self.config, "paper": self.paper}[which]


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    shutil.copytree(ROOT / "config", tmp_path / "config")
    config = tmp_path / "config" / "config.yaml"
    results = tmp_path / "results_out"
    cfg = yaml.safe_load(config.read_text())
    cfg["results"] = str(results)
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return Workspace(tmp_path, config, tmp_path / "config" / "papers" / "wsd.yaml", results)


def _check_message(msg: str, file: Path, case: Case) -> None:
    assert "\n" not in msg, f"message is not one line:\n{msg}"
    prefix = f"{file}: "
    assert msg.startswith(prefix), f"message does not start with {prefix!r}: {msg}"
    m = re.fullmatch(r"(?P<path>.+?): got (?P<rest>.+)", msg[len(prefix):])
    assert m, f"message is not '<file>: <key path>: got <value>; <allowed>': {msg}"
    path, rest = m["path"], m["rest"]
    if case.path_regex:
        assert re.fullmatch(case.path_regex, path), f"key path {path!r} !~ {case.path_regex!r}: {msg}"
    elif case.path_prefix:
        assert path == case.path or path.startswith((case.path + ".", case.path + "[")), (
            f"key path {path!r} is not {case.path!r} or below it: {msg}")
    else:
        assert path == case.path, f"key path {path!r} != {case.path!r}: {msg}"
    assert "; " in rest, f"no '; <what is allowed>' part: {msg}"
    assert case.value in rest, f"offending value {case.value!r} not shown: {msg}"
    for frag in case.allowed:
        assert frag in rest, f"allowed-part fragment {frag!r} missing: {msg}"


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_config(ws: Workspace, case: Case) -> None:
    target = ws.file(case.file)
    if case.edit is not None:
        data = ws.read(case.file)
        case.edit(data)
        ws.write(case.file, data)
    if case.text is not None:
        target.write_text(case.text(target.read_text()))
    with pytest.raises(SpecError) as info:
        load_plan(ws.config)
    _check_message(str(info.value), target, case)
    assert not ws.results.exists(), "the results folder was created by a failing validation"


def test_unmodified_copy_loads(ws: Workspace) -> None:
    """The baseline every case breaks: the copied config is valid as it is."""
    # round-trip through the same dump the cases use, so a failure above is the edit's fault
    for which in ("config", "paper"):
        ws.write(which, ws.read(which))
    plan = load_plan(ws.config)
    assert "wsd_fig03" in plan.figures
    assert not ws.results.exists()


def test_exponent_without_dot_is_a_float(ws: Workspace) -> None:
    """PyYAML reads ``6e-1`` as a string; the loader must read it as the float 0.6."""
    text = ws.paper.read_text()
    text, n = re.subn(r"(name: constant, lr:) 0\.6\b", r"\1 6e-1", text, count=1)
    assert n == 1, "test setup: gd's 'lr: 0.6' not found in wsd.yaml"
    text, n = re.subn(r"(name: constant, lr:) 0\.02\b", r"\1 2E-2", text, count=1)
    assert n == 1, "test setup: flows' 'lr: 0.02' not found in wsd.yaml"
    ws.paper.write_text(text)
    plan = load_plan(ws.config)
    runs = plan.papers["wsd"].figures["fig03"].runs
    assert runs["gd"].schedule.lr == pytest.approx(0.6) and isinstance(runs["gd"].schedule.lr, float)
    assert runs["flows"].schedule.lr == pytest.approx(0.02)


def test_config_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "config" / "config.yaml"
    with pytest.raises(SpecError) as info:
        load_plan(missing)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{missing}: "), msg
    assert "file not found" in msg, msg
    assert list(tmp_path.iterdir()) == []


def test_paper_file_not_found(ws: Workspace) -> None:
    ws.paper.unlink()
    with pytest.raises(SpecError) as info:
        load_plan(ws.config)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{ws.paper}: "), msg
    assert "file not found" in msg, msg
    assert not ws.results.exists()


# --- the same errors through the CLI and through Snakemake ---------------------------------------


def _break_gd_lr(paper: Path) -> None:
    doc = yaml.safe_load(paper.read_text())
    run(doc, "fig03", "gd")["schedule"]["lr"] = -1.0
    paper.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_cli_validate_exit_code_and_one_line(ws: Workspace) -> None:
    _break_gd_lr(ws.paper)
    exe = VENV_BIN / "optdyn"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "optdyn.cli"]
    proc = subprocess.run([*cmd, "validate", "--config", str(ws.config)], capture_output=True, text=True,
                          env=_env(), cwd=ws.root, timeout=60)
    assert proc.returncode == 2, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, f"stderr is not one line:\n{proc.stderr}"
    assert lines[0].startswith(f"optdyn: error: {ws.paper}: {GD_PATH}.schedule.lr: got -1.0; "), lines[0]
    assert not ws.results.exists()


@pytest.mark.slow
def test_snakemake_dry_run_fails_before_writing(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "Snakefile", tmp_path / "Snakefile")
    shutil.copytree(ROOT / "workflow", tmp_path / "workflow")
    shutil.copytree(ROOT / "config", tmp_path / "config")
    paper = tmp_path / "config" / "papers" / "wsd.yaml"
    _break_gd_lr(paper)
    results = yaml.safe_load((tmp_path / "config" / "config.yaml").read_text()).get("results", "results")
    snakemake = VENV_BIN / "snakemake"
    cmd = [str(snakemake)] if snakemake.exists() else [sys.executable, "-m", "snakemake"]
    proc = subprocess.run([*cmd, "-n", "-c1"], capture_output=True, text=True, env=_env(), cwd=tmp_path,
                          timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    errors = [line for line in out.splitlines() if "optdyn: error:" in line]
    assert errors, f"no 'optdyn: error:' line in snakemake's output:\n{out}"
    assert any(f"{GD_PATH}.schedule.lr: got -1.0; " in line for line in errors), errors
    assert all(line.startswith("optdyn: error: ") for line in errors), errors
    assert not (tmp_path / results).exists(), f"{results}/ was created by a failing dry run"
    assert not (tmp_path / "results").exists()
