"""Experiments at scale: runs declared as data, mapped over an executor, stored as
they finish, resumed after an interruption.

Every experiment (replicates, calibration, sensitivity analysis) is a list of
:class:`RunSpec`: a unique key, the scenario keys it changes, a seed and a scale.
:func:`run_experiment` sends the runs that the :class:`RunStore` does not hold yet to
a ``concurrent.futures.Executor`` (a process pool, or a Dask cluster through
:func:`executor`) and appends each result to the store the moment it arrives, so a
killed experiment started again computes only what is missing. A run's outputs
depend only on its spec, never on the executor or on the order of completion.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from abm.clock import LAST_FISCAL_YEAR
from abm.output import OutputBusy, atomic_file
from abm.runner import RunResult, run_scenario, settle_worker
from abm.scenario import Scenario

Extract = Callable[[RunResult], dict[str, Any]]


@dataclass(frozen=True)
class RunSpec:
    """One run as data: what it changes in the base scenario, its seed and scale, and
    the fiscal year it stops after (calibration runs need only the observed years)."""

    key: str
    seed: int
    scale: float = 1.0
    values: Mapping[str, Any] = field(default_factory=dict)
    last_fiscal_year: int = LAST_FISCAL_YEAR


# A picklable function from a spec to its outputs: the city run of :func:`city_outputs`,
# or another model (a test function whose answers are known).
Model = Callable[[RunSpec], dict[str, Any]]


def city_outputs(base: Scenario, extract: Extract, spec: RunSpec) -> dict[str, Any]:
    """Run one spec of ``base`` and return what ``extract`` takes of the result."""
    scenario = base.with_values(spec.values, source=f"run {spec.key}") if spec.values else base
    return extract(run_scenario(scenario, spec.seed, spec.scale, last_fiscal_year=spec.last_fiscal_year))


class ExperimentMismatch(ValueError):
    """An output directory holds another experiment than the one asked for, or its record of
    which one is damaged."""


class RunStore:
    """Finished runs of one experiment, one JSON line each in ``runs.jsonl``.

    Lines are appended one at a time and handed to the operating system at once, so
    a killed process loses no finished run. They are forced to the disk (fsync) at
    most every ``SYNC_SECONDS``: an fsync can take milliseconds, longer than a cheap
    run, and a machine that crashes may lose the runs of about the last second. A line
    cut short by a crash is cut off on loading, so the run it held is simply
    computed again.
    """

    SYNC_SECONDS = 1.0

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.path = self.directory / "runs.jsonl"
        self._synced_at = -math.inf  # time.monotonic() of the last fsync

    def load(self) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return done
        with open(self.path, "rb+") as f:
            data = f.read()
            if not data.endswith(b"\n"):
                # a last line cut short by an interruption: cut it off, so that the
                # next record starts a line of its own instead of extending it
                f.truncate(data.rfind(b"\n") + 1)
        for line in data.splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # not JSON, or not UTF-8: a line cut short, or damaged
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                done[record["key"]] = record  # anything else is no run of ours: computed again
        return done

    def append(self, record: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            if time.monotonic() - self._synced_at >= self.SYNC_SECONDS:
                os.fsync(f.fileno())
                self._synced_at = time.monotonic()

    def holds(self, manifest: dict[str, Any]) -> bool:
        """Whether the directory holds the experiment of ``manifest`` already (False if it
        holds none); :class:`ExperimentMismatch` if it holds another, or a damaged record."""
        path = self.directory / "experiment.json"
        if not path.exists():
            return False
        try:
            existing = json.loads(path.read_bytes())
        except ValueError as err:  # not JSON, or not UTF-8
            raise ExperimentMismatch(
                f"{path}: damaged ({err.__class__.__name__}); it records which experiment the directory "
                "holds, so use a new output directory (or remove this one)"
            ) from None
        if existing != json.loads(json.dumps(manifest, sort_keys=True, default=str)):
            raise ExperimentMismatch(
                f"{path}: holds a different experiment; use a new output directory to start another"
            )
        return True

    def resumed(self, manifest: dict[str, Any]) -> int:
        """How many runs of the experiment of ``manifest`` the directory holds, checked
        (:meth:`holds`) before anyone is told that it resumes them."""
        return len(self.load()) if self.holds(manifest) else 0

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Record what the experiment is; refuse to resume a different one."""
        if self.holds(manifest):
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_file(self.directory / "experiment.json") as tmp, open(tmp, "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True, default=str)


def run_experiment(
    base: Scenario,
    specs: Sequence[RunSpec],
    extract: Extract,
    store: RunStore,
    pool: Executor | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Run every spec the store does not hold yet; return all records by key."""
    return run_model_experiment(functools.partial(city_outputs, base, extract), specs, store, pool, on_done)


def evaluate_model(model: Model, spec: RunSpec) -> dict[str, Any]:
    """Run one spec through ``model`` and return its outputs with its timing."""
    started = time.perf_counter()
    outputs = model(spec)
    seconds = round(time.perf_counter() - started, 3)
    settle_worker()
    return {"key": spec.key, "outputs": outputs, "seconds": seconds, "pid": os.getpid()}


def run_model_experiment(
    model: Model,
    specs: Sequence[RunSpec],
    store: RunStore,
    pool: Executor | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`run_experiment` for any model (:data:`Model`), stored and resumed in the
    same way."""
    return _run_missing(functools.partial(evaluate_model, model), specs, store, pool, on_done)


class ExperimentBusy(OutputBusy):
    """Another process is running the experiment of this run store."""


@contextlib.contextmanager
def holding(store: RunStore) -> Iterator[None]:
    """The store's lock while its runs are computed, so that two processes on one output
    directory do not compute every run twice; the second is refused at once."""
    store.directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(store.directory / ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ExperimentBusy(
            f"{store.directory}: another abm process is running this experiment; wait for it to finish "
            "(it resumes from what is stored) or choose another --out"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _run_missing(
    task: Callable[[RunSpec], dict[str, Any]],
    specs: Sequence[RunSpec],
    store: RunStore,
    pool: Executor | None,
    on_done: Callable[[dict[str, Any]], None] | None,
) -> dict[str, dict[str, Any]]:
    with holding(store):
        return _run_missing_held(task, specs, store, pool, on_done)


def _run_missing_held(
    task: Callable[[RunSpec], dict[str, Any]],
    specs: Sequence[RunSpec],
    store: RunStore,
    pool: Executor | None,
    on_done: Callable[[dict[str, Any]], None] | None,
) -> dict[str, dict[str, Any]]:
    keys = [s.key for s in specs]
    if len(set(keys)) != len(keys):
        raise ValueError("run keys must be unique within an experiment")
    done = store.load()
    # runs on the same city (seed and scale) one after another, so that a worker builds
    # each city once: a sweep's rows repeat the same replicate seeds, and a worker
    # keeps only a few cities (abm.city.build_city)
    missing = sorted((s for s in specs if s.key not in done), key=lambda s: (s.seed, s.scale))

    def finished(record: dict[str, Any]) -> None:
        store.append(record)
        done[record["key"]] = record
        if on_done:
            on_done(record)

    if pool is None:
        for spec in missing:
            finished(task(spec))
    else:
        futures: list[Future] = [pool.submit(task, spec) for spec in missing]
        try:
            for future in as_completed(futures):
                finished(future.result())
        except BaseException:
            # a failed run or an interruption: drop the runs not started yet, so
            # that leaving the executor does not wait for all of them
            for future in futures:
                future.cancel()
            raise
    return {k: done[k] for k in keys}


PARENT_WATCH_SECONDS = 0.2


def _exit_with_parent() -> None:
    """In a pool worker: stop when the process that started it is gone.

    A worker outlives a parent killed by SIGKILL (or stopped by SIGTERM while the worker
    is in a run): it goes on with its run and holds hundreds of MB. When the parent
    dies the worker is handed to another parent, which this notices. SIGTERM takes its
    default action again here, as the parent's handler (:func:`abm.cli.main`) is for
    the parent only.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers end with the process that made it."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_exit_with_parent)


@contextlib.contextmanager
def executor(workers: int = 1, scheduler: str | None = None) -> Iterator[Executor | None]:
    """A process pool (``scheduler=None``), a Dask ``LocalCluster`` (``"local"``), or
    the Dask scheduler at ``scheduler`` (e.g. ``tcp://host:8786``); ``None`` runs
    serially in this process when ``workers == 1`` and no scheduler is named."""
    if scheduler is None:
        if workers <= 1:
            yield None
            return
        with process_pool(workers) as pool:
            yield pool
        return
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        with (
            LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            yield client.get_executor(pure=False)
    else:
        with Client(scheduler) as client:
            yield client.get_executor(pure=False)


def unfinished_directory(results_dir: Path, prefix: str, manifest: dict[str, Any]) -> Path | None:
    """The newest ``results_dir/<prefix>-*`` holding the experiment of ``manifest``
    (:meth:`RunStore.write_manifest`) and no ``summary.json`` yet: running the same
    command again resumes it."""
    expected = json.loads(json.dumps(manifest, sort_keys=True, default=str))
    for candidate in sorted(Path(results_dir).glob(f"{prefix}-*"), reverse=True):
        path = candidate / "experiment.json"
        if not path.is_file() or (candidate / "summary.json").exists():
            continue
        with open(path) as f:
            if json.load(f) == expected:
                return candidate
    return None


def spec_manifest(specs: Sequence[RunSpec]) -> list[dict[str, Any]]:
    return [asdict(s) | {"values": dict(s.values)} for s in specs]
