"""Prices, costs and values (abm/economics.py), against year-by-year brute force.

* ``annuity`` equals the plain sum of (1+g)^(t-first)/(1+r)^t over a grid of rates,
  growths and year ranges, and where the ratio (1+g)/(1+r) is near but not at 1.
* ``PVEconomics.buy_npv`` and ``ppa_npv`` equal the NPV of their yearly cash flows:
  output degrading from year 1, self-consumption at the retail price growing with the
  price trend, exports at the FIT for the FIT term then at the post-FIT price, O&M,
  all within the system's life.
* ``ev_npv`` equals the discounted fuel savings less the premium.
* ``Market`` follows its trajectories: PV cost declining after the last observed
  point, the EV premium falling linearly to zero at price parity, solar-sharing cost
  declining from 2021.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from abm.clock import FISCAL_YEARS
from abm.economics import Discounting, Market, PVEconomics, annuity
from abm.kernels import ev_npv


def brute_annuity(rate: float, growth: float, first: int, last: int) -> float:
    return sum((1 + growth) ** (t - first) / (1 + rate) ** t for t in range(first, last + 1))


RATES = [0.0, 0.01, 0.02, 0.05, 0.08, 0.1, 0.3]
GROWTHS = [-0.05, -0.005, 0.0, 0.01, 0.02, 0.05, 0.1]


@pytest.mark.parametrize("first", [0, 1, 3, 11, 16])
def test_annuity_grid(first):
    for rate, growth, span in itertools.product(RATES, GROWTHS, [-1, 0, 1, 5, 9, 24, 40]):
        last = first + span
        got = annuity(rate, growth, first, last)
        expected = brute_annuity(rate, growth, first, last)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-12), (rate, growth, first, last)


def test_annuity_vectorised_over_rates():
    rates = np.array(RATES)
    for growth, first, last in [(0.02, 1, 25), (-0.005, 11, 25), (0.0, 1, 9), (0.05, 1, 10)]:
        got = annuity(rates, growth, first, last)
        assert got.shape == rates.shape
        np.testing.assert_allclose(got, [brute_annuity(r, growth, first, last) for r in RATES], rtol=1e-10)
    np.testing.assert_array_equal(annuity(rates, 0.0, 5, 4), np.zeros(rates.size))


@pytest.mark.parametrize("offset", [1e-4, 1e-5, 2e-6, -2e-6, 1e-7, 1e-8, -1e-8])
def test_annuity_near_ratio_one(offset):
    """(1+g)/(1+r) = 1 + offset: near but not at 1 the closed form still holds to 1e-9
    (a switch to the x == 1 limit n there would be off by about (n-1)/2 * offset)."""
    rate = 0.05
    growth = (1 + rate) * (1 + offset) - 1
    for first, last in [(1, 25), (1, 10), (11, 25), (16, 30)]:
        expected = brute_annuity(rate, growth, first, last)
        assert annuity(rate, growth, first, last) == pytest.approx(expected, rel=1e-9)


# --- PV values --------------------------------------------------------------------


def cash_flow_npv(pv: PVEconomics, kw, cost_per_kw, rate, self_share, retail, fit, fit_term):
    """NPV of buying PV, year by year over the system's life."""
    total = 0.0
    for t in range(1, pv.life + 1):
        energy = pv.yield_kwh_per_kw * kw * (1 - pv.degradation) ** (t - 1)
        own = self_share * energy * retail * (1 + pv.price_trend) ** (t - 1)
        export = (1 - self_share) * energy * (fit if t <= fit_term else pv.post_fit)
        total += (own + export - pv.om * kw) / (1 + rate) ** t
    return total - kw * cost_per_kw


def ppa_cash_flow_npv(pv: PVEconomics, kw, rate, self_share, retail):
    """NPV of a PPA: a discount on the self-consumed power during the term, then the
    system for free (self-consumption, post-FIT exports, O&M) to the end of its life."""
    total = 0.0
    for t in range(1, pv.life + 1):
        energy = pv.yield_kwh_per_kw * kw * (1 - pv.degradation) ** (t - 1)
        price = retail * (1 + pv.price_trend) ** (t - 1)
        if t <= pv.ppa_term:
            flow = self_share * energy * price * pv.ppa_discount
        else:
            flow = self_share * energy * price + (1 - self_share) * energy * pv.post_fit - pv.om * kw
        total += flow / (1 + rate) ** t
    return total


