"""The late-LR-decay paper's reparametrized linear model as a ``Problem`` (see ``models/registry.py``).

Params are (replicas, d); the loss is the sum of the replicas' training losses with noisy labels,
so one gradient is every replica's own full-batch label-noise gradient (as in ``models/toy.py``).
The instance and the reference points (w*, w_dagger) come from ``theory/latedecay.py``, the
numpy reference the metrics are tested against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from optdyn.registry import problem_builder
from optdyn.spec.problems.latedecay import ReparamLinear, TeacherStudent
from optdyn.theory import latedecay as theory


def reparam_alpha(w: jax.Array, gamma: float) -> jax.Array:
    """alpha = ||w||^g w for each row of w."""
    return jnp.linalg.norm(w, axis=-1, keepdims=True) ** gamma * w


@problem_builder(ReparamLinear)
class ReparamLinearProblem:
    def __init__(self, spec: ReparamLinear, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        self.instance = theory.draw_instance(spec.d, spec.n, spec.gamma, spec.instance_seed, spec.x_std)
        # float64 numpy first: eager jnp ops would each compile in every training process
        inst, dt = self.instance, self.dtype
        w_dagger = theory.min_norm_interpolant(inst)
        q, _ = np.linalg.qr(inst.X)
        self.X, self.y = jnp.asarray(inst.X, dt), jnp.asarray(inst.y, dt)
        self.alpha_star, self.w_dagger = jnp.asarray(inst.alpha_star, dt), jnp.asarray(w_dagger, dt)
        self.e_dagger = jnp.asarray(w_dagger / np.linalg.norm(w_dagger), dt)
        self.col_basis = jnp.asarray(q, dt)  # orthonormal basis of col(X)

    def init(self, key: jax.Array) -> jax.Array:
        s = self.spec
        u = jax.random.normal(key, (s.replicas, s.d), self.dtype)
        return s.init_radius * u / jnp.linalg.norm(u, axis=1, keepdims=True)

    def sample_batch(self, key: jax.Array) -> jax.Array:
        """Label noise s*eps, (replicas, n); zeros for plain GD (same jitted structure)."""
        shape, dt = (self.spec.replicas, self.spec.n), self.dtype
        if self.spec.label_noise == 0:
            return jnp.zeros(shape, dt)
        return self.spec.label_noise * jax.random.normal(key, shape, dt)

    def _residuals(self, params: jax.Array) -> jax.Array:
        return reparam_alpha(params, self.spec.gamma) @ self.X - self.y

    def loss(self, params: jax.Array, batch: jax.Array) -> jax.Array:
        r = self._residuals(params) - jax.lax.stop_gradient(batch)
        return jnp.sum(r**2) / (2 * self.spec.n)

    def metrics(self, params: jax.Array) -> dict[str, jax.Array]:
        train = jnp.sum(self._residuals(params) ** 2, axis=1) / (2 * self.spec.n)
        diff = reparam_alpha(params, self.spec.gamma) - self.alpha_star
        test = 0.5 * self.instance.x_var * jnp.sum(diff**2, axis=1)
        in_col = params @ self.col_basis
        return {
            "loss": jnp.mean(train),
            "test": jnp.mean(test),
            "train_loss": train,
            "test_loss": test,
            "norm": jnp.linalg.norm(params, axis=1),
            "dist_dagger": jnp.linalg.norm(params - self.w_dagger, axis=1),
            # coordinates of the plane (w_dagger, X_perp part of w) in which M is one curve
            "coord_dagger": params @ self.e_dagger,
            "coord_perp": jnp.sqrt(jnp.maximum(jnp.sum(params**2, axis=1) - jnp.sum(in_col**2, axis=1), 0.0)),
        }


@problem_builder(TeacherStudent)
class TeacherStudentProblem:
    """Params {"W": (width, d), "a": (width,)}; the loss is (1/2) mean of (f(x_i) - y_i - s eps_i)^2
    over the batch, the metrics the noise-free train and test losses and the parameter norm."""

    def __init__(self, spec: TeacherStudent, *, dtype=jnp.float32):
        self.spec, self.dtype = spec, jnp.dtype(dtype)
        # float64 numpy first (one instance whatever the run's dtype), then cast
        rng = np.random.default_rng(spec.instance_seed)
        w_t, a_t = rng.standard_normal((spec.teacher_width, spec.d)), rng.standard_normal(spec.teacher_width)
        x_train, x_test = rng.standard_normal((spec.n_train, spec.d)), rng.standard_normal((spec.n_test, spec.d))

        def teacher(x):
            return np.tanh(x @ w_t.T / np.sqrt(spec.d)) @ a_t / np.sqrt(spec.teacher_width)

        self.x_train, self.y_train = jnp.asarray(x_train, self.dtype), jnp.asarray(teacher(x_train), self.dtype)
        self.x_test, self.y_test = jnp.asarray(x_test, self.dtype), jnp.asarray(teacher(x_test), self.dtype)

    def init(self, key: jax.Array) -> dict:
        kw, ka = jax.random.split(key)
        s = self.spec
        return {"W": jax.random.normal(kw, (s.width, s.d), self.dtype), "a": jax.random.normal(ka, (s.width,), self.dtype)}

    def predict(self, params: dict, x: jax.Array) -> jax.Array:
        s = self.spec
        return jnp.tanh(x @ params["W"].T / np.sqrt(s.d)) @ params["a"] / np.sqrt(s.width)

    def sample_batch(self, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(indices, label noise); full batch: every index, so one jitted structure either way."""
        s = self.spec
        k_idx, k_noise = jax.random.split(key)
        if s.batch_size is None:
            idx = jnp.arange(s.n_train)
        else:
            idx = jax.random.choice(k_idx, s.n_train, (s.batch_size,), replace=False)
        noise = s.label_noise * jax.random.normal(k_noise, idx.shape, self.dtype)
        return idx, noise

    def loss(self, params: dict, batch) -> jax.Array:
        idx, noise = batch
        r = self.predict(params, self.x_train[idx]) - self.y_train[idx] - jax.lax.stop_gradient(noise)
        return 0.5 * jnp.mean(r**2)

    def metrics(self, params: dict) -> dict[str, jax.Array]:
        train = 0.5 * jnp.mean((self.predict(params, self.x_train) - self.y_train) ** 2)
        test = 0.5 * jnp.mean((self.predict(params, self.x_test) - self.y_test) ** 2)
        norm = jnp.sqrt(sum(jnp.sum(p**2) for p in jax.tree.leaves(params)))
        return {"loss": train, "test_loss": test, "norm": norm}


from . import latedecay_vgg  # noqa: E402,F401  (registers the vgg_mini builder)
