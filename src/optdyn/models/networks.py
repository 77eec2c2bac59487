"""Networks on prepared datasets as ``ClassifierProblem``s: the spec (``spec/components.py``)
picks the architecture and loss, the dataset comes only through its verified manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flax import nnx

from optdyn.data.prepare import load_prepared
from optdyn.probes.curvature import flatten, top_eigenpairs
from optdyn.spec.components import CNNNet, MLPNet, PreparedData, ResNet18Net

from .classifier import ClassifierProblem
from .losses import BINARY
from .nets import CNN, MLP, ResNet18

ACTIVATIONS = {"swish": nnx.swish, "relu": nnx.relu, "gelu": nnx.gelu, "tanh": nnx.tanh}


def _module_fn(model, shape: tuple[int, ...], n_out: int):
    act = ACTIVATIONS[model.activation]
    if isinstance(model, MLPNet):
        return lambda rngs: MLP(int(np.prod(shape)), n_out, widths=tuple(model.widths), activation=act,
                                zero_bias=model.zero_bias, rngs=rngs)
    if isinstance(model, CNNNet):
        return lambda rngs: CNN(shape[-1], n_out, image_size=shape[:2], channels=tuple(model.channels), activation=act,
                                pool=model.pool, zero_bias=model.zero_bias, rngs=rngs)
    if isinstance(model, ResNet18Net):
        return lambda rngs: ResNet18(shape[-1], n_out, base_width=model.base_width, groups=model.groups,
                                     block_activation=act, rngs=rngs)
    raise ValueError(f"no network builder for model '{model.name}'")


def build_network(model: MLPNet | CNNNet | ResNet18Net, data: PreparedData, root: Path) -> ClassifierProblem:
    ds = load_prepared(data.dataset, root)
    x_train, y_train = np.asarray(ds["x_train"]), np.asarray(ds["y_train"]).astype(np.int32)
    x_test, y_test = np.asarray(ds["x_test"]), np.asarray(ds["y_test"]).astype(np.int32)
    binary = model.criterion in BINARY
    if binary:
        if set(np.unique(y_train)) - {0, 1}:
            raise ValueError(f"criterion '{model.criterion}' needs a two-class dataset; '{data.dataset}' has labels {sorted(set(y_train))}")
        y_train, y_test = 2 * y_train - 1, 2 * y_test - 1  # the authors' +-1 targets
    n_out = 1 if binary else int(max(y_train.max(), y_test.max())) + 1
    problem = ClassifierProblem(_module_fn(model, x_train.shape[1:], n_out), x_train, y_train, model.criterion,
                                batch_size=model.batch_size, ghost=model.ghost, eval_data=(x_test, y_test))
    return problem if model.sharpness_iters is None else WithSharpness(problem, model.sharpness_iters)


class WithSharpness:
    """A problem whose metrics also hold ``sharpness``: the top Hessian eigenvalue of the
    full-batch training loss by Lanczos (``probes/curvature.py``), at every eval step."""

    def __init__(self, problem: ClassifierProblem, iters: int):
        self.problem, self.iters = problem, iters

    def __getattr__(self, name):
        return getattr(self.problem, name)

    def metrics(self, params) -> dict:
        f, x, _ = flatten(self.problem.loss, params, (self.problem.X, self.problem.y))
        vals, _ = top_eigenpairs(f, x, 1, "lanczos", iters=self.iters)
        return self.problem.metrics(params) | {"sharpness": vals[0]}
