"""Injection, interruption and data edge cases."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from comps import _io
from comps.cli import main


def _hashes(d: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())
            if p.is_file() and not p.name.startswith(".")}


def test_user_strings_are_escaped_and_formulas_neutralized(project):
    peers = project / "data" / "peers.csv"
    text = peers.read_text().replace("NVDA,NVIDIA,accelerators,true,core,The GPU incumbent Cerebras sells against in training and inference systems; FY ends late January",
                                     'NVDA,<script>alert(1)</script>,accelerators,true,core,"=HYPERLINK(""http://x"")<img src=x onerror=alert(2)>"')
    peers.write_text(text)
    assert main(["build", "--offline", "--out", "out", "--no-charts"]) == 0
    from comps.report.html import PRINT_SCRIPT

    html = (project / "out" / "report.html").read_text()
    assert html.count("<script>") == 1 and f"<script>{PRINT_SCRIPT}</script>" in html  # only the report's own
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = {r["ticker"]: r for r in csv.DictReader(io.StringIO((project / "out" / "tables" / "peers.csv").read_text()))}
    assert rows["NVDA"]["notes"].startswith("'=HYPERLINK")
    md = (project / "out" / "tables" / "peers.md").read_text()
    assert "=HYPERLINK" in md and "'=HYPERLINK" not in md  # Markdown is not a spreadsheet: shown as written


def test_an_interruption_while_writing_leaves_the_previous_set_whole(project, monkeypatch):
    assert main(["build", "--offline", "--out", "out", "--no-charts"]) == 0
    before = _hashes(project / "out")
    calls = {"n": 0}
    real = os.fsync

    def interrupted(fd):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(fd)

    monkeypatch.setattr(_io.os, "fsync", interrupted)
    from comps.config import load_config
    from comps.pipeline import build

    with pytest.raises(KeyboardInterrupt):
        build(load_config(offline=True, out_dir=Path("out"), charts=False, spec="ev_revenue"))
    assert _hashes(project / "out") == before  # not one file of the interrupted set
    assert not [p for p in project.iterdir() if p.name.startswith(".out.tmp-")]


def test_kill_9_at_any_moment_leaves_one_whole_set_and_no_children(project):
    """Kill a build with SIGKILL at several moments: the folder always holds exactly the old
    set or exactly the new one, and the chart process dies with its parent."""
    import psutil

    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "comps", "build", "--offline", "--out", "out"]
    subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True)
    (project / "data" / "targets" / "cerebras.toml").write_text(
        (project / "data" / "targets" / "cerebras.toml").read_text().replace("price_usd = 185", "price_usd = 186"))
    subprocess.run(cmd[:-1] + ["new"], cwd=project, env=env, check=True, capture_output=True)
    sets = [{k: v for k, v in _hashes(project / d).items() if k != "manifest.json"} for d in ("out", "new")]
    manifests = [_manifest(project / d) for d in ("out", "new")]
    for delay in (0.6, 1.2, 1.8, 2.4, 3.0):
        proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs(children, timeout=2)
        assert alive == [], alive
        assert {k: v for k, v in _hashes(project / "out").items() if k != "manifest.json"} in sets
        assert _manifest(project / "out") in manifests


def _manifest(d: Path) -> dict:
    m = json.loads((d / "manifest.json").read_text())
    m.pop("created_at")
    m["settings"].pop("out_dir")
    return m


def test_too_few_usable_peers_is_bad_input_naming_each_excluded_peer(project, capsys):
    peers = project / "data" / "peers.csv"
    lines = peers.read_text().splitlines()
    keep = [ln for ln in lines if not ln.split(",")[0] in ("ALAB", "AMD", "AVGO", "MRVL", "ARM", "CRDO", "NBIS", "ANET",
                                                          "MU", "SMCI", "ORCL")]
    peers.write_text("\n".join(keep) + "\n")  # NVDA, CRWV with data; TSM and VRT have no EV
    assert main(["build", "--offline", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert "2 peers have the data, at least 5 are needed" in err
    assert "[TSM]: excluded: no EV or net debt" in err and "[VRT]: excluded: no EV or net debt" in err
    assert not (project / "out").exists()


def test_invalid_snapshot_values_are_reported_with_lines(project, capsys):
    snap = project / "data" / "snapshots" / "2026-05-13.csv"
    text = snap.read_text().replace("NVDA,revenue_fy,215900,", "NVDA,revenue_fy,-5,")
    text = text.replace("NVDA,gross_margin,0.711,", "NVDA,gross_margin,71.1,")
    snap.write_text(text)
    assert main(["build", "--offline", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert "revenue_fy must be positive" in err and "gross_margin is a fraction" in err
    assert "2026-05-13.csv:" in err and not (project / "out").exists()


BAD = Path(__file__).parent / "fixtures" / "bad_inputs"


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.glob("*") if p.suffix in (".csv", ".toml")))
def test_every_bad_input_exits_2_and_changes_nothing(project, capsys, name):
    (project / "out").mkdir()
    (project / "out" / "previous.md").write_text("previous build\n")
    option = "--peers" if name.startswith("peers") else "--target"
    before = {**_hashes(project / "data"), **_hashes(project / "data" / "snapshots"), **_hashes(project / "out")}
    assert main(["build", "--offline", "--out", "out", option, str(BAD / name)]) == 2
    err = capsys.readouterr().err
    assert name in err
    assert {**_hashes(project / "data"), **_hashes(project / "data" / "snapshots"), **_hashes(project / "out")} == before


# Inputs a user cannot get silently wrong: each case exits 2, names the option, field or line,
# writes nothing, and leaves the input file byte-identical (mode and line endings included).


def _state(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mode


def _snapshot_folder(project: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (project / "data" / "snapshots").glob("*.csv")}


@pytest.mark.parametrize(("args", "fragment"), [
    (["QCOM", "market_cap", "180000000000", "--date", "2026-05-13"],
     ("[value]: market_cap 180,000,000,000 is implausible in USD millions; did you mean 180,000? (if it is right, "
     "add --confirm)")),
    (["QCOM", "market_cap", "180000", "--date", "2026-13-45"], "[--date]: --date must be YYYY-MM-DD, got '2026-13-45'"),
    (["QCOM", "market_cap", "180000", "--date", "2099-05-13"], "[--date]: --date 2099-05-13 is after today"),
    (["QCOM", "revenue_q", "9000", "--date", "2026-03-29", "--published", "2099-04-29"],
     "[--published]: --published 2099-04-29 is after today"),
    (["QCOM", "market_cap", "180000", "--date", "2026-05-13", "--note", "line1\nline2"], "[--note]: --note must be one line"),
])
def test_figures_add_refuses_with_the_option_the_user_typed(project, capsys, args, fragment):
    before = _snapshot_folder(project)
    extra = [] if "--source" in args else ["--source", "https://example.com/q"]
    assert main(["figures", "add", *args, *extra]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "--published must" not in err.replace(fragment, "")
    assert _snapshot_folder(project) == before


def test_figures_add_takes_a_negative_value_checks_the_url_and_keeps_the_file(project, capsys):
    snap = project / "data" / "snapshots" / "2026-05-05.csv"
    snap.write_bytes(b"ticker,field,value,unit,date,published,source_url,note\r\n")  # Windows line endings
    os.chmod(snap, 0o644)
    assert main(["figures", "add", "AMD", "net_debt", "-25960", "--date", "2026-03-28", "--published", "2026-05-05",
                 "--source", "not-a-url"]) == 2
    assert "--source must be the URL" in capsys.readouterr().err
    assert main(["figures", "add", "AMD", "net_debt", "-25960", "--date", "2026-03-28", "--published", "2026-05-05",
                 "--source", "https://example.com/amd"]) == 0
    assert snap.read_bytes().endswith(b"AMD,net_debt,-25960,USD millions,2026-03-28,2026-05-05,https://example.com/amd,\r\n")
    assert snap.stat().st_mode & 0o777 == 0o644
    # --confirm accepts an implausible value, and says so in its note
    assert main(["figures", "add", "QCOM", "market_cap", "180000000000", "--date", "2026-05-13",
                 "--source", "https://example.com/q", "--confirm"]) == 0
    assert ",https://example.com/q,CONFIRMED" in (project / "data" / "snapshots" / "2026-05-13.csv").read_text()


def test_peers_add_and_remove_keep_the_mode_and_the_line_endings(project):
    peers = project / "data" / "peers.csv"
    crlf = peers.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    peers.write_bytes(crlf)
    os.chmod(peers, 0o644)
    assert main(["peers", "add", "QCOM", "--segment", "accelerators", "--name", "Qualcomm"]) == 0
    assert peers.read_bytes() == crlf + b"QCOM,Qualcomm,accelerators,true,core,\r\n"
    assert peers.stat().st_mode & 0o777 == 0o644
    assert main(["peers", "remove", "QCOM"]) == 0
    assert _state(peers) == (crlf, peers.stat().st_mode)


def test_peers_add_refuses_a_line_break_and_normalizes_share_classes(project, capsys):
    peers = project / "data" / "peers.csv"
    before = _state(peers)
    assert main(["peers", "add", "BRK.B", "--segment", "conglomerate", "--notes", "class B\nnewline"]) == 2
    assert "[--notes]: notes must be one line of text" in capsys.readouterr().err
    assert _state(peers) == before
    assert main(["peers", "add", "brk.b", "--segment", "conglomerate"]) == 0
    assert "added BRK-B to" in capsys.readouterr().out and peers.read_text().endswith("BRK-B,BRK-B,conglomerate,true,core,\n")
    assert main(["peers", "add", "BRK-B", "--segment", "conglomerate"]) == 2  # the same security
    assert main(["peers", "add", "OCDO.L", "--segment", "retail"]) == 0  # an exchange suffix keeps its dot
    assert "OCDO.L,OCDO.L" in peers.read_text()


def test_a_peer_multiple_outside_the_plausible_range_stops_the_build(project, capsys):
    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text() + "QCOM,Qualcomm,accelerators,true,core,\n")
    snap = project / "data" / "snapshots" / "2026-05-12.csv"
    rows = ("QCOM,market_cap,{mcap},USD millions,2026-05-12,2026-05-12,https://example.com/q,{note}\n"
            "QCOM,net_debt,5000,USD millions,2026-03-29,2026-04-29,https://example.com/q,\n"
            "QCOM,revenue_fy,{rev},USD millions,2025-09-28,2025-11-05,https://example.com/q,\n"
            "QCOM,revenue_fy,39000,USD millions,2024-09-29,2024-11-06,https://example.com/q,\n")
    header = "ticker,field,value,unit,date,published,source_url,note\n"
    snap.write_text(header + rows.format(mcap=180000, rev=44, note=""))  # revenue in billions: 4,205×
    assert main(["build", "--offline", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert "[QCOM]: EV/Revenue is 4,204.55×, outside 0.05× to 500×" in err and not (project / "out").exists()
    snap.write_text(header + rows.format(mcap=180000, rev=44, note="CONFIRMED: checked"))
    assert main(["build", "--offline", "--no-charts", "--out", "out"]) == 0


@pytest.mark.parametrize("out", ["/proc/comps-out", "a-file/out"])
def test_an_unwritable_out_is_bad_input_found_before_any_work(project, capsys, out):
    (project / "a-file").write_text("x")
    t0 = time.perf_counter()
    assert main(["build", "--offline", "--out", out]) == 2
    assert time.perf_counter() - t0 < 60  # refused at once; never a 300 s wait on a lock
    assert "[--out]: cannot write here" in capsys.readouterr().err


def test_a_closed_pipe_ends_the_build_quietly(project):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(["bash", "-c", (f"set -o pipefail; '{sys.executable}' -m comps build --offline --no-charts "
                                         "--out out | head -1")], cwd=project, env=env, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("At $") and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr


def test_help_shows_flags_without_a_metavar():
    done = subprocess.run([sys.executable, "-m", "comps", "build", "--help"], capture_output=True, text=True, check=True)
    assert "--offline " in done.stdout and "<bool>" not in done.stdout
