"""The model's calendar: monthly steps, Japanese fiscal years (April to March).

Step 0 is April 2014 and the last step is March 2051, so the horizon covers fiscal
years 2014 to 2050. Everything that is reported by year is reported by fiscal year.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from dataclasses import dataclass

FIRST_FISCAL_YEAR = 2014
LAST_FISCAL_YEAR = 2050
MONTHS_PER_YEAR = 12
N_STEPS = (LAST_FISCAL_YEAR - FIRST_FISCAL_YEAR + 1) * MONTHS_PER_YEAR
FISCAL_YEARS = tuple(range(FIRST_FISCAL_YEAR, LAST_FISCAL_YEAR + 1))


@dataclass(frozen=True)
class Month:
    """One monthly step of the model."""

    step: int

    @classmethod
    def first_of(cls, fiscal_year: int) -> Month:
        """April of ``fiscal_year``."""
        return cls((fiscal_year - FIRST_FISCAL_YEAR) * MONTHS_PER_YEAR)

    @property
    def fiscal_year(self) -> int:
        return FIRST_FISCAL_YEAR + self.step // MONTHS_PER_YEAR

    @property
    def month_of_fiscal_year(self) -> int:
        """0 for April, 11 for March."""
        return self.step % MONTHS_PER_YEAR

    @property
    def calendar_year(self) -> int:
        return self.fiscal_year + (1 if self.month_of_fiscal_year >= 9 else 0)

    @property
    def calendar_month(self) -> int:
        return (self.month_of_fiscal_year + 3) % 12 + 1

    @functools.cached_property
    def days(self) -> int:
        return calendar.monthrange(self.calendar_year, self.calendar_month)[1]

    @property
    def year_fraction(self) -> float:
        """Time in years since April 2014 at the middle of the month."""
        return (self.step + 0.5) / MONTHS_PER_YEAR

    @property
    def is_fiscal_year_end(self) -> bool:
        return self.month_of_fiscal_year == MONTHS_PER_YEAR - 1

    def date(self, day: int) -> dt.date:
        return dt.date(self.calendar_year, self.calendar_month, day)


def in_horizon(fiscal_year: int) -> bool:
    return FIRST_FISCAL_YEAR <= fiscal_year <= LAST_FISCAL_YEAR
