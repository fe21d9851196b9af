"""Data honesty: every bundled figure has a source URL, the date it refers to and the date it
became public; the analysis of record uses nothing published after 2026-05-13 without a
warning; trailing revenue matches an independent review's arithmetic; and no figure comes from
a row the reference set flags WRONG, CONFLICT or SUSPECT."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from comps.sources.disclosures import load_disclosures
from comps.sources.snapshot import TEXT_FIELDS, list_snapshots, read_snapshot
from comps.universe import load_peers

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "peers_reference.csv"
AS_OF = dt.date(2026, 5, 13)


@pytest.fixture(scope="module", params=list_snapshots(ROOT / "data/snapshots"), ids=lambda p: p.name)
def rows(request):
    return read_snapshot(request.param)


def test_every_figure_has_a_source_its_date_and_when_it_became_public(rows):
    assert rows
    for r in rows:
        assert r["source_url"].startswith(("https://", "http://")), r
        if r["field"] not in TEXT_FIELDS:
            assert r["date"] is not None and r["published"] is not None, r
            assert r["value"] != 0 or r["field"] in ("net_debt", "total_debt"), r


def test_every_listed_peer_has_figures():
    tickers = {r["ticker"] for p in list_snapshots(ROOT / "data/snapshots") for r in read_snapshot(p)}
    assert {p.ticker for p in load_peers(ROOT / "data/peers.csv")} <= tickers


def test_concentration_disclosures_are_sourced_and_dated():
    rows = load_disclosures(ROOT / "data/concentration.csv")
    assert (rows["source_url"].str.startswith("https://")).all()
    assert (rows["published"] >= rows["period_end"]).all()


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/reference is not beside the repository")
def test_no_flagged_reference_row_is_used(rows):
    flagged = set()
    with REFERENCE.open() as fh:
        for r in csv.DictReader(fh):
            if any(k in r["note"] for k in ("WRONG", "CONFLICT", "SUSPECT")):
                flagged.add((r["ticker"], r["source_url"], r["value"]))
    for r in rows:
        if r["field"] in TEXT_FIELDS:
            continue
        v = r["value"] / 1e6 if r["unit"] in ("USD millions", "million shares") else r["value"]
        assert (r["ticker"], r["source_url"], f"{v:g}") not in flagged, r


# TTM revenue to the latest quarter reported before 2026-05-13, USD millions, as computed by the
# independent review of the snapshot (shared/reference/snapshot_review.md, section 3). The review
# used rounded fiscal-year totals where we sum exact quarters, hence the tolerance.
REVIEW_TTM = {"CRWV": 6228, "ALAB": 1002, "AMD": 37415, "AVGO": 68277, "ARM": 4920, "CRDO": 1067, "ANET": 9710,
              "TSM": 132794, "MU": 58119, "VRT": 10844, "SMCI": 33700, "ORCL": 64048}


def test_trailing_revenue_matches_the_independent_review(offline_result):
    peers = offline_result.peers
    for ticker, ttm in REVIEW_TTM.items():
        assert peers.loc[ticker, "revenue_ltm_usd"] / 1e6 == pytest.approx(ttm, rel=2e-3), ticker
    # NVDA's quarters (FY2026 10-K quarters 44,062 + 46,743 + 57,006 + 68,127) against its FY2026 total
    assert peers.loc["NVDA", "revenue_ltm_usd"] == pytest.approx(215_938e6)


def test_the_analysis_of_record_fits_13_peers_on_ttm_ending_2025_12_or_later(offline_result):
    f = offline_result.fits["ev_revenue"]
    assert f.n >= 13
    ends = offline_result.peers.loc[list(f.tickers), "ltm_end_date"]
    assert (ends >= dt.date(2025, 12, 1)).all(), ends
    for t in f.tickers:  # one basis per peer: the multiple's TTM and the growth's year-earlier TTM
        basis = offline_result.peers.loc[t, "revenue_basis"]
        assert ("TTM to" in basis) or basis.startswith("fiscal year to"), basis


def test_nothing_published_after_the_as_of_date_is_used_without_a_warning(offline_result):
    assert offline_result.as_of == AS_OF
    text = "\n".join(offline_result.warnings)
    for r in offline_result.snapshots.rows:
        late = (r["published"] and r["published"] > AS_OF) or (r["date"] and r["date"] > AS_OF)
        if late:
            assert f"look-ahead: {r['ticker']} {r['field'].replace('_', ' ')}" in text, r
    for name, f in offline_result.target.dated_figures():
        assert f.published is None or f.published <= AS_OF, name
    assert all(p.date <= AS_OF for p in offline_result.target.price_points if p.kind != "trading")


def test_derived_market_caps_and_debt_are_their_components(offline_result):
    """A market cap built from a close and a share count is their product; an EV is market cap
    plus debt less cash, each from its own row."""
    peers = offline_result.peers
    by = {(r["ticker"], r["field"]): r["value"] for r in offline_result.snapshots.rows}
    for t in ("ARM", "SMCI"):
        assert peers.loc[t, "market_cap_usd"] == pytest.approx(by[(t, "share_price_close")] * by[(t, "shares_outstanding")])
    for t in ("SMCI", "MU", "NBIS", "NVDA"):
        assert peers.loc[t, "enterprise_value_usd"] == pytest.approx(
            peers.loc[t, "market_cap_usd"] + by[(t, "total_debt")] - by[(t, "cash")])
