"""Observed patterns the model is fitted to, read from ``calibration/targets/``.

Each CSV there is a verbatim copy of a file in ``shared/data/`` with its source line.
A :class:`Pattern` is one observed series turned into what the model can be held
against, and says how to compute the same quantity from a run's yearly table:

- **Residential PV additions** (kW a year, < 10 kW): year-on-year differences of the
  city's installed capacity in the national FIT disclosure. Levels are not fitted:
  the disclosure seems to leave out systems moved over from the pre-2012 surplus
  scheme (see ``calibration/README.md`` on the initial stock). Simulated: rooftop PV
  bought (retrofit and new build) plus household PPA capacity added.
- **Business PV additions** (kW a year, 10-50 kW, ``PV_S``): same file. Simulated:
  business PV bought plus business PPA capacity added.
- **ZEH share** of all new detached houses (national, fiscal years), derived from
  the ZEH file (:func:`zeh_share_of_new_detached`). Simulated: ZEH built over new
  detached houses. The model's 5,400 new detached houses a year are all the city's
  new detached houses, custom-built and spec-built (建売) alike, so the share of
  custom-built houses alone (8.5-20%, reported as a reference) would overstate it:
  20% of 5,400 houses at 4.6 kW is 5 MW a year, the city's entire observed
  residential additions in 2017-2018.
- **EV share** of new passenger cars, battery EVs including kei cars (national,
  calendar years). Simulated: EVs chosen over car replacements.
- **Solar-sharing permits** expected in the city, cumulative since the scheme began
  in 2013: national cumulative permits x Kanto's share of them x the city's share of
  Kanto's farmland (:func:`city_permit_factor`). About two a year: cumulative counts
  are less noisy than yearly ones, and need no yearly figure for FY2018 (which the
  file's numbers put at an implausible 87).

- **Home batteries installed** (a year): national grid-connected shipments of home
  storage systems (JEMA, FY2018-FY2020), scaled to the city by its share of Japan's
  owner-occupied detached houses (:func:`city_home_batteries`). Simulated: batteries
  installed.

Weights in the distance: 2 for residential PV, observed in the city itself and the
strategy's main lever; 1 for business PV (city data, but its 10-50 kW class also
holds ground-mounted investment systems the model has no agent for), ZEH and EV
(national shares applied to the city); 0.5 for solar sharing (national permits
scaled to the city by an assumed farmland share, about two a year) and for batteries
(national shipments scaled to the city by its share of houses). A pattern's
error is the root mean square of its relative errors, or for a share of its log
ratios (:meth:`Pattern.error` says why).

Calendar against fiscal years: the FIT disclosure and the EV shares are for calendar
years (to the end of December); the model reports fiscal years (April to March).
Calendar year t holds the last three months of fiscal year t-1 and the first nine
of fiscal year t, so a simulated calendar-year flow is ``0.25 x FY(t-1) + 0.75 x
FY(t)`` (shares: the same weights on numerator and denominator). Fiscal-year series
(ZEH, permits) are compared year for year.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from abm.scenario import DEFAULTS

TARGETS_DIR = Path(__file__).parent / "targets"
CALENDAR, FISCAL = "calendar", "fiscal"
# a share more than this factor from an observation (none at all, say) counts as that far
SHARE_RATIO_CAP = 20.0
# share of a calendar year that falls in the fiscal year that began in it
CALENDAR_SHARE_OF_FISCAL_YEAR = 0.75

# src: solar_sharing_permits_japan.csv, note for FY2019: "Kanto 57%" of new permits
KANTO_SHARE_OF_PERMITS = 0.57
# assumption: cultivated land in the Kanto region of the permit statistics, ha.
# MAFF 耕地面積 (about 2020), not in shared/data: about 0.57 Mha in the seven Kanto
# prefectures and about 0.76 Mha in the Kanto Regional Agricultural Administration
# Office's area (with Yamanashi, Nagano, Shizuoka); midpoint, range 0.57-0.76 Mha.
KANTO_FARMLAND_HA = 650_000.0


@dataclass(frozen=True)
class Pattern:
    """One observed series and the model quantity it is compared with.

    ``numerator`` columns of the run's yearly table are summed (and divided by the
    sum of ``denominator`` columns for a share), accumulated from FY2014 for a
    ``cumulative`` pattern, aligned to ``basis`` years and multiplied by ``factor``
    (100 for percentages). A pattern of ``weight`` 0 is reported but not fitted.
    """

    name: str
    title: str
    unit: str
    basis: str
    years: tuple[int, ...]
    observed: tuple[float, ...]
    numerator: tuple[str, ...]
    source: str
    denominator: tuple[str, ...] = ()
    factor: float = 1.0
    cumulative: bool = False
    weight: float = 1.0
    notes: str = ""
    _obs: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_obs", np.array(self.observed, dtype=float))

    def fitted(self, holdout_after: int | None) -> np.ndarray:
        """Mask of the years the fit may use: all, or those up to ``holdout_after``."""
        years = np.array(self.years)
        return years <= holdout_after if holdout_after is not None else np.ones(years.size, dtype=bool)

    def simulated(self, outputs: Mapping[str, Sequence[float]]) -> np.ndarray:
        """This pattern's quantity in one run, one value per observed year."""
        fiscal_years = list(outputs["fiscal_year"])

        def aligned(columns: tuple[str, ...]) -> np.ndarray:
            flow = np.sum([np.asarray(outputs[c], dtype=float) for c in columns], axis=0)
            if self.cumulative:
                flow = np.cumsum(flow)
            rows = [fiscal_years.index(y) for y in self.years]
            if self.basis == FISCAL:
                return flow[rows]
            previous = [fiscal_years.index(y - 1) for y in self.years]
            w = CALENDAR_SHARE_OF_FISCAL_YEAR
            return (1 - w) * flow[previous] + w * flow[rows]

        value = aligned(self.numerator)
        if self.denominator:
            with np.errstate(invalid="ignore", divide="ignore"):
                value = value / aligned(self.denominator)
        return value * self.factor

    def error(self, simulated: np.ndarray, holdout_after: int | None) -> float:
        """Normalised error of one run over the fitted years: the root mean square of
        relative errors, or for a share of log ratios of simulated to observed (a
        ratio beyond a factor of :data:`SHARE_RATIO_CAP` counting as that factor).

        A share's level is set by an option constant whose prior is flat on the
        utility (logit) scale, so before fitting the shares are spread evenly over
        their logarithm; a tolerance on relative errors then keeps more runs below an
        observation than above it and the accepted runs fall short of it on average,
        where a tolerance on log ratios is centred on it (calibration/README.md has
        the figures). The kW series keep relative errors, the measure their fit is
        judged by (MAPE)."""
        mask = self.fitted(holdout_after)
        sim, obs = simulated[mask], self._obs[mask]
        if not self.denominator:
            return float(np.sqrt(np.mean(((sim - obs) / obs) ** 2)))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.log(sim / obs)
        cap = np.log(SHARE_RATIO_CAP)
        return float(np.sqrt(np.mean(np.clip(log_ratio, -cap, cap) ** 2)))


