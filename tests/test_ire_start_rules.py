"""IRE as the authors run it, against formulas: the enhanced step is (1 + kappa mask) times the
whole AdamW step (LR, decoupled weight decay, clipping before it), and the start rules
(step, epoch, warmup_end, train_loss_below) resolve and fire where they should."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from optdyn.optim.ire import IRELossStartState, IREState, flat_mask, ire, loss_rule_step, resolve_start
from optdyn.optim.optimizers import build_optimizer
from optdyn.spec.components import IRE, IREEpochStart, IRELossStart

LR, B1, B2, EPS, WD, CLIP = 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0


def _adamw_steps(params, grads_seq):
    """The AdamW displacements by hand: global-norm clip, Adam moments with bias correction,
    decoupled weight decay lr * wd * theta, all times the learning rate."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    out = []
    for t, g in enumerate(grads_seq, start=1):
        g = {k: np.asarray(x, np.float64) for k, x in g.items()}
        norm = np.sqrt(sum(np.sum(x**2) for x in g.values()))
        g = {k: x * min(1.0, CLIP / norm) for k, x in g.items()}
        step = {}
        for k in p:
            m[k] = B1 * m[k] + (1 - B1) * g[k]
            v2[k] = B2 * v2[k] + (1 - B2) * g[k] ** 2
            mhat, vhat = m[k] / (1 - B1**t), v2[k] / (1 - B2**t)
            step[k] = -LR * (mhat / (np.sqrt(vhat) + EPS) + WD * p[k])
        out.append(step)
    return out


def _params():
    return {"a": jnp.asarray([[0.5, -1.0, 2.0], [0.1, 0.0, -0.3]], jnp.float32), "b": jnp.asarray([1.0, -2.0], jnp.float32)}


def _adamire(kappa, gamma, h, **kw):
    spec = IRE.model_validate({"name": "ire", "kappa": kappa, "gamma": gamma, "every": 1,
                               "base": {"name": "adamw", "b1": B1, "b2": B2, "eps": EPS, "weight_decay": WD, "grad_clip": CLIP}})
    return build_optimizer(spec, optax.constant_schedule(LR), fisher_fn=lambda params, **_: h, **kw)


@pytest.mark.slow  # > 1.5 s on a shared 2-core CPU
def test_admire_step_is_one_plus_kappa_mask_times_the_whole_adamw_step():
    params = _params()
    # |h| ranks: the 4 smallest of 8 coordinates (gamma = 0.5) are a[0,0], a[1,2], b[0], a[0,2]
    h = {"a": jnp.asarray([[0.1, 5.0, 0.4], [7.0, 6.0, 0.2]]), "b": jnp.asarray([0.3, 9.0])}
    mask = {"a": np.asarray([[1, 0, 1], [0, 0, 1]], np.float64), "b": np.asarray([1, 0], np.float64)}
    np.testing.assert_array_equal(np.asarray(flat_mask(h, 0.5)["a"]), mask["a"])
    # a gradient of norm > CLIP, so clipping acts before the Adam step
    grads = {"a": 3.0 * jnp.arange(6.0).reshape(2, 3), "b": jnp.asarray([4.0, -1.0])}
    tx = _adamire(2.0, 0.5, h)
    upd, _ = jax.jit(lambda s: tx.update(grads, s, params, key=jax.random.PRNGKey(0)))(tx.init(params))
    want = _adamw_steps(params, [grads])[0]
    for k in params:  # the whole step, weight decay and clipping included, amplified on the mask
        np.testing.assert_allclose(np.asarray(upd[k]), want[k] * (1 + 2.0 * mask[k]), rtol=2e-6, atol=1e-9)


@pytest.mark.slow  # > 1.5 s on a shared 2-core CPU
def test_weight_decay_alone_is_amplified_on_the_mask():
    """With a zero gradient the AdamW step is pure decoupled decay -lr wd theta: IRE multiplies
    it by 1 + kappa on the flat coordinates (the authors' code wraps the full displacement)."""
    params = _params()
    h = {"a": jnp.arange(6.0).reshape(2, 3), "b": jnp.asarray([10.0, 11.0])}
    tx = _adamire(5.0, 0.5, h)
    upd, _ = tx.update(jax.tree.map(jnp.zeros_like, params), tx.init(params), params, key=jax.random.PRNGKey(0))
    mask = flat_mask(h, 0.5)
    for k in params:
        want = -LR * WD * np.asarray(params[k]) * (1 + 5.0 * np.asarray(mask[k]))
        np.testing.assert_allclose(np.asarray(upd[k]), want, rtol=1e-6)


def test_start_rules_resolve_to_steps():
    assert resolve_start(0) == (0, None) and resolve_start(120) == (120, None)
    assert resolve_start("warmup_end", warmup_steps=37) == (37, None)
    assert resolve_start(IREEpochStart(epoch=30), epoch_steps=14) == (420, None)
    assert resolve_start(IRELossStart(train_loss_below=0.1), epoch_steps=14) == (0, 0.1)
    with pytest.raises(ValueError, match="steps an epoch has"):
        resolve_start(IREEpochStart(epoch=3))
    spec = IRE.model_validate({"name": "ire", "kappa": 1, "gamma": 0.9, "start": {"step": 7}, "base": {"name": "sgd"}})
    assert spec.start == 7 and spec.model_dump(mode="json")["start"] == 7  # one spelling, one run id


