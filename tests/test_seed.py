"""The seed article's arithmetic and the filing figures, from the bundled target file."""

from __future__ import annotations

from pathlib import Path

import pytest

from comps.target import load_target

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cbrs():
    return load_target(ROOT / "data/targets/cerebras.toml")


def test_target_file_holds_the_s1a_figures(cbrs):
    assert cbrs.ticker == "CBRS"
    assert cbrs.shares_outstanding.value == 212_965_381
    assert cbrs.revenue_usd.value == 510.0e6 and cbrs.revenue_prior_usd.value == 290.3e6
    assert [c.share for c in cbrs.customers] == [0.62, 0.24]
    assert {c.group for c in cbrs.customers} == {"Abu Dhabi / G42 group"}
    prices = {p.label: p.price_usd for p in cbrs.price_points}
    assert prices == {"IPO range low": 115, "IPO range mid": 120, "IPO range high": 125, "Revised range low": 150,
                      "Revised range high": 160, "Priced": 185, "First-day close": 311.07}
    assert cbrs.net_cash_usd is None and "unknown" in cbrs.ev_assumption


def test_seed_article_arithmetic(cbrs):
    # "At the $120 midpoint and 212,965,381 shares ... roughly $25.6 billion ... about 50 times sales"
    mcap = 120 * 212_965_381
    assert mcap == 25_555_845_720
    assert mcap / 510.0e6 == pytest.approx(50.11, abs=0.01)
    assert cbrs.revenue_growth == pytest.approx(510.0 / 290.3 - 1)  # +75.7 %


def test_every_figure_has_a_source_and_a_date(cbrs):
    for row in cbrs.provenance():
        assert row["source"].startswith("https://"), row
        assert row["date"], row
