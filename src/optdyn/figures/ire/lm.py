"""IRE paper, Sec. 4.2: AdmIRE on language models. Fig. 5 (robustness to (gamma, kappa) on the
2-layer Transformer), Fig. 4 (AdamW's lr_max sweep) and Fig. 3 (AdmIRE(T) against AdamW(T) and
AdamW(2T) in Llama pre-training). Every label names the model and data the run actually trained
(``figures/style.py``: ``stand_in``, ``ran_line``)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from optdyn.figures import diverged
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.ire.curves import first_reach, speedup, train_curve, val_curve
from optdyn.figures.style import legend_outside, palette, ramp, ran_line
from optdyn.figures.tables import draw_table
from optdyn.optim.optimizers import find
from optdyn.registry import figure


def _ire_label(run) -> str:
    ire = find(run.spec.optimizer, "ire")
    return "AdamW" if ire is None else f"AdmIRE $\\kappa$={ire.kappa:g}, $\\gamma$={ire.gamma:g}"


def _warmup(run) -> int:
    return int(getattr(run.spec.schedule, "warmup_steps", 0))


@figure("ire", "fig05")
def fig05(ctx: FigureContext) -> FigureOutput:
    decay = ctx.plot.ema
    adamw = ctx.runs["adamw"]
    ref = train_curve(adamw, decay)
    target, total = float(ref["loss"].iloc[-1]), int(adamw.spec.steps)
    members = [(vals, run) for vals, run in ctx.group("admire")]
    fig, (ax, tab) = plt.subplots(1, 2, figsize=(12.5, 4.6), gridspec_kw={"width_ratios": [1.5, 1]})
    colors = palette(len(members) + 1)
    rows, data = [], [ref.assign(run="adamw", label="AdamW")]
    warm = _warmup(adamw)
    ax.plot(ref["step"][ref["step"] >= warm], ref["loss"][ref["step"] >= warm], color="black", lw=1.6, label="AdamW")
    for (vals, run), color in zip(members, colors[1:]):
        curve = train_curve(run, decay)
        label = _ire_label(run)
        ire = find(run.spec.optimizer, "ire")
        ax.plot(curve["step"][curve["step"] >= warm], curve["loss"][curve["step"] >= warm], color=color,
                lw=1.1, ls="-" if ire.kappa >= 5 else "--", label=label)
        s = speedup(total, curve, target)
        rows.append({"run": f"admire[kappa={ire.kappa:g},gamma={ire.gamma:g}]", "kappa": ire.kappa, "gamma": ire.gamma,
                     "final_train_loss": float(curve["loss"].iloc[-1]), "reaches_adamw_final_at": first_reach(curve, target),
                     "speedup": s})
        data.append(curve.assign(run=rows[-1]["run"], label=label))
    ax.axhline(target, color="tab:red", ls=":", lw=1.0, label="AdamW's final loss")
    # the message is where the curves approach AdamW's final loss: range y over the last 80%
    late = pd.concat(data)
    late = late[late["step"] >= warm + 0.2 * (total - warm)]["loss"]
    ax.set_ylim(float(late.min()) - 0.02, float(late.max()) + 0.02)
    ax.set_xlabel("step (from the end of the warm-up)")
    ax.set_ylabel(f"training loss (EMA {decay:g} of batch loss)")
    legend_outside(ax, "below", ncol=3)
    table = pd.DataFrame(rows)
    shown = table[["kappa", "gamma", "final_train_loss", "speedup"]].copy()
    shown.columns = ["kappa", "gamma", "final loss", "speed-up"]
    shown = pd.concat([pd.DataFrame([{"kappa": "AdamW", "gamma": "", "final loss": target, "speed-up": 1.0}]), shown])
    draw_table(tab, shown.round(3).fillna("not reached"), "")
    tab.text(0.5, 0.08, "speed-up = AdamW's steps / steps to AdamW's final loss", ha="center", fontsize=8, transform=tab.transAxes)
    fig.suptitle(f"AdmIRE's robustness to ($\\gamma$, $\\kappa$); stands in for Fig. 5 (paper: 5.4x)\n{ran_line(ctx, 'adamw')}",
                 fontsize=10, y=1.04)
    finals = table["final_train_loss"].to_numpy()
    below = bool(np.all(finals < target))
    sp = [v for v in table["speedup"] if v is not None and np.isfinite(v)]
    best = int(np.argmax([(-1 if v is None else v) for v in table["speedup"]])) if sp else None
    by = {(r["kappa"], r["gamma"]): r["final_train_loss"] for r in rows}
    gammas = sorted({g for _, g in by})
    k5_below_k2 = all(by[(5.0, g)] < by[(2.0, g)] for g in gammas if (5.0, g) in by and (2.0, g) in by)
    values = {"rows": rows, "adamw_final": target, "admire_final": {r["run"]: r["final_train_loss"] for r in rows},
              "every_admire_below_adamw": below, "speedup": {r["run"]: r["speedup"] for r in rows},
              "best_speedup": max(sp) if sp else None, "best_run": rows[best]["run"] if best is not None else None,
              "kappa5_below_kappa2": k5_below_k2}
    if not sp:
        values["best_speedup__note"] = "no AdmIRE run reached AdamW's final training loss"
    return FigureOutput(fig, pd.concat(data, ignore_index=True), diverged.finish(ctx, fig, values))


def _sweep(ctx: FigureContext, name: str, curve_of) -> tuple[list[float], list[float], list[pd.DataFrame]]:
    lrs, finals, curves = [], [], []
    for _vals, run in sorted(ctx.group(name), key=lambda m: m[1].spec.schedule.peak_lr):
        curve = curve_of(run)
        lrs.append(float(run.spec.schedule.peak_lr))
        finals.append(float(curve["loss"].iloc[-1]) if not run.diverged and len(curve) else float("inf"))
        curves.append(curve.assign(run=name, lr=lrs[-1]))
    return lrs, finals, curves


@figure("ire", "fig04")
def fig04(ctx: FigureContext) -> FigureOutput:
    decay = ctx.plot.ema
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    values, data = {}, []
    panels = [("tf", "tf_used", lambda r: train_curve(r, decay), f"training loss (EMA {decay:g})"),
              ("llama", "llama_used", val_curve, "validation loss")]
    for ax, (name, used, curve_of, ylabel) in zip(axes, panels):
        lrs, finals, curves = _sweep(ctx, name, curve_of)
        colors = ramp(len(lrs))
        for lr, curve, color in zip(lrs, curves, colors):
            ax.plot(curve["step"], curve["loss"], color=color, lw=1.1, label=f"lr$_{{max}}$={lr:g}")
        best = lrs[int(np.argmin(finals))]
        ax.set_title(f"{ran_line(ctx, used, 60)}\nbest lr$_{{max}}$ = {best:g} (paper: 6e-4)", fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        finite = [c["loss"].to_numpy() for c in curves if len(c)]
        if finite:  # over the part of the curves that ranks the learning rates, not the first steps
            late = np.concatenate([c[len(c) // 5:] for c in finite])
            late = late[np.isfinite(late)]
            if late.size:
                ax.set_ylim(float(late.min()) - 0.05, float(np.quantile(late, 0.98)) + 0.05)
        legend_outside(ax, "below", ncol=3)
        key = "final_train_loss" if name == "tf" else "final_val_loss"
        values |= {f"{name}_lrs": lrs, f"{name}_{key}": finals, f"{name}_argmin_lr": best}
        data += curves
    fig.suptitle("AdamW's lr$_{max}$ sweep; stands in for Fig. 4 (the paper: the 8M Transformer on wikitext-2, Llama 60M on wikitext-103)", fontsize=10, y=1.1)
    return FigureOutput(fig, pd.concat(data, ignore_index=True), diverged.finish(ctx, fig, values))


def _panel_runs(ctx: FigureContext, panel: str) -> tuple:
    admire = {n: r for n, r in ctx.runs.items() if n.startswith(f"{panel}_admire")}
    return ctx.runs[f"{panel}_adamw_T"], ctx.runs[f"{panel}_adamw_2T"], admire


@figure("ire", "fig03")
def fig03(ctx: FigureContext) -> FigureOutput:
    panels = ctx.plot.panels
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    rows, data = [], []
    gap_2t, sp, gap_t = [], [], []
    notes = []
    for ax, panel in zip(axes[0], panels):
        adamw_t, adamw_2t, admire = _panel_runs(ctx, panel)
        ref_t, ref_2t = val_curve(adamw_t), val_curve(adamw_2t)
        target = float(ref_2t["loss"].iloc[-1])
        colors = palette(len(admire) + 2)
        ax.plot(ref_t["step"], ref_t["loss"], color=colors[0], lw=1.3, label=f"AdamW (T={adamw_t.spec.steps})")
        ax.plot(ref_2t["step"], ref_2t["loss"], color=colors[1], lw=1.3, label=f"AdamW (2T={adamw_2t.spec.steps})")
        finals = {}
        for (name, run), color in zip(sorted(admire.items()), colors[2:]):
            curve = val_curve(run)
            finals[name] = float(curve["loss"].iloc[-1])
            ax.plot(curve["step"], curve["loss"], color=color, lw=1.3, ls="--", label=f"{_ire_label(run)} (T)")
            s = speedup(int(adamw_2t.spec.steps), curve, target)
            rows.append({"panel": panel, "run": name, "final_val_loss": finals[name], "adamw_T_final": float(ref_t["loss"].iloc[-1]),
                         "adamw_2T_final": target, "reaches_adamw_2T_final_at": first_reach(curve, target), "speedup": s})
            data.append(curve.assign(run=name, panel=panel))
        best = min(finals, key=finals.get)
        best_row = next(r for r in rows if r["run"] == best)
        gap_2t.append(finals[best] - target)
        gap_t.append(finals[best] - float(ref_t["loss"].iloc[-1]))
        sp.append(best_row["speedup"])
        if best_row["speedup"] is None:
            notes.append(f"{panel}: {best} never reached AdamW(2T)'s final {target:.4f}")
        ax.axhline(target, color="tab:red", ls=":", lw=1.0, label="AdamW(2T)'s final loss")
        late = np.concatenate([c["loss"].to_numpy()[len(c) // 5:] for c in (ref_t, ref_2t)])
        ax.set_ylim(float(late.min()) - 0.1, float(late.max()) + 0.1)
        ax.set_xlabel("step")
        ax.set_ylabel("validation loss")
        speed = "not reached" if best_row["speedup"] is None else f"{best_row['speedup']:.2f}x"
        ax.set_title(f"{ran_line(ctx, f'{panel}_adamw_T', 60)}\nspeed-up {speed} (paper: 2.1x)", fontsize=9)
        legend_outside(ax, "below", ncol=2)
        data += [ref_t.assign(run=f"{panel}_adamw_T", panel=panel), ref_2t.assign(run=f"{panel}_adamw_2T", panel=panel)]
    fig.suptitle("AdmIRE(T) against AdamW(T) and AdamW(2T); stands in for Fig. 3 (the paper: Llama 60M / 119M / 229M)", fontsize=10, y=1.06)
    known = [s for s in sp if s is not None]
    values = {"rows": rows, "panels": list(panels), "admire_T_minus_adamw_2T": gap_2t, "worst_admire_T_minus_adamw_2T": max(gap_2t),
              "speedup": sp, "min_speedup": min(known) if len(known) == len(sp) else None,
              "admire_T_minus_adamw_T": gap_t, "worst_admire_T_minus_adamw_T": max(gap_t)}
    if notes:
        values["min_speedup__note"] = "; ".join(notes)
    return FigureOutput(fig, pd.concat(data, ignore_index=True), diverged.finish(ctx, fig, values))
