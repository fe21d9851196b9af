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


def test_scatter_labels_every_peer_without_overlaps(offline_result):
    fig = scatter(offline_result)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text() and not t.get_text().startswith("As of")]  # not the footnote
    assert sorted(t.get_text() for t in labels) == sorted(offline_result.fits[offline_result.chosen].tickers)
    boxes = [t.get_window_extent(renderer) for t in labels]
    for i, a in enumerate(boxes):
        for j, b in enumerate(boxes[:i]):
            assert not a.overlaps(b), (labels[i].get_text(), labels[j].get_text())


def test_no_line_is_drawn_beyond_the_peers_growth_and_a_weak_slope_is_dashed(offline_result):
    fig = scatter(offline_result)
    ax = fig.axes[0]
    peers = offline_result.peers.loc[list(offline_result.fits["log_ev_gross_profit"].tickers), "revenue_growth"] * 100
    lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]
    assert lines
    for ln in lines:
        x = ln.get_xdata()
        assert x.min() >= peers.min() - 1e-9 and x.max() <= peers.max() + 1e-9
        assert ln.get_linestyle() == "--"  # the slope is not significant
    assert "growth slope not significant" in ax.get_title()


def test_charts_leave_the_sessions_backend_and_style_alone(offline_result):
    import matplotlib

    backend, style = matplotlib.get_backend(), dict(matplotlib.rcParams)
    render(scatter(offline_result))
    assert matplotlib.get_backend() == backend and dict(matplotlib.rcParams) == style
