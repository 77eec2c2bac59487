"""The normalization paper's CIFAR networks as ``Problem``s (spec ``normsharp_net``).

Full-batch GD with ghost BN: the loss is the mean over sub-batches of ``ghost_batch_size``
examples, each normalized with its own statistics (``ClassifierProblem``'s ``lax.map`` over
chunks), so gradients and HVPs go through the statistics, as in Cohen et al.'s code.

``step_metrics(params, step)`` is logged by the training loop at every step (``train/trainer.py``):
||w||^2 of the scale-invariant group and, on the schedule of the spec, the spherical sharpness
||w||^2 lambda_1(hess_w L(w, z)) (App. Q.3) with its Ritz residual, by Lanczos over the group w with the other
parameters z fixed (all parameters for the SI nets), on the first ``sharpness_examples``
training examples. Off the schedule it is NaN, and ``lax.cond`` skips the Lanczos solve.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.flatten_util import ravel_pytree

from optdyn.curvature import hvp, lanczos_tridiagonal, tridiagonal
from optdyn.data.prepare import load_prepared
from optdyn.registry import problem_builder
from optdyn.spec.components import PreparedData
from optdyn.spec.problems.normsharp import NormsharpNet

from .classifier import ClassifierProblem
from .losses import accuracy, cross_entropy
from .nets_scale_invariant import PreActResNet, ScaleInvariantVGG, scale_invariant_mask


def module_fn(spec: NormsharpNet, in_channels: int, image_size: int, n_classes: int):
    """``rngs -> nnx.Module`` of the spec's architecture."""
    if spec.arch == "si_vgg":
        return lambda rngs: ScaleInvariantVGG(in_channels, n_classes, image_size=image_size, cfg=tuple(spec.vgg_cfg),
                                              width=spec.width, final_gamma=spec.final_gamma, rngs=rngs)
    return lambda rngs: PreActResNet(in_channels, n_classes, depth=spec.depth, widths=spec.resnet_widths,
                                     si=spec.arch == "si_resnet", final_gamma=spec.final_gamma, rngs=rngs)


def _chunks(n: int, size: int | None) -> int:
    """How many ghost batches of ``size`` cover n examples (1: one batch when size is None or
    does not divide n)."""
    return n // size if size and n % size == 0 else 1


def top_ritz(matvec, dim: int, iters: int, dtype) -> tuple[jax.Array, jax.Array]:
    """(top Ritz value, its relative residual) of ``iters`` Lanczos steps with full
    reorthogonalization. The residual ||A y - theta y|| of the Ritz pair (theta, y) is
    |beta_m s_m| (s the Ritz vector of the tridiagonal, beta_m the coupling to the next Lanczos
    vector); divided by |theta| it bounds how far theta is from an eigenvalue of A, so a short
    Krylov space is logged with the evidence that it has converged."""
    alpha, beta, _ = lanczos_tridiagonal(matvec, dim, iters, dtype=dtype)
    vals, vecs = jnp.linalg.eigh(tridiagonal(alpha, beta))
    top = vals[-1]
    return top, jnp.abs(beta[-1] * vecs[-1, -1]) / jnp.maximum(jnp.abs(top), jnp.finfo(dtype).tiny)


