"""Flax NNX networks of the self-stabilization paper (catalog 004 §4.1, App. D.1), with every
quirk of the authors' code (github.com/adamian98/EOS) a named constructor argument whose default
is the paper's value (conventions.md lesson 8).

Inputs are NHWC images (MLP, CNN, ResNet-18) or int token ids [batch, length] (Transformer);
outputs are logits [batch, n_classes] (n_classes = 1 for the +-1 binary tasks).
This module holds the MLP and the CNN; ``nets_transformer`` and ``nets_resnet`` the others,
re-exported here.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

#: PyTorch's default weight init U(+-1/sqrt(fan_in)), the code's ``torch_layers.torch_init``
TORCH_UNIFORM = nnx.initializers.variance_scaling(1 / 3, "fan_in", "uniform")


def torch_uniform_bias(fan_in: int) -> Callable:
    """PyTorch's own bias init U(+-1/sqrt(fan_in)): a 'clean' alternative to the code's zeros."""
    bound = 1.0 / fan_in**0.5
    return lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)


class MLP(nnx.Module):
    """flatten -> [Dense(w) -> activation] for w in widths -> Dense(n_classes) (catalog 004
    §4.1 MLP, code ``models/simple.py``: widths (200, 200), swish, 656,810 params on CIFAR-10).

    ``kernel_init``: the code's Torch-like U(+-1/sqrt(fan_in)) (§4.1 Init); ``zero_bias``: the
    code zero-initializes biases, unlike PyTorch (§4.1 Init).
    """

    def __init__(self, in_features: int = 32 * 32 * 3, n_classes: int = 10, *,
                 widths: Sequence[int] = (200, 200), activation: Callable = nnx.swish,
                 kernel_init: Callable = TORCH_UNIFORM, zero_bias: bool = True, rngs: nnx.Rngs):
        sizes = [in_features, *widths, n_classes]
        self.layers = nnx.List([
            nnx.Linear(a, b, kernel_init=kernel_init, rngs=rngs,
                       bias_init=nnx.initializers.zeros if zero_bias else torch_uniform_bias(a))
            for a, b in zip(sizes[:-1], sizes[1:])
        ])
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        x = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)


class CNN(nnx.Module):
    """[Conv(c, 3x3, SAME) -> activation -> pool 2x2/2 (SAME)] for c in channels -> flatten ->
    Dense(n_classes) (catalog 004 §4.1 CNN, code ``models/simple.py``: channels (32, 32), swish,
    average pooling, 30,634 params on CIFAR-10).

    ``pool``: "avg" is the code's (Cohen's ``cnn-relu`` used max-pool, §4.1 [locuslab]);
    ``kernel_init`` / ``zero_bias`` as in ``MLP`` (§4.1 Init).
    """

    def __init__(self, in_channels: int = 3, n_classes: int = 10, *, image_size: int | tuple[int, int] = 32,
                 channels: Sequence[int] = (32, 32), activation: Callable = nnx.swish, pool: str = "avg",
                 kernel_init: Callable = TORCH_UNIFORM, zero_bias: bool = True, rngs: nnx.Rngs):
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', not {pool!r}")
        h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
        convs = []
        for c_in, c_out in zip([in_channels, *channels[:-1]], channels):
            convs.append(nnx.Conv(c_in, c_out, (3, 3), padding="SAME", kernel_init=kernel_init, rngs=rngs,
                                  bias_init=nnx.initializers.zeros if zero_bias else torch_uniform_bias(9 * c_in)))
            h, w = -(-h // 2), -(-w // 2)  # SAME pooling rounds up
        self.convs = nnx.List(convs)
        flat = h * w * channels[-1]
        self.head = nnx.Linear(flat, n_classes, kernel_init=kernel_init, rngs=rngs,
                               bias_init=nnx.initializers.zeros if zero_bias else torch_uniform_bias(flat))
        self.activation = activation
        self.pool = nnx.avg_pool if pool == "avg" else nnx.max_pool

    def __call__(self, x: jax.Array) -> jax.Array:
        for conv in self.convs:
            x = self.pool(self.activation(conv(x)), (2, 2), (2, 2), "SAME")
        return self.head(x.reshape(x.shape[0], -1))


from .nets_resnet import ResNet18  # noqa: E402
from .nets_transformer import Transformer  # noqa: E402

__all__ = ["MLP", "CNN", "Transformer", "ResNet18", "TORCH_UNIFORM", "torch_uniform_bias"]
