"""Bad input, generated (issue 21): scenario files and sensitivity specs built from
their schemas and mutated, run through the command line as a user would run them.

Each case starts from a committed file (every scenario and design; every spec) and
applies one to three mutations of a class a careful user produces by mistake: a value
drawn from the key's own schema (often valid), a wrong type, a non-finite or
out-of-range number, a missing or unknown key, a bad scenario name, a bad encoding or a
damaged byte stream, and ``extends`` (or a spec's ``base_scenario``) running in a cycle,
to a missing file or to a binary one.

The oracle is the command line's contract, checked in a directory of its own with no
``--out`` (so that the default output path, which a scenario's name makes, is part of
what is tried):

* refused: exit 2, stderr one line ``abm: error: FILE: ...`` naming one of the case's
  files and the key (``key 'KEY'`` for a scenario, the spec's field or input for a
  spec), and nothing at all written;
* accepted: exit 0, one output directory under ``results/`` and nothing anywhere else,
  its ``summary.json`` (or ``indices.json``) strict JSON with finite numbers.

Any exception escaping ``abm.cli.main`` (a traceback for the user) fails the test.
``pytest --hypothesis-show-statistics tests/test_bad_input.py`` counts the cases of
each class and outcome (the ``event`` lines).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from abm.cli import main
from abm.scenario import DEFAULTS, DESIGN_DIR, LIMITS, NAMED_SECTIONS, SCENARIO_DIR, SECTION_SCHEMAS, Field
from abm.sensitivity import EXPERIMENT_FIELDS, INPUT_FIELDS, METHODS, MODELS, SPEC_DIR

BASE_SCENARIOS = sorted([*SCENARIO_DIR.glob("*.toml"), *DESIGN_DIR.glob("*.toml")])
BASE_SPECS = sorted(SPEC_DIR.glob("*.toml"))
TINY_SCALE = "0.002"  # 1,280 households, 81 businesses, 7 farm households
SETTINGS = settings(
    max_examples=int(os.environ.get("ABM_BAD_INPUT_EXAMPLES", "120")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _absolute_extends(content: dict[str, Any], directory: Path, key: tuple[str, str]) -> dict[str, Any]:
    """A committed file's content with its reference to another file made absolute,
    so that the copy in a directory of its own still finds it."""
    table = content.get(key[0], {})
    if isinstance(table, dict) and isinstance(table.get(key[1]), str):
        target = directory / table[key[1]]
        if target.is_file():
            table[key[1]] = str(target.resolve())
    return content


def _read(path: Path, key: tuple[str, str]) -> dict[str, Any]:
    return _absolute_extends(tomllib.loads(path.read_text()), path.parent, key)


SCENARIO_CONTENT = {p.name: _read(p, ("scenario", "extends")) for p in BASE_SCENARIOS}
SPEC_CONTENT = {p.name: _read(p, ("experiment", "base_scenario")) for p in BASE_SPECS}

# --- values ---------------------------------------------------------------------------

NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])
HUGE = st.sampled_from([1e308, 1e30, 10**20, 2**63 - 1, 10**400 // 10**300])
WRONG_TYPE = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.sampled_from(["a", "2030", "x"]), st.integers(0, 5), max_size=2),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
)
YEAR_KEYS = st.one_of(st.integers(2014, 2050).map(str), st.sampled_from(["1990", "2070", "20x0", "-1", ""]))


def schema_value(f: Field, default: Any = None) -> st.SearchStrategy[Any]:
    """A value of the kind ``f`` describes: mostly valid, near the default where there
    is one, and now and then just outside what the kind allows."""
    match f.kind:
        case "number":
            top = max(1.0, 4 * abs(default)) if isinstance(default, int | float) else 1e7
            low = -top if f.signed else 0.0
            return st.one_of(st.floats(low, top), st.just(0.0), st.floats(-top, top))
        case "integer":
            top = max(4, 3 * default) if isinstance(default, int) else 1000
            return st.one_of(st.integers(1, top), st.integers(-3, 3))
        case "year":
            return st.one_of(st.integers(2014, 2050), st.integers(1990, 2100))
        case "string":
            return st.text(max_size=12)
        case "bool":
            return st.booleans()
        case "choice":
            return st.one_of(st.sampled_from(f.choices), st.text(max_size=6))
        case "choices":
            return st.one_of(
                st.lists(st.sampled_from(f.choices), min_size=1, max_size=len(f.choices), unique=True),
                st.lists(st.text(max_size=4), max_size=2),
            )
        case "bands":
            band = st.tuples(st.floats(0, 10), st.floats(0, 12), st.floats(0, 2e5)).map(list)
            return st.lists(band, max_size=3)
        case "trajectory":
            top = max(default.values()) * 3 if isinstance(default, dict) and default else 1e4
            return st.dictionaries(YEAR_KEYS, st.floats(-1.0, max(top, 1.0)), max_size=4)
    raise AssertionError(f.kind)


def bad_value(f: Field) -> st.SearchStrategy[tuple[str, Any]]:
    """A value of the wrong type, non-finite, or out of the kind's range."""
    classes = [st.tuples(st.just("wrong type"), WRONG_TYPE)]
    if f.kind in ("number", "integer", "year", "trajectory", "bands"):
        number = st.one_of(NON_FINITE, HUGE, st.floats(-1e9, -1e-9), st.sampled_from([1.5, 2.0, -0.0]))
        if f.kind == "trajectory":
            number = st.dictionaries(YEAR_KEYS, number, min_size=1, max_size=3)
        elif f.kind == "bands":
            number = st.lists(st.lists(number, min_size=3, max_size=3), min_size=1, max_size=2)
        classes.append(st.tuples(st.just("non-finite or out of range"), number))
    return st.one_of(classes)


