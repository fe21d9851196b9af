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
    text = peers.read_text().replace("NVDA,NVIDIA,accelerators,true,GPU and systems standard; FY ends late January",
                                     'NVDA,<script>alert(1)</script>,accelerators,true,"=HYPERLINK(""http://x"")<img src=x onerror=alert(2)>"')
    peers.write_text(text)
    assert main(["build", "--offline", "--out", "out", "--no-charts"]) == 0
    html = (project / "out" / "report.html").read_text()
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    rows = {r["ticker"]: r for r in csv.DictReader(io.StringIO((project / "out" / "peers.csv").read_text()))}
    assert rows["NVDA"]["notes"].startswith("'=HYPERLINK")
    md = (project / "out" / "peers.md").read_text()
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