def last_fiscal_year_needed(patterns: Sequence[Pattern]) -> int:
    """The last fiscal year a run must reach to be compared with every pattern."""
    return max(max(p.years) for p in patterns)


def distance(patterns: Sequence[Pattern], outputs: Mapping[str, Sequence[float]], holdout_after: int | None) -> float:
    """Distance of one run from the observations: the weighted root mean square of
    the fitted patterns' normalised errors (infinite if any is undefined)."""
    total, weights = 0.0, 0.0
    for p in patterns:
        if p.weight == 0 or not p.fitted(holdout_after).any():
            continue
        e = p.error(p.simulated(outputs), holdout_after)
        if not np.isfinite(e):
            return float("inf")
        total += p.weight * e**2
        weights += p.weight
    return float(np.sqrt(total / weights))


def read_table(name: str) -> tuple[str, list[dict[str, str]]]:
    """A target file's source lines (its leading ``#`` lines) and its rows."""
    path = TARGETS_DIR / name
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    header = [line.lstrip("# ").strip() for line in lines if line.startswith("#")]
    rows = list(csv.DictReader(line for line in lines if not line.startswith("#")))
    return " ".join(header), rows


def _number(text: str) -> float:
    """A number from the files, where ``~20`` means about 20."""
    return float(text.strip().lstrip("~"))