# --- scenario mutations -----------------------------------------------------------------

SCHEMA_KEYS = sorted(
    [(s, k) for s, table in SECTION_SCHEMAS.items() for k in table]
    + [(s, k) for s, table in NAMED_SECTIONS.items() for k in table]
)
NAMES = ["../../escaped", "", "a/b", "..", ".hidden", "名前", "x" * 300, "ok-name_1.0", "-x"]


def _default(section: str, key: str) -> Any:
    return DEFAULTS.get(section, {}).get(key)


def _table(content: dict[str, Any], draw: Any, section: str) -> dict[str, Any]:
    """The table a key of ``section`` goes into: for a named section, an entry of the
    file's or a new one."""
    node = content.setdefault(section, {})
    if not isinstance(node, dict):
        node = content[section] = {}
    if section in NAMED_SECTIONS:
        names = [*sorted(node), "new_entry"]
        name = draw(st.sampled_from(names))
        entry = node.setdefault(name, {})
        if not isinstance(entry, dict):
            entry = node[name] = {}
        return entry
    return node


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every key of a file's content (tables and the tables of a list)."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    out = [path] if path and not isinstance(path[-1], int) else []
    for k, v in children:
        out += _leaves(v, (*path, k))
    return out


@st.composite
def scenario_case(draw: Any) -> tuple[dict[str, bytes], list[str]]:
    """Files (name to bytes) with the one to run first, and the mutation classes applied."""
    base = draw(st.sampled_from(sorted(SCENARIO_CONTENT)))
    content = json.loads(json.dumps(SCENARIO_CONTENT[base]))
    files: dict[str, bytes] = {}
    applied: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["schema value", "bad value", "missing key", "unknown key", "name", "extends", "bytes"])
        )
        applied.append(kind)
        if kind in ("schema value", "bad value"):
            section, key = draw(st.sampled_from(SCHEMA_KEYS))
            schema = {**SECTION_SCHEMAS, **NAMED_SECTIONS}[section][key]
            table = _table(content, draw, section)
            if kind == "schema value":
                table[key] = draw(schema_value(schema, _default(section, key)))
            else:
                what, table[key] = draw(bad_value(schema))
                applied[-1] = what
        elif kind == "missing key":
            leaves = _leaves(content)
            if leaves:
                path = draw(st.sampled_from(leaves))
                node = content
                for part in path[:-1]:
                    node = node[part]
                del node[path[-1]]
        elif kind == "unknown key":
            section = draw(st.sampled_from([*SECTION_SCHEMAS, *NAMED_SECTIONS, "grants", "Households"]))
            table = _table(content, draw, section) if section in SECTION_SCHEMAS or section in NAMED_SECTIONS else {}
            if section not in SECTION_SCHEMAS and section not in NAMED_SECTIONS:
                content[section] = table
            table[draw(st.sampled_from(["typo", "yen_per_kW", "roof_kw_mean ", "x.y"]))] = 1.0
        elif kind == "name":
            content.setdefault("scenario", {})["name"] = draw(st.sampled_from(NAMES))
        elif kind == "extends":
            target = draw(st.sampled_from(["self", "pair", "missing", "binary", "directory"]))
            applied[-1] = f"extends: {target}"
            head = content.setdefault("scenario", {})
            if target == "self":
                head["extends"] = "case.toml"
            elif target == "pair":
                head["extends"] = "other.toml"
                files["other.toml"] = tomli_w.dumps({"scenario": {"extends": "case.toml"}}).encode()
            elif target == "missing":
                head["extends"] = "nowhere.toml"
            elif target == "binary":
                head["extends"] = "binary.toml"
                files["binary.toml"] = draw(st.binary(min_size=1, max_size=300)) + b"\xff\xfe"
            else:
                head["extends"] = "."
    text = tomli_w.dumps(content)
    data = text.encode()
    while "bytes" in applied:
        how = draw(st.sampled_from(["bom", "utf-16", "shift_jis", "insert", "truncate", "nul", "random"]))
        applied[applied.index("bytes")] = f"bytes: {how}"
        data = _damage(draw, how, text, data)
    files["case.toml"] = data
    return files, applied


