"""Home storage: a battery beside a household's PV, and V2H for one with an EV.

A battery moves part of a PV system's output from export to the house's own use: the
household's self-consumption rises from ``household_self_consumption_share`` to
``battery_self_consumption_share`` (at most ``home_battery_kwh`` x
``battery_cycles_per_year`` kWh a year pass through it), and each kWh moved earns the
retail price it saves, less the round-trip loss, instead of the export price it would
have fetched: the feed-in tariff while the system's term runs, the post-FIT price
after it. V2H (vehicle to home) does the same with the EV's battery, which is away
part of the day (``v2h_self_consumption_share``), and needs an EV and a detached
house; without PV it saves nothing by this account, and only its constant (what a
household sees in backup power) speaks for it. A battery's capacity fades by
``battery_fade_per_year``; a battery or V2H unit at the end of its life is gone and
its household may decide again.

Who decides, and when (detached owners only, as for rooftop PV):

* a household that has just bought PV (on its roof or with a new house or ZEH);
* a household whose PV leaves its feed-in tariff: in that fiscal year, with
  probability ``post_fit_storage_consideration``, it chooses between exporting at the
  post-FIT price and storing (systems from before the FIT, November 2009, were under
  the surplus-purchase scheme of the same term from then). Not every household
  weighs it: in FY2019, when about 530,000 households left the scheme, national
  shipments of home batteries rose by about 41,000 (JEMA);
* a household with a roof that has just bought an EV;
* any household with PV or an EV, at the yearly rate ``household_storage_p``.

A deciding household chooses among nothing (0), a battery (1, with PV) and V2H (2,
with an EV) by the logit rule of the other decisions: utility = constant +
econ_weight x NPV / cost + attitude + a Gumbel taste, with grants (per kWh for a
battery, flat for V2H) applied for first come through the same ledger
(:func:`abm.decision.choose`). The decision is made after the PV or EV purchase it
follows, so a battery's value does not enter the PV choice (a household decides
on PV as if no battery existed: the model's PV uptake is that of a city without
storage, and storage changes it only through budgets it shares with PV).

The decisions draw from a generator of their own, so that with both constants at
minus infinity every other decision draws what it draws without storage.

What storage changes in the accounts: no renewable energy (the PV output is counted
once, as generated, whether exported or used at home), but the round-trip losses
add to the city's demand, and the outputs show the PV self-consumed with and without
storage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from abm import kernels
from abm.clock import FIRST_FISCAL_YEAR, MONTHS_PER_YEAR, Month
from abm.decision import Option, choose
from abm.economics import annuity_over
from abm.kernels import DT_YEARS
from abm.policy import PolicyEnvironment
from abm.scenario import Scenario
from abm.trajectory import Trajectory

NOT_INSTALLED = -1
NOTHING, BATTERY, V2H = range(3)
# the first fiscal year of the surplus-purchase scheme (November 2009) that became the FIT
SURPLUS_PURCHASE_FROM = 2009


def storage_npv(
    shifted_kwh: np.ndarray,
    life_years: int,
    fade_per_year: float,
    rate: np.ndarray,
    retail_yen_per_kwh: float,
    price_trend: float,
    efficiency: float,
    fit_yen_per_kwh: np.ndarray,
    fit_years_left: np.ndarray,
    post_fit_yen_per_kwh: float,
) -> np.ndarray:
    """Present value (yen) of moving ``shifted_kwh`` a year from export to own use for
    ``life_years``: each moved kWh saves ``efficiency`` kWh at the retail price (which
    follows ``price_trend``) and forgoes its export, at the FIT for the system's
    ``fit_years_left`` and at the post-FIT price after them; the amount moved fades."""
    # three geometric series: the savings (fading and following the price), and the
    # faded kWh over the tariff's years left and over the years after them
    rate = np.asarray(rate, dtype=float)
    at_fit = np.minimum(np.asarray(fit_years_left), life_years)
    saved_growth = (1.0 + price_trend) * (1.0 - fade_per_year) - 1.0
    saved = efficiency * retail_yen_per_kwh * annuity_over(rate, saved_growth, life_years)
    faded_fit = annuity_over(rate, -fade_per_year, at_fit)
    faded_all = annuity_over(rate, -fade_per_year, life_years)
    export = np.asarray(fit_yen_per_kwh) * faded_fit + post_fit_yen_per_kwh * (faded_all - faded_fit)
    return np.asarray(shifted_kwh, dtype=float) * (saved - export)


@dataclass
class StorageFlows:
    """A fiscal year's storage decisions, per simulated agent."""

    deciding: float = 0.0
    batteries: float = 0.0
    v2h: float = 0.0
    subsidised: float = 0.0
    grant_yen: float = 0.0


