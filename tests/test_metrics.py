"""Peer metrics worked by hand: EV, the trailing-revenue algebra and one basis per peer."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comps.metrics import compute_peer_table, shift_months, trailing
from comps.universe import Peer

D = dt.date
FILE = Path("2026-05-13.csv")


def rows(ticker, **fields):
    """Figure rows; a list of (value, date) pairs makes a series field (revenue_q …)."""
    out = []
    for f, spec in fields.items():
        for v, d in spec if isinstance(spec, list) else [spec]:
            out.append({"ticker": ticker, "field": f, "value": v, "date": d, "published": d, "file": FILE, "line": 0})
    return out


QUARTERS = [(1.0e9, D(2024, 6, 30)), (1.1e9, D(2024, 9, 30)), (1.2e9, D(2024, 12, 31)), (1.3e9, D(2025, 3, 31)),
            (1.5e9, D(2025, 6, 30)), (1.7e9, D(2025, 9, 30)), (1.9e9, D(2025, 12, 31)), (2.1e9, D(2026, 3, 31))]


def test_metrics_by_hand():
    peer = Peer("ABC", "Abc Corp", "networking", True)
    figs = rows("ABC", market_cap=(100e9, D(2026, 5, 1)), cash=(5e9, D(2026, 3, 31)), total_debt=(15e9, D(2026, 3, 31)),
                revenue_q=QUARTERS, gross_margin=(0.6, D(2026, 3, 31)))
    r = compute_peer_table([peer], figs, D(2026, 5, 13)).loc["ABC"]
    ttm, prior = 1.5e9 + 1.7e9 + 1.9e9 + 2.1e9, 1.0e9 + 1.1e9 + 1.2e9 + 1.3e9  # 7.2 and 4.6
    assert r["enterprise_value_usd"] == 110e9  # 100 + 15 − 5
    assert r["revenue_ltm_usd"] == pytest.approx(ttm) and r["revenue_ltm_prior_usd"] == pytest.approx(prior)
    assert r["revenue_growth"] == pytest.approx(7.2 / 4.6 - 1)
    assert r["revenue_basis"].startswith("TTM to 2026-03-31 (four quarters)")
    assert r["ev_to_revenue_ltm"] == pytest.approx(110 / 7.2)
    assert r["ev_to_gross_profit_ltm"] == pytest.approx(110 / (7.2 * 0.6))
    assert r["price_to_sales_ltm"] == pytest.approx(100 / 7.2)
    assert r["growth_adjusted_multiple"] == pytest.approx((110 / 7.2) / ((7.2 / 4.6 - 1) * 100))
    assert r["market_data_age_days"] == 12 and not r["stale"]
    assert r["missing"] == "" and r["mixed_sources"] == ""


def test_fiscal_year_plus_quarters_since_less_the_year_earlier_quarters():
    """TTM to Q1 2026 = FY2025 + Q1 2026 − Q1 2025 (the CoreWeave figures: 5,130 + 2,080 − 981.6)."""
    years = {D(2025, 12, 31): 5130.0, D(2024, 12, 31): 1920.0}
    quarters = {D(2026, 3, 31): 2080.0, D(2025, 3, 31): 981.6, D(2024, 3, 31): 188.7}
    now = trailing(D(2026, 3, 31), quarters, years, {})
    assert now.value == pytest.approx(5130 + 2080 - 981.6) and now.how.startswith("FY to 2025-12-31 + 1 quarter")
    prior = trailing(D(2025, 3, 31), quarters, years, {})
    assert prior.value == pytest.approx(1920 + 981.6 - 188.7)


def test_fifty_two_week_quarters_match_within_tolerance():
    """AMD's quarters end 2025-06-28, 2025-09-27, 2025-12-27, 2026-03-28: still four consecutive quarters."""
    q = {D(2025, 6, 28): 7685.0, D(2025, 9, 27): 9246.0, D(2025, 12, 27): 10270.0, D(2026, 3, 28): 10253.0}
    t = trailing(D(2026, 3, 28), q, {}, {})
    assert t.value == pytest.approx(37454.0) and t.how == "four quarters"
    assert shift_months(D(2024, 2, 29), 12) == D(2025, 2, 28)


