"""Policy as data: subsidy programmes with budgets, tariffs, campaigns and measures.

A :class:`SubsidyProgramme` pays an amount per kW, a flat amount or an amount by size
band, limited by a cap and a share of cost, to the agents and technology it names,
from its first to its last fiscal year. Its annual budget, its own or one shared
with other programmes (``[budgets.NAME]``, as the city's household programme pays
several technologies from one budget), is granted first-come within the fiscal year:
applications are taken in order of arrival and the first one that no longer fits
closes the programmes of that budget until the next fiscal year, so a budget is never
exceeded. National, prefectural and city programmes stack.

:class:`PolicyEnvironment` gathers what a scenario says about policy and answers the
populations' questions: which grants an agent can expect, whether it gets them,
by how much campaigns raise its base rate, what the tariffs and measures are.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from abm import kernels
from abm.clock import FISCAL_YEARS, Month
from abm.scenario import Scenario
from abm.trajectory import Trajectory

# The flags eligibility and campaigns look at; bit i of an agent's flag code is
# flag i, so that the compiled decisions look rules up in tables by code.
FLAGS = ("new_build", "large_emitters")
CODE_FLAGS = {
    name: np.array([bool(code >> bit & 1) for code in range(1 << len(FLAGS))]) for bit, name in enumerate(FLAGS)
}


def flag_codes(flags: dict[str, np.ndarray]) -> np.ndarray:
    """Each agent's flag code from its flags (a missing flag is false)."""
    code = 0
    for bit, name in enumerate(FLAGS):
        if name in flags:
            code = code | (np.asarray(flags[name], dtype=np.int64) << bit)
    return np.asarray(code, dtype=np.int64)


# The levels whose grants an adoption log records (abm.population.adoption_log): the
# city's own money, whose free riders a comparison of designs counts.
LOGGED_LEVELS = ("city",)


def _in_years(first: int, last: int, fiscal_year: int) -> bool:
    return first <= fiscal_year <= last


@dataclass(frozen=True)
class SubsidyProgramme:
    """One grant programme, as a scenario declares it."""

    name: str
    level: str
    technology: str
    agents: tuple[str, ...]
    first_fiscal_year: int
    last_fiscal_year: int
    eligibility: str = "any"
    yen_per_kw: float = 0.0
    yen_per_kwh: float = 0.0  # batteries: per kWh of storage, the size their grants are computed on
    flat_yen: float = 0.0
    bands: tuple[tuple[float, float, float], ...] = ()
    cap_yen: float = math.inf
    max_share_of_cost: float = 1.0
    annual_budget_yen: float = math.inf
    budget: str = ""  # the shared budget it draws on ([budgets.NAME]), instead of a budget of its own
    description: str = ""

    @classmethod
    def from_table(cls, name: str, table: dict) -> SubsidyProgramme:
        values = dict(table)
        values["agents"] = tuple(values["agents"])
        values["bands"] = tuple(tuple(b) for b in values.get("bands", ()))
        return cls(name=name, **values)

    def is_active(self, fiscal_year: int) -> bool:
        return _in_years(self.first_fiscal_year, self.last_fiscal_year, fiscal_year)

    def amount_yen(self, kw: np.ndarray, cost_yen: np.ndarray) -> np.ndarray:
        """The grant each applicant would receive, before the budget is considered
        (:func:`abm.kernels.grant_amount`)."""
        kw, cost_yen = np.broadcast_arrays(np.asarray(kw, dtype=float), np.asarray(cost_yen, dtype=float))
        return kernels.grant_amounts(programme_arrays((self,)), 0, kw.ravel(), cost_yen.ravel()).reshape(kw.shape)


@dataclass(frozen=True)
class Campaign:
    """A measure that raises the base rate of consideration or the appeal of options."""

    name: str
    technologies: tuple[str, ...]
    agents: tuple[str, ...]
    first_fiscal_year: int
    last_fiscal_year: int
    eligibility: str = "any"
    base_rate_multiplier: float = 1.0
    utility_bonus: float = 0.0
    description: str = ""

    @classmethod
    def from_table(cls, name: str, table: dict) -> Campaign:
        values = dict(table)
        values["technologies"] = tuple(values["technologies"])
        values["agents"] = tuple(values["agents"])
        return cls(name=name, **values)

    def applies(self, technology: str, agents: str, fiscal_year: int) -> bool:
        return (
            technology in self.technologies
            and agents in self.agents
            and _in_years(self.first_fiscal_year, self.last_fiscal_year, fiscal_year)
        )