class HomeStorage:
    """Batteries and V2H units of the households."""

    def __init__(self, scenario: Scenario, behaviour: dict, n_agents: int, owners: np.ndarray, seed: int):
        """``behaviour`` is the run's [behaviour] (with any calibrated draw)."""
        t, prices, b = scenario.section("technology"), scenario.section("prices"), behaviour
        self.own_share = t["household_self_consumption_share"]
        self.battery_share = t["battery_self_consumption_share"]
        self.v2h_share = t["v2h_self_consumption_share"]
        self.battery_size_kwh = t["home_battery_kwh"]
        self.cycles = t["battery_cycles_per_year"]
        self.efficiency = t["battery_round_trip_efficiency"]
        self.battery_life = t["battery_life_years"]
        self.fade = t["battery_fade_per_year"]
        self.v2h_life = t["v2h_life_years"]
        self.yield_kwh_per_kw = t["pv_yield_kwh_per_kw_year"]
        self.fit_term = t["fit_term_years_residential"]
        self.post_fit = t["post_fit_yen_per_kwh"]
        self.price_trend = prices["electricity_price_trend_per_year"]
        self.battery_cost = Trajectory.from_table(
            prices["battery_cost_yen_per_kwh"], -prices["battery_cost_decline_per_year"]
        )
        self.v2h_cost = Trajectory({2014: t["v2h_cost_yen"]}, -prices["v2h_cost_decline_per_year"])
        self.month_probability = -np.expm1(-b["household_storage_p"] * DT_YEARS)
        self.post_fit_consideration = b["post_fit_storage_consideration"]
        self.owner = np.zeros(n_agents, dtype=bool)
        self.owner[owners] = True
        self.owners = owners
        self.battery_installed = np.full(n_agents, NOT_INSTALLED, dtype=np.int16)
        self.shifted_kwh = np.zeros(n_agents, dtype=np.float32)  # kWh a year moved to own use when new
        self.v2h_installed = np.full(n_agents, NOT_INSTALLED, dtype=np.int16)
        # the same units by the fiscal year they were installed, so that a year's work
        # touches the units there are, not every household
        self.battery_vintages, self.v2h_vintages = Vintages(), Vintages()
        self.rng = np.random.default_rng([seed, 0x5702A6E])
        self._stream = kernels.Stream(self.rng)
        self.year = StorageFlows()
        self.fiscal_year = FIRST_FISCAL_YEAR
        self._post_fit_due: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * MONTHS_PER_YEAR

    def tariff_term_start(self, installed: np.ndarray) -> np.ndarray:
        """The fiscal year a system's feed-in term began: its installation, or the start
        of the surplus-purchase scheme for the systems before it."""
        return np.maximum(installed, SURPLUS_PURCHASE_FROM)

    def has_storage(self, agents: np.ndarray) -> np.ndarray:
        return (self.battery_installed[agents] != NOT_INSTALLED) | (self.v2h_installed[agents] != NOT_INSTALLED)

    def start_fiscal_year(self, fiscal_year: int, pv_kw: np.ndarray, installed: np.ndarray) -> None:
        """Retire the units at the end of their life and spread over the year's months
        the households whose PV leaves its feed-in tariff this year."""
        self.year = StorageFlows()
        self.fiscal_year = fiscal_year
        ended = self.battery_vintages.pop(fiscal_year - self.battery_life)
        self.shifted_kwh[ended] = 0.0
        self.battery_installed[ended] = NOT_INSTALLED
        self.v2h_installed[self.v2h_vintages.pop(fiscal_year - self.v2h_life)] = NOT_INSTALLED
        since = installed[self.owners]
        due = self.owners[(since != NOT_INSTALLED) & (self.tariff_term_start(since) + self.fit_term == fiscal_year)]
        due = due[(pv_kw[due] > 0) & ~self.has_storage(due)]
        due = due[self.rng.random(due.size) < self.post_fit_consideration]
        month_of = self.rng.integers(0, MONTHS_PER_YEAR, due.size)
        self._post_fit_due = [due[month_of == k] for k in range(MONTHS_PER_YEAR)]

    def without_pv(self, agents: np.ndarray) -> None:
        """``agents`` removed their PV: a battery beside it has nothing left to move."""
        self.shifted_kwh[agents] = 0.0

    def candidates(
        self, month: Month, bought_pv: np.ndarray, bought_ev: np.ndarray, pv_kw: np.ndarray, ev: np.ndarray
    ) -> np.ndarray:
        """This month's deciding households: new PV, new EVs on a roof of their own,
        PV leaving its tariff, and those drawn at the yearly rate."""
        drawn = self.owners[kernels.bernoulli_positions(self._stream, self.owners.size, self.month_probability)]
        agents = np.concatenate(
            [bought_pv, bought_ev[self.owner[bought_ev]], self._post_fit_due[month.step % MONTHS_PER_YEAR], drawn]
        )
        # sorted and without repeats, as np.unique gives (numpy 2's hash path is ten
        # times slower on a month's few hundred households)
        agents = np.sort(agents)
        agents = agents[np.concatenate((agents[:1] >= 0, agents[1:] != agents[:-1]))]
        return agents[((pv_kw[agents] > 0) | ev[agents]) & ~self.has_storage(agents)]

    def decide(
        self,
        month: Month,
        agents: np.ndarray,
        pv_kw: np.ndarray,
        ev: np.ndarray,
        installed: np.ndarray,
        rebuilt: np.ndarray,
        rate: np.ndarray,
        attitude_utility: np.ndarray,
        retail_yen_per_kwh: float,
        fit_by_year: np.ndarray,
        policy: PolicyEnvironment,
        behaviour: dict,
        weight: float,
    ) -> None:
        """The choice of ``agents`` (from :meth:`candidates`) among nothing, a battery
        and V2H, with first-come grants; installs what they chose. ``installed`` is
        each PV system's fiscal year (:class:`abm.pv_life.PVLife`), ``fit_by_year``
        the residential tariff of each fiscal year from FY2014; ``rate`` and
        ``attitude_utility`` are the deciding households' discount rates and the
        attitude part of their utility."""
        if agents.size == 0:
            return
        fy = month.fiscal_year
        kw = pv_kw[agents].astype(float)
        has_pv, has_ev = kw > 0, ev[agents]
        generation = kw * self.yield_kwh_per_kw
        # the tariff each system earns, and its years left (a new system's term is whole)
        since = installed[agents].astype(np.int64)
        since = np.where(since == NOT_INSTALLED, fy, since)
        term_start = self.tariff_term_start(since)
        fit_left = np.maximum(term_start + self.fit_term - fy, 0)
        # tariffs before FY2014 are taken at FY2014's (the scenarios' tariffs start there)
        fit = fit_by_year[np.clip(term_start - FIRST_FISCAL_YEAR, 0, fit_by_year.size - 1)]
        battery_shift = np.minimum((self.battery_share - self.own_share) * generation,
                                   self.battery_size_kwh * self.cycles)  # fmt: skip
        v2h_shift = (self.v2h_share - self.own_share) * generation
        common = dict(rate=rate, retail_yen_per_kwh=retail_yen_per_kwh, price_trend=self.price_trend,
                      efficiency=self.efficiency, fit_yen_per_kwh=fit, fit_years_left=fit_left,
                      post_fit_yen_per_kwh=self.post_fit)  # fmt: skip
        battery_gross = np.full(agents.size, self.battery_size_kwh * self.battery_cost(fy))
        v2h_gross = np.full(agents.size, self.v2h_cost(fy))
        battery_value = storage_npv(battery_shift, self.battery_life, self.fade, **common) - battery_gross
        v2h_value = storage_npv(v2h_shift, self.v2h_life, 0.0, **common) - v2h_gross
        flags = {"new_build": rebuilt[agents]}
        econ = behaviour["econ_weight"]
        utility = np.zeros((agents.size, 3))
        yen_to_utility = np.zeros((agents.size, 3))
        for column, technology, able, value, gross in (
            (BATTERY, "battery", has_pv, battery_value, battery_gross),
            (V2H, "v2h", has_ev, v2h_value, v2h_gross),
        ):
            utility[:, column] = np.where(
                able,
                behaviour[f"{technology}_constant"] + econ * value / gross + attitude_utility
                + policy.utility_bonus(technology, "households", fy, flags),
                -np.inf,
            )  # fmt: skip
            yen_to_utility[:, column] = econ / gross
        options = (
            Option(None),
            Option("battery", kw=np.full(agents.size, self.battery_size_kwh), cost_yen=battery_gross),
            Option("v2h", kw=np.zeros(agents.size), cost_yen=v2h_gross),
        )
        decision = choose(self.rng, policy, month, "households", weight, flags, utility, yen_to_utility, options)
        batteries, v2h = agents[decision.chosen == BATTERY], agents[decision.chosen == V2H]
        self.battery_installed[batteries] = fy
        self.shifted_kwh[batteries] = battery_shift[decision.chosen == BATTERY]
        self.v2h_installed[v2h] = fy
        self.battery_vintages.add(fy, batteries)
        self.v2h_vintages.add(fy, v2h)
        y = self.year
        y.deciding += agents.size
        y.batteries += batteries.size
        y.v2h += v2h.size
        y.subsidised += float(np.count_nonzero(decision.grant_yen > 0))
        y.grant_yen += float(decision.grant_yen.sum())

    def shifted_gwh(self, pv_kw: np.ndarray, batteries: np.ndarray, v2h_households: np.ndarray) -> float:
        """PV output moved from export to own use by storage this year, GWh per
        simulated agent: each battery at its fade, and each V2H unit with PV."""
        age = self.fiscal_year - self.battery_installed[batteries].astype(np.float64)
        battery = float(np.sum(self.shifted_kwh[batteries] * (1.0 - self.fade) ** age))
        v2h = float(np.sum(pv_kw[v2h_households])) * self.yield_kwh_per_kw * (self.v2h_share - self.own_share)
        return (battery + v2h) / 1e6

    def stocks(self, pv_kw: np.ndarray) -> dict[str, float]:
        """Units, kWh and the PV moved to own use now, per simulated agent."""
        batteries, v2h_households = self.battery_vintages.all(), self.v2h_vintages.all()
        shifted = self.shifted_gwh(pv_kw, batteries, v2h_households)
        return {
            "home_batteries": float(batteries.size),
            "home_battery_kwh": batteries.size * self.battery_size_kwh,
            "v2h_units": float(v2h_households.size),
            "storage_shifted_gwh": shifted,
            "storage_losses_gwh": shifted * (1.0 - self.efficiency),
        }


class Vintages:
    """Units by the fiscal year they were installed: the agents holding them."""

    def __init__(self) -> None:
        self._agents: dict[int, list[np.ndarray]] = {}

    def add(self, fiscal_year: int, agents: np.ndarray) -> None:
        if agents.size:
            self._agents.setdefault(fiscal_year, []).append(agents)

    def pop(self, fiscal_year: int) -> np.ndarray:
        """The agents of ``fiscal_year``'s units, which are no longer kept here."""
        return _joined(self._agents.pop(fiscal_year, []))

    def all(self) -> np.ndarray:
        return _joined([a for year in self._agents.values() for a in year])


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
