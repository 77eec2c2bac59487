"""Curvature of any loss as a function of one flat parameter vector: Hessian-vector products,
top eigenpairs (Lanczos, LOBPCG, power iteration), traces, the spectral density (stochastic
Lanczos quadrature), per-parameter-group curvature, third derivatives, the diagonal Fisher of
IRE and sharpness on the sphere.

Every routine sees a scalar ``f(x)`` of a flat vector ``x``; ``flatten`` turns a pytree loss
``loss(params, *args)`` into that form, so the same code serves toy losses and networks. All
loops have a fixed iteration count (``lax.fori_loop`` / ``lax.map``), so everything is jittable.
Precision follows the inputs: ``x``'s dtype (float32, or float64 under ``jax_enable_x64``) is the
dtype of every vector and of the eigen-solves.

The lowest layer of optdyn with ``optdyn.precision``: it imports nothing else from optdyn, so
models, theory, probes, figures and the trainer may all use it.

    hvp.py      flatten, hvp, residual_norms
    lanczos.py  lanczos_tridiagonal, tridiagonal, lanczos
    eigen.py    lobpcg, power_iteration, top_eigenpairs (lanczos / lobpcg / dense / auto)
    trace.py    hutchinson_trace, hutchinson_samples
    density.py  slq_density, smoothed_density, SpectralDensity
    groups.py   group_curvature, param_groups, GroupCurvature
    higher.py   spherical_sharpness, third_derivative_contraction, tensor_power_norm
    fisher.py   sampled_fisher_diag, fisher_diag_at_labels, fisher_diag_exact, fisher_trace
"""

from __future__ import annotations

from .density import SpectralDensity, slq_density, smoothed_density
from .eigen import AUTO_DENSE_MAX_DIM, lobpcg, power_iteration, top_eigenpairs
from .fisher import fisher_diag_at_labels, fisher_diag_exact, fisher_trace, sampled_fisher_diag
from .groups import GroupCurvature, group_curvature, leaf_paths, param_groups
from .higher import spherical_sharpness, tensor_power_norm, third_derivative_contraction
from .hvp import Matvec, flatten, hvp, residual_norms
from .lanczos import lanczos, lanczos_tridiagonal, tridiagonal
from .trace import hutchinson_samples, hutchinson_trace

__all__ = [
    "Matvec", "flatten", "hvp", "residual_norms",
    "lanczos", "lanczos_tridiagonal", "tridiagonal",
    "lobpcg", "power_iteration", "top_eigenpairs", "AUTO_DENSE_MAX_DIM",
    "hutchinson_trace", "hutchinson_samples",
    "slq_density", "smoothed_density", "SpectralDensity",
    "group_curvature", "param_groups", "leaf_paths", "GroupCurvature",
    "spherical_sharpness", "third_derivative_contraction", "tensor_power_norm",
    "sampled_fisher_diag", "fisher_diag_at_labels", "fisher_diag_exact", "fisher_trace",
]
