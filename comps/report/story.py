"""The build's conclusion in words: the one-line verdict that opens every output, and what the
peers can and cannot support. Pure functions of a BuildResult."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from comps.report.fmt import multiple, usd

if TYPE_CHECKING:
    from comps.result import BuildResult


def headline_point(result: BuildResult) -> pd.Series:
    """The price point a reader asks about first: the pricing if there is one, else the top of
    the latest range, else the last point."""
    head = result.headline
    for kind in ("priced", "revised", "range"):
        rows = head[head["kind"] == kind]
        if len(rows):
            return rows.iloc[-1]
    return head.iloc[-1]


def fit_support(result: BuildResult) -> str:
    """How much the peer regression supports, in words, with R², n and the growth slope's p."""
    f = result.fits[result.chosen]
    p, r2, weak = f.growth_p, f.rsquared, result.config.weak_slope_p
    what = f"on {f.spec.label} (n = {f.n}), R² is {r2:.2f}"
    if p < weak:
        return (f"growth is priced: {what} and the growth slope is significant (HC3 p = {p:.2f}), so the fit "
                "gives a fair value with a prediction band")
    strength = "barely explain" if r2 < 0.3 else "only partly explain"
    return (f"the peers {strength} their multiples: {what} and growth is not priced (HC3 p = {p:.2f}), so the "
            "answer is a comparison with the peer distribution, not a fair value")


def distribution_row(result: BuildResult, price_point: str, column: str = "ev_to_revenue_ltm") -> pd.Series:
    """One price point's row of the peer-distribution table for one multiple."""
    dist = result.peer_distribution
    return dist[(dist["multiple"] == column) & (dist["price_point"] == price_point)].iloc[0]


def signal(result: BuildResult, price_point: str) -> str:
    """The checklist's signal at one price point."""
    return result.checklist.set_index("price_point").loc[price_point, "signal"]


def peer_position(result: BuildResult, price_point: str, column: str = "ev_to_revenue_ltm") -> str:
    """'above all 13 peers (median 19.1×, range 0.8-97.9×)' for one price point."""
    row = distribution_row(result, price_point, column)
    n, pct = int(row["n"]), float(row["peer_percentile"])
    at = round(pct * n)
    where = (f"above all {n} peers" if at == n else f"below all {n} peers" if at == 0
             else f"above {at} of {n} peers")
    return (f"{where} (median {multiple(row['peer_median'])}, range {multiple(row['peer_min'])} to "
            f"{multiple(row['peer_max'])})")


def verdict_sentence(result: BuildResult) -> str:
    """The one sentence that opens the report: the priced multiple against the peers, what the
    peers support, and the checklist's signal."""
    p = headline_point(result)
    t = result.target
    return (f"At {usd(p['price_usd'])} ({p['price_point'].lower()}, {p['price_date']}), {t.name} is valued at "
            f"{multiple(p['ev_to_revenue_ltm'])} {t.fiscal_label} revenue, {peer_position(result, p['price_point'])}; "
            f"{fit_support(result)}; checklist: {signal(result, p['price_point'])}.")
