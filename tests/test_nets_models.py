"""The self-stabilization nets (models/nets*.py): shapes, parameter counts against the catalog
(004 §4.1) or a hand count of the code's layers, init conventions and architecture quirks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from optdyn.models.nets import CNN, MLP, ResNet18, Transformer


@pytest.fixture(scope="module")
def resnet():
    return nnx.jit(lambda: ResNet18(3, 10, rngs=nnx.Rngs(5)))()  # eager init takes seconds


@pytest.fixture(scope="module")
def transformer():
    return nnx.jit(lambda: Transformer(12, 3, head_zero_init=False, mask_padding=True, rngs=nnx.Rngs(3)))()


@nnx.jit
def forward(net, x):
    """One compiled call: eager Flax dispatches op by op, seconds for a ResNet on CPU."""
    return net(x)


@nnx.jit
def resnet_features(net, x):
    x = net.stem(x)
    for block in net.blocks:
        x = block(x)
    return x.mean((1, 2))


def n_params(make) -> int:
    _, params = nnx.split(nnx.eval_shape(lambda: make(nnx.Rngs(0))), nnx.Param)
    return sum(x.size for x in jax.tree.leaves(params))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_output_shapes_on_tiny_inputs(resnet, transformer):
    img = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
    assert MLP(8 * 8 * 3, 5, rngs=nnx.Rngs(0))(img).shape == (2, 5)
    assert CNN(3, 5, image_size=8, rngs=nnx.Rngs(0))(img).shape == (2, 5)
    assert forward(resnet, img).shape == (2, 10)
    tokens = jnp.array([[5, 7, 9, 0, 0, 0], [3, 4, 5, 6, 7, 8]])
    assert forward(transformer, tokens).shape == (2, 3)
    cnn_odd = CNN(3, 4, image_size=(7, 5), rngs=nnx.Rngs(0))  # SAME pooling rounds up: 7x5 -> 2x2
    assert cnn_odd(jnp.ones((1, 7, 5, 3))).shape == (1, 4)


def test_parameter_counts_match_the_catalog():
    assert n_params(lambda r: MLP(rngs=r)) == 656_810  # catalog 004 §4.1
    assert n_params(lambda r: CNN(rngs=r)) == 30_634  # catalog 004 §4.1


def test_resnet18_and_transformer_parameter_counts_by_hand():
    w, conv = 16, lambda k, a, b: k * k * a * b
    gn = lambda c: 2 * c  # noqa: E731
    stem = conv(3, 3, w) + gn(w)
    total, c_in = stem, w
    for i in range(4):
        c = w * 2**i
        for b in range(2):
            total += conv(3, c_in, c) + gn(c) + conv(3, c, c) + gn(c)
            if c_in != c:
                total += conv(1, c_in, c) + gn(c)
            c_in = c
    total += 128 * 10 + 10
    assert n_params(lambda r: ResNet18(rngs=r)) == total == 701_466

    d = 64
    block = 4 * (d * d + d) + 2 * (d * d + d) + 2 * 2 * d  # q, k, v, out; FFN 64 -> 64 -> 64; 2 LNs
    assert n_params(lambda r: Transformer(rngs=r)) == 33278 * d + 64 * d + 2 * block + d + 1


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_torch_uniform_init_and_zero_bias():
    net = MLP(300, 10, widths=(200,), rngs=nnx.Rngs(1))
    for layer in net.layers:
        fan_in = layer.kernel.shape[0]
        k = np.asarray(layer.kernel[...])
        assert np.abs(k).max() <= 1 / np.sqrt(fan_in)
        # U(-a, a) has std a / sqrt(3); 60k / 2k samples put the estimate within a few percent
        np.testing.assert_allclose(k.std(), 1 / np.sqrt(3 * fan_in), rtol=0.06)
        assert not np.any(np.asarray(layer.bias[...]))
    clean = MLP(300, 10, widths=(200,), zero_bias=False, rngs=nnx.Rngs(1))
    b = np.asarray(clean.layers[0].bias[...])
    assert np.all(b != 0) and np.abs(b).max() <= 1 / np.sqrt(300)


def test_cnn_conv_fan_in_counts_the_receptive_field():
    net = CNN(3, 10, rngs=nnx.Rngs(2))
    k = np.asarray(net.convs[1].kernel[...])  # 3x3x32 fan-in
    assert np.abs(k).max() <= 1 / np.sqrt(9 * 32)
    np.testing.assert_allclose(k.std(), 1 / np.sqrt(3 * 9 * 32), rtol=0.05)


def _padded(tokens, length):
    return jnp.array([t + [0] * (length - len(t)) for t in tokens])


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_transformer_mask_padding_ignores_padding_tokens(transformer):
    seqs = [[4, 9, 2], [7, 3, 3, 8, 1]]
    net = transformer
    short, long = forward(net, _padded(seqs, 5)), forward(net, _padded(seqs, 9))
    np.testing.assert_allclose(short, long, rtol=1e-5, atol=1e-6)
    alone = forward(net, _padded(seqs[:1], 3))  # no padding at all
    np.testing.assert_allclose(short[0], alone[0], rtol=1e-5, atol=1e-6)


def test_transformer_paper_default_pools_over_padding_too(transformer):
    seqs = [[4, 9, 2], [7, 3, 3, 8, 1]]
    assert Transformer.__init__.__kwdefaults__["mask_padding"] is False  # the code: x.mean(1), no mask
    unmasked = nnx.clone(transformer)
    unmasked.mask_padding = False
    assert not np.allclose(forward(unmasked, _padded(seqs, 5))[0], forward(unmasked, _padded(seqs, 9))[0], atol=1e-4)


def test_transformer_rejects_sequences_longer_than_its_positions(transformer):
    with pytest.raises(ValueError, match="max_positions"):
        transformer(jnp.ones((1, 65), jnp.int32))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_zero_init_heads_give_zero_logits_at_init(resnet):
    img = jax.random.normal(jax.random.PRNGKey(4), (3, 8, 8, 3))
    assert not np.any(np.asarray(forward(resnet, img)))
    assert not np.any(np.asarray(resnet.head.kernel[...])) and np.any(np.asarray(resnet.stem.conv.kernel[...]))
    assert np.all(np.abs(np.asarray(resnet_features(resnet, img))).sum(1) > 0)  # zero only through the head
    tokens = jnp.array([[1, 2, 3, 0]])
    assert not np.any(np.asarray(forward(Transformer(8, 2, rngs=nnx.Rngs(4)), tokens)))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_resnet_relu_inside_blocks_swish_after_the_residual_addition(resnet):
    net = resnet
    x = jax.random.normal(jax.random.PRNGKey(5), (2, 8, 8, 3))
    stem = np.asarray(net.stem(x))
    assert stem.min() == 0.0  # ReLU stem (jax_resnet's ConvBlock default)
    block = net.blocks[0]
    inner = np.asarray(block.conv1(net.stem(x)))
    assert inner.min() == 0.0  # ReLU inside the block
    out = np.asarray(block(net.stem(x)))
    assert -0.279 < out.min() < 0  # swish's range starts at -0.2785
    expected = nnx.swish(block.conv2(block.conv1(net.stem(x))) + net.stem(x))
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    # GroupNorm scales start at 1 even in each block's last norm (the code drops jax_resnet's zero init)
    assert np.all(np.asarray(block.conv2.norm.scale[...]) == 1)
    zero_scale = ResNet18(3, 10, stage_sizes=(1,), last_norm_zero_scale=True, rngs=nnx.Rngs(5))
    assert np.all(np.asarray(zero_scale.blocks[0].conv2.norm.scale[...]) == 0)


def test_resnet_downsamples_with_explicit_padding_and_a_projection_shortcut(resnet):
    net = resnet
    x = jnp.ones((1, 8, 8, 16))
    assert net.blocks[2].shortcut is not None and net.blocks[0].shortcut is None
    assert net.blocks[2](x).shape == (1, 4, 4, 32)
    assert net.blocks[2].conv1.conv.padding == ((1, 1), (1, 1))
