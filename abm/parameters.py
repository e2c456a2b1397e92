"""The parameter table of the model's ODD description, generated so that it cannot drift.

Every constant the model reads is a key of ``abm/data/defaults.toml``, and each key
there carries, in the comment above it, where its value comes from ("obs:", "src:",
"derived:" or "assumption", with a range). This module reads that file with its
comments and joins to each key what varies it: the calibration's priors
(:data:`calibration.procedure.PARAMETERS`) and the inputs of the committed sensitivity
specs (``experiments/sensitivity/``). Units follow from the names (``_yen_per_kw``,
``_share``, ``_per_year``, ...), as the project names quantities.

``python -m abm.parameters docs/ODD.md`` rewrites the table between the markers
``<!-- parameter-table:start -->`` and ``<!-- parameter-table:end -->`` of that file;
``tests/test_parameters.py`` fails when the committed table differs from the one this
module makes, or when a key of the table is one a run of the model does not read.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abm.scenario import DEFAULTS_PATH

START = "<!-- parameter-table:start -->"
END = "<!-- parameter-table:end -->"
SOURCE_TAGS = {"obs:": "observed", "src:": "source", "derived:": "derived", "assumption": "assumption"}
# committed specs whose inputs the table names (the Ishigami specs vary no model key)
SENSITIVITY_SPECS = ("strategy_sobol", "strategy_morris")

# (name pattern, unit), the first that matches; the order puts the longest suffixes first
UNITS: tuple[tuple[str, str], ...] = (
    (r"_yen_per_kw_year$", "yen/kW/yr"),
    (r"_yen_per_ha_year$", "yen/ha/yr"),
    (r"_yen_per_kwh$", "yen/kWh"),
    (r"_yen_per_kw$", "yen/kW"),
    (r"_yen_per_litre$", "yen/L"),
    (r"_yen$", "yen"),
    (r"_km_per_year$", "km/yr"),
    (r"_km_per_litre$", "km/L"),
    (r"_km_per_kwh$", "km/kWh"),
    (r"_kg_per_kwh$", "kg CO2/kWh"),
    (r"_kg_per_litre$", "kg CO2/L"),
    (r"_kwh_per_kw_year$", "kWh/kW/yr"),
    (r"_kwh_per_year$", "kWh/yr"),
    (r"_kwh$", "kWh"),
    (r"^kw_per_ha$", "kW/ha"),
    (r"_kw(_mean|_sd|_min|_max|_median)?$", "kW"),
    (r"_log_sd$", "sd of log"),
    (r"_t_per_tj$", "t CO2/TJ"),
    (r"_t_per_kw$", "t/kW"),
    (r"_tj$", "TJ/yr"),
    (r"_kt$", "kt CO2e/yr"),
    (r"_gwh_fy2017$", "GWh/yr"),
    (r"_ha$", "ha"),
    (r"_cycles_per_year$", "cycles/yr"),
    (r"_houses_per_year$", "houses/yr"),
    (r"_per_year$", "1/yr"),
    (r"_fiscal_year$", "fiscal year"),
    (r"_install_year$", "fiscal year"),
    (r"_years(_low|_high|_residential|_business)?$", "years"),
    (r"(_share|_efficiency|_rewiring|_share_detached|_share_apartment|^market_maturity)$", "share (0-1)"),
    (r"^car_share_", "share (0-1)"),
    (r"_factor$", "ratio"),
    (r"_consideration$", "share (0-1)"),
    (r"_constant$", "utility"),
    (r"_weight$", "utility weight"),
    (r"_p$", "1/yr"),
    (r"_q$", "1/yr per unit of peer share"),
    (r"^discount_rate", "1/yr"),
    (r"_degree$", "ties per agent"),
    (r"(_beta_a|_beta_b|_weibull_shape|_concentration)$", "shape"),
    (r"^(households|businesses|farm_households|initial_pv_systems|initial_evs|neighbourhood_households)$", "count"),
    (r"^pv_end_of_life$", "on/off"),
    (r"^peer_scope$", "choice"),
)


@dataclass(frozen=True)
class Parameter:
    """One key of defaults.toml as the table shows it."""

    section: str
    key: str
    value: Any
    comment: str  # the comment block above the key; "" where it shares the block above
    shared_with: str  # the key whose comment this one shares, or ""

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def unit(self) -> str:
        for pattern, unit in UNITS:
            if re.search(pattern, self.key):
                return unit
        raise ValueError(f"{DEFAULTS_PATH}: key '{self.name}': no unit follows from its name (abm.parameters.UNITS)")


def read_defaults(path: Path = DEFAULTS_PATH) -> list[Parameter]:
    """The keys of ``path`` in file order, each with the comment block above it."""
    values = tomllib.loads(path.read_text(encoding="utf-8"))
    out: list[Parameter] = []
    section, block, last_commented = "", [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if m := re.fullmatch(r"\[(\w+)\]", stripped):
            section, block, last_commented = m.group(1), [], ""
        elif stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
        elif not stripped:
            # a blank line ends a block that belongs to no key (the file's preamble)
            block = []
        elif section and (m := re.match(r"(\w+)\s*=", stripped)):
            key = m.group(1)
            comment = " ".join(block)
            out.append(Parameter(section, key, values[section][key], comment, "" if comment else last_commented))
            if comment:
                last_commented = key
            block = []
    return out


def source_kind(comment: str) -> str:
    """What kind of source a comment gives first: observed, source, derived or assumption."""
    found = [(comment.find(tag), kind) for tag, kind in SOURCE_TAGS.items() if tag in comment]
    return min(found)[1] if found else "see comment"


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 1_000 and not (1990 <= v <= 2100) else str(v)
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 1_000 else f"{v:g}"
    if isinstance(v, Mapping):
        years = sorted(v, key=int)
        if len(years) <= 3:
            return "; ".join(f"FY{y}: {_fmt(v[y])}" for y in years)
        return f"FY{years[0]}: {_fmt(v[years[0]])} ... FY{years[-1]}: {_fmt(v[years[-1]])} ({len(years)} points)"
    return f"`{v}`"


def calibrated() -> dict[str, str]:
    """Calibrated keys and their priors."""
    from calibration.procedure import PARAMETERS  # calibration builds on abm

    return {
        f"behaviour.{p.name}": f"calibrated, prior {_fmt(p.low)} to {_fmt(p.high)}" + (" (log)" if p.log else "")
        for p in PARAMETERS
    }


def varied_in_sensitivity(specs: Sequence[str] = SENSITIVITY_SPECS) -> dict[str, str]:
    """Keys the committed sensitivity specs vary, with their bounds and kind."""
    from abm.sensitivity import load_spec  # the specs load scenarios, which load this package

    out: dict[str, list[str]] = {}
    for name in specs:
        spec = load_spec(name)
        for i in spec.inputs:
            if i.picks_posterior:
                continue
            out.setdefault(i.key, []).append(f"{name} ({i.kind}) {_fmt(i.low)} to {_fmt(i.high)}")
    bounds: dict[str, str] = {}
    for key, uses in out.items():
        # the Sobol and Morris twins vary an input over the same bounds: say it once
        tails = {u.split(" ", 1)[1] for u in uses}
        names = " & ".join(u.split(" ", 1)[0] for u in uses)
        bounds[key] = f"{names} {tails.pop()}" if len(tails) == 1 else "; ".join(uses)
    return bounds


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(parameters: Sequence[Parameter] | None = None) -> str:
    """The parameter table in Markdown: one row per key of defaults.toml."""
    parameters = read_defaults() if parameters is None else parameters
    cal, sens = calibrated(), varied_in_sensitivity()
    posterior = "; sensitivity: through the posterior pick (`behaviour`)"
    lines = [
        f"{len(parameters)} parameters of `abm/data/defaults.toml`; generated by `python -m abm.parameters docs/ODD.md`.",
        "",
        "| parameter | value | unit | source | source or reason (from defaults.toml) | varied by |",
        "|---|---|---|---|---|---|",
    ]
    for p in parameters:
        if p.comment:
            kind, why = source_kind(p.comment), p.comment
        else:
            shared = next(q for q in parameters if q.section == p.section and q.key == p.shared_with)
            kind, why = source_kind(shared.comment), f"as for `{p.section}.{p.shared_with}`"
        varied = []
        if p.name in cal:
            varied.append(cal[p.name] + posterior)
        if p.name in sens:
            varied.append("sensitivity: " + sens[p.name])
        lines.append(
            f"| `{p.name}` | {_cell(_fmt(p.value))} | {p.unit} | {kind} | {_cell(why)} | "
            f"{_cell('; '.join(varied)) or 'fixed'} |"
        )
    return "\n".join(lines) + "\n"


def replace_table(document: str, new_table: str, where: str = "document") -> str:
    """``document`` with the text between the table's markers replaced."""
    if document.count(START) != 1 or document.count(END) != 1 or document.index(START) > document.index(END):
        raise ValueError(f"{where}: expected one '{START}' followed by one '{END}'")
    head, rest = document.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{new_table}{END}{tail}"


def committed_table(document: str) -> str:
    """The table between the markers of ``document``."""
    return document.split(START)[1].split(END)[0].lstrip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    from abm.sensitivity import write_text

    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1:
        print("usage: python -m abm.parameters DOCUMENT.md", file=sys.stderr)
        return 2
    path = Path(args[0])
    write_text(path, replace_table(path.read_text(encoding="utf-8"), table(), str(path)))
    print(f"wrote the parameter table into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
