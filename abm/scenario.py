"""Scenario files: load, resolve ``extends`` chains, validate, and look up keys.

A scenario is a TOML file. Its ``[scenario]`` table names it and may say which file
it ``extends``; the rest are sections whose keys override the scenario it extends,
table by table, so a file that changes one grant is a few lines. Every scenario
implicitly extends ``abm/data/defaults.toml``, which defines the model's constants
and their types. Policy sections (tariffs, subsidy programmes, campaigns, measures)
are defined by the schemas below.

Bad input stops with a :class:`ScenarioError` naming the file, the key and what was
expected, before anything is run or written.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abm.clock import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR
from abm.pdca import INDICATORS, RAISABLE

DEFAULTS_PATH = Path(__file__).parent / "data" / "defaults.toml"
LIMITS_PATH = Path(__file__).parent / "data" / "limits.toml"
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "experiments" / "scenarios"
DESIGN_DIR = SCENARIO_DIR.parent / "designs"  # subsidy designs for ``abm compare``

TECHNOLOGIES = ("pv", "ppa", "zeh", "ev", "solar_sharing", "battery", "v2h")
AGENT_TYPES = ("households", "businesses", "farmers")
LEVELS = ("national", "prefecture", "city")
ELIGIBILITY = ("any", "existing", "new_build", "large_emitters")


class ScenarioError(ValueError):
    """A scenario file is wrong: which file, which key, what was expected."""

    def __init__(self, file: str | Path, key: str, expected: str, got: Any = None):
        self.file, self.key, self.expected, self.got = str(file), key, expected, got
        message = f"{file}: key '{key}': expected {expected}"
        if got is not None:
            message += f", got {got!r}"
        super().__init__(message)


@dataclass(frozen=True)
class Field:
    """What a scenario key may hold."""

    kind: str  # number, integer, string, bool, year, trajectory, choice, choices, bands
    signed: bool = False
    choices: tuple[str, ...] = ()
    required: bool = False


# string constants of defaults.toml that take one of a few values
CHOICE_KEYS = {"peer_scope": ("network", "population")}


def _infer_field(key: str, default: Any) -> Field:
    if key in CHOICE_KEYS:
        return Field("choice", choices=CHOICE_KEYS[key])
    if isinstance(default, bool):
        return Field("bool")
    if isinstance(default, int):
        return Field("year" if key.endswith("fiscal_year") else "integer")
    if isinstance(default, float):
        return Field("number", signed="constant" in key or "trend" in key)
    if isinstance(default, str):
        return Field("string")
    if isinstance(default, dict):
        return Field("trajectory")
    raise TypeError(f"defaults.toml: cannot infer a type for {key}")


_YEAR = Field("year", required=True)
PROGRAMME_SCHEMA: dict[str, Field] = {
    "level": Field("choice", choices=LEVELS, required=True),
    "technology": Field("choice", choices=TECHNOLOGIES, required=True),
    "agents": Field("choices", choices=AGENT_TYPES, required=True),
    "eligibility": Field("choice", choices=ELIGIBILITY),
    "yen_per_kw": Field("number"),
    "yen_per_kwh": Field("number"),  # per kWh of storage: batteries only
    "flat_yen": Field("number"),
    "bands": Field("bands"),
    "cap_yen": Field("number"),
    "max_share_of_cost": Field("number"),
    "annual_budget_yen": Field("number"),
    # a shared budget, [budgets.NAME]; an annual_budget_yen beside it is a ceiling within it;
    # "" (as without the key): a budget of its own
    "budget": Field("string"),
    "first_fiscal_year": _YEAR,
    "last_fiscal_year": _YEAR,
    "description": Field("string"),
}
# a budget that several programmes draw on, first come across all of them
BUDGET_SCHEMA: dict[str, Field] = {
    "annual_budget_yen": Field("number", required=True),
    "description": Field("string"),
}
CAMPAIGN_SCHEMA: dict[str, Field] = {
    "technologies": Field("choices", choices=TECHNOLOGIES, required=True),
    "agents": Field("choices", choices=AGENT_TYPES, required=True),
    "eligibility": Field("choice", choices=ELIGIBILITY),
    "base_rate_multiplier": Field("number"),
    "utility_bonus": Field("number", signed=True),
    "first_fiscal_year": _YEAR,
    "last_fiscal_year": _YEAR,
    "description": Field("string"),
}
SECTION_SCHEMAS: dict[str, dict[str, Field]] = {
    "scenario": {
        "name": Field("string"),
        "description": Field("string"),
        "description_ja": Field("string"),  # the description for Japanese reports
        "extends": Field("string"),
    },
    "tariffs": {
        "residential_yen_per_kwh": Field("trajectory", required=True),
        "business_yen_per_kwh": Field("trajectory", required=True),
    },
    # a measure's section, once there, says when the measure runs
    "joint_purchase": {
        "cost_reduction_share": Field("number"),
        "participation_share": Field("number"),
        "first_fiscal_year": _YEAR,
        "last_fiscal_year": _YEAR,
    },
    "ppa_promotion": {
        "maturity_boost": Field("number"),
        "first_fiscal_year": _YEAR,
        "last_fiscal_year": _YEAR,
    },
    "mandate": {
        "pv_on_new_houses_from_fiscal_year": _YEAR,
        "compliance_share": Field("number"),
    },
    # a PDCA review that raises a grant when the city is behind its path (abm/pdca.py)
    "pdca": {
        "first_review_fiscal_year": _YEAR,
        "review_every_years": Field("integer", required=True),
        "last_review_fiscal_year": _YEAR,
        "indicator": Field("choice", choices=tuple(INDICATORS), required=True),
        "path": Field("trajectory", required=True),
        "programme": Field("string", required=True),
        "raises": Field("choice", choices=RAISABLE, required=True),
        "step_share": Field("number", required=True),
        "ceiling": Field("number", required=True),
    },
}
NAMED_SECTIONS: dict[str, dict[str, Field]] = {
    "subsidies": PROGRAMME_SCHEMA,
    "budgets": BUDGET_SCHEMA,
    "campaigns": CAMPAIGN_SCHEMA,
}


@dataclass(frozen=True)
class Limit:
    """The values a number may take at all (abm/data/limits.toml), both ends included."""

    low: float
    high: float
    why: str = ""

    def describe(self) -> str:
        what = "a share" if (self.low, self.high) == (0.0, 1.0) else "a value"
        text = f"{what} from {_amount(self.low)} to {_amount(self.high)}"
        return text + (f" ({self.why})" if self.why else "") + f" (the admissible range in {LIMITS_PATH.name})"


def _amount(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _load_limits() -> tuple[dict[str, Limit], tuple[tuple[str, ...], ...]]:
    with open(LIMITS_PATH, "rb") as f:
        raw = tomllib.load(f)
    order = raw.pop("order")
    limits = {}
    for section, table in raw.items():
        for key, value in table.items():
            low, high = value["range"] if isinstance(value, dict) else value
            limits[f"{section}.{key}"] = Limit(low, high, value.get("why", "") if isinstance(value, dict) else "")
    return limits, tuple(tuple(keys) for keys in order.values())


LIMITS, ORDERED_KEYS = _load_limits()


def limit_for(key: str) -> Limit | None:
    """The limit of a dotted key: ``section.key[.year]`` or ``section.NAME.key``."""
    parts = key.split(".")
    if parts[0] in NAMED_SECTIONS:
        return LIMITS.get(f"{parts[0]}.{parts[2]}") if len(parts) >= 3 else None
    return LIMITS.get(".".join(parts[:2]))


def _check_limit(file: Path, key: str, v: float) -> None:
    limit = limit_for(key)
    if limit is not None and not limit.low <= v <= limit.high:
        raise ScenarioError(file, key, limit.describe(), v)


def _load_defaults() -> dict[str, Any]:
    with open(DEFAULTS_PATH, "rb") as f:
        defaults = tomllib.load(f)
    for section, table in defaults.items():
        SECTION_SCHEMAS[section] = {k: _infer_field(k, v) for k, v in table.items()}
    return defaults


DEFAULTS = _load_defaults()


def _describe(f: Field) -> str:
    return {
        "number": "a finite number" if f.signed else "a finite non-negative number",
        "integer": "a non-negative integer",
        "string": "a string",
        "bool": "true or false",
        "year": f"a fiscal year from {FIRST_FISCAL_YEAR} to {LAST_FISCAL_YEAR}",
        "trajectory": (f"a table from fiscal year ({FIRST_FISCAL_YEAR}-{LAST_FISCAL_YEAR}) to a non-negative number"),
        "choice": f"one of {', '.join(f.choices)}",
        "choices": f"a list of {', '.join(f.choices)}",
        "bands": "a list of [from_kw, to_kw, yen] with from_kw < to_kw",
    }[f.kind]


def _is_number(v: Any) -> bool:
    """A finite number: TOML's inf and nan are no amounts of money or energy."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_value(file: Path, key: str, f: Field, v: Any) -> None:
    def fail() -> None:
        raise ScenarioError(file, key, _describe(f), v)

    match f.kind:
        case "number":
            if not _is_number(v) or (not f.signed and v < 0):
                fail()
            _check_limit(file, key, v)
        case "integer":
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                fail()
            _check_limit(file, key, v)
        case "year":
            if not isinstance(v, int) or isinstance(v, bool):
                fail()
            if not FIRST_FISCAL_YEAR <= v <= LAST_FISCAL_YEAR:
                fail()
        case "string":
            if not isinstance(v, str):
                fail()
        case "bool":
            if not isinstance(v, bool):
                fail()
        case "choice":
            if v not in f.choices:
                fail()
        case "choices":
            if not isinstance(v, list) or not v or any(x not in f.choices for x in v):
                fail()
        case "bands":
            most_yen = LIMITS["subsidies.flat_yen"].high
            ok = isinstance(v, list) and all(
                isinstance(b, list)
                and len(b) == 3
                and all(_is_number(x) and x >= 0 for x in b)
                and b[0] < b[1]
                and b[2] <= most_yen
                for b in v
            )
            if not ok:
                fail()
        case "trajectory":
            if not isinstance(v, dict) or not v:
                fail()
            for year, value in v.items():
                if not year.isdigit() or not FIRST_FISCAL_YEAR <= int(year) <= LAST_FISCAL_YEAR:
                    raise ScenarioError(file, f"{key}.{year}", _describe(f), year)
                if not _is_number(value) or value < 0:
                    raise ScenarioError(file, f"{key}.{year}", "a finite non-negative number", value)
                _check_limit(file, f"{key}.{year}", value)


