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

The rules run compiled (:mod:`abm.kernels`); this module is their Python face: the
peer counts a population keeps, and :func:`choose` for a choice made from Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from abm import kernels
from abm.clock import Month
from abm.policy import PolicyEnvironment, flag_codes

BEFORE_THE_FIRST_MONTH = -1  # the month of the initial stock's peer counts


def inverse_degrees(adjacency: sp.csr_matrix) -> np.ndarray:
    """One over each node's degree (over 1 for a node without ties), in float32."""
    return 1.0 / np.maximum(np.diff(adjacency.indptr), 1).astype(np.float32)


class PeerExposure:
    """How many of each agent's peers have adopted, updated as adoptions happen.

    With a network, the share is adopting neighbours over degree; with
    ``adjacency=None`` the peer group is the whole population.

    The consideration hazard of a month uses :meth:`midmonth_share`: the share at the
    start of the month plus half of last month's change, i.e. the share expected at
    mid-month. Holding the start-of-month share for the whole month would make the
    adoption curve lag by half a step (up to 0.01 on the Bass curve); the mid-month
    extrapolation is second-order accurate. Changes are dated by the month they
    happen in (``month``, a step; the initial stock's are dated before the first).
    """

    def __init__(self, n: int, adjacency: sp.csr_matrix | None, inverse_degree: np.ndarray | None = None):
        """``inverse_degree``, if given, is :func:`inverse_degrees` of ``adjacency``."""
        self.n = n
        self.adjacency = adjacency
        n_nodes = n if adjacency is not None else 1
        if adjacency is not None:
            indptr, indices = adjacency.indptr, adjacency.indices
            if inverse_degree is None:
                inverse_degree = inverse_degrees(adjacency)
        else:  # the network's index type, so that the kernels are compiled once
            indptr, indices = np.empty(0, dtype=np.int32), np.empty(0, dtype=np.int32)
            inverse_degree = np.full(1, 1.0 / max(n, 1), dtype=np.float32)
        # read-only, as a city keeps it (abm.city.Derived): one type for the kernels
        inverse_degree = inverse_degree.view()
        inverse_degree.flags.writeable = False
        nodes = np.zeros((n_nodes, 4), dtype=np.int32)  # columns: kernels.COUNT .. PRIOR
        nodes[:, kernels.TOUCHED] = BEFORE_THE_FIRST_MONTH - 1
        self.state = (indptr, indices, nodes, inverse_degree)

    def add(self, adopters: np.ndarray, sign: float = 1.0, month: int = BEFORE_THE_FIRST_MONTH) -> None:
        """Count ``adopters`` (agent indices) as adopting in ``month``, or as no longer
        adopting with ``sign=-1``. (The kernels count a month's adopters themselves,
        with :func:`abm.kernels.peer_add`.)"""
        kernels.peer_add(self.state, month, np.asarray(adopters, dtype=np.int64), int(sign))

    @property
    def count(self) -> np.ndarray:
        """Adopting peers of each agent (of the whole population, in slot 0, without
        a network)."""
        return self.state[2][:, kernels.COUNT]

    def share(self, agents: np.ndarray) -> np.ndarray:
        return kernels.peer_shares(self.state, np.asarray(agents, dtype=np.int64))

    def midmonth_share(self, agents: np.ndarray, month: int) -> np.ndarray:
        """The share expected at the middle of ``month``, for its consideration hazard."""
        return kernels.midmonth_shares(self.state, np.asarray(agents, dtype=np.int64), month)


@dataclass(frozen=True)
class Option:
    """One option of a choice: its technology (None for options without grants),
    the size and cost a grant is computed on."""

    technology: str | None
    kw: np.ndarray | None = None
    cost_yen: np.ndarray | None = None


@dataclass
class Decision:
    """What the considering agents chose and the grants they received."""

    chosen: np.ndarray
    grant_yen: np.ndarray


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
    """Logit choice among ``options`` with first-come grants and re-decision
    (:func:`abm.kernels.choose`), drawing from ``rng`` (a numpy generator on PCG64,
    as ``np.random.default_rng`` makes).

    ``utility`` is (agents x options) without grants; a grant of G yen on option j
    adds ``yen_to_utility[i, j] * G`` (``yen_to_utility`` is agents x options, or
    agents x 1 where one rate serves every option; an option without a technology
    gets no grants, so its rate does not matter). Each simulated agent stands for
    ``weight`` real ones when it draws on a budget.
    """
    n, k = utility.shape
    option_kw, option_cost = np.zeros((k, n)), np.zeros((k, n))
    for j, opt in enumerate(options):
        if opt.technology is not None:
            option_kw[j], option_cost[j] = opt.kw, opt.cost_yen
    stream = kernels.Stream(rng)
    chosen, received, _logged = kernels.choose(
        stream,
        utility + kernels.gumbels(stream, n, k),
        np.asarray(yen_to_utility, dtype=float),
        option_kw,
        option_cost,
        policy.offers(agents, month.fiscal_year, tuple(opt.technology for opt in options)),
        np.broadcast_to(flag_codes(flags), n).copy(),
        policy.grants(month),
        float(weight),
        kernels.NO_SLOTS,
        n,
    )
    return Decision(chosen=chosen, grant_yen=received)