@dataclass
class BudgetLedger:
    """What each programme has granted in each fiscal year, and when it ran out.

    A programme has a budget of its own, or draws on one it shares with others
    (``shared_budgets_yen``, by name), as the city's household programme pays PV,
    batteries and ZEH from one budget, or both (its own is then a ceiling within the
    shared one): applications are granted first come across all the programmes of a
    shared budget, and the first that no longer fits it closes them all.
    """

    programmes: tuple[SubsidyProgramme, ...]
    shared_budgets_yen: Mapping[str, float] = field(default_factory=dict)
    fiscal_year: int = FISCAL_YEARS[0]
    spent_yen: np.ndarray = field(init=False)  # by programme
    grants: np.ndarray = field(init=False)
    closed: np.ndarray = field(init=False)
    exhausted_month: np.ndarray = field(init=False)  # step of the month a budget ran out
    exhausted_day: np.ndarray = field(init=False)  # its day, 0 if it did not
    budget_spent_yen: np.ndarray = field(init=False)  # by budget (own or shared)

    def __post_init__(self) -> None:
        n, years = len(self.programmes), len(FISCAL_YEARS)
        self.spent_yen = np.zeros((years, n))
        self.grants = np.zeros((years, n))
        self.closed = np.zeros(n, dtype=bool)
        self.exhausted_month = np.zeros((years, n), dtype=np.int64)
        self.exhausted_day = np.zeros((years, n), dtype=np.int64)
        own = np.array([p.annual_budget_yen for p in self.programmes], dtype=float)
        # each programme draws on a shared budget, or on its own as a budget of one
        pools = list(dict.fromkeys(p.budget or f"programme:{p.name}" for p in self.programmes))
        pool_of = np.array([pools.index(p.budget or f"programme:{p.name}") for p in self.programmes], dtype=np.int64)
        pool_budget = np.array(
            [self.shared_budgets_yen[b] if not b.startswith("programme:") else math.inf for b in pools], dtype=float
        )
        self.budget_spent_yen = np.zeros((years, len(pools)))
        self.arrays = (
            self.spent_yen,
            self.grants,
            self.closed,
            self.exhausted_month,
            self.exhausted_day,
            own,
            pool_of,
            self.budget_spent_yen,
            pool_budget,
        )

    def set_own_budget(self, index: int, yen: float) -> None:
        """A new annual budget of programme ``index``'s own, from now on."""
        self.arrays[5][index] = yen

    def budget_yen(self, index: int) -> float:
        """The most programme ``index`` can grant in a year: the lesser of its own
        budget and the shared one it draws on."""
        return float(min(self.arrays[5][index], self.arrays[8][self.arrays[6][index]]))

    @property
    def row(self) -> int:
        return self.fiscal_year - FISCAL_YEARS[0]

    @property
    def exhausted_on(self) -> dict[tuple[str, int], dt.date]:
        """(programme, fiscal year) -> the day its budget ran out, for the programmes
        running that year (a shared budget's closing marks all of its programmes)."""
        rows, cols = np.nonzero(self.exhausted_day)
        return {
            (self.programmes[c].name, FISCAL_YEARS[r]): Month(int(self.exhausted_month[r, c])).date(
                int(self.exhausted_day[r, c])
            )
            for r, c in zip(rows, cols, strict=True)
            if self.programmes[c].is_active(FISCAL_YEARS[r])
        }

    def start_fiscal_year(self, fiscal_year: int) -> None:
        self.fiscal_year = fiscal_year
        self.closed[:] = False

    def grant(
        self,
        index: int,
        amounts_yen: np.ndarray,
        weight: float,
        arrival_day: np.ndarray,
        month: Month,
    ) -> np.ndarray:
        """Grant applications in order of arrival; returns who was granted.

        ``amounts_yen`` are per simulated agent; each stands for ``weight`` real
        agents, so it draws ``weight`` times its amount from the budget. Applications
        must already be sorted by arrival.
        """
        amounts = np.asarray(amounts_yen, dtype=float)
        days = np.asarray(arrival_day, dtype=np.int64)
        return kernels.grant_in_order(self.arrays, index, amounts, float(weight), days, self.row, month.step)

    def refund(self, index: int, amounts_yen: np.ndarray, weight: float) -> None:
        """Give back grants that agents took and then did not use."""
        kernels.refund(self.arrays, index, float(amounts_yen.sum()), amounts_yen.size, float(weight), self.row)


