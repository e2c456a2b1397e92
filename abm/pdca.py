"""PDCA review: every few years the city checks its progress and strengthens support
when it is behind its path.

Section 9 of the strategy outline manages the plan by PDCA (plan, do, check, act). A
scenario's optional ``[pdca]`` section states one such rule:

* review years: from ``first_review_fiscal_year`` every ``review_every_years`` to
  ``last_review_fiscal_year``;
* the check: the ``indicator`` at the end of the fiscal year before a review against
  its ``path`` (a trajectory in the indicator's unit);
* the act: when the indicator is below its path, the ``raises`` key of the grant
  programme ``programme`` goes up by ``step_share`` of its value, to at most
  ``ceiling``; it stays there (a review never lowers support).

The rule is off unless the section is there (experiments/designs/pdca-review.toml
has one).
"""

from __future__ import annotations

from dataclasses import dataclass

from abm.trajectory import Trajectory

# what a review can check: columns of the yearly records (sums of them)
INDICATORS = {
    "agent_pv_kw": ("residential_pv_kw", "business_pv_kw", "ppa_kw", "solar_sharing_kw"),
    "residential_pv_kw": ("residential_pv_kw",),
    "zeh_houses": ("zeh_houses",),
    "evs": ("evs",),
    "home_batteries": ("home_batteries",),
}
# what a review can raise: a programme's amounts and budget
RAISABLE = ("yen_per_kw", "yen_per_kwh", "flat_yen", "cap_yen", "annual_budget_yen")


@dataclass(frozen=True)
class Review:
    """A review's finding: the indicator, its path, and the raised value (or None)."""

    fiscal_year: int
    indicator: float
    path: float
    raised_to: float | None


class PDCARule:
    """A scenario's ``[pdca]`` rule."""

    def __init__(self, section: dict):
        self.first = section["first_review_fiscal_year"]
        self.every = section["review_every_years"]
        self.last = section["last_review_fiscal_year"]
        self.indicator = section["indicator"]
        self.path = Trajectory.from_table(section["path"])
        self.programme = section["programme"]
        self.key = section["raises"]
        self.step_share = section["step_share"]
        self.ceiling = section["ceiling"]
        self.reviews: list[Review] = []

    def is_review_year(self, fiscal_year: int) -> bool:
        return self.first <= fiscal_year <= self.last and (fiscal_year - self.first) % self.every == 0

    def review(self, fiscal_year: int, last_year: dict[str, float], current: float) -> float | None:
        """The value the programme's key takes from ``fiscal_year``, given the records
        of the year before (``last_year``) and its ``current`` value; None if it stays."""
        value = sum(last_year[c] for c in INDICATORS[self.indicator])
        target = self.path(fiscal_year - 1)
        raised = min(current * (1 + self.step_share), self.ceiling) if value < target else None
        if raised is not None and raised <= current:
            raised = None  # at the ceiling already
        self.reviews.append(Review(fiscal_year, value, target, raised))
        return raised
