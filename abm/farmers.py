"""Farm households: solar sharing (PV on posts over crops) on part of their land.

An installation covers a share of the farm at about 550 kW per hectare, sells its
power at the 10-50 kW feed-in tariff for 20 years and then at the post-FIT price,
and costs the farmer the crop revenue lost under the panels (crops must keep 80% of
local yields for the 3-year farmland permit to be renewed). Farmers with a successor
are readier to commit land for 20 years.
"""

from __future__ import annotations

import numpy as np

from abm import kernels
from abm.city import FarmerAttributes
from abm.clock import Month
from abm.economics import annuity
from abm.population import Context, Tallies, YearFlows, adoption_log

SOLAR_SHARING = "farmers:solar_sharing"  # the farmers' decision, as its tally is keyed


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
        self.codes = np.zeros(attributes.n, dtype=np.int8)  # no flags apply to farmers
        self.nobody = np.zeros(attributes.n, dtype=bool)
        self.adoptions = adoption_log(attributes.n, ctx.adoption_log_from)
        self.successor = attributes.has_successor.astype(float)
        self.peers = ctx.peers(attributes, attributes.n)
        self.tallies = Tallies((SOLAR_SHARING,))
        # every farmer discounts at the same rate: one set of factors serves all
        rate = np.array([f["discount_rate"]])
        self._pv_factors = ctx.pv.factors(rate, self.t["fit_term_years_business"]).table
        self._crop_loss_factor = float(annuity(rate, 0.0, 1, self.t["pv_life_years"])[0])

    @property
    def flows(self) -> YearFlows:
        return self.tallies.flows(self.weight)

    def start_fiscal_year(self, fiscal_year: int) -> None:
        self.tallies.start_fiscal_year()
        ctx, b, fy = self.ctx, self.ctx.behaviour, fiscal_year
        policy = ctx.policy
        multiplier, bonus = policy.campaign_tables("solar_sharing", self.agent_type, fy)
        self._consideration = (
            b["farmer_solar_sharing_p"],
            b["farmer_solar_sharing_q"],
            multiplier,
            policy.max_base_rate_multiplier("solar_sharing", self.agent_type, fy),
        )
        self._inputs = (
            ctx.market.solar_sharing_cost(fy),
            policy.business_fit(fy),
            self.f["crop_loss_yen_per_ha_year"],
            self._crop_loss_factor,
        )
        self._behaviour = (
            b["econ_weight"],
            b["peer_weight"],
            b["solar_sharing_constant"],
            b["successor_weight"],
            bonus,
        )
        self._offers = policy.offers(self.agent_type, fy, (None, "solar_sharing"))

    def step(self, month: Month) -> None:
        ctx, policy = self.ctx, self.ctx.policy
        kernels.solar_sharing(
            ctx.stream(month, "farmers.solar_sharing.consider"),
            ctx.stream(month, "farmers.solar_sharing.choose"),
            self.everyone,
            self._consideration,
            self.codes,
            self.nobody,
            self.capacity_kw,
            self.covered_ha,
            self.successor,
            self._pv_factors,
            self.peers.state,
            ctx.pv_constants,
            self._inputs,
            self._behaviour,
            self._offers,
            policy.grants(month),
            self.weight,
            self.kw,
            self.tallies.year[SOLAR_SHARING],
            self.adoptions,
        )

    def stocks(self) -> dict[str, float]:
        w = self.weight
        return {
            "solar_sharing_kw": float(self.kw.sum()) * w,
            "solar_sharing_farms": float(np.count_nonzero(self.kw)) * w,
        }
