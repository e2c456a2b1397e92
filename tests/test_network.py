"""Small-world networks (abm/network.py).

A Watts-Strogatz graph must be undirected (symmetric 0/1 matrix), without self-loops,
with mean degree ``degree`` less the few duplicate ties that rewiring creates; without
rewiring every node's neighbours are exactly the ``degree // 2`` nodes either side of
it on the ring, and with rewiring the share of moved ties is the rewiring probability.
The compiled construction gives, array for array, the canonical CSR matrix that
scipy's sparse sum of the same ties and their transpose gives.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from abm.network import small_world


def ring_neighbours(i: int, n: int, half: int) -> set[int]:
    return {(i + k) % n for k in range(-half, half + 1) if k != 0}


@pytest.mark.parametrize(
    ("n", "degree", "rewiring", "seed"),
    [(2000, 10, 0.05, 1), (5000, 8, 0.1, 2), (3000, 6, 0.3, 3), (1000, 4, 1.0, 4), (500, 10, 0.0, 5)],
)
def test_symmetric_simple_and_mean_degree(n, degree, rewiring, seed):
    a = small_world(n, degree, rewiring, np.random.default_rng(seed))
    assert a.shape == (n, n)
    assert (a != a.T).nnz == 0
    assert np.all(a.diagonal() == 0)
    assert np.all(a.data == 1.0)
    mean_degree = a.nnz / n
    # n * degree / 2 ties are drawn; a rewired tie duplicates an existing one with
    # probability about (degree + 1) / (n - 1), so the expected loss of mean degree is
    # about 2 * rewiring * degree / 2 * (degree + 1) / (n - 1); allow 5 times that.
    expected_loss = rewiring * degree * (degree + 1) / (n - 1)
    assert degree - 5 * expected_loss - 1e-12 <= mean_degree <= degree


def test_no_rewiring_is_the_ring_lattice():
    n, degree = 300, 10
    a = small_world(n, degree, 0.0, np.random.default_rng(0))
    for i in range(n):
        neighbours = set(a.indices[a.indptr[i] : a.indptr[i + 1]].tolist())
        assert neighbours == ring_neighbours(i, n, degree // 2)


def test_odd_degree_rounds_down_and_small_rings():
    a = small_world(100, 7, 0.0, np.random.default_rng(0))
    assert np.all(np.diff(a.indptr) == 6)
    # fewer nodes than the degree asks for: every other node, no self-loop
    b = small_world(5, 10, 0.0, np.random.default_rng(0))
    for i in range(5):
        assert set(b.indices[b.indptr[i] : b.indptr[i + 1]].tolist()) == set(range(5)) - {i}
    c = small_world(2, 2, 0.0, np.random.default_rng(0))
    np.testing.assert_array_equal(c.toarray(), [[0, 1], [1, 0]])
    assert small_world(1, 10, 0.5, np.random.default_rng(0)).nnz == 0
    assert small_world(50, 1, 0.5, np.random.default_rng(0)).nnz == 0


def test_share_of_rewired_ties():
    """With rewiring r, the share of ties that are not ring ties is r (less the chance,
    (degree)/(n - 1), that a moved tie lands on a ring neighbour), within 4 binomial
    standard deviations."""
    n, degree, r = 20_000, 10, 0.2
    half = degree // 2
    a = small_world(n, degree, r, np.random.default_rng(9)).tocoo()
    upper = a.row < a.col
    i, j = a.row[upper], a.col[upper]
    distance = np.minimum(j - i, n - (j - i))
    non_ring = int((distance > half).sum())
    ties = n * half
    p = r * (1 - degree / (n - 1))
    sd = math.sqrt(ties * p * (1 - p))
    assert abs(non_ring - ties * p) < 4 * sd


def scipy_small_world(n: int, degree: int, rewiring: float, rng: np.random.Generator) -> sp.csr_matrix:
    """The same ties (same draws) put together with scipy: forward ties plus their
    transpose, duplicates summed, then set to 1."""
    half = min(degree // 2, (n - 1) // 2) or 1
    source = np.repeat(np.arange(n, dtype=np.int32), half)
    target = (source + np.tile(np.arange(1, half + 1, dtype=np.int32), n)) % n
    moved = rng.random(source.size) < rewiring
    draw = rng.integers(0, n - 1, int(moved.sum()), dtype=np.int32)
    target[moved] = draw + (draw >= source[moved])
    forward = sp.csr_matrix(
        (np.ones(target.size, dtype=np.float32), target, np.arange(0, target.size + 1, half)), (n, n)
    )
    adjacency = (forward + forward.T.tocsr()).tocsr()
    adjacency.sum_duplicates()
    adjacency.data[:] = 1.0
    return adjacency


@pytest.mark.parametrize(
    ("n", "degree", "rewiring"),
    [(2, 2, 0.0), (3, 10, 0.5), (5, 4, 1.0), (11, 6, 0.3), (1000, 10, 0.05), (20001, 11, 0.2), (5000, 30, 1.0)],
)
def test_the_compiled_matrix_is_scipys_canonical_matrix_of_the_same_ties(n, degree, rewiring):
    for seed in range(3):
        ours = small_world(n, degree, rewiring, np.random.default_rng(seed))
        theirs = scipy_small_world(n, degree, rewiring, np.random.default_rng(seed))
        for attribute in ("indptr", "indices", "data"):
            a, b = getattr(ours, attribute), getattr(theirs, attribute)
            assert a.dtype == b.dtype and np.array_equal(a, b), attribute
