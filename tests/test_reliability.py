"""Reliability: the chart process never outlives or blocks a build, snapshots layer instead of
replacing one another, messy CSVs get a clear answer, outputs are written as one set, and no
option list makes the CLI print a traceback."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from comps.cli import main
from comps.config import load_config
from comps.pipeline import build

ROOT = Path(__file__).resolve().parents[1]


def _descendants(baseline: frozenset[int] = frozenset()) -> list[psutil.Process]:
    """Live child processes of this test process, except those in ``baseline`` and their own
    children: the browser that pytest-playwright keeps for the session starts helper processes
    whenever it likes, and they are not comps'."""
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE and not {p.pid, *(a.pid for a in p.parents())} & baseline:
                out.append(p)
        except psutil.NoSuchProcess:  # exited while being looked at
            pass
    return out


def _baseline() -> frozenset[int]:
    return frozenset(p.pid for p in _descendants())


def _tagged(tag: str) -> list[psutil.Process]:
    """Live processes started with COMPS_TEST_TAG=tag (a build and anything it forked)."""
    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.environ().get("COMPS_TEST_TAG") == tag and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return out


def test_fifty_fast_failing_builds_leave_no_process_behind(project, capsys):
    bad = project / "data" / "bad_peers.csv"
    bad.write_text("ticker,name,segment,include,notes\nNVDA,NVIDIA,,maybe,\n")
    baseline = _baseline()
    for _ in range(50):  # each starts a chart process, then fails on its input at once
        assert main(["build", "--offline", "--peers", str(bad), "--out", "out"]) == 2
        assert _descendants(baseline) == []
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Process comps-charts" not in err


def test_repeated_in_process_builds_leave_no_children(project):
    baseline = _baseline()
    for _ in range(3):
        assert main(["build", "--offline", "--out", "out"]) == 0
        assert _descendants(baseline) == []


#: the moments a Ctrl-C is pressed, in order: before any import, after the CLI's imports, after the
#: settings, after the computation, after rendering (before the swap), just after the swap, and
#: while the summary prints
PHASES = ("entry", "imported", "config", "computed", "rendered", "swapped", "summary")


def _whole_set(out: Path) -> dict[str, str]:
    """The folder's files by hash, after checking every one against its manifest."""
    manifest = json.loads((out / "manifest.json").read_text())
    hashes = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in out.rglob("*")
              if p.is_file()}
    assert set(hashes) == set(manifest["outputs"]) | {"manifest.json"}
    assert all(hashes[n] == h for n, h in manifest["outputs"].items())
    return hashes


@pytest.mark.slow
@pytest.mark.parametrize("phase", PHASES)
def test_ctrl_c_at_every_phase_exits_130_with_one_line_and_no_child_left(project, phase):
    """Ctrl-C pressed at an exact phase of a run, deterministically (the build sends itself
    SIGINT there; no sleeping and hoping): exit 130, one line that says what happened to the
    outputs, no traceback, no process left, and the output folder one whole set."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    first = subprocess.run([sys.executable, "-m", "comps", "build", "--offline", "--out", "out"], cwd=project, env=env,
                           capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    before = _whole_set(project / "out")
    tag = uuid.uuid4().hex
    run = subprocess.run([sys.executable, "-m", "comps", "build", "--offline", "--spec", "median_ev_revenue",
                          "--out", "out"], cwd=project, env={**env, "COMPS_INTERRUPT_AT": phase, "COMPS_TEST_TAG": tag},
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 130, run.stderr
    said = [line for line in run.stderr.splitlines() if line.startswith("interrupted")]
    assert len(said) == 1 and run.stderr.rstrip().endswith(said[0]) and "Traceback" not in run.stderr
    deadline = time.monotonic() + 10.0  # SIGKILLed children take a moment to be reaped
    while _tagged(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _tagged(tag) == []
    after = _whole_set(project / "out")
    if PHASES.index(phase) < PHASES.index("swapped"):
        assert said[0] == "interrupted: no output was changed" and after == before
    else:
        assert said[0] == "interrupted: out already holds this build's complete output" and after != before


def test_concurrent_builds_on_one_folder_write_whole_sets(project):
    """Three builds into one folder at once take turns; the folder ends up as one build's
    complete set: every file's hash is the one its manifest records, and nothing else is there."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmds = [[sys.executable, "-m", "comps", "build", "--offline", "--out", "shared-out", *extra]
            for extra in ([], ["--no-charts"], ["--spec", "ev_revenue"])]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda c: subprocess.run(c, cwd=project, env=env, capture_output=True, text=True,
                                                      check=False), cmds))
    assert [r.returncode for r in runs] == [0, 0, 0], [r.stderr[-500:] for r in runs]
    out = project / "shared-out"
    manifest = json.loads((out / "manifest.json").read_text())
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == set(manifest["outputs"]) | {"manifest.json"}
    for name, digest in manifest["outputs"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert not list(project.glob(".shared-out.tmp-*"))


@pytest.mark.parametrize("out", ["data", "data/peers.csv", "."])
def test_a_build_never_replaces_a_folder_it_did_not_write(project, capsys, out):
    before = {p: p.read_bytes() for p in (project / "data").rglob("*") if p.is_file()}
    assert main(["build", "--offline", "--no-charts", "--out", out]) == 2
    assert "--out" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in (project / "data").rglob("*") if p.is_file()} == before


