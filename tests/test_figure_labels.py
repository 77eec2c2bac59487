"""Honest labels inside the figures: every title, legend, axis label and annotation of the smoke
figures that print model sizes names what ran, and a paper-scale name only as what it stands in
for (the caption side is tests/test_honest_labels.py, whose name lists this reuses).

Drawn from the smoke build's cached runs and prepared data (no training); skipped where they are absent."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from test_honest_labels import ATTRIBUTED, PAPER_SCALE  # noqa: E402

#: the figures issue 12 named for printing the paper's model names on toy models, and their kin
TARGETS = ["wsd_fig01", "wsd_fig08", "wsd_fig09", "wsd_fig10", "wsd_fig11", "wsd_fig15", "wsd_tab01"]
RESULTS = Path("results/smoke")


def texts_of(fig) -> list[str]:
    """Every string the figure shows, one per text artist (a wrapped title is one string)."""
    out = [t.get_text() for t in fig.texts]
    if getattr(fig, "_suptitle", None) is not None:
        out.append(fig._suptitle.get_text())
    legends = list(fig.legends)
    for ax in fig.axes:
        out += [ax.get_title(loc) for loc in ("left", "center", "right")]
        out += [ax.get_xlabel(), ax.get_ylabel()] + [t.get_text() for t in ax.texts]
        out += [c.get_text().get_text() for tab in ax.tables for c in tab.get_celld().values()]
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
    for leg in legends:
        out += [t.get_text() for t in leg.get_texts()] + [leg.get_title().get_text()]
    return [" ".join(t.split()) for t in out if t and t.strip()]


def unattributed(texts: list[str]) -> list[str]:
    return [t for t in texts if PAPER_SCALE.search(t) and not ATTRIBUTED.search(t)]


def test_the_check_catches_a_bare_paper_name():
    assert unattributed(["0.1B: LLaMA d=32, 2 layers", "d=32 (41.1k) \u2259 LLaMA 0.1B (paper)",
                         "ours: ...; stands in for LLaMA 0.1B on the Pile", "Cosine-Oracle"]) == ["0.1B: LLaMA d=32, 2 layers"]


@pytest.fixture(scope="module")
def smoke():
    from optdyn.spec.load import load_plan

    return load_plan("config/config.yaml", tier="smoke")


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_smoke_figure_labels_name_what_ran(smoke, target):
    from optdyn.figures.common import context, draw

    plan = smoke
    fig = plan.figure(target)
    if not all((RESULTS / "runs" / rid / "status.json").exists() for rid in fig.runs.values()):
        pytest.skip(f"{target}: the smoke build's runs are not here")
    if not Path(plan.data_root).is_dir():  # the parameter counts build the nets on their prepared data
        pytest.skip(f"{target}: the smoke build's prepared data is not at {plan.data_root}")
    out = draw(context(plan, target))
    texts = texts_of(out.figure)
    plt.close("all")
    assert not unattributed(texts), unattributed(texts)
    # and what ran is said: the toy's parameter count (from the network as built) is printed
    assert any("k)" in t or "k params" in t for t in texts), texts
