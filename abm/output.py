"""Writing results: atomically, deterministically, with their provenance.

A run's output directory appears whole or not at all: everything is written into a
hidden sibling directory that is renamed into place at the end, and removed if
anything fails. A process killed outright (SIGKILL) cannot remove its own: such
directories and files name their process, and the next writer beside them removes
those whose process is gone. Tables are written with a fixed number format, so the same seed
gives a byte-identical file.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from abm.runner import RunResult

LEADING_COLUMNS = (
    "fiscal_year",
    "replicate",
    "seed",
    "residential_pv_kw",
    "business_pv_kw",
    "ppa_kw",
    "solar_sharing_kw",
    "zeh_houses",
    "evs",
    "renewable_energy_tj",
    "co2_kt",
    "subsidy_spent_yen",
)
PACKAGES = ("mesa", "numpy", "scipy", "networkx", "SALib", "matplotlib", "dask", "distributed")


def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else format(value, ".10g")
    return str(value)


# ".<name>.pid<process>.<random>.partial" (directories) and ".<name>.pid<process>.partial" (files)
_PARTIAL = re.compile(r"^\..*\.pid(\d+)(\.[^.]+)?\.partial$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(directory: Path) -> list[Path]:
    """Remove the partial outputs in ``directory`` left by processes that are gone; which."""
    removed = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for path in Path(directory).iterdir():
            found = _PARTIAL.match(path.name)
            if found and not _alive(int(found.group(1))):
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_directory(final: Path) -> Iterator[Path]:
    """Yield a temporary directory that becomes ``final`` only if the block succeeds."""
    final = Path(final)
    if final.exists():
        raise FileExistsError(f"{final} exists already")
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.pid{os.getpid()}.", suffix=".partial", dir=final.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; results are to be shared
        try:
            os.replace(tmp, final)
        except OSError as err:  # another run made it meanwhile (a directory not empty)
            raise FileExistsError(f"{final}: written by another run meanwhile; this run's output is dropped") from err
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


class OutputBusy(RuntimeError):
    """Another process is writing this output."""


@contextlib.contextmanager
def claimed(final: Path) -> Iterator[None]:
    """Hold the claim on output ``final`` while a run computes and writes it, so that a
    second run on the same output is refused at once rather than after computing for
    nothing. The claim is a lock file beside ``final``, removed before it is released:
    a process that opened it meanwhile finds it unlinked and takes a new one (filelock
    checks for that)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.parent / f".{final.name}.lock"
    lock = FileLock(path)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OutputBusy(
            f"{final}: another abm process is writing it; wait for it to finish or choose another --out"
        ) from None
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        lock.release()


@contextlib.contextmanager
def atomic_file(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final`` that replaces it only if the block
    succeeds, so that a reader never sees a file half written."""
    final = Path(final)
    remove_stale_partials(final.parent)
    tmp = final.with_name(f".{final.name}.pid{os.getpid()}.partial")
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_csv(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([fmt(row[c]) for c in columns])


def timeseries_rows(results: Sequence[RunResult]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per replicate and fiscal year, leading columns first."""
    rows = []
    for r in results:
        n = len(r.table["fiscal_year"])
        for i in range(n):
            row = {k: v[i] for k, v in r.table.items()}
            row["fiscal_year"] = int(row["fiscal_year"])
            row["replicate"], row["seed"] = r.replicate, r.seed
            rows.append(row)
    rest = sorted(set(rows[0]) - set(LEADING_COLUMNS))
    return rows, [*LEADING_COLUMNS, *rest]


def write_timeseries(path: Path, results: Sequence[RunResult]) -> None:
    rows, columns = timeseries_rows(results)
    write_csv(path, rows, columns)


def write_programme_spending(path: Path, results: Sequence[RunResult]) -> None:
    rows = [
        {
            **row,
            "replicate": r.replicate,
            "exhausted_on": r.budget_exhausted.get(row["programme"], {}).get(row["fiscal_year"], ""),
        }
        for r in results
        for row in r.programme_spending
    ]
    columns = [
        "fiscal_year",
        "replicate",
        "programme",
        "level",
        "technology",
        "granted_yen",
        "grants",
        "budget",
        "annual_budget_yen",
        "exhausted_on",
    ]
    write_csv(path, rows, columns)


def git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        return out + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        versions["saitama-abm"] = importlib.metadata.version("saitama-abm")
    return versions


# what a run's outputs depend on besides its inputs: the model's code and defaults
MODEL_FILES = ("*.py", "data/*.toml")


def model_code_sha256() -> str:
    """Digest of the simulator's own files (``abm/*.py`` and its default data), so
    that a run store made by other model code is told apart from this one's."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(p for pattern in MODEL_FILES for p in package.glob(pattern)):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def provenance(**facts: Any) -> dict[str, Any]:
    return {
        **facts,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "command": sys.argv,
        "platform": platform.platform(),
    }


def write_json(path: Path, data: Any) -> None:
    with open(path, "w") as f:
        json.dump(data, f, indent=2, ensure_ascii=False, default=str)
        f.write("\n")
