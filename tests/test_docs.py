"""The documents hold: their links and images resolve, and their runnable commands run.

A fenced block whose info string is ``sh runnable`` is a set of commands a reader is
meant to type. The blocks of one document run in order, each in its own
``bash -euo pipefail``, in a scratch directory holding a copy of ``experiments/`` (so
that a design file a guide writes stays there) and the project's other folders read
only; ``results/reference`` is the committed one. Each ``abm`` command is run at a
small scale: ``--scale 0.01``, at most 2 replicates and workers, and for the
sensitivity and discovery commands a few base points and futures, one replicate. Everything else runs
as written.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = sorted(
    {
        ROOT / "README.md",
        *ROOT.glob("docs/**/*.md"),
        *ROOT.glob("calibration/**/*.md"),
        *ROOT.glob("abm/**/*.md"),
        *ROOT.glob("experiments/**/*.md"),
        *ROOT.glob("results/reference/**/*.md"),
    }
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.S | re.M)
SCALED = ("run", "compare", "sensitivity", "discover")
# what each subcommand's options become in the test, beyond --scale
SMALL = {
    "compare": {"--replicates": "2"},
    "run": {},
    "sensitivity": {"--n": "4", "--replicates": "1", "--futures": "0"},
    "discover": {"--futures": "16", "--replicates": "1"},
}


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _outside_code(text: str) -> str:
    """The text without fenced blocks or inline code, where links are not links."""
    text = FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def links(document: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(_outside_code(document.read_text(encoding="utf-8")))]


def runnable_blocks(document: Path) -> list[str]:
    return [
        m.group(2) for m in FENCE.finditer(document.read_text(encoding="utf-8")) if m.group(1).strip() == "sh runnable"
    ]


def small(command: str) -> str:
    """A command line with its ``abm`` commands at the test's scale, the rest as it is."""
    parts = re.split(r"(\s(?:\|\||&&|\||;)\s)", command)
    return "".join(_small_abm(part) if i % 2 == 0 else part for i, part in enumerate(parts))


def _small_abm(command: str) -> str:
    words = shlex.split(command, comments=True)
    at = next((i for i, w in enumerate(words[:-1]) if w == "abm" and words[i + 1] in SCALED), None)
    if at is None:
        return command
    subcommand = words[at + 1]
    options = {"--scale": "0.01", **SMALL[subcommand]}
    out, i = words[: at + 2], at + 2
    while i < len(words):
        word = words[i]
        name, _, inline = word.partition("=")
        if name in options or name == "--future-n":
            i += 1 if inline else 2
            continue
        if name in ("--replicates", "--workers"):
            value = inline or words[i + 1]
            out += [name, str(min(int(value), 2))]
            i += 1 if inline else 2
            continue
        out.append(word)
        i += 1
    for name, value in options.items():
        out += [name, value]
    return shlex.join(out)


def _commands(block: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line for line in joined.splitlines() if line.strip()]


def _scratch(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(ROOT / "experiments", work / "experiments")
    for name in ("abm", "calibration", "docs", "benchmarks", "README.md", "pyproject.toml", "Makefile"):
        (work / name).symlink_to(ROOT / name)
    (work / "results").mkdir()
    (work / "results" / "reference").symlink_to(ROOT / "results" / "reference")
    return work


@pytest.mark.parametrize("document", DOCUMENTS, ids=_relative)
def test_links_and_images_resolve(document):
    missing = []
    for target in links(document):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or a heading of the same page
        path = (document.parent / target.split("#")[0]).resolve()
        if not path.exists():
            missing.append(target)
    assert missing == [], f"{_relative(document)} links to what is not there"


def test_the_documents_that_must_be_there_are():
    names = {_relative(d) for d in DOCUMENTS}
    for name in (
        "docs/ODD.md",
        "docs/guide-policy.ja.md",
        "docs/guide-policy.en.md",
        "docs/guide-research.md",
        "docs/guide-workshop.ja.md",
        "docs/guide-workshop.en.md",
    ):
        assert name in names


WITH_COMMANDS = [d for d in DOCUMENTS if runnable_blocks(d)]


@pytest.mark.slow
@pytest.mark.parametrize("document", WITH_COMMANDS, ids=_relative)
def test_runnable_commands_run_as_written(document, tmp_path):
    work = _scratch(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for block in runnable_blocks(document):
        script = "\n".join(small(line) for line in _commands(block))
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"{_relative(document)}:\n{script}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"


def test_guides_have_commands_that_the_tests_run():
    assert {_relative(d) for d in WITH_COMMANDS} >= {
        "docs/guide-policy.ja.md",
        "docs/guide-policy.en.md",
        "docs/guide-research.md",
    }


def test_the_main_job_of_the_readme_is_a_command_the_tests_run():
    """``make report`` (the README's first command; ``make test`` is what CI runs) runs a
    command that a runnable block holds."""
    recipe = re.search(r"^report:.*\n\t(.+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    command = recipe.replace("$(VENV)/bin/", "")
    assert command.startswith("abm run strategy")
    assert any(command in _commands(block) for d in WITH_COMMANDS for block in runnable_blocks(d))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make report" in readme and "make test" in readme


@pytest.mark.parametrize(
    ("written", "run"),
    [
        ("abm run strategy --replicates 4 --workers 2", "abm run strategy --replicates 2 --workers 2 --scale 0.01"),
        ("abm compare a b --scale 0.05 --lang en", "abm compare a b --lang en --scale 0.01 --replicates 2"),
        (
            "abm sensitivity strategy_sobol --n 128 --futures 8 --future-n 16",
            "abm sensitivity strategy_sobol --scale 0.01 --n 4 --replicates 1 --futures 0",
        ),
        ("abm dashboard --port 8080", "abm dashboard --port 8080"),
        (
            "timeout -s INT 20 abm run strategy --out x || true",
            "timeout -s INT 20 abm run strategy --out x --scale 0.01 || true",
        ),
        ("cp experiments/designs/a.toml b.toml", "cp experiments/designs/a.toml b.toml"),
    ],
)
def test_commands_are_run_small(written, run):
    assert small(written) == run
