"""The committed JSON Schemas (workflow/schemas/*.json) against the typed spec and the configs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from snakemake.utils import validate

from optdyn.spec.load import load_plan
from optdyn.spec.schema import check_schemas
from optdyn.spec.yamlio import load_yaml

REPO = Path(__file__).parents[1]
BIN = Path(sys.executable).parent
SCHEMAS = REPO / "workflow" / "schemas"
CONFIG_SCHEMA = SCHEMAS / "config.schema.json"
PAPER_SCHEMA = SCHEMAS / "paper.schema.json"


def _optdyn(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    exe = BIN / "optdyn"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "optdyn.cli"]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    return subprocess.run([*cmd, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def _paper_validator() -> jsonschema.Validator:
    schema = json.loads(PAPER_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def test_committed_schemas_are_up_to_date():
    assert check_schemas(SCHEMAS) == []


def test_optdyn_schema_check_mode_exits_0():
    proc = _optdyn("schema")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_optdyn_schema_check_mode_flags_a_stale_schema(tmp_path):
    d = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, d)
    (d / "paper.schema.json").write_text("{}\n")
    assert check_schemas(d) == [d / "paper.schema.json"]
    proc = _optdyn("schema", "--dir", str(d))
    assert proc.returncode != 0
    assert "paper.schema.json" in proc.stdout + proc.stderr


def test_config_yaml_validates():
    cfg = dict(load_yaml(REPO / "config" / "config.yaml"))
    validate(cfg, str(CONFIG_SCHEMA))
    assert cfg["tier"] in ("tiny", "smoke", "paper")


@pytest.mark.parametrize("tier", ["tiny", "smoke", "paper"])
def test_config_schema_accepts_every_tier(tier):
    validate({"tier": tier, "papers": ["wsd"]}, str(CONFIG_SCHEMA))


@pytest.mark.parametrize(
    "bad",
    [
        {"tier": "huge", "papers": ["wsd"]},
        {"tier": "tiny", "papers": []},
        {"tier": "tiny"},
        {"tier": "tiny", "papers": ["wsd"], "typo_key": 1},
    ],
    ids=["unknown_tier", "no_papers", "papers_missing", "unknown_key"],
)
def test_config_schema_rejects(bad):
    with pytest.raises(Exception, match=r"(?s)validat"):
        validate(bad, str(CONFIG_SCHEMA))


def test_paper_yaml_validates_against_paper_schema():
    doc = load_yaml(REPO / "config" / "papers" / "wsd.yaml")
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in _paper_validator().iter_errors(doc)]
    assert errors == []


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d.update(bogus=1),
        lambda d: d.pop("figures"),
        lambda d: d["figures"]["fig03"]["runs"]["gd"]["schedule"].update(lr="fast"),
        lambda d: d["figures"]["fig03"]["runs"]["gd"]["schedule"].update(name="nope"),
        lambda d: d["figures"]["fig04"]["claims"][0].update(check={"at_leest": 0.0}),
    ],
    ids=["unknown_top_key", "no_figures", "lr_not_a_number", "unknown_schedule", "unknown_check"],
)
def test_paper_schema_rejects_broken_files(edit):
    doc = load_yaml(REPO / "config" / "papers" / "wsd.yaml")
    edit(doc)
    assert list(_paper_validator().iter_errors(doc)), "the paper schema accepted a broken file"


def test_paper_schema_accepts_runs_that_extend_a_preset(tmp_path):
    (tmp_path / "papers").mkdir()
    shutil.copy2(REPO / "config" / "config.yaml", tmp_path / "config.yaml")
    shutil.copy2(REPO / "config" / "data.yaml", tmp_path / "data.yaml")  # the LM runs name its datasets
    text = (REPO / "config" / "papers" / "wsd.yaml").read_text()
    anchor = "      gd:\n"
    assert text.count(anchor) == 1
    text = text.replace(anchor, anchor + "        extends: adam_levanter\n")
    (tmp_path / "papers" / "wsd.yaml").write_text(text)
    plan = load_plan(tmp_path / "config.yaml", tier="tiny", papers=["wsd"])  # the loader accepts it
    gd = plan.runs[plan.figures["wsd_fig03"].runs["gd"]].spec
    assert gd.optimizer.name == "adamw"
    doc = load_yaml(tmp_path / "papers" / "wsd.yaml")
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in _paper_validator().iter_errors(doc)]
    assert errors == []


def test_config_schema_rejects_an_unknown_tier_by_name():
    with pytest.raises(Exception) as exc:
        validate({"tier": "huge", "papers": ["wsd"]}, str(CONFIG_SCHEMA))
    assert "'huge' is not one of" in str(exc.value)