def _check_table(file: Path, prefix: str, schema: dict[str, Field], table: Any) -> None:
    if not isinstance(table, dict):
        raise ScenarioError(file, prefix, "a table", table)
    for key, value in table.items():
        if key not in schema:
            raise ScenarioError(file, f"{prefix}.{key}", f"one of {', '.join(schema)}", None)
        _check_value(file, f"{prefix}.{key}", schema[key], value)


# a scenario's name names its output directory: one safe path component, short enough
# for the time stamp and a partial suffix to fit a file system's 255 bytes
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
# which agents can adopt which technologies: a grant for others would reach nobody
ADOPTERS = {
    "households": ("pv", "ppa", "zeh", "ev", "battery", "v2h"),
    "businesses": ("pv", "ppa"),
    "farmers": ("solar_sharing",),
}


def validate_file_content(file: Path, content: dict[str, Any]) -> None:
    """Check every key and value of one file, on its own."""
    head = content.get("scenario")
    name = head.get("name") if isinstance(head, dict) else None
    if isinstance(name, str) and not NAME_PATTERN.fullmatch(name):
        expected = "up to 100 letters, digits, '-', '_' or '.', starting with a letter or digit (it names a directory)"
        raise ScenarioError(file, "scenario.name", expected, name)
    for section, table in content.items():
        if section in NAMED_SECTIONS:
            if not isinstance(table, dict):
                raise ScenarioError(file, section, "a table of named tables", table)
            for name, entry in table.items():
                _check_table(file, f"{section}.{name}", NAMED_SECTIONS[section], entry)
        elif section in SECTION_SCHEMAS:
            _check_table(file, section, SECTION_SCHEMAS[section], table)
        else:
            known = ", ".join([*SECTION_SCHEMAS, *NAMED_SECTIONS])
            raise ScenarioError(file, section, f"a known section ({known})", None)


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Override ``base`` table by table; trajectories and lists are replaced whole."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not _is_trajectory(value):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _is_trajectory(table: Mapping[str, Any]) -> bool:
    return bool(table) and all(isinstance(k, str) and k.isdigit() for k in table)


