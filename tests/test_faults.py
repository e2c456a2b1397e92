"""Faults from outside (abm/cli.py, abm/execution.py, abm/output.py): the main process of
``abm run --workers 2`` or ``abm sensitivity --workers 2`` stopped mid-run by SIGTERM or
killed by SIGKILL.

Afterwards no process of the run is alive (the pool's workers end with their parent), and
the same command again completes: ``abm run`` with its output whole, ``abm sensitivity``
resuming with every run stored before the stop kept as it was and every run in the log
once. SIGTERM is handled like Ctrl-C (exit 130, a message, nothing half written). Partial
outputs that a killed process could not remove are removed by the next writer beside them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from abm.output import atomic_directory, remove_stale_partials

pytestmark = pytest.mark.slow
WORKERS = 2


def _start(command: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _workers(proc: subprocess.Popen, timeout_s: float = 60.0) -> list[psutil.Process]:
    """The pool's worker processes of ``proc``, once they are all there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        if len(children) >= WORKERS:
            return children
        time.sleep(0.05)
    raise AssertionError(f"{WORKERS} workers never started")


def _stop_and_check_nothing_left(proc: subprocess.Popen, stop: signal.Signals, children) -> str:
    proc.send_signal(stop)
    _out, err = proc.communicate(timeout=60)
    # each worker watches its parent every 0.2 s; without that they go on with their runs
    _gone, alive = psutil.wait_procs(children, timeout=3)
    assert alive == [], f"still running after {stop.name}: {alive}"
    if stop == signal.SIGTERM:
        assert proc.returncode == 130, err
        assert "Traceback" not in err and "interrupted" in err
    else:
        assert proc.returncode == -signal.SIGKILL
    return err


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_run_stopped_mid_run_leaves_no_process_and_runs_again(tmp_path, stop):
    out = tmp_path / "results" / "stopped"
    command = [sys.executable, "-m", "abm.cli", "run", "baseline", "--replicates", "8", "--scale", "1"]
    command += ["--workers", str(WORKERS), "--out", str(out), "--no-progress"]
    proc = _start(command, tmp_path)
    children = _workers(proc)
    time.sleep(2.0)  # in the runs (each worker builds the city once, then runs)
    _stop_and_check_nothing_left(proc, stop, children)
    assert not out.exists()
    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert json.loads((out / "summary.json").read_text())["replicates"] == 8
    assert sorted(p.name for p in out.parent.iterdir()) == ["stopped"]  # no partial left beside it


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_sensitivity_stopped_mid_run_resumes_with_nothing_lost_or_repeated(tmp_path, stop):
    out = tmp_path / "sa"
    command = [sys.executable, "-m", "abm.cli", "sensitivity", "strategy_morris", "--n", "4", "--scale", "0.02"]
    command += ["--workers", str(WORKERS), "--out", str(out)]
    proc = _start(command, tmp_path)
    children = _workers(proc)
    log = out / "runs.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_bytes().count(b"\n") >= 6):
        assert time.monotonic() < deadline and proc.poll() is None, "no runs stored"
        time.sleep(0.02)
    _stop_and_check_nothing_left(proc, stop, children)
    before = {r["key"]: r for r in map(json.loads, log.read_bytes().splitlines(keepends=True)) if r}
    assert not (out / "summary.json").exists()

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"with {len(before):,} done" in again.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    keys = [r["key"] for r in records]
    assert len(keys) == len(set(keys))  # nothing computed twice
    assert all(records[i] == before[k] for i, k in enumerate(keys[: len(before)]))  # nothing lost or changed
    assert (out / "summary.json").exists()


def test_partials_of_processes_gone_are_removed_by_the_next_writer(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    stale_dir = tmp_path / f".run-a.pid{dead_pid}.k2j4x9ab.partial"
    stale_file = tmp_path / f".summary.json.pid{dead_pid}.partial"
    live_dir = tmp_path / f".run-b.pid{os.getpid()}.q8w7e6rt.partial"  # a writer still at work
    for d in (stale_dir, live_dir):
        d.mkdir()
        (d / "timeseries.csv").write_text("fiscal_year\n")
    stale_file.write_text("{")
    with atomic_directory(tmp_path / "run-c") as tmp:
        (tmp / "summary.json").write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live_dir.name, "run-c"])
    assert remove_stale_partials(tmp_path) == []
