"""The temporary workspace and the four assertions every hostile-input test makes
(``test_hostile_inputs.py``, ``test_hostile_data.py``)."""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from optdyn import cli

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent



# --- the temporary workspace ----------------------------------------------------------------------


@dataclass
class Ws:
    root: Path
    config: Path
    results: Path
    resources: Path

    def file(self, which: str) -> Path:
        if which == "config":
            return self.config
        if which == "data":
            return self.config.parent / "data.yaml"
        return self.config.parent / "papers" / f"{which}.yaml"

    def snapshot(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*")}

    def edit(self, which: str, fn: Callable[[dict], None]) -> None:
        doc = yaml.safe_load(self.file(which).read_text())
        fn(doc)
        self.file(which).write_text(yaml.safe_dump(doc, sort_keys=False, width=1000))


def _workspace(root: Path, papers: list[str]) -> Ws:
    shutil.copytree(ROOT / "config", root / "config")
    ws = Ws(root, root / "config" / "config.yaml", root / "out_results", root / "out_resources")
    ws.config.write_text(f"tier: tiny\npapers: [{', '.join(papers)}]\nresults: {ws.results}\nresources: {ws.resources}\n")
    return ws


@pytest.fixture
def ws(tmp_path: Path, monkeypatch) -> Ws:
    monkeypatch.chdir(tmp_path)  # a payload's relative `touch PWNED` would land here
    return _workspace(tmp_path, ["latedecay"])


def _pwned(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if "PWNED" in p.name]


def _check(ws: Ws, before: set[str], rc: int, err: str, file: Path | str | None = None,
           fragments: tuple[str, ...] = ()) -> str:
    """The four properties of a refusal; returns the message."""
    lines = err.splitlines()
    assert rc == 2, f"exit code {rc}, stderr:\n{err}"
    assert len(lines) == 1, f"stderr is not one line:\n{err}"
    msg = lines[0]
    assert msg.startswith("optdyn: error: "), msg
    if file is not None:
        assert msg.startswith(f"optdyn: error: {file}: "), f"does not blame {file}: {msg}"
    for frag in fragments:
        assert frag in msg, f"{frag!r} not in: {msg}"
    assert not ws.results.exists() and not ws.resources.exists(), "results/ or resources/ was created"
    assert ws.snapshot() == before, f"files were written: {sorted(ws.snapshot() ^ before)}"
    assert not _pwned(ws.root), "a payload ran"
    return msg


def _main(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    return rc, capsys.readouterr().err


def _validate(ws: Ws, capsys, *extra: str) -> tuple[set[str], int, str]:
    before = ws.snapshot()
    rc, err = _main(capsys, "validate", "--config", str(ws.config), *extra)
    return before, rc, err


