"""The live refresh, offline: fake yfinance tickers with the exact 1.7.0 shapes and failure
modes (yfinance.md §1-2), the adapter's error handling, derivations, cache and the fault
matrix in which every build finishes and the previous snapshot stays byte-identical."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from yahoo_fakes import Broken, Dead, FakeTicker, FxTicker, Invalid, RateLimited, Unauthorized

from comps.config import load_config
from comps.errors import SourceError
from comps.pipeline import build
from comps.sources import refresh, yahoo


def test_healthy_ticker_becomes_plain_records():
    raw = yahoo.fetch("ABC", ticker_factory=FakeTicker)
    assert raw.errors == [] and not raw.network_failure
    assert raw.info["marketCap"] == int(100e9 * (0.5 + (sum(map(ord, "ABC")) % 13) / 10))
    assert "trailingPegRatio" not in raw.info
    assert list(raw.income_annual) == ["2025-12-31", "2024-12-31", "2023-12-31"]
    assert raw.income_ttm == {"2026-03-31": {"Total Revenue": pytest.approx(10.5e9), "Gross Profit": pytest.approx(6.3e9)}}
    assert raw.revenue_estimate["+1y"]["currency"] == "USD"
    assert yahoo.RawPeer.from_json(raw.to_json()) == raw


@pytest.mark.parametrize(("fake", "fragment"), [
    (Dead, "info: network: DNSError"), (Invalid, "no quoteType/marketCap"), (Broken, "info: TypeError"),
    (Unauthorized, "revenue_estimate: empty"),
])
def test_failure_modes_become_per_ticker_errors(fake, fragment):
    raw = yahoo.fetch("BAD", ticker_factory=fake, sleep=lambda s: None)
    assert any(fragment in e for e in raw.errors), raw.errors
    assert raw.network_failure == (fake is Dead)


def test_rate_limit_retries_with_exponential_backoff():
    waits = []
    RateLimited.calls = 0
    raw = yahoo.fetch("RL", ticker_factory=RateLimited, retries=3, backoff_s=0.5, sleep=waits.append)
    assert waits == [0.5, 1.0, 2.0] * 2 and RateLimited.calls == 4 * 2  # info, then revenue_estimate
    assert any("rate-limited" in e for e in raw.errors)


def test_per_ticker_deadline_stops_further_calls():
    clock = iter(range(0, 1000, 20))
    raw = yahoo.fetch("SLOW", ticker_factory=FakeTicker, deadline_s=30, now=lambda: next(clock))
    assert any("deadline" in e for e in raw.errors)


def test_derive_usd_twd_adr_ntm_and_ltm():
    raw = yahoo.fetch("TSM", ticker_factory=lambda s: FakeTicker(s, mcap=1.5e12, revenue=100e9, fin_currency="TWD"))
    fx = {"TWD": 1 / 32.0}
    rows, problems = refresh.derive(raw, fx, None)
    by = {r["field"]: r for r in rows}
    assert problems == []
    g = 0.5 + (sum(map(ord, "TSM")) % 13) / 10
    assert by["market_cap"]["value"] == pytest.approx(1.5e12 * g)  # trading currency USD
    assert by["revenue_fy"]["value"] == pytest.approx(100e9) and "TWD" in by["revenue_fy"]["note"]
    assert by["cash"]["value"] == pytest.approx(5e9) and by["cash"]["date"] == dt.date(2026, 3, 31)
    assert by["revenue_ltm"]["value"] == pytest.approx(105e9)  # TTM statement, converted
    assert by["gross_margin"]["value"] == pytest.approx(0.6)
    assert by["reporting_currency"]["value"] == "TWD"
    today = dt.date.fromisoformat(raw.fetched_at[:10])
    w = min(max((dt.date(2026, 12, 31) - today).days / 365, 0), 1)
    assert by["revenue_ntm"]["value"] == pytest.approx(w * 140e9 + (1 - w) * 190e9)
    assert all(r["source_url"].startswith("yfinance:") and "fetched_at=" in r["note"] for r in rows)


def test_as_of_uses_the_close_times_price_consistent_shares():
    raw = yahoo.fetch("X", ticker_factory=FakeTicker, as_of=dt.date(2026, 5, 13))
    rows, _ = refresh.derive(raw, {}, dt.date(2026, 5, 13))
    mc = next(r for r in rows if r["field"] == "market_cap")
    closes = dict(zip(pd.date_range("2026-05-06", "2026-05-14", freq="B").date, np.linspace(90, 98, 7), strict=True))
    assert mc["date"] == dt.date(2026, 5, 13)
    g = 0.5 + (sum(map(ord, "X")) % 13) / 10
    assert mc["value"] == pytest.approx(closes[dt.date(2026, 5, 13)] * (100e9 * g / 100.0))


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _config(**kw):
    return load_config(offline=False, charts=False, **kw)


def _patch(monkeypatch, factory):
    """Route every Ticker(symbol) through ``factory``; FX pairs quote 1 TWD = 1/32 USD."""
    def route(symbol):
        if symbol.endswith("=X"):
            return FxTicker(symbol)
        return factory(symbol)

    monkeypatch.setattr(yahoo, "yfinance_ticker", route)


def test_full_refresh_of_the_peers_writes_a_new_dated_snapshot(project, monkeypatch):
    old = project / "data/snapshots/2026-05-13.csv"
    before = _sha(old)
    _patch(monkeypatch, lambda s: FakeTicker(s, fin_currency="TWD" if s == "TSM" else "USD"))
    result = build(_config(), write=False)
    assert result.data_notice.startswith("Data: live Yahoo Finance refresh of 15/15 peers")
    assert _sha(old) == before
    new = [p for p in (project / "data/snapshots").glob("*.csv") if p != old]
    assert len(new) == 1
    text = new[0].read_text()
    assert "yfinance:info.marketCap" in text and "fetched_at=" in text
    assert result.peers.loc["NVDA", "market_cap_usd"] == int(100e9 * (0.5 + (sum(map(ord, "NVDA")) % 13) / 10))
    assert result.peers.loc["TSM", "revenue_fy_usd"] == pytest.approx(10e9)  # TWD statements at 1/32


@pytest.mark.parametrize("fake", [Dead, RateLimited, Invalid, Unauthorized, Broken])
def test_fault_matrix_build_finishes_and_snapshot_is_unchanged(project, monkeypatch, fake):
    old = project / "data/snapshots/2026-05-13.csv"
    before = _sha(old)
    _patch(monkeypatch, fake)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    t0 = time.perf_counter()
    result = build(_config(), write=False)
    assert time.perf_counter() - t0 < 30
    assert _sha(old) == before
    assert result.headline.shape[0] == 7
    if fake in (Dead, RateLimited, Invalid):  # nothing usable came back: fall back, say so
        assert result.data_notice.startswith("Live refresh failed (")
        assert "data from the snapshot of 2026-05-13" in result.data_notice
        assert result.as_of == dt.date(2026, 5, 13)
    else:  # partial: fresh figures merged over the snapshot, marked as such
        assert result.data_notice.startswith("Data: live Yahoo Finance refresh")
        new = next(p for p in (project / "data/snapshots").glob("*.csv") if p != old)
        assert "snapshot (not refreshed)" in new.read_text() and "; fresh" in new.read_text()


def test_require_live_raises_source_error(project, monkeypatch):
    _patch(monkeypatch, Dead)
    with pytest.raises(SourceError, match="--require-live"):
        build(_config(require_live=True), write=False)


def test_cache_serves_repeats_until_refresh(project, monkeypatch):
    calls = []

    def factory(s):
        calls.append(s)
        return FakeTicker(s)

    _patch(monkeypatch, factory)
    build(_config(), write=False)
    n = len(calls)
    build(_config(), write=False)
    assert len(calls) == n  # all from the cache
    build(_config(refresh=True), write=False)
    assert len(calls) == 2 * n


def test_cache_paths_cannot_leave_their_folder(tmp_path):
    cache = refresh.Cache(tmp_path, 1)
    assert cache.path("NVDA").parent == tmp_path.resolve()
    for bad in ("../x", "a/b", "..", "/etc/passwd"):
        with pytest.raises(ValueError):
            cache.path(bad)


@pytest.mark.network
def test_live_yahoo_refresh_of_one_peer():
    raw = yahoo.fetch("NVDA")
    assert raw.errors == [] and raw.info["marketCap"] > 0
