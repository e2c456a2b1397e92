"""Households: rooftop PV or a PPA on their house, a ZEH when they build, an EV when
they replace their car, and a battery or V2H beside them (:mod:`abm.storage`).

Only owners of detached houses decide on rooftop PV and PPAs (renters and flat
dwellers have no roof of their own). Building a new house is a life event: each
month a share of detached owners rebuild (about 5,400 new detached houses a year), and
a household without PV or a PPA chooses a standard house, a standard house with PV,
or a ZEH (with PV), unless a PV obligation removes the first option; one with PV or a
PPA keeps it and makes no choice, though its house counts among the year's new ones
(a simplification: it slightly dilutes the ZEH share of new houses).
Car owners replace their car at a constant rate and choose an EV or a petrol car.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from abm import kernels
from abm.city import APARTMENT, HouseholdAttributes
from abm.clock import Month
from abm.economics import PVEconomics, annuity
from abm.kernels import DT_YEARS
from abm.population import Context, RooftopPV, Tallies, adoption_log, roof_owner_table
from abm.storage import HomeStorage

# the households' decisions, as their tallies are keyed
NEW_HOUSES, ROOFTOP, CARS = "households:pv/zeh", "households:pv/ppa", "households:ev"


class Households(RooftopPV):
    agent_type = "households"
    behaviour_prefix = "household"
    fit_term_key = "fit_term_years_residential"

    def __init__(self, attributes: HouseholdAttributes, ctx: Context):
        self.a, self.ctx = attributes, ctx
        self.weight = attributes.weight
        n = attributes.n
        self.pv_kw = np.zeros(n, dtype=np.float32)
        self.ppa_kw = np.zeros(n, dtype=np.float32)
        self.zeh = np.zeros(n, dtype=bool)
        self.keeps_its_pv = self.zeh  # a ZEH's PV is part of what makes it one
        self.ev = np.zeros(n, dtype=bool)
        self.rebuilt = np.zeros(n, dtype=bool)  # rebuilt this month
        self.excluded = self.rebuilt  # a house being rebuilt has just made its PV choice
        self._rebuilt_idx = np.empty(0, dtype=np.int64)
        self.codes = np.zeros(n, dtype=np.int8)  # flag codes (new builds are flagged in the kernels)
        self.adoptions = adoption_log(n, ctx.adoption_log_from)
        self.owners = attributes.roof_owners  # the rows of the owner table
        self.car_owners = attributes.car_owners
        self.pv_peers = ctx.peers(attributes, self.owners.size)
        self.ev_peers = ctx.peers(attributes, self.car_owners.size)
        self.tallies = Tallies((NEW_HOUSES, ROOFTOP, CARS))
        t, h = ctx.scenario.section("technology"), ctx.scenario.section("households")
        self.t, self.h = t, h
        self.rebuild_probability = -np.expm1(
            -h["new_detached_houses_per_year"] / (self.owners.size * self.weight) * DT_YEARS
        )
        self.replacement_probability = -np.expm1(-DT_YEARS / h["car_replacement_years"])
        b = ctx.behaviour
        appraisal = attributes.derive(
            appraise,
            ctx.pv,
            t["fit_term_years_residential"],
            b["attitude_weight"],
            ctx.market.price_trend,
            t["pv_life_years"],
            t["car_appraisal_years"],
            b["ev_constant"],
            b["ev_apartment_constant"],
        )
        self._owner_table, self._car_table, self._car_bounds = appraisal
        typical_kw = float(attributes.roof_kw[self.owners].mean()) if self.owners.size else 0.0
        self.seed_initial_pv(self.owners, h["initial_pv_systems"] * typical_kw, attributes.roof_kw)
        evs = ctx.rng.permutation(self.car_owners)[: round(h["initial_evs"] / self.weight)]
        self.ev[evs] = True
        self.ev_peers.add(evs)
        self._opening_evs = float(evs.size)
        self.storage = HomeStorage(ctx.scenario, ctx.behaviour, n, self.owners, ctx.seed)

    def start_fiscal_year(self, fiscal_year: int) -> None:
        self.tallies.start_fiscal_year()
        removed_pv = self.start_pv_year(fiscal_year)
        ctx, t, b, fy = self.ctx, self.t, self.ctx.behaviour, fiscal_year
        market, policy = ctx.market, ctx.policy
        retail = market.expected_electricity_price(fy)
        self._build_inputs = (
            market.pv_cost_new_build(fy),
            retail,
            policy.residential_fit(fy),
            t["household_self_consumption_share"],
            t["zeh_savings_kwh_per_year"],
            t["zeh_premium_yen"],
            policy.pv_mandate_share(fy),
        )
        self._build_behaviour = (
            b["econ_weight"],
            b["peer_weight"],
            b["new_build_pv_constant"],
            b["zeh_constant"],
            policy.campaign_tables("pv", self.agent_type, fy)[1],
            policy.campaign_tables("zeh", self.agent_type, fy)[1],
        )
        self._build_offers = policy.offers(self.agent_type, fy, (None, "pv", "zeh"))
        # households with PV charge a share at home from it, valued at the post-FIT price
        own = t["ev_own_pv_charging_share"]
        premium = market.ev_premium(fy)
        self._car_inputs = (
            premium,
            t["car_price_yen"] + premium,
            t["car_km_per_year"],
            t["petrol_yen_per_litre"] / t["ice_km_per_litre"],
            retail / t["ev_km_per_kwh"],
            ((1 - own) * retail + own * t["post_fit_yen_per_kwh"]) / t["ev_km_per_kwh"],
        )
        self._car_behaviour = (b["econ_weight"], b["peer_weight"], policy.campaign_tables("ev", self.agent_type, fy)[1])
        self._ev_offers = policy.offers(self.agent_type, fy, (None, "ev"))
        self.storage.without_pv(removed_pv)
        self.storage.start_fiscal_year(fy, self.pv_kw, self.pv_life.installed)
        self._storage_prices = (retail, policy.residential_fit.as_array())

    def _pv_year(self, fiscal_year: int) -> tuple[float, ...]:
        market = self.ctx.market
        return (
            market.pv_cost(fiscal_year),
            market.expected_electricity_price(fiscal_year),
            self.ctx.policy.residential_fit(fiscal_year),
            self.t["household_self_consumption_share"],
        )

    def year_total(self, decision: str, column: int) -> float:
        """This fiscal year's count of ``column`` (:data:`abm.kernels.TALLY`) in one
        decision, weighted to the city."""
        return float(self.tallies.year[decision][column]) * self.weight

    def step(self, month: Month) -> None:
        rebuilt = self.build_houses(month)
        bought_pv = self.rooftop_pv(month)
        bought_ev = self.replace_cars(month)
        self.home_storage(month, np.concatenate((rebuilt[self.pv_kw[rebuilt] > 0], bought_pv)), bought_ev)

    def build_houses(self, month: Month) -> np.ndarray:
        """New detached houses: a house with PV keeps it, the others decide afresh
        (:func:`abm.kernels.build_houses`); returns the rebuilt houses."""
        ctx, policy = self.ctx, self.ctx.policy
        self._rebuilt_idx = kernels.build_houses(
            ctx.stream(month, "households.build"),
            self.owners,
            self.rebuild_probability,
            self._rebuilt_idx,
            self.rebuilt,
            self.zeh,
            self.pv_kw,
            self.ppa_kw,
            self.codes,
            self._owner_table,
            self.pv_peers.state,
            ctx.pv_constants,
            self._build_inputs,
            self._build_behaviour,
            self._build_offers,
            policy.grants(month),
            self.weight,
            self.tallies.year[NEW_HOUSES],
            self.adoptions,
        )
        return self._rebuilt_idx

    def replace_cars(self, month: Month) -> np.ndarray:
        """Car replacements: an EV or a petrol car (:func:`abm.kernels.replace_cars`);
        returns the households switching to an EV."""
        ctx, policy = self.ctx, self.ctx.policy
        return kernels.replace_cars(
            ctx.stream(month, "households.cars"),
            self.car_owners,
            self.replacement_probability,
            self.ev,
            self.pv_kw,
            self.rebuilt,
            self.codes,
            self._car_table,
            self._car_bounds,
            self.ev_peers.state,
            self._car_inputs,
            self._car_behaviour,
            self._ev_offers,
            policy.grants(month),
            self.weight,
            self.tallies.year[CARS],
            self.adoptions,
        )

    def home_storage(self, month: Month, bought_pv: np.ndarray, bought_ev: np.ndarray) -> None:
        """This month's storage decisions (:class:`abm.storage.HomeStorage`)."""
        storage, b = self.storage, self.ctx.behaviour
        agents = storage.candidates(month, bought_pv, bought_ev, self.pv_kw, self.ev)
        retail, fit_by_year = self._storage_prices
        storage.decide(
            month, agents, self.pv_kw, self.ev, self.pv_life.installed, self.rebuilt, self.a.discount_rate[agents],
            b["attitude_weight"] * (self.a.attitude[agents] - 0.5), retail, fit_by_year, self.ctx.policy, b,
            self.weight,
        )  # fmt: skip

    def zeh_and_ev_stocks(self) -> tuple[float, float]:
        """(ZEH houses, EVs) now, per simulated agent, kept from the decisions'
        tallies as PV stocks are (:meth:`pv_stocks`): every ZEH ever built (a ZEH
        carries PV, and a house with PV is never rebuilt) and the opening EVs plus the
        net switches to EVs."""
        zeh = self.tallies.so_far(NEW_HOUSES)[kernels.SECOND_OPTION]
        return float(zeh), self._opening_evs + float(self.tallies.so_far(CARS)[kernels.NET_SWITCHES])

    def stocks(self) -> dict[str, float]:
        """End-of-period stocks, weighted to the whole city."""
        w = self.weight
        pv_kw, pv_systems, ppa_kw, ppa_contracts = self.pv_stocks()
        zeh_houses, evs = self.zeh_and_ev_stocks()
        return {
            "residential_pv_kw": pv_kw * w,
            "residential_pv_systems": pv_systems * w,
            "household_ppa_kw": ppa_kw * w,
            "household_ppa_contracts": ppa_contracts * w,
            "zeh_houses": zeh_houses * w,
            "evs": evs * w,
            "detached_owner_households": self.owners.size * w,
            "cars": self.car_owners.size * w,
            **{k: v * w for k, v in self.storage.stocks(self.pv_kw).items()},
        }


