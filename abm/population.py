"""What every agent population shares: its context and its rooftop-PV decision.

A population holds one numpy array per attribute and one row per agent, and steps
all its agents at once: each month, one call per decision into :mod:`abm.kernels`.
:class:`Context` is what the model hands each population: the generator, the market,
the policy environment and the behavioural parameters. :class:`RooftopPV` is the
consider-then-choose rule for owners of a roof deciding between buying PV, a PPA and
nothing; households and businesses both use it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from abm import kernels
from abm.city import Attributes
from abm.clock import FIRST_FISCAL_YEAR, Month
from abm.decision import PeerExposure, inverse_degrees
from abm.economics import Discounting, Market, PVEconomics
from abm.policy import PolicyEnvironment
from abm.pv_life import EndOfLifeValues, PVLife
from abm.scenario import AGENT_TYPES, Scenario

# Each decision draws from its own stream for each month, so that two runs with the
# same seed but different policies (paired runs on common random numbers) consider
# the same candidates and face the same noise wherever their states agree.
STREAMS = (
    "households.build",
    "households.pv.consider",
    "households.pv.choose",
    "households.cars",
    "businesses.pv.consider",
    "businesses.pv.choose",
    "farmers.solar_sharing.consider",
    "farmers.solar_sharing.choose",
)


_MASK_64, _MASK_128 = (1 << 64) - 1, (1 << 128) - 1


class MonthlyStreams:
    """One random stream per decision, set for each month at the start of its own
    block of 2**40 draws (far more than a month uses), so months never overlap.

    A request sets the decision's stream at the start of the month's block. The first
    request of a month sets every decision's stream at once, and a later request of
    a stream already handed out that month sets it again. What is returned is an
    :class:`abm.kernels.Stream` on the decision's bit generator as the plain tuple of
    its address (which numba takes faster than the handle itself), valid because
    this object holds the bit generators.

    A month's position is written straight into the generators' 128-bit LCG states
    (``state = A state + C inc``, with ``A`` and ``C`` of the jump taken from numpy's
    own ``advance`` once per process) by one compiled call
    (:func:`abm.kernels.position_streams`), which costs a fraction of setting
    ``bit_generator.state`` and advancing it; the tests check that both give the same
    state. A copy (pickled, or deep-copied) is made anew from the seed, as the handles
    are addresses in this object's generators.
    """

    BLOCK = 2**40

    def __init__(self, seed: int):
        self.seed = seed
        self._bits = [np.random.PCG64(np.random.SeedSequence([seed, i])) for i in range(len(STREAMS))]
        handles = [tuple(kernels.Stream(bits)) for bits in self._bits]
        self._handles = dict(zip(STREAMS, handles, strict=True))
        self._addresses = np.array([h[0] for h in handles], dtype=np.int64)
        lcg = [bits.state["state"] for bits in self._bits]
        self._bases = np.array([[*_words(x["state"]), *_words(x["inc"])] for x in lcg], dtype=np.uint64)
        self._step: int | None = None
        self._handed_out: set[str] = set()  # this month

    def __call__(self, month: Month, purpose: str) -> tuple[int]:
        if month.step != self._step:
            kernels.position_streams(self._addresses, self._bases, _jump_words(month.step * self.BLOCK))
            self._step, self._handed_out = month.step, {purpose}
        elif purpose in self._handed_out:
            k = STREAMS.index(purpose)
            jump = _jump_words(month.step * self.BLOCK)
            kernels.position_streams(self._addresses[k : k + 1], self._bases[k : k + 1], jump)
        else:
            self._handed_out.add(purpose)
        return self._handles[purpose]

    def __reduce__(self) -> tuple[type, tuple[int]]:
        return MonthlyStreams, (self.seed,)


def _words(number: int) -> tuple[int, int]:
    """(low, high) 64-bit words of a 128-bit number."""
    return number & _MASK_64, number >> 64


@functools.cache
def _jump_words(draws: int) -> np.ndarray:
    """(A low, A high, C low, C high) such that advancing a PCG64 stream by ``draws``
    takes its LCG state ``s`` with increment ``inc`` to ``A s + C inc`` (mod 2**128),
    read off numpy's ``advance`` from the states 0 and 1 with increment 1."""
    probe = np.random.PCG64(0)
    after = []
    for start in (0, 1):
        probe.state = {"bit_generator": "PCG64", "state": {"state": start, "inc": 1}, "has_uint32": 0, "uinteger": 0}
        after.append(probe.advance(draws).state["state"]["state"])
    c = after[0]
    words = np.array([*_words((after[1] - c) & _MASK_128), *_words(c)], dtype=np.uint64)
    words.flags.writeable = False
    return words


