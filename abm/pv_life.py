"""The life of a PV system: it ages, its output degrades, and at the end of its life
its owner repowers it, keeps it running or removes it.

Every system on a roof (households' and businesses' own PV and PPA systems) carries
the fiscal year it was installed. Its output falls by ``pv_degradation_per_year`` for
each year of age, so the city's generation counts each system at its age. Systems in
place in April 2014 were installed uniformly from FY``initial_pv_oldest_install_year``
to FY2013.

A system owned outright also carries the fiscal year its life ends: lives follow a
Weibull law with mean ``pv_life_years`` and shape ``pv_life_weibull_shape`` (the
"regular loss" law of IRENA and IEA-PVPS, 2016). At the start of each fiscal year the
owners whose systems reached the end of their life choose by the logit rule of their
other decisions (utility = constant + econ_weight x value / cost of a new system + a
Gumbel taste):

* repower: a new system of the same size at this year's price, valued as a purchase
  with this year's feed-in tariff, the constant of buying PV;
* keep: the old system for ``pv_keep_years`` more at its degraded output,
  self-consumed at the expected retail price and exported at the post-FIT price, less
  its upkeep, constant ``pv_keep_constant``; its owner decides again at the end;
* remove: nothing (utility 0); the owner may buy PV again later, as any owner. A
  ZEH's PV is part of what makes it one: its owner repowers or keeps.

Panels repowered or removed are waste, ``pv_panel_t_per_kw`` tonnes per kW: the
figure the strategy's measure for the proper disposal of panels is about. PPA systems
age but are the provider's to renew: they are not removed. Grants do not pay for
repowering (no programme of the city's does).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gamma

import numpy as np

from abm.clock import FIRST_FISCAL_YEAR
from abm.economics import PVEconomics, annuity
from abm.scenario import Scenario

NOT_INSTALLED = -1
NO_END = np.iinfo(np.int16).max  # the life end of a roof without a system of its own
REPOWER, KEEP, REMOVE = range(3)


@dataclass
class LifeFlows:
    """A fiscal year's end-of-life decisions, per simulated agent (kW, systems)."""

    repowered_kw: float = 0.0
    kept_kw: float = 0.0
    removed_kw: float = 0.0
    removed_systems: float = 0.0


