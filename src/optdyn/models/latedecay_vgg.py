"""The late-decay authors' `vgg-small` (catalog 002 Sec. 2, Fig. 1 [code]) on a prepared image
dataset, with their training-mode noise: dropout in the classifier and crop + flip augmentation,
both drawn from the step's key inside ``sample_batch`` so a batch stays a pure function of
(seed, step). Metrics are eval-mode (no dropout, un-augmented), as the catalog recommends.

Dropout is applied by hand from a key in the batch (not ``nnx.Dropout``, whose RNG state a
``ClassifierProblem`` refuses): the loss stays a pure function of the parameters and the batch.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from optdyn.data.images import augment_batch
from optdyn.data.prepare import load_square_images
from optdyn.registry import problem_builder
from optdyn.spec.components import PreparedData
from optdyn.spec.problems.latedecay import VGGMini

from .classifier import ClassifierProblem
from .losses import cat_mse

KAIMING_FAN_OUT = nnx.initializers.variance_scaling(2.0, "fan_out", "normal")  # torch kaiming_normal_(fan_out, relu)


class VGG(nnx.Module):
    """3x3 convs (padding 1) + ReLU, "M" a 2x2/2 max-pool; flatten; [Linear + ReLU + dropout] per
    hidden width; Linear to the classes."""

    def __init__(self, in_channels: int, n_classes: int, image_size: int, conv: list, hidden: list[int], *,
                 rngs: nnx.Rngs):
        layers, c, size = [], in_channels, image_size
        for item in conv:
            if item == "M":
                size //= 2
                continue
            layers.append(nnx.Conv(c, int(item), (3, 3), padding=1, kernel_init=KAIMING_FAN_OUT,
                                   bias_init=nnx.initializers.zeros, rngs=rngs))
            c = int(item)
        self.conv = nnx.List(layers)
        self.plan = [item == "M" for item in conv]
        widths = [size * size * c, *hidden, n_classes]
        self.fc = nnx.List([nnx.Linear(a, b, kernel_init=nnx.initializers.normal(0.01), bias_init=nnx.initializers.zeros,
                                       rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])

    def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None, rate: float = 0.0) -> jax.Array:
        convs = iter(self.conv)
        for pool in self.plan:
            x = nnx.max_pool(x, (2, 2), (2, 2)) if pool else nnx.relu(next(convs)(x))
        x = x.reshape(x.shape[0], -1)
        for i, layer in enumerate(self.fc[:-1]):
            x = nnx.relu(layer(x))
            if dropout_key is not None and rate > 0:
                keep = jax.random.bernoulli(jax.random.fold_in(dropout_key, i), 1.0 - rate, x.shape)
                x = jnp.where(keep, x / (1.0 - rate), 0.0)
        return self.fc[-1](x)


def half_sum_mse(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """(1/2) sum_k (out_k - onehot_k)^2, averaged over the batch (the authors' --loss mse)."""
    return cat_mse(logits, labels, scale=0.5)


class VGGMiniProblem(ClassifierProblem):
    def __init__(self, spec: VGGMini, module_fn, X, y, eval_data, fill, *, dtype=jnp.float32):
        super().__init__(module_fn, X, y, half_sum_mse, binary=False, batch_size=spec.batch_size, eval_data=eval_data, dtype=dtype)
        self.spec, self.fill = spec, jnp.asarray(fill, self.dtype)

    def sample_batch(self, key: jax.Array):
        k_idx, k_aug, k_drop = jax.random.split(key, 3)
        x, y = super().sample_batch(k_idx)
        if self.spec.augment is not None:
            x = augment_batch(k_aug, x, self.spec.augment.crop_padding, self.spec.augment.hflip, self.fill)
        return x, y, k_drop

    def loss(self, params: dict, batch) -> jax.Array:
        x, y, k_drop = batch
        logits = nnx.merge(self.graphdef, params)(x, k_drop, self.spec.dropout)
        return self.criterion(logits, y)


@problem_builder(VGGMini)
def build_vgg_mini(model: VGGMini, data: PreparedData, root: Path, *, dtype=np.float32) -> VGGMiniProblem:
    x_train, y_train, x_test, y_test, fill = load_square_images(data.dataset, root, "vgg_mini")
    size, pools = x_train.shape[1], model.conv.count("M")
    if size % 2**pools:
        raise ValueError(f"model 'vgg_mini' pools {pools} times; images of size {size} do not divide by {2**pools}")
    n_out = int(max(y_train.max(), y_test.max())) + 1
    module_fn = lambda rngs: VGG(x_train.shape[-1], n_out, size, list(model.conv), list(model.hidden), rngs=rngs)  # noqa: E731
    return VGGMiniProblem(model, module_fn, x_train, y_train, (x_test, y_test), fill, dtype=dtype)
