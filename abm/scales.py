"""Whether a sensitivity analysis at a fraction of the city stands in for the whole city.

An analysis at scale 1/20 costs a twentieth of one at the full city, so the project's
analyses run small. Whether that is safe is a question about the indices, not about the
runs: the same design (same inputs, bounds, N, replicates and seed) run at two scales
gives two sets of Sobol' indices, and the small one stands in for the city where, output
by output, it ranks the inputs alike (Spearman's rho of the total indices), names the
same inputs first, and differs from the city's by no more than the bootstrap intervals
allow. Outputs that an agent weighing 20 cannot resolve (a few hundred solar-sharing
farms) show up here as the ones that do not stand in.

``python -m abm.scales CITY_DIR SMALL_DIR --out FILE.md`` compares two finished
``abm sensitivity`` directories and writes the table.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scipy.stats import spearmanr

# what must agree for two analyses to be the same design at two scales
SAME_DESIGN = ("experiment", "method", "n", "replicates", "seed", "inputs", "factors")
# A difference of total indices that matters: one per cent of the output's variance. An
# input that explains nothing has a bootstrap interval of almost no width, so its ST of
# 1e-4 at one scale and 3e-4 at the other differ "beyond the intervals" and mean nothing.
MATERIAL_ST = 0.01


@dataclass(frozen=True)
class OutputAtTwoScales:
    """One output's total indices at the city's scale and at the small one."""

    output: str
    mean_city: float
    mean_small: float
    resolved: tuple[bool, bool]
    rho: float  # Spearman's rho of ST over the factors
    top_city: tuple[str, ...]
    top_small: tuple[str, ...]
    largest_difference: float  # the largest |ST city - ST small| over the factors
    outside_intervals: tuple[str, ...]  # factors whose difference exceeds both intervals combined and 0.01

    @property
    def stands_in(self) -> bool:
        """Same first input, rank correlation of at least 0.8, no factor outside the intervals."""
        return (
            all(self.resolved)
            and self.top_city[:1] == self.top_small[:1]
            and self.rho >= 0.8
            and not self.outside_intervals
        )


def load_summary(directory: Path) -> dict[str, Any]:
    path = Path(directory) / "summary.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no summary: is {directory} a finished abm sensitivity directory?") from None


def _total_indices(result: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    full = result["indices"][0]  # at N; the next entries are at N/2
    return {f["input"]: (f["ST"], f["ST_conf"]) for f in full["factors"] if f["ST"] is not None}


def compare(city: Mapping[str, Any], small: Mapping[str, Any], top: int = 3) -> list[OutputAtTwoScales]:
    """The outputs of two summaries of one design at two scales, side by side."""
    for key in SAME_DESIGN:
        if city.get(key) != small.get(key):
            raise ValueError(f"not the same design at two scales: '{key}' differs")
    if city["scale"] <= small["scale"]:
        raise ValueError(f"the first analysis should be the larger scale, got {city['scale']} and {small['scale']}")
    out = []
    for name, at_city in city["outputs"].items():
        at_small = small["outputs"][name]
        a, b = _total_indices(at_city), _total_indices(at_small)
        factors = sorted(set(a) & set(b))
        st_a, st_b = [a[f][0] for f in factors], [b[f][0] for f in factors]
        rho = float(spearmanr(st_a, st_b).statistic) if len(factors) > 2 else math.nan
        differences = {f: abs(a[f][0] - b[f][0]) for f in factors}
        outside = tuple(f for f in factors if differences[f] > max(math.hypot(a[f][1], b[f][1]), MATERIAL_ST))
        out.append(
            OutputAtTwoScales(
                output=name,
                mean_city=at_city["mean"],
                mean_small=at_small["mean"],
                resolved=(at_city["resolved"] is not False, at_small["resolved"] is not False),
                rho=rho,
                top_city=tuple(sorted(factors, key=lambda f: -a[f][0])[:top]),
                top_small=tuple(sorted(factors, key=lambda f: -b[f][0])[:top]),
                largest_difference=max(differences.values(), default=math.nan),
                outside_intervals=outside,
            )
        )
    return out


def markdown(city: Mapping[str, Any], small: Mapping[str, Any], rows: Sequence[OutputAtTwoScales]) -> str:
    standing = sum(r.stands_in for r in rows)
    lines = [
        f"# {city['experiment']}: the full city against scale {small['scale']:g}",
        "",
        f"The same design (N = {city['n']}, {city['replicates']} replicates, seed {city['seed']}, "
        f"{len(city['factors'])} factors) at scale {city['scale']:g} and at {small['scale']:g}. "
        "Total indices (ST) at N; the small scale stands in for an output where both resolve it, the same "
        "input ranks first, Spearman's rho of ST over the factors is at least 0.8, and no factor's ST "
        f"differs by more than the two bootstrap 95% intervals combined and more than {MATERIAL_ST:g} (one "
        "per cent of the variance: inputs that explain nothing have intervals of almost no width, and "
        "differences below that change no conclusion).",
        "",
        f"**{standing} of {len(rows)} outputs** stand in.",
        "",
        "| output | mean, city | mean, small | rho of ST | first three, city | first three, small "
        "| largest ST difference | outside the intervals | stands in |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        resolved = (
            ""
            if all(r.resolved)
            else " (noise: not resolved at "
            + ("both" if not any(r.resolved) else ("the city" if not r.resolved[0] else "the small scale"))
            + ")"
        )
        lines.append(
            f"| {r.output} | {r.mean_city:,.4g} | {r.mean_small:,.4g} | {r.rho:.2f} | {', '.join(r.top_city)} "
            f"| {', '.join(r.top_small)} | {r.largest_difference:.3f} | {', '.join(r.outside_intervals) or '-'} "
            f"| {'yes' if r.stands_in else 'no'}{resolved} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from abm.sensitivity import write_text

    p = argparse.ArgumentParser(prog="python -m abm.scales", description=__doc__.split("\n\n")[0])
    p.add_argument("city", type=Path, help="the analysis at the larger scale (the full city)")
    p.add_argument("small", type=Path, help="the same design at a smaller scale")
    p.add_argument("--out", type=Path, required=True, help="the Markdown table to write")
    args = p.parse_args(argv)
    try:
        city, small = load_summary(args.city), load_summary(args.small)
        rows = compare(city, small)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    write_text(args.out, markdown(city, small, rows))
    print(f"{sum(r.stands_in for r in rows)} of {len(rows)} outputs stand in; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
