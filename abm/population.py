"""What every agent population shares: its context and its rooftop-PV decision.

A population holds one numpy array per attribute and one row per agent, and steps
all its agents at once. :class:`Context` is what the model hands each population:
the generator, the market, the policy environment and the behavioural parameters.
:class:`RooftopPV` is the consider-then-choose rule for owners of a roof deciding
between buying PV, a PPA and nothing; households and businesses both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from abm.clock import Month
from abm.decision import Option, PeerExposure, choose, draw_considerers
from abm.economics import Market, PVEconomics, PVFactors
from abm.policy import PolicyEnvironment
from abm.scenario import Scenario

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


class MonthlyStreams:
    """One random stream per decision, set for each month at the start of its own
    block of 2**40 draws (far more than a month uses), so months never overlap.

    The generator returned is reused: it is valid until the next call.
    """

    BLOCK = 2**40

    def __init__(self, seed: int):
        self._streams = {}
        for i, purpose in enumerate(STREAMS):
            bits = np.random.PCG64(np.random.SeedSequence([seed, i]))
            self._streams[purpose] = (bits, np.random.Generator(bits), bits.state)

    def __call__(self, month: Month, purpose: str) -> np.random.Generator:
        bits, generator, start = self._streams[purpose]
        bits.state = start
        bits.advance(month.step * self.BLOCK)
        return generator


@dataclass
class Context:
    """The shared world each population decides in.

    ``rng`` (the model's generator) sets up the initial state; ``stream`` gives the
    generator of one decision in one month.
    """

    rng: np.random.Generator
    seed: int
    scenario: Scenario
    market: Market
    pv: PVEconomics
    policy: PolicyEnvironment
    behaviour: dict[str, Any]

    def __post_init__(self) -> None:
        self._streams = MonthlyStreams(self.seed)

    def stream(self, month: Month, purpose: str) -> np.random.Generator:
        return self._streams(month, purpose)

    def peers(self, n_agents: int, n_peers: int, network: sp.csr_matrix) -> PeerExposure:
        """Peer exposure over the network, or over the ``n_peers`` agents who could
        adopt when the scenario takes peer share over the whole population."""
        if self.behaviour["peer_scope"] == "population":
            return PeerExposure(n_peers, None)
        return PeerExposure(n_agents, network)


@dataclass
class YearFlows:
    """What happened during the current fiscal year (reset at its start)."""

    pv_added_kw: float = 0.0
    pv_added_systems: float = 0.0
    ppa_added_kw: float = 0.0
    subsidised_adoptions: float = 0.0
    grant_yen: float = 0.0


class RooftopPV:
    """Roof owners choosing among nothing, buying PV, or a PPA (options 0, 1, 2)."""

    agent_type: str  # "households" or "businesses"
    behaviour_prefix: str  # "household" or "business", as in [behaviour] keys
    ctx: Context
    weight: float
    pv_kw: np.ndarray  # capacity owned outright
    ppa_kw: np.ndarray  # capacity under a PPA
    pv_peers: PeerExposure
    flows: YearFlows

    def _pv_economics(self, month: Month, idx: np.ndarray) -> dict[str, Any]:
        """Per-agent inputs of the PV decision: kw, factors, self_share,
        cost_yen_per_kw, retail, fit."""
        raise NotImplementedError

    def init_pv_factors(self, owners: np.ndarray, rate: np.ndarray, fit_term: int) -> None:
        """Present-value factors of the roof owners, computed once per run."""
        self._owner_position = np.full(self.pv_kw.size, -1, dtype=np.int64)
        self._owner_position[owners] = np.arange(owners.size)
        self._pv_factors = self.ctx.pv.factors(rate[owners], fit_term)

    def pv_factors(self, idx: np.ndarray) -> PVFactors:
        return self._pv_factors.take(self._owner_position[idx])

    def _flags(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def decide_rooftop_pv(self, month: Month, considering: np.ndarray) -> None:
        if considering.size == 0:
            return
        ctx, b, fy = self.ctx, self.ctx.behaviour, month.fiscal_year
        prefix = self.behaviour_prefix
        e = self._pv_economics(month, considering)
        m = considering.size
        rng = ctx.stream(month, f"{self.agent_type}.pv.choose")
        participation, reduction = ctx.policy.joint_purchase(fy)
        joined = rng.random(m) < participation
        cost_kw = e["cost_yen_per_kw"] * np.where(joined, 1.0 - reduction, 1.0)
        gross = e["kw"] * e["cost_yen_per_kw"]
        npv_buy = ctx.pv.buy_npv_with(e["kw"], cost_kw, e["factors"], e["self_share"], e["retail"], e["fit"])
        flags = self._flags(considering)
        common = b["peer_weight"] * self.pv_peers.share(considering) + e.get("attitude_term", 0.0)
        served = rng.random(m) < ctx.policy.ppa_maturity(fy)
        bonus = ctx.policy.utility_bonus
        utility = np.full((m, 3), -np.inf)
        utility[:, 0] = 0.0
        utility[:, 1] = (
            b[f"{prefix}_buy_constant"]
            + b["econ_weight"] * npv_buy / gross
            + common
            + bonus("pv", self.agent_type, fy, flags)
        )
        if served.any():  # before PPA providers reach the city nobody is offered one
            npv_ppa = ctx.pv.ppa_npv_with(e["kw"], e["factors"], e["self_share"], e["retail"])
            utility[:, 2] = np.where(
                served,
                b[f"{prefix}_ppa_constant"]
                + b["econ_weight"] * npv_ppa / gross
                + common
                + bonus("ppa", self.agent_type, fy, flags),
                -np.inf,
            )
        yen_to_utility = (b["econ_weight"] / gross)[:, None]  # the same for buying and a PPA
        options = [
            Option(None),
            Option("pv", e["kw"], e["kw"] * cost_kw),
            Option("ppa", e["kw"], gross),
        ]
        d = choose(rng, ctx.policy, month, self.agent_type, self.weight, flags, utility, yen_to_utility, options)
        buy, ppa = d.chosen == 1, d.chosen == 2
        buy_kw, ppa_kw = e["kw"][buy], e["kw"][ppa]
        self.pv_kw[considering[buy]] = buy_kw
        self.ppa_kw[considering[ppa]] = ppa_kw
        self.pv_peers.add(considering[d.chosen > 0])
        self.flows.pv_added_kw += float(buy_kw.sum()) * self.weight
        self.flows.pv_added_systems += buy_kw.size * self.weight
        self.flows.ppa_added_kw += float(ppa_kw.sum()) * self.weight
        self.flows.subsidised_adoptions += np.count_nonzero(d.grant_yen) * self.weight
        self.flows.grant_yen += float(d.grant_yen.sum()) * self.weight

    def consider_rooftop_pv(
        self, month: Month, pool: np.ndarray, p: float, q: float, exclude: np.ndarray | None = None
    ) -> np.ndarray:
        """Draw this month's considering roof owners of ``pool``."""
        policy, fy = self.ctx.policy, month.fiscal_year

        def free(idx: np.ndarray) -> np.ndarray:
            ok = (self.pv_kw[idx] == 0) & (self.ppa_kw[idx] == 0)
            return ok if exclude is None else ok & ~exclude[idx]

        def multiplier(idx: np.ndarray) -> np.ndarray | float:
            return policy.base_rate_multiplier("pv", self.agent_type, fy, self._flags(idx))

        return draw_considerers(
            self.ctx.stream(month, f"{self.agent_type}.pv.consider"),
            pool,
            p,
            q,
            multiplier,
            policy.max_base_rate_multiplier("pv", self.agent_type, fy),
            self.pv_peers.midmonth_share,
            free,
        )

    def seed_initial_pv(self, pool: np.ndarray, target_kw: float, kw: np.ndarray) -> None:
        """Random roof owners of ``pool`` who had PV before April 2014, up to ``target_kw``."""
        order = self.ctx.rng.permutation(pool)
        cumulative = np.cumsum(kw[order]) * self.weight
        chosen = order[: int(np.searchsorted(cumulative, target_kw)) + 1][: pool.size]
        self.pv_kw[chosen] = kw[chosen]
        self.pv_peers.add(chosen)
