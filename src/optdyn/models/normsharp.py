"""The `normsharp` paper's scale-invariant problems as ``Problem``s (see ``models/registry.py``).

Each loss is scale-invariant (L(cw) = L(w)), so GD+WD on it is projected GD on the sphere with
effective LR eta/((1 - eta lambda)||w||^2) (Lemma 3.1). Batches are empty (full-batch GD). The
metrics log what the figures need per evaluation: train/test loss, ||w||^2 and the spherical
sharpness lambda_1(hess L(w/||w||)) = ||w||^2 lambda_1(hess L(w)), computed exactly (dense for
d <= 64, Lanczos with full reorthogonalization above: ``top_eigenpairs(..., method="auto")``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from optdyn.curvature import top_eigenpairs
from optdyn.registry import problem_builder
from optdyn.spec.problems.normsharp import (
    LinearRegressionBN,
    MatrixCompletionBN,
    ScaleInvariantToy3D,
)
from optdyn.theory import normsharp as th


def _unit(w: jax.Array) -> jax.Array:
    return w / jnp.linalg.norm(w)


@problem_builder(MatrixCompletionBN)
class MatrixCompletionBNProblem:
    """L(U, V) = (1/N) sum_Omega ((gamma/sigma)[U V^T]_ij - M_ij)^2 (catalog 3.1). Written with a
    dense 0/1 mask: on CPU the three d x d matmuls beat gather/scatter on Omega."""

    def __init__(self, spec: MatrixCompletionBN, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        d, rng = spec.d, np.random.default_rng(spec.data_seed)
        m = rng.uniform(-1, 1, (d, spec.rank)) @ rng.uniform(-1, 1, (d, spec.rank)).T
        self.target = m * (d / np.linalg.norm(m))  # mean entry^2 = 1
        observed = rng.choice(d * d, spec.observations, replace=False)
        self.mask = np.zeros(d * d)
        self.mask[observed] = 1.0
        self.mask = self.mask.reshape(d, d)
        self.gamma = float(np.sqrt(np.sum(self.mask * self.target**2) / spec.observations))

    def init(self, key: jax.Array) -> dict:
        d, std = self.spec.d, self.spec.init_std or 1.0 / np.sqrt(self.spec.d)
        ku, kv = jax.random.split(key)
        return {"u": std * jax.random.normal(ku, (d, d), self.dtype), "v": std * jax.random.normal(kv, (d, d), self.dtype)}

    def sample_batch(self, key: jax.Array) -> jax.Array:
        return jnp.zeros((), self.dtype)

    def prediction(self, params: dict) -> jax.Array:
        """(gamma/sigma) U V^T: BN with the observed entries' second moment, no mean removed."""
        raw = params["u"] @ params["v"].T
        sigma = jnp.sqrt(jnp.sum(self.mask * raw**2) / self.spec.observations)
        return self.gamma * raw / sigma

    def loss(self, params: dict, batch=None) -> jax.Array:
        err = self.prediction(params) - self.target
        return jnp.sum(self.mask * err**2) / self.spec.observations

    def metrics(self, params: dict) -> dict[str, jax.Array]:
        flat, unravel = ravel_pytree(params)
        theta = _unit(flat)
        vals, _ = top_eigenpairs(lambda x: self.loss(unravel(x)), theta, 1, "auto", iters=self.spec.lanczos_iters)
        sharp = vals[0]
        pred = self.prediction(params)
        return {
            "loss": self.loss(params),
            "test_loss": jnp.mean((pred - self.target) ** 2),
            "norm_sq": flat @ flat,
            "sharpness": sharp,
            "sv": jnp.linalg.svd(pred, compute_uv=False)[: self.spec.singular_values],
        }