@pytest.mark.parametrize("bad", [-1, "warmup", {"epoch": -1}, {"train_loss_below": 0}, {"epoch": 2, "step": 1}])
def test_bad_start_rules_are_refused(bad):
    with pytest.raises(ValueError):
        IRE.model_validate({"name": "ire", "kappa": 1, "gamma": 0.9, "start": bad, "base": {"name": "sgd"}})


def test_loss_rule_fires_at_the_first_epoch_whose_mean_is_below_the_threshold():
    losses = [3.0, 2.0, 1.0, 0.5, 0.4, 0.2, 0.05, 0.05, 0.5, 0.0, 0.0, 0.0]  # epochs of 3: means 2, 0.37, 0.2, 0
    step = jax.jit(lambda t, s, tot, x: loss_rule_step(t, s, tot, x, 0.25, 3))
    start, total, fired_at = jnp.asarray(-1), jnp.asarray(0.0), []
    for t, x in enumerate(losses):
        start, total = step(jnp.asarray(t), start, total, jnp.asarray(x))
        fired_at.append(int(start))
    # epoch 2 (steps 6-8, mean 0.2) is the first below 0.25: IRE from step 9, and it stays fired
    assert fired_at == [-1] * 8 + [9, 9, 9, 9]
    assert float(total) == 0.0  # the sum restarts at every epoch boundary


@pytest.mark.slow  # > 1.5 s on a shared 2-core CPU
def test_loss_rule_transform_stays_the_base_until_it_fires_then_refreshes_every_k():
    calls = []

    def fisher(params, **_):
        jax.debug.callback(lambda: calls.append(1))
        return {"w": jnp.asarray([1.0, 2.0, 3.0, 4.0])}

    base = optax.sgd(0.1)
    tx = ire(base, 1.0, 0.5, every=2, fisher_fn=fisher, loss_below=1.0, epoch_steps=2)
    params = {"w": jnp.ones(4)}
    state = tx.init(params)
    assert isinstance(state, IRELossStartState)
    assert isinstance(ire(base, 1.0, 0.5, fisher_fn=fisher).init(params), IREState)  # fixed starts keep their layout
    g = {"w": jnp.ones(4)}
    ratios = []
    for t, loss in enumerate([2.0, 2.0, 0.5, 0.5, 9.0, 9.0, 9.0]):  # epoch 1 (steps 2-3) has mean 0.5 < 1
        upd, state = jax.jit(lambda s, x: tx.update(g, s, params, loss=x))(state, jnp.asarray(loss))
        jax.effects_barrier()
        ratios.append(np.asarray(upd["w"]) / -0.1)
    assert int(state.start) == 4  # and a later high loss does not un-fire it
    for r in ratios[:4]:
        np.testing.assert_array_equal(r, np.ones(4))  # bit-identical to SGD before
    for r in ratios[4:]:
        np.testing.assert_allclose(r, [2.0, 2.0, 1.0, 1.0])  # the two flattest enhanced
    assert len(calls) == 2  # refreshes at steps 4 and 6 only


def test_loss_rule_needs_the_loss():
    tx = ire(optax.sgd(0.1), 1.0, 0.5, fisher_fn=lambda p, **_: p, loss_below=1.0, epoch_steps=2)
    params = {"w": jnp.ones(2)}
    with pytest.raises(ValueError, match="loss="):
        tx.update(params, tx.init(params), params)


@pytest.mark.slow  # > 1.5 s on a shared 2-core CPU
def test_warmup_end_starts_ire_where_the_schedules_warmup_ends(x64):
    import json

    from optdyn.spec.paper import RunSpec
    from optdyn.train.trainer import Trainer

    raw = {"model": {"name": "ire_valley", "flat_dims": 3, "init_v": 0.3}, "dtype": "float64", "steps": 8, "progress": False,
           "schedule": {"name": "constant", "lr": 0.1, "warmup_steps": 3},
           "optimizer": {"name": "ire", "kappa": 4.0, "gamma": 0.75, "every": 2, "start": "warmup_end", "base": {"name": "sgd"}}}
    trainer = Trainer(RunSpec.model_validate_json(json.dumps(raw)))
    _, logged = trainer.advance(trainer.init_state(), 8)
    np.testing.assert_array_equal(logged["ire_flat_fraction"], [0, 0, 0] + [0.75] * 5)


def test_steps_per_epoch_of_each_kind_of_problem():
    from types import SimpleNamespace as NS

    from optdyn.train.trainer import steps_per_epoch

    assert steps_per_epoch(NS(steps_per_epoch=14)) == 14  # a problem's own
    assert steps_per_epoch(NS(n=1797, batch_size=128)) == 15  # a classifier: ceil(n / batch), the last batch short
    assert steps_per_epoch(NS(n=1797, batch_size=None)) == 1  # full batch
    assert steps_per_epoch(NS(n_train=896, batch_size=8, seq_len=16)) == 7  # a language model: tokens / tokens per step
    assert steps_per_epoch(NS()) is None
