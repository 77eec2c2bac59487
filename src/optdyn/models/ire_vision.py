"""The IRE paper's vision runs (Sec. 4.1: Fig. 2, Tables 1, 2, 3, 7) as a ``Problem``: a net of
``vision_resnet.py`` / ``vit.py`` on a prepared image dataset, trained as the authors' code does
(catalog 003 Sec. 2.4-2.8):

- mini-batches drawn from the step's key, with crop + flip augmentation (``data.images``);
- label smoothing in the KL form sum_c KL(y_smooth || p): the smoothed cross-entropy minus the
  smoothed targets' entropy, so its minimum is 0 and "train loss below 0.1" means what it says;
- IRE's mask from the sampled-label Fisher of ONE fixed batch of training images drawn once
  ([code] the CIFAR code), labels sampled afresh at each refresh (``fisher_diag``);
- ``trace_fisher``: Tr F^ averaged over M fixed batches, with fixed label draws, so successive
  evaluations differ only through the parameters (``curvature.fisher_trace``).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from optdyn.curvature import sampled_fisher_diag
from optdyn.curvature.fisher import fisher_trace
from optdyn.data.images import augment_batch
from optdyn.data.prepare import load_square_images
from optdyn.registry import problem_builder
from optdyn.spec.components import PreparedData
from optdyn.spec.problems.ire import IREVisionNet

from .classifier import ClassifierProblem, opaque
from .nets import MLP
from .vision_resnet import BottleneckResNet, CifarResNet, WideResNet
from .vit import ViT

#: fixed keys of the mask's batch and of Tr F^'s batches and labels (independent of the run's seed)
_FISHER_BATCH, _TRACE = 0, 1


def smoothed_kl(logits: jax.Array, labels: jax.Array, smoothing: float) -> jax.Array:
    """mean_i sum_c q_ic (log q_ic - log p_ic), q = (1 - s) onehot + s / C: label smoothing in the
    KL form of the authors' code (minimum 0 at p = q)."""
    c = logits.shape[-1]
    q = (1 - smoothing) * jax.nn.one_hot(labels, c, dtype=logits.dtype) + smoothing / c
    logp = jax.nn.log_softmax(logits, axis=-1)
    return jnp.mean(jnp.sum(jax.scipy.special.xlogy(q, q) - q * logp, axis=-1))


def module_fn(spec: IREVisionNet, shape: tuple[int, ...], n_classes: int):
    net, c = spec.net, shape[-1]
    if net.kind == "mlp":
        return lambda rngs: MLP(int(np.prod(shape)), n_classes, widths=tuple(net.widths), activation=nnx.relu, rngs=rngs)
    if net.kind == "cifar_resnet":
        return lambda rngs: CifarResNet(c, n_classes, depth=net.depth, width=net.width, groups=net.norm_groups, rngs=rngs)
    if net.kind == "wide_resnet":
        return lambda rngs: WideResNet(c, n_classes, depth=net.depth, widen=net.widen, groups=net.norm_groups, rngs=rngs)
    if net.kind == "bottleneck_resnet":
        return lambda rngs: BottleneckResNet(c, n_classes, stages=tuple(net.stages), width=net.width, stem=net.stem,
                                             groups=net.norm_groups, rngs=rngs)
    return lambda rngs: ViT(c, n_classes, image_size=shape[0], patch=net.patch, dim=net.dim, depth=net.depth,
                            heads=net.heads, mlp_ratio=net.mlp_ratio, rngs=rngs)


