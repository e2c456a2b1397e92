"""Households: rooftop PV or a PPA on their house, a ZEH when they build, an EV when
they replace their car.

Only owners of detached houses decide on rooftop PV and PPAs (renters and flat
dwellers have no roof of their own). Building a new house is a life event: each
month a share of detached owners rebuild (about 5,400 new detached houses a year);
the old house's PV goes, and the household chooses a standard house, a standard
house with PV, or a ZEH (with PV), unless a PV obligation removes the first option.
Car owners replace their car at a constant rate and choose an EV or a petrol car.
"""

from __future__ import annotations

import numpy as np

from abm.city import APARTMENT, DETACHED_OWNER, HouseholdAttributes
from abm.clock import Month
from abm.decision import DT_YEARS, Option, bernoulli_positions, choose
from abm.economics import annuity, ev_npv
from abm.population import Context, RooftopPV, YearFlows


class Households(RooftopPV):
    agent_type = "households"
    behaviour_prefix = "household"

    def __init__(self, attributes: HouseholdAttributes, ctx: Context):
        self.a, self.ctx = attributes, ctx
        self.weight = attributes.weight
        n = attributes.n
        self.pv_kw = np.zeros(n, dtype=np.float32)
        self.ppa_kw = np.zeros(n, dtype=np.float32)
        self.zeh = np.zeros(n, dtype=bool)
        self.ev = np.zeros(n, dtype=bool)
        self.rebuilt = np.zeros(n, dtype=bool)  # rebuilt this month
        self._rebuilt_idx = np.empty(0, dtype=np.int64)
        self.owners = np.flatnonzero(attributes.dwelling == DETACHED_OWNER)
        self.car_owners = np.flatnonzero(attributes.has_car)
        self.pv_peers = ctx.peers(n, self.owners.size, attributes.network)
        self.ev_peers = ctx.peers(n, self.car_owners.size, attributes.network)
        self.flows = YearFlows()
        self.year_zeh = self.year_new_houses = self.year_new_build_pv = 0.0
        self.year_ev_sales = self.year_replacements = 0.0
        t, h = ctx.scenario.section("technology"), ctx.scenario.section("households")
        self.t, self.h = t, h
        self.rebuild_rate = h["new_detached_houses_per_year"] / (self.owners.size * self.weight)
        self.replacement_rate = 1.0 / h["car_replacement_years"]
        self.init_pv_factors(self.owners, attributes.discount_rate, t["fit_term_years_residential"])
        life = t["pv_life_years"]
        rate = attributes.discount_rate
        # ZEH savings (no degradation) and EV running costs, valued once per run
        self._zeh_savings_factor = np.zeros(n)
        self._zeh_savings_factor[self.owners] = annuity(rate[self.owners], ctx.market.price_trend, 1, life)
        self._car_factor = np.zeros(n)
        self._car_factor[self.car_owners] = annuity(rate[self.car_owners], 0.0, 1, t["car_appraisal_years"])
        # the part of an EV's utility that is the household's own, fixed for the run
        b = ctx.behaviour
        self._ev_own_utility = (
            b["ev_constant"]
            + b["ev_apartment_constant"] * (attributes.dwelling == APARTMENT)
            + self._attitude_term(slice(None))
        )
        typical_kw = float(attributes.roof_kw[self.owners].mean()) if self.owners.size else 0.0
        self.seed_initial_pv(self.owners, h["initial_pv_systems"] * typical_kw, attributes.roof_kw)
        evs = ctx.rng.permutation(self.car_owners)[: round(h["initial_evs"] / self.weight)]
        self.ev[evs] = True
        self.ev_peers.add(evs)

    def start_fiscal_year(self) -> None:
        self.flows = YearFlows()
        self.year_zeh = self.year_new_houses = self.year_new_build_pv = 0.0
        self.year_ev_sales = self.year_replacements = 0.0

    def _flags(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"new_build": self.rebuilt[idx]}

    def _attitude_term(self, idx: np.ndarray) -> np.ndarray:
        return self.ctx.behaviour["attitude_weight"] * (self.a.attitude[idx] - 0.5)

    def _pv_economics(self, month: Month, idx: np.ndarray, new_build: bool = False) -> dict:
        fy, market = month.fiscal_year, self.ctx.market
        cost = market.pv_cost_new_build(fy) if new_build else market.pv_cost(fy)
        return {
            "kw": self.a.roof_kw[idx].astype(float),
            "factors": self.pv_factors(idx),
            "self_share": self.t["household_self_consumption_share"],
            "cost_yen_per_kw": cost,
            "retail": market.expected_electricity_price(fy),
            "fit": self.ctx.policy.residential_fit(fy),
            "attitude_term": self._attitude_term(idx),
        }

    def step(self, month: Month) -> None:
        self.pv_peers.settle()
        self.ev_peers.settle()
        self.build_houses(month)
        b = self.ctx.behaviour
        considering = self.consider_rooftop_pv(
            month, self.owners, b["household_pv_p"], b["household_pv_q"], exclude=self.rebuilt
        )
        self.decide_rooftop_pv(month, considering)
        self.replace_cars(month)

    def build_houses(self, month: Month) -> None:
        self.rebuilt[self._rebuilt_idx] = False
        self._rebuilt_idx = np.empty(0, dtype=np.int64)
        if self.rebuild_rate == 0:
            return
        rng, ctx = self.ctx.stream(month, "households.build"), self.ctx
        idx = self.owners[bernoulli_positions(rng, self.owners.size, -np.expm1(-self.rebuild_rate * DT_YEARS))]
        k = idx.size
        if k == 0:
            return
        self.year_new_houses += k * self.weight
        # a house with PV keeps it through a rebuild; the others decide afresh
        idx = idx[(self.pv_kw[idx] == 0) & (self.ppa_kw[idx] == 0)]
        self.rebuilt[idx] = True
        self._rebuilt_idx = idx
        self.zeh[idx] = False
        k = idx.size
        if k == 0:
            return

        b, fy = ctx.behaviour, month.fiscal_year
        e = self._pv_economics(month, idx, new_build=True)
        pv_npv = ctx.pv.buy_npv_with(
            e["kw"], e["cost_yen_per_kw"], e["factors"], e["self_share"], e["retail"], e["fit"]
        )
        savings = self.t["zeh_savings_kwh_per_year"] * e["retail"] * self._zeh_savings_factor[idx]
        premium = self.t["zeh_premium_yen"]
        gross_pv = e["kw"] * e["cost_yen_per_kw"]
        gross_zeh = gross_pv + premium
        zeh_npv = pv_npv + savings - premium
        flags = self._flags(idx)
        common = b["peer_weight"] * self.pv_peers.share(idx) + e["attitude_term"]
        mandated = rng.random(k) < ctx.policy.pv_mandate_share(fy)
        utility = np.column_stack(
            [
                np.where(mandated, -np.inf, 0.0),
                b["new_build_pv_constant"]
                + b["econ_weight"] * pv_npv / gross_pv
                + common
                + ctx.policy.utility_bonus("pv", self.agent_type, fy, flags),
                b["zeh_constant"]
                + b["econ_weight"] * zeh_npv / gross_zeh
                + common
                + ctx.policy.utility_bonus("zeh", self.agent_type, fy, flags),
            ]
        )
        yen_to_utility = np.column_stack([np.zeros(k), b["econ_weight"] / gross_pv, b["econ_weight"] / gross_zeh])
        options = [Option(None), Option("pv", e["kw"], gross_pv), Option("zeh", e["kw"], gross_zeh)]
        d = choose(rng, ctx.policy, month, self.agent_type, self.weight, flags, utility, yen_to_utility, options)
        with_pv = idx[d.chosen > 0]
        self.pv_kw[with_pv] = self.a.roof_kw[with_pv]
        self.zeh[idx[d.chosen == 2]] = True
        self.pv_peers.add(with_pv)
        self.flows.pv_added_kw += float(self.pv_kw[with_pv].sum()) * self.weight
        self.flows.pv_added_systems += with_pv.size * self.weight
        self.year_new_build_pv += with_pv.size * self.weight
        self.flows.subsidised_adoptions += int((d.grant_yen > 0).sum()) * self.weight
        self.flows.grant_yen += float(d.grant_yen.sum()) * self.weight
        self.year_zeh += int((d.chosen == 2).sum()) * self.weight

    def replace_cars(self, month: Month) -> None:
        if self.car_owners.size == 0:
            return
        rng, ctx, t = self.ctx.stream(month, "households.cars"), self.ctx, self.t
        idx = self.car_owners[
            bernoulli_positions(rng, self.car_owners.size, -np.expm1(-self.replacement_rate * DT_YEARS))
        ]
        k = idx.size
        if k == 0:
            return
        b, fy, market = ctx.behaviour, month.fiscal_year, ctx.market
        retail = market.expected_electricity_price(fy)
        # households with PV charge a share at home from it, valued at the post-FIT price
        own = t["ev_own_pv_charging_share"]
        yen_per_kwh = np.array([retail, (1 - own) * retail + own * t["post_fit_yen_per_kwh"]])
        premium = market.ev_premium(fy)
        npv = ev_npv(
            self._car_factor[idx],
            premium,
            t["car_km_per_year"],
            t["petrol_yen_per_litre"] / t["ice_km_per_litre"],
            (yen_per_kwh / t["ev_km_per_kwh"])[(self.pv_kw[idx] > 0).view(np.int8)],
        )
        gross = t["car_price_yen"] + premium
        flags = self._flags(idx)
        utility = np.zeros((k, 2))
        utility[:, 1] = (
            self._ev_own_utility[idx]
            + b["econ_weight"] / gross * npv
            + b["peer_weight"] * self.ev_peers.share(idx)
            + ctx.policy.utility_bonus("ev", self.agent_type, fy, flags)
        )
        yen_to_utility = np.full((k, 1), b["econ_weight"] / gross)
        options = [Option(None), Option("ev", np.zeros(k), np.full(k, gross))]
        d = choose(rng, ctx.policy, month, self.agent_type, self.weight, flags, utility, yen_to_utility, options)
        to_ev = idx[(d.chosen == 1) & ~self.ev[idx]]
        to_petrol = idx[(d.chosen == 0) & self.ev[idx]]
        self.ev[to_ev] = True
        self.ev[to_petrol] = False
        self.ev_peers.add(to_ev)
        self.ev_peers.add(to_petrol, sign=-1.0)
        self.year_ev_sales += int((d.chosen == 1).sum()) * self.weight
        self.year_replacements += k * self.weight
        self.flows.subsidised_adoptions += int((d.grant_yen > 0).sum()) * self.weight
        self.flows.grant_yen += float(d.grant_yen.sum()) * self.weight

    def stocks(self) -> dict[str, float]:
        """End-of-period stocks, weighted to the whole city."""
        w = self.weight
        return {
            "residential_pv_kw": float(self.pv_kw.sum(dtype=np.float64)) * w,
            "residential_pv_systems": float(np.count_nonzero(self.pv_kw)) * w,
            "household_ppa_kw": float(self.ppa_kw.sum(dtype=np.float64)) * w,
            "household_ppa_contracts": float(np.count_nonzero(self.ppa_kw)) * w,
            "zeh_houses": float(np.count_nonzero(self.zeh)) * w,
            "evs": float(np.count_nonzero(self.ev)) * w,
            "detached_owner_households": self.owners.size * w,
            "cars": self.car_owners.size * w,
        }
