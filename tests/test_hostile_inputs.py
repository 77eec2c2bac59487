"""Hostile and mistaken input: every case must be refused before any job starts.

Each case breaks one thing in a temporary copy of ``config/`` (or hands the CLI a bad argument,
a malicious CIFAR pickle or a corrupted prepared dataset) and asserts the same four properties:

1. exit code 2;
2. exactly one line on stderr, ``optdyn: error: <file>: ...`` naming the file to blame;
3. nothing written: the tree of the temporary folder is the same file for file afterwards
   (so the config's ``results/`` and ``resources/`` folders were never created);
4. nothing executed: no ``PWNED`` file appears (every payload here would ``touch`` one).

The cheap cases call ``optdyn.cli.main`` in-process (the console script is ``sys.exit(main())``);
a few go through the ``optdyn`` executable and a real ``snakemake`` (marked slow).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest


ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


from hostile_helpers import ROOT, VENV_BIN, Ws, _check, _main, _pwned, _validate, _workspace, ws  # noqa: E402,F401  (sibling module)


# --- 1. the YAML loader, in every kind of config file ----------------------------------------------

_LOL = "".join(f"lol_{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))

#: id -> (bytes appended to the file, or a function of its bytes; a fragment of the message)
YAML_CASES: dict[str, tuple[bytes | Callable[[bytes], bytes], str]] = {
    "alias_bomb": (("lol_a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + _LOL).encode(), "alias"),
    "deep_sequence": (b"deep: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "nesting deeper than"),
    "deep_mapping": (b"deep: " + b"{a: " * 100_000 + b"1" + b"}" * 100_000 + b"\n", "nesting deeper than"),
    "invalid_utf8": (b"bad: \"\xff\xfe\"\n", "UTF-8"),
    "latin1_text": (b"title2: caf\xe9\n", "UTF-8"),
    "utf16_file": (lambda text: text.decode().encode("utf-16"), "UTF-8"),
    "nul_byte": (b"nul: \x00\n", "unacceptable character"),
    "sequence_key": (b"? [a, b]\n: 1\n", "keys must be"),
    "mapping_key": (b"? {a: 1}\n: 1\n", "keys must be"),
    "integer_key": (b"1: one\n", "keys must be names"),
    "float_key": (b"1.5: x\n", "keys must be names"),
    "bool_key": (b"yes: 1\n", "keys must be names"),
    "null_key": (b"~: 1\n", "keys must be names"),
    "inf": (b"big: .inf\n", "finite"),
    "nan": (b"big: [1, .nan]\n", "finite"),
    "overflow_1e400": (b"big: {x: -1e400}\n", "finite"),
    "int_5000_digits": (b"big: " + b"9" * 5000 + b"\n", "64 bits"),
    "recursive_alias": (b"loop: &loop [*loop]\n", "refer to themselves"),
    "python_tag": (b"x: !!python/object/apply:os.system ['touch PWNED']\n", "could not determine a constructor"),
    "two_documents": (b"---\nx: 1\n", "another document"),
}


@pytest.mark.parametrize("which", ["config", "data", "latedecay"])
@pytest.mark.parametrize("case", YAML_CASES, ids=list(YAML_CASES))
def test_hostile_yaml(ws: Ws, capsys, which: str, case: str) -> None:
    change, fragment = YAML_CASES[case]
    path = ws.file(which)
    raw = path.read_bytes()
    path.write_bytes(change(raw) if callable(change) else raw + b"\n" + change)
    before, rc, err = _validate(ws, capsys)
    _check(ws, before, rc, err, path, (fragment,))


def test_yaml_cases_are_quick(ws: Ws, capsys) -> None:
    """Bounded time: the bomb and the 100,000-deep nesting are refused without expanding them."""
    import time

    for case in ("alias_bomb", "deep_sequence", "deep_mapping"):
        ws.config.write_bytes(ws.config.read_bytes() + YAML_CASES[case][0])
        t = time.perf_counter()
        rc, err = _validate(ws, capsys)[1:]
        assert rc == 2 and time.perf_counter() - t < 1.0, (case, err)
        ws.config.write_text(f"tier: tiny\npapers: [latedecay]\nresults: {ws.results}\nresources: {ws.resources}\n")


# --- 2. values: paths, seeds, sizes, names -------------------------------------------------------

INJECTIONS = ["r;touch PWNED;echo", "$(touch PWNED)", "`touch PWNED`", "r && touch PWNED", "r | tee PWNED",
              "r > PWNED", "my results", "it's", "-rf", "r\ntouch PWNED", "", "r*"]


@pytest.mark.parametrize("key", ["results", "resources", "data"])
@pytest.mark.parametrize("value", INJECTIONS, ids=[f"inj{i}" for i in range(len(INJECTIONS))])
def test_config_path_refused(ws: Ws, capsys, key: str, value: str) -> None:
    ws.edit("config", lambda c: c.__setitem__(key, value))
    before, rc, err = _validate(ws, capsys)
    _check(ws, before, rc, err, ws.config, (f"{key}: got ", "letters, digits"))


def _run(fig: str, name: str, key: str, value) -> Callable[[dict], None]:
    def edit(doc: dict) -> None:
        run = doc["figures"][fig]["runs"][name]
        if "." in key:
            block, sub = key.split(".")
            run[block] = dict(run.get(block) or {}, **{sub: value})
        else:
            run[key] = value
    return edit


@dataclass
class ValueCase:
    id: str
    paper: str
    edit: Callable[[dict], None]
    fragments: tuple[str, ...]


VALUE_CASES = [
    ValueCase("seed_negative", "latedecay", _run("fig04", "phase2_g1", "seed", -1), ("seed: got -1", "greater than or equal to 0")),
    ValueCase("seed_2_32", "latedecay", _run("fig04", "phase2_g1", "seed", 2**32), ("seed: got 4294967296", "4294967295")),
    ValueCase("seed_2_64", "latedecay", _run("fig04", "phase2_g1", "seed", 2**64), ("64 bits",)),
    ValueCase("steps_1e15", "latedecay", _run("fig04", "phase2_g1", "steps", 10**15), ("steps: got 1000000000000000", "int32")),
    ValueCase("replicas_1e12", "latedecay", _run("fig04", "phase2_g1", "model.replicas", 10**12), ("of memory", "at most 2.0 TiB")),
    # (a billion examples of the tiny tier's 64-wide MLP would still fit 2 TiB; ten billion do not)
    ValueCase("batch_1e10", "selfstab",
              lambda d: d["tiers"]["tiny"]["figures.fig01.runs"]["value"]["lr_0p1"].__setitem__("model", {"batch_size": 10**10}),
              ("figures.fig01.runs.lr_0p1: got '~", "TiB of memory", "batch_size")),
    ValueCase("batch_1e12_lm", "wsd", _run("fig01", "wsd", "model.batch_size", 10**12), ("of memory",)),
    ValueCase("lr_inf", "latedecay", _run("fig04", "phase2_g1", "schedule.lr", float("inf")), ("schedule.lr: got '.inf'", "finite")),
    ValueCase("lr_nan", "latedecay", _run("fig04", "phase2_g1", "schedule.lr", float("nan")), ("schedule.lr: got '.nan'", "finite")),
    ValueCase("plot_unknown_run_list", "latedecay",
              lambda d: d["figures"]["fig04"]["plot"]["collapse_runs"].append("nope"), ("plot.collapse_runs[", "got 'nope'", "no such run")),
    ValueCase("plot_unknown_run_field", "selfstab",
              lambda d: d["figures"]["fig06"]["plot"].__setitem__("inverse_sharpness_run", "nope"),
              ("fig06.plot.inverse_sharpness_run: got 'nope'", "no such run")),
    ValueCase("plot_unknown_run_series", "normsharp",
              lambda d: d["tiers"]["tiny"]["figures.fig06.plot.series"]["value"].append("n999"),  # the tier's value
              ("fig06.plot.series[", "got 'n999'", "no such run")),
    ValueCase("no_figures", "latedecay", lambda d: d.__setitem__("figures", {}), ("figures: got {}", "at least one figure")),
    ValueCase("figure_key_with_newline", "latedecay",
              lambda d: d["figures"].__setitem__("fig\nPWNED", d["figures"]["fig03"]), ("fig\\nPWNED",)),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c.id for c in VALUE_CASES])
def test_value_refused(tmp_path: Path, monkeypatch, capsys, case: ValueCase) -> None:
    monkeypatch.chdir(tmp_path)
    ws = _workspace(tmp_path, [case.paper])
    ws.edit(case.paper, case.edit)
    before, rc, err = _validate(ws, capsys)
    _check(ws, before, rc, err, ws.file(case.paper), case.fragments)


#: id -> (edit of the paper's text, fragments); keys PyYAML would turn into ints or bools
TEXT_CASES = {
    "figure_keyed_1": (lambda t: t.replace("\nfigures:\n", "\nfigures:\n  1: {title: x}\n", 1), ("figures.1: got 1", "quote it")),
    "tier_override_keyed_1": (lambda t: t + "\ntiers:\n  tiny:\n    1: {value: 1, reason: because}\n", ("tiers.tiny.1: got 1",)),
    "tier_keyed_true": (lambda t: t + "\ntiers:\n  on: {}\n", ("tiers.on: got true",)),
}


def without_tiers(text: str) -> str:
    """The paper's text less its top-level ``tiers:`` block (up to the next top-level key)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("tiers:"):
            skipping = True
            continue
        if skipping and line.strip() and not line[0].isspace() and not line.startswith("#"):
            skipping = False
        if not skipping:
            out.append(line)
    return "".join(out)


