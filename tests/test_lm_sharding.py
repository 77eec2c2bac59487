"""Data-parallel + FSDP sharding (train/sharding.py): a sharded training step equals the
unsharded one, on 4 simulated CPU devices in a subprocess (the device count is fixed when JAX
starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from jax.sharding import PartitionSpec as P

from optdyn.train.sharding import fsdp_spec


def test_fsdp_splits_the_largest_divisible_axis():
    assert fsdp_spec((32, 64), 2) == P(None, "fsdp")
    assert fsdp_spec((64, 32), 2) == P("fsdp", None)
    assert fsdp_spec((6, 4), 4) == P(None, "fsdp")  # 6 is larger but not divisible
    assert fsdp_spec((3,), 2) == P() and fsdp_spec((), 2) == P() and fsdp_spec((64, 64), 1) == P()


SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import jax, numpy as np
    from optdyn.data.prepare import prepare
    from optdyn.spec.paper import RunSpec
    from optdyn.train.trainer import Trainer

    root = Path(sys.argv[1])
    prepare("lm", "markov", {"vocab": 32, "train_tokens": 20000, "val_tokens": 2000}, root)
    model = {"name": "llama", "hidden": 32, "intermediate": 64, "layers": 1, "heads": 2, "seq_len": 16,
             "batch_size": 16, "eval_windows": 8}

    def trainer(**extra):
        raw = {"model": model | extra, "data": {"name": "prepared", "dataset": "lm"},
               "optimizer": {"name": "adamw", "weight_decay": 0.1, "grad_clip": 1.0},
               "schedule": {"name": "constant", "lr": 1e-2}, "steps": 5, "progress": False}
        return Trainer(RunSpec.model_validate_json(json.dumps(raw)), root)

    out = {"devices": jax.device_count()}
    runs = {"single": trainer(), "dp_fsdp": trainer(mesh={"data": 2, "fsdp": 2}),
            "fsdp_accum": trainer(mesh={"data": 1, "fsdp": 4}, microbatches=2)}
    for name, tr in runs.items():
        state = tr.init_state()
        kernel = state["params"]["layers"][0]["mlp"]["up_proj"]["kernel"]
        out[name + "_spec"] = str(kernel.sharding.spec) if hasattr(kernel.sharding, "spec") else "single"
        out[name + "_shard_shape"] = list(kernel.addressable_shards[0].data.shape)
        state, logged = tr.advance(state, 5)
        out[name + "_loss"] = [float(x) for x in logged["batch_loss"]]
        out[name + "_params"] = [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(state["params"])]
        out[name + "_out_spec"] = str(state["params"]["layers"][0]["mlp"]["up_proj"]["kernel"].sharding.spec) if name != "single" else "single"
    print("RESULT" + json.dumps(out))
""")


@pytest.mark.slow
def test_sharded_training_equals_unsharded_training(tmp_path):
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT", 1)[1])
    assert out["devices"] == 4
    # up_proj [32, 64]: its 64 columns split over the fsdp axis, each device holding a quarter or half
    assert out["dp_fsdp_spec"] == "P(None, 'fsdp')" and out["dp_fsdp_shard_shape"] == [32, 32]
    assert out["fsdp_accum_shard_shape"] == [32, 16]
    assert out["dp_fsdp_out_spec"] == out["dp_fsdp_spec"]  # the step keeps the layout
    for name in ("dp_fsdp", "fsdp_accum"):
        assert out[name + "_loss"] == pytest.approx(out["single_loss"], rel=1e-5)
        for a, b in zip(out[name + "_params"], out["single_params"]):
            assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
