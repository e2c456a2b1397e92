"""Approximate Bayesian computation by sequential Monte Carlo (ABC-SMC, batch form).

The model's likelihood cannot be written down, but the model can be run. ABC keeps
the parameter sets whose simulated patterns come close to the observed ones: with a
distance ``d`` and a tolerance ``eps``, the accepted sets are a sample from the
posterior given ``d <= eps``, which approaches the true posterior as ``eps`` shrinks.

Rejection from the prior would waste nearly every run on implausible corners of a
15-dimensional space, so the runs are spent in generations of population Monte
Carlo (Beaumont et al. 2009, Biometrika 96:983; Toni et al. 2009, J. R. Soc.
Interface 6:187):

1. Generation 0 is a space-filling Latin hypercube over the prior
   (``scipy.stats.qmc``); its best ``accept_fraction`` are accepted, equally weighted.
2. Search generations draw evenly from the previous accepted sets, each moved by a
   normal kernel with its own optimal local covariance (:func:`local_covariances`,
   Filippi et al. 2013), which aims the proposals at the region the smaller next
   tolerance keeps; their best ``accept_fraction`` are accepted (this sets the
   generation's tolerance) and weighted by prior over proposal density. A search
   generation only has to find the region the posterior lives in: its weights are
   reported, not used, because in many dimensions they fall on a few sets, and
   drawing by them would collapse the search onto one ancestor and its neighbourhood.
3. The final generation gets the largest share of the budget and draws from one
   smooth proposal: a multivariate Student-t (FINAL_DF degrees of freedom) with the
   mean and FINAL_WIDTH times the covariance of the previous accepted sets. Its
   accepted sets, weighted by prior over proposal density, are the posterior; any
   proposal that covers the posterior gives correct weights, and the t's heavy tails
   keep them even where a normal's would let a few sets in its tails dominate.

Proposals outside the prior's box (zero prior density) are drawn again, so each
proposal density is known up to a constant, which cancels in normalised weights.
Weights are capped at sqrt(n) times their mean (truncated importance sampling,
Ionides 2008, J. Comput. Graph. Stat. 17:295) so that no single set dominates.
Everything happens in the unit cube, where each parameter's prior is uniform
(log-uniform parameters are uniform in their logarithm), so the prior density is a
constant there. The procedure is deterministic given its seed and the simulator's
outputs, which is what lets an interrupted calibration resume: the simulator may
answer from a store.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats
from scipy.stats import qmc

# share of the budget spent on the final generation (more accepted sets, steadier weights)
FINAL_SHARE = 0.375
# the final proposal's covariance over the previous accepted sets', which are narrower
# than the posterior (the search narrows them): in a trial on a 14-dimensional normal
# target, a Student-t proposal of r times the target's covariance kept the effective
# sample share at 0.2-0.6 for r from 0.5 to 2 (a normal proposal: 0.06 at r = 0.5)
FINAL_WIDTH = 2.0
# degrees of freedom of the final Student-t proposal
FINAL_DF = 4.0


@dataclass(frozen=True)
class Parameter:
    """A parameter with a uniform (or log-uniform) prior on ``[low, high]``."""

    name: str
    low: float
    high: float
    log: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"{self.name}: need 0 < low < high for a log prior, low < high otherwise")

    def value(self, unit: np.ndarray) -> np.ndarray:
        """Parameter values at positions ``unit`` in [0, 1]."""
        if self.log:
            return np.exp(np.log(self.low) + unit * (np.log(self.high) - np.log(self.low)))
        return self.low + unit * (self.high - self.low)

    @property
    def prior(self) -> str:
        return f"{'log-uniform' if self.log else 'uniform'}({self.low:g}, {self.high:g})"


@dataclass
class Generation:
    """One generation: every proposal with its distance and output, and the accepted ones."""

    index: int
    kind: str  # "prior", "search" or "final"
    unit: np.ndarray  # (runs, parameters) in the unit cube
    distance: np.ndarray  # (runs,)
    outputs: list[Any]  # the simulator's output per run
    accepted: np.ndarray  # indices of the accepted runs, best first
    weight: np.ndarray  # normalised importance weights of the accepted runs

    @property
    def tolerance(self) -> float:
        return float(self.distance[self.accepted].max())

    @property
    def effective_sample_size(self) -> float:
        return float(1.0 / np.sum(self.weight**2))


# simulate(generation, values) -> one output per row of values (parameter units)
Simulator = Callable[[int, np.ndarray], list[Any]]


def generation_sizes(budget: int, generations: int) -> list[int]:
    """Runs per generation: FINAL_SHARE of the budget to the final generation, whose
    accepted sets are the posterior; the rest split evenly, the remainder to
    generation 0."""
    final = round(FINAL_SHARE * budget)
    if generations < 2 or budget - final < 8 * (generations - 1):
        raise ValueError(f"need at least 2 generations and 8 runs each, got {generations} for a budget of {budget}")
    each = (budget - final) // (generations - 1)
    return [budget - final - each * (generations - 2)] + [each] * (generations - 2) + [final]


def local_covariances(unit: np.ndarray, weight: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """One kernel covariance per accepted set: the optimal local covariance matrix
    (OLCM, Filippi et al. 2013, Stat. Appl. Genet. Mol. Biol. 12:87).

    Around ancestor j it is the weighted second moment about j of the better half of
    the accepted sets (those the next, smaller tolerance would likely keep):
    ``Cov(best) + (mean(best) - j)(mean(best) - j)^T``, so each ancestor explores
    towards, and at the size of, the region that is getting accepted. With fewer
    than ``2 x (2 x dims + 2)`` accepted sets the better half is too small to span
    every direction and all of them are used.
    """
    dims = unit.shape[1]
    best = np.argsort(distance, kind="stable")
    if len(best) >= 2 * (2 * dims + 2):
        best = best[: len(best) // 2]
    w = weight[best] / weight[best].sum()
    mean = w @ unit[best]
    centred = unit[best] - mean
    cov = (centred * w[:, None]).T @ centred
    offset = mean - unit
    return cov[None, :, :] + offset[:, :, None] * offset[:, None, :] + 1e-8 * np.eye(dims)


@dataclass(frozen=True)
class KernelMixture:
    """A search generation's proposal: a mixture of normals at ``centres`` (chosen by
    ``weight``) with covariances ``cov`` (one per centre), cut to the unit cube."""

    centres: np.ndarray
    weight: np.ndarray
    cov: np.ndarray

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` sets; a set that leaves the unit cube is drawn again, centre and move together."""
        chol = np.linalg.cholesky(self.cov)
        out = np.empty((0, self.centres.shape[1]))
        while len(out) < n:
            j = rng.choice(len(self.centres), size=2 * n, p=self.weight)
            moved = self.centres[j] + np.einsum("nij,nj->ni", chol[j], rng.normal(size=(2 * n, self.centres.shape[1])))
            out = np.concatenate([out, moved[((moved >= 0) & (moved <= 1)).all(axis=1)]])
        return out[:n]

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Up to the constant the cut to the cube adds."""
        chol_inv = np.linalg.inv(np.linalg.cholesky(self.cov))  # (centres, d, d)
        z = np.einsum("jik,xjk->xji", chol_inv, x[:, None, :] - self.centres[None, :, :])
        log_det = -np.log(np.abs(np.diagonal(chol_inv, axis1=1, axis2=2))).sum(axis=1)
        log_k = -0.5 * x.shape[1] * np.log(2 * np.pi) - log_det[None, :] - 0.5 * np.sum(z**2, axis=2)
        return special.logsumexp(log_k, b=self.weight[None, :], axis=1)


@dataclass(frozen=True)
class WideT:
    """The final generation's proposal: a multivariate Student-t with the mean and
    FINAL_WIDTH times the covariance of ``unit`` (the previous accepted sets), cut to
    the unit cube."""

    unit: np.ndarray

    @functools.cached_property
    def distribution(self) -> Any:
        dims = self.unit.shape[1]
        cov = FINAL_WIDTH * np.cov(self.unit, rowvar=False) + 1e-8 * np.eye(dims)
        # a t's covariance is shape x df / (df - 2)
        return stats.multivariate_t(self.unit.mean(axis=0), cov * (FINAL_DF - 2) / FINAL_DF, df=FINAL_DF)

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        dist, out = self.distribution, np.empty((0, self.unit.shape[1]))
        while len(out) < n:
            x = np.reshape(dist.rvs(size=2 * n, random_state=rng), (2 * n, -1))
            out = np.concatenate([out, x[((x >= 0) & (x <= 1)).all(axis=1)]])
        return out[:n]

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """Up to the constant the cut to the cube adds."""
        return np.reshape(self.distribution.logpdf(x), (len(x),))


def truncated_weights(log_weight: np.ndarray) -> np.ndarray:
    """Normalised importance weights, each capped at sqrt(n) times their mean."""
    w = np.exp(log_weight - log_weight.max())
    w = np.minimum(w, w.mean() * np.sqrt(w.size))
    return w / w.sum()


def accept(distance: np.ndarray, n_accept: int) -> np.ndarray:
    """Indices of the ``n_accept`` smallest finite distances (ties by run order)."""
    finite = np.flatnonzero(np.isfinite(distance))
    order = finite[np.argsort(distance[finite], kind="stable")]
    return order[:n_accept]


def smc(
    parameters: Sequence[Parameter],
    simulate: Simulator,
    distance: Callable[[Any], float],
    budget: int,
    generations: int,
    accept_fraction: float,
    seed: int,
) -> list[Generation]:
    """Run ABC-SMC with ``budget`` simulations in all; return every generation (the
    last one's accepted sets and weights are the posterior)."""
    if not 0 < accept_fraction < 1:
        raise ValueError("accept_fraction must be in (0, 1)")
    dims = len(parameters)
    sizes = generation_sizes(budget, generations)
    out: list[Generation] = []
    for g, n in enumerate(sizes):
        rng = np.random.default_rng([seed, g])
        kind = "prior" if g == 0 else "final" if g == len(sizes) - 1 else "search"
        if kind == "prior":
            unit = qmc.LatinHypercube(d=dims, rng=rng).random(n)
        else:
            prev = out[-1]
            centres = prev.unit[prev.accepted]
            if kind == "search":
                even = np.full(len(centres), 1.0 / len(centres))
                proposal = KernelMixture(centres, even, local_covariances(centres, even, prev.distance[prev.accepted]))
            else:
                proposal = WideT(centres)
            unit = proposal.draw(rng, n)
        values = np.column_stack([p.value(unit[:, j]) for j, p in enumerate(parameters)])
        outputs = simulate(g, values)
        d = np.array([distance(o) for o in outputs], dtype=float)
        kept = accept(d, max(2, round(accept_fraction * n)))
        if kept.size < 2:
            raise RuntimeError(f"generation {g}: fewer than two runs with a finite distance")
        if kind == "prior":
            weight = np.full(kept.size, 1.0 / kept.size)
        else:
            weight = truncated_weights(-proposal.log_density(unit[kept]))
        out.append(Generation(g, kind, unit, d, outputs, kept, weight))
    return out


def weighted_quantile(values: np.ndarray, weight: np.ndarray, q: Sequence[float]) -> np.ndarray:
    """Quantiles of ``values`` (axis 0) under ``weight``, by the weighted empirical CDF
    interpolated at the midpoints of each sample's weight."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(values, axis=0)
    sorted_v = np.take_along_axis(values, order, axis=0)
    w = np.asarray(weight, dtype=float)[order]
    cdf = (np.cumsum(w, axis=0) - 0.5 * w) / w.sum(axis=0)
    if values.ndim == 1:
        return np.interp(q, cdf, sorted_v)
    return np.array([[np.interp(qq, cdf[:, j], sorted_v[:, j]) for j in range(values.shape[1])] for qq in q])
