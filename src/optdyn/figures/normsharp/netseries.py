"""Per-step series and summary statistics of a ``normsharp_net`` run (Figs. 2, 10, 12, 13)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.theory import normsharp as th

from .series import hyper

VGG11_CFG = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
PAPER_DATA = {"cifar10", "cifar10_2k"}


def frame(run) -> pd.DataFrame:
    """The run's rows by step, with ``train_loss`` (the step's full-batch loss) and
    ``two_over_eta`` = 2/eta~_t = 2 (1 - eta lambda) ||w_t||^2 / eta (Lemma 3.1)."""
    df = diverged.finite_metrics(run).sort_values("step").reset_index(drop=True)
    lr, wd = hyper(run)
    df["two_over_eta"] = 2.0 / th.effective_lr(df["norm_sq"].to_numpy(), lr, wd)
    df["train_loss"] = df["batch_loss"].fillna(df.get("loss"))
    for col in ("sharpness", "accuracy", "test_accuracy"):
        if col not in df:
            df[col] = np.nan
    return df


def loss_floor(run) -> float:
    """L_min of the run's final BN (App. R); 0 for the standard ResNet (no final BN)."""
    model = run.spec.model
    return 0.0 if model.arch == "preact_resnet" else th.final_bn_min_loss(model.final_gamma)


def summary(df: pd.DataFrame) -> dict:
    """The numbers Figs. 2 and 13 are checked on; those after 100% train accuracy are None when
    the run never reaches it."""
    ev = df.dropna(subset=["accuracy"])
    sh = df.dropna(subset=["sharpness"])
    full_rows = ev[ev["accuracy"] >= 1.0]
    out = {"full_train_step": None, "test_acc_at_full_train": None, "test_acc_gain": None,
           "sharpness_at_full_train": None, "sharpness_drop_ratio": None, "eos_tracking_ratio": None,
           "test_acc_final": float(ev["test_accuracy"].iloc[-1]) if len(ev) else None,
           "sharpness_final": float(sh["sharpness"].iloc[-1]) if len(sh) else None,
           "initial_sharpness": float(sh["sharpness"].iloc[0]) if len(sh) else None}
    if full_rows.empty or sh.empty:
        return out
    full = int(full_rows["step"].iloc[0])
    after = sh[sh["step"] >= full]
    out.update(full_train_step=full, test_acc_at_full_train=float(full_rows["test_accuracy"].iloc[0]))
    out["test_acc_gain"] = out["test_acc_final"] - out["test_acc_at_full_train"]
    if len(after):
        out["sharpness_at_full_train"] = float(after["sharpness"].iloc[0])
        out["sharpness_drop_ratio"] = out["sharpness_final"] / out["sharpness_at_full_train"]
        out["eos_tracking_ratio"] = float(np.median(after["sharpness"] / after["two_over_eta"]))
    return out


def dominant_period(x: np.ndarray) -> tuple[int | None, float | None]:
    """(lag, autocorrelation) of the first local maximum at lag >= 2 of the autocorrelation of
    ``x`` minus its linear trend; (None, None) when there is none within half the series."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)]
    if x.size < 6:
        return None, None
    t = np.arange(x.size)
    x = x - np.polyval(np.polyfit(t, x, 1), t)
    denom = float(x @ x)
    if denom == 0:
        return None, None
    acf = np.array([float(x[:-k] @ x[k:]) / denom if k else 1.0 for k in range(x.size // 2 + 1)])
    for k in range(2, acf.size - 1):
        if acf[k] > acf[k - 1] and acf[k] >= acf[k + 1]:
            return k, float(acf[k])
    return None, None


def mark_full_train(ax, step: int | None) -> None:
    if step is not None:
        ax.axvline(step, color="0.4", ls=":", lw=1)


def describe(run, wd: bool = True, hyperparams: bool = True) -> str:
    """What the run trained, from its resolved spec, and what it stands in for when that is not
    the paper's network and data; ``hyperparams=False`` leaves out eta and lambda (a sweep's legend
    gives them)."""
    m, data = run.spec.model, run.spec.data.dataset
    lr, lam = hyper(run)
    if m.arch == "si_vgg":
        chans = [c for c in m.vgg_cfg if c != "M"]
        paper_net = list(m.vgg_cfg) == VGG11_CFG and m.width == 1.0
        name = "SI VGG-11" if paper_net else f"SI CNN ({'-'.join(str(round(c * m.width)) for c in chans)} channels)"
        target = "SI VGG-11"
    else:
        paper_net = m.depth == 20 and tuple(m.resnet_widths) == (16, 32, 64)
        base = "SI ResNet" if m.arch == "si_resnet" else "pre-act ResNet"
        name = f"{base}-{m.depth}" + ("" if paper_net else f" (widths {'/'.join(map(str, m.resnet_widths))})")
        target = f"{base}-20"
    hyp = f"$\\hat\\eta$={lr:g}" + (f", $\\hat\\lambda$={lam:g}" if wd else "")
    text = f"{name} on {data}, full-batch GD+WD" + (f", {hyp}" if hyperparams else "")
    if not paper_net or data not in PAPER_DATA:
        text += f"\n(stands in for {target} on CIFAR-10)"
    return text
