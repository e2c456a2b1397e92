"""The household rooftop-PV rules written as idiomatic Mesa: one object per household.

This is the yardstick the array model (:mod:`abm.households`) is timed against. It
implements the same rules as the array model runs under the scenario
``benchmarks/household_pv.toml`` (no grants, campaigns, PPAs, rebuilds or cars):

* Only owner-occupied detached houses decide (renters and flat dwellers have no roof
  of their own); each is one :class:`Household`, a ``mesa.Agent``.
* Each month (``self.agents.shuffle_do("step")``) a household that has not adopted
  computes the adopting share ``s`` of its network neighbours and starts considering
  PV with probability ``1 - exp(-(p + q s) / 12)``.
* A considering household buys with the logit probability of "buy" against
  "nothing" (utility 0): ``constant + econ_weight * NPV / gross cost + attitude
  term + peer_weight * s``. The logit probability is exactly the chance that "buy"
  wins under independent Gumbel noise on both utilities, as in
  :func:`abm.kernels.choose`. NPV is :meth:`abm.economics.PVEconomics.buy_npv`
  for the household's own roof and discount rate at this fiscal year's prices.
* Before April 2014, random owners have PV until their capacity reaches
  ``initial_pv_systems`` typical systems (the array model's
  :meth:`abm.population.RooftopPV.seed_initial_pv`).

Both models take the same synthetic city (:func:`abm.city.build_city`): the
households' roof, discount rate and attitude, and the small-world network among
*all* households. A household's ``neighbours`` are the Agent objects of its
neighbours who are detached owners (the others never adopt), and its ``degree``
counts all its neighbours, so ``s`` is the share the array model computes.

Two differences of implementation, neither of rule: the array model draws all of a
month's decisions against the state at the start of the month, whereas here an
adoption is visible to the households stepped after it in the same month (as in any
``shuffle_do`` model); and the random numbers are drawn in a different order. Both
change single runs, not the distribution of the adoption curve; the test
``tests/test_mesa_reference.py`` checks that across seeds.

The reference gives Mesa its best chance: agents only for the households that
decide, the consideration draw before any economics, and plain lists of neighbours.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from abm.city import DETACHED_OWNER, HouseholdAttributes
from abm.clock import FIRST_FISCAL_YEAR, MONTHS_PER_YEAR, N_STEPS
from abm.economics import Market, PVEconomics
from abm.scenario import Scenario, load_scenario
from abm.trajectory import Trajectory

SCENARIO_PATH = Path(__file__).resolve().parent / "household_pv.toml"


def household_pv_scenario(households: int, path: Path = SCENARIO_PATH) -> Scenario:
    """The household-PV scenario for a city of ``households`` households (at scale 1).

    The initial stock of PV systems is scaled from the city's to keep the city's
    initial adoption share.
    """
    s = load_scenario(path)
    initial = s["households.initial_pv_systems"] * households / s["population.households"]
    return s.with_values(
        {"population.households": households, "households.initial_pv_systems": round(initial)},
        source=f"households={households}",
    )


class Household(mesa.Agent):
    """A detached owner-occupied house deciding whether to buy rooftop PV."""

    def __init__(
        self,
        model: HouseholdPVModel,
        household: int,
        roof_kw: float,
        discount_rate: float,
        attitude: float,
        degree: int,
    ):
        super().__init__(model)
        self.household = household  # row in the city's household arrays
        self.roof_kw = roof_kw
        self.discount_rate = discount_rate
        self.attitude = attitude
        self.degree = max(degree, 1)  # all network neighbours, deciding or not
        self.neighbours: list[Household] = []  # neighbours who are detached owners
        self.adopted = False

    def peer_share(self) -> float:
        return sum(n.adopted for n in self.neighbours) / self.degree

    def step(self) -> None:
        if self.adopted:
            return
        model = self.model
        s = self.peer_share()
        if self.random.random() >= -math.expm1(-(model.p + model.q * s) / MONTHS_PER_YEAR):
            return
        gross = self.roof_kw * model.cost_yen_per_kw
        utility = (
            model.buy_constant
            + model.econ_weight * self.npv() / gross
            + model.attitude_weight * (self.attitude - 0.5)
            + model.peer_weight * s
        )
        if self.random.random() < 1.0 / (1.0 + math.exp(-utility)):
            self.adopted = True

    def npv(self) -> float:
        """NPV of buying PV on this roof at this fiscal year's prices, before grants."""
        m = self.model
        return float(
            m.pv.buy_npv(
                np.array([self.roof_kw]),
                m.cost_yen_per_kw,
                np.array([self.discount_rate]),
                m.self_share,
                m.retail,
                m.fit,
                m.fit_term,
            )[0]
        )


