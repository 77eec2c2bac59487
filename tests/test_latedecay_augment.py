"""Crop-with-padding + horizontal-flip augmentation (data/images.py ``augment_batch``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from optdyn.data.images import augment_batch


def _batch(n=64, h=6, w=5, c=2):
    return jnp.asarray(np.random.default_rng(0).standard_normal((n, h, w, c)), jnp.float32)


def test_off_is_identity():
    x = _batch()
    np.testing.assert_array_equal(augment_batch(jax.random.PRNGKey(0), x, crop_padding=0, hflip=False), x)


def test_flip_only_mirrors_about_half():
    x = _batch(n=400)
    y = np.asarray(augment_batch(jax.random.PRNGKey(1), x, crop_padding=0, hflip=True))
    same = np.all(y == np.asarray(x), axis=(1, 2, 3))
    mirrored = np.all(y == np.asarray(x)[:, :, ::-1, :], axis=(1, 2, 3))
    assert np.all(same | mirrored)
    assert 0.4 < mirrored.mean() < 0.6


def test_crop_is_a_shifted_window_of_the_padded_image():
    x = _batch(n=300)
    p, fill = 2, np.array([7.0, -7.0], np.float32)
    y = np.asarray(augment_batch(jax.random.PRNGKey(2), x, crop_padding=p, hflip=False, fill=fill))
    n, h, w, c = x.shape
    padded = np.broadcast_to(fill, (n, h + 2 * p, w + 2 * p, c)).copy()
    padded[:, p:p + h, p:p + w] = np.asarray(x)
    shifts = set()
    for i in range(n):
        hits = [(a, b) for a in range(2 * p + 1) for b in range(2 * p + 1)
                if np.array_equal(padded[i, a:a + h, b:b + w], y[i])]
        assert hits, f"example {i} is no window of its padded image"
        shifts.add(hits[0])
    assert len(shifts) == (2 * p + 1) ** 2  # every offset is drawn


def test_pure_function_of_key():
    x = _batch()
    a = augment_batch(jax.random.PRNGKey(3), x)
    np.testing.assert_array_equal(a, augment_batch(jax.random.PRNGKey(3), x))
    assert not np.array_equal(a, augment_batch(jax.random.PRNGKey(4), x))