@pytest.mark.parametrize("case", TEXT_CASES, ids=list(TEXT_CASES))
def test_key_refused(ws: Ws, capsys, case: str) -> None:
    edit, fragments = TEXT_CASES[case]
    paper = ws.file("latedecay")
    text = without_tiers(paper.read_text())  # the cases bring their own `tiers:` block
    assert "\nfigures:\n" in text and "\ntiers:" not in text  # test setup
    paper.write_text(edit(text))
    before, rc, err = _validate(ws, capsys)
    _check(ws, before, rc, err, paper, fragments)


CONFIG_CASES = {
    "paper_twice": ("papers: [latedecay, latedecay]", ("papers: got", "listed twice: latedecay")),
    "unknown_paper": ("papers: [latedecay, nope]", ("papers[1]: got 'nope'", "unknown paper")),
    "data_missing_file": ("data: nope.yaml", ("data: got 'nope.yaml'", "no such file")),
    "data_is_a_folder": ("data: papers", ("data: got 'papers'", "no such file")),
    "top_level_list": (None, ("expected a mapping",)),
    "unknown_key": ("reslts: x", ("unknown key 'reslts'",)),
}


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_config_refused(ws: Ws, capsys, case: str) -> None:
    line, fragments = CONFIG_CASES[case]
    text = ws.config.read_text()
    if line is None:
        ws.config.write_text("- tier: tiny\n")
    else:
        key = line.split(":")[0]
        text = re.sub(rf"^{key}:.*\n", "", text, flags=re.M)
        ws.config.write_text(text + line + "\n")
    before, rc, err = _validate(ws, capsys)
    _check(ws, before, rc, err, ws.config, fragments)


