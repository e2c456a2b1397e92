"""Social networks as sparse adjacency matrices.

Agents are laid out in space-filling order: households along the neighbourhoods of
the city, businesses by sector, farmers by district. A Watts-Strogatz small world on
that order links each agent to its ``degree`` nearest agents (peer effects in Japan
are strongest within about 1 km) and rewires a share of the ties to random agents
(long-range ties). It is built directly as a CSR matrix, which takes a fraction of a
second for the whole city where networkx takes several.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def small_world(n: int, degree: int, rewiring: float, rng: np.random.Generator) -> sp.csr_matrix:
    """Undirected Watts-Strogatz graph on ``n`` nodes in index order, as a 0/1 CSR matrix.

    Each node links to the ``degree // 2`` nodes after it on a ring; each such tie is
    moved, with probability ``rewiring``, to a uniformly drawn other node.
    """
    half = degree // 2
    if n < 2 or half == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    half = min(half, (n - 1) // 2) or 1
    source = np.repeat(np.arange(n, dtype=np.int32), half)
    target = (source + np.tile(np.arange(1, half + 1, dtype=np.int32), n)) % n
    moved = rng.random(source.size) < rewiring
    # a uniform draw over the other n - 1 nodes: never a self-loop
    draw = rng.integers(0, n - 1, int(moved.sum()), dtype=np.int32)
    target[moved] = draw + (draw >= source[moved])
    # each node's forward ties are already a CSR row; add the transpose for the back ties
    indptr = np.arange(0, target.size + 1, half, dtype=np.int32)
    forward = sp.csr_matrix((np.ones(target.size, dtype=np.float32), target, indptr), shape=(n, n))
    adjacency = (forward + forward.T.tocsr()).tocsr()
    adjacency.sum_duplicates()
    adjacency.data[:] = 1.0  # duplicate ties count once
    return adjacency
