"""Peer metrics worked by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comps.metrics import compute_peer_table
from comps.universe import Peer

D = dt.date


def rows(ticker, **fields):
    return [{"ticker": ticker, "field": f, "value": v, "date": d} for f, (v, d) in fields.items()]


def test_metrics_by_hand():
    peer = Peer("ABC", "Abc Corp", "networking", True)
    figs = rows("ABC", market_cap=(100e9, D(2026, 5, 1)), cash=(5e9, D(2026, 3, 31)), total_debt=(15e9, D(2026, 3, 31)),
                revenue_fy=(8e9, D(2025, 12, 31)), revenue_fy_prior=(5e9, D(2024, 12, 31)),
                revenue_ltm=(9e9, D(2026, 3, 31)), revenue_ltm_prior=(6e9, D(2025, 3, 31)),
                gross_margin=(0.6, D(2026, 3, 31)))
    r = compute_peer_table([peer], figs, D(2026, 5, 13)).loc["ABC"]
    assert r["enterprise_value_usd"] == 110e9  # 100 + 15 − 5
    assert r["revenue_growth_fy"] == pytest.approx(0.6)  # 8/5 − 1
    assert r["revenue_growth_ltm"] == pytest.approx(0.5)  # 9/6 − 1
    assert r["revenue_growth"] == pytest.approx(0.5) and r["growth_basis"] == "TTM"
    assert r["ev_to_revenue_ltm"] == pytest.approx(110 / 9)
    assert r["ev_to_gross_profit_ltm"] == pytest.approx(110 / (9 * 0.6))
    assert r["price_to_sales_ltm"] == pytest.approx(100 / 9)
    assert r["market_data_age_days"] == 12 and not r["stale"]
    assert r["missing"] == ""


def test_reported_ev_on_the_market_date_wins_and_fy_is_the_ltm_fallback():
    figs = rows("X", market_cap=(50e9, D(2026, 3, 31)), enterprise_value=(60e9, D(2026, 3, 31)),
                revenue_fy=(4e9, D(2025, 12, 31)), revenue_fy_prior=(2e9, D(2024, 12, 31)))
    r = compute_peer_table([Peer("X", "X", "s", True)], figs, D(2026, 5, 13), stale_days=30).loc["X"]
    assert r["enterprise_value_usd"] == 60e9 and r["net_debt_usd"] == 10e9
    assert r["ltm_basis"] == "fiscal year" and r["revenue_growth"] == pytest.approx(1.0)
    assert r["ev_to_revenue_ltm"] == pytest.approx(15.0)
    assert r["stale"] and r["market_data_age_days"] == 43


def test_missing_data_stays_missing_with_reasons():
    figs = rows("Y", market_cap=(10e9, D(2026, 5, 13)), revenue_fy=(1e9, D(2025, 12, 31)),
                gross_margin=(-0.1, D(2025, 12, 31)))
    peers = [Peer("Y", "Y", "s", True), Peer("Z", "Z", "s", True)]
    t = compute_peer_table(peers, figs, D(2026, 5, 13))
    y = t.loc["Y"]
    assert math.isnan(y["enterprise_value_usd"]) and math.isnan(y["revenue_growth"])
    assert math.isnan(y["ev_to_gross_profit_ltm"])
    assert y["missing"] == ("no EV or net debt; no revenue a year earlier; "
                            "gross profit not positive: no EV/gross profit")
    assert t.loc["Z", "missing"] == "not in snapshot"
    money = t.select_dtypes("number").drop(columns="market_data_age_days")
    assert not (money == 0).any().any()  # nothing filled with zero


@given(st.floats(1e-4, 1e4))
def test_scaling_all_money_leaves_multiples_unchanged(scale):
    def table(s):
        figs = rows("A", market_cap=(100e9 * s, D(2026, 5, 1)), net_debt=(-3e9 * s, D(2026, 3, 31)),
                    revenue_fy=(8e9 * s, D(2025, 12, 31)), revenue_fy_prior=(5e9 * s, D(2024, 12, 31)),
                    gross_margin=(0.5, D(2025, 12, 31)))
        return compute_peer_table([Peer("A", "A", "s", True)], figs, D(2026, 5, 13)).loc["A"]
    a, b = table(1.0), table(scale)
    for col in ("ev_to_revenue_ltm", "ev_to_gross_profit_ltm", "price_to_sales_ltm", "revenue_growth"):
        assert b[col] == pytest.approx(a[col], rel=1e-9)
