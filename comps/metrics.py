"""Peer metrics: market cap, EV, growth, margins and multiples. Pure functions, no I/O.

Units are in the column names: ``*_usd`` is US dollars, ``revenue_growth_*`` and
``gross_margin`` are fractions (0.65 = 65 %); ``revenue_growth`` (the regressor) is the TTM
YoY growth where both TTM figures are known, else the last fiscal year's, ``ev_to_*`` and ``price_to_*`` are multiples (×).
A peer with missing data keeps its row, with NaN where a figure is missing and the reason in
``missing``; it is left out only of the fits that need the missing figure.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

import pandas as pd

from comps.universe import Peer

PEER_COLUMNS = [
    "ticker", "name", "segment", "include", "notes",
    "market_cap_usd", "market_cap_date", "market_data_age_days", "stale",
    "net_debt_usd", "enterprise_value_usd", "ev_basis",
    "revenue_fy_usd", "revenue_fy_prior_usd", "fy_end_date", "revenue_growth_fy",
    "revenue_ltm_usd", "revenue_ltm_prior_usd", "ltm_end_date", "ltm_basis", "revenue_growth_ltm",
    "revenue_growth", "growth_basis", "gross_margin", "gross_profit_ltm_usd",
    "ev_to_revenue_ltm", "ev_to_gross_profit_ltm", "price_to_sales_ltm",
    "revenue_ntm_usd", "revenue_growth_ntm", "ev_to_revenue_ntm",
    "missing",
]


def _ratio(num: float, den: float) -> float:
    """num / den, NaN when either is missing or den is not positive."""
    if num is None or den is None or math.isnan(num) or math.isnan(den) or den <= 0:
        return math.nan
    return num / den


def growth(latest: float, prior: float) -> float:
    """Year-on-year growth as a fraction; NaN if either figure is missing or prior ≤ 0."""
    r = _ratio(latest, prior)
    return r - 1.0 if not math.isnan(r) else math.nan


def peer_row(peer: Peer, figures: dict[str, dict], as_of: dt.date, stale_days: int) -> dict:
    """One peer's metrics from its figure rows (field -> row dict with value, date)."""
    def val(field: str) -> float:
        return float(figures[field]["value"]) if field in figures else math.nan

    def date(field: str) -> dt.date | None:
        return figures[field]["date"] if field in figures else None

    missing: list[str] = []
    mcap, mcap_date = val("market_cap"), date("market_cap")
    age = (as_of - mcap_date).days if mcap_date else None
    if math.isnan(mcap):
        missing.append("no market cap")

    # EV: a reported EV on the market-cap date, else market cap + net debt from the latest
    # balance sheet (debt − cash, or a net-debt figure).
    net_debt, ev, basis = math.nan, math.nan, ""
    if "enterprise_value" in figures and date("enterprise_value") == mcap_date:
        ev = val("enterprise_value")
        net_debt = ev - mcap
        basis = f"reported EV {mcap_date}"
    else:
        if "total_debt" in figures and "cash" in figures:
            net_debt = val("total_debt") - val("cash")
            bs_date = max(date("total_debt"), date("cash"))
            basis = f"market cap {mcap_date} + debt − cash {bs_date}"
        elif "net_debt" in figures:
            net_debt = val("net_debt")
            basis = f"market cap {mcap_date} + net debt {date('net_debt')}"
        ev = mcap + net_debt
        if math.isnan(net_debt):
            missing.append("no EV or net debt")
            basis = ""

    rev_fy, rev_fy_prior = val("revenue_fy"), val("revenue_fy_prior")
    if "revenue_ltm" in figures:
        rev_ltm, ltm_end, ltm_basis = val("revenue_ltm"), date("revenue_ltm"), "TTM"
        rev_ltm_prior = val("revenue_ltm_prior")
    else:
        rev_ltm, ltm_end, ltm_basis = rev_fy, date("revenue_fy"), "fiscal year"
        rev_ltm_prior = rev_fy_prior
    if math.isnan(rev_ltm):
        missing.append("no revenue")
        ltm_basis = ""
    g_ltm, g_fy = growth(rev_ltm, rev_ltm_prior), growth(rev_fy, rev_fy_prior)
    # The regressor: TTM YoY where both TTMs are known, else the last fiscal year's YoY.
    g, g_basis = (g_ltm, ltm_basis) if not math.isnan(g_ltm) else (g_fy, "fiscal year")
    if math.isnan(g):
        missing.append("no revenue a year earlier")
        g_basis = ""

    gm = val("gross_margin")
    gp = rev_ltm * gm
    if math.isnan(gm):
        missing.append("no gross margin")
    elif gp <= 0:
        missing.append("gross profit not positive: no EV/gross profit")

    return {
        "ticker": peer.ticker, "name": peer.name, "segment": peer.segment, "include": peer.include,
        "notes": peer.notes,
        "market_cap_usd": mcap, "market_cap_date": mcap_date,
        "market_data_age_days": age if age is not None else math.nan,
        "stale": bool(age is not None and abs(age) > stale_days),
        "net_debt_usd": net_debt, "enterprise_value_usd": ev, "ev_basis": basis,
        "revenue_fy_usd": rev_fy, "revenue_fy_prior_usd": rev_fy_prior, "fy_end_date": date("revenue_fy"),
        "revenue_growth_fy": g_fy,
        "revenue_ltm_usd": rev_ltm, "revenue_ltm_prior_usd": rev_ltm_prior, "ltm_end_date": ltm_end,
        "ltm_basis": ltm_basis, "revenue_growth_ltm": g_ltm,
        "revenue_growth": g, "growth_basis": g_basis,
        "gross_margin": gm, "gross_profit_ltm_usd": gp,
        "ev_to_revenue_ltm": _ratio(ev, rev_ltm),
        "ev_to_gross_profit_ltm": _ratio(ev, gp) if gp > 0 else math.nan,
        "price_to_sales_ltm": _ratio(mcap, rev_ltm),
        "revenue_ntm_usd": val("revenue_ntm"),
        "revenue_growth_ntm": growth(val("revenue_ntm"), rev_ltm),
        "ev_to_revenue_ntm": _ratio(ev, val("revenue_ntm")),
        "missing": "; ".join(missing),
    }


def compute_peer_table(peers: Sequence[Peer], rows: Iterable[dict], as_of: dt.date,
                       stale_days: int = 30) -> pd.DataFrame:
    """One row per peer in list order. Peers absent from ``rows`` keep a row saying so."""
    by_ticker: dict[str, dict[str, dict]] = {}
    for r in rows:
        by_ticker.setdefault(r["ticker"], {})[r["field"]] = r
    records = []
    for p in peers:
        rec = peer_row(p, by_ticker.get(p.ticker, {}), as_of, stale_days)
        if p.ticker not in by_ticker:
            rec["missing"] = "not in snapshot"
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=PEER_COLUMNS).set_index("ticker", drop=False)
