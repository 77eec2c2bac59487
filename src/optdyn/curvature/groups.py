"""Curvature of one parameter group at a time: the top eigenpairs and the trace of the
Hessian block of a group (HVPs in that group's parameters, all others held fixed), e.g. one
layer, to see where the sharpness lives.

Groups name leaves of the params pytree by their path string, the keys joined by "/" (an NNX
``Variable``'s trailing ``.value`` left out): ``"layers/0/kernel"``, ``"head/bias"``.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Mapping, Sequence, Union

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

from .eigen import lobpcg, resolve_method, _top_eigenpairs
from .hvp import hvp, residual_norms
from .trace import hutchinson_samples

#: a group: a predicate on leaf path strings, or path prefixes (a whole leaf path, or a module
#: path matching every leaf under it)
GroupSpec = Union[Callable[[str], bool], str, Sequence[str]]


def _key_name(k) -> str:
    if isinstance(k, DictKey):
        return str(k.key)
    if isinstance(k, GetAttrKey):
        return k.name
    if isinstance(k, SequenceKey):
        return str(k.idx)
    if isinstance(k, FlattenedIndexKey):
        return str(k.key)
    return str(k)


def path_string(path) -> str:
    """A ``tree_flatten_with_path`` key path as ``"a/b/0/c"``."""
    names = [_key_name(k) for k in path]
    if len(names) > 1 and isinstance(path[-1], GetAttrKey) and path[-1].name == "value":
        names = names[:-1]  # the NNX Variable wrapper, not part of the parameter's name
    return "/".join(names)


def leaf_paths(params) -> list[str]:
    """The path strings of ``params``' leaves, in ``jax.tree.leaves`` (and ``ravel_pytree``) order."""
    return [path_string(p) for p, _ in jax.tree_util.tree_flatten_with_path(params)[0]]


def _matcher(spec: GroupSpec) -> Callable[[str], bool]:
    if callable(spec):
        return spec
    prefixes = (spec,) if isinstance(spec, str) else tuple(spec)
    return lambda p: any(p == q or p.startswith(q.rstrip("/") + "/") for q in prefixes)


def param_groups(params, groups: Mapping[str, GroupSpec] | None = None) -> dict[str, tuple[str, ...]]:
    """Group name -> the leaf paths in it, in leaf order.

    ``groups=None``: one group per module, i.e. per leaf path without its last key
    (``"layers/0"`` holds ``layers/0/kernel`` and ``layers/0/bias``); a leaf at the top level is
    its own group. Otherwise each group is a predicate on path strings or path prefixes; leaves
    in no group are never perturbed, and a leaf may sit in several groups.
    """
    paths = leaf_paths(params)
    if groups is None:
        out: dict[str, list[str]] = {}
        for p in paths:
            out.setdefault(p.rsplit("/", 1)[0] if "/" in p else p, []).append(p)
        return {g: tuple(ps) for g, ps in out.items()}
    out = {}
    for name, spec in groups.items():
        match = _matcher(spec)
        out[name] = tuple(p for p in paths if match(p))
        if not out[name]:
            raise ValueError(f"parameter group {name!r} matches no leaf; the leaves are {paths}")
    return out


@functools.partial(jax.tree_util.register_dataclass,
                   data_fields=["eigenvalues", "eigenvectors", "residuals", "iterations", "trace", "trace_stderr"],
                   meta_fields=["name", "paths", "size", "method", "k", "which", "trace_probes"])
@dataclasses.dataclass(frozen=True)
class GroupCurvature:
    """One group's Hessian block: its top ``k`` eigenvalues (descending), unit eigenvectors as
    columns over the group's flat parameters (leaf order), their residuals ||H v - l v|| and the
    solver's ``iterations`` (Lanczos steps, LOBPCG iterations; 0 for dense); the Hutchinson
    ``trace`` over ``trace_probes`` Rademacher probes with its standard error (None without
    probes). ``method`` is the solver actually run ("auto" resolved)."""

    eigenvalues: jax.Array
    eigenvectors: jax.Array
    residuals: jax.Array
    iterations: jax.Array
    trace: jax.Array | None
    trace_stderr: jax.Array | None
    name: str
    paths: tuple[str, ...]
    size: int
    method: str
    k: int
    which: str
    trace_probes: int


def group_curvature(loss: Callable, params, *args, groups: Mapping[str, GroupSpec] | None = None, k: int = 1,
                    method: str = "lanczos", iters: int | None = None, trace_probes: int = 100,
                    key: jax.Array | None = None, which: str = "LA",
                    tol: float | None = None) -> dict[str, GroupCurvature]:
    """For every group of ``param_groups(params, groups)``, the top-``k`` eigenpairs and the
    trace of the Hessian block of ``loss(params, *args)`` in that group's parameters.

    ``method``, ``iters``, ``which``, ``tol`` are those of ``top_eigenpairs`` (per group,
    ``k`` is capped at the group's size and "auto" picks dense for small groups);
    ``trace_probes`` Rademacher probes estimate the trace (0: none). Each group draws from its
    own ``fold_in(key, index)``. One compiled solve per (loss, group, settings); ``args`` (the
    batch) are traced, so they must be arrays.
    """
    key = jax.random.PRNGKey(0) if key is None else key
    leaves, treedef = jax.tree.flatten(params)
    paths = leaf_paths(params)
    out = {}
    for i, (name, members) in enumerate(param_groups(params, groups).items()):
        idx = tuple(paths.index(p) for p in members)
        size = sum(int(jnp.size(leaves[j])) for j in idx)
        kg = min(k, size)
        m, it = resolve_method(method, iters, size)
        solve = _group_solver(loss, treedef, idx, kg, m, it, which, tol, trace_probes)
        vals, vecs, res, n, tr, se = solve(leaves, args, jax.random.fold_in(key, i))
        out[name] = GroupCurvature(vals, vecs, res, n, tr, se, name, members, size, m, kg, which, trace_probes)
    return out


@functools.lru_cache(maxsize=64)
def _group_solver(loss, treedef, idx, k, method, iters, which, tol, trace_probes):
    def solve(leaves, args, key):
        x, unravel = ravel_pytree([leaves[j] for j in idx])

        def f(y):
            new = list(leaves)
            for j, leaf in zip(idx, unravel(y)):
                new[j] = leaf
            return loss(jax.tree.unflatten(treedef, new), *args)

        dim = x.shape[0]
        matvec = lambda v: hvp(f, x, v)  # noqa: E731
        k_eig, k_trace = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
        if method == "lobpcg":
            # called directly (not through top_eigenpairs) to report the iterations it took
            if which != "LA":
                raise ValueError("lobpcg finds the algebraically largest eigenvalues only (which='LA')")
            X = jax.random.normal(k_eig, (dim, k), x.dtype)
            vals, vecs, n = lobpcg(matvec, X, 100 if iters is None else iters, tol)
        else:
            vals, vecs = _top_eigenpairs(f, x, k, method, iters, k_eig, None, which, tol)
            used = 0 if method == "dense" else min(dim, max(40, 3 * k) if iters is None else iters)
            n = jnp.asarray(used)
        res = residual_norms(matvec, vals, vecs)
        if not trace_probes:
            return vals, vecs, res, n, None, None
        s = hutchinson_samples(matvec, dim, trace_probes, k_trace, dtype=x.dtype)
        se = jnp.std(s, ddof=1) / jnp.sqrt(trace_probes) if trace_probes > 1 else jnp.asarray(jnp.nan, x.dtype)
        return vals, vecs, res, n, jnp.mean(s), se

    return jax.jit(solve)
