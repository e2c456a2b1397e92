"""Saitama City zero-carbon adoption simulator.

Households, businesses and farmers decide on rooftop PV, ZEH, EVs, PPAs and solar
sharing under subsidies, prices and peer influence; the city's renewable energy and
CO2 are accounted against its 2050 targets.
"""

from abm.model import CityModel
from abm.runner import RunResult, run_replicates, run_scenario
from abm.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "CityModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run_replicates",
    "run_scenario",
]