CASES = [
    # kw, cost per kW, rate, self share, retail, fit, fit term
    (4.0, 300_000.0, 0.05, 0.3, 28.0, 16.0, 10),
    (2.5, 405_000.0, 0.02, 0.3, 25.7, 37.0, 10),
    (9.9, 250_000.0, 0.08, 0.5, 31.7, 24.0, 10),
    (40.0, 210_000.0, 0.25, 0.7, 25.0, 14.0, 20),
    (120.0, 200_000.0, 1 / 3, 0.0, 0.0, 10.0, 20),
    (4.6, 300_000.0, 0.04, 0.3, 28.0, 15.0, 0),
    (4.6, 300_000.0, 0.04, 0.3, 28.0, 15.0, 25),
]


def check_buy_npv(pv: PVEconomics, cases=CASES):
    kw = np.array([c[0] for c in cases])
    rate = np.array([c[2] for c in cases])
    for i, (k, cost, r, share, retail, fit, term) in enumerate(cases):
        got = pv.buy_npv(kw, cost, rate, share, retail, fit, term)[i]
        assert got == pytest.approx(cash_flow_npv(pv, k, cost, r, share, retail, fit, term), rel=1e-9), cases[i]


def test_buy_npv_without_degradation(baseline):
    """No degradation: every other term of the cash flow, with and without a price trend."""
    for trend in (0.0, 0.02, -0.01):
        s = baseline.with_values(
            {"technology.pv_degradation_per_year": 0.0, "prices.electricity_price_trend_per_year": trend}
        )
        check_buy_npv(PVEconomics(s))


def test_buy_npv_without_fit_term(baseline):
    """No FIT period (fit term 0): degradation and trend applied from year 1."""
    s = baseline.with_values({"prices.electricity_price_trend_per_year": 0.01})
    check_buy_npv(PVEconomics(s), [c for c in CASES if c[6] == 0])


def test_buy_npv_with_degradation(baseline):
    """Post-FIT exports keep the degradation accumulated during the FIT term."""
    check_buy_npv(PVEconomics(baseline), [c for c in CASES if c[6] <= 25])
    trend = baseline.with_values({"prices.electricity_price_trend_per_year": 0.015})
    check_buy_npv(PVEconomics(trend), [c for c in CASES if c[6] <= 25])


def test_buy_npv_fit_term_longer_than_life(baseline):
    s = baseline.with_values({"technology.pv_degradation_per_year": 0.0, "technology.pv_life_years": 15})
    check_buy_npv(PVEconomics(s), [(4.0, 300_000.0, 0.05, 0.3, 28.0, 16.0, 20)])


def check_ppa_npv(pv: PVEconomics):
    kw = np.array([c[0] for c in CASES])
    rate = np.array([c[2] for c in CASES])
    for i, (k, _cost, r, share, retail, *_rest) in enumerate(CASES):
        got = pv.ppa_npv(kw, rate, share, retail)[i]
        assert got == pytest.approx(ppa_cash_flow_npv(pv, k, r, share, retail), rel=1e-9), CASES[i]


def test_ppa_npv_without_price_trend(baseline):
    s = baseline.with_values({"prices.electricity_price_trend_per_year": 0.0})
    check_ppa_npv(PVEconomics(s))


def test_ppa_npv_with_price_trend(baseline):
    s = baseline.with_values({"prices.electricity_price_trend_per_year": 0.02})
    check_ppa_npv(PVEconomics(s))


def test_ev_npv_brute_force():
    rates = np.array([0.0, 0.02, 0.05, 0.08])
    premium, km, petrol, elec, years = 1_000_000.0, 6000.0, 165 / 15, 28.0 / 6.5, 9
    got = ev_npv(annuity(rates, 0.0, 1, years), premium, km, petrol, elec)
    expected = [sum((petrol - elec) * km / (1 + r) ** t for t in range(1, years + 1)) - premium for r in rates]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # zero discount: nine years of savings less the premium
    assert got[0] == pytest.approx(9 * (petrol - elec) * km - premium)