class HouseholdPVModel(mesa.Model):
    """Saitama's detached owners deciding on rooftop PV, one Mesa agent each, monthly
    from April 2014 to March 2051."""

    def __init__(
        self,
        scenario: Scenario,
        households: HouseholdAttributes,
        seed: int,
        behaviour: dict[str, Any] | None = None,
    ):
        super().__init__(rng=seed)
        b = {**scenario.section("behaviour"), **(behaviour or {})}
        t = scenario.section("technology")
        self.p, self.q = b["household_pv_p"], b["household_pv_q"]
        self.buy_constant = b["household_buy_constant"]
        self.econ_weight = b["econ_weight"]
        self.attitude_weight = b["attitude_weight"]
        self.peer_weight = b["peer_weight"]
        self.market = Market(scenario)
        self.pv = PVEconomics(scenario)
        self.fit_by_year = Trajectory.from_table(scenario["tariffs.residential_yen_per_kwh"])
        self.self_share = t["household_self_consumption_share"]
        self.fit_term = t["fit_term_years_residential"]
        self.month = 0
        self.adoption_share: dict[int, float] = {}  # fiscal year -> share of owners with PV at its end

        owners = np.flatnonzero(households.dwelling == DETACHED_OWNER)
        indptr, indices = households.network.indptr, households.network.indices
        by_index: dict[int, Household] = {}
        for i in owners.tolist():
            by_index[i] = Household(
                self,
                i,
                float(households.roof_kw[i]),
                float(households.discount_rate[i]),
                float(households.attitude[i]),
                int(indptr[i + 1] - indptr[i]),
            )
        for i, agent in by_index.items():
            agent.neighbours = [by_index[j] for j in indices[indptr[i] : indptr[i + 1]].tolist() if j in by_index]
        self.seed_initial_pv(list(by_index.values()), scenario["households.initial_pv_systems"], households.weight)
        self._prices()

    def seed_initial_pv(self, owners: list[Household], systems: float, weight: float) -> None:
        """Random owners have PV until their capacity reaches ``systems`` typical systems."""
        if not owners:
            return
        target_kw = systems * sum(a.roof_kw for a in owners) / len(owners)
        order = owners[:]
        self.random.shuffle(order)
        total = 0.0
        for agent in order:
            agent.adopted = True
            total += agent.roof_kw * weight
            if total >= target_kw:
                break

    @property
    def fiscal_year(self) -> int:
        return FIRST_FISCAL_YEAR + self.month // MONTHS_PER_YEAR

    def _prices(self) -> None:
        fy = self.fiscal_year
        self.cost_yen_per_kw = self.market.pv_cost(fy)
        self.retail = self.market.electricity_price(fy)
        self.fit = self.fit_by_year(fy)

    def step(self) -> None:
        self.agents.shuffle_do("step")
        if self.month % MONTHS_PER_YEAR == MONTHS_PER_YEAR - 1:
            self.adoption_share[self.fiscal_year] = self.share_adopted()
        self.month += 1
        if self.month == N_STEPS:
            self.running = False
        elif self.month % MONTHS_PER_YEAR == 0:
            self._prices()

    def share_adopted(self) -> float:
        return sum(a.adopted for a in self.agents) / max(len(self.agents), 1)

    def run(self) -> None:
        while self.running:
            self.step()