# the technologies of an adoption log, in the order of its rows (abm.kernels.LOG_PV, ...)
LOGGED_TECHNOLOGIES = ("pv", "ppa", "zeh", "ev", "solar_sharing")


def adoption_log(n: int, grants_from: int | None) -> tuple[np.ndarray, int]:
    """(months, first step) for the kernels: per technology of
    :data:`LOGGED_TECHNOLOGIES` and agent of ``n``, the month (step) of its first
    adoption (row :data:`abm.kernels.ADOPTED`) and of its first adoption with a grant
    of a logged programme (:data:`abm.kernels.GRANTED`, :data:`abm.policy.LOGGED_LEVELS`)
    from fiscal year ``grants_from`` on, -1 for never; empty when ``grants_from`` is
    None, and then the kernels record nothing."""
    shape = (2, len(LOGGED_TECHNOLOGIES), 0 if grants_from is None else n)
    first_step = 0 if grants_from is None else Month.first_of(grants_from).step
    return np.full(shape, -1, dtype=np.int16), first_step


@dataclass
class Context:
    """The shared world each population decides in.

    ``rng`` (the model's generator) sets up the initial state; ``stream`` gives the
    generator of one decision in one month. With ``adoption_log_from`` (a fiscal
    year) each population keeps an :func:`adoption_log` of who adopted what and when,
    and who did so with a city grant from that year on.
    """

    rng: np.random.Generator
    seed: int
    scenario: Scenario
    market: Market
    pv: PVEconomics
    policy: PolicyEnvironment
    behaviour: dict[str, Any]
    adoption_log_from: int | None = None

    def __post_init__(self) -> None:
        self._streams = MonthlyStreams(self.seed)

    def stream(self, month: Month, purpose: str) -> tuple[int]:
        return self._streams(month, purpose)

    @property
    def pv_constants(self) -> tuple[float, float, float, float]:
        """(yield kWh/kW, O&M yen/kW, post-FIT yen/kWh, PPA discount) for the kernels."""
        return self.pv.constants

    def peers(self, attributes: Attributes, n_peers: int) -> PeerExposure:
        """Peer exposure over the network of ``attributes`` (a population's, in
        :mod:`abm.city`), or over the ``n_peers`` agents who could adopt when the
        scenario takes peer share over the whole population."""
        if self.behaviour["peer_scope"] == "population":
            return PeerExposure(n_peers, None)
        return PeerExposure(attributes.n, attributes.network, attributes.derive(network_inverse_degrees))


def network_inverse_degrees(attributes: Attributes) -> np.ndarray:
    """:func:`abm.decision.inverse_degrees` of a population's network."""
    return inverse_degrees(attributes.network)


@dataclass
class YearFlows:
    """What a population's decisions added during the current fiscal year."""

    pv_added_kw: float = 0.0
    pv_added_systems: float = 0.0
    ppa_added_kw: float = 0.0
    subsidised_adoptions: float = 0.0
    grant_yen: float = 0.0