# --- market trajectories ------------------------------------------------------------


def test_pv_cost_declines_after_last_point(baseline):
    s = baseline.with_values(
        {
            "prices.pv_cost_yen_per_kw": {"2014": 400_000.0, "2020": 300_000.0},
            "prices.pv_cost_decline_per_year": 0.03,
        }
    )
    m = Market(s)
    assert m.pv_cost(2014) == pytest.approx(400_000.0)
    assert m.pv_cost(2017) == pytest.approx(350_000.0)
    assert m.pv_cost(2020) == pytest.approx(300_000.0)
    for fy in range(2021, 2051):
        assert m.pv_cost(fy) == pytest.approx(300_000.0 * 0.97 ** (fy - 2020), rel=1e-12)


def test_ev_premium_falls_to_parity(baseline):
    s = baseline.with_values(
        {
            "technology.ev_premium_yen": {"2014": 1_800_000.0, "2022": 1_000_000.0},
            "technology.ev_price_parity_fiscal_year": 2035,
        }
    )
    m = Market(s)
    assert m.ev_premium(2018) == pytest.approx(1_400_000.0)
    assert m.ev_premium(2030) == pytest.approx(1_000_000.0 * 5 / 13)
    for fy in range(2035, 2051):
        assert m.ev_premium(fy) == 0.0
    # parity before the last point: the premium is held after it
    early = Market(s.with_values({"technology.ev_price_parity_fiscal_year": 2020}))
    assert early.ev_premium(2030) == pytest.approx(1_000_000.0)


def test_solar_sharing_cost_and_electricity_price(baseline):
    s = baseline.with_values(
        {
            "technology.solar_sharing_cost_yen_per_kw": 300_000.0,
            "technology.solar_sharing_cost_decline_per_year": 0.04,
            "prices.electricity_price_yen_per_kwh": {"2014": 28.0, "2023": 30.0},
            "prices.electricity_price_trend_per_year": 0.01,
        }
    )
    m = Market(s)
    assert m.solar_sharing_cost(2015) == pytest.approx(300_000.0)
    assert m.solar_sharing_cost(2031) == pytest.approx(300_000.0 * 0.96**10)
    assert m.electricity_price(2020) == pytest.approx(28.0 + 2.0 * 6 / 9)
    assert m.electricity_price(2050) == pytest.approx(30.0 * 1.01**27)
    table = m.table()
    assert table["fiscal_year"] == list(FISCAL_YEARS)
    assert len(table["pv_cost_yen_per_kw"]) == len(FISCAL_YEARS)


def test_discounting_writes_each_annuity_into_its_column_and_refuses_a_table_of_another_size():
    rates = np.array(RATES)
    table = np.full((rates.size, 3), np.nan)
    discounting = Discounting(rates)
    discounting.annuity_into(table, 2, 0.02, 1, 25, scale=1.5)
    discounting.annuity_into(table, 0, -0.005, 11, 25)
    np.testing.assert_array_equal(table[:, 2], annuity(rates, 0.02, 1, 25) * 1.5)
    np.testing.assert_array_equal(table[:, 0], annuity(rates, -0.005, 11, 25))
    assert np.isnan(table[:, 1]).all()
    for wrong, column in (
        (np.zeros((rates.size - 1, 3)), 0),
        (np.zeros((rates.size, 3)), 3),
        (np.zeros(rates.size), 0),
    ):
        with pytest.raises(ValueError, match=f"{rates.size} rows with a column {column}"):
            discounting.annuity_into(wrong, column, 0.0, 1, 10)


@pytest.mark.parametrize(
    "key, value",
    [
        ("technology.pv_degradation_per_year", 0.007),
        ("technology.pv_life_years", 30),
        ("ppa.term_years", 12),
        ("prices.electricity_price_trend_per_year", 0.02),
        ("technology.post_fit_yen_per_kwh", 9.0),
    ],
)
def test_pv_economics_are_equal_when_their_numbers_are(baseline, key, value):
    """A city keeps PV factors for as long as the PV economics compare equal
    (abm.city.Derived), so every number they use must count."""
    assert PVEconomics(baseline) == PVEconomics(baseline)
    assert PVEconomics(baseline.with_values({key: value})) != PVEconomics(baseline)
