"""The calibrated behavioural parameters: a weighted sample from their posterior.

``abm calibrate`` fits the ``[behaviour]`` parameters to the city's history by
approximate Bayesian computation and writes the accepted parameter sets with their
weights to ``calibration/posterior.csv``. Every scenario uses them by default: each
replicate draws one set, with probability equal to its weight, from a generator
seeded by the replicate's own seed, so a replicate's parameters are as reproducible
as its randomness, and the spread over replicates carries the parameter uncertainty
as well as the noise. The drawn sets override the scenario's own values for the
calibrated keys only; ``abm run --no-posterior`` keeps the scenario's values.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from abm.scenario import DEFAULTS

# calibration/posterior.csv, in the source tree or the installed package
PROJECT_DIR = Path(str(resources.files("calibration"))).resolve().parent
POSTERIOR_PATH = PROJECT_DIR / "calibration" / "posterior.csv"
# keeps the draw's generator apart from the generators the model derives from the seed
DRAW_STREAM = 0x9057E7


@dataclass(frozen=True)
class Draw:
    """One replicate's parameter set: which accepted set, and its values; ``seed`` is
    the replicate seed it was drawn by (None where a design picked it, :meth:`Posterior.at`)."""

    seed: int | None
    particle: str
    values: dict[str, float]


@dataclass(frozen=True)
class Posterior:
    """Accepted parameter sets (rows) with their normalised weights."""

    path: Path
    particles: tuple[str, ...]
    weights: np.ndarray
    names: tuple[str, ...]
    values: np.ndarray  # (particles, names)

    def draw(self, seed: int) -> Draw:
        """The parameter set of the replicate whose seed is ``seed``."""
        rng = np.random.default_rng([seed, DRAW_STREAM])
        i = int(rng.choice(len(self.particles), p=self.weights))
        return Draw(seed, self.particles[i], {k: float(v) for k, v in zip(self.names, self.values[i], strict=True)})

    def draws(self, seeds: Sequence[int]) -> list[Draw]:
        return [self.draw(s) for s in seeds]

    def at(self, quantile: float) -> Draw:
        """The parameter set at ``quantile`` (in [0, 1)) of the weights laid end to end:
        a uniform ``quantile`` picks each set with probability equal to its weight, so a
        design input can carry the behavioural uncertainty as a factor of its own."""
        i = min(int(np.searchsorted(np.cumsum(self.weights), quantile, side="right")), len(self.particles) - 1)
        return Draw(None, self.particles[i], {k: float(v) for k, v in zip(self.names, self.values[i], strict=True)})


def load(path: Path | None = None) -> Posterior:
    """Read a posterior file (by default :data:`POSTERIOR_PATH`): columns
    ``particle``, ``weight``, ``distance`` and one column per calibrated
    ``[behaviour]`` key."""
    path = Path(path or POSTERIOR_PATH)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no calibrated posterior; run `abm calibrate` or use --no-posterior")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no parameter sets")
    names = tuple(k for k in rows[0] if k not in ("particle", "weight", "distance"))
    unknown = [k for k in names if k not in DEFAULTS["behaviour"]]
    if unknown:
        raise ValueError(f"{path}: columns {', '.join(unknown)} are not [behaviour] keys")
    weights = np.array([float(r["weight"]) for r in rows])
    if (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"{path}: weights must be non-negative and not all zero")
    return Posterior(
        path=path,
        particles=tuple(r["particle"] for r in rows),
        weights=weights / weights.sum(),
        names=names,
        values=np.array([[float(r[k]) for k in names] for r in rows]),
    )


def provenance(posterior: Posterior | None, draws: Sequence[Draw]) -> dict[str, Any]:
    """What a run's provenance records about its behavioural parameters."""
    if posterior is None:
        return {"source": "scenario [behaviour] values (--no-posterior)"}
    path = posterior.path.resolve()
    return {
        "source": "calibrated posterior",
        # relative to the project when it is the project's, so results name no machine
        "posterior": str(path.relative_to(PROJECT_DIR)) if path.is_relative_to(PROJECT_DIR) else str(path),
        "posterior_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "parameter_sets": len(posterior.particles),
        "draws": [
            {"replicate": r, "seed": d.seed, "particle": d.particle, "values": d.values} for r, d in enumerate(draws)
        ],
    }