class Tallies:
    """What each of a population's decisions counted (:data:`abm.kernels.TALLY`, per
    simulated agent), in the current fiscal year (``year``, which the kernels add to)
    and over the years before it."""

    def __init__(self, decisions: tuple[str, ...]):
        self.year = {d: np.zeros(len(kernels.TALLY)) for d in decisions}
        self.before = {d: np.zeros(len(kernels.TALLY)) for d in decisions}

    def start_fiscal_year(self) -> None:
        for d, tally in self.year.items():
            self.before[d] += tally
            tally[:] = 0.0

    def this_year(self, column: int) -> float:
        """This fiscal year's count of ``column`` over all the decisions."""
        return float(sum(tally[column] for tally in self.year.values()))

    def so_far(self, decision: str) -> np.ndarray:
        """The decision's tally from the start of the run."""
        return self.before[decision] + self.year[decision]

    def since_start(self, column: int) -> float:
        """The count of ``column`` over all the decisions from the start of the run."""
        return float(sum(self.so_far(d)[column] for d in self.year))

    def flows(self, weight: float) -> YearFlows:
        """This fiscal year's flows, for agents of ``weight``."""
        k = kernels
        return YearFlows(
            *(self.this_year(c) * weight for c in (k.PV_KW, k.PV_SYSTEMS, k.PPA_KW, k.SUBSIDISED, k.GRANT_YEN))
        )


def roof_owner_table(
    owners: np.ndarray, roof_kw: np.ndarray, rate: np.ndarray, attitude_term: np.ndarray, pv: PVEconomics, fit_term: int
) -> tuple[np.ndarray, Discounting]:
    """What the PV decisions need of the roof ``owners``, as one row per owner
    (:data:`abm.kernels.ROOF_KW`): their present-value factors, roof and the attitude
    part of their utility; with the owners' :class:`abm.economics.Discounting`, for a
    population's further columns."""
    table = np.zeros((owners.size, kernels.OWNER_COLUMNS))
    discounting = Discounting(rate[owners])
    pv.write_factors(discounting, fit_term, table)
    table[:, kernels.ROOF_KW] = roof_kw[owners]
    table[:, kernels.ATTITUDE] = attitude_term[owners]
    return table, discounting


