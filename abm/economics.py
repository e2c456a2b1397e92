"""Prices, costs and the value of each option to an agent.

:class:`Market` turns a scenario's price trajectories into yearly figures. The value
functions give the net present value (yen) of an option to each agent, vectorised
over agents: rooftop PV bought outright, PV through a PPA, a ZEH over a standard
house, an EV over a petrol car, and solar sharing. Cash flows are yearly, discounted
at the agent's own rate; electricity is expected to follow today's price and the
scenario's trend.
"""

from __future__ import annotations

import numpy as np

from abm.clock import FISCAL_YEARS
from abm.kernels import PV_FACTOR_NAMES, annuity_column, pv_buy_npv, pv_ppa_npv
from abm.scenario import Scenario
from abm.trajectory import Trajectory


def annuity(rate: np.ndarray | float, growth: float, first: int, last: int) -> np.ndarray:
    """Present value of a payment of 1 in year ``first`` growing by ``growth`` a year
    to year ``last`` (inclusive), discounted at ``rate``: sum of (1+g)^(t-first)/(1+r)^t.
    (A flow that has grown since year 1 needs the factor (1+g)^(first-1) on top.)"""
    rate = np.asarray(rate, dtype=float)
    table = np.empty((rate.size, 1))
    Discounting(rate).annuity_into(table, 0, growth, first, last)
    return table[:, 0].reshape(rate.shape)


def annuity_over(rate: np.ndarray, growth: float, years: np.ndarray | int) -> np.ndarray:
    """``annuity(rate, growth, 1, years)`` with each agent's own number of ``years``
    (0 gives 0), in the closed form of :func:`abm.kernels.annuity_column`."""
    one_plus_rate = 1.0 + np.asarray(rate, dtype=float)
    ratio = (1.0 + growth) / one_plus_rate
    years = np.asarray(years, dtype=float)
    flat = np.abs(ratio - 1.0) < 1e-9
    series = np.where(flat, years, (1.0 - ratio**years) / np.where(flat, 1.0, 1.0 - ratio))
    return series / one_plus_rate


class Discounting:
    """Annuities (:func:`annuity`) for agents discounting at ``rate``, written into a
    column of a table; the annuities of one set of agents share ``1 + rate``, its
    powers and the growth ratios. Elementwise in a compiled loop
    (:func:`abm.kernels.annuity_column`) but for the powers, which numpy computes as
    before, so that every factor keeps its bits."""

    def __init__(self, rate: np.ndarray):
        self.rate = np.ascontiguousarray(rate, dtype=float).reshape(-1)
        self._one_plus_rate = 1.0 + self.rate
        self._ratios: dict[float, np.ndarray] = {}
        self._discounts: dict[int, np.ndarray] = {}

    def annuity_into(
        self, table: np.ndarray, column: int, growth: float, first: int, last: int, scale: float = 1.0
    ) -> None:
        """``table[:, column] = annuity(rate, growth, first, last) * scale``."""
        if table.ndim != 2 or table.shape[0] != self.rate.size or not 0 <= column < table.shape[1]:
            raise ValueError(f"need a table of {self.rate.size} rows with a column {column}, got shape {table.shape}")
        if last < first:
            table[:, column] = 0.0
            return
        ratio = self._ratios.get(growth)
        if ratio is None:
            ratio = self._ratios[growth] = (1.0 + growth) / self._one_plus_rate
        discount = self._discounts.get(first)
        if discount is None:
            discount = self._discounts[first] = self._one_plus_rate**first
        years = last - first + 1
        annuity_column(ratio, ratio**years, years, discount, float(scale), table, column)


class Market:
    """Yearly prices and costs from a scenario's trajectories."""

    def __init__(self, scenario: Scenario):
        prices, tech = scenario.section("prices"), scenario.section("technology")
        decline = -prices["pv_cost_decline_per_year"]
        self.pv_cost = Trajectory.from_table(prices["pv_cost_yen_per_kw"], decline)
        self.pv_cost_new_build = Trajectory.from_table(prices["pv_cost_new_build_yen_per_kw"], decline)
        self.business_pv_cost_factor = prices["business_pv_cost_factor"]
        self.price_trend = prices["electricity_price_trend_per_year"]
        self.electricity_price = Trajectory.from_table(prices["electricity_price_yen_per_kwh"], self.price_trend)
        # what deciding agents expect to pay: recent prices, not one year's alone
        self.expected_electricity_price = self.electricity_price.adaptive_expectation(
            scenario["behaviour.price_expectation_weight"]
        )
        self.business_price_factor = prices["business_price_factor"]
        premium = {int(k): v for k, v in tech["ev_premium_yen"].items()}
        last = max(premium)
        parity = tech["ev_price_parity_fiscal_year"]
        if parity > last:
            premium[parity] = 0.0
        self.ev_premium = Trajectory(premium)
        self.solar_sharing_cost = Trajectory(
            {2021: tech["solar_sharing_cost_yen_per_kw"]},
            -tech["solar_sharing_cost_decline_per_year"],
        )

    def table(self) -> dict[str, list[float]]:
        """Every price by fiscal year, for reports."""
        return {
            "fiscal_year": list(FISCAL_YEARS),
            "pv_cost_yen_per_kw": self.pv_cost.as_array().tolist(),
            "electricity_price_yen_per_kwh": self.electricity_price.as_array().tolist(),
            "expected_electricity_price_yen_per_kwh": self.expected_electricity_price.as_array().tolist(),
            "ev_premium_yen": self.ev_premium.as_array().tolist(),
        }


