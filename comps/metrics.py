"""Peer metrics: market cap, EV, trailing revenue, growth, margins and multiples. Pure, no I/O.

Units are in the column names: ``*_usd`` is US dollars; ``revenue_growth*`` and
``gross_margin`` are fractions (0.65 = 65 %); ``ev_to_*`` and ``price_to_*`` are multiples (×).

Revenue is trailing twelve months (TTM) where the periods allow, built from whatever periods
the snapshots hold: a reported TTM, a fiscal year, four quarters, or a fiscal year plus the
quarters since less the same quarters a year earlier. The multiple takes
the latest TTM, as bankers do: four quarters where they exist, else the stub period (fiscal year
+ the quarters since − the same quarters a year earlier), else the fiscal year, labelled.
Growth compares TTM(E) with TTM(E − 12 months) at the latest period end E where both exist,
which can be older than the multiple's. The basis is spelled out per peer (``revenue_basis``).

A peer with missing data keeps its row, with NaN where a figure is missing and the reason in
``missing``; it is left out only of the fits that need the missing figure.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from comps.universe import Peer

PEER_COLUMNS = [
    "ticker", "name", "segment", "tier", "include", "notes", "share_price_usd", "share_of_52w_high",
    "market_cap_usd", "market_cap_date", "market_cap_basis", "market_data_age_days", "stale",
    "net_debt_usd", "enterprise_value_usd", "ev_basis",
    "revenue_ltm_usd", "revenue_ltm_prior_usd", "ltm_end_date", "revenue_basis",
    "revenue_growth", "gross_margin", "gross_margin_date", "gross_profit_ltm_usd",
    "ev_to_revenue_ltm", "ev_to_gross_profit_ltm", "price_to_sales_ltm", "growth_adjusted_multiple",
    "revenue_ntm_usd", "revenue_growth_ntm", "ev_to_revenue_ntm",
    "sources", "mixed_sources", "confirmed", "missing",
]
#: period ends that differ by up to this many days are the same period (52/53-week fiscal calendars)
TOLERANCE_DAYS = 12


def _ratio(num: float, den: float) -> float:
    """num / den, NaN when either is missing or den is not positive."""
    if num is None or den is None or math.isnan(num) or math.isnan(den) or den <= 0:
        return math.nan
    return num / den


def growth(latest: float, prior: float) -> float:
    """Year-on-year growth as a fraction; NaN if either figure is missing or prior ≤ 0."""
    r = _ratio(latest, prior)
    return r - 1.0 if not math.isnan(r) else math.nan


def growth_adjusted(multiple: float, growth_fraction: float) -> float:
    """EV/Revenue ÷ growth in percent (a revenue 'PEG'); NaN unless growth is positive."""
    return multiple / (growth_fraction * 100) if growth_fraction > 0 and not math.isnan(multiple) else math.nan


def shift_months(d: dt.date, months: int) -> dt.date:
    """``d`` moved by whole calendar months, the day clamped to the month's length."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return dt.date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _at(series: Mapping[dt.date, float], end: dt.date) -> tuple[dt.date, float] | None:
    """The period in ``series`` ending within TOLERANCE_DAYS of ``end``, if any."""
    best = min(series, key=lambda d: abs((d - end).days), default=None)
    if best is None or abs((best - end).days) > TOLERANCE_DAYS:
        return None
    return best, series[best]


@dataclass(frozen=True)
class Trailing:
    """Twelve months of revenue ending ``end`` (USD), and how it was built."""

    end: dt.date
    value: float
    how: str


def trailing(end: dt.date, quarters: Mapping[dt.date, float], years: Mapping[dt.date, float],
             ttm: Mapping[dt.date, float]) -> Trailing | None:
    """TTM revenue ending ``end`` from the periods on hand, or None. In order of preference: a
    reported TTM, four consecutive quarters, a fiscal year, or the latest fiscal year F before
    ``end`` plus the quarters after F less the same quarters a year earlier."""
    if hit := _at(ttm, end):
        return Trailing(hit[0], hit[1], "reported TTM")
    four = [_at(quarters, shift_months(end, -3 * k)) for k in range(4)]
    if all(four):
        return Trailing(four[0][0], sum(v for _, v in four), "four quarters")
    if hit := _at(years, end):
        return Trailing(hit[0], hit[1], "fiscal year")
    for f_end in sorted((d for d in years if d < end), reverse=True):
        n = round((end - f_end).days / 91.3)
        if not 1 <= n <= 3:
            continue
        since = [_at(quarters, shift_months(end, -3 * k)) for k in range(n)]
        before = [_at(quarters, shift_months(end, -12 - 3 * k)) for k in range(n)]
        if all(since) and all(before):
            value = years[f_end] + sum(v for _, v in since) - sum(v for _, v in before)
            return Trailing(since[0][0], value, f"FY to {f_end} + {n} quarter(s) since − same quarter(s) a year earlier")
        break
    return None