@problem_builder(ScaleInvariantToy3D)
class ScaleInvariantToy3DProblem:
    """L(w) = F(U w) with a fixed random rotation U; metrics in F-coordinates, as plotted."""

    def __init__(self, spec: ScaleInvariantToy3D, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        self.rotation = th.random_rotation(spec.rotation_seed)

    def init(self, key: jax.Array) -> jax.Array:
        del key  # the paper's fixed start
        return jnp.asarray(self.rotation.T @ np.asarray(self.spec.init), self.dtype)

    def sample_batch(self, key: jax.Array) -> jax.Array:
        return jnp.zeros((), self.dtype)

    def loss(self, params: jax.Array, batch=None) -> jax.Array:
        return th.toy3d_F(jnp.asarray(self.rotation, params.dtype) @ params)

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        theta = _unit(params)
        vals, _ = top_eigenpairs(self.loss, theta, 1, "auto", iters=3)
        sharp = vals[0]
        return {
            "loss": self.loss(params),
            "norm_sq": params @ params,
            "sharpness": sharp,
            "theta_f": jnp.asarray(self.rotation, params.dtype) @ theta,
        }


@problem_builder(LinearRegressionBN)
class LinearRegressionBNProblem:
    """L(w) = (1/n) sum_i (sigma_y (w^T x_i - mu_1)/sigma_1 + mu_y - y_i)^2 with full-batch BN
    statistics (Sec. 5). Its minimizers on the sphere are Gamma = {theta: X~ theta = c y~, c > 0};
    phi_t, the limit of projected gradient flow from theta_t, is closed-form: the flow moves only
    in the row space of X~ (the loss depends on w through X~ w), keeping the null-space part and
    the row-space norm, and ends where the row-space part points along X~^+ y~."""

    def __init__(self, spec: LinearRegressionBN, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        data = th.linreg_data(spec.d, spec.n, spec.bias_variance, spec.data_seed)
        self.data = data
        xc, yc = th.linreg_centered(data["x"], data["y"])
        self.xc, self.yc, self.mu_y = xc, yc, float(data["y"].mean())
        self.w_flat = th.linreg_flattest(data["x"], data["y"])
        self.row_proj = np.linalg.pinv(xc) @ xc
        self.w_flat_dir = self.w_flat / np.linalg.norm(self.w_flat)
        # fixes the eigenvector's sign so that h_t's sign is comparable across steps
        self.sign_ref = np.random.default_rng(spec.data_seed + 1).normal(size=spec.d)

    def init(self, key: jax.Array) -> jax.Array:
        return self.spec.init_std / np.sqrt(self.spec.d) * jax.random.normal(key, (self.spec.d,), self.dtype)

    def sample_batch(self, key: jax.Array) -> jax.Array:
        return jnp.zeros((), self.dtype)

    def _equivalent(self, w: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(w~, b~) of eq. (4)."""
        w_tilde = np.linalg.norm(self.yc) * w / jnp.linalg.norm(self.xc @ w)
        return w_tilde, self.mu_y - w_tilde @ self.data["x"].mean(0)

    def loss(self, params: jax.Array, batch=None) -> jax.Array:
        h = self.xc @ params
        pred = np.std(self.yc) * h / jnp.sqrt(jnp.mean(h**2)) + self.mu_y
        return jnp.mean((pred - self.data["y"]) ** 2)

    def project(self, theta: jax.Array) -> jax.Array:
        row = self.row_proj @ theta
        return theta - row + jnp.linalg.norm(row) * self.w_flat_dir

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        theta = _unit(params)
        phi = self.project(theta)
        vals, vecs = top_eigenpairs(self.loss, phi, 1, "auto", iters=self.spec.d)
        sharp_phi, v1 = vals[0], vecs[:, 0]
        v1 = v1 * jnp.sign(v1 @ self.sign_ref)
        w_tilde, b_tilde = self._equivalent(params)
        w_tilde_phi, _ = self._equivalent(phi)
        d = self.data
        test = jnp.sum(d["cov"] * (w_tilde - d["w_gt"]) ** 2) + (b_tilde - d["b_gt"]) ** 2
        vals, _ = top_eigenpairs(self.loss, theta, 1, "auto", iters=self.spec.d)
        sharp_theta = vals[0]
        return {
            "loss": self.loss(params),
            "test_loss": test,
            "norm_sq": params @ params,
            "sharpness": sharp_theta,
            "sharpness_phi": sharp_phi,
            "h": (theta - phi) @ v1,
            # on Gamma, so that the period-2 oscillation does not blur the distance to (M)
            "dist_to_flattest": jnp.linalg.norm(w_tilde_phi - self.w_flat),
        }


from . import normsharp_nets  # noqa: E402,F401  (registers the CIFAR networks' builder)
