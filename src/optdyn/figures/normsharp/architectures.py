"""Figs. 16, 17: the CIFAR architectures as tables generated from the model code (App. Q.1).

The paper draws diagrams; we list each trainable layer (grouped by block for the ResNets) with
its parameter shapes and counts, and how many of them are in the scale-invariant group w,
from the very modules the runs train, at the paper's size (32 x 32 x 3 inputs, 10 classes).
"""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from flax import nnx

from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.figures.tables import draw_table
from optdyn.models.nets_scale_invariant import PreActResNet, ScaleInvariantVGG, scale_invariant_mask
from optdyn.registry import figure

NAMES = {"si_vgg": "scale-invariant VGG-11", "preact_resnet": "bearpaw pre-activation ResNet-20",
         "si_resnet": "scale-invariant ResNet-20"}
METRIC = {"si_vgg": "si_vgg11_params", "preact_resnet": "preact_resnet20_params", "si_resnet": "si_resnet20_params"}


def _module(arch: str):
    if arch == "si_vgg":
        return lambda: ScaleInvariantVGG(rngs=nnx.Rngs(0))
    return lambda: PreActResNet(si=arch == "si_resnet", rngs=nnx.Rngs(0))


def _key(k) -> str:
    return str(getattr(k, "key", getattr(k, "idx", k)))


def layer_table(arch: str) -> pd.DataFrame:
    """One row per layer (per block for the ResNets): its parameters' shapes, count and how many
    are in the scale-invariant group."""
    params = nnx.to_pure_dict(nnx.split(nnx.eval_shape(_module(arch)), nnx.Param)[1])
    mask = scale_invariant_mask(params, arch)
    rows: dict[str, dict] = {}
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    for (path, leaf), si in zip(leaves, jax.tree.leaves(mask)):
        keys = [_key(k) for k in path]
        layer = "/".join(keys[:2]) if keys[0] in ("blocks", "layers") else keys[0]
        row = rows.setdefault(layer, {"shapes": [], "params": 0, "in_w": 0})
        if keys[-1] == "kernel":
            row["shapes"].append(f"{'/'.join(keys[2:-1]) or 'kernel'} {tuple(leaf.shape)}")
        elif keys[-1] == "bias" and keys[0] == "fc":
            row["shapes"].append(f"bias {tuple(leaf.shape)}")
        elif keys[-1] == "scale":  # one entry per affine BN: its gamma and beta
            row["shapes"].append(f"{'/'.join(keys[2:-1]) or 'BN'} affine 2x{leaf.shape[0]}")
        n = int(np.prod(leaf.shape))
        row["params"] += n
        row["in_w"] += n if si else 0
    table = pd.DataFrame([{"layer": _label(k, arch), "parameters (shape)": "; ".join(sorted(v["shapes"])),
                           "params": v["params"], "in w": v["in_w"]} for k, v in sorted(rows.items(), key=_order)])
    total = {"layer": "total", "parameters (shape)": "", "params": int(table["params"].sum()), "in w": int(table["in w"].sum())}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


_RANK = {"stem": 0, "layers": 1, "blocks": 1, "head_bn": 2, "fc": 3}


def _order(item) -> tuple[int, int]:
    head, _, idx = item[0].partition("/")
    return _RANK.get(head, 4), int(idx or 0)


def _label(layer: str, arch: str) -> str:
    """VGG conv k: conv3x3 -> BN (no affine) -> swish [-> mean pool]; ResNet block k (pre-act)."""
    head, _, idx = layer.partition("/")
    if head == "layers":
        return f"conv {int(idx) + 1} (+BN, swish)"
    if head == "blocks":
        return f"block {int(idx) + 1}"
    if head == "fc" and arch != "preact_resnet":
        return "fc (+final BN, gamma fixed)"
    return head


@figure("normsharp", "fig16", "fig17")
def architectures(ctx: FigureContext) -> FigureOutput:
    tables = {arch: layer_table(arch) for arch in ctx.plot.archs}
    heights = [0.9 + 0.34 * len(t) for t in tables.values()]
    fig, axes = plt.subplots(len(tables), 1, figsize=(11, sum(heights)), gridspec_kw={"height_ratios": heights},
                             squeeze=False)
    values = {}
    for ax, (arch, table) in zip(axes[:, 0], tables.items()):
        total = int(table["params"].iloc[-1])
        draw_table(ax, table, f"{NAMES[arch]}: {total:,} trainable parameters (32x32x3 inputs, 10 classes)",
                   row_scale=1.2)
        values[METRIC[arch]] = total
        if arch == "preact_resnet":
            values["preact_resnet20_si_group_params"] = int(table["in w"].iloc[-1])
    data = pd.concat([t.assign(arch=a) for a, t in tables.items()], ignore_index=True)
    fig.tight_layout()
    return FigureOutput(fig, data, values)
