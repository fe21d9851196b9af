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
    # the S-1/A's 212,965,381 at the 28M-share terms + 2,000,000 upsized shares + 263,160 RSU-settlement shares
    assert cbrs.shares_outstanding.value == 212_965_381 + 2_000_000 + 263_160
    assert cbrs.revenue_usd.value == 510.0e6 and cbrs.revenue_prior_usd.value == 290.3e6
    assert [c.share for c in cbrs.customers] == [0.62, 0.24]
    assert {c.group for c in cbrs.customers} == {"Abu Dhabi / G42 group"}
    prices = {p.label: p.price_usd for p in cbrs.price_points}
    assert prices == {"IPO range low": 115, "IPO range mid": 120, "IPO range high": 125, "Revised range low": 150,
                      "Revised range high": 160, "Priced": 185, "First-day close": 311.07}
    o = cbrs.offering
    assert o.get("shares_offered") == o.get("primary_shares") == 30_000_000 and o.get("secondary_shares") == 0
    assert o.get("pre_offering_cash_usd") == 701.7e6 and o.get("pre_offering_debt_usd") is None
    assert o.get("warrants_outstanding") == 33_445_026 and cbrs.analysis.as_of.isoformat() == "2026-05-13"


def test_seed_article_arithmetic(cbrs):
    # "At the $120 midpoint and 212,965,381 shares ... roughly $25.6 billion ... about 50 times sales"
    mcap = 120 * 212_965_381
    assert mcap == 25_555_845_720
    assert mcap / 510.0e6 == pytest.approx(50.11, abs=0.01)
    assert cbrs.revenue_growth == pytest.approx(510.0 / 290.3 - 1)  # +75.7 %


def test_the_s1a_net_proceeds_give_the_spread_and_the_primary_shares(cbrs):
    # S-1/A of 2026-05-11 at an assumed $155: gross primary proceeds $4.65B; net $4.4875B, or $5.1620B
    # with the 4.5M-share over-allotment: the option's shares net 0.6745 of 0.6975 gross
    assert 4.65e9 / 155 == cbrs.offering.get("primary_shares")
    assert 1 - (5.1620e9 - 4.4875e9) / (4.5e6 * 155) == pytest.approx(cbrs.offering.get("underwriting_spread"), abs=5e-4)


def test_every_figure_has_a_source_and_a_date(cbrs):
    for row in cbrs.provenance():
        assert row["source"].startswith("https://"), row
        assert row["date"], row
