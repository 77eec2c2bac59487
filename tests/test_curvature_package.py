"""``optdyn.curvature`` as a package: the lowest layer (it imports no other optdyn package but
``optdyn.precision``), small modules, and ``top_eigenpairs(method="auto")``."""

from __future__ import annotations

import ast
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from optdyn import curvature as C

PACKAGE = Path(C.__file__).parent


def test_imports_nothing_above_it():
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
                assert node.level <= 1, f"{path.name} reaches out of the package: {ast.unparse(node)}"
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith("optdyn") or name in ("optdyn.precision", "optdyn.curvature") \
                    or name.startswith("optdyn.curvature."), f"{path.name} imports {name}"
        assert len(path.read_text().splitlines()) < 400, path.name


def test_public_api():
    for name in C.__all__:
        assert hasattr(C, name), name


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
@pytest.mark.usefixtures("x64")
def test_auto_is_dense_up_to_64_and_lanczos_above():
    rng = np.random.default_rng(0)
    for n, iters in ((64, 10), (65, 10), (80, 500)):
        a = rng.normal(size=(n, n))
        A = jnp.asarray(a + a.T)
        f = lambda x, A=A: 0.5 * x @ A @ x  # noqa: E731
        x = jnp.asarray(rng.normal(size=n))
        vals, vecs = C.top_eigenpairs(f, x, 2, "auto", iters=iters)
        ref = C.top_eigenpairs(f, x, 2, "dense") if n <= C.AUTO_DENSE_MAX_DIM else \
            C.top_eigenpairs(f, x, 2, "lanczos", iters=min(iters, n))
        np.testing.assert_array_equal(vals, ref[0])
        np.testing.assert_array_equal(vecs, ref[1])
    with pytest.raises(ValueError, match="auto"):
        C.top_eigenpairs(f, x, 1, "nope")
