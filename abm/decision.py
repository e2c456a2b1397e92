"""The decision rule shared by every population: consider, then choose.

1. *Consideration.* Each month a non-adopter starts considering a technology with
   hazard ``p_i + q * s_i`` per year: ``p_i`` a base rate (raised by campaigns),
   ``s_i`` the adopting share of its network neighbours (or of the whole population).
   Rather than rolling a die for every agent every month, the rule draws candidates
   at the largest possible rate and thins them to each agent's own rate, which gives
   every agent exactly the probability ``1 - exp(-(p_i + q s_i) dt)`` at a cost
   proportional to the number of candidates.
2. *Choice.* A considering agent picks among its options by a logit over utilities
   (Gumbel noise, so that a refused grant changes one utility and the agent
   re-decides with the same taste). Options with grants apply to the programmes in
   order of arrival; an agent refused a grant re-decides without it.

With identical agents, peer share over the whole population and adoption certain
once considered, this is the Bass model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from abm.clock import MONTHS_PER_YEAR, Month
from abm.policy import PolicyEnvironment, eligible

DT_YEARS = 1.0 / MONTHS_PER_YEAR


class PeerExposure:
    """How many of each agent's peers have adopted, updated as adoptions happen.

    With a network, the share is adopting neighbours over degree; with
    ``adjacency=None`` the peer group is the whole population.

    The consideration hazard of a month uses :meth:`midmonth_share`: the share at the
    start of the month plus half of last month's change, i.e. the share expected at
    mid-month. Holding the start-of-month share for the whole month would make the
    adoption curve lag by half a step (up to 0.01 on the Bass curve); the mid-month
    extrapolation is second-order accurate. :meth:`settle` marks a month's start.
    """

    def __init__(self, n: int, adjacency: sp.csr_matrix | None):
        self.n = n
        self.adjacency = adjacency
        self.adopted_total = 0
        self._pending_total = self._last_month_total = 0
        if adjacency is not None:
            self.inverse_degree = 1.0 / np.maximum(np.diff(adjacency.indptr), 1).astype(np.float32)
            self.count = np.zeros(n, dtype=np.float32)
            self.last_month = np.zeros(n, dtype=np.float32)  # change of count last month
            self._last_month_touched = np.empty(0, dtype=np.int64)
            self._pending: list[tuple[np.ndarray, np.float32]] = []

    def settle(self) -> None:
        """Start a month: the changes since the last call become last month's change."""
        self._last_month_total, self._pending_total = self._pending_total, 0
        if self.adjacency is None:
            return
        self.last_month[self._last_month_touched] = 0.0
        touched = [neighbours for neighbours, _ in self._pending]
        for neighbours, sign in self._pending:
            np.add.at(self.last_month, neighbours, sign)
        self._last_month_touched = np.concatenate(touched) if touched else np.empty(0, dtype=np.int64)
        self._pending = []

    def add(self, adopters: np.ndarray, sign: float = 1.0) -> None:
        """Count ``adopters`` (agent indices) as adopting, or as no longer adopting
        with ``sign=-1``."""
        self.adopted_total += int(sign) * adopters.size
        self._pending_total += int(sign) * adopters.size
        if self.adjacency is not None and adopters.size:
            a = self.adjacency
            starts, ends = a.indptr[adopters], a.indptr[adopters + 1]
            lengths = ends - starts
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
            neighbours = a.indices[np.arange(lengths.sum()) + offsets]
            # a float32 increment keeps np.add.at on its fast path
            np.add.at(self.count, neighbours, np.float32(sign))
            self._pending.append((neighbours, np.float32(sign)))

    def share(self, agents: np.ndarray) -> np.ndarray:
        if self.adjacency is None:
            return np.full(agents.size, self.adopted_total / self.n, dtype=np.float32)
        return self.count[agents] * self.inverse_degree[agents]

    def midmonth_share(self, agents: np.ndarray) -> np.ndarray:
        """The share expected at mid-month, for the month's consideration hazard."""
        if self.adjacency is None:
            share = (self.adopted_total + 0.5 * self._last_month_total) / self.n
            return np.full(agents.size, min(max(share, 0.0), 1.0), dtype=np.float32)
        count = self.count[agents] + 0.5 * self.last_month[agents]
        return np.clip(count * self.inverse_degree[agents], 0.0, 1.0)


def bernoulli_positions(rng: np.random.Generator, n: int, probability: float) -> np.ndarray:
    """Each of the positions ``0 .. n-1`` independently with ``probability``, as sorted
    indices. The gaps between chosen positions are geometric, so the cost is one draw
    per chosen position, not one per position; sorted indices also gather agents'
    attributes in memory order."""
    if n == 0 or probability <= 0:
        return np.empty(0, dtype=np.int64)
    if probability >= 1:
        return np.arange(n)
    expected = n * probability
    size = int(expected + 5 * np.sqrt(expected)) + 10
    positions = np.cumsum(rng.geometric(probability, size)) - 1
    while positions[-1] < n:  # rarely: fewer gaps drawn than the n positions need
        positions = np.concatenate([positions, positions[-1] + np.cumsum(rng.geometric(probability, size))])
    return positions[: np.searchsorted(positions, n)]