class PVLife:
    """The installation year and end of life of one population's rooftop systems."""

    def __init__(self, scenario: Scenario, n_agents: int, seed: int, stream: int):
        t = scenario.section("technology")
        self.enabled = t["pv_end_of_life"]
        self.degradation = t["pv_degradation_per_year"]
        self.mean_life = t["pv_life_years"]
        self.shape = t["pv_life_weibull_shape"]
        self.keep_years = t["pv_keep_years"]
        self.panel_t_per_kw = t["pv_panel_t_per_kw"]
        self.oldest = t["initial_pv_oldest_install_year"]
        self.keep_constant = scenario["behaviour.pv_keep_constant"]
        # draws of their own, so that the decisions' streams are those of a model without ageing
        self.rng = np.random.default_rng([seed, 0x5F11FE, stream])
        self.installed = np.full(n_agents, NOT_INSTALLED, dtype=np.int16)
        self.ppa_installed = np.full(n_agents, NOT_INSTALLED, dtype=np.int16)
        self.life_ends = np.full(n_agents, NO_END, dtype=np.int16)
        self.year = LifeFlows()
        self.removed_kw = 0.0  # since April 2014, per simulated agent
        self.removed_systems = 0.0
        # kW on roofs (owned and PPA) by the fiscal year installed: sums of float32
        # capacities, exact in float64, so that what is added and taken away cancels
        self._kw_by_vintage: dict[int, float] = {}

    def _lives(self, n: int) -> np.ndarray:
        scale = self.mean_life / _weibull_mean_factor(self.shape)
        return np.maximum(1, np.rint(scale * self.rng.weibull(self.shape, n))).astype(np.int16)

    def _count(self, installed: np.ndarray, kw: np.ndarray, sign: float = 1.0) -> None:
        """Add (or with ``sign=-1`` take away) systems of ``kw`` installed in ``installed``."""
        years, at = np.unique(installed, return_inverse=True)
        by_year = np.bincount(at, weights=kw.astype(np.float64), minlength=years.size)
        for year, total in zip(years.tolist(), by_year.tolist(), strict=True):
            self._kw_by_vintage[year] = self._kw_by_vintage.get(year, 0.0) + sign * total

    def seed(self, pv_kw: np.ndarray, ppa_kw: np.ndarray) -> None:
        """The systems in place in April 2014: installed from the oldest year to FY2013."""
        for kw, installed in ((pv_kw, self.installed), (ppa_kw, self.ppa_installed)):
            agents = np.flatnonzero(kw > 0)
            installed[agents] = self.rng.integers(self.oldest, FIRST_FISCAL_YEAR, agents.size)
            self._count(installed[agents], kw[agents])
        owned = np.flatnonzero(pv_kw > 0)
        self.life_ends[owned] = self.installed[owned] + self._lives(owned.size)

    def register(self, fiscal_year: int, pv_kw: np.ndarray, ppa_kw: np.ndarray) -> None:
        """Systems bought in the fiscal year before ``fiscal_year`` get their year and life."""
        installed_in = fiscal_year - 1
        new = np.flatnonzero((pv_kw > 0) & (self.installed == NOT_INSTALLED))
        self.installed[new] = installed_in
        self.life_ends[new] = installed_in + self._lives(new.size)
        new_ppa = np.flatnonzero((ppa_kw > 0) & (self.ppa_installed == NOT_INSTALLED))
        self.ppa_installed[new_ppa] = installed_in
        self._kw_by_vintage[installed_in] = self._kw_by_vintage.get(installed_in, 0.0) + float(
            np.sum(pv_kw[new], dtype=np.float64) + np.sum(ppa_kw[new_ppa], dtype=np.float64)
        )

    def degraded_kw(self, fiscal_year: int) -> float:
        """Capacity lost to age at the end of ``fiscal_year``, per simulated agent: a
        system of age a produces (1 - degradation)^a of a new one."""
        if not self.enabled:
            return 0.0
        log_kept = np.log1p(-self.degradation)
        return sum(kw * -np.expm1((fiscal_year - year) * log_kept) for year, kw in self._kw_by_vintage.items())

    def end_of_life(
        self,
        fiscal_year: int,
        pv_kw: np.ndarray,
        value: EndOfLifeValues,
        rate: np.ndarray,
        buy_constant: float,
        econ_weight: float,
        keeps_its_pv: np.ndarray | None = None,
    ) -> np.ndarray:
        """The owners whose systems' lives end this year choose; returns those who
        removed theirs (their ``pv_kw`` is set to 0). Owners where ``keeps_its_pv``
        (a ZEH, whose PV is part of what makes it one) repower or keep."""
        self.year = LifeFlows()
        if not self.enabled:
            return np.empty(0, dtype=np.int64)
        due = np.flatnonzero(self.life_ends <= fiscal_year)
        if due.size == 0:
            return due
        kw = pv_kw[due].astype(np.float64)
        age = fiscal_year - self.installed[due].astype(np.float64)
        utility = np.zeros((due.size, 3))
        cost = value.new_cost_yen_per_kw * kw
        utility[:, REPOWER] = buy_constant + econ_weight * value.repower_npv(kw, rate[due]) / cost
        utility[:, KEEP] = self.keep_constant + econ_weight * value.keep_npv(kw, age, rate[due], self.keep_years) / cost
        if keeps_its_pv is not None:
            utility[keeps_its_pv[due], REMOVE] = -np.inf
        choice = np.argmax(utility + self.rng.gumbel(size=utility.shape), axis=1)
        repower, keep, remove = (due[choice == c] for c in (REPOWER, KEEP, REMOVE))
        taken_down = np.concatenate((repower, remove))
        self._count(self.installed[taken_down], pv_kw[taken_down], sign=-1.0)
        self._count(np.full(repower.size, fiscal_year), pv_kw[repower])
        self.installed[repower] = fiscal_year
        self.life_ends[repower] = fiscal_year + self._lives(repower.size)
        self.life_ends[keep] = fiscal_year + self.keep_years
        removed_kw = float(pv_kw[remove].astype(np.float64).sum())
        self.year = LifeFlows(
            repowered_kw=float(pv_kw[repower].astype(np.float64).sum()),
            kept_kw=float(pv_kw[keep].astype(np.float64).sum()),
            removed_kw=removed_kw,
            removed_systems=float(remove.size),
        )
        pv_kw[remove] = 0.0
        self.installed[remove] = NOT_INSTALLED
        self.life_ends[remove] = NO_END
        self.removed_kw += removed_kw
        self.removed_systems += remove.size
        return remove

    def panels_removed_t(self) -> float:
        """Panels taken down this fiscal year (repowered or removed), tonnes per simulated agent."""
        return (self.year.repowered_kw + self.year.removed_kw) * self.panel_t_per_kw


def _weibull_mean_factor(shape: float) -> float:
    """Mean of a Weibull law of scale 1: Gamma(1 + 1/shape)."""
    return gamma(1.0 + 1.0 / shape)


@dataclass(frozen=True)
class EndOfLifeValues:
    """What repowering and keeping are worth this fiscal year (yen), for owners
    discounting at their own rates."""

    pv: PVEconomics
    new_cost_yen_per_kw: float
    retail_yen_per_kwh: float
    fit_yen_per_kwh: float
    fit_term: int
    self_share: float

    def repower_npv(self, kw: np.ndarray, rate: np.ndarray) -> np.ndarray:
        return self.pv.buy_npv(
            kw,
            self.new_cost_yen_per_kw,
            rate,
            self.self_share,
            self.retail_yen_per_kwh,
            self.fit_yen_per_kwh,
            self.fit_term,
        )

    def keep_npv(self, kw: np.ndarray, age: np.ndarray, rate: np.ndarray, years: int) -> np.ndarray:
        pv = self.pv
        output_kwh = kw * pv.yield_kwh_per_kw * (1 - pv.degradation) ** age
        per_kwh = self.self_share * self.retail_yen_per_kwh + (1 - self.self_share) * pv.post_fit
        growth = (1 + pv.price_trend) * (1 - pv.degradation) - 1
        return output_kwh * per_kwh * annuity(rate, growth, 1, years) - kw * pv.om * annuity(rate, 0.0, 1, years)
