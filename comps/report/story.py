"""The build's conclusion in words: the verdict that opens every output, what the method can and
cannot support, and what a price asks the reader to believe. Pure functions of a BuildResult."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from comps.report.fmt import money, multiple, percent, probability_headline, usd

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


def distribution_row(result: BuildResult, price_point: str, column: str = "ev_to_revenue_ltm") -> pd.Series | None:
    """One price point's row of the peer-distribution table for one multiple (None if absent)."""
    dist = result.peer_distribution
    rows = dist[(dist["multiple"] == column) & (dist["price_point"] == price_point)]
    return rows.iloc[0] if len(rows) else None


def checklist_row(result: BuildResult, price_point: str) -> pd.Series:
    return result.checklist.set_index("price_point").loc[price_point]


def signal(result: BuildResult, price_point: str) -> str:
    """The checklist's signal at one price point, on basic shares (and fully diluted if it differs)."""
    r = checklist_row(result, price_point)
    if r["signal_diluted"] != r["signal"]:
        return f"{r['signal']} on basic shares, {r['signal_diluted']} fully diluted"
    return str(r["signal"])


def peer_position(result: BuildResult, price_point: str, column: str = "ev_to_revenue_ltm") -> str:
    """'above all 13 peers (median 18.5×, range 0.8× to 59.1×)' for one price point."""
    row = distribution_row(result, price_point, column)
    n, pct = int(row["n"]), float(row["peer_percentile"])
    at = round(pct * n)
    where = (f"above all {n} peers" if at == n else f"below all {n} peers" if at == 0
             else f"above {at} of {n} peers")
    return (f"{where} (median {multiple(row['peer_median'])}, range {multiple(row['peer_min'])} to "
            f"{multiple(row['peer_max'])})")


def walk_away_headroom(result: BuildResult, price_point: str) -> str:
    """'$0.2B below the $40B walk-away line (fully diluted $56.4B: above it)', or ''."""
    band = result.target.checklist.walk_away_market_cap_usd
    if band is None:
        return ""
    r = checklist_row(result, price_point)
    basic, diluted = r["market_cap_usd"], r["market_cap_diluted_usd"]

    def side(mcap: float) -> str:
        gap = band[0] - mcap
        return f"{money(abs(gap))} {'below' if gap > 0 else 'above'} the {money(band[0])} walk-away line"

    text = f"market cap {money(basic)}, {side(basic)}"
    if not math.isclose(diluted, basic):
        text += f"; fully diluted {money(diluted)}, {side(diluted)}"
    return text


def verdict_sentence(result: BuildResult) -> str:
    """The sentence that opens the report: the priced multiples against the peers, and the
    checklist's signal with its walk-away headroom."""
    p = headline_point(result)
    t = result.target
    gp = distribution_row(result, p["price_point"], "ev_to_gross_profit_ltm")
    rev = distribution_row(result, p["price_point"])
    times_median = p["ev_to_revenue_ltm"] / rev["peer_median"]
    gp_text = f" and {multiple(gp['implied_multiple'])} gross profit" if gp is not None else ""
    headroom = walk_away_headroom(result, p["price_point"])
    return (f"At {usd(p['price_usd'])} ({p['price_point'].lower()}, {p['price_date']}), {t.name} is valued at "
            f"{multiple(p['ev_to_revenue_ltm'])} {t.fiscal_label} revenue{gp_text}, {times_median:.1f} times the peer "
            f"median EV/Revenue and {peer_position(result, p['price_point']).split(' (')[0]}; checklist: "
            f"{signal(result, p['price_point'])}{f' ({headroom})' if headroom else ''}.")


def _margin_evidence(result: BuildResult) -> str:
    """What gross margin adds, when the margin-aware regression was fitted."""
    m = result.fits.get("log_ev_revenue_margin")
    if m is None or "gross_margin" not in getattr(m, "pvalues", {}):
        return ""
    p = float(m.pvalues["gross_margin"])
    if p < result.config.weak_slope_p:
        return (f"; gross margin does explain them (R² {m.rsquared:.2f} with growth, margin slope HC3 p = {p:.2f}, "
                f"n = {m.n})")
    return f"; nor does gross margin, significantly (margin slope HC3 p = {p:.2f}, n = {m.n})"


