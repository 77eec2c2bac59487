"""The Containerfile of the Kubernetes profile's image, checked without building it.

Building needs the base image ``python:3.11-slim`` from a registry, which the test machines cannot
reach; so these tests check what can be checked offline (docs/cluster.md lists what is not):
the file parses (FROM first, known instructions, no ENTRYPOINT/CMD), every COPY source exists and
is not excluded by .dockerignore, its pip install is the README's install command (pinned by
requirements.lock), and the image the Kubernetes profile names is documented as built from it.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path

import yaml

REPO = Path(__file__).parents[1]
CONTAINERFILE = REPO / "Containerfile"
K8S_PROFILE = REPO / "workflow" / "profiles" / "kubernetes" / "config.yaml"
DOCS = REPO / "docs" / "cluster.md"
INSTRUCTIONS = {
    "FROM", "RUN", "CMD", "LABEL", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
    "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
}
# pip options that change how, not what, is installed
HARMLESS_PIP_FLAGS = {"--no-cache-dir", "-q", "--quiet", "--disable-pip-version-check"}


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction: comments dropped, continuation lines joined."""
    out, buf = [], ""
    for line in text.splitlines():
        if not buf and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            buf += line.rstrip()[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    assert not buf, f"dangling line continuation: {buf!r}"
    return out


def _pip_install_args(command: str) -> list[str]:
    """The arguments after ``pip install`` in a shell command line (``a && b && pip install ...``)."""
    for part in re.split(r"&&|;|\|\|", command):
        words = shlex.split(part)
        for i in range(len(words) - 1):
            if re.fullmatch(r"(.*/)?pip[\d.]*", words[i]) and words[i + 1] == "install":
                return words[i + 2 :]
            if words[i : i + 3] == ["-m", "pip", "install"]:
                return words[i + 3 :]
    raise AssertionError(f"no pip install in {command!r}")


def _readme_install_command() -> str:
    """The first command of the README's set-up (the first shell line that installs the package)."""
    in_block = False
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block and "pip install" in line and not line.lstrip().startswith("#"):
            return line.split("#")[0].strip()
    raise AssertionError("README.md has no pip install command in a code block")


def _normalize(args: list[str]) -> tuple[list[str], str | None]:
    """pip install arguments without harmless flags; the constraints file apart."""
    kept, constraints, it = [], None, iter(args)
    for a in it:
        if a in HARMLESS_PIP_FLAGS:
            continue
        if a in ("-c", "--constraint"):
            constraints = next(it)
        elif a.startswith("--constraint="):
            constraints = a.split("=", 1)[1]
        else:
            kept.append(a)
    return kept, constraints


def _split_extras(req: str) -> tuple[str, set[str]]:
    m = re.fullmatch(r"(.*?)(?:\[([^\]]*)\])?", req)
    return m.group(1), {e.strip() for e in (m.group(2) or "").split(",") if e.strip()}


def test_containerfile_parses():
    ins = _instructions(CONTAINERFILE.read_text())
    assert ins, "empty Containerfile"
    assert ins[0][0] == "FROM", f"first instruction is {ins[0][0]}, not FROM"
    assert [w for w, _ in ins if w not in INSTRUCTIONS] == []
    base = ins[0][1].split()[0]
    assert re.fullmatch(r"(docker\.io/(library/)?)?python:3\.11-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base), base
    words = [w for w, _ in ins]
    # Snakemake's Kubernetes executor gives each pod its command (/bin/sh -c "python -m snakemake ...")
    assert "ENTRYPOINT" not in words and "CMD" not in words
    assert "WORKDIR" in words


def _dockerignore() -> list[str]:
    f = REPO / ".dockerignore"
    if not f.exists():
        return []
    return [p.strip() for p in f.read_text().splitlines() if p.strip() and not p.startswith("#")]


def test_every_copy_source_exists_and_is_in_the_build_context():
    ignored = _dockerignore()
    copies = [args for w, args in _instructions(CONTAINERFILE.read_text()) if w in ("COPY", "ADD")]
    assert copies, "nothing is copied into the image"
    for args in copies:
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        assert len(words) >= 2, args
        for src in words[:-1]:
            assert (REPO / src).exists(), f"COPY source {src} does not exist in the repository"
            for pat in ignored:
                assert not fnmatch.fnmatch(src.rstrip("/"), pat.lstrip("/").rstrip("/")), f".dockerignore excludes {src}"


def test_pip_install_is_the_readmes_install_command():
    runs = [args for w, args in _instructions(CONTAINERFILE.read_text()) if w == "RUN" and "pip install" in args]
    assert len(runs) == 1, runs
    ours, constraints = _normalize(_pip_install_args(runs[0]))
    readme, _ = _normalize(_pip_install_args(_readme_install_command()))
    # the lock, where the repository has one, pins every dependency of the image
    if (REPO / "requirements.lock").exists():
        assert constraints == "requirements.lock", f"pip install in Containerfile is not pinned: {runs[0]}"
        copied = " ".join(a for w, a in _instructions(CONTAINERFILE.read_text()) if w == "COPY")
        assert "requirements.lock" in copied
    # same options (-e) and the same project; the image adds the [cluster] extra, because every
    # pod runs Snakemake with the `fs` storage provider, which is a plugin of that extra
    assert [a for a in ours if a.startswith("-")] == [a for a in readme if a.startswith("-")], (ours, readme)
    (target,) = [a for a in ours if not a.startswith("-")]
    (readme_target,) = [a for a in readme if not a.startswith("-")]
    base, extras = _split_extras(target)
    readme_base, readme_extras = _split_extras(readme_target)
    assert base == readme_base, (target, readme_target)
    assert extras - readme_extras <= {"cluster"}, extras
    if extras:
        pyproject = (REPO / "pyproject.toml").read_text()
        cluster = re.search(r"^cluster\s*=\s*\[(.*?)\]", pyproject, re.M | re.S).group(1)
        assert "snakemake-storage-plugin-fs" in cluster


def test_profile_image_is_documented_as_built_from_the_containerfile():
    image = yaml.safe_load(K8S_PROFILE.read_text())["container-image"]
    build = re.compile(rf"build\b.*-f Containerfile\b.*-t {re.escape(image)}(\s|$)")
    for doc in (CONTAINERFILE, K8S_PROFILE, DOCS):
        assert any(build.search(line) for line in doc.read_text().splitlines()), (
            f"{doc.relative_to(REPO)} has no `build -f Containerfile -t {image}` line"
        )
