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
from abm.economics import PVEconomics
from abm.policy import FLAGS
from abm.population import Context, RooftopPV, Tallies, adoption_log, roof_owner_table


class Businesses(RooftopPV):
    agent_type = "businesses"
    behaviour_prefix = "business"
    fit_term_key = "fit_term_years_business"

    def __init__(self, attributes: BusinessAttributes, ctx: Context):
        self.a, self.ctx = attributes, ctx
        self.weight = attributes.weight
        n = attributes.n
        self.pv_kw = np.zeros(n, dtype=np.float32)
        self.ppa_kw = np.zeros(n, dtype=np.float32)
        self.owners = attributes.roof_owners  # the rows of the owner table
        self.pv_peers = ctx.peers(attributes, self.owners.size)
        self.tallies = Tallies(("businesses:pv/ppa",))
        self.codes = attributes.large_emitter.astype(np.int8) << FLAGS.index("large_emitters")
        self.excluded = np.zeros(n, dtype=bool)  # no business is being built
        self.adoptions = adoption_log(n, ctx.adoption_log_from)
        self.b = ctx.scenario.section("businesses")
        self.t = ctx.scenario.section("technology")
        self._owner_table = attributes.derive(business_owner_table, ctx.pv, self.t["fit_term_years_business"])
        self.seed_initial_pv(self.owners, self.b["initial_pv_kw"], attributes.roof_kw)

    def start_fiscal_year(self, fiscal_year: int) -> None:
        self.tallies.start_fiscal_year()
        self.start_pv_year(fiscal_year)

    def _pv_year(self, fiscal_year: int) -> tuple[float, ...]:
        market = self.ctx.market
        return (
            market.pv_cost(fiscal_year) * market.business_pv_cost_factor,
            market.expected_electricity_price(fiscal_year) * market.business_price_factor,
            self.ctx.policy.business_fit(fiscal_year),
            self.b["self_consumption_share"],
        )

    def step(self, month: Month) -> None:
        self.rooftop_pv(month)

    def stocks(self) -> dict[str, float]:
        w = self.weight
        pv_kw, pv_systems, ppa_kw, ppa_contracts = self.pv_stocks()
        return {
            "business_pv_kw": pv_kw * w,
            "business_pv_systems": pv_systems * w,
            "business_ppa_kw": ppa_kw * w,
            "business_ppa_contracts": ppa_contracts * w,
        }


def business_owner_table(a: BusinessAttributes, pv: PVEconomics, fit_term: int) -> np.ndarray:
    """The roof owners' table (:func:`abm.population.roof_owner_table`), without an
    attitude term."""
    return roof_owner_table(a.roof_owners, a.roof_kw, a.discount_rate.astype(float), np.zeros(a.n), pv, fit_term)[0]