class RooftopPV:
    """Roof owners choosing among nothing, buying PV, or a PPA (options 0, 1, 2).

    A population sets ``_owner_table`` (:func:`roof_owner_table`, read-only) before
    the first year."""

    agent_type: str  # "households" or "businesses"
    behaviour_prefix: str  # "household" or "business", as in [behaviour] keys
    fit_term_key: str  # the [technology] key of its feed-in tariff's term
    a: Attributes  # with a discount_rate per agent
    keeps_its_pv: np.ndarray | None = None  # agents that never remove their PV (ZEHs)
    ctx: Context
    weight: float
    owners: np.ndarray  # the agents with a roof of their own
    pv_kw: np.ndarray  # capacity owned outright
    ppa_kw: np.ndarray  # capacity under a PPA
    pv_peers: PeerExposure
    tallies: Tallies
    codes: np.ndarray  # flag codes (abm.policy.FLAGS) that do not change
    excluded: np.ndarray  # agents who cannot consider rooftop PV this month
    adoptions: tuple[np.ndarray, int]  # adoption_log
    _owner_table: np.ndarray  # one row per owner (roof_owner_table)

    def _pv_year(self, fiscal_year: int) -> tuple[float, ...]:
        """(cost yen/kW, expected retail price, FIT, self-consumption share) in a year."""
        raise NotImplementedError

    @property
    def flows(self) -> YearFlows:
        return self.tallies.flows(self.weight)

    def start_pv_year(self, fiscal_year: int) -> np.ndarray:
        """This fiscal year's prices, tariffs, measures and grants for the PV decision,
        once the systems at the end of their life are repowered, kept or removed;
        returns the agents who removed theirs."""
        policy, b, prefix, agents = self.ctx.policy, self.ctx.behaviour, self.behaviour_prefix, self.agent_type
        removed = self._age_pv(fiscal_year)
        participation, reduction = policy.joint_purchase(fiscal_year)
        self._pv_inputs = (*self._pv_year(fiscal_year), participation, reduction, policy.ppa_maturity(fiscal_year))
        multiplier, pv_bonus = policy.campaign_tables("pv", agents, fiscal_year)
        self._pv_consideration = (
            b[f"{prefix}_pv_p"],
            b[f"{prefix}_pv_q"],
            multiplier,
            policy.max_base_rate_multiplier("pv", agents, fiscal_year),
        )
        self._pv_behaviour = (
            b["econ_weight"],
            b["peer_weight"],
            b[f"{prefix}_buy_constant"],
            b[f"{prefix}_ppa_constant"],
            pv_bonus,
            policy.campaign_tables("ppa", agents, fiscal_year)[1],
        )
        self._pv_offers = policy.offers(agents, fiscal_year, (None, "pv", "ppa"))
        return removed

    def _age_pv(self, fiscal_year: int) -> np.ndarray:
        life, b = self.pv_life, self.ctx.behaviour
        if fiscal_year > FIRST_FISCAL_YEAR:
            life.register(fiscal_year, self.pv_kw, self.ppa_kw)
        cost, retail, fit, share = self._pv_year(fiscal_year)
        fit_term = self.ctx.scenario[f"technology.{self.fit_term_key}"]
        values = EndOfLifeValues(self.ctx.pv, cost, retail, fit, fit_term, share)
        removed = life.end_of_life(
            fiscal_year, self.pv_kw, values, self.a.discount_rate, b[f"{self.behaviour_prefix}_buy_constant"],
            b["econ_weight"], self.keeps_its_pv,
        )  # fmt: skip
        if removed.size:
            self.pv_peers.add(removed, sign=-1, month=Month.first_of(fiscal_year).step)
        return removed

    def rooftop_pv(self, month: Month) -> np.ndarray:
        """This month's roof owners considering PV, and their choices
        (:func:`abm.kernels.rooftop_pv`); returns the agents who bought PV."""
        ctx, policy = self.ctx, self.ctx.policy
        return kernels.rooftop_pv(
            ctx.stream(month, f"{self.agent_type}.pv.consider"),
            ctx.stream(month, f"{self.agent_type}.pv.choose"),
            self.owners,
            self._pv_consideration,
            self.codes,
            self.excluded,
            self._owner_table,
            self.pv_peers.state,
            ctx.pv_constants,
            self._pv_inputs,
            self._pv_behaviour,
            self._pv_offers,
            policy.grants(month),
            self.weight,
            self.pv_kw,
            self.ppa_kw,
            self.tallies.year[f"{self.agent_type}:pv/ppa"],
            self.adoptions,
        )

    def seed_initial_pv(self, pool: np.ndarray, target_kw: float, kw: np.ndarray) -> None:
        """Random roof owners of ``pool`` who had PV before April 2014, up to ``target_kw``."""
        order = self.ctx.rng.permutation(pool)
        cumulative = np.cumsum(kw[order]) * self.weight
        chosen = order[: int(np.searchsorted(cumulative, target_kw)) + 1][: pool.size]
        self.pv_kw[chosen] = kw[chosen]
        self.pv_peers.add(chosen)
        self.pv_life = PVLife(self.ctx.scenario, self.pv_kw.size, self.ctx.seed, AGENT_TYPES.index(self.agent_type))
        self.pv_life.seed(self.pv_kw, self.ppa_kw)
        # float32 capacities sum exactly in float64, in any order
        self._opening_pv = (float(np.sum(self.pv_kw, dtype=np.float64)), float(np.count_nonzero(self.pv_kw)))

    def pv_stocks(self) -> tuple[float, float, float, float]:
        """(kW owned, systems owned, kW under PPAs, PPA contracts) now, per simulated
        agent: the opening stock plus what the decisions added less what owners removed
        at the end of its life. The sums are exact, so this is a count of ``pv_kw`` and
        ``ppa_kw`` to the bit, without reading them."""
        k, t, life = kernels, self.tallies, self.pv_life
        pv_kw, systems = self._opening_pv
        return (
            pv_kw + t.since_start(k.PV_KW) - life.removed_kw,
            systems + t.since_start(k.PV_SYSTEMS) - life.removed_systems,
            t.since_start(k.PPA_KW),
            t.since_start(k.PPA_CONTRACTS),
        )