def revenue_basis(quarters: Mapping[dt.date, float], years: Mapping[dt.date, float],
                  ttm: Mapping[dt.date, float]) -> tuple[Trailing | None, Trailing | None, Trailing | None]:
    """(the latest TTM, then the pair growth is measured on: the TTM and the TTM a year
    earlier at the latest period end E for which both exist). The multiple takes the latest
    TTM even when growth must fall back to an older pair (e.g. fiscal year over fiscal year)."""
    ends = sorted({*quarters, *years, *ttm}, reverse=True)
    latest = None
    for end in ends:
        now = trailing(end, quarters, years, ttm)
        if now is None:
            continue
        latest = latest or now
        prior = trailing(shift_months(now.end, -12), quarters, years, ttm)
        if prior is not None:
            return latest, now, prior
    return latest, None, None


def _describe(t: Trailing) -> str:
    return f"TTM to {t.end} ({t.how})" if t.how != "fiscal year" else f"fiscal year to {t.end}"


def _series(figures: Mapping[str, object], fld: str) -> dict[dt.date, float]:
    return {d: float(r["value"]) for d, r in (figures.get(fld) or {}).items()}


def peer_row(peer: Peer, figures: Mapping[str, object], as_of: dt.date, stale_days: int) -> dict:
    """One peer's metrics. ``figures`` maps each single field to its row (value, date, file)
    and each series field (revenue_q, revenue_fy, revenue_ltm) to {period end: row}."""
    def val(fld: str) -> float:
        return float(figures[fld]["value"]) if fld in figures else math.nan

    def date(fld: str) -> dt.date | None:
        return figures[fld]["date"] if fld in figures else None

    missing: list[str] = []
    used: dict[str, dict] = {}  # what each figure came from, for the provenance columns

    # Market cap: a close × the latest share count, or a stated market cap; the newer wins.
    mcap, mcap_date, mcap_basis = val("market_cap"), date("market_cap"), "stated"
    if "share_price_close" in figures and "shares_outstanding" in figures:
        close_date = date("share_price_close")
        if mcap_date is None or close_date >= mcap_date:
            mcap, mcap_date = val("share_price_close") * val("shares_outstanding"), close_date
            mcap_basis = f"close × {val('shares_outstanding') / 1e6:,.1f}M shares ({date('shares_outstanding')})"
            used["market cap"] = figures["share_price_close"]
    if "market cap" not in used and "market_cap" in figures:
        used["market cap"] = figures["market_cap"]
    age = (as_of - mcap_date).days if mcap_date else None
    if math.isnan(mcap):
        missing.append("no market cap")
        mcap_basis = ""

    # EV: a stated EV on the market-cap date, else market cap + debt − cash from the latest
    # balance sheet, else market cap + a stated net debt.
    net_debt, ev, ev_basis = math.nan, math.nan, ""
    if "enterprise_value" in figures and date("enterprise_value") == mcap_date:
        ev = val("enterprise_value")
        net_debt, ev_basis = ev - mcap, f"stated EV {mcap_date}"
        used["EV"] = figures["enterprise_value"]
    elif "total_debt" in figures and "cash" in figures:
        net_debt = val("total_debt") - val("cash")
        ev_basis = f"market cap + debt − cash ({max(date('total_debt'), date('cash'))})"
        used["debt/cash"] = figures["total_debt"]
    elif "net_debt" in figures:
        net_debt, ev_basis = val("net_debt"), f"market cap + net debt ({date('net_debt')})"
        used["net debt"] = figures["net_debt"]
    elif "enterprise_value" in figures:
        missing.append(f"stated EV is from {date('enterprise_value')} but the market cap from {mcap_date}, "
                       "and no debt and cash")
    ev = mcap + net_debt if math.isnan(ev) else ev
    if math.isnan(net_debt) and not any(m.startswith("stated EV") for m in missing):
        missing.append("no EV or net debt")
    if math.isnan(ev):
        ev_basis = ""

    quarters, years, ttm = (_series(figures, f) for f in ("revenue_q", "revenue_fy", "revenue_ltm"))
    latest, now, prior = revenue_basis(quarters, years, ttm)
    rev = latest.value if latest else math.nan
    rev_prior = prior.value if prior else math.nan
    basis = ""
    if latest is None:
        missing.append("no revenue")
    else:
        basis = _describe(latest)
        if prior is None:
            missing.append("no revenue a year earlier")
        elif now.end == latest.end:
            basis += f"; growth vs {prior.end} ({prior.how})"
        else:
            basis += f"; growth on an older basis: {_describe(now)} vs {prior.end} ({prior.how})"
        for fld in ("revenue_q", "revenue_fy", "revenue_ltm"):
            rows = [r for d, r in (figures.get(fld) or {}).items() if d <= latest.end]
            if rows:
                used["revenue"] = max(rows, key=lambda r: r["date"])
    g = growth(now.value, rev_prior) if now and prior else math.nan

    gm = val("gross_margin")
    gp = rev * gm
    if math.isnan(gm):
        missing.append("no gross margin")
    elif gp <= 0:
        missing.append("gross profit not positive: no EV/gross profit")
    ntm = val("revenue_ntm")
    ev_rev = _ratio(ev, rev)
    files = sorted({r["file"].name for r in used.values() if "file" in r})
    mixed = ""
    if len(files) > 1:
        mixed = "; ".join(f"{what}: {r['file'].name} ({r['date']})" for what, r in used.items() if "file" in r)
    return {
        "ticker": peer.ticker, "name": peer.name, "segment": peer.segment, "tier": peer.tier,
        "include": peer.include, "notes": peer.notes,
        "share_price_usd": (price := val("share_price_close") if date("share_price_close") == mcap_date else math.nan),
        "share_of_52w_high": price / val("price_52w_high") if date("price_52w_high") == date("share_price_close")
        else math.nan,
        "market_cap_usd": mcap, "market_cap_date": mcap_date, "market_cap_basis": mcap_basis,
        "market_data_age_days": age if age is not None else math.nan,
        "stale": bool(age is not None and abs(age) > stale_days),
        "net_debt_usd": net_debt, "enterprise_value_usd": ev, "ev_basis": ev_basis,
        "revenue_ltm_usd": rev, "revenue_ltm_prior_usd": rev_prior, "ltm_end_date": latest.end if latest else None,
        "revenue_basis": basis, "revenue_growth": g,
        "gross_margin": gm, "gross_margin_date": date("gross_margin"), "gross_profit_ltm_usd": gp,
        "ev_to_revenue_ltm": ev_rev,
        "ev_to_gross_profit_ltm": _ratio(ev, gp) if gp > 0 else math.nan,
        "price_to_sales_ltm": _ratio(mcap, rev),
        "growth_adjusted_multiple": growth_adjusted(ev_rev, g),
        "revenue_ntm_usd": ntm, "revenue_growth_ntm": growth(ntm, rev), "ev_to_revenue_ntm": _ratio(ev, ntm),
        "sources": ", ".join(files), "mixed_sources": mixed,
        "confirmed": any(str(r.get("note", "")).upper().startswith("CONFIRMED") for r in used.values()),
        "missing": "; ".join(missing),
    }


def group_figures(rows: Iterable[dict]) -> dict[str, dict[str, object]]:
    """Figure rows by ticker: single fields to their row, series fields to {date: row}."""
    from comps.sources.snapshot import SERIES_FIELDS

    out: dict[str, dict[str, object]] = {}
    for r in rows:
        peer = out.setdefault(r["ticker"], {})
        if r["field"] in SERIES_FIELDS:
            peer.setdefault(r["field"], {})[r["date"]] = r
        else:
            peer[r["field"]] = r
    return out


def compute_peer_table(peers: Sequence[Peer], rows: Iterable[dict], as_of: dt.date,
                       stale_days: int = 30) -> pd.DataFrame:
    """One row per peer in list order. Peers with no figures keep a row saying so."""
    by_ticker = group_figures(rows)
    records = []
    for p in peers:
        rec = peer_row(p, by_ticker.get(p.ticker, {}), as_of, stale_days)
        if p.ticker not in by_ticker:
            rec["missing"] = "no figures in any snapshot"
        records.append(rec)
    return pd.DataFrame.from_records(records, columns=PEER_COLUMNS).set_index("ticker", drop=False)