def _damage(draw: Any, how: str, text: str, data: bytes) -> bytes:
    """A file's bytes as a wrong editor, a copy cut short or a binary file leaves them."""
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "utf-16":
        return text.encode("utf-16")
    if how == "shift_jis":
        return (text + "\n# 太陽光発電の補助金\n").encode("shift_jis", errors="replace")
    if how == "insert":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if how == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if how == "nul":
        return data + b"\x00"
    return draw(st.binary(max_size=400))


# --- running a case ---------------------------------------------------------------------


def _strict_json(path: Path) -> Any:
    def refuse(constant: str) -> None:
        raise AssertionError(f"{path} holds {constant}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _finite_numbers(node: Any) -> bool:
    if isinstance(node, dict):
        return all(_finite_numbers(v) for v in node.values())
    if isinstance(node, list):
        return all(_finite_numbers(v) for v in node)
    return not isinstance(node, float) or math.isfinite(node)


def _check_command(files: dict[str, bytes], argv: list[str], result_file: str, names_key: str) -> str:
    """Write ``files`` into a fresh directory, run ``abm ARGV`` there, check the
    contract, and return 'accepted' or 'refused'."""
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        for name, data in files.items():
            Path(name).write_bytes(data)
        before = set(os.listdir("."))
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
        after = set(os.listdir("."))
        stderr = err.getvalue()
        if rc == 2:
            lines = stderr.strip().splitlines()
            assert len(lines) == 1, stderr
            assert lines[0].startswith("abm: error: "), stderr
            assert any(name in lines[0] for name in files), stderr
            assert re.search(names_key, lines[0]), stderr
            assert after == before, f"refused, yet wrote {sorted(after - before)}"
            return "refused"
        assert rc == 0, f"exit {rc}: {stderr}"
        assert after - before == {"results"}, sorted(after - before)
        written = os.listdir("results")
        assert len(written) == 1, written
        result = _strict_json(Path("results", written[0], result_file))
        assert _finite_numbers(result), result
        return "accepted"


@SETTINGS
@given(scenario_case())
def test_generated_scenario_files_are_run_or_refused_in_one_line(case):
    files, applied = case
    for kind in applied:
        event(f"mutation: {kind}")
    argv = ["run", "case.toml", "--scale", TINY_SCALE, "--no-progress"]
    event(f"outcome: {_check_command(files, argv, 'summary.json', names_key=r"\.toml: key '[^']+'")}")


# --- sensitivity specs --------------------------------------------------------------------

EXPERIMENT_VALUES = {
    "name": st.one_of(st.sampled_from(NAMES), st.text(max_size=6)),
    "description": st.text(max_size=10),
    "method": st.one_of(st.sampled_from(sorted(METHODS)), st.text(max_size=5)),
    "model": st.one_of(st.sampled_from(sorted(MODELS)), st.just("town")),
    "base_scenario": st.sampled_from(["strategy", "baseline", "nowhere", "case.toml", "binary.toml", "loop.toml"]),
    "n": st.one_of(st.sampled_from([4, 8, 16, 3, 6, 0, -4, 2**40]), st.integers(-5, 100)),
    "num_levels": st.integers(-2, 9),
    "replicates": st.integers(-1, 4),
    "seed": st.integers(-3, 2**64),
    "scale": st.one_of(st.floats(-0.5, 1.5), NON_FINITE),
    "calc_second_order": st.booleans(),
    "noise_sd": st.one_of(st.floats(-1, 2), NON_FINITE),
    "noise_threshold": st.one_of(st.floats(-0.5, 1.5), NON_FINITE),
    # small, so that an accepted case's analysis within futures runs in seconds
    "futures": st.sampled_from([0, 1, 2, 3, -1]),
    "future_n": st.sampled_from([4, 6, 0]),
    "outputs": st.lists(
        st.sampled_from(sorted({o for outputs in MODELS.values() for o in outputs} | {"unknown", "y"})), max_size=3
    ),
}
SCENARIO_KEYS = sorted(
    [f"{s}.{k}" for s, table in SECTION_SCHEMAS.items() if s != "scenario" for k in table]
    + [f"subsidies.city_pv_strategy.{k}" for k in NAMED_SECTIONS["subsidies"]]
    + [f"campaigns.education.{k}" for k in NAMED_SECTIONS["campaigns"]]
    + ["subsidies.no_such_grant.yen_per_kw", "nosection.x", "households", "x1", "x2", "x3"]
)
BOUNDS = st.one_of(
    st.tuples(st.floats(-10, 1e6), st.floats(-10, 1e6)).map(list),
    st.tuples(st.integers(2010, 2060), st.integers(2010, 2060)).map(list),
    st.lists(st.one_of(NON_FINITE, HUGE, st.text(max_size=2), st.floats(0, 1)), max_size=3),
)
INPUT_VALUES = {
    "name": st.one_of(st.sampled_from(["x1", "pv_grant_yen_per_kw", "dup"]), st.text(max_size=5)),
    "key": st.sampled_from(SCENARIO_KEYS),
    "bounds": BOUNDS,
    "distribution": st.one_of(st.sampled_from(["uniform", "triangular", "truncated_normal", "lognormal"])),
    "group": st.one_of(st.sampled_from(["g", "x1", "pv_grant_yen_per_kw"]), st.text(max_size=3)),
    "integer": st.one_of(st.booleans(), st.just("yes")),
    "mode": st.one_of(st.floats(-5, 5), NON_FINITE),
    "mean": st.one_of(st.floats(-5, 5), NON_FINITE),
    "sd": st.one_of(st.floats(-1, 5), NON_FINITE),
    "kind": st.sampled_from(["measure", "uncertainty", "lever"]),
}


@st.composite
def spec_case(draw: Any) -> tuple[dict[str, bytes], list[str]]:
    """A committed spec, its city inputs cut to one to three (so that an accepted case
    runs in seconds), then mutated."""
    base = draw(st.sampled_from(sorted(SPEC_CONTENT)))
    content = json.loads(json.dumps(SPEC_CONTENT[base]))
    if len(content["inputs"]) > 3:
        content["inputs"] = content["inputs"][: draw(st.integers(1, 3))]
    if content["experiment"].get("futures"):
        content["experiment"].update(futures=2, future_n=4)
    files: dict[str, bytes] = {}
    applied: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["experiment field", "input field", "missing key", "unknown key", "extra input", "bytes"])
        )
        applied.append(kind)
        exp = content.setdefault("experiment", {})
        inputs = content.get("inputs") if isinstance(content.get("inputs"), list) else []
        if kind == "experiment field":
            field = draw(st.sampled_from(EXPERIMENT_FIELDS))
            exp[field] = draw(EXPERIMENT_VALUES[field])
            applied[-1] = f"experiment.{field}"
            if field == "base_scenario":
                _base_scenario_files(exp["base_scenario"], files, draw)
        elif kind == "input field" and inputs:
            field = draw(st.sampled_from(INPUT_FIELDS))
            draw(st.sampled_from(inputs))[field] = draw(INPUT_VALUES[field])
            applied[-1] = f"inputs.{field}"
        elif kind == "extra input":
            inputs.append({f: draw(INPUT_VALUES[f]) for f in ("name", "key", "bounds")})
            content["inputs"] = inputs
        elif kind == "missing key":
            leaves = [*_leaves(content), ("inputs",)]
            path = draw(st.sampled_from(leaves))
            node = content
            for part in path[:-1]:
                node = node[part]
            node.pop(path[-1], None)
        elif kind == "unknown key":
            where = draw(st.sampled_from(["experiment", "input", "section"]))
            if where == "experiment":
                exp["samples"] = 4
            elif where == "input" and inputs:
                draw(st.sampled_from(inputs))["bound"] = [0, 1]
            else:
                content["runs"] = {"n": 4}
    text = tomli_w.dumps(content)
    data = text.encode()
    while "bytes" in applied:
        how = draw(st.sampled_from(["bom", "utf-16", "insert", "truncate", "random"]))
        applied[applied.index("bytes")] = f"bytes: {how}"
        data = _damage(draw, how, text, data)
    files["case.toml"] = data
    return files, applied


