"""A run in words, for labels and captions: its model, data and steps, and, at a scaled-down tier,
the paper's setting it stands in for.

Both come from specs, never from prose: what ran is the tier's resolved run, and what it stands in
for is the same run resolved from the paper's base values (before the tier's overrides). So a
smoke figure can never call a width-32 toy "0.1B": it says "LLaMA d=32, 2 layers" and, beside
it, "stands in for LLaMA 0.1B (d=768, 12 layers) on the Pile".
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from .errors import SpecError

#: the papers' names for their language-model sizes (WSD Table 2; nanoGPT's GPT-2), by (name, hidden, layers)
PAPER_SIZES = {
    ("llama", 768, 12): "0.1B", ("llama", 1024, 24): "0.3B", ("llama", 1536, 24): "0.6B",
    ("llama", 2048, 16): "1.2B", ("gpt2", 768, 12): "124M",
}
MODEL_NAMES = {"llama": "LLaMA", "gpt2": "GPT-2", "mlp": "MLP", "cnn": "CNN", "transformer": "Transformer",
               "resnet18": "ResNet-18", "ire_transformer": "post-LN Transformer"}
#: a prepared dataset's builder kind -> what it is, for a dataset named after the paper's
DATA_KINDS = {
    "markov": "synthetic Markov language", "bigram": "city-to-name bigram language",
    "digits": "scikit-learn digits (8x8)", "synthetic_tokens": "synthetic token sequences",
    "cifar10": "CIFAR-10", "sst2": "SST-2", "cifar100": "CIFAR-100", "imagenet": "ImageNet",
}
CORPORA = {"pile": "the Pile", "dclm": "DCLM-baseline", "openwebtext": "OpenWebText", "wikitext103": "wikitext-103",
           "minipile": "MiniPile", "wikitext2": "wikitext-2"}


def _vision_net(net: dict) -> str:
    """The IRE paper's vision nets (spec/problems/ire.py) by their usual names."""
    kind = net.get("kind")
    if kind == "cifar_resnet":
        return f"ResNet-{net.get('depth', 56)}, width {net.get('width', 16)}"
    if kind == "wide_resnet":
        return f"WRN-{net.get('depth', 28)}-{net.get('widen', 10)}, width {16 * net.get('widen', 10)}"
    if kind == "bottleneck_resnet":
        stages = net.get("stages", [3, 4, 6, 3])
        return f"ResNet-{3 * sum(stages) + 2} (bottleneck), width {net.get('width', 64)}"
    if kind == "vit":
        return f"ViT d={net.get('dim', 192)}, {net.get('depth', 12)} layers, patch {net.get('patch', 4)}"
    if kind == "mlp":
        return f"MLP, widths {net.get('widths', [128, 128])}"
    return str(kind)


def describe_model(model: dict | None) -> str:
    if not isinstance(model, dict):
        return "?"
    name = str(model.get("name", "?"))
    if name == "ire_vision" and isinstance(model.get("net"), dict):
        return _vision_net(model["net"])
    pretty = MODEL_NAMES.get(name, name.replace("_", " "))
    if name in ("llama", "gpt2", "transformer", "ire_transformer") and "hidden" in model:
        size = PAPER_SIZES.get((name, model.get("hidden"), model.get("layers")))
        layers = model.get("layers")
        dims = f"d={model['hidden']}, {layers} layer{'s' if layers != 1 else ''}"
        return f"{pretty} {size} ({dims})" if size else f"{pretty} {dims}"
    for key, word in (("widths", "widths"), ("channels", "channels"), ("base_width", "width")):
        if key in model:
            return f"{pretty}, {word} {model[key]}"
    return pretty


def describe_data(data: dict | None, datasets: dict[str, dict]) -> str:
    """The data a run reads; a prepared dataset by its name and what its builder makes."""
    if not isinstance(data, dict):
        return "its own analytic loss"
    if data.get("name") != "prepared":
        return str(data.get("name", "?")).replace("_", " ")
    name = str(data.get("dataset"))
    definition = datasets.get(name) or {}
    kind = definition.get("kind")
    if kind == "corpus":
        return CORPORA.get(name, name)
    what = DATA_KINDS.get(kind)
    if kind == "digits":
        return f"{what}, {name}" if what else name
    return f"{what} ({name})" if what and what.lower() != name.lower() else (what or name)


def describe_run(run: dict, datasets: dict[str, dict]) -> dict[str, Any]:
    """``{"model", "data", "steps"}`` of a run given as a plain (merged) dict; steps a schedule
    implies (a WSD plan's last decay) are read off the typed run when the dict leaves them out."""
    steps = run.get("steps")
    if not isinstance(steps, int):
        steps = _natural_steps(run)
    return {"model": describe_model(run.get("model")), "data": describe_data(run.get("data"), datasets),
            "steps": steps}