def test_the_committed_outputs_readme_is_what_a_build_writes():
    from comps.report import OUTPUTS_README

    assert (ROOT / "outputs" / "README.md").read_text() == OUTPUTS_README


def test_a_one_peer_snapshot_adds_that_peer_without_dropping_any_other(project):
    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text() + "QCOM,Qualcomm,accelerators,true,core,\n")
    before = build(load_config(offline=True), write=False)
    assert before.peers.loc["QCOM", "missing"] == "no figures in any snapshot"
    one = project / "data" / "snapshots" / "2026-05-12.csv"  # older than the bundled file: the as-of stays 2026-05-13
    one.write_text("ticker,field,value,unit,date,published,source_url,note\n"
                   "QCOM,market_cap,180000,USD millions,2026-05-12,2026-05-12,https://example.com/q,test\n"
                   "QCOM,net_debt,5000,USD millions,2026-03-29,2026-04-29,https://example.com/q,test\n"
                   "QCOM,revenue_fy,44000,USD millions,2025-09-28,2025-11-05,https://example.com/q,test\n"
                   "QCOM,revenue_fy,39000,USD millions,2024-09-29,2024-11-06,https://example.com/q,test\n")
    after = build(load_config(offline=True), write=False)
    assert after.as_of == before.as_of
    assert after.peers.loc["QCOM", "enterprise_value_usd"] == pytest.approx(185_000e6)
    assert after.peers.loc["QCOM", "revenue_growth"] == pytest.approx(44 / 39 - 1)
    shared = [t for t in before.peers.index if t != "QCOM"]
    for col in ("market_cap_usd", "enterprise_value_usd", "revenue_ltm_usd", "gross_margin"):
        assert after.peers.loc[shared, col].equals(before.peers.loc[shared, col]), col
    assert "QCOM" in after.fits["ev_revenue"].tickers


def test_a_newer_snapshot_file_moves_the_as_of_date_and_names_stale_peers(project):
    newer = project / "data" / "snapshots" / "2026-06-30.csv"
    newer.write_text("ticker,field,value,unit,date,published,source_url,note\n"
                     "NVDA,market_cap,5000000,USD millions,2026-06-30,2026-06-30,https://example.com/n,test\n")
    # the bundled target is valued at its pricing date, whatever newer files hold
    assert build(load_config(offline=True), write=False).as_of.isoformat() == "2026-05-13"
    target = project / "data" / "targets" / "cerebras.toml"  # a target with no [analysis] date: the newest file
    target.write_text(re.sub(r"\[analysis\]\nas_of = [0-9-]+\n", "", target.read_text()))
    result = build(load_config(offline=True), write=False)
    assert result.as_of.isoformat() == "2026-06-30"
    assert result.peers.loc["NVDA", "market_cap_date"].isoformat() == "2026-06-30"
    stale = [w for w in result.warnings if w.startswith("stale:")]
    assert any(w.startswith("stale: AMD market cap is from 2026-05-12, 49 days") for w in stale)
    assert build(load_config(offline=True, as_of="2026-05-13"), write=False).peers.loc["NVDA", "market_cap_usd"] == 5.72e12


