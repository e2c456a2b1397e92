"""The model's calendar (abm/clock.py): monthly steps from April 2014, Japanese fiscal
years (April to March), checked against the Gregorian calendar of ``datetime``."""

from __future__ import annotations

import datetime as dt

from abm.clock import FIRST_FISCAL_YEAR, FISCAL_YEARS, LAST_FISCAL_YEAR, N_STEPS, Month, in_horizon


def test_first_and_last_steps():
    assert (Month(0).calendar_year, Month(0).calendar_month, Month(0).fiscal_year) == (2014, 4, 2014)
    assert Month(0).month_of_fiscal_year == 0
    assert (Month(8).calendar_year, Month(8).calendar_month, Month(8).fiscal_year) == (2014, 12, 2014)
    assert (Month(9).calendar_year, Month(9).calendar_month, Month(9).fiscal_year) == (2015, 1, 2014)
    assert (Month(11).calendar_year, Month(11).calendar_month, Month(11).fiscal_year) == (2015, 3, 2014)
    assert Month(11).is_fiscal_year_end and not Month(10).is_fiscal_year_end
    assert (Month(12).calendar_year, Month(12).calendar_month, Month(12).fiscal_year) == (2015, 4, 2015)
    last = Month(N_STEPS - 1)
    assert (last.calendar_year, last.calendar_month, last.fiscal_year) == (2051, 3, 2050)
    assert last.is_fiscal_year_end


def test_horizon_covers_fy2014_to_fy2050():
    assert (FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR) == (2014, 2050)
    assert N_STEPS == 37 * 12
    assert FISCAL_YEARS == tuple(range(2014, 2051))
    assert sorted({Month(s).fiscal_year for s in range(N_STEPS)}) == list(FISCAL_YEARS)
    assert in_horizon(2014) and in_horizon(2050) and not in_horizon(2013) and not in_horizon(2051)


def test_every_step_is_the_next_calendar_month():
    """Walking the steps walks the calendar month by month, and each month's days and
    the fiscal year's days agree with datetime."""
    day = dt.date(2014, 4, 1)
    days_in_fy: dict[int, int] = {}
    for s in range(N_STEPS):
        m = Month(s)
        assert (m.calendar_year, m.calendar_month) == (day.year, day.month)
        assert m.fiscal_year == (day.year if day.month >= 4 else day.year - 1)
        nxt = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
        assert m.days == (nxt - day).days
        assert m.date(m.days) == nxt - dt.timedelta(days=1)
        assert m.year_fraction == (s + 0.5) / 12
        days_in_fy[m.fiscal_year] = days_in_fy.get(m.fiscal_year, 0) + m.days
        day = nxt
    for fy, days in days_in_fy.items():
        assert days == (dt.date(fy + 1, 4, 1) - dt.date(fy, 4, 1)).days
