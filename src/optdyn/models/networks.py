"""Networks on prepared datasets as ``ClassifierProblem``s: the spec (``spec/components.py``)
picks the architecture and loss, the dataset comes only through its verified manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flax import nnx

from optdyn.curvature import flatten, top_eigenpairs
from optdyn.data.prepare import load_prepared
from optdyn.registry import problem_builder
from optdyn.spec.components import CNNNet, MLPNet, PreparedData, ResNet18Net, TransformerNet

from .classifier import ClassifierProblem
from .losses import BINARY
from .nets import CNN, MLP, ResNet18, Transformer

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


def _transformer_fn(model: TransformerNet, ds, n_out: int):
    info = ds.meta.get("info", {})
    if "vocab_size" not in info:
        raise ValueError(f"model 'transformer' needs a token dataset with a vocab_size; '{ds.name}' has none")
    act = ACTIVATIONS[model.activation]
    return lambda rngs: Transformer(int(info["vocab_size"]), n_out, hidden=model.hidden, heads=model.heads,
                                    layers=model.layers, ffn=model.ffn, max_positions=model.max_positions,
                                    activation=act, mask_padding=model.mask_padding,
                                    pad_token_id=int(info.get("pad_id", 0)), head_zero_init=model.head_zero_init,
                                    rngs=rngs)


def _inputs(model, ds, split: str) -> np.ndarray:
    key = f"tokens_{split}" if isinstance(model, TransformerNet) else f"x_{split}"
    if key not in ds.arrays:
        kind = "token" if key.startswith("tokens") else "image/feature"
        raise ValueError(f"model '{model.name}' needs a {kind} dataset with '{key}'; '{ds.name}' has {sorted(ds.arrays)}")
    return np.asarray(ds[key])


@problem_builder(MLPNet, CNNNet, ResNet18Net, TransformerNet)
def build_network(model: MLPNet | CNNNet | ResNet18Net | TransformerNet, data: PreparedData, root: Path, *,
                  dtype=np.float32) -> ClassifierProblem:
    ds = load_prepared(data.dataset, root)
    x_train, y_train = _inputs(model, ds, "train"), np.asarray(ds["y_train"]).astype(np.int32)
    x_test, y_test = _inputs(model, ds, "test"), np.asarray(ds["y_test"]).astype(np.int32)
    binary = model.criterion in BINARY
    if binary:
        if set(np.unique(y_train)) - {0, 1}:
            raise ValueError(f"criterion '{model.criterion}' needs a two-class dataset; '{data.dataset}' has labels {sorted(set(y_train))}")
        y_train, y_test = 2 * y_train - 1, 2 * y_test - 1  # the authors' +-1 targets
    n_out = 1 if binary else int(max(y_train.max(), y_test.max())) + 1
    module_fn = _transformer_fn(model, ds, n_out) if isinstance(model, TransformerNet) else \
        _module_fn(model, x_train.shape[1:], n_out)
    problem = NetworkProblem(module_fn, x_train, y_train, model.criterion,
                                batch_size=model.batch_size, ghost=model.ghost, eval_data=(x_test, y_test), dtype=dtype)
    return problem if model.sharpness_iters is None else WithSharpness(problem, model.sharpness_iters)


class NetworkProblem(ClassifierProblem):
    """A ``ClassifierProblem`` with the optional ``sharpness`` member of ``models/base.py``."""

    def sharpness(self, params, *, examples: int | None = None, iters: int = 20):
        """Top Hessian eigenvalue (Lanczos, ``iters`` HVPs from a fixed start) of the training
        loss on the first ``examples`` training examples (all when None or more than n), as the
        authors' 1/S rule measures it on the first 1000 (catalog 004 sec. 2, Fig. 6). Jittable."""
        n = self.n if examples is None else min(examples, self.n)
        chunks = self.ghost if n % self.ghost == 0 else 1
        f, x, _ = flatten(lambda p, b: self._over_chunks(self.criterion, p, *b, chunks), params, (self.X[:n], self.y[:n]))
        vals, _ = top_eigenpairs(f, x, 1, "lanczos", iters=iters)
        return vals[0]


class WithSharpness:
    """A problem whose metrics also hold ``sharpness``: the top Hessian eigenvalue of the
    full-batch training loss by Lanczos (``optdyn.curvature``), at every eval step."""

    def __init__(self, problem: ClassifierProblem, iters: int):
        self.problem, self.iters = problem, iters

    def __getattr__(self, name):
        return getattr(self.problem, name)

    def metrics(self, params) -> dict:
        f, x, _ = flatten(self.problem.loss, params, (self.problem.X, self.problem.y))
        vals, _ = top_eigenpairs(f, x, 1, "lanczos", iters=self.iters)
        return self.problem.metrics(params) | {"sharpness": vals[0]}
