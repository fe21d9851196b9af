"""The chart process gives the same bytes as rendering in-process, reports errors, and stops
when closed unused; chart text is literal text."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import re

import pytest

from comps.report import workers
from comps.report.charts import render, render_all, scatter


@pytest.fixture
def chart_process():
    proc = workers.start()
    if proc is None:
        pytest.skip("fork is unavailable here; charts render in-process")
    with proc:
        yield proc


def test_chart_process_renders_the_same_bytes_as_in_process(offline_result, chart_process):
    chart_process.submit(offline_result)
    got = chart_process.collect()
    assert got == render_all(offline_result)


def test_a_chart_error_is_raised_in_the_main_process(offline_result, chart_process):
    chart_process.submit(dataclasses.replace(offline_result, chosen="no_such_spec"))
    with pytest.raises(RuntimeError, match="rendering the charts failed: KeyError: 'no_such_spec'"):
        chart_process.collect()


def test_closing_an_unused_chart_process_stops_its_whole_group_at_once():
    import time

    import psutil

    proc = workers.start()
    if proc is None:
        pytest.skip("fork is unavailable here")
    pid = proc.pid
    time.sleep(0.3)  # mid-import
    t0 = time.perf_counter()
    proc.close()
    assert time.perf_counter() - t0 < 2.0
    assert "comps-charts" not in [p.name for p in mp.active_children()]
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_dollar_signs_stay_dollar_signs(offline_result):
    """Two "$" in one string would be typeset as mathtext by default, losing both signs. With
    SVG text kept as text, the title's words are in the file verbatim."""
    target = dataclasses.replace(offline_result.target, name="Acme $1B-$5B Holdings")
    svg = render(scatter(dataclasses.replace(offline_result, target=target)))["svg"].decode()
    texts = re.findall(r"<text\b[^>]*>([^<]*)</text>", svg)  # drawn text, not the comments
    assert any(t.startswith("Acme $1B-$5B Holdings against the peers") for t in texts)


def test_scatter_labels_every_peer_and_price_without_overlaps(offline_result):
    fig = scatter(offline_result)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text() and not t.get_text().startswith("As of")]  # not the footnote
    prices = ["$115 IPO range", "$120 IPO range", "$125 IPO range", "$150 revised range", "$160 revised range",
              "$185 priced", "$311 trading"]  # each price point of the target file, at its own multiple
    assert sorted(t.get_text() for t in labels) == sorted([*offline_result.fits[offline_result.chosen].tickers, *prices])
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[:i]):
            assert not a.overlaps(b), (labels[i].get_text(), labels[j].get_text())


def _drawn_x(ax) -> list[tuple[str, float, float]]:
    """Every line and shaded band on the axes: (what, lowest x, highest x)."""
    from matplotlib.collections import PolyCollection

    out = [(ln.get_label(), float(min(ln.get_xdata())), float(max(ln.get_xdata()))) for ln in ax.get_lines()
           if len(ln.get_xdata()) >= 2]
    for c in ax.collections:
        if isinstance(c, PolyCollection) and len(c.get_paths()):
            v = c.get_paths()[0].vertices[:, 0]
            out.append((c.get_label(), float(v.min()), float(v.max())))
    return out


def test_no_line_or_band_is_drawn_beyond_the_peers_growth_and_a_weak_slope_is_dashed(offline_result):
    fig = scatter(offline_result)
    ax = fig.axes[0]
    peers = offline_result.peers.loc[list(offline_result.fits["log_ev_gross_profit"].tickers), "revenue_growth"] * 100
    drawn = _drawn_x(ax)
    assert {w.split(":")[0] for w, *_ in drawn} >= {"ln EV/Gross profit (LTM) ~ growth", "peers' interquartile range"}
    for what, lo, hi in drawn:
        assert lo >= peers.min() - 1e-9 and hi <= peers.max() + 1e-9, what
    slope = next(ln for ln in ax.get_lines() if ln.get_label().startswith("ln EV/Gross profit"))
    assert slope.get_linestyle() == "--"  # the slope is not significant
    assert "growth slope not significant" in ax.get_title()


@pytest.fixture(scope="module")
def coreweave():
    """CoreWeave at its pricing date: its 739 % growth lies far beyond its peers'."""
    import os
    from pathlib import Path

    from comps.config import BuildConfig
    from comps.pipeline import build

    root = Path(__file__).resolve().parents[1]
    here = os.getcwd()
    os.chdir(root)
    try:
        return build(BuildConfig(target_path=Path("data/targets/coreweave.toml"), offline=True, charts=False,
                                 track_record=False, bootstrap_resamples=400, wild_resamples=199), write=False)
    finally:
        os.chdir(here)


def test_a_target_beyond_the_peers_growth_gets_no_line_there_and_no_regression_bar(coreweave):
    from comps.report.charts import football_field
    from comps.valuation import target_inputs

    growth = target_inputs(coreweave.target)["revenue_growth"]
    peers = coreweave.peers.loc[list(coreweave.specs[coreweave.chosen].fit.tickers), "revenue_growth"]
    assert growth > 5 * peers.max()  # the premise: 739 % against at most 114 %
    for what, lo, hi in _drawn_x(scatter(coreweave).axes[0]):
        assert hi <= peers.max() * 100 + 1e-9, what
    ax = football_field(coreweave).axes[0]
    labels = [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]
    regressions = [name for name, sv in coreweave.specs.items() if sv.fit.spec.kind == "regression"]
    assert regressions and sum("not drawn: CRWV's growth is outside the peers'" in t for t in labels) == len(regressions)
    bars = [bar for container in ax.containers for bar in container]
    assert len(bars) == len(labels) - len(regressions)  # one bar per method that values it
    right = ax.get_xlim()[1]
    assert all(b.get_x() + b.get_width() <= right + 1e-9 for b in bars)  # nothing clipped off the axis


def test_charts_leave_the_sessions_backend_and_style_alone(offline_result):
    import matplotlib

    backend, style = matplotlib.get_backend(), dict(matplotlib.rcParams)
    render(scatter(offline_result))
    assert matplotlib.get_backend() == backend and dict(matplotlib.rcParams) == style
