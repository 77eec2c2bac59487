"""Hostile data: malicious CIFAR pickles and corrupted prepared datasets are refused in one
line, exit code 2, without running anything (the same assertions as ``test_hostile_inputs.py``)."""

from __future__ import annotations

import os
import pickle
import shutil
import sys
from pathlib import Path

import pytest

from optdyn import cli
from optdyn.data import images
from optdyn.data.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


from hostile_helpers import ROOT, _main, _workspace  # noqa: E402  (sibling module)


# --- 4. CIFAR pickles ----------------------------------------------------------------------------


class _Payload:
    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return self.fn, (self.arg,)


def _payloads(marker: Path) -> dict[str, object]:
    import builtins
    import subprocess as sp

    cmd = f"touch {marker}"
    return {
        "os_system": _Payload(os.system, cmd),
        "eval": _Payload(builtins.eval, f"__import__('os').system({cmd!r})"),
        "exec": _Payload(builtins.exec, f"open({str(marker)!r}, 'w').close()"),
        "subprocess": _Payload(sp.call, ["touch", str(marker)]),
        "nested_pickle": _Payload(pickle.loads, pickle.dumps(_Payload(os.system, cmd))),
        "in_a_batch": {b"data": _Payload(os.system, cmd), b"labels": []},
    }


def test_payloads_would_run_with_plain_pickle(tmp_path: Path) -> None:
    """The control: these payloads do run under pickle.load, which the reader used to call."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_payloads(marker)["os_system"]))
    assert marker.exists()


@pytest.mark.parametrize("payload", ["os_system", "eval", "exec", "subprocess", "nested_pickle", "in_a_batch"])
@pytest.mark.parametrize("member", ["batches.meta", "data_batch_1"])
def test_malicious_cifar_pickle_is_refused(tmp_path: Path, monkeypatch, payload: str, member: str) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"c"] * 10}))
    (d / member).write_bytes(pickle.dumps(_payloads(marker)[payload]))
    with pytest.raises(DataError) as info:
        images.read_cifar(d)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(f"{d}: CIFAR member {member}: got "), msg
    assert "a pickle that calls" in msg, msg
    assert not marker.exists(), "the pickle's payload ran"


def test_malicious_cifar_through_the_data_job(tmp_path: Path, monkeypatch, capsys) -> None:
    from optdyn.spec.jobs import write_job_spec
    from optdyn.spec.load import load_plan

    monkeypatch.chdir(tmp_path)
    ws = _workspace(tmp_path, ["latedecay"])
    marker = tmp_path / "PWNED"
    src = tmp_path / "cifar-10-batches-py"
    src.mkdir()
    (src / "batches.meta").write_bytes(pickle.dumps(_payloads(marker)["os_system"]))
    ws.file("data").write_text(f"datasets:\n  evil: {{kind: cifar10, source: {src}, rule: all}}\n")
    spec = tmp_path / "evil.json"
    write_job_spec(load_plan(ws.config), "data", "evil", spec)
    before = ws.snapshot()
    rc, err = _main(capsys, "data", str(spec), "--out", str(tmp_path / "prepared" / "evil"))
    assert rc == 2 and len(err.splitlines()) == 1 and "a pickle that calls posix.system" in err, err
    assert not marker.exists()
    assert not [p for p in ws.snapshot() - before if (tmp_path / p).is_file()], "a file was written"


# --- 5. a corrupted prepared dataset fails the train job in one line -------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    from optdyn.spec.jobs import write_job_spec
    from optdyn.spec.load import load_plan

    root = tmp_path_factory.mktemp("prepared")
    plan = load_plan(ROOT / "config" / "config.yaml", tier="tiny", papers=["selfstab"])
    rid = next(r for r, run in plan.runs.items() if run.dataset and run.spec.data.dataset.startswith("digits"))
    name = plan.runs[rid].spec.data.dataset
    write_job_spec(plan, "runs", rid, root / "run.json")
    write_job_spec(plan, "data", name, root / "data.json")
    assert cli.main(["data", str(root / "data.json"), "--out", str(root / "clean" / name)]) == 0
    return root, name


def _truncate(d: Path) -> None:
    f = d / "x_train.npy"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _flip(d: Path) -> None:
    f = d / "y_train.npy"
    raw = bytearray(f.read_bytes())
    raw[-1] ^= 0xFF
    f.write_bytes(bytes(raw))


@pytest.mark.slow  # the train job imports JAX
@pytest.mark.parametrize("damage", [_truncate, _flip, lambda d: (d / "manifest.json").write_text("{"),
                                    lambda d: (d / "manifest.json").unlink()],
                         ids=["truncated", "corrupted", "bad_manifest", "no_manifest"])
def test_corrupted_dataset_fails_train_in_one_line(prepared, tmp_path: Path, capsys, damage) -> None:
    root, name = prepared
    data = tmp_path / name
    shutil.copytree(root / "clean" / name, data)
    damage(data)
    capsys.readouterr()
    rc = cli.main(["train", str(root / "run.json"), "--out", str(tmp_path / "run" / "status.json"),
                   "--data", str(data), "--work", str(tmp_path / "work")])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"optdyn: error: {data}/"), err
    assert not (tmp_path / "run" / "status.json").exists() and not (tmp_path / "run" / "metrics.parquet").exists()


