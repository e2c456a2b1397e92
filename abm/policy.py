"""Policy as data: subsidy programmes with budgets, tariffs, campaigns and measures.

A :class:`SubsidyProgramme` pays an amount per kW, a flat amount or an amount by size
band, limited by a cap and a share of cost, to the agents and technology it names,
from its first to its last fiscal year. Its annual budget is granted first-come
within the fiscal year: applications are taken in order of arrival and the first
one that no longer fits closes the programme until the next fiscal year, so a budget
is never exceeded. National, prefectural and city programmes stack.

:class:`PolicyEnvironment` gathers what a scenario says about policy and answers the
populations' questions: which grants an agent can expect, whether it gets them,
by how much campaigns raise its base rate, what the tariffs and measures are.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np

from abm.clock import FISCAL_YEARS, Month
from abm.scenario import Scenario
from abm.trajectory import Trajectory


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
    flat_yen: float = 0.0
    bands: tuple[tuple[float, float, float], ...] = ()
    cap_yen: float = math.inf
    max_share_of_cost: float = 1.0
    annual_budget_yen: float = math.inf
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
        """The grant each applicant would receive, before the budget is considered."""
        amount = self.flat_yen + self.yen_per_kw * kw
        for kw_from, kw_to, yen in self.bands:
            amount = amount + np.where((kw >= kw_from) & (kw < kw_to), yen, 0.0)
        return np.minimum(np.minimum(amount, self.cap_yen), self.max_share_of_cost * cost_yen)


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
    """What each programme has granted in each fiscal year, and when it ran out."""

    programmes: tuple[SubsidyProgramme, ...]
    fiscal_year: int = FISCAL_YEARS[0]
    spent_yen: np.ndarray = field(init=False)
    grants: np.ndarray = field(init=False)
    closed: np.ndarray = field(init=False)
    exhausted_on: dict[tuple[str, int], dt.date] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.programmes)
        self.spent_yen = np.zeros((len(FISCAL_YEARS), n))
        self.grants = np.zeros((len(FISCAL_YEARS), n))
        self.closed = np.zeros(n, dtype=bool)

    def start_fiscal_year(self, fiscal_year: int) -> None:
        self.fiscal_year = fiscal_year
        self.closed[:] = False

    def remaining_yen(self, index: int) -> float:
        row = self.fiscal_year - FISCAL_YEARS[0]
        return self.programmes[index].annual_budget_yen - self.spent_yen[row, index]

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
        granted = np.zeros(amounts_yen.shape, dtype=bool)
        if self.closed[index] or amounts_yen.size == 0:
            return granted
        row = self.fiscal_year - FISCAL_YEARS[0]
        cost = np.cumsum(amounts_yen * weight)
        fits = cost <= self.remaining_yen(index) * (1 + 1e-12)
        n_granted = int(np.argmin(fits)) if not fits.all() else fits.size
        granted[:n_granted] = True
        self.spent_yen[row, index] += cost[n_granted - 1] if n_granted else 0.0
        self.grants[row, index] += n_granted * weight
        if n_granted < fits.size:
            self.closed[index] = True
            day = int(arrival_day[n_granted])
            self.exhausted_on[(self.programmes[index].name, self.fiscal_year)] = month.date(day)
        return granted

    def refund(self, index: int, amounts_yen: np.ndarray, weight: float) -> None:
        """Give back grants that agents took and then did not use."""
        row = self.fiscal_year - FISCAL_YEARS[0]
        self.spent_yen[row, index] -= float(amounts_yen.sum()) * weight
        self.grants[row, index] -= amounts_yen.size * weight


class PolicyEnvironment:
    """Everything a scenario says about policy, as the populations need it."""

    def __init__(self, scenario: Scenario):
        self.programmes = tuple(
            SubsidyProgramme.from_table(name, table) for name, table in sorted(scenario.section("subsidies").items())
        )
        self.campaigns = tuple(
            Campaign.from_table(name, table) for name, table in sorted(scenario.section("campaigns").items())
        )
        self.ledger = BudgetLedger(self.programmes)
        self._programmes_for: dict[tuple[str, str, int], list[int]] = {}
        self._campaigns_for: dict[tuple[str, str, int], list[Campaign]] = {}
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

    def programmes_for(self, technology: str, agents: str, fiscal_year: int) -> list[int]:
        key = (technology, agents, fiscal_year)
        if key not in self._programmes_for:
            self._programmes_for[key] = [
                i
                for i, p in enumerate(self.programmes)
                if p.technology == technology and agents in p.agents and p.is_active(fiscal_year)
            ]
        return self._programmes_for[key]

    def open_programmes_for(self, technology: str, agents: str, fiscal_year: int) -> list[int]:
        return [i for i in self.programmes_for(technology, agents, fiscal_year) if not self.ledger.closed[i]]

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


def eligible(eligibility: str, flags: dict[str, np.ndarray]) -> np.ndarray | bool:
    """Which agents an eligibility rule admits, given the agents' flags."""
    if eligibility == "any":
        return True
    if eligibility == "existing":
        return ~flags["new_build"]
    return flags[eligibility]
