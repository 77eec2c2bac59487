"""Data flows one way: config -> spec -> runs -> probes -> figures -> claims -> report.

No module under ``optdyn/`` imports from a layer above its own (an import inside a function
counts too: it is an arrow all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "optdyn"

#: lowest first; a module may import its own layer and the ones before it
LAYERS = (
    ("__init__", "precision", "registry", "stats"),  # stats: seed-replicate summaries
    ("curvature",),  # numerics on any loss: HVP, Lanczos, Fisher, ...
    ("theory",),  # closed forms and reference solutions
    ("data",),  # readers and builders (synthetic languages draw on theory)
    ("spec",),  # the typed config; validates dataset kinds against data's builders
    ("models", "optim"),
    ("train",),
    ("probes",),
    ("figures",),
    ("claims",),
    ("report",),
    ("cli", "snakemake_timers"),  # the entry points: the CLI, and the Snakefile's end-of-workflow hooks
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _top(module: Path) -> str:
    rel = module.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imported(module: Path) -> list[tuple[int, str]]:
    """(line, top-level optdyn package) of every optdyn import in the module."""
    tree = ast.parse(module.read_text(), str(module))
    package = module.relative_to(SRC.parent).with_suffix("").parts[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join((*base, node.module)) if node.module else ".".join(base)]
                if not node.module:
                    names = [".".join((*base, a.name)) for a in node.names]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "optdyn" and len(parts) > 1:
                out.append((node.lineno, parts[1]))
    return out


MODULES = sorted(p for p in SRC.rglob("*.py"))


def test_every_top_level_module_has_a_layer():
    tops = {_top(m) for m in MODULES}
    assert tops <= set(RANK), sorted(tops - set(RANK))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_from_a_layer_above(module):
    own = RANK[_top(module)]
    up = [(line, top) for line, top in _imported(module) if top in RANK and RANK[top] > own]
    assert not up, f"{module.relative_to(SRC)} imports from a layer above it: {up}"


def test_curvature_and_theory_import_neither_probes_train_nor_figures():
    for module in MODULES:
        if _top(module) in ("curvature", "theory"):
            assert not {t for _, t in _imported(module)} & {"probes", "train", "figures"}, module
