"""The ``abm`` command (abm/cli.py, abm/output.py).

* Determinism: the same seed gives byte-identical timeseries.csv and subsidies.csv,
  in the same process (the city cache is shared) and in a fresh process; another seed
  gives different outcomes (not just a different seed column).
* Bad input: each kind of mistake in a scenario file exits non-zero with one message
  naming the file, the key and what was expected, before anything is written: the
  parent of ``--out`` gains no entry, hidden ``.NAME.*.partial`` directories included.
* A run that fails while writing leaves no output directory behind, and an existing
  ``--out`` is refused without being touched.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

import abm.cli
from abm.cli import main
from abm.scenario import SCENARIO_DIR

BASELINE = SCENARIO_DIR / "baseline.toml"
HISTORY = SCENARIO_DIR / "history.toml"
OUTPUTS = ("timeseries.csv", "yearly.csv", "subsidies.csv", "summary.json", "scenario.json", "provenance.json")


def run_args(out: Path, seed: int, scenario: str = "strategy", scale: str = "0.02") -> list[str]:
    # --no-posterior: the scenario's own [behaviour] values, whatever calibration/ holds
    return [
        "run",
        scenario,
        "--scale",
        scale,
        "--seed",
        str(seed),
        "--out",
        str(out),
        "--no-progress",
        "--no-posterior",
    ]


def column(path: Path, name: str) -> list[str]:
    with open(path, newline="") as f:
        return [row[name] for row in csv.DictReader(f)]


@pytest.mark.slow
def test_same_seed_same_bytes_other_seed_other_outcomes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    runs = tmp_path / "runs"
    assert main(run_args(runs / "a", 11)) == 0
    assert main(run_args(runs / "b", 11)) == 0
    assert main(run_args(runs / "other", 12)) == 0
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    fresh = subprocess.run(
        [sys.executable, "-m", "abm.cli", *run_args(runs / "fresh", 11)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert fresh.returncode == 0, fresh.stderr
    capsys.readouterr()
    assert sorted(p.name for p in runs.iterdir()) == ["a", "b", "fresh", "other"]  # nothing partial left
    for name in OUTPUTS:
        assert (runs / "a" / name).is_file()
    for name in ("timeseries.csv", "subsidies.csv"):
        a = (runs / "a" / name).read_bytes()
        assert a == (runs / "b" / name).read_bytes(), name
        assert a == (runs / "fresh" / name).read_bytes(), name
    a, other = runs / "a" / "timeseries.csv", runs / "other" / "timeseries.csv"
    assert column(a, "fiscal_year") == column(other, "fiscal_year")
    for outcome in ("residential_pv_kw", "evs", "zeh_houses"):
        assert column(a, outcome) != column(other, outcome), outcome


# --- bad input ----------------------------------------------------------------------

BAD = {
    "unknown_key": (
        f'extends = "{BASELINE}"',
        "[households]\nroof_kw_mean_typo = 1.0\n",
        "households.roof_kw_mean_typo",
    ),
    "wrong_type": (f'extends = "{BASELINE}"', '[households]\nroof_kw_mean = "big"\n', "households.roof_kw_mean"),
    "negative_amount": (
        f'extends = "{BASELINE}"',
        "[subsidies.city_pv]\nannual_budget_yen = -5.0\n",
        "subsidies.city_pv.annual_budget_yen",
    ),
    "year_2060": (
        f'extends = "{BASELINE}"',
        "[subsidies.city_pv]\nlast_fiscal_year = 2060\n",
        "subsidies.city_pv.last_fiscal_year",
    ),
    "trajectory_2070": (
        f'extends = "{BASELINE}"',
        "[prices]\nelectricity_price_yen_per_kwh = { 2014 = 28.0, 2070 = 30.0 }\n",
        "prices.electricity_price_yen_per_kwh.2070",
    ),
    "missing_parent": ('extends = "does_not_exist.toml"', "", "scenario.extends"),
    "unknown_section": (f'extends = "{BASELINE}"', "[grants]\ncity = 1.0\n", "grants"),
    "programme_missing_keys": (
        f'extends = "{BASELINE}"',
        '[subsidies.new_grant]\nlevel = "city"\nflat_yen = 1000.0\n',
        "subsidies.new_grant.technology",
    ),
    "first_after_last": (
        f'extends = "{HISTORY}"',
        "[subsidies.city_pv]\nfirst_fiscal_year = 2030\n",
        "subsidies.city_pv.last_fiscal_year",
    ),
    "syntax": (f'extends = "{BASELINE}"', "[households]\nroof_kw_mean = \n", "(syntax)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_scenario_rejected_before_anything_is_written(tmp_path, write_scenario, capsys, case):
    extends, body, key = BAD[case]
    path = write_scenario(f"{case}.toml", f"[scenario]\n{extends}\n\n{body}")
    results = tmp_path / "results"
    results.mkdir()
    fresh_parent = tmp_path / "not_yet"
    for out in (results / "run", fresh_parent / "run"):
        code = main(run_args(out, 1, scenario=str(path), scale="0.01"))
        captured = capsys.readouterr()
        assert code != 0
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, captured.err
        message = lines[0]
        assert path.name in message
        assert f"'{key}'" in message
        assert "expected" in message
    assert list(results.iterdir()) == []  # hidden .run.*.partial included
    assert not fresh_parent.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results", "scenarios"]


def test_failure_while_writing_leaves_nothing(tmp_path, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(abm.cli, "figures", broken)
    results = tmp_path / "results"
    results.mkdir()
    with pytest.raises(RuntimeError, match="disk full"):
        main(run_args(results / "run", 1, scale="0.005"))
    assert list(results.iterdir()) == []


def test_existing_out_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "results" / "run"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    code = main(run_args(out, 1, scale="0.005"))
    err = capsys.readouterr().err
    assert code != 0
    assert str(out) in err and "exists" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in out.parent.iterdir()] == ["run"]


def test_second_run_on_an_out_being_written_is_refused_at_once(tmp_path, monkeypatch, capsys):
    """Two ``abm run`` with one --out: the second is refused before it computes
    anything (it used to compute the whole run and then fail on the rename)."""
    out = tmp_path / "results" / "run"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from abm.output import claimed\n"
            "with claimed(sys.argv[1]):\n    print('held', flush=True); time.sleep(60)",
            str(out),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        computed = []
        monkeypatch.setattr(abm.cli, "_run_replicates", lambda *a: computed.append(a))
        code = main(run_args(out, 1, scale="0.005"))
        err = capsys.readouterr().err
    finally:
        holder.kill()
        holder.wait()
    assert code == 2
    assert err.count("\n") == 1 and str(out) in err and "another abm process is writing it" in err
    assert computed == []
    assert not out.exists()


def test_a_finished_run_leaves_no_claim_beside_its_output(tmp_path):
    out = tmp_path / "results" / "run"
    assert main(run_args(out, 1, scale="0.005")) == 0
    assert [p.name for p in out.parent.iterdir()] == ["run"]


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--scale", "0", "(0, 1]"),
        ("--scale", "1.5", "(0, 1]"),
        ("--scale", "nan", "(0, 1]"),
        ("--seed", "-1", ">= 0"),
        ("--replicates", "0", "positive"),
    ],
)
def test_bad_options_rejected(tmp_path, capsys, option, value, expected):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "strategy", option, value, "--out", str(tmp_path / "run")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert option in err and expected in err
    assert list(tmp_path.iterdir()) == []


def test_out_under_a_file_is_refused(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    assert main(run_args(blocker / "run", seed=1)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{blocker} is a file, not a directory" in err


def test_binary_scenario_is_one_line_of_error(tmp_path, capsys):
    binary = tmp_path / "b.toml"
    binary.write_bytes(bytes(range(128, 256)) * 8)
    out = tmp_path / "out"
    assert main(run_args(out, seed=1, scenario=str(binary))) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "b.toml: key '(file)': expected a UTF-8 text file" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["b.toml"]


def test_interrupted_run_writes_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(abm.cli, "_run_replicates", interrupted)
    results = tmp_path / "results"
    results.mkdir()
    assert main(run_args(results / "run", 1)) == 130
    assert capsys.readouterr().err.strip() == "interrupted: nothing written"
    assert list(results.iterdir()) == []  # no output and no hidden partial directory


def _peak_rss_mb(command: list[str], cwd: Path) -> float:
    """Peak resident memory of ``command`` run to its end (Linux: ru_maxrss in KiB)."""
    script = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", script, *command], cwd=cwd, capture_output=True, text=True, check=True)
    return int(done.stdout) / 1024


@pytest.mark.slow
def test_serial_replicates_memory_does_not_grow_with_them(tmp_path):
    """The bound stated in the README: a full-city ``abm run`` holds about one city's memory
    whatever its replicates (it held one more city per replicate, up to four, before)."""
    run = [sys.executable, "-m", "abm.cli", "run", "baseline", "--scale", "1", "--no-progress"]
    one = _peak_rss_mb([*run, "--replicates", "1", "--out", str(tmp_path / "one")], tmp_path)
    six = _peak_rss_mb([*run, "--replicates", "6", "--out", str(tmp_path / "six")], tmp_path)
    assert six < one + 60, (one, six)  # a city is about 110 MB
    assert six < 1024
