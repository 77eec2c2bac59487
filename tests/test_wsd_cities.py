"""WSD Sec. 4: the per-city name-loss probe against hand-built models whose cross-entropy is known
in closed form, against the LM engine's own token losses, and the figure's statistics."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from scipy.special import log_softmax

from optdyn.data.prepare import prepare
from optdyn.figures.wsd.cities import paired, sec4_values
from optdyn.probes import cities
from optdyn.probes.cities import city_name_losses, pair_contexts
from optdyn.spec.paper import RunSpec
from optdyn.spec.probes import CityLoss
from optdyn.theory.bigram import entropy, make_language
from optdyn.train.results import RunResult
from optdyn.train.trainer import Trainer

N_DET, N_STO, M = 4, 3, 5
N = N_DET + N_STO
V = N + M


@pytest.fixture(scope="module")
def language():
    return make_language(N_DET, N_STO, M, seed=3)


def _stream(n_pairs: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, N, n_pairs), N + rng.integers(0, M, n_pairs)], axis=1).reshape(-1)


def test_pair_contexts_are_whole_pairs_of_the_stream():
    stream = _stream(200)
    ctx = pair_contexts(stream, N, count=5, length=6)
    assert ctx.shape == (5, 6) and ctx.dtype == np.int32
    assert np.all(ctx[:, 0::2] < N) and np.all(ctx[:, 1::2] >= N)
    starts = [next(s for s in range(0, len(stream) - 5, 2) if np.array_equal(stream[s : s + 6], c)) for c in ctx]
    assert starts[0] == 0 and len(set(starts)) == 5 and starts[-1] >= len(stream) - 12
    with pytest.raises(ValueError, match="even"):
        pair_contexts(stream, N, 5, 7)
    with pytest.raises(ValueError, match="city, name"):
        pair_contexts(stream[1:], N, 5, 6)  # starts with a name: not pair-aligned


def test_bigram_table_model_gives_the_closed_form_cross_entropy(language):
    """A model whose logits at each position are a row of a table indexed by the current token:
    the name loss after city i is -sum_j P_ij log softmax(W_i)_(n+j), whatever the context,
    and at W_i = log P_i on the names (-inf elsewhere) it is the city's entropy."""
    P, _ = language
    W = np.random.default_rng(1).normal(size=(V, V))
    logits_fn = lambda params, tokens: params["W"][tokens]
    ctx = pair_contexts(_stream(100), N, count=3, length=4)
    # batch 6 with 3 contexts: 2 cities per pass, 7 cities = 3 full passes + 1 padded
    out = city_name_losses(logits_fn, {"W": jnp.asarray(W, jnp.float32)}, P, ctx, batch=6)
    want = -np.sum(P * log_softmax(W[:N], axis=1)[:, N:], axis=1)
    assert out["loss"].shape == (N, 3)
    np.testing.assert_allclose(out["loss"], np.repeat(want[:, None], 3, 1), rtol=1e-5)
    mass = np.exp(log_softmax(W[:N], axis=1)[:, N:]).sum(1)
    np.testing.assert_allclose(out["name_mass"], np.repeat(mass[:, None], 3, 1), rtol=1e-5)

    optimum = np.full((V, V), -1e4)
    optimum[:N, N:] = np.log(P)
    best = city_name_losses(logits_fn, {"W": jnp.asarray(optimum, jnp.float32)}, P, ctx, batch=6)
    np.testing.assert_allclose(best["loss"].mean(1), entropy(P), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(best["name_mass"], 1.0, rtol=1e-5)


def test_the_prediction_is_read_after_the_city_in_each_context(language):
    """Logits that depend on the first token of the sequence too: each context gives its own
    loss, and the one read is the position of the appended city."""
    P, _ = language
    rng = np.random.default_rng(2)
    W, U = rng.normal(size=(V, V)), rng.normal(size=(V, V))
    logits_fn = lambda p, t: p["W"][t] + p["U"][t[:, :1]]
    ctx = pair_contexts(_stream(100, seed=5), N, count=4, length=6)
    out = city_name_losses(logits_fn, {"W": jnp.asarray(W, jnp.float32), "U": jnp.asarray(U, jnp.float32)}, P, ctx, batch=64)
    for c, first in enumerate(ctx[:, 0]):
        want = -np.sum(P * log_softmax(W[:N] + U[first], axis=1)[:, N:], axis=1)
        np.testing.assert_allclose(out["loss"][:, c], want, rtol=1e-5)
    assert np.ptp(out["loss"], axis=1).min() > 1e-3  # the contexts really differ


@pytest.fixture(scope="module")
def cities_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cities")
    prepare("tiny_cities", "bigram", {"n_det": N_DET, "n_sto": N_STO, "m": M, "train_pairs": 500, "val_pairs": 200,
                                      "seed": 3}, root / "resources" / "data")
    return root


def _gpt_run_spec() -> RunSpec:
    return RunSpec.model_validate_json(json.dumps({
        "model": {"name": "gpt2", "hidden": 16, "intermediate": 32, "layers": 1, "heads": 2, "seq_len": 9, "batch_size": 4,
                  "eval_windows": 2},
        "data": {"name": "prepared", "dataset": "tiny_cities"}, "optimizer": {"name": "adamw"},
        "schedule": {"name": "constant", "lr": 1e-3}, "steps": 1, "progress": False}))


@pytest.mark.slow  # > 1.5 s: kept out of the fast unit run (pytest -m 'not slow')
def test_probe_of_a_gpt_run_equals_the_engines_token_losses(cities_root, monkeypatch):
    """city_loss end to end on a random GPT-2 (its prepared dataset, default context length
    seq_len - 1 rounded down to whole pairs): each city's value is sum_j P_ij times the engine's
    own next-token loss (LMProblem.token_losses) of the sequence context + [city, name_j],
    averaged over the contexts."""
    monkeypatch.chdir(cities_root)
    spec = _gpt_run_spec()
    trainer = Trainer(spec)
    params = trainer.problem.init(jax.random.PRNGKey(7))
    monkeypatch.setattr(cities, "params_at", lambda run, steps, tr: {s: params for s in steps})
    run = RunResult("gpt2-test", spec, {"status": "completed", "steps": 1}, pd.DataFrame(), cities_root / "run")
    table = cities.city_loss(run, CityLoss(kind="city_loss", run="r", contexts=3))
    assert list(table["city"]) == list(range(N)) and table["context_len"].iloc[0] == 8
    P, is_det = make_language(N_DET, N_STO, M, seed=3)
    np.testing.assert_array_equal(table["is_det"], is_det)
    np.testing.assert_allclose(table["entropy"], entropy(P))

    val = np.fromfile(cities_root / "resources" / "data" / "tiny_cities" / "val.bin", dtype=np.uint16)
    ctx = pair_contexts(val, N, 3, 8)
    want = np.zeros(N)
    for i in range(N):
        seqs = np.array([np.concatenate([c, [i, N + j]]) for c in ctx for j in range(M)], dtype=np.int32)
        last = np.asarray(trainer.problem.token_losses(params, jnp.asarray(seqs)))[:, -1].reshape(len(ctx), M)
        want[i] = np.mean(last @ P[i])
    np.testing.assert_allclose(table["loss"], want, rtol=2e-5)
    np.testing.assert_allclose(table["excess"], want - entropy(P), rtol=1e-4, atol=1e-6)
    assert np.all(table["excess"] > 0)  # a random model is no better than the truth


def test_probe_refuses_a_dataset_without_a_language(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prepare("tokens", "markov", {"vocab": 8, "train_tokens": 200, "val_tokens": 50}, tmp_path / "resources" / "data")
    spec = _gpt_run_spec().model_copy(update={"data": _gpt_run_spec().data.model_copy(update={"dataset": "tokens"})})
    run = RunResult("gpt2-test", spec, {"status": "completed"}, pd.DataFrame(), tmp_path)
    with pytest.raises(ValueError, match="bigram dataset"):
        cities.city_loss(run, CityLoss(kind="city_loss", run="r"))


def test_probe_reads_the_runs_own_data_folder_not_the_default(tmp_path, monkeypatch):
    """A workflow with ``--config resources=...`` hands the probe its data folder: the probe must
    read the dataset there (a cold build outside the repository found it reading resources/data)."""
    monkeypatch.chdir(tmp_path)  # no resources/data here
    root = tmp_path / "elsewhere" / "data"
    prepare("tokens", "markov", {"vocab": 8, "train_tokens": 200, "val_tokens": 50}, root)
    spec = _gpt_run_spec().model_copy(update={"data": _gpt_run_spec().data.model_copy(update={"dataset": "tokens"})})
    run = RunResult("gpt2-test", spec, {"status": "completed"}, pd.DataFrame(), tmp_path, root)
    with pytest.raises(ValueError, match="bigram dataset"):  # found, then refused as no bigram language
        cities.city_loss(run, CityLoss(kind="city_loss", run="r"))


def _probe_frame(loss: np.ndarray, H: np.ndarray, is_det: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"city": np.arange(len(H)), "is_det": is_det, "entropy": H, "gini": H / 2, "loss": loss,
                         "step": 10})


def test_figure_statistics_on_known_differences():
    rng = np.random.default_rng(0)
    H = np.concatenate([rng.uniform(0.0, 0.2, 50), rng.uniform(1.0, 2.3, 50)])
    is_det = np.arange(100) < 50
    decay = H + 0.05
    stable = decay + np.where(is_det, -0.01, 0.03) + 1e-3 * H  # diff increasing in H: rho = 1
    v = sec4_values(paired(_probe_frame(stable, H, is_det), _probe_frame(decay, H, is_det)))
    assert v["spearman_rho"] == pytest.approx(1.0) and v["spearman_pvalue"] < 1e-10
    assert v["det_loss_stable_minus_decay"] == pytest.approx(-0.01 + 1e-3 * H[:50].mean())
    assert v["sto_loss_stable_minus_decay"] == pytest.approx(0.03 + 1e-3 * H[50:].mean())
    assert v["mean_loss_decay"]["stochastic"] == pytest.approx(decay[50:].mean())
    # a difference unrelated to the entropy: no correlation to speak of
    noise = decay + rng.normal(0, 0.01, 100)
    assert abs(sec4_values(paired(_probe_frame(noise, H, is_det), _probe_frame(decay, H, is_det)))["spearman_rho"]) < 0.3


def test_figure_refuses_probes_of_different_languages():
    H, is_det = np.linspace(0, 2, 6), np.arange(6) < 3
    with pytest.raises(ValueError, match="different languages"):
        paired(_probe_frame(H, H, is_det), _probe_frame(H, H + 0.1, is_det))
