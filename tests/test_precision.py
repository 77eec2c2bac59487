"""Precision is explicit: only ``optdyn/precision.py`` touches the x64 switch (once, at process
start); everything else takes its dtype as an argument."""

from __future__ import annotations

import io
import json
import tokenize
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import optdyn
from optdyn.precision import configure_process, needs_x64
from optdyn.spec.paper import RunSpec
from optdyn.spec.probes import HessianSpectrum
from optdyn.train.trainer import Trainer

SRC = Path(optdyn.__file__).parent


def _switch_uses(path: Path) -> list[int]:
    """Lines where code (not prose: comments and docstrings are skipped) names the switch:
    ``jax.config.jax_enable_x64`` or the config key string "jax_enable_x64"."""
    lines = []
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if tok.type == tokenize.NAME and tok.string == "jax_enable_x64":
            lines.append(tok.start[0])
        elif tok.type == tokenize.STRING and tok.string.strip("'\"rbuRBU") == "jax_enable_x64":
            lines.append(tok.start[0])
    return lines


def test_only_precision_py_touches_jax_enable_x64():
    offenders = {str(p.relative_to(SRC)): lines for p in sorted(SRC.rglob("*.py"))
                 if p.name != "precision.py" or p.parent != SRC
                 for lines in [_switch_uses(p)] if lines}
    assert offenders == {}, f"jax_enable_x64 is configured once, in optdyn/precision.py; also used in {offenders}"
    assert _switch_uses(SRC / "precision.py")  # the grep finds the one place it is used


def _spec(dtype: str) -> RunSpec:
    return RunSpec.model_validate_json(json.dumps({
        "model": {"name": "river2d", "replicas": 3, "init_box": [[0.0, 3.0], [-2.0, 2.0]], "noise_sigma": 1.0},
        "schedule": {"name": "cosine", "peak_lr": 0.05, "total_steps": 20, "warmup_steps": 3}, "steps": 20,
        "optimizer": {"name": "sgd", "momentum": 0.9}, "dtype": dtype, "progress": False}))


def test_needs_x64_from_the_runs_and_the_probe():
    assert not needs_x64([_spec("float32")])
    assert needs_x64([_spec("float32"), _spec("float64")])
    probe = HessianSpectrum.model_validate({"kind": "hessian_spectrum", "run": "rv"})
    assert not needs_x64([_spec("float32")], probe)
    assert needs_x64([_spec("float32")], probe.model_copy(update={"dtype": "float64"}))


def test_a_float64_run_without_x64_is_refused():
    with pytest.raises(RuntimeError, match="configure_process"):
        Trainer(_spec("float64"))


def test_a_float32_run_is_the_same_in_a_process_configured_for_float64(x64):
    """The run's dtype, not the switch, decides: bit for bit the float32 trajectory of a float32
    process (the case of a probe that needs float64 reading a float32 run)."""
    def trajectory():
        trainer = Trainer(_spec("float32"))
        state, logged = trainer.advance(trainer.init_state(), 20)
        return np.asarray(state["params"]), logged

    on, logged_on = trajectory()
    configure_process(False)
    off, logged_off = trajectory()
    assert on.dtype == off.dtype == np.float32
    np.testing.assert_array_equal(on, off)
    for k in logged_off:
        np.testing.assert_array_equal(logged_on[k], logged_off[k])
    configure_process(True)
    assert jnp.asarray(1.0, jnp.float64).dtype == jnp.float64 and jax.config.jax_enable_x64
