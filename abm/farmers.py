"""Farm households: solar sharing (PV on posts over crops) on part of their land.

An installation covers a share of the farm at about 550 kW per hectare, sells its
power at the 10-50 kW feed-in tariff for 20 years and then at the post-FIT price,
and costs the farmer the crop revenue lost under the panels (crops must keep 80% of
local yields for the 3-year farmland permit to be renewed). Farmers with a successor
are readier to commit land for 20 years.
"""

from __future__ import annotations

import numpy as np

from abm.city import FarmerAttributes
from abm.clock import Month
from abm.decision import Option, choose, draw_considerers
from abm.economics import annuity
from abm.population import Context, YearFlows


class Farmers:
    agent_type = "farmers"

    def __init__(self, attributes: FarmerAttributes, ctx: Context):
        self.a, self.ctx = attributes, ctx
        self.weight = attributes.weight
        f = ctx.scenario.section("farmers")
        self.f = f
        self.t = ctx.scenario.section("technology")
        self.covered_ha = attributes.farmland_ha * f["covered_share"]
        self.capacity_kw = self.covered_ha * f["kw_per_ha"]
        self.kw = np.zeros(attributes.n)
        self.everyone = np.arange(attributes.n)
        self.peers = ctx.peers(attributes.n, attributes.n, attributes.network)
        self.flows = YearFlows()
        # every farmer discounts at the same rate: one set of factors serves all
        rate = np.array([f["discount_rate"]])
        self._pv_factors = ctx.pv.factors(rate, self.t["fit_term_years_business"])
        self._crop_loss_factor = float(annuity(rate, 0.0, 1, self.t["pv_life_years"])[0])

    def start_fiscal_year(self) -> None:
        self.flows = YearFlows()

    def _flags(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"new_build": np.zeros(idx.size, dtype=bool)}

    def step(self, month: Month) -> None:
        ctx, b, fy = self.ctx, self.ctx.behaviour, month.fiscal_year
        if b["farmer_solar_sharing_p"] == b["farmer_solar_sharing_q"] == 0:
            return  # nobody ever considers solar sharing: nothing changes
        self.peers.settle()
        policy = ctx.policy

        def multiplier(idx: np.ndarray) -> np.ndarray | float:
            return policy.base_rate_multiplier("solar_sharing", self.agent_type, fy, self._flags(idx))

        considering = draw_considerers(
            ctx.stream(month, "farmers.solar_sharing.consider"),
            self.everyone,
            b["farmer_solar_sharing_p"],
            b["farmer_solar_sharing_q"],
            multiplier,
            policy.max_base_rate_multiplier("solar_sharing", self.agent_type, fy),
            self.peers.midmonth_share,
            lambda idx: self.kw[idx] == 0,
        )
        if considering.size == 0:
            return
        m = considering.size
        flags = self._flags(considering)
        kw = self.capacity_kw[considering]
        cost = ctx.market.solar_sharing_cost(fy)
        npv = ctx.pv.buy_npv_with(kw, cost, self._pv_factors, 0.0, 0.0, policy.business_fit(fy))
        crop_loss = self.f["crop_loss_yen_per_ha_year"] * self.covered_ha[considering]
        npv -= crop_loss * self._crop_loss_factor
        gross = kw * cost
        utility = np.column_stack(
            [
                np.zeros(m),
                b["solar_sharing_constant"]
                + b["econ_weight"] * npv / gross
                + b["successor_weight"] * self.a.has_successor[considering]
                + b["peer_weight"] * self.peers.share(considering)
                + policy.utility_bonus("solar_sharing", self.agent_type, fy, flags),
            ]
        )
        yen_to_utility = (b["econ_weight"] / gross)[:, None]
        options = [Option(None), Option("solar_sharing", kw, gross)]
        d = choose(
            ctx.stream(month, "farmers.solar_sharing.choose"),
            policy,
            month,
            self.agent_type,
            self.weight,
            flags,
            utility,
            yen_to_utility,
            options,
        )
        adopters = considering[d.chosen == 1]
        self.kw[adopters] = self.capacity_kw[adopters]
        self.peers.add(adopters)
        self.flows.pv_added_kw += float(self.kw[adopters].sum()) * self.weight
        self.flows.pv_added_systems += adopters.size * self.weight
        self.flows.subsidised_adoptions += int((d.grant_yen > 0).sum()) * self.weight
        self.flows.grant_yen += float(d.grant_yen.sum()) * self.weight

    def stocks(self) -> dict[str, float]:
        w = self.weight
        return {
            "solar_sharing_kw": float(self.kw.sum()) * w,
            "solar_sharing_farms": float(np.count_nonzero(self.kw)) * w,
        }