class PVEconomics:
    """Net present value of rooftop PV and PPA contracts for given agents."""

    def __init__(self, scenario: Scenario):
        t = scenario.section("technology")
        self.yield_kwh_per_kw = t["pv_yield_kwh_per_kw_year"]
        self.degradation = t["pv_degradation_per_year"]
        self.life = t["pv_life_years"]
        self.om = t["pv_om_yen_per_kw_year"]
        self.post_fit = t["post_fit_yen_per_kwh"]
        ppa = scenario.section("ppa")
        self.ppa_discount = ppa["discount_share"]
        self.ppa_term = ppa["term_years"]
        self.price_trend = scenario["prices.electricity_price_trend_per_year"]
        self.constants = (self.yield_kwh_per_kw, self.om, self.post_fit, self.ppa_discount)

    def __eq__(self, other: object) -> bool:
        """Equal numbers: the same factors and values (:class:`abm.city.Derived`)."""
        return type(other) is type(self) and vars(other) == vars(self)

    __hash__ = None  # type: ignore[assignment]  # mutable, equal by value

    def factors(self, rate: np.ndarray, fit_term: int) -> PVFactors:
        """Present-value factors for agents discounting at ``rate``: they depend only
        on the agent and the contract, so populations compute them once."""
        table = np.empty((np.size(rate), len(PVFactors.NAMES)))
        self.write_factors(Discounting(rate), fit_term, table)
        return PVFactors(table)

    def write_factors(self, discounting: Discounting, fit_term: int, table: np.ndarray) -> None:
        """The factors of :meth:`factors` into the first columns of ``table``, in the
        order of :data:`abm.kernels.PV_FACTOR_NAMES`."""
        d = -self.degradation
        own_growth = (1 + self.price_trend) * (1 + d) - 1
        life, term = self.life, self.ppa_term
        columns = (  # growth, first year, last year, factor on top
            (own_growth, 1, life, 1.0),  # own
            (d, 1, min(fit_term, life), 1.0),  # fit
            (d, fit_term + 1, life, (1 + d) ** fit_term),  # post_fit
            (0.0, 1, life, 1.0),  # om
            (own_growth, 1, term, 1.0),  # ppa_during
            (own_growth, term + 1, life, (1 + own_growth) ** term),  # ppa_own_after
            (d, term + 1, life, (1 + d) ** term),  # ppa_export_after
            (0.0, term + 1, life, 1.0),  # ppa_om_after
        )
        for column, (growth, first, last, scale) in enumerate(columns):
            discounting.annuity_into(table, column, growth, first, last, scale)

    def buy_npv_with(
        self,
        kw: np.ndarray,
        cost_yen_per_kw: float | np.ndarray,
        f: PVFactors,
        self_share: float | np.ndarray,
        retail: float,
        fit: float,
    ) -> np.ndarray:
        """NPV of buying PV, before grants (:func:`abm.kernels.pv_buy_npv`)."""
        return pv_buy_npv(self.constants, kw, cost_yen_per_kw, f.own, f.fit, f.post_fit, f.om, self_share, retail, fit)

    def buy_npv(
        self,
        kw: np.ndarray,
        cost_yen_per_kw: float | np.ndarray,
        rate: np.ndarray,
        self_share: float | np.ndarray,
        retail: float,
        fit: float,
        fit_term: int,
    ) -> np.ndarray:
        """NPV of buying PV, before grants, for agents discounting at ``rate``."""
        return self.buy_npv_with(kw, cost_yen_per_kw, self.factors(rate, fit_term), self_share, retail, fit)

    def ppa_npv_with(self, kw: np.ndarray, f: PVFactors, self_share: float | np.ndarray, retail: float) -> np.ndarray:
        """NPV of a PPA (:func:`abm.kernels.pv_ppa_npv`)."""
        return pv_ppa_npv(
            self.constants, kw, f.ppa_during, f.ppa_own_after, f.ppa_export_after, f.ppa_om_after, self_share, retail
        )

    def ppa_npv(self, kw: np.ndarray, rate: np.ndarray, self_share: float | np.ndarray, retail: float) -> np.ndarray:
        return self.ppa_npv_with(kw, self.factors(rate, 0), self_share, retail)


class PVFactors:
    """Present-value factors of PV cash flows (yen now per yen a year): one row per
    agent of one array, which a roof owners' table (:class:`abm.population.RooftopPV`)
    takes as its first columns."""

    NAMES = PV_FACTOR_NAMES  # the order of the columns, stated in abm.kernels

    def __init__(self, table: np.ndarray):
        if table.ndim != 2 or table.shape[1] != len(self.NAMES):
            raise ValueError(f"need one column per factor {self.NAMES}, got shape {table.shape}")
        self.table = np.ascontiguousarray(table)
        for k, name in enumerate(self.NAMES):
            setattr(self, name, self.table[:, k])
