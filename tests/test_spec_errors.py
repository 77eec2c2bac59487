"""Malformed configs: every one must fail in ``load_plan`` with a one-line ``SpecError``.

Each case copies ``config/`` into a temporary folder, breaks one thing in ``config.yaml`` or in
``papers/wsd.yaml`` and checks that the error is one line of the form

    <file>: <key path>: got <value>; <what is allowed>

naming the offending file, the exact key path, the offending value and what would be allowed,
and that nothing was written to the results folder.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from optdyn.spec.errors import SpecError
from optdyn.spec.load import load_plan

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


def run(doc: dict, fig: str, name: str) -> dict:
    return doc["figures"][fig]["runs"][name]


def tiers(doc: dict, tier: str) -> dict:
    if not isinstance(doc.get("tiers"), dict):
        doc["tiers"] = {}
    return doc["tiers"].setdefault(tier, {})


def insert_after(pattern: str, new_line: str) -> Callable[[str], str]:
    """Text edit: insert ``new_line`` (indented like the matched line) after the first line
    matching ``pattern``."""

    def edit(text: str) -> str:
        lines = text.splitlines(keepends=True)
        for i, line in enumerate(lines):
            if re.search(pattern, line):
                indent = line[: len(line) - len(line.lstrip())]
                lines.insert(i + 1, indent + new_line + "\n")
                return "".join(lines)
        raise AssertionError(f"test setup: no line matches {pattern!r} in wsd.yaml")

    return edit


def sub_once(pattern: str, repl: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        new, n = re.subn(pattern, repl, text, count=1, flags=re.M)
        assert n == 1, f"test setup: {pattern!r} not found in wsd.yaml"
        return new

    return edit


# --- the malformed configs ----------------------------------------------------------------------


@dataclass
class Case:
    id: str
    file: str  # "config" or "paper": the file the error must name
    edit: Callable[[dict], None] | None = None  # mutates the parsed YAML of ``file`` in place
    text: Callable[[str], str] | None = None  # or edits its text (YAML-level cases)
    path: str = ""  # the exact key path the message must give ...
    path_prefix: bool = False  # ... or a prefix of it (deeper paths are fine)
    path_regex: str | None = None  # ... or a regex the whole key path must match
    value: str = ""  # fragment of the offending value as shown after "got "
    allowed: tuple[str, ...] = field(default_factory=tuple)  # fragments of the "allowed" part


def _cfg(**kv):
    return lambda cfg: cfg.update(kv)


def _del(getter, key):
    return lambda doc: getter(doc).pop(key)


def _set(getter, key, value):
    return lambda doc: getter(doc).__setitem__(key, copy.deepcopy(value))


GD = lambda d: run(d, "fig03", "gd")  # noqa: E731
GD_SCHED = lambda d: run(d, "fig03", "gd")["schedule"]  # noqa: E731
GD_MODEL = lambda d: run(d, "fig03", "gd")["model"]  # noqa: E731
WSD_SCHED = lambda d: run(d, "fig04", "wsd")["schedule"]  # noqa: E731
FIG03 = lambda d: d["figures"]["fig03"]  # noqa: E731
FIG03_CLAIMS = lambda d: d["figures"]["fig03"]["claims"]  # noqa: E731
GD_PATH = "figures.fig03.runs.gd"


def _dup_claim_id(doc):
    claims = FIG03_CLAIMS(doc)
    claims[1]["id"] = claims[0]["id"]


def _unknown_dataset(doc):
    r = run(doc, "fig07", "constant")
    r["data"] = {**r["data"], "name": "bigram"}


def _plot_unknown_key(doc):
    plot = doc["figures"]["fig06"]["plot"]
    plot["language"] = {**plot["language"], "nmes": 10}  # a copy: the YAML anchor shares it with fig07


def _data_unknown_key(doc):
    r = run(doc, "fig07", "constant")
    r["data"] = {**r["data"], "nmes": 10}


def _preset_bad_value_used(doc):
    doc["presets"]["adam_levanter"]["optimizer"]["b1"] = 1.5
    run(doc, "fig03", "gd")["extends"] = "adam_levanter"


def _branch_cycle(doc):
    run(doc, "fig03", "flows")["branch_from"] = {"run": "gd", "step": 10}
    run(doc, "fig03", "gd")["branch_from"] = {"run": "flows", "step": 10}


def _rename_to_branch(doc):
    doc["figures"]["fig04"]["runs"]["wsd_decay1"] = copy.deepcopy(run(doc, "fig04", "constant"))


CASES = [
    # --- unknown keys ---
    Case("paper_unknown_top_key", "paper", _set(lambda d: d, "figurez", 1),
         path="figurez", value="1", allowed=("unknown key", "figures", "presets", "tiers")),
    Case("run_unknown_key", "paper", _set(GD, "stepz", 80),
         path=f"{GD_PATH}.stepz", value="80", allowed=("unknown key", "steps", "schedule")),
    Case("model_unknown_key", "paper", _set(GD_MODEL, "hiden", 5),
         path=f"{GD_PATH}.model.hiden", value="5", allowed=("unknown key", "noise_sigma", "init_box")),
    Case("schedule_unknown_key", "paper", _set(GD_SCHED, "peak_lr", 0.6),
         path=f"{GD_PATH}.schedule.peak_lr", value="0.6", allowed=("unknown key", "lr", "warmup_steps")),
    Case("claim_unknown_key", "paper", _set(lambda d: FIG03_CLAIMS(d)[0], "tolerance", 0.1),
         path="figures.fig03.claims[0].tolerance", value="0.1", allowed=("unknown key", "check", "metric")),
    Case("plot_unknown_key", "paper", _plot_unknown_key,
         path="figures.fig06.plot.language.nmes", value="10", allowed=("unknown key", "names")),
    Case("data_unknown_key", "paper", _data_unknown_key,
         path="figures.fig07.runs.constant.data.nmes", value="10", allowed=("unknown key", "names")),
    Case("preset_unknown_key", "paper", _set(lambda d: d["presets"]["llama_100m"], "modle", {"name": "llama"}),
         path="presets.llama_100m.modle", value="modle", allowed=("unknown key", "model", "schedule")),
    Case("config_unknown_key", "config", _cfg(resultz="out"),
         path="resultz", value="'out'", allowed=("unknown key", "results", "tier")),
    # --- wrong types ---
    Case("string_for_number", "paper", _set(GD_SCHED, "lr", "0.6"),
         path=f"{GD_PATH}.schedule.lr", value="'0.6'", allowed=("number",)),
    Case("bool_for_number", "paper", _set(GD_SCHED, "lr", True),
         path=f"{GD_PATH}.schedule.lr", value="true", allowed=("number",)),
    Case("list_for_mapping_runs", "paper", _set(FIG03, "runs", ["gd", "flows"]),
         path="figures.fig03.runs", value='["gd", "flows"]', allowed=("object",)),
    Case("list_for_mapping_model", "paper", _set(GD, "model", ["river2d"]),
         path=f"{GD_PATH}.model", value='["river2d"]', allowed=("object",)),
    Case("float_for_int_steps", "paper", _set(GD, "steps", 80.5),
         path=f"{GD_PATH}.steps", value="80.5", allowed=("integer",)),
    Case("integral_float_for_int_steps", "paper", _set(GD, "steps", 80.0),
         path=f"{GD_PATH}.steps", value="80.0", allowed=("integer",)),
    Case("preset_string_for_int", "paper", _set(lambda d: d["presets"]["llama_100m"]["model"], "hidden", "768"),
         path="presets.llama_100m.model.hidden", value="'768'", allowed=("integer",)),
    Case("bad_dtype", "paper", _set(GD, "dtype", "float16"),
         path=f"{GD_PATH}.dtype", value="'float16'", allowed=("float32", "float64")),
    # --- missing required fields ---
    Case("missing_constant_lr", "paper", _del(GD_SCHED, "lr"),
         path=f"{GD_PATH}.schedule.lr", value="null", allowed=("missing", "lr")),
    Case("missing_model_name", "paper", _del(GD_MODEL, "name"),
         path=f"{GD_PATH}.model.name", value="null", allowed=("missing", "river2d", "llama")),
    Case("missing_steps_constant", "paper", _del(GD, "steps"),
         path=f"{GD_PATH}.steps", value="null", allowed=("required", "constant")),
    Case("missing_figure_title", "paper", _del(FIG03, "title"),
         path="figures.fig03.title", value="null", allowed=("missing", "title")),
    # --- unknown names ---
    Case("unknown_schedule", "paper", _set(GD_SCHED, "name", "constnat"),
         path=f"{GD_PATH}.schedule.name", value="'constnat'", allowed=("constant", "cosine", "wsd_s")),
    Case("unknown_optimizer", "paper", _set(GD, "optimizer", {"name": "adam"}),
         path=f"{GD_PATH}.optimizer.name", value="'adam'", allowed=("sgd", "adamw")),
    Case("unknown_model", "paper", _set(GD_MODEL, "name", "river3d"),
         path=f"{GD_PATH}.model.name", value="'river3d'", allowed=("river2d", "quadratic_river", "llama")),
    Case("unknown_dataset", "paper", _unknown_dataset,
         path="figures.fig07.runs.constant.data.name", value="'bigram'", allowed=("bigram_language",)),
    Case("unknown_figure", "paper", lambda d: d["figures"].__setitem__("fig99", copy.deepcopy(d["figures"]["fig04"])),
         path="figures.fig99", value="'fig99'", allowed=("fig03", "tab04")),
    Case("unknown_paper", "config", _cfg(papers=["wsd", "nope"]),
         path="papers[1]", value="'nope'", allowed=("wsd",)),
    Case("bad_tier", "config", _cfg(tier="huge"),
         path="tier", value="'huge'", allowed=("tiny", "smoke", "paper")),
    Case("no_papers", "config", _cfg(papers=[]),
         path="papers", value="[]", allowed=("at least 1",)),
    # --- bounds ---
    Case("lr_negative", "paper", _set(GD_SCHED, "lr", -0.1),
         path=f"{GD_PATH}.schedule.lr", value="-0.1", allowed=("greater than 0",)),
    Case("lr_zero", "paper", _set(GD_SCHED, "lr", 0.0),
         path=f"{GD_PATH}.schedule.lr", value="0.0", allowed=("greater than 0",)),
    Case("steps_zero", "paper", _set(GD, "steps", 0),
         path=f"{GD_PATH}.steps", value="0", allowed=("greater than 0",)),
    Case("momentum_one", "paper", _set(GD, "optimizer", {"name": "sgd", "momentum": 1.0}),
         path=f"{GD_PATH}.optimizer.momentum", value="1.0", allowed=("less than 1",)),
    Case("claim_id_pattern", "paper", _set(lambda d: FIG03_CLAIMS(d)[0], "id", "Flows-Reach"),
         path="figures.fig03.claims[0].id", value="'Flows-Reach'", allowed=("[a-z0-9_]",)),
    # --- WSD schedules ---
    Case("wsd_decay_starts_not_increasing", "paper", _set(WSD_SCHED, "decays", [[2000, 2200], [1000, 1500]]),
         path="figures.fig04.runs.wsd.schedule.decays", path_prefix=True, value="1000",
         allowed=("increasing",)),
    Case("wsd_decay_start_ge_end", "paper", _set(WSD_SCHED, "decays", [[2200, 2000]]),
         path="figures.fig04.runs.wsd.schedule.decays", path_prefix=True, value="2200",
         allowed=("start < end",)),
    Case("wsd_theory_without_gamma", "paper", _del(WSD_SCHED, "gamma"),
         path="figures.fig04.runs.wsd.schedule", path_prefix=True, value="theory", allowed=("gamma",)),
    Case("wsd_branch_name_taken", "paper", _rename_to_branch,
         path="figures.fig04.runs.wsd_decay1", value="'wsd_decay1'", allowed=("rename",)),
    # --- branching ---
    Case("branch_from_unknown_run", "paper", _set(lambda d: run(d, "fig04", "constant"), "branch_from", {"run": "nope", "step": 100}),
         path="figures.fig04.runs.constant.branch_from.run", value="'nope'", allowed=("cosine", "wsd")),
    Case("branch_from_step_beyond_parent", "paper", _set(lambda d: run(d, "fig04", "constant"), "branch_from", {"run": "cosine", "step": 5000}),
         path="figures.fig04.runs.constant.branch_from.step", value="5000", allowed=("2200",)),
    Case("branch_from_step_not_below_own_steps", "paper", _set(lambda d: run(d, "fig04", "constant"), "branch_from", {"run": "cosine", "step": 2200}),
         path="figures.fig04.runs.constant.branch_from.step", value="2200", allowed=("below",)),
    Case("branch_from_cycle", "paper", _branch_cycle,
         path_regex=r"figures\.fig03\.runs\.(gd|flows)\.branch_from\.run", value="'", allowed=("cycle",)),
    # --- presets ---
    Case("extends_unknown_preset", "paper", _set(GD, "extends", "nope_preset"),
         path=f"{GD_PATH}.extends", value="'nope_preset'", allowed=("llama_100m", "adam_levanter")),
    Case("preset_bad_value_reported_at_preset", "paper", _preset_bad_value_used,
         path="presets.adam_levanter.optimizer.b1", value="1.5", allowed=("less than 1",)),
    Case("plot_row_unknown_preset", "paper", _set(lambda d: d["figures"]["fig02"]["plot"]["rows"][1], "preset", "nope"),
         path="figures.fig02.plot.rows[1].preset", value="'nope'", allowed=("wsd_s_paper", "wsd_llama_100m")),
    # --- tier overrides ---
    Case("override_path_missing", "paper",
         lambda d: tiers(d, "smoke").update({"figures.fig03.runs.nope.steps": {"value": 10, "reason": "shorter"}}),
         path="tiers.smoke.figures.fig03.runs.nope.steps", value="'nope'", allowed=("gd", "flows")),
    Case("override_without_reason", "paper",
         lambda d: tiers(d, "smoke").update({"figures.fig03.runs.gd.steps": {"value": 10}}),
         path="tiers.smoke.figures.fig03.runs.gd.steps", value='{value: 10}', allowed=("reason",)),
    Case("override_reason_too_short", "paper",
         lambda d: tiers(d, "smoke").update({"figures.fig03.runs.gd.steps": {"value": 10, "reason": "x"}}),
         path="tiers.smoke.figures.fig03.runs.gd.steps.reason", value="'x'", allowed=("at least 3",)),
    Case("override_bad_value_reported_at_override", "paper",
         lambda d: tiers(d, "smoke").update({"figures.fig03.runs.gd.steps": {"value": "ten", "reason": "shorter"}}),
         path="tiers.smoke.figures.fig03.runs.gd.steps", path_prefix=True, value="'ten'", allowed=("integer",)),
    Case("override_under_paper_tier", "paper",
         lambda d: tiers(d, "paper").update({"figures.fig03.runs.gd.steps": {"value": 10, "reason": "shorter"}}),
         path="tiers.paper", value="'paper'", allowed=("tiny", "smoke")),
    Case("override_unknown_tier", "paper",
         lambda d: tiers(d, "huge").update({"figures.fig03.runs.gd.steps": {"value": 10, "reason": "shorter"}}),
         path="tiers.huge", value="'huge'", allowed=("tiny", "smoke")),
    # --- claims ---
    Case("claim_check_two_keys", "paper", _set(lambda d: FIG03_CLAIMS(d)[1], "check", {"rel_tol": 0.1, "abs_tol": 0.1}),
         path="figures.fig03.claims[1].check", value="rel_tol", allowed=("exactly one",)),
    Case("claim_check_empty", "paper", _set(lambda d: FIG03_CLAIMS(d)[1], "check", {}),
         path="figures.fig03.claims[1].check", value="{}", allowed=("exactly one",)),
    Case("claim_unknown_metric", "paper", _set(lambda d: d["figures"]["fig03"]["claims"][0], "metric", "flows_finl"),
         path="figures.fig03.claims[0].metric", value="'flows_finl'", allowed=("gd_progress_slope",)),
    Case("duplicate_claim_ids", "paper", _dup_claim_id,
         path="figures.fig03.claims", path_prefix=True, value="'flows_reach_river'", allowed=("unique",)),
    # --- figure/plot consistency ---
    Case("figure_missing_required_run", "paper", _del(lambda d: FIG03(d)["runs"], "gd"),
         path="figures.fig03.runs", value='"flows"', allowed=("gd", "sgd_small")),
    Case("toy_model_with_data", "paper",
         lambda d: GD(d).__setitem__("data", copy.deepcopy(run(d, "fig07", "constant")["data"])),
         path=f"{GD_PATH}.data", value="bigram_language", allowed=("river2d",)),
    Case("paper_field_mismatch", "paper", _set(lambda d: d, "paper", "wsdx"),
         path="paper", value="'wsdx'", allowed=("'wsd'",)),
    # --- YAML level ---
    Case("duplicate_key_top_level", "paper", text=lambda t: t + '\ntitle: "again"\n',
         path="title", value="'title'", allowed=("duplicate key",)),
    Case("duplicate_key_nested", "paper", text=insert_after(r"^\s+steps: 80\b", "steps: 90"),
         path=f"{GD_PATH}.steps", value="steps", allowed=("duplicate key",)),
    Case("invalid_yaml_syntax", "paper", text=lambda t: t + "\nbroken: [1, 2\n",
         path_regex=r"line \d+", value="null", allowed=("invalid YAML",)),
    Case("invalid_yaml_tab_indent", "config", text=lambda t: t.replace("papers:", "papers:\n\t- wsd\nx:", 1),
         path_regex=r"line \d+", value="null", allowed=("invalid YAML",)),
    Case("paper_not_a_mapping", "paper", text=lambda t: "- just\n- a list\n",
         path="<top>", value='["just", "a list"]', allowed=("mapping",)),
    Case("exponent_steps_is_float_not_int", "paper", text=sub_once(r"^(\s+steps:) 80\b", r"\1 8e1"),
         path=f"{GD_PATH}.steps", value="80.0", allowed=("integer",)),
]


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
