"""The ODD's parameter table and the model agree (abm/parameters.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from abm import parameters
from abm.runner import run_scenario
from abm.scenario import Scenario, load_scenario

ODD = Path(__file__).resolve().parent.parent / "docs" / "ODD.md"
NUMBER = r"-?\d[\d,]*(?:\.\d+)?"


class _Recorded(dict):
    """A section of a scenario that records which of its keys are read."""

    def __init__(self, section: str, data: dict, reads: set[tuple[str, str]]):
        super().__init__(data)
        self.section, self.reads = section, reads

    def __getitem__(self, key):
        self.reads.add((self.section, key))
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.reads.add((self.section, key))
        return super().get(key, default)

    def __or__(self, other):
        merged = _Recorded(self.section, self, self.reads)
        merged.update(other)
        return merged


@pytest.fixture(scope="module")
def keys_a_run_reads() -> set[tuple[str, str]]:
    reads: set[tuple[str, str]] = set()
    section, item = Scenario.section, Scenario.__getitem__

    def recorded_section(self, name):
        return _Recorded(name, section(self, name), reads)

    def recorded_item(self, dotted):
        parts = dotted.split(".")
        if len(parts) == 2:
            reads.add((parts[0], parts[1]))
        return item(self, dotted)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Scenario, "section", recorded_section)
        mp.setattr(Scenario, "__getitem__", recorded_item)
        # the strategy has every part of the model on (storage, PV life, PPAs, solar sharing)
        run_scenario(load_scenario("strategy"), seed=3, scale=0.01, keep_city=False)
    return reads


def test_the_committed_table_is_the_one_the_defaults_give():
    committed = parameters.committed_table(ODD.read_text(encoding="utf-8"))
    assert committed == parameters.table(), "docs/ODD.md is stale: run python -m abm.parameters docs/ODD.md"


def test_every_key_of_the_table_is_one_a_run_reads(keys_a_run_reads):
    unread = [p.name for p in parameters.read_defaults() if (p.section, p.key) not in keys_a_run_reads]
    assert unread == []


def test_every_constant_a_run_reads_is_in_the_table(keys_a_run_reads):
    listed = {(p.section, p.key) for p in parameters.read_defaults()}
    constants = {s for s, _ in listed}
    read_constants = {r for r in keys_a_run_reads if r[0] in constants}
    assert read_constants - listed == set()


def test_a_stated_range_holds_the_default_value():
    checked, outside = 0, []
    for p in parameters.read_defaults():
        m = re.search(rf"range ({NUMBER})\s*-\s*({NUMBER})( million)?", p.comment)
        if not m or isinstance(p.value, dict | bool | str):
            continue
        factor = 1e6 if m.group(3) else 1.0
        low, high = (float(x.replace(",", "")) * factor for x in m.group(1, 2))
        checked += 1
        if not low <= p.value <= high:
            outside.append(f"{p.name} = {p.value} outside {low:g}-{high:g}")
    assert outside == []
    assert checked >= 40  # the check reads the comments' ranges at all


def test_the_table_names_what_varies_a_parameter():
    rows = {line.split("|")[1].strip(" `"): line for line in parameters.table().splitlines() if line.startswith("| `")}
    assert "calibrated, prior 0.001 to 0.1 (log)" in rows["behaviour.household_pv_p"]
    assert "strategy_sobol & strategy_morris (uncertainty) 0 to 0.05" in rows["prices.pv_cost_decline_per_year"]
    assert rows["population.households"].endswith("| fixed |")
    assert "| observed |" in rows["population.households"]
    # a key under a shared comment block says whose it shares
    assert "as for `behaviour.household_pv_p`" in rows["behaviour.household_pv_q"]


def test_every_key_has_a_unit_from_its_name():
    units = {p.name: p.unit for p in parameters.read_defaults()}
    assert units["prices.pv_cost_yen_per_kw"] == "yen/kW"
    assert units["technology.pv_life_years"] == "years"
    assert units["emissions.grid_kg_per_kwh"] == "kg CO2/kWh"
    assert units["technology.ev_km_per_kwh"] == "km/kWh"
    bad = parameters.Parameter("technology", "mystery_quantity", 1.0, "assumption", "")
    with pytest.raises(ValueError, match="mystery_quantity': no unit follows from its name"):
        _ = bad.unit


def test_a_document_without_its_markers_is_refused():
    with pytest.raises(ValueError, match=re.escape("ODD.md: expected one '<!-- parameter-table:start -->'")):
        parameters.replace_table("# no table\n", "| a |\n", "ODD.md")
    doc = f"before\n{parameters.START}\nold\n{parameters.END}\nafter\n"
    assert parameters.replace_table(doc, "new\n") == f"before\n{parameters.START}\nnew\n{parameters.END}\nafter\n"