class VisionProblem(ClassifierProblem):
    def __init__(self, spec: IREVisionNet, X, y, eval_data, fill, n_classes: int, *, dtype=jnp.float32):
        if spec.batch_size > len(y):
            raise ValueError(f"batch_size {spec.batch_size} exceeds the {len(y)} training images")
        super().__init__(module_fn(spec, X.shape[1:], n_classes), X, y,
                         lambda logits, labels: smoothed_kl(logits, labels, spec.label_smoothing), binary=False,
                         batch_size=spec.batch_size, eval_data=eval_data, dtype=dtype)
        self.spec, self.fill, self.n_classes = spec, jnp.asarray(fill, self.dtype), n_classes
        fb = min(spec.fisher_batch_size, self.n)
        self.fisher_x = self.X[jax.random.choice(jax.random.PRNGKey(_FISHER_BATCH), self.n, (fb,), replace=False)]
        tb = min(spec.trace_batch_size, self.n)
        keys = jax.random.split(jax.random.PRNGKey(_TRACE), spec.trace_batches)
        self.trace_idx = jnp.stack([jax.random.choice(k, self.n, (tb,), replace=False) for k in keys])
        self.trace_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)

    def sample_batch(self, key: jax.Array):
        k_idx, k_aug = jax.random.split(key)
        x, y = super().sample_batch(k_idx)
        if self.spec.augment is not None:
            x = augment_batch(k_aug, x, self.spec.augment.crop_padding, self.spec.augment.hflip, self.fill)
        return x, y

    def fisher_rows(self, examples: int | None = None) -> int:
        """Images of one ``fisher_diag`` pass: the fixed batch of ``fisher_batch_size``, drawn
        once, capped by the training set (``examples``: the real one's size, as a fake's may be
        smaller)."""
        return min(self.spec.fisher_batch_size, examples or self.n)

    def fisher_diag(self, params: dict, key: jax.Array) -> dict:
        """IRE Eq. 6 on the fixed mask batch, labels drawn from ``key``."""
        return sampled_fisher_diag(self.logits_fn, params, opaque(self.fisher_x), key)

    def trace_fisher(self, params: dict) -> jax.Array:
        """Tr F^: the mean over the M fixed batches of B ||grad mean CE(y^)||^2."""
        per = jax.lax.map(lambda ik: fisher_trace(self.logits_fn, params, self.X[ik[0]], ik[1]),
                          (self.trace_idx, self.trace_keys))
        return jnp.mean(per)

    def _eval(self, params: dict, x: jax.Array, y: jax.Array) -> dict:
        """Loss, top-1 and top-k accuracy over (x, y) in batches of ``batch_size`` (the tail
        padded and weighted out), so memory stays one batch's."""
        b = self.spec.batch_size
        n = x.shape[0]
        pad = (-n) % b
        xs = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)]).reshape(-1, b, *x.shape[1:])
        ys = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)]).reshape(-1, b)
        ws = (jnp.arange(n + pad) < n).astype(self.dtype).reshape(-1, b)
        k = min(self.spec.top_k, self.n_classes)

        def one(args):
            xb, yb, wb = args
            logits = self.logits_fn(params, xb)
            loss = jax.vmap(lambda lg, lb: smoothed_kl(lg[None], lb[None], self.spec.label_smoothing))(logits, yb)
            top1 = (jnp.argmax(logits, -1) == yb).astype(self.dtype)
            topk = jnp.any(jax.lax.top_k(logits, k)[1] == yb[:, None], axis=-1).astype(self.dtype)
            return jnp.stack([jnp.sum(wb * loss), jnp.sum(wb * top1), jnp.sum(wb * topk)])

        total = jnp.sum(jax.lax.map(one, (xs, ys, ws)), axis=0) / n
        return {"loss": total[0], "accuracy": total[1], "top_k_accuracy": total[2]}

    def metrics(self, params: dict) -> dict:
        train = self._eval(params, self.X, self.y)
        # steps_per_epoch rides along so figures can put evaluations on an epoch axis
        out = {"loss": train["loss"], "accuracy": train["accuracy"], "trace_fisher": self.trace_fisher(params),
               "steps_per_epoch": jnp.asarray(-(-self.n // self.spec.batch_size), jnp.int32)}
        if self.eval_data is not None:
            test = self._eval(params, *self.eval_data)
            out |= {"test_loss": test["loss"], "test_accuracy": test["accuracy"], "test_top_k_accuracy": test["top_k_accuracy"]}
        return out


@problem_builder(IREVisionNet)
def build_vision(model: IREVisionNet, data: PreparedData, root: Path, *, dtype=np.float32) -> VisionProblem:
    x_train, y_train, x_test, y_test, fill = load_square_images(data.dataset, root, "ire_vision")
    n_classes = int(max(y_train.max(), y_test.max() if y_test.size else 0)) + 1
    eval_data = (x_test, y_test) if y_test.size else None
    return VisionProblem(model, x_train, y_train, eval_data, fill, n_classes, dtype=dtype)