def _natural_steps(run: dict) -> int | None:
    from pydantic import ValidationError

    from .paper import RunSpec
    from .runs import natural_steps

    try:
        return natural_steps(RunSpec.model_validate({k: v for k, v in run.items() if k != "steps"}))
    except (ValidationError, TypeError, ValueError):
        return None


def sentence(desc: dict[str, Any]) -> str:
    return f"{desc['model']} on {desc['data']}{_steps([desc.get('steps')])}"


def settings(runs: dict[str, Any], paper_runs: dict[str, dict] | None, datasets: dict[str, dict]) -> dict[str, dict]:
    """run name -> ``{"ran": description, "paper": description or None}``; ``runs``: name -> RunSpec
    of the tier, ``paper_runs``: name -> the paper's plain run (None at the paper tier itself)."""
    out = {}
    for name, spec in runs.items():
        ran = describe_run(spec.model_dump(mode="json"), datasets)
        paper = None
        if paper_runs is not None:
            base = paper_run_for(name, paper_runs)
            paper = describe_run(base, datasets) if base is not None else None
        out[name] = {"ran": ran, "paper": paper if differs(ran, paper) else None}
    return out


def differs(ours: dict[str, Any], paper: dict[str, Any] | None) -> bool:
    return paper is not None and any(ours.get(k) != paper.get(k) for k in ("model", "data", "steps"))


def base_runs(base_doc: dict, file: str) -> dict[str, dict[str, dict]]:
    """figure key -> run name -> the run resolved from the paper's own values (no tier), as a
    plain dict; ``{}`` for a figure whose base values do not expand (the tier may repair them)."""
    from .expand import expand_figure
    from .overrides import resolve_presets

    doc = copy.deepcopy(base_doc)
    try:
        presets = doc.get("presets")
        presets = resolve_presets(presets if isinstance(presets, dict) else {}, file)
    except SpecError:
        return {}
    out: dict[str, dict[str, dict]] = {}
    figures = doc.get("figures")
    for fkey, fig in (figures if isinstance(figures, dict) else {}).items():
        if not isinstance(fig, dict):
            continue
        try:
            expand_figure(fig, presets, file, f"figures.{fkey}")
        except SpecError:
            continue
        runs = fig.get("runs")
        if isinstance(runs, dict):  # anything else is malformed: the typed validation says so later
            out[fkey] = {r: run for r, run in runs.items() if isinstance(run, dict)}
    return out


def paper_run_for(name: str, runs: dict[str, dict]) -> dict | None:
    """The paper's run behind a tier's run name: the same name, else the same sweep or seed
    member's group (``fig10``'s smoke seed ``wsd[seed=1]`` stands in for the paper's ``wsd``)."""
    if name in runs:
        return runs[name]
    group = re.sub(r"_decay\d+$", "", name.split("[", 1)[0])  # a WSD plan's decay branch: its plan
    if group in runs:
        return runs[group]
    same = [r for n, r in runs.items() if n.split("[", 1)[0] == group]
    return same[0] if same else None


def setting_summary(settings: dict[str, dict]) -> dict[str, Any]:
    """A figure's runs in a few lines: one per (model, data, the paper's model and data), its step
    counts as a range, the runs that share it named by group. ``ran`` / ``stands_in_for``: the
    first line's two halves, for a one-line caption."""
    rows: dict[tuple, dict[str, list]] = {}
    for name, s in settings.items():
        ran, paper = s["ran"], s.get("paper")
        key = (ran["model"], ran["data"], paper and paper["model"], paper and paper["data"])
        row = rows.setdefault(key, {"names": [], "steps": [], "paper_steps": []})
        group = name.split("[", 1)[0] + ("[...]" if "[" in name else "")
        if group not in row["names"]:
            row["names"].append(group)
        row["steps"].append(ran["steps"])
        if paper:
            row["paper_steps"].append(paper["steps"])
    lines, halves = [], []
    for (model, data, pmodel, pdata), row in rows.items():
        ran = f"{model} on {data}{_steps(row['steps'])}"
        paper = f"{pmodel} on {pdata}{_steps(row['paper_steps'])}" if pmodel else None
        names = row["names"]
        who = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        lines.append(f"{who}: {ran}" + (f"; stands in for {paper}" if paper else ""))
        halves.append((ran, paper))
    first = halves[0] if halves else (None, None)
    return {"ran": first[0], "stands_in_for": first[1], "lines": lines}


def _steps(steps: list) -> str:
    known = sorted({s for s in steps if isinstance(s, int)})
    if not known:
        return ""
    return f", {known[0]:,} steps" if len(known) == 1 else f", {known[0]:,}-{known[-1]:,} steps"


def config_line(file: Path, key: str) -> int | None:
    """The line of ``figures.<key>`` in a paper's YAML (1-based), for a link to the block."""
    try:
        text = Path(file).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    inside = False
    for n, line in enumerate(text, 1):
        if re.match(r"^figures:\s*(#.*)?$", line):
            inside = True
        elif inside and re.match(rf"^\s+{re.escape(key)}:", line):
            return n
    return None
