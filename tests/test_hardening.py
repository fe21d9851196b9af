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
    assert "'=HYPERLINK" in md


def test_sigint_midway_leaves_previous_outputs_intact(project, monkeypatch):
    assert main(["build", "--offline", "--out", "out", "--no-charts"]) == 0
    before = _hashes(project / "out")
    calls = {"n": 0}
    real = _io.write_bytes_atomic

    def interrupted(path, data):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(path, data + b"\n" if path.suffix in (".csv", ".md") else data)

    monkeypatch.setattr("comps.report.write_bytes_atomic", interrupted)
    with pytest.raises(KeyboardInterrupt):
        from comps.config import load_config
        from comps.pipeline import build

        build(load_config(offline=True, out_dir=Path("out"), charts=False))
    after = _hashes(project / "out")
    assert after.keys() == before.keys()
    changed = [k for k in after if after[k] != before[k]]
    assert len(changed) == 4  # the four files written before the interruption; the rest untouched
    assert not [p for p in (project / "out").iterdir() if p.name.endswith(".tmp")]


def test_kill_9_during_writes_never_leaves_a_half_written_file(project):
    """Kill a build at several moments; every output is always a complete old or new file."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "comps", "build", "--offline", "--out", "out"]
    subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True)
    old = _hashes(project / "out")
    (project / "data" / "targets" / "cerebras.toml").write_text(
        (project / "data" / "targets" / "cerebras.toml").read_text().replace("price_usd = 185", "price_usd = 186"))
    done = subprocess.run(cmd + ["--out", "new"], cwd=project, env=env, check=True, capture_output=True)
    assert done.returncode == 0
    new = _hashes(project / "new")
    manifests = [_manifest(project / d) for d in ("out", "new")]
    for delay in (0.6, 1.2, 1.8, 2.4):
        proc = subprocess.Popen(cmd, cwd=project, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for name, digest in _hashes(project / "out").items():
            if name == "manifest.json":  # complete JSON, equal to one of the two bar its timestamp
                assert _manifest(project / "out") in manifests
            else:
                assert digest in (old[name], new[name]), name


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