class HouseholdAppraisal(NamedTuple):
    """What the households' decisions need of each household for a whole run."""

    owner_table: np.ndarray  # the roof owners' (abm.population.roof_owner_table), with ZEH savings
    car_table: np.ndarray  # a row per household: car factor, EV own utility (abm.kernels.CAR_FACTOR)
    car_bounds: tuple[float, float, float]  # largest own utility, smallest and largest factor of car owners


def appraise(
    a: HouseholdAttributes,
    pv: PVEconomics,
    fit_term: int,
    attitude_weight: float,
    price_trend: float,
    pv_life_years: int,
    car_appraisal_years: int,
    ev_constant: float,
    ev_apartment_constant: float,
) -> HouseholdAppraisal:
    """The households' :class:`HouseholdAppraisal` (kept with the city,
    :class:`abm.city.Derived`)."""
    owners, car_owners = a.roof_owners, a.car_owners
    attitude_term = attitude_weight * (a.attitude - 0.5)
    rate = a.discount_rate
    table, discounting = roof_owner_table(owners, a.roof_kw, rate, attitude_term, pv, fit_term)
    # ZEH savings (no degradation) and EV running costs
    discounting.annuity_into(table, kernels.ZEH_SAVINGS, price_trend, 1, pv_life_years)
    car_factor = np.zeros(a.n)
    car_factor[car_owners] = annuity(rate[car_owners], 0.0, 1, car_appraisal_years)
    ev_own_utility = ev_constant + ev_apartment_constant * (a.dwelling == APARTMENT) + attitude_term
    bounds = (
        (float(ev_own_utility[car_owners].max()), float(car_factor[car_owners].min()),
         float(car_factor[car_owners].max()))
        if car_owners.size else (0.0, 0.0, 0.0)
    )  # fmt: skip
    car_table = np.empty((a.n, 2))
    car_table[:, kernels.CAR_FACTOR] = car_factor
    car_table[:, kernels.EV_OWN_UTILITY] = ev_own_utility
    return HouseholdAppraisal(table, car_table, bounds)