def test_figures_add_appends_a_validated_row_atomically(project, capsys):
    snaps = project / "data" / "snapshots"
    bundled = (snaps / "2026-05-13.csv").read_bytes()
    assert main(["figures", "add", "QCOM", "revenue_q", "11000", "--date", "2026-03-29", "--published", "2026-04-29",
                 "--source", "https://example.com/q10", "--unit", "USD millions"]) == 0
    assert (snaps / "2026-04-29.csv").read_text().splitlines()[-1] == (
        "QCOM,revenue_q,11000,USD millions,2026-03-29,2026-04-29,https://example.com/q10,")
    before = (snaps / "2026-04-29.csv").read_bytes()
    assert main(["figures", "add", "QCOM", "revenue_q", "0", "--date", "2026-03-29", "--published", "2026-04-29",
                 "--source", "https://example.com/q10"]) == 2  # not positive, and a repeat of the same quarter
    err = capsys.readouterr().err
    assert "revenue_q must be positive" in err and "QCOM revenue_q for 2026-03-29 repeats line 2" in err
    assert (snaps / "2026-04-29.csv").read_bytes() == before and (snaps / "2026-05-13.csv").read_bytes() == bundled
    assert main(["figures", "add", "QCOM", "cash", "1", "--date", "2026-03-29", "--source", "x", "--unit", "USD"]) == 2
    assert "--published is required" in capsys.readouterr().err


HEADER = "ticker,field,value,unit,date,published,source_url,note\n"
GOOD_ROW = "NVDA,cash,1,USD millions,2026-01-25,2026-02-25,https://x,ok\n"


@pytest.mark.parametrize(("content", "fragment"), [
    (HEADER + GOOD_ROW + 'NVDA,total_debt,1,USD millions,2026-01-25,2026-02-25,https://x,"unclosed\n',
     "2026-05-01.csv:3: a quote opened on this line is not closed on it"),
    ("ticker;field;value;unit;date;published;source_url;note\n", "this file looks ';'-separated"),
])
def test_messy_snapshot_files_exit_2_with_the_line_and_nothing_written(project, capsys, content, fragment):
    (project / "data" / "snapshots" / "2026-05-01.csv").write_text(content)
    assert main(["build", "--offline", "--out", "out"]) == 2
    assert fragment in capsys.readouterr().err and not (project / "out").exists()


def test_excel_csv_with_bom_crlf_and_trailing_columns_works_in_every_peer_command(project, capsys):
    peers = project / "data" / "excel.csv"
    peers.write_bytes("\ufeffticker,name,segment,include,notes,,\r\nNVDA,NVIDIA,accelerators,true,,,\r\n".encode())
    assert main(["peers", "validate", "--peers", str(peers)]) == 0
    assert main(["peers", "add", "AMD", "--segment", "accelerators", "--peers", str(peers)]) == 0
    assert main(["peers", "list", "--peers", str(peers)]) == 0
    assert "AMD" in capsys.readouterr().out
    assert main(["peers", "remove", "NVDA", "--peers", str(peers)]) == 0
    assert peers.read_bytes().startswith("\ufeff".encode()) and b"NVDA" not in peers.read_bytes()


OPTIONS = ["--offline", "--no-charts", "--refresh", "--require-live", "--as-of", "--spec", "--peers", "--target",
           "--out", "--config", "--snapshots", "--bogus", "-x", "--help"]
VALUES = ["2026-05-13", "2026-13-45", "yesterday", "ev_revenue", "auto", "nope", "data/peers.csv", "missing.csv",
          "data/targets/cerebras.toml", "fuzz-out", "", "-1", "data/snapshots", "data"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES)), max_size=5),
       st.sampled_from([["build"], ["peers"], ["peers", "add"], ["peers", "remove"], ["peers", "validate"],
                        ["figures", "add"]]))
def test_cli_fuzz_exits_0_2_or_3_without_a_traceback(project, capsys, args, command):
    if command == ["build"] and "--offline" not in args and "--help" not in args:
        args = [*args, "--offline"]  # keep the fuzz off the (blocked) network: the live path has its own tests
    if command == ["build"] and "--no-charts" not in args:
        args = [*args, "--no-charts"]
    code = main([*command, *args])
    err = capsys.readouterr().err
    assert code in (0, 2, 3), (command, args, code, err)
    assert "Traceback" not in err, err
