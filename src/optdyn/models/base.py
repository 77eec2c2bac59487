"""What the trainer and the probes see of any model: a ``Problem``.

A problem bundles parameters' initialization, how a batch is drawn at a step, the loss that is
differentiated and cheap exact metrics. Analytic toy losses and neural networks (Flax NNX
modules split into graphdef + params) are both problems, so GD/SGD, checkpoints and every
probe work on either.

Optional members, looked up with ``getattr`` by the trainer when a run needs them:
  ``replica_axis: bool``: every params leaf stacks independent replicas along axis 0, so SAM's
  perturbation norm and IRE's coordinate ranking are taken per replica (default False);
  ``fisher_diag(params, key) -> PyTree``: a diagonal-Fisher estimate like params, which IRE ranks
  coordinates by (networks: ``curvature.sampled_fisher_diag`` on a batch drawn from ``key``;
  squared-loss toys: their own Gauss-Newton diagonal). Jittable.
  ``fisher_rows(examples=None) -> int``: the examples one ``fisher_diag`` pass reads, for the
  plan's memory and FLOPs (``train/cost.py``; ``examples``: the real training set's size where
  the problem holds a smaller fake); absent where the estimate reads no batch (a closed form).
  ``step_metrics(params, step) -> dict``: measurements of params_t logged with every step's row
  (``models/normsharp_nets.py``: ||w||^2 and a scheduled sharpness). Jittable.
  ``sharpness(params, *, examples, iters) -> scalar``: the top Hessian eigenvalue of the training
  loss on the first ``examples`` training examples (None: all) by ``iters`` Lanczos steps, which
  the ``inverse_sharpness`` optimizer (eta_t = lr_t / S) divides its step by (networks:
  ``models/networks.py`` NetworkProblem). Jittable.
"""

from __future__ import annotations

from typing import Any, Protocol

import jax

PyTree = Any


class Problem(Protocol):
    def init(self, key: jax.Array) -> PyTree:
        """Initial parameters (deterministic in ``key``)."""

    def sample_batch(self, key: jax.Array) -> PyTree:
        """The batch of one step; the trainer passes ``fold_in(data_key, step)``, so batches are
        a pure function of (seed, step) and a resumed run sees the same data. Jittable."""

    def loss(self, params: PyTree, batch: PyTree) -> jax.Array:
        """The scalar whose gradient the optimizer follows. Jittable."""

    def metrics(self, params: PyTree) -> dict[str, jax.Array]:
        """Cheap exact evaluations (population loss, coordinates...), scalars or small 1-D
        arrays (a vector ``v`` is logged as columns ``v[0]``, ``v[1]``...). Jittable."""
