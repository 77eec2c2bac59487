"""The malformed configs of ``test_spec_errors.py``: each case breaks one thing in a copy of
``config/config.yaml`` or ``config/papers/wsd.yaml`` and says which error it must produce."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Callable


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
