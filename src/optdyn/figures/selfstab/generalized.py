"""Self-stabilization App. G.2: the generalized predicted dynamics (App. F, eq. (11)) against
gradient descent, the constrained trajectory and gradient flow, laid out as Fig. 4, one block per
(setting, eta): every run ``<name>`` with its ``selfstab_tracking`` probe ``<name>_tracking``
(``generalized: true``). The predicted fixed point is the generalized one: |x| = delta_t with
y = -F'(delta_t)/delta_t, so the sharpness settles at 2/eta - F'(delta)/delta + F''(delta) (below 2/eta
where the loss along u is sub-quadratic, above it where super-quadratic) and the loss at
L(theta^dagger) + delta^2/eta + F(delta).
"""

from __future__ import annotations

import numpy as np

from optdyn.figures import style
from optdyn.figures.common import FigureContext, FigureOutput
from optdyn.registry import figure

from .tracking import fixed_point, tracking_figure


@figure("selfstab", "appG")
def appG(ctx: FigureContext) -> FigureOutput:
    names = [n for n in ctx.runs if f"{n}_tracking" in ctx.probes]
    labels = {n: f"{style.ran_line(ctx, n, 80)}, $\\eta$ = {float(ctx.probes[f'{n}_tracking']['eta'].iloc[0]):g}"
              for n in names}
    out = tracking_figure(ctx, names, labels, generalized=True)
    # where the generalized fixed point puts the sharpness, in units of 2/eta (median over the window)
    ratios = []
    for n in names:
        df = ctx.probes[f"{n}_tracking"]
        _, sharp = fixed_point(df, True)
        ratios.append(float(np.nanmedian(sharp * df["eta"] / 2)))
    out.values["fixed_point_sharpness_over_threshold"] = ratios
    return out