def _yearly_additions(rows: list[dict[str, str]], column: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    years = [int(r["year_end_dec"]) for r in rows]
    level = np.array([_number(r[column]) for r in rows])
    return tuple(years[1:]), tuple(float(x) for x in np.diff(level))


def city_farmland_ha(fiscal_year: int) -> float:
    """City cultivated land, interpolated linearly between the observed years."""
    _, rows = read_table("saitama_city_farmland.csv")
    years = [int(r["year"]) for r in rows]
    ha = [_number(r["cultivated_land_ha"]) for r in rows]
    return float(np.interp(fiscal_year, years, ha))


def city_permit_factor(fiscal_year: int) -> float:
    """Expected city permits per national permit: Kanto's share of the permits
    spread over Kanto's farmland in proportion to area (assumption: within Kanto,
    permits follow farmland), so the city gets its share of Kanto's farmland."""
    return KANTO_SHARE_OF_PERMITS * city_farmland_ha(fiscal_year) / KANTO_FARMLAND_HA


def national_cumulative_permits() -> dict[int, float]:
    """National solar-sharing permits granted since the scheme began (March 2013), at
    the end of each fiscal year in the file (FY2020 is the revised figure)."""
    _, rows = read_table("solar_sharing_permits_japan.csv")
    return {int(r["fiscal_year_end"]): _number(r["cumulative_new_permits"]) for r in rows}


def zeh_share_of_new_detached() -> dict[int, tuple[float, str]]:
    """National ZEH units over all new detached houses (custom- and spec-built), %,
    per fiscal year, with how each value was derived from ``zeh_japan.csv``.

    Starts are recovered from units and shares: custom starts = custom ZEH units /
    custom share, spec starts = spec ZEH units / spec share (FY2018, FY2019, where
    the notes give units by kind). FY2016-FY2017 give no spec share; their spec starts
    are assumed equal to the FY2018-FY2019 mean, and FY2016's ZEH units are taken as
    custom-built (spec ZEH was about 1,000-2,000 units a year).
    """
    _, rows = read_table("zeh_japan.csv")
    by_year = {int(r["fiscal_year"]): r for r in rows if r["zeh_series_units"].strip()}
    custom_starts, spec_starts = {}, {}
    for year, r in by_year.items():
        units = re.search(r"custom ([\d,]+); spec ([\d,]+)", r["note"])
        custom_units = float(units[1].replace(",", "")) if units else _number(r["zeh_series_units"])
        custom_starts[year] = custom_units / (_number(r["share_of_custom_detached_starts_pct"]) / 100)
        if units and r["share_of_spec_detached_starts_pct"].strip():
            spec_starts[year] = float(units[2].replace(",", "")) / (
                _number(r["share_of_spec_detached_starts_pct"]) / 100
            )
    spec_assumed = float(np.mean(list(spec_starts.values())))
    out = {}
    for year, r in sorted(by_year.items()):
        spec = spec_starts.get(year, spec_assumed)
        how = "derived" if year in spec_starts else f"derived, spec starts assumed {spec_assumed:,.0f}"
        out[year] = (_number(r["zeh_series_units"]) / (custom_starts[year] + spec) * 100, how)
    return out


# derived: the city's detached owner households in the model's population
# (defaults.toml: households x detached_share x detached_owner_share)
_POPULATION = DEFAULTS["population"]
CITY_OWNER_DETACHED_HOUSEHOLDS = (
    _POPULATION["households"] * _POPULATION["detached_share"] * _POPULATION["detached_owner_share"]
)
# src: JEMA shipment statistics (home_battery_shipments_japan.csv): about 90% of the
# systems shipped are below 10 kWh, i.e. mostly household systems
HOUSEHOLD_SHARE_OF_STORAGE_SHIPMENTS = 0.9


def city_share_of_owner_detached_houses(city_owner_households: float) -> float:
    """The city's share of Japan's owner-occupied detached houses, the homes that
    install batteries: the city's detached owners (the model's population) over the
    national count, recovered from homes_with_pv_japan.csv (2018 survey: owner-occupied
    detached houses with PV and their share of all such houses)."""
    _, rows = read_table("homes_with_pv_japan.csv")
    r = next(r for r in rows if r["survey_year"] == "2018")
    national = _number(r["owner_detached_with_pv"]) / (_number(r["share_owner_detached_pct"]) / 100)
    return city_owner_households / national


def city_home_batteries(city_owner_households: float) -> dict[int, float]:
    """Home batteries expected in the city per fiscal year: national grid-connected
    shipments x the household share x the city's share of owner-occupied detached
    houses (assumption: the city installs as the nation does, per such house)."""
    _, rows = read_table("home_battery_shipments_japan.csv")
    grid = next(_number(r["grid_connected_share"]) for r in rows if r["grid_connected_share"].strip())
    share = HOUSEHOLD_SHARE_OF_STORAGE_SHIPMENTS * city_share_of_owner_detached_houses(city_owner_households)
    return {int(r["fiscal_year"]): _number(r["units_shipped"]) * grid * share for r in rows}


def load_patterns() -> tuple[Pattern, ...]:
    """Every observed pattern, in report order."""
    pv_source, pv_rows = read_table("pv_capacity_fit_portal_saitama.csv")
    count_source, count_rows = read_table("saitama_city_residential_pv_counts.csv")
    zeh_source, zeh_rows = read_table("zeh_japan.csv")
    ev_source, ev_rows = read_table("ev_share_japan.csv")
    permit_source, _ = read_table("solar_sharing_permits_japan.csv")
    farm_source, _ = read_table("saitama_city_farmland.csv")

    res_years, res_kw = _yearly_additions(pv_rows, "city_PV_R_kW")
    bus_years, bus_kw = _yearly_additions(pv_rows, "city_PV_S_kW")
    sys_rows = [r for r in count_rows if r["systems_added_derived"].strip()]
    zeh = [r for r in zeh_rows if r["share_of_custom_detached_starts_pct"].strip()]
    ev = [r for r in ev_rows if r["bev_share_incl_kei_pct"].strip()]
    permits = national_cumulative_permits()
    zeh_all = zeh_share_of_new_detached()
    battery_source, _ = read_table("home_battery_shipments_japan.csv")
    homes_source, _ = read_table("homes_with_pv_japan.csv")
    owners = CITY_OWNER_DETACHED_HOUSEHOLDS
    batteries = city_home_batteries(owners)
    return (
        Pattern(
            name="residential_pv_added_kw",
            title="City residential PV (< 10 kW) added",
            unit="kW per year",
            basis=CALENDAR,
            years=res_years,
            observed=res_kw,
            numerator=("residential_pv_added_kw", "household_ppa_added_kw"),
            source=pv_source,
            weight=2.0,
            notes="difference of end-of-December capacity (city_PV_R_kW)",
        ),
        Pattern(
            name="residential_pv_added_systems",
            title="City residential PV (< 10 kW) systems added",
            unit="systems per year",
            basis=CALENDAR,
            years=tuple(int(r["year_end_dec"]) for r in sys_rows),
            observed=tuple(_number(r["systems_added_derived"]) for r in sys_rows),
            numerator=("residential_pv_added_systems", "household_ppa_added_contracts"),
            source=count_source,
            weight=0.0,
            notes=(
                "reported, not fitted: system size is a population input (roof_kw_mean 4.6 kW, "
                "observed additions 4.2-4.5 kW a system), so kW and systems cannot both be matched"
            ),
        ),
        Pattern(
            name="business_pv_added_kw",
            title="City small business PV (10-50 kW) added",
            unit="kW per year",
            basis=CALENDAR,
            years=bus_years,
            observed=bus_kw,
            numerator=("business_pv_added_kw", "business_ppa_added_kw"),
            source=pv_source,
            notes=(
                "difference of end-of-December capacity (city_PV_S_kW); the 10-50 kW class also "
                "holds ground-mounted investment systems, which the model's businesses stand in for"
            ),
        ),
        Pattern(
            name="zeh_share_pct",
            title="ZEH share of new detached houses",
            unit="%",
            basis=FISCAL,
            years=tuple(zeh_all),
            observed=tuple(v for v, _how in zeh_all.values()),
            numerator=("zeh_built",),
            denominator=("new_detached_houses",),
            factor=100.0,
            source=zeh_source,
            notes=(
                "national ZEH units / all new detached starts (custom + spec), applied to the city's new "
                "detached houses; " + "; ".join(f"FY{y} {v:.1f}% ({how})" for y, (v, how) in zeh_all.items())
            ),
        ),
        Pattern(
            name="zeh_share_custom_pct",
            title="ZEH share of new custom-built detached houses",
            unit="%",
            basis=FISCAL,
            years=tuple(int(r["fiscal_year"]) for r in zeh),
            observed=tuple(_number(r["share_of_custom_detached_starts_pct"]) for r in zeh),
            numerator=("zeh_built",),
            denominator=("new_detached_houses",),
            factor=100.0,
            source=zeh_source,
            weight=0.0,
            notes=(
                "reported, not fitted: the share among custom-built houses only (FY2019 is '~20'); "
                "the model's new houses include spec-built ones"
            ),
        ),
        Pattern(
            name="ev_share_pct",
            title="Battery-EV share of new cars (incl. kei)",
            unit="%",
            basis=CALENDAR,
            years=tuple(int(r["year"]) for r in ev),
            observed=tuple(_number(r["bev_share_incl_kei_pct"]) for r in ev),
            numerator=("ev_sales",),
            denominator=("car_replacements",),
            factor=100.0,
            source=ev_source,
            notes="national share applied to the city's car replacements",
        ),
        Pattern(
            name="solar_sharing_permits",
            title="Solar-sharing permits expected in the city (cumulative)",
            unit="permits",
            basis=FISCAL,
            years=tuple(permits),
            observed=tuple(n * city_permit_factor(y) for y, n in permits.items()),
            numerator=("solar_sharing_added_farms",),
            cumulative=True,
            weight=0.5,
            source=f"{permit_source} Farmland: {farm_source}",
            notes=(
                f"national cumulative permits x {KANTO_SHARE_OF_PERMITS} (Kanto) x city farmland / "
                f"{KANTO_FARMLAND_HA:,.0f} ha (Kanto, assumption); the national count includes the few "
                "permits of FY2012-FY2013, before the model starts; "
                + "; ".join(f"FY{y} national {n:,.0f}" for y, n in permits.items())
            ),
        ),
        Pattern(
            name="home_batteries_installed",
            title="Home batteries expected in the city",
            unit="batteries per year",
            basis=FISCAL,
            years=tuple(batteries),
            observed=tuple(batteries.values()),
            numerator=("batteries_installed",),
            weight=0.5,
            source=f"{battery_source} Homes: {homes_source}",
            notes=(
                f"national shipments x grid-connected share x {HOUSEHOLD_SHARE_OF_STORAGE_SHIPMENTS} (household) x "
                f"the city's share of owner-occupied detached houses ({city_share_of_owner_detached_houses(owners):.2%}: "
                f"{owners:,.0f} / the 2018 survey's national count); national figures scaled to the city, as the "
                "ZEH and EV shares are"
            ),
        ),
    )