def _base_scenario_files(name: str, files: dict[str, bytes], draw: Any) -> None:
    """The scenario files a spec's ``base_scenario`` names: a binary one, or one in a
    cycle of ``extends``."""
    if name == "binary.toml":
        files["binary.toml"] = draw(st.binary(min_size=1, max_size=200)) + b"\xff"
    elif name == "loop.toml":
        files["loop.toml"] = tomli_w.dumps({"scenario": {"extends": "loop.toml"}}).encode()


@SETTINGS
@given(spec_case())
def test_generated_sensitivity_specs_are_run_or_refused_in_one_line(case):
    files, applied = case
    for kind in applied:
        event(f"mutation: {kind}")
    argv = ["sensitivity", "case.toml", "--n", "4", "--replicates", "1", "--scale", TINY_SCALE, "--no-posterior"]
    # a spec's refusal names the field or input (a key of its base scenario when that is at fault)
    names_key = r"\.toml: (experiment\b|input|inputs|discovery|file|not |no such|unknown section|key ')"
    event(f"outcome: {_check_command(files, argv, 'summary.json', names_key)}")


# --- the limits themselves ----------------------------------------------------------------


def test_every_number_a_scenario_sets_has_a_limit_and_every_limit_a_number():
    numeric = ("number", "integer", "trajectory")
    keys = {f"{s}.{k}" for s, table in SECTION_SCHEMAS.items() for k, f in table.items() if f.kind in numeric}
    keys |= {f"{s}.{k}" for s, table in NAMED_SECTIONS.items() for k, f in table.items() if f.kind in numeric}
    assert sorted(keys - set(LIMITS)) == []
    assert sorted(set(LIMITS) - keys) == []


def test_every_default_lies_within_its_limit():
    for section, table in DEFAULTS.items():
        for key, value in table.items():
            limit = LIMITS.get(f"{section}.{key}")
            values = value.values() if isinstance(value, dict) else [value]
            if limit is not None:
                assert all(limit.low <= v <= limit.high for v in values), (section, key, value)
