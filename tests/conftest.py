"""Shared fixtures: the project's scenarios, scenario files written in a temporary
directory, one small model run of the strategy shared by the model tests, and one
headless browser for the tests of pages (Playwright runs one per thread, so every
module shares this one)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from abm.scenario import SCENARIO_DIR, Scenario, load_scenario

BASELINE = SCENARIO_DIR / "baseline.toml"
HISTORY = SCENARIO_DIR / "history.toml"
STRATEGY = SCENARIO_DIR / "strategy.toml"


@pytest.fixture(scope="session")
def baseline() -> Scenario:
    return load_scenario(BASELINE)


@pytest.fixture(scope="session")
def history() -> Scenario:
    return load_scenario(HISTORY)


@pytest.fixture(scope="session")
def strategy() -> Scenario:
    return load_scenario(STRATEGY)


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a scenario file into ``tmp_path/scenarios`` and return its path.

    ``extends`` paths in the text may be absolute (they are joined to the file's
    directory, and an absolute path wins the join).
    """
    directory = tmp_path / "scenarios"
    directory.mkdir()

    def write(name: str, text: str) -> Path:
        path = directory / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from abm.browser import launch

    with launch() as browser:
        yield browser