class NormsharpNetProblem(ClassifierProblem):
    def __init__(self, spec: NormsharpNet, x_train, y_train, x_test, y_test, *, dtype=jnp.float32):
        n = x_train.shape[0]
        if spec.ghost_batch_size and n % spec.ghost_batch_size:
            raise ValueError(f"ghost_batch_size {spec.ghost_batch_size} must divide the {n} training examples")
        n_classes = int(max(y_train.max(), y_test.max())) + 1
        fn = module_fn(spec, x_train.shape[-1], x_train.shape[1], n_classes)
        super().__init__(fn, x_train, y_train, "ce", ghost=_chunks(n, spec.ghost_batch_size),
                         eval_data=(x_test, y_test), dtype=dtype)
        self.spec = spec
        params = nnx.to_pure_dict(nnx.split(nnx.eval_shape(lambda: fn(nnx.Rngs(0))), nnx.Param)[1])
        self.si_leaves = tuple(jax.tree.leaves(scale_invariant_mask(params, spec.arch)))
        self.n_sharp = min(spec.sharpness_examples, n)
        self.windows = np.asarray(spec.sharpness_windows, np.int32).reshape(-1, 2)

    # --- the scale-invariant group w and the rest z ---
    def split_group(self, params: dict) -> tuple[jax.Array, callable]:
        """(w flat, rebuild) with ``rebuild(w_flat)`` the params with w replaced, z kept."""
        leaves, treedef = jax.tree.flatten(params)
        w, unravel = ravel_pytree([leaf for leaf, si in zip(leaves, self.si_leaves) if si])

        def rebuild(w_flat):
            new = iter(unravel(w_flat))
            return jax.tree.unflatten(treedef, [next(new) if si else leaf for leaf, si in zip(leaves, self.si_leaves)])

        return w, rebuild

    def norm_sq(self, params: dict) -> jax.Array:
        return sum(jnp.sum(leaf**2) for leaf, si in zip(jax.tree.leaves(params), self.si_leaves) if si)

    def sharpness(self, params: dict) -> jax.Array:
        """Spherical sharpness ||w||^2 lambda_1(hess_w L) on the first ``n_sharp`` examples, with
        the training loss's ghost batches (Lanczos, ``sharpness_iters`` HVPs)."""
        return self.sharpness_and_residual(params)[0]

    def sharpness_and_residual(self, params: dict) -> tuple[jax.Array, jax.Array]:
        """(spherical sharpness, the relative residual of its Ritz pair, ``top_ritz``)."""
        x, y = self.X[: self.n_sharp], self.y[: self.n_sharp]
        chunks = _chunks(self.n_sharp, self.spec.ghost_batch_size)
        w, rebuild = self.split_group(params)
        f = lambda v: self._over_chunks(self.criterion, rebuild(v), x, y, chunks)  # noqa: E731
        top, resid = top_ritz(lambda v: hvp(f, w, v), w.size, min(self.spec.sharpness_iters, w.size), w.dtype)
        return jnp.vdot(w, w) * top, resid

    def sharpness_due(self, step: jax.Array) -> jax.Array:
        due = step % self.spec.sharpness_every == 0
        for start, end in self.windows:
            due |= (step >= start) & (step < end)
        return due

    def step_metrics(self, params: dict, step: jax.Array) -> dict[str, jax.Array]:
        nan = jnp.asarray(jnp.nan, self.dtype)
        sharp, resid = jax.lax.cond(self.sharpness_due(step),
                                    lambda p: tuple(v.astype(self.dtype) for v in self.sharpness_and_residual(p)),
                                    lambda p: (nan, nan), params)
        return {"norm_sq": self.norm_sq(params), "sharpness": sharp, "sharpness_residual": resid}

    # --- evaluation ---
    def _test_loss_and_accuracy(self, params: dict) -> tuple[jax.Array, jax.Array]:
        x, y = self.eval_data
        if self.spec.test_bn == "train_stats":  # BN statistics of the whole training set
            logits = nnx.merge(self.graphdef, params)(jnp.concatenate([self.X, x]), n_ref=self.n)[self.n:]
            return cross_entropy(logits, y), accuracy(logits, y, False)
        chunks = _chunks(x.shape[0], self.spec.ghost_batch_size)
        both = lambda logits, labels: (cross_entropy(logits, labels), accuracy(logits, labels, False))  # noqa: E731
        return self._over_chunks(both, params, x, y, chunks)

    def metrics(self, params: dict) -> dict[str, jax.Array]:
        loss, acc = self._loss_and_accuracy(params, self.X, self.y)
        test_loss, test_acc = self._test_loss_and_accuracy(params)
        return {"loss": loss, "accuracy": acc, "test_loss": test_loss, "test_accuracy": test_acc,
                "norm_sq": self.norm_sq(params)}


def _resize(x: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or x.shape[1] == size:
        return x
    return np.asarray(jax.image.resize(jnp.asarray(x), (x.shape[0], size, size, x.shape[-1]), "bilinear"))


@problem_builder(NormsharpNet)
def build_normsharp_net(model: NormsharpNet, data: PreparedData, root: Path, *, dtype=np.float32) -> NormsharpNetProblem:
    ds = load_prepared(data.dataset, root)
    x_train, x_test = (_resize(np.asarray(ds[k]), model.input_size) for k in ("x_train", "x_test"))
    return NormsharpNetProblem(model, x_train, np.asarray(ds["y_train"]).astype(np.int32), x_test,
                               np.asarray(ds["y_test"]).astype(np.int32), dtype=dtype)