def read_toml_text(path: Path) -> str:
    """A TOML file's text: UTF-8, with a byte-order mark (as some Windows editors save
    one) left out; anything else, a binary file say, is a :class:`ScenarioError`."""
    data = Path(path).read_bytes()
    try:
        return data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as err:
        got = f"byte {data[err.start]:#04x} at offset {err.start}"
        raise ScenarioError(path, "(file)", "a UTF-8 text file (TOML)", got) from None


def _read_toml(path: Path, referenced_from: Path | None) -> dict[str, Any]:
    if not path.is_file():
        if referenced_from is None:
            raise ScenarioError(
                path, "(file)", f"an existing scenario file or a name in {SCENARIO_DIR} or {DESIGN_DIR}"
            )
        raise ScenarioError(referenced_from, "scenario.extends", "an existing scenario file", str(path))
    try:
        return tomllib.loads(read_toml_text(path))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(path, "(syntax)", f"valid TOML ({err})") from err


def resolve_path(name_or_path: str | Path) -> Path:
    """A path as given, or the name of a file in ``experiments/scenarios/`` or, failing
    that, ``experiments/designs/``."""
    path = Path(name_or_path)
    if path.is_file() or len(path.parts) > 1:
        return path
    return _named(path) or path


def _named(path: Path) -> Path | None:
    """The file of a scenario or design name (``strategy``, ``strategy.toml``), if there is one."""
    for directory in (SCENARIO_DIR, DESIGN_DIR):
        candidate = directory / (path.name if path.suffix else f"{path.name}.toml")
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Scenario:
    """A resolved, validated scenario: nested tables of values plus where they came from."""

    name: str
    data: dict[str, Any]
    files: tuple[str, ...] = field(default=())

    def __getitem__(self, dotted_key: str) -> Any:
        node: Any = self.data
        for part in dotted_key.split("."):
            if not isinstance(node, dict) or part not in node:
                raise KeyError(dotted_key)
            node = node[part]
        return node

    def get(self, dotted_key: str, default: Any = None) -> Any:
        try:
            return self[dotted_key]
        except KeyError:
            return default

    def section(self, name: str) -> dict[str, Any]:
        return self.data.get(name, {})

    def sha256(self) -> str:
        """Digest of the resolved values: equal for equal scenarios, wherever their files are."""
        return hashlib.sha256(json.dumps(self.data, sort_keys=True, default=str).encode()).hexdigest()

    def with_values(self, values: Mapping[str, Any], source: str = "overrides") -> Scenario:
        """A copy with dotted keys set, validated like a scenario file's keys."""
        content: dict[str, Any] = {}
        for dotted, value in values.items():
            parts = dotted.split(".")
            node = content
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        validate_file_content(Path(source), content)
        data = _merge(self.data, content)
        _check_complete(Path(source), data)
        return Scenario(self.name, data, (*self.files, source))