class PolicyEnvironment:
    """Everything a scenario says about policy, as the populations need it."""

    def __init__(self, scenario: Scenario):
        self.programmes = tuple(
            SubsidyProgramme.from_table(name, table) for name, table in sorted(scenario.section("subsidies").items())
        )
        self.campaigns = tuple(
            Campaign.from_table(name, table) for name, table in sorted(scenario.section("campaigns").items())
        )
        shared = {name: table["annual_budget_yen"] for name, table in scenario.section("budgets").items()}
        self.ledger = BudgetLedger(self.programmes, shared)
        self.programme_arrays = programme_arrays(self.programmes)
        self._programmes_for: dict[tuple[str, str, int], list[int]] = {}
        self._offers: dict[tuple[str, int, tuple[str | None, ...]], tuple[np.ndarray, ...]] = {}
        self._campaigns_for: dict[tuple[str, str, int], list[Campaign]] = {}
        self._campaign_tables: dict[tuple[str, str, tuple[Campaign, ...]], tuple[np.ndarray, np.ndarray]] = {}
        tariffs = scenario.section("tariffs")
        self.residential_fit = Trajectory.from_table(tariffs["residential_yen_per_kwh"])
        self.business_fit = Trajectory.from_table(tariffs["business_yen_per_kwh"])
        jp = scenario.section("joint_purchase")
        self._joint = jp if jp else None
        promo = scenario.section("ppa_promotion")
        self._ppa_promotion = promo if promo else None
        mandate = scenario.section("mandate")
        self._mandate = mandate if mandate else None
        self._ppa_maturity = Trajectory.from_table(scenario["ppa.market_maturity"])

    def start_fiscal_year(self, fiscal_year: int) -> None:
        self.ledger.start_fiscal_year(fiscal_year)

    def programme_index(self, name: str) -> int:
        return next(i for i, p in enumerate(self.programmes) if p.name == name)

    def programme(self, name: str) -> SubsidyProgramme:
        return self.programmes[self.programme_index(name)]

    def set_programme_value(self, name: str, key: str, value: float) -> None:
        """Change one amount or the budget of a programme from now on (a PDCA review,
        :mod:`abm.pdca`); what it granted before stays granted."""
        i = self.programme_index(name)
        programmes = list(self.programmes)
        programmes[i] = dataclasses.replace(programmes[i], **{key: float(value)})
        self.programmes = self.ledger.programmes = tuple(programmes)
        self.programme_arrays = programme_arrays(self.programmes)
        self.ledger.set_own_budget(i, programmes[i].annual_budget_yen)

    def programmes_for(self, technology: str, agents: str, fiscal_year: int) -> list[int]:
        key = (technology, agents, fiscal_year)
        if key not in self._programmes_for:
            self._programmes_for[key] = [
                i
                for i, p in enumerate(self.programmes)
                if p.technology == technology and agents in p.agents and p.is_active(fiscal_year)
            ]
        return self._programmes_for[key]

    def offers(self, agents: str, fiscal_year: int, technologies: tuple[str | None, ...]) -> tuple[np.ndarray, ...]:
        """The grants a decision can draw on, for the compiled choice: (option, programme)
        pairs, where option j is of ``technologies[j]`` (None: no grants). The kernels
        skip the programmes closed for the year."""
        key = (agents, fiscal_year, technologies)
        if key not in self._offers:
            pairs = [
                (j, p)
                for j, technology in enumerate(technologies)
                if technology is not None
                for p in self.programmes_for(technology, agents, fiscal_year)
            ]
            self._offers[key] = (
                np.array([j for j, _ in pairs], dtype=np.int64),
                np.array([p for _, p in pairs], dtype=np.int64),
            )
        return self._offers[key]

    def _campaigns(self, technology: str, agents: str, fiscal_year: int) -> list[Campaign]:
        key = (technology, agents, fiscal_year)
        if key not in self._campaigns_for:
            self._campaigns_for[key] = [c for c in self.campaigns if c.applies(technology, agents, fiscal_year)]
        return self._campaigns_for[key]

    def base_rate_multiplier(
        self, technology: str, agents: str, fiscal_year: int, flags: dict[str, np.ndarray]
    ) -> np.ndarray | float:
        """Product of the multipliers of the campaigns that reach each agent."""
        out: np.ndarray | float = 1.0
        for c in self._campaigns(technology, agents, fiscal_year):
            out = out * np.where(eligible(c.eligibility, flags), c.base_rate_multiplier, 1.0)
        return out

    def utility_bonus(
        self, technology: str, agents: str, fiscal_year: int, flags: dict[str, np.ndarray]
    ) -> np.ndarray | float:
        out: np.ndarray | float = 0.0
        for c in self._campaigns(technology, agents, fiscal_year):
            out = out + np.where(eligible(c.eligibility, flags), c.utility_bonus, 0.0)
        return out

    def grants(self, month: Month) -> tuple:
        """What the compiled choice needs of the grants in ``month``: (programme rules,
        ledger arrays, the ledger's fiscal-year row, the month's step, its days)."""
        return (self.programme_arrays, self.ledger.arrays, self.ledger.row, month.step, month.days)

    def campaign_tables(self, technology: str, agents: str, fiscal_year: int) -> tuple[np.ndarray, np.ndarray]:
        """(base-rate multiplier, utility bonus) by flag code."""
        key = (technology, agents, tuple(self._campaigns(technology, agents, fiscal_year)))  # years share tables
        if key not in self._campaign_tables:
            codes = len(CODE_FLAGS[FLAGS[0]])
            self._campaign_tables[key] = (
                np.broadcast_to(self.base_rate_multiplier(technology, agents, fiscal_year, CODE_FLAGS), codes).copy(),
                np.broadcast_to(self.utility_bonus(technology, agents, fiscal_year, CODE_FLAGS), codes).copy(),
            )
        return self._campaign_tables[key]

    def max_base_rate_multiplier(self, technology: str, agents: str, fiscal_year: int) -> float:
        return math.prod(max(c.base_rate_multiplier, 1.0) for c in self._campaigns(technology, agents, fiscal_year))

    def ppa_maturity(self, fiscal_year: int) -> float:
        m = self._ppa_maturity(fiscal_year)
        p = self._ppa_promotion
        if p and _in_years(p["first_fiscal_year"], p["last_fiscal_year"], fiscal_year):
            m += p.get("maturity_boost", 0.0)
        return min(m, 1.0)

    def joint_purchase(self, fiscal_year: int) -> tuple[float, float]:
        """(share of considering households who join, cost reduction for them)."""
        j = self._joint
        if j and _in_years(j["first_fiscal_year"], j["last_fiscal_year"], fiscal_year):
            return j.get("participation_share", 0.0), j.get("cost_reduction_share", 0.0)
        return 0.0, 0.0

    def pv_mandate_share(self, fiscal_year: int) -> float:
        """Share of new houses that must carry PV in this fiscal year."""
        m = self._mandate
        if m and fiscal_year >= m["pv_on_new_houses_from_fiscal_year"]:
            return m.get("compliance_share", 1.0)
        return 0.0