# --- 3. the CLI's own arguments ----------------------------------------------------------------

CLI_CASES = {
    "results_injection": (["--results", "r;touch PWNED"], ("results: got 'r;touch PWNED'", "command line")),
    "resources_injection": (["--resources", "$(touch PWNED)"], ("resources: got '$(touch PWNED)'", "command line")),
    "data_injection": (["--data", "d.yaml;touch PWNED"], ("data: got", "command line")),
    "data_wrong_path": (["--data", "nope.yaml"], ("data: got 'nope.yaml'", "no such file")),
    "papers_twice": (["--papers", "latedecay,latedecay"], ("listed twice",)),
}


@pytest.mark.parametrize("case", CLI_CASES, ids=list(CLI_CASES))
def test_cli_override_refused(ws: Ws, capsys, case: str) -> None:
    extra, fragments = CLI_CASES[case]
    before, rc, err = _validate(ws, capsys, *extra)
    _check(ws, before, rc, err, ws.config, fragments)


def test_cli_overrides_are_honoured(ws: Ws, capsys) -> None:
    from optdyn.spec.load import load_plan

    plan = load_plan(ws.config, overrides={"results": "elsewhere", "resources": "res2"})
    assert plan.tier_dir == Path("elsewhere/tiny") and plan.data_root == Path("res2/data")
    rc, err = _main(capsys, "validate", "--config", str(ws.config), "--results", "elsewhere")
    assert rc == 0, err
    assert not Path("elsewhere").exists()


