"""Every figure and table of the five papers, in paper order, so the report can say what is not
reproduced yet and why instead of leaving it silently absent.

``what`` is the paper's figure in a few words; ``reason`` says why a target may be missing from a
tier's plan (it is shown only when the tier has no such target). The order is the order the
report shows the papers' figures in: main text by number, then tables, then appendix-only items.
"""

from __future__ import annotations

_IRE_VISION = "needs CIFAR-10/100 or ImageNet networks on a GPU for the paper's numbers; not in this plan yet (issue 15)"
_IRE_LM = "a language-model experiment (AdmIRE vs AdamW); not in this plan yet (issue 16)"


def _entries(*rows: tuple[str, str, str | None]) -> list[dict]:
    return [{"key": k, "what": w, "reason": r} for k, w, r in rows]


COVERAGE: dict[str, list[dict]] = {
    "wsd": _entries(
        ("fig01", "The non-traditional loss curve of WSD", None),
        ("fig02", "River valley illustration and the WSD / WSD-S schedules", None),
        ("fig03", "Validation of the theory on a 2-D river function", None),
        ("fig04", "Predicted SGD loss curve on the quadratic river (Thms 3.4, 3.5)", None),
        ("fig05", "Probing the loss landscape: GPT-2 linear interpolations", None),
        ("fig06", "The toy bigram (city -> name) language", None),
        ("fig07", "WSD against cosine on the toy bigram language", None),
        ("sec4", "Sec. 4 (text): what a stable and a decayed fine-tune learn per city", None),
        ("fig08", "WSD-S against the cosine oracles", None),
        ("fig09", "Cosine implicitly hurts continual training", None),
        ("fig10", "WSD-S against WSD at equal compute", None),
        ("fig11", "WSD-S against WSD on DCLM (App. B.1)", None),
        ("fig12", "Loss decreases smoothly in decay phases (App. B.2)", None),
        ("fig13", "Valley-shaped loss in the stable phase (App. B.2)", None),
        ("fig14", "2-D probing of the loss landscape (App. B.2)", None),
        ("fig15", "Decay-fraction ablation and a decay after a loss spike (App. D)", None),
        ("tab01", "Table 1: cyclic cosine vs WSD-S across learning rates (App. B.1)", None),
        ("tab02", "Table 2: LLaMA model sizes", None),
        ("tab03", "Table 3: WSD-S decay steps", None),
        ("tab04", "Table 4: WSD decay steps", None),
    ),
    "normsharp": _entries(
        ("fig01", "Matrix completion with BN: sharpness reduction at the edge of stability", None),
        ("fig02", "Scale-invariant VGG-11 on CIFAR-10: sharpness tracks 2/effective LR", None),
        ("fig03", "GD + WD geometry and the 3-D scale-invariant toy", None),
        ("fig04", "Linear regression with BN: oscillation and periodicity", None),
        ("fig05", "Hamiltonian picture of (h, u) (App. H.2)", None),
        ("fig06", "Matrix completion, 400-1600 observations (App. P.1)", None),
        ("fig07", "Matrix completion, 1600-3200 observations (App. P.1)", None),
        ("fig08", "Scale-invariant ResNet-20 on CIFAR-10 (App. P.2)", None),
        ("fig09", "Standard pre-activation ResNet-20 on CIFAR-10 (App. P.2)", None),
        ("fig10", "The first 1500 steps of the Fig. 2 run (App. P.2)", None),
        ("fig11", "Close-up of matrix completion around the EoS entry (App. P.3)", None),
        ("fig12", "A 200-step window in the middle of the Fig. 2 run (App. P.3)", None),
        ("fig13", "Weight-decay ablation, VGG-11 on CIFAR-10 (App. P.4)", None),
        ("fig14", "Weight-decay ablation, VGG-11 on CIFAR-10-2k (App. P.4)", None),
        ("fig15", "Initial effective-LR ablation (App. P.5)", None),
        ("fig16", "Architecture: scale-invariant VGG-11 (App. Q.1)", None),
        ("fig17", "Architectures: pre-activation and scale-invariant ResNet-20 (App. Q.1)", None),
        ("fig18", "Final-BN gamma ablation (App. R.2)", None),
    ),
    "latedecay": _entries(
        ("fig01", "Learning curves and late-decay contour maps (VGG-11 / CIFAR-10)",
         "a neural experiment (main path + decay subpaths); not in this plan yet (issue 14)"),
        ("fig01toy", "Ours: the toy analogue of Fig. 1 (catalog 5.3), not a figure of the paper", None),
        ("fig02", "PCA-plane train and test landscapes with trajectories",
         "a neural experiment with a PCA-landscape probe; not in this plan yet (issue 14)"),
        ("fig03", "Train vs test landscapes of three toy models", None),
        ("fig04", "Geometry of the Phase-II effective dynamics", None),
    ),
    "ire": _entries(
        ("fig01", "2-D toy: GD, large-LR GD and GD-IRE", None),
        ("fig02", "SAM-IRE sharpness on WRN-16-8 / CIFAR-10", None),
        ("fig03", "AdmIRE vs AdamW pre-training LLaMA: the 2x speed-up", _IRE_LM),
        ("fig04", "The AdamW learning-rate sweep (App. B.2.1)", _IRE_LM),
        ("fig05", "AdmIRE's robustness to (gamma, kappa) on a 2-layer Transformer", _IRE_LM),
        ("tab01", "Table 1: SGD/SAM with and without IRE on CIFAR CNNs", None),
        ("tab02", "Table 2: ResNet-50 on ImageNet", None),
        ("tab03", "Table 3: ViT-T / ViT-S on CIFAR-100", None),
        ("tab04", "Table 4: wall-clock seconds per step of AdmIRE vs AdamW", _IRE_LM),
        ("tab06", "Table 6: implicit-regularization strength of SAMs with and without IRE", None),
        ("tab07", "Table 7: Table 1 at fixed gamma = 0.99, kappa = 1, 3 seeds (App. B.1.2)", None),
        ("appA", "App. A: the SGD SDE illustration (Eqs. 10-13)", None),
    ),
    "selfstab": _entries(
        ("fig01", "Progressive sharpening and the edge of stability", None),
        ("fig02", "The four stages of EoS on a toy loss", None),
        ("fig03", "The ODE of eq. (4)", None),
        ("fig04", "Predicted dynamics track GD at the edge of stability", None),
        ("fig05", "EoS with several unstable eigenvalues", None),
        ("fig06", "Large learning rates converge faster and generalize better (App. G.1)", None),
        ("appE", "App. E: empirical checks of the assumptions", None),
        ("appG", "App. G.2: generalized predicted dynamics", None),
    ),
}


def paper_order(paper: str) -> list[str]:
    return [e["key"] for e in COVERAGE.get(paper, [])]


def rows(built: set[str]) -> list[dict]:
    """One row per figure of every paper: ``target``, ``what``, ``built`` (in this tier's plan)
    and the reason where it is not; ``built`` holds targets like ``wsd_fig03``."""
    out = []
    for paper, entries in COVERAGE.items():
        for e in entries:
            target = f"{paper}_{e['key']}"
            out.append({"paper": paper, "target": target, "what": e["what"], "built": target in built,
                        "reason": None if target in built else (e["reason"] or "not in this tier's plan")})
    return out