def programme_arrays(programmes: tuple[SubsidyProgramme, ...]) -> tuple[np.ndarray, ...]:
    """Programmes' rules as arrays, for the compiled choice: (flat yen, yen per kW,
    cap, share of cost, size bands from / to / yen, padded with empty bands,
    eligibility by flag code, whether an adoption log records its grants)."""
    n_bands = max((len(p.bands) for p in programmes), default=0)
    band_from = np.zeros((len(programmes), n_bands))
    band_to = np.zeros((len(programmes), n_bands))
    band_yen = np.zeros((len(programmes), n_bands))
    for i, p in enumerate(programmes):
        for b, (kw_from, kw_to, yen) in enumerate(p.bands):
            band_from[i, b], band_to[i, b], band_yen[i, b] = kw_from, kw_to, yen
    codes = len(CODE_FLAGS[FLAGS[0]])
    table = np.array([np.broadcast_to(eligible(p.eligibility, CODE_FLAGS), codes) for p in programmes], dtype=bool)
    return (
        np.array([p.flat_yen for p in programmes], dtype=float),
        # a battery's size is its kWh (abm.storage), and only batteries pay per kWh
        np.array([p.yen_per_kw + p.yen_per_kwh for p in programmes], dtype=float),
        np.array([p.cap_yen for p in programmes], dtype=float),
        np.array([p.max_share_of_cost for p in programmes], dtype=float),
        band_from,
        band_to,
        band_yen,
        table.reshape(len(programmes), codes),
        np.array([p.level in LOGGED_LEVELS for p in programmes], dtype=bool),
    )


def eligible(eligibility: str, flags: dict[str, np.ndarray]) -> np.ndarray | bool:
    """Which agents an eligibility rule admits, given the agents' flags."""
    if eligibility == "any":
        return True
    if eligibility == "existing":
        return ~flags["new_build"]
    return flags[eligibility]