@pytest.mark.parametrize("kind,key", [("runs", "nope-nope-000000000000"), ("data", "nope"), ("probes", "x"), ("figures", "latedecay_fig99")])
def test_cli_spec_unknown_key(ws: Ws, capsys, kind: str, key: str) -> None:
    before = ws.snapshot()
    rc, err = _main(capsys, "spec", kind, key, "--config", str(ws.config), "--out", str(ws.root / "spec.json"))
    _check(ws, before, rc, err, None, (key,))


@pytest.mark.parametrize("what", ["directory", "fifo", "missing"])
def test_cli_config_not_a_file(ws: Ws, capsys, what: str) -> None:
    target = ws.root / "cfg"
    if what == "directory":
        target.mkdir()
    elif what == "fifo":
        os.mkfifo(target)  # reading it would block for ever
    before = ws.snapshot()
    rc, err = _main(capsys, "validate", "--config", str(target))
    _check(ws, before, rc, err, target, ())


@pytest.mark.parametrize("content", ["{bad", "[]", '{"kind": "runs"}', "\xff"])
def test_cli_train_bad_spec_file(ws: Ws, capsys, content: str) -> None:
    spec = ws.root / "spec.json"
    spec.write_text(content, encoding="latin-1")
    before = ws.snapshot()
    rc, err = _main(capsys, "train", str(spec), "--out", str(ws.results / "run" / "status.json"))
    _check(ws, before, rc, err, spec, ())


# --- 6. the workflow: quoting, and the same refusals through the executable and snakemake ------


def test_every_rule_shell_parameter_is_quoted() -> None:
    """Every ``{...}`` in a rule's shell line is ``{...:q}``; ``{ARGS}`` is shell-quoted by the
    Snakefile (shlex), so a path from config.yaml can never add a command."""
    rules = sorted((ROOT / "workflow" / "rules").glob("*.smk"))
    shells = [line for f in rules for line in f.read_text().splitlines() if line.strip().startswith('"optdyn ')]
    assert len(shells) == 7, shells
    for line in shells:
        fields = re.findall(r"\{([^{}]+)\}", line)
        assert fields, line
        for f in fields:
            assert f == "ARGS" or f.endswith(":q"), f"unquoted {{{f}}} in: {line.strip()}"
    snakefile = (ROOT / "Snakefile").read_text()
    assert re.search(r"^ARGS = shlex\.join\(", snakefile, flags=re.M), "ARGS is not built with shlex"


def _env() -> dict:
    return dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def test_cli_executable_exit_code(ws: Ws) -> None:
    ws.edit("config", lambda c: c.__setitem__("results", "r;touch PWNED;echo"))
    before = ws.snapshot()
    exe = VENV_BIN / "optdyn"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "optdyn.cli"]
    proc = subprocess.run([*cmd, "plan", "--config", str(ws.config)], capture_output=True, text=True,
                          env=_env(), cwd=ws.root, timeout=60)
    _check(ws, before, proc.returncode, proc.stderr, ws.config, ("results: got",))


def _snakemake_ws(root: Path) -> Ws:
    shutil.copy2(ROOT / "Snakefile", root / "Snakefile")
    shutil.copytree(ROOT / "workflow", root / "workflow")
    return _workspace(root, ["latedecay"])