def _check_complete(file: Path, data: dict[str, Any]) -> None:
    for section, schema in NAMED_SECTIONS.items():
        for name, entry in data.get(section, {}).items():
            for key, f in schema.items():
                if f.required and key not in entry:
                    raise ScenarioError(file, f"{section}.{name}.{key}", _describe(f))
            if entry.get("eligibility") == "large_emitters" and entry["agents"] != ["businesses"]:
                raise ScenarioError(
                    file,
                    f"{section}.{name}.eligibility",
                    "'large_emitters' only with agents = [\"businesses\"]",
                    entry["agents"],
                )
            if "first_fiscal_year" in entry and entry["first_fiscal_year"] > entry["last_fiscal_year"]:
                raise ScenarioError(
                    file,
                    f"{section}.{name}.last_fiscal_year",
                    f"a year not before first_fiscal_year ({entry['first_fiscal_year']})",
                    entry["last_fiscal_year"],
                )
            if section == "subsidies":
                technology = entry["technology"]
                if any(technology not in ADOPTERS[a] for a in entry["agents"]):
                    able = ", ".join(a for a, techs in ADOPTERS.items() if technology in techs)
                    raise ScenarioError(
                        file, f"{section}.{name}.agents", f"agents who can adopt {technology} ({able})", entry["agents"]
                    )
                _check_shared_budget(file, name, entry, data.get("budgets", {}))
    for section, schema in SECTION_SCHEMAS.items():
        if section in data or section == "tariffs":
            for key, f in schema.items():
                if f.required and key not in data.get(section, {}):
                    raise ScenarioError(file, f"{section}.{key}", _describe(f))
    for section, first, last in (
        ("joint_purchase", "first_fiscal_year", "last_fiscal_year"),
        ("ppa_promotion", "first_fiscal_year", "last_fiscal_year"),
        ("pdca", "first_review_fiscal_year", "last_review_fiscal_year"),
    ):
        entry = data.get(section, {})
        if entry and entry[first] > entry[last]:
            raise ScenarioError(
                file, f"{section}.{last}", f"a year not before {first} ({entry[first]})", entry[last]
            )  # fmt: skip
    pdca = data.get("pdca", {})
    if pdca:
        if pdca["programme"] not in data.get("subsidies", {}):
            known = ", ".join(sorted(data.get("subsidies", {}))) or "none"
            raise ScenarioError(file, "pdca.programme", f"the name of a [subsidies.NAME] table ({known})",
                                pdca["programme"])  # fmt: skip
        if pdca["review_every_years"] < 1:
            raise ScenarioError(file, "pdca.review_every_years", "at least 1", pdca["review_every_years"])
    for keys in ORDERED_KEYS:
        values = [_dotted(data, k) for k in keys]
        for (before, low), (key, value) in itertools.pairwise(zip(keys, values, strict=True)):
            if value < low:
                raise ScenarioError(file, key, f"a value not below {before} ({_amount(low)})", value)
    most = _highest_cost_yen_per_kw(data)
    for name, entry in data.get("subsidies", {}).items():
        battery = entry["technology"] == "battery"
        if "yen_per_kwh" in entry and not battery:
            raise ScenarioError(
                file, f"subsidies.{name}.yen_per_kwh", "yen_per_kw (a grant per kWh is for batteries)",
                entry["yen_per_kwh"],
            )  # fmt: skip
        if "yen_per_kw" in entry and battery:
            raise ScenarioError(
                file, f"subsidies.{name}.yen_per_kw", "yen_per_kwh (a battery's grant is per kWh of storage)",
                entry["yen_per_kw"],
            )  # fmt: skip
        if battery and entry.get("yen_per_kwh", 0.0) > max(data["prices"]["battery_cost_yen_per_kwh"].values()):
            raise ScenarioError(
                file,
                f"subsidies.{name}.yen_per_kwh",
                "a grant no larger than the highest battery cost in this scenario "
                f"({_amount(max(data['prices']['battery_cost_yen_per_kwh'].values()))} yen/kWh)",
                entry["yen_per_kwh"],
            )
        ceiling = most.get(entry["technology"])
        if ceiling is not None and entry.get("yen_per_kw", 0.0) > ceiling:
            raise ScenarioError(
                file,
                f"subsidies.{name}.yen_per_kw",
                f"a grant no larger than the highest cost of {entry['technology']} in this scenario "
                f"({_amount(ceiling)} yen/kW)",
                entry["yen_per_kw"],
            )


