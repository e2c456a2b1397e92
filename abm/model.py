"""The city model: wires populations, market and policy, and keeps the books.

:class:`CityModel` is a Mesa model stepping monthly from April 2014 to March 2051
(or to the end of an earlier ``last_fiscal_year``, e.g. for calibration runs). It owns the clock, the random generator (``Model(rng=seed)``), the three agent
populations (held as arrays), the policy environment (with its PDCA review, :mod:`abm.pdca`, if the scenario has one) and the yearly records
(and, when asked, each agent's adoptions: :func:`abm.population.adoption_log`). Each
step every population decides; at the end of each fiscal year the model records
stocks, flows and grant spending, and :mod:`abm.accounting` turns the records into
energy and CO2 accounts.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np

from abm import kernels
from abm.accounting import ANCHOR_YEAR, add_accounts
from abm.businesses import Businesses
from abm.city import City, build_city
from abm.clock import FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR, Month
from abm.economics import Market, PVEconomics
from abm.farmers import Farmers
from abm.households import CARS, NEW_HOUSES, Households
from abm.pdca import PDCARule
from abm.policy import PolicyEnvironment
from abm.population import Context
from abm.scenario import Scenario


class CityModel(mesa.Model):
    """Saitama City's households, businesses and farmers deciding on low-carbon technologies."""

    def __init__(
        self,
        scenario: Scenario,
        seed: int,
        scale: float = 1.0,
        behaviour: dict[str, Any] | None = None,
        city: City | None = None,
        last_fiscal_year: int = LAST_FISCAL_YEAR,
        adoption_log_from: int | None = None,
    ):
        if not ANCHOR_YEAR <= last_fiscal_year <= LAST_FISCAL_YEAR:
            raise ValueError(
                f"last_fiscal_year must be from FY{ANCHOR_YEAR} (the accounts' anchor year) "
                f"to FY{LAST_FISCAL_YEAR}, got {last_fiscal_year}"
            )
        super().__init__(rng=seed)
        self.last_fiscal_year = last_fiscal_year
        self.city_scenario = scenario
        self.seed = seed
        self.scale = scale
        city = city or build_city(scenario, seed, scale)
        self.policy = PolicyEnvironment(scenario)
        pdca = scenario.section("pdca")
        self.pdca = PDCARule(pdca) if pdca else None
        self.ctx = Context(
            rng=self.rng,
            seed=seed,
            scenario=scenario,
            market=Market(scenario),
            pv=PVEconomics(scenario),
            policy=self.policy,
            behaviour=scenario.section("behaviour") | (behaviour or {}),
            adoption_log_from=adoption_log_from,
        )
        self.households = Households(city.households, self.ctx)
        self.businesses = Businesses(city.businesses, self.ctx)
        self.farmers = Farmers(city.farmers, self.ctx)
        self.populations = (self.households, self.businesses, self.farmers)
        # who started with what: the logs record decisions, not the stock they start from
        self.opening_households = (
            {"pv": self.households.pv_kw > 0, "ev": self.households.ev.copy()}
            if adoption_log_from is not None
            else None
        )
        self.month = Month(0)
        self.records: list[dict[str, float]] = []
        self.opening_agent_pv_kw = self._agent_pv_kw()
        self.opening_agent_pv_degraded_kw = self._degraded_kw(FIRST_FISCAL_YEAR - 1)
        self.initial_evs = self.households.stocks()["evs"]
        self._start_fiscal_year()

    def _agent_pv_kw(self) -> float:
        s = {**self.households.stocks(), **self.businesses.stocks(), **self.farmers.stocks()}
        return (
            s["residential_pv_kw"]
            + s["household_ppa_kw"]
            + s["business_pv_kw"]
            + s["business_ppa_kw"]
            + s["solar_sharing_kw"]
        )

    def _degraded_kw(self, fiscal_year: int) -> float:
        """Rooftop capacity lost to age at the end of ``fiscal_year`` (abm.pv_life), kW."""
        return sum(p.pv_life.degraded_kw(fiscal_year) * p.weight for p in self._rooftops)

    @property
    def _rooftops(self) -> tuple:
        return (self.households, self.businesses)

    def _start_fiscal_year(self) -> None:
        fy, rule = self.month.fiscal_year, self.pdca
        if rule is not None and self.records and rule.is_review_year(fy):
            current = getattr(self.policy.programme(rule.programme), rule.key)
            raised = rule.review(fy, self.records[-1], current)
            if raised is not None:
                self.policy.set_programme_value(rule.programme, rule.key, raised)
        self.policy.start_fiscal_year(fy)
        for population in self.populations:
            population.start_fiscal_year(self.month.fiscal_year)

    def step(self) -> None:
        for population in self.populations:
            population.step(self.month)
        if self.month.is_fiscal_year_end:
            self.records.append(self._record())
            if self.month.fiscal_year < self.last_fiscal_year:
                self.month = Month(self.month.step + 1)
                self._start_fiscal_year()
                return
            self.running = False
        self.month = Month(self.month.step + 1)

    def _record(self) -> dict[str, float]:
        fy = self.month.fiscal_year
        row: dict[str, float] = {"fiscal_year": fy}
        for population in self.populations:
            row.update(population.stocks())
        hh, bz, fm = self.households, self.businesses, self.farmers
        row["ppa_kw"] = row["household_ppa_kw"] + row["business_ppa_kw"]
        hh_flows, bz_flows, fm_flows = hh.flows, bz.flows, fm.flows
        row["residential_pv_added_kw"] = hh_flows.pv_added_kw
        row["residential_pv_added_systems"] = hh_flows.pv_added_systems
        row["business_pv_added_kw"] = bz_flows.pv_added_kw
        row["solar_sharing_added_kw"] = fm_flows.pv_added_kw
        row["solar_sharing_added_farms"] = fm_flows.pv_added_systems
        row["ppa_added_kw"] = hh_flows.ppa_added_kw + bz_flows.ppa_added_kw
        row["household_ppa_added_kw"] = hh_flows.ppa_added_kw
        row["new_detached_houses"] = hh.year_total(NEW_HOUSES, kernels.EVENTS)
        row["zeh_built"] = hh.year_total(NEW_HOUSES, kernels.SECOND_OPTION)
        row["new_build_pv_systems"] = hh.year_total(NEW_HOUSES, kernels.PV_SYSTEMS)
        row["ev_sales"] = hh.year_total(CARS, kernels.ADOPTING)
        row["car_replacements"] = hh.year_total(CARS, kernels.EVENTS)
        storage = hh.storage.year
        row["subsidised_adoptions"] = sum(f.subsidised_adoptions for f in (hh_flows, bz_flows, fm_flows)) + (
            storage.subsidised * hh.weight
        )
        row["batteries_installed"] = storage.batteries * hh.weight
        row["battery_kwh_installed"] = storage.batteries * hh.storage.battery_size_kwh * hh.weight
        row["v2h_installed"] = storage.v2h * hh.weight
        row["storage_deciding_households"] = storage.deciding * hh.weight
        row["storage_grant_yen"] = storage.grant_yen * hh.weight
        for prefix, population in (("residential", hh), ("business", bz)):
            life = population.pv_life.year
            row[f"{prefix}_pv_repowered_kw"] = life.repowered_kw * population.weight
            row[f"{prefix}_pv_kept_beyond_life_kw"] = life.kept_kw * population.weight
            row[f"{prefix}_pv_removed_kw"] = life.removed_kw * population.weight
        row["pv_panels_removed_t"] = sum(p.pv_life.panels_removed_t() * p.weight for p in self._rooftops)
        row["agent_pv_degraded_kw"] = self._degraded_kw(fy)
        if self.pdca is not None:
            rule = self.pdca
            row["pdca_value"] = getattr(self.policy.programme(rule.programme), rule.key)
        ledger = self.policy.ledger
        spent = ledger.spent_yen[fy - FIRST_FISCAL_YEAR]
        row["subsidy_spent_yen"] = float(spent.sum())
        city = np.array([p.level == "city" for p in self.policy.programmes], dtype=bool)
        row["city_subsidy_spent_yen"] = float(spent[city].sum()) if city.size else 0.0
        return row

    def adoption_logs(self) -> dict[str, np.ndarray]:
        """Each population's adoption log (the months of
        :func:`abm.population.adoption_log`), by agent type; empty unless the model
        was made with ``adoption_log_from``."""
        return {p.agent_type: p.adoptions[0] for p in self.populations}

    def run(self) -> None:
        while self.running:
            self.step()

    def close(self) -> None:
        """Free the agents' state now, once the run's outputs are taken. A Mesa model
        is a reference cycle (it holds its own bound step), so its arrays would
        otherwise wait for Python's next full garbage collection, and meanwhile the
        next run of a sweep would take fresh memory pages for its own (measured at
        full scale: up to 10,000 page faults, about 0.1 s, in one run of five)."""
        self.households = self.businesses = self.farmers = None
        self.populations = ()

    def table(self) -> dict[str, np.ndarray]:
        """The yearly records as columns, with energy and CO2 accounts."""
        columns = {k: np.array([r[k] for r in self.records], dtype=float) for k in self.records[0]}
        columns["fiscal_year"] = columns["fiscal_year"].astype(int)
        columns["opening_agent_pv_kw"] = self.opening_agent_pv_kw
        columns["opening_agent_pv_degraded_kw"] = self.opening_agent_pv_degraded_kw
        columns["initial_evs"] = self.initial_evs
        add_accounts(columns, self.city_scenario)
        del columns["opening_agent_pv_kw"], columns["opening_agent_pv_degraded_kw"], columns["initial_evs"]
        return columns