def _snakemake(ws: Ws, *args: str) -> subprocess.CompletedProcess:
    exe = VENV_BIN / "snakemake"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=_env(), cwd=ws.root, timeout=120)


SNAKEMAKE_CASES = {
    # a real run, not a dry run: the injection must not execute
    "results_injection_run": (lambda ws: ws.edit("config", lambda c: c.__setitem__("results", "r;touch PWNED;echo")),
                              ("-c1",), "config", ("results: got 'r;touch PWNED;echo'",)),
    "alias_bomb_config": (lambda ws: ws.config.write_bytes(ws.config.read_bytes() + YAML_CASES["alias_bomb"][0]),
                          ("-n", "-c1"), "config", ("alias",)),
    "bad_tier_config": (lambda ws: ws.edit("config", lambda c: c.__setitem__("tier", "huge")), ("-n", "-c1"), "config",
                        ("tier: got 'huge'",)),
    "config_results_injection": (None, ("-c1", "--config", "results=r;touch PWNED"), "config", ("command line",)),
    "config_unknown_key": (None, ("-n", "-c1", "--config", "reslts=x"), "config", ("unknown key 'reslts'",)),
    "config_wrong_data": (None, ("-n", "-c1", "--config", "data=nope.yaml"), "config", ("data: got 'nope.yaml'",)),
    "paper_unknown_plot_run": (lambda ws: ws.edit("latedecay", lambda d: d["figures"]["fig04"]["plot"]["collapse_runs"].append("nope")),
                               ("-n", "-c1"), "latedecay", ("no such run",)),
}


@pytest.mark.slow  # ~2 s each: a snakemake start
@pytest.mark.parametrize("case", SNAKEMAKE_CASES, ids=list(SNAKEMAKE_CASES))
def test_snakemake_refuses_in_one_line(tmp_path: Path, case: str) -> None:
    setup, args, blamed, fragments = SNAKEMAKE_CASES[case]
    ws = _snakemake_ws(tmp_path)
    if setup is not None:
        setup(ws)
    before = ws.snapshot()
    proc = _snakemake(ws, *args)
    assert proc.stdout.strip() == "", proc.stdout
    # Snakemake's own bookkeeping folder may appear; nothing else may
    after = {p for p in ws.snapshot() if not p.startswith(".snakemake")}
    assert after == before, sorted(after ^ before)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    file = "config/config.yaml" if blamed == "config" else f"config/papers/{blamed}.yaml"
    assert lines[0].startswith(f"optdyn: error: {file}: "), lines[0]
    assert all(f in lines[0] for f in fragments), lines[0]
    assert not _pwned(tmp_path) and not ws.results.exists() and not ws.resources.exists()


@pytest.mark.slow  # ~2 s: a snakemake start
def test_the_default_profile_adds_only_snakemakes_own_notice(tmp_path: Path) -> None:
    """The README's main command names the default profile; Snakemake then prints which profile
    it uses before anything else, and the refusal is still our one line, with nothing written."""
    ws = _snakemake_ws(tmp_path)
    ws.edit("config", lambda c: c.__setitem__("tier", "huge"))
    before = ws.snapshot()
    proc = _snakemake(ws, "--profile", "workflow/profiles/default")
    assert proc.stdout.strip() == "", proc.stdout
    assert {p for p in ws.snapshot() if not p.startswith(".snakemake")} == before
    notice, *errors = proc.stderr.splitlines()
    assert proc.returncode == 2 and notice.startswith("Using profile workflow/profiles/default"), proc.stderr
    assert len(errors) == 1 and errors[0].startswith("optdyn: error: config/config.yaml: tier: got 'huge'"), proc.stderr


@pytest.mark.slow
def test_snakemake_honours_config_paths(tmp_path: Path) -> None:
    ws = _snakemake_ws(tmp_path)
    proc = _snakemake(ws, "-n", "-p", "-c1", "latedecay_fig03", "--config", "results=elsewhere", "resources=res2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "elsewhere/tiny/specs/" in proc.stdout and "--results elsewhere --resources res2" in proc.stdout
    assert str(ws.results) not in proc.stdout