def draw_considerers(
    rng: np.random.Generator,
    pool: np.ndarray,
    base_rate_per_year: float,
    peer_rate_per_year: float,
    rate_multiplier: Callable[[np.ndarray], np.ndarray | float],
    max_multiplier: float,
    peer_share: Callable[[np.ndarray], np.ndarray],
    is_candidate: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Agents of ``pool`` (agent indices) who start considering this month, in the
    order of ``pool``.

    ``rate_multiplier`` gives each agent's campaign factor on the base rate (at most
    ``max_multiplier``); ``is_candidate`` filters out agents who cannot adopt.
    Candidates are drawn at the largest hazard any agent can have, ``p max_multiplier
    + q`` (a peer share is at most 1), and each is kept with its own month's
    probability over the candidates', so an agent considers with probability exactly
    ``1 - exp(-(p_i + q s_i) dt)``.
    """
    hazard_max = base_rate_per_year * max_multiplier + peer_rate_per_year
    if hazard_max <= 0:
        return np.empty(0, dtype=np.int64)
    c_max = -np.expm1(-hazard_max * DT_YEARS)
    cand = pool[bernoulli_positions(rng, pool.size, c_max)]
    u = rng.random(cand.size)  # drawn before filtering, so draws do not depend on state
    ok = is_candidate(cand)
    cand, u = cand[ok], u[ok]
    hazard = np.zeros(cand.size)
    if base_rate_per_year > 0:
        hazard += base_rate_per_year * rate_multiplier(cand)
    if peer_rate_per_year > 0:
        hazard += peer_rate_per_year * peer_share(cand)
    return cand[u * c_max < -np.expm1(-hazard * DT_YEARS)]


@dataclass(frozen=True)
class Option:
    """One option of a choice: its technology (None for options without grants),
    the size and cost a grant is computed on, and the agents' eligibility flags."""

    technology: str | None
    kw: np.ndarray | None = None
    cost_yen: np.ndarray | None = None


@dataclass
class Decision:
    """What the considering agents chose and the grants they received."""

    chosen: np.ndarray
    grant_yen: np.ndarray


def gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Gumbel noise, as -log of standard exponentials (faster than rng.gumbel)."""
    return -np.log(rng.standard_exponential(size=shape))


@dataclass
class _Offer:
    """A programme's grants on one option, to the agents still able to get them."""

    option: int
    programme: int
    amount_yen: np.ndarray
    offered: np.ndarray
    granted: np.ndarray


def choose(
    rng: np.random.Generator,
    policy: PolicyEnvironment,
    month: Month,
    agents: str,
    weight: float,
    flags: dict[str, np.ndarray],
    utility: np.ndarray,
    yen_to_utility: np.ndarray,
    options: Sequence[Option],
) -> Decision:
    """Logit choice among ``options`` with first-come grants and re-decision.

    ``utility`` is (agents x options) without grants; a grant of G yen on option j
    adds ``yen_to_utility[i, j] * G`` (``yen_to_utility`` is agents x options, or
    agents x 1 where one rate serves every option; an option without a technology
    gets no grants, so its rate does not matter). Each simulated agent stands for ``weight``
    real ones when it draws on a budget.
    """
    n, k = utility.shape
    fy = month.fiscal_year
    noisy = utility + gumbel(rng, (n, k))
    offers: list[_Offer] = []
    for j, opt in enumerate(options):
        if opt.technology is None:
            continue
        for index in policy.open_programmes_for(opt.technology, agents, fy):
            prog = policy.programmes[index]
            amount = prog.amount_yen(opt.kw, opt.cost_yen)
            if prog.eligibility != "any":
                amount = np.where(eligible(prog.eligibility, flags), amount, 0.0)
            offers.append(_Offer(j, index, amount, amount > 0, np.zeros(n, dtype=bool)))
    if not offers:
        return Decision(chosen=np.argmax(noisy, axis=1), grant_yen=np.zeros(n))

    # first come, first served: a random order of arrival over the month, drawn only
    # when some budget cannot grant every applicant
    rank = arrival_day = None
    while True:
        grants = np.zeros((n, k))
        for o in offers:
            grants[:, o.option] += o.amount_yen * o.offered
        chosen = np.argmax(noisy + yen_to_utility * grants, axis=1)
        refused = False
        for o in offers:
            applicants = np.flatnonzero((chosen == o.option) & o.offered & ~o.granted)
            if applicants.size == 0:
                continue
            amounts = o.amount_yen[applicants]
            if float(amounts.sum()) * weight <= policy.ledger.remaining_yen(o.programme):
                days = np.ones(applicants.size, dtype=np.int64)  # all granted: no order needed
            else:
                if rank is None:
                    rank = rng.permutation(n)
                    arrival_day = np.sort(rng.integers(1, month.days + 1, n))
                applicants = applicants[np.argsort(rank[applicants])]
                amounts, days = o.amount_yen[applicants], arrival_day[rank[applicants]]
            ok = policy.ledger.grant(o.programme, amounts, weight, days, month)
            o.granted[applicants[ok]] = True
            if not ok.all():
                refused = True
                # a closed programme is closed to everybody not yet granted
                for other in offers:
                    if other.programme == o.programme:
                        other.offered &= other.granted
        if not refused:
            break
    # agents who switched away from an option after a refusal give its grants back
    received = np.zeros(n)
    for o in offers:
        unused = o.granted & (chosen != o.option)
        if unused.any():
            policy.ledger.refund(o.programme, o.amount_yen[unused], weight)
        used = o.granted & (chosen == o.option)
        received[used] += o.amount_yen[used]
    return Decision(chosen=chosen, grant_yen=received)
