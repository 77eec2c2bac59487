"""Data-parallel and FSDP sharding of a training job over a ("data", "fsdp") device mesh.

A model spec's ``mesh: {data, fsdp}`` asks for it (``LMMesh`` in ``spec/components.py``; the
problem exposes it as ``problem.mesh``); without one the trainer uses ``NoSharding`` and nothing
changes. With a mesh:
- every batch is split along its leading (example) axis over all devices of the mesh, both axes
  together: FSDP is data parallel too, it only also splits the parameters;
- every state leaf (parameters, and optimizer moments of the same shapes) is split over the
  ``fsdp`` axis along its largest axis divisible by the fsdp size, and replicated over ``data``;
  leaves with no such axis (scalars, small norms' scales) are replicated.
XLA's SPMD partitioner inserts the all-gathers of parameters and reduce-scatters of gradients;
the numbers are those of the unsharded step up to the order of floating-point reductions.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXES = ("data", "fsdp")


def make_mesh(data: int = -1, fsdp: int = 1, devices: list | None = None) -> Mesh:
    """A (data, fsdp) mesh over ``devices`` (all by default); ``data=-1`` takes every device
    the fsdp axis leaves."""
    devices = list(jax.devices() if devices is None else devices)
    if data == -1:
        if len(devices) % fsdp:
            raise ValueError(f"fsdp {fsdp} does not divide the {len(devices)} devices")
        data = len(devices) // fsdp
    if data * fsdp > len(devices):
        raise ValueError(f"a mesh of data {data} x fsdp {fsdp} needs {data * fsdp} devices; {len(devices)} are available")
    return Mesh(np.asarray(devices[: data * fsdp]).reshape(data, fsdp), AXES)


def fsdp_spec(shape: tuple[int, ...], fsdp: int) -> P:
    """Split the largest axis divisible by ``fsdp`` over the fsdp axis (first such on ties)."""
    if fsdp == 1:
        return P()
    fits = [i for i, n in enumerate(shape) if n % fsdp == 0]
    if not fits:
        return P()
    axis = max(fits, key=lambda i: shape[i])
    return P(*(["fsdp" if i == axis else None for i in range(len(shape))]))


class NoSharding:
    """One device: every hook is the identity."""

    mesh = None

    def place(self, state: Any) -> Any:
        return state

    def constrain_state(self, state: Any) -> Any:
        return state

    def constrain_batch(self, batch: Any) -> Any:
        return batch

    def constrain_micro(self, micro: Any) -> Any:
        return micro


class MeshSharding:
    """Placement (``place``, eager) and in-jit constraints (``constrain_*``) for one mesh."""

    def __init__(self, mesh: Mesh):
        self.mesh = mesh
        self.fsdp = mesh.shape["fsdp"]

    def _leaf(self, x) -> NamedSharding:
        return NamedSharding(self.mesh, fsdp_spec(np.shape(x), self.fsdp))

    def _rows(self, x, lead: int = 0) -> NamedSharding:
        """Axis ``lead`` split over all devices (both mesh axes), the others whole."""
        return NamedSharding(self.mesh, P(*([None] * lead), AXES, *([None] * (np.ndim(x) - lead - 1))))

    def place(self, state: Any) -> Any:
        return jax.device_put(state, jax.tree.map(self._leaf, state))

    def constrain_state(self, state: Any) -> Any:
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, self._leaf(x)), state)

    def constrain_batch(self, batch: Any) -> Any:
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, self._rows(x)), batch)

    def constrain_micro(self, micro: Any) -> Any:
        """Micro-batches stacked on axis 0: each one split over all devices along axis 1."""
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, self._rows(x, 1)), micro)


def sharding_for(problem) -> NoSharding | MeshSharding:
    """The problem's ``mesh`` (an ``LMMesh`` spec) as a ``MeshSharding``, refusing a batch that
    does not split evenly over the devices; ``NoSharding`` without one."""
    spec = getattr(problem, "mesh", None)
    if spec is None:
        return NoSharding()
    mesh = make_mesh(spec.data, spec.fsdp)
    micro = problem.batch_size // getattr(problem, "microbatches", 1)
    if micro % mesh.size:
        raise ValueError(f"a micro-batch of {micro} sequences does not split over the mesh's {mesh.size} devices")
    return MeshSharding(mesh)
