"""Energy and CO2 accounts of the city, by fiscal year, against its targets.

Renewable energy (TJ) is what the agents' PV, PPA and solar sharing generate (rooftop
systems at their age, :mod:`abm.pv_life`) plus
the scenario's trajectories for what no agent decides: waste-to-energy, biogas,
renewable heat, carbon-neutral fuels, procurement from other cities, offsets and
large ground-mounted PV (their growth after FY2025 scaled by
``renewables.planned_growth_factor``, an uncertainty). The 2050 target is 37,954 TJ.

CO2 (kt) is electricity bought from the grid times the grid's emission factor plus
fuel emissions. Grid electricity is the city's demand (trend, plus EV charging and
the losses of home storage, less ZEH savings) less local and procured renewable
electricity. PV output is counted once, as generated: what a battery moves from
export to the house's own use changes who uses it, not how much there is
(:mod:`abm.storage`); the households' self-consumption is reported beside it. Fuel emissions
follow a trend, less petrol displaced by EVs, heat and carbon-neutral fuels, and
offsets. The FY2017 fuel emissions are set so that the model's FY2017 total equals
the observed 5,058 kt: the accounts are anchored on the observed year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from abm.scenario import Scenario
from abm.trajectory import Trajectory

TJ_PER_GWH = 3.6
ANCHOR_YEAR = 2017
PLANNED_FROM = 2025  # the last fiscal year before the strategy's measures
EXOGENOUS_SOURCES = (
    "waste_to_energy_tj",
    "biogas_tj",
    "renewable_heat_tj",
    "carbon_neutral_fuels_tj",
    "procurement_other_cities_tj",
    "offsets_tj",
    "large_pv_tj",
)
ELECTRIC_SOURCES = ("waste_to_energy_tj", "biogas_tj", "procurement_other_cities_tj", "large_pv_tj")
FUEL_SOURCES = ("renewable_heat_tj", "carbon_neutral_fuels_tj", "offsets_tj")


def agent_pv_kw(table: Mapping[str, Sequence[float]]) -> np.ndarray:
    """The agents' PV capacity by year: owned by households and businesses, under PPAs
    and over farmland, kW."""
    return sum(
        np.asarray(table[c], dtype=float) for c in ("residential_pv_kw", "business_pv_kw", "ppa_kw", "solar_sharing_kw")
    )


def add_accounts(table: dict[str, np.ndarray], scenario: Scenario) -> None:
    """Add energy and CO2 columns to a yearly table of agent stocks, in place."""
    years = table["fiscal_year"]
    tech, em, ren = (
        scenario.section("technology"),
        scenario.section("emissions"),
        scenario.section("renewables"),
    )
    yield_kwh = tech["pv_yield_kwh_per_kw_year"]

    # what the stock produces: each system at its age (abm.pv_life)
    agent_kw = agent_pv_kw(table) - table["agent_pv_degraded_kw"]
    # a year's output comes from the mean of its opening and closing stock
    opening_kw = table["opening_agent_pv_kw"] - table["opening_agent_pv_degraded_kw"]
    opening = np.concatenate([[opening_kw], agent_kw[:-1]])
    pv_gwh = (opening + agent_kw) / 2 * yield_kwh / 1e6
    table["agent_pv_generation_tj"] = pv_gwh * TJ_PER_GWH
    # the growth planned after FY2025, realised in the share planned_growth_factor
    planned = years > PLANNED_FROM
    for source in EXOGENOUS_SOURCES:
        trajectory = Trajectory.from_table(ren[source])
        start = trajectory(PLANNED_FROM)
        table[source] = np.where(
            planned, start + ren["planned_growth_factor"] * (trajectory.at(years) - start), trajectory.at(years)
        )
    table["renewable_energy_tj"] = table["agent_pv_generation_tj"] + sum(table[s] for s in EXOGENOUS_SOURCES)
    table["renewable_target_tj"] = np.full(years.size, ren["target_tj"])

    ef = Trajectory.from_table(em["grid_kg_per_kwh"]).at(years)
    ev_km = table["evs"] * tech["car_km_per_year"]
    ev_gwh = ev_km / tech["ev_km_per_kwh"] / 1e6
    zeh_gwh = table["zeh_houses"] * tech["zeh_savings_kwh_per_year"] / 1e6
    # storage moves PV output to the house's own use: no new energy, but its losses
    demand_gwh = (
        em["electricity_gwh_fy2017"] * (1 + em["electricity_demand_trend_per_year"]) ** (years - ANCHOR_YEAR)
        + ev_gwh
        - zeh_gwh
        + table["storage_losses_gwh"]
    )
    owned_gwh = table["residential_pv_kw"] * yield_kwh / 1e6
    table["household_pv_self_consumed_gwh"] = (
        owned_gwh * tech["household_self_consumption_share"]
        + table["storage_shifted_gwh"] * tech["battery_round_trip_efficiency"]
    )
    table["household_pv_self_consumption_share"] = np.divide(
        table["household_pv_self_consumed_gwh"], owned_gwh, out=np.zeros(years.size), where=owned_gwh > 0
    )
    local_gwh = pv_gwh + sum(table[s] for s in ELECTRIC_SOURCES) / TJ_PER_GWH
    grid_gwh = np.maximum(demand_gwh - local_gwh, 0.0)
    electricity_kt = grid_gwh * ef  # GWh x kg/kWh = kt

    petrol_kt = ev_km / tech["ice_km_per_litre"] * em["petrol_kg_per_litre"] / 1e6
    fuel_displaced_kt = sum(table[s] for s in FUEL_SOURCES) * em["fuel_t_per_tj"] / 1e3
    anchor = int(np.flatnonzero(years == ANCHOR_YEAR)[0])
    fuel_anchor_kt = em["fy2017_kt"] - electricity_kt[anchor] + petrol_kt[anchor] + fuel_displaced_kt[anchor]
    fuel_kt = fuel_anchor_kt * (1 + em["fuel_emissions_trend_per_year"]) ** (years - ANCHOR_YEAR)
    table["grid_kg_co2_per_kwh"] = ef
    table["electricity_demand_gwh"] = demand_gwh
    table["co2_kt"] = np.maximum(electricity_kt + fuel_kt - petrol_kt - fuel_displaced_kt, 0.0)
    table["co2_change_vs_fy2013_pct"] = (table["co2_kt"] / em["fy2013_kt"] - 1) * 100
    table["co2_change_vs_fy2017_pct"] = (table["co2_kt"] / em["fy2017_kt"] - 1) * 100
    # what the agents' adoptions since April 2014 avoid, at this year's factors
    added_gwh = pv_gwh - opening_kw * yield_kwh / 1e6
    initial_ev_km = table["initial_evs"] * tech["car_km_per_year"]
    ev_net_kt = (
        (ev_km - initial_ev_km)
        * (em["petrol_kg_per_litre"] / tech["ice_km_per_litre"] - ef / tech["ev_km_per_kwh"])
        / 1e6
    )
    table["co2_avoided_by_adoption_kt"] = (added_gwh + zeh_gwh) * ef + ev_net_kt