def method_support(result: BuildResult) -> str:
    """What the peers support, with the evidence: which method won out of sample and why."""
    sv = result.specs[result.chosen]
    f = sv.fit
    regressions = result.methods[result.methods["kind"] == "regression"]
    beat = regressions[regressions["beats_baseline"]]
    if result.headline_is_baseline:
        lead = ("no regression beats the peer distribution out of sample" if beat.empty else
                f"{len(beat)} regression(s) beat the peer median on their own peers, but not the peer distribution "
                "on the peers all methods share")
        loo = result.methods.set_index("spec").at[result.chosen, "loo_rmse_log"]
        return (f"{lead}: growth does not explain the peers' multiples{_margin_evidence(result)}; so the answer is "
                f"where the price sits among the peers, by the {f.spec.title.replace('Peer ', 'peer ', 1)} "
                f"({multiple(sv.prediction.multiple)}, n = {f.n}, leave-one-out error {loo:.2f} in log terms), not "
                "a regression's fair value")
    return (f"{f.spec.title} beats the peer median out of sample (R² {f.rsquared:.2f}, n = {f.n}, growth slope "
            f"HC3 p = {f.growth_p:.2f}), so it supplies the fair value, with its prediction band")


def probability_sentence(result: BuildResult) -> str:
    """P(a peer like it is valued below the headline price), rounded with its range."""
    p = headline_point(result)
    return (f"P(a peer like {result.target.ticker} is valued below {usd(p['price_usd'])}) is "
            f"{probability_headline(p['p_peer_below_price'], p['p_low'], p['p_high'])}")


def believe_line(result: BuildResult) -> str:
    """What the headline price needs, with no slope: the revenue at which the peer median and
    upper-quartile EV/Revenue would justify it, and the years of current growth that takes."""
    p = headline_point(result)
    rev = distribution_row(result, p["price_point"])
    t = result.target
    g = t.revenue_growth
    needed = {q: p["enterprise_value_usd"] / rev[col] for q, col in (("median", "peer_median"), ("upper quartile", "peer_q3"))}
    years = math.log(needed["median"] / t.revenue_usd.value) / math.log(1 + g) if g > 0 else math.nan
    return (f"To be worth {usd(p['price_usd'])} at the peer median {multiple(rev['peer_median'])} EV/Revenue, "
            f"{t.name} needs {money(needed['median'])} of revenue, {needed['median'] / t.revenue_usd.value:.1f} times "
            f"its {t.fiscal_label}" + (f", about {years:.1f} years at its current {percent(g, 0)} growth" if math.isfinite(years)
                                        else "") +
            f"; at the peer upper quartile ({multiple(rev['peer_q3'])}) it needs {money(needed['upper quartile'])}")


def track_record_sentence(result: BuildResult) -> str:
    """How the method did on the past IPOs known at the as-of date, in one paragraph; '' if the
    build has no track record."""
    tr = result.track_record
    if tr is None:
        return ""
    if tr.rows.empty:
        return f"No past IPO with known outcomes was priced before {result.as_of}, so the method has no track record."
    calls = tr.to_frame()
    head = tr.summary.iloc[0]
    base = tr.summary.set_index("method")
    med = base.loc["median_ev_revenue"] if "median_ev_revenue" in base.index else None
    dates = f"{calls['pricing_date'].min():%Y-%m} to {calls['pricing_date'].max():%Y-%m}"
    n = len(calls)
    text = (f"On the {n} past IPOs known at {result.as_of} ({', '.join(calls['ticker'])}, priced {dates}), each valued "
            f"at its own pricing date, the engine's headline value was within ±15 % of the offer price in "
            f"{int(round(head['within_15pct_of_offer'] * n))} of {n} (median |ln(value/price)| "
            f"{head['median_abs_ln_value_to_offer']:.2f}")
    if med is not None:
        text += f"; the plain peer-median EV/Revenue: {med['median_abs_ln_value_to_offer']:.2f}"
    below = int((calls["value_usd"] < calls["offer_usd"]).sum())
    text += (f"), below the offer in {below} of {n}; its 90 % band held the first-day close in "
             f"{int(round(head['coverage_90_first_day'] * n))} of {n}. Its call at the offer was "
             f"{', '.join(f'{t}: {c}' for t, c in zip(calls['ticker'], calls['checklist_at_offer'], strict=True))}, "
             f"and first-day returns were {', '.join(f'{r:+.0%}' for r in calls['first_day_return'])}. With {n} IPOs "
             "this describes; it cannot test. The headline probability is therefore "
             f"{'supported' if tr.validated else 'unvalidated'} ({tr.reason})")
    return text
