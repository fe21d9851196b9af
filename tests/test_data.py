"""Data honesty: every bundled figure has a source URL and a date, the snapshot validates,
and no figure comes from a row the reference set flags WRONG, CONFLICT or SUSPECT."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from comps.sources.disclosures import load_disclosures
from comps.sources.snapshot import TEXT_FIELDS, list_snapshots, load_snapshot
from comps.universe import load_peers

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "peers_reference.csv"


@pytest.fixture(scope="module", params=list_snapshots(ROOT / "data/snapshots"), ids=lambda p: p.name)
def snapshot(request):
    return load_snapshot(request.param)


def test_every_snapshot_figure_has_source_and_date(snapshot):
    assert snapshot.rows
    for r in snapshot.rows:
        assert r["source_url"].startswith(("https://", "http://", "yfinance:")), r
        if r["field"] not in TEXT_FIELDS:
            assert r["date"] is not None, r
            assert r["value"] != 0, r


def test_every_listed_peer_is_in_the_snapshot(snapshot):
    tickers = {p.ticker for p in load_peers(ROOT / "data/peers.csv")}
    assert tickers <= snapshot.tickers()


def test_no_market_data_from_after_the_first_trading_day(snapshot):
    for r in snapshot.rows:
        if r["field"] in ("market_cap", "enterprise_value"):
            assert r["date"] <= snapshot.as_of.replace(day=14), r


def test_concentration_disclosures_are_sourced():
    rows = load_disclosures(ROOT / "data/concentration.csv")
    assert (rows["source_url"].str.startswith("https://")).all()


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared/reference is not beside the repository")
def test_no_flagged_reference_row_is_used(snapshot):
    flagged = set()
    with REFERENCE.open() as fh:
        for r in csv.DictReader(fh):
            if any(k in r["note"] for k in ("WRONG", "CONFLICT", "SUSPECT")):
                flagged.add((r["ticker"], r["source_url"], r["value"]))
    for r in snapshot.rows:
        if r["field"] in TEXT_FIELDS:
            continue
        v = r["value"] / 1e6 if r["unit"] == "USD millions" else r["value"]
        assert (r["ticker"], r["source_url"], f"{v:g}") not in flagged, r
