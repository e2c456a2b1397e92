"""Businesses: rooftop PV bought outright or through a PPA.

Only establishments that own their building and have a usable roof decide. They
judge PV by its payback: an establishment that requires a payback of P years
discounts at 1/P a year (the rate at which a long-lived investment pays back in P
years). Large emitters are the targets of the city's target-setting programme
(環境負荷低減計画制度), which a scenario can model as a campaign for them.
"""

from __future__ import annotations

import numpy as np

from abm.city import BusinessAttributes
from abm.clock import Month
from abm.population import Context, RooftopPV, YearFlows


class Businesses(RooftopPV):
    agent_type = "businesses"
    behaviour_prefix = "business"

    def __init__(self, attributes: BusinessAttributes, ctx: Context):
        self.a, self.ctx = attributes, ctx
        self.weight = attributes.weight
        n = attributes.n
        self.pv_kw = np.zeros(n, dtype=np.float32)
        self.ppa_kw = np.zeros(n, dtype=np.float32)
        self.owners = np.flatnonzero(attributes.owns_roof)
        self.pv_peers = ctx.peers(n, self.owners.size, attributes.network)
        self.flows = YearFlows()
        self.b = ctx.scenario.section("businesses")
        self.t = ctx.scenario.section("technology")
        self.init_pv_factors(self.owners, attributes.discount_rate.astype(float), self.t["fit_term_years_business"])
        self.seed_initial_pv(self.owners, self.b["initial_pv_kw"], attributes.roof_kw)

    def start_fiscal_year(self) -> None:
        self.flows = YearFlows()

    def _flags(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"new_build": np.zeros(idx.size, dtype=bool), "large_emitters": self.a.large_emitter[idx]}

    def _pv_economics(self, month: Month, idx: np.ndarray) -> dict:
        fy, market = month.fiscal_year, self.ctx.market
        return {
            "kw": self.a.roof_kw[idx].astype(float),
            "factors": self.pv_factors(idx),
            "self_share": self.b["self_consumption_share"],
            "cost_yen_per_kw": market.pv_cost(fy) * market.business_pv_cost_factor,
            "retail": market.expected_electricity_price(fy) * market.business_price_factor,
            "fit": self.ctx.policy.business_fit(fy),
        }

    def step(self, month: Month) -> None:
        b = self.ctx.behaviour
        if b["business_pv_p"] == b["business_pv_q"] == 0:
            return  # nobody ever considers PV: nothing changes
        self.pv_peers.settle()
        considering = self.consider_rooftop_pv(month, self.owners, b["business_pv_p"], b["business_pv_q"])
        self.decide_rooftop_pv(month, considering)

    def stocks(self) -> dict[str, float]:
        w = self.weight
        return {
            "business_pv_kw": float(self.pv_kw.sum(dtype=np.float64)) * w,
            "business_pv_systems": float(np.count_nonzero(self.pv_kw)) * w,
            "business_ppa_kw": float(self.ppa_kw.sum(dtype=np.float64)) * w,
        }