def _check_shared_budget(file: Path, name: str, entry: dict[str, Any], budgets: dict[str, Any]) -> None:
    """A programme on a shared budget names one that exists."""
    shared = entry.get("budget")
    if shared and shared not in budgets:  # "" is a budget of its own, as without the key
        known = f"one of {', '.join(sorted(budgets))}" if budgets else "none is defined"
        raise ScenarioError(file, f"subsidies.{name}.budget", f"the name of a [budgets.NAME] table ({known})", shared)


def _dotted(data: dict[str, Any], key: str) -> Any:
    section, name = key.split(".")
    return data[section][name]


def _highest_cost_yen_per_kw(data: dict[str, Any]) -> dict[str, float]:
    """The dearest a kW of each technology gets in a scenario: a grant per kW above it
    would pay more than the system costs."""
    prices = data["prices"]
    pv = max(*prices["pv_cost_yen_per_kw"].values(), *prices["pv_cost_new_build_yen_per_kw"].values())
    # businesses' systems cost a factor of the residential price, which may exceed 1
    pv_any = pv * max(1.0, prices["business_pv_cost_factor"])
    return {
        "pv": pv_any,
        "ppa": pv_any,
        "zeh": pv,
        "solar_sharing": data["technology"]["solar_sharing_cost_yen_per_kw"],
    }


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Read a scenario file and the chain of files it extends, and validate them."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    path, referenced_from = resolve_path(name_or_path), None
    seen: set[Path] = set()
    while True:
        path = path.resolve() if path.exists() else path
        if path in seen:
            raise ScenarioError(path, "scenario.extends", "no cycle of extends", str(path))
        seen.add(path)
        content = _read_toml(path, referenced_from)
        validate_file_content(path, content)
        chain.append((path, content))
        parent = content.get("scenario", {}).get("extends")
        if parent is None:
            break
        # relative to the file; failing that, a bare name is one of the project's scenarios
        beside = path.parent / parent
        named = None if beside.is_file() or len(Path(parent).parts) > 1 else _named(Path(parent))
        referenced_from, path = path, named or beside
    data = copy.deepcopy(DEFAULTS)
    for _path, content in reversed(chain):
        data = _merge(data, content)
    top = chain[0][0]
    _check_complete(top, data)
    name = chain[0][1].get("scenario", {}).get("name", top.stem)
    return Scenario(name, data, tuple(str(p) for p, _ in reversed(chain)))
