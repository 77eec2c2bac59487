"""The one registry route (optdyn/registry.py): every name a paper YAML or a spec union can
hold reaches its code, lookups import only the paper they need, unknown names list the allowed."""

from __future__ import annotations

import subprocess
import sys
import typing
from pathlib import Path

import pytest

from optdyn.registry import (FIGURES, MODEL_SPECS, PAPERS, PLOT_SPECS, PROBE_KINDS, PROBE_SPECS, PROBLEMS,
                             UnknownName, load)
from optdyn.spec.components import ModelSpec
from optdyn.spec.plots import PlotSpec
from optdyn.spec.probes import ProbeSpec
from optdyn.spec.yamlio import load_yaml

REPO = Path(__file__).parents[1]


def _union(annotated) -> tuple[type, ...]:
    return typing.get_args(typing.get_args(annotated)[0])


def test_papers_are_the_config_papers():
    assert sorted(PAPERS) == sorted(p.stem for p in (REPO / "config" / "papers").glob("*.yaml"))


@pytest.mark.parametrize("paper", PAPERS)
def test_every_figure_key_has_a_plot_spec_and_a_figure_function(paper):
    keys = list(load_yaml(REPO / "config" / "papers" / f"{paper}.yaml")["figures"])
    plots, figures = PLOT_SPECS.of(paper), FIGURES.of(paper)
    for key in keys:
        assert issubclass(plots[key], PlotSpec) and PLOT_SPECS.get((paper, key)) is plots[key]
        assert callable(figures[key]) and FIGURES.get((paper, key)) is figures[key]
    assert set(plots) == set(figures), "a plot spec without a figure function or the reverse"


def test_the_unions_are_the_registered_classes_in_a_fixed_order():
    assert _union(ModelSpec) == MODEL_SPECS.classes()
    assert _union(ProbeSpec) == PROBE_SPECS.classes()
    first = [c.__name__ for c in _union(ModelSpec)][:3]
    assert first == ["River2D", "QuadraticRiver", "BigramSoftmax"]  # the shared module's, then each paper's


def test_every_model_spec_has_a_builder_or_a_reason():
    for cls in _union(ModelSpec):
        info = MODEL_SPECS.info(cls)
        if info.spec_only is not None:
            assert info.spec_only.strip(), f"{cls.__name__}: spec-only needs a reason"
            continue
        assert callable(PROBLEMS.get(cls)), cls


def test_every_probe_kind_has_a_function():
    for cls in _union(ProbeSpec):
        assert callable(PROBE_KINDS.get(cls)), cls
    from optdyn.probes import kinds

    assert set(kinds()) == {PROBE_SPECS.info(c).tag for c in _union(ProbeSpec)}


def test_unknown_names_list_the_allowed_ones():
    with pytest.raises(UnknownName, match=r"unknown figure function 'fig99'; allowed: .*fig03.*tab04"):
        FIGURES.get(("wsd", "fig99"))
    with pytest.raises(UnknownName, match=r"'fig99'; allowed: .*appA"):
        PLOT_SPECS.get(("ire", "fig99"))
    with pytest.raises(UnknownName, match=r"unknown paper 'nope'; allowed: wsd, normsharp"):
        FIGURES.get(("nope", "fig01"))
    with pytest.raises(UnknownName, match=r"unknown paper 'nope'"):
        load("figures", "nope")
    with pytest.raises(UnknownName, match=r"model spec class 'int'; allowed: .*River2D.*IREValley"):
        PROBLEMS.get(int)
    from optdyn.probes import kinds

    with pytest.raises(KeyError, match=r"unknown probe 'nope'; allowed: .*city_loss.*selfstab_tracking"):
        kinds()["nope"]


def test_a_registration_is_unique():
    with pytest.raises(ValueError, match="registered twice"):
        FIGURES.decorator(("wsd", "fig03"))(lambda ctx: None)


_LAZY = """
import sys
from optdyn.spec.load import load_plan
assert "jax" not in sys.modules, "spec validation imported jax"
from optdyn.registry import FIGURES, PROBLEMS
from optdyn.spec.problems.ire import IREValley
PROBLEMS.get(IREValley)
FIGURES.get(("ire", "fig01"))
loaded = sorted(m for m in sys.modules if m.startswith(("optdyn.models.", "optdyn.figures.", "optdyn.probes.")))
# the language models (models/lm) are shared: IRE's Table 4 / Figs. 3-5 train them too
other = [m for m in loaded if any(p in m for p in ("wsd", "selfstab", "normsharp", "latedecay", "networks"))]
assert not other, other
"""


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_spec_is_jax_free_and_lookups_import_one_paper():
    out = subprocess.run([sys.executable, "-c", _LAZY], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