def test_the_multiple_takes_the_stub_period_ltm_and_growth_the_latest_pair_that_exists():
    """Nebius: FY2025 $529.8M, Q1 2026 $399.0M, Q1 2025 $50.9M. The LTM to 2026-03-31 is the
    banker's stub period, FY + current YTD − prior YTD = 529.8 + 399.0 − 50.9 = $877.9M; with no
    LTM a year earlier, growth falls back to fiscal year over fiscal year, and the basis says so."""
    figs = rows("N", market_cap=(50e9, D(2026, 5, 13)), net_debt=(0.0, D(2025, 12, 31)),
                revenue_fy=[(529.8e6, D(2025, 12, 31)), (91.5e6, D(2024, 12, 31))],
                revenue_q=[(399.0e6, D(2026, 3, 31)), (50.9e6, D(2025, 3, 31))])
    r = compute_peer_table([Peer("N", "N", "s", True)], figs, D(2026, 5, 13)).loc["N"]
    assert r["revenue_ltm_usd"] == pytest.approx((529.8 + 399.0 - 50.9) * 1e6)
    assert r["ltm_end_date"] == D(2026, 3, 31) and r["ev_to_revenue_ltm"] == pytest.approx(50e9 / 877.9e6)
    assert r["revenue_growth"] == pytest.approx(529.8 / 91.5 - 1)
    assert r["revenue_basis"] == ("TTM to 2026-03-31 (FY to 2025-12-31 + 1 quarter(s) since − same quarter(s) a year "
                                  "earlier); growth on an older basis: fiscal year to 2025-12-31 vs 2024-12-31 "
                                  "(fiscal year)")


def test_stated_ev_on_the_market_date_wins_else_debt_and_cash():
    figs = rows("X", market_cap=(50e9, D(2026, 3, 31)), enterprise_value=(60e9, D(2026, 3, 31)),
                revenue_fy=[(4e9, D(2025, 12, 31)), (2e9, D(2024, 12, 31))])
    r = compute_peer_table([Peer("X", "X", "s", True)], figs, D(2026, 5, 13), stale_days=30).loc["X"]
    assert r["enterprise_value_usd"] == 60e9 and r["net_debt_usd"] == 10e9
    assert r["revenue_basis"].startswith("fiscal year to 2025-12-31") and r["revenue_growth"] == pytest.approx(1.0)
    assert r["stale"] and r["market_data_age_days"] == 43
    # a stated EV from another day than the market cap is not mixed in: it needs debt and cash
    figs = rows("X", market_cap=(55e9, D(2026, 5, 12)), enterprise_value=(60e9, D(2026, 3, 31)),
                revenue_fy=[(4e9, D(2025, 12, 31)), (2e9, D(2024, 12, 31))])
    r = compute_peer_table([Peer("X", "X", "s", True)], figs, D(2026, 5, 13)).loc["X"]
    assert math.isnan(r["enterprise_value_usd"]) and "stated EV is from 2026-03-31" in r["missing"]


def test_close_times_shares_beats_an_older_stated_market_cap():
    figs = rows("C", market_cap=(40e9, D(2026, 2, 1)), share_price_close=(25.0, D(2026, 5, 12)),
                shares_outstanding=(2e9, D(2026, 4, 30)), net_debt=(1e9, D(2026, 3, 31)),
                revenue_fy=[(4e9, D(2025, 12, 31)), (2e9, D(2024, 12, 31))])
    r = compute_peer_table([Peer("C", "C", "s", True)], figs, D(2026, 5, 13)).loc["C"]
    assert r["market_cap_usd"] == 50e9 and r["market_cap_date"] == D(2026, 5, 12)
    assert r["market_cap_basis"].startswith("close × 2,000.0M shares")


def test_figures_from_different_files_are_named_in_the_peer_table():
    figs = rows("M", market_cap=(80e9, D(2026, 11, 24)), net_debt=(1e9, D(2026, 3, 31)),
                revenue_fy=[(4e9, D(2025, 12, 31)), (2e9, D(2024, 12, 31))])
    figs[0]["file"] = Path("2026-11-25.csv")
    r = compute_peer_table([Peer("M", "M", "s", True)], figs, D(2026, 11, 25)).loc["M"]
    assert r["mixed_sources"].startswith("market cap: 2026-11-25.csv (2026-11-24); net debt: 2026-05-13.csv")
    assert r["sources"] == "2026-05-13.csv, 2026-11-25.csv"


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
    assert t.loc["Z", "missing"] == "no figures in any snapshot"
    money = t.select_dtypes("number").drop(columns="market_data_age_days")
    assert not (money == 0).any().any()  # nothing filled with zero


@given(st.floats(1e-4, 1e4))
def test_scaling_all_money_leaves_multiples_unchanged(scale):
    def table(s):
        figs = rows("A", market_cap=(100e9 * s, D(2026, 5, 1)), net_debt=(-3e9 * s, D(2026, 3, 31)),
                    revenue_q=[(v * s, d) for v, d in QUARTERS], gross_margin=(0.5, D(2025, 12, 31)))
        return compute_peer_table([Peer("A", "A", "s", True)], figs, D(2026, 5, 13)).loc["A"]
    a, b = table(1.0), table(scale)
    for col in ("ev_to_revenue_ltm", "ev_to_gross_profit_ltm", "price_to_sales_ltm", "revenue_growth"):
        assert b[col] == pytest.approx(a[col], rel=1e-9)
