"""The build's conclusion in words: the verdict that opens every output, what the method can and
cannot support, and what a price asks the reader to believe. Pure functions of a BuildResult."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from comps.report import fmt
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


def signals(result: BuildResult, price_point: str) -> tuple[str, str]:
    """The checklist's call at one price point on basic and on fully diluted shares, without
    its reason: ('wait', 'walk away')."""
    r = checklist_row(result, price_point)
    return str(r["signal"]).split(" (")[0], str(r["signal_diluted"]).split(" (")[0]


def signal(result: BuildResult, price_point: str) -> str:
    """The checklist's signal at one price point on basic shares, short enough for a table cell:
    'wait', or 'wait (walk away FD)' where the fully diluted count decides otherwise."""
    basic, diluted = signals(result, price_point)
    return basic if basic == diluted else f"{basic} ({diluted} FD)"


def peer_position(result: BuildResult, price_point: str, column: str = "ev_to_revenue_ltm") -> str:
    """'above all 13 peers (median 18.5×, range 0.8× to 59.1×)' for one price point."""
    row = distribution_row(result, price_point, column)
    n, pct = int(row["n"]), float(row["peer_percentile"])
    at = round(pct * n)
    where = (f"above all {n} peers" if at == n else f"below all {n} peers" if at == 0
             else f"above {at} of {n} peers")
    return (f"{where} (median {multiple(row['peer_median'])}, range {multiple(row['peer_min'])} to "
            f"{multiple(row['peer_max'])})")


def checklist_clause(result: BuildResult, price_point: str) -> str:
    """'Checklist: wait on basic shares, walk away fully diluted: $39.8B market cap, $0.2B under
    the $40.0B walk-away line; $56.4B fully diluted, $16.4B over it', the headroom on both share
    counts where the target sets a line."""
    r = checklist_row(result, price_point)
    basic, diluted = signals(result, price_point)
    text = f"Checklist: {basic}" if basic == diluted else f"Checklist: {basic} on basic shares, {diluted} fully diluted"
    line = result.target.checklist.walk_away_market_cap_usd
    if line is None:
        return text
    m_basic, m_diluted = r["market_cap_usd"], r["market_cap_diluted_usd"]

    def side(mcap: float) -> str:
        gap = line[0] - mcap
        return f"{money(abs(gap))} {'under' if gap > 0 else 'over'}"

    headroom = f"{money(m_basic)} market cap, {side(m_basic)} the {money(line[0])} walk-away line"
    if not math.isclose(m_diluted, m_basic):
        headroom += f"; {money(m_diluted)} fully diluted, {side(m_diluted)} it"
    return f"{text}: {headroom}"


def verdict_sentence(result: BuildResult) -> str:
    """The sentences that open the report: the priced multiples against the peers, then the
    checklist's signal with its walk-away headroom."""
    p = headline_point(result)
    t = result.target
    gp = distribution_row(result, p["price_point"], "ev_to_gross_profit_ltm")
    rev = distribution_row(result, p["price_point"])
    times_median = p["ev_to_revenue_ltm"] / rev["peer_median"]
    gp_text = f" and {multiple(gp['implied_multiple'])} gross profit" if gp is not None else ""
    return (f"At {usd(p['price_usd'])} ({p['price_point'].lower()}, {p['price_date']}), {t.name} is valued at "
            f"{multiple(p['ev_to_revenue_ltm'])} {t.fiscal_label} revenue{gp_text}: {times_median:.1f} times the peer "
            f"median EV/Revenue ({multiple(rev['peer_median'])}), {peer_position(result, p['price_point']).split(' (')[0]}. "
            f"{checklist_clause(result, p['price_point'])}.")


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
    """What the peers support, with the evidence: which method won out of sample and why (a
    sentence, capitalized, without its full stop)."""
    sv = result.specs[result.chosen]
    f = sv.fit
    regressions = result.methods[result.methods["kind"] == "regression"]
    beat = regressions[regressions["beats_baseline"]]
    if result.headline_is_baseline:
        lead = ("No regression beats the peer distribution out of sample" if beat.empty else
                ("One regression beats the peer median on its own peers" if len(beat) == 1 else
                 f"{len(beat)} regressions beat the peer median on their own peers")
                + ", but not the peer distribution on the peers all methods share")
        loo = result.methods.set_index("spec").at[result.chosen, "loo_rmse_log"]
        return (f"{lead}: the peers cannot tell whether growth is priced{_margin_evidence(result)}; so the answer is "
                f"where the price sits among the peers, by the {f.spec.title.replace('Peer ', 'peer ', 1)} "
                f"({multiple(sv.prediction.multiple)}, n = {f.n}, leave-one-out error {loo:.2f} in log terms), not "
                "a regression's fair value")
    return (f"{f.spec.title} beats the peer median out of sample (R² {f.rsquared:.2f}, n = {f.n}, growth slope "
            f"HC3 p = {f.growth_p:.2f}), so it supplies the fair value, with its prediction band")


def probability_sentence(result: BuildResult) -> str:
    """P(a peer like it is valued below the headline price), rounded with its range."""
    p = headline_point(result)
    text = (f"P(a peer like {result.target.ticker} is valued below {usd(p['price_usd'])}) is "
            f"{probability_headline(p['p_peer_below_price'], p['p_low'], p['p_high'])}")
    return text if probability_validated(result) else f"{text}; {probability_status(result)}"


def probability_validated(result: BuildResult) -> bool:
    return result.track_record is not None and result.track_record.validated


def probability_status(result: BuildResult) -> str:
    """'unvalidated (only 4 past IPOs scored: …)' or 'validated on …'."""
    tr = result.track_record
    if tr is None:
        return "unvalidated (no backtest: the build was run without a track record)"
    return f"{'validated' if tr.validated else 'unvalidated'} ({tr.reason})"


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


def _calls(n: int) -> str:
    return {1: "the one", 2: "both"}.get(n, f"all {n}")


def track_record_line(result: BuildResult) -> str:
    """One sentence under the verdict: how the engine did on the past IPOs known at the as-of
    date, and whether that validates its probability; '' without a track record."""
    tr = result.track_record
    if tr is None:
        return ""
    if tr.rows.empty:
        return (f"Track record: no past IPO with known outcomes was priced before {result.as_of}, so the method is "
                "unvalidated")
    calls, n = tr.to_frame(), len(tr.to_frame())
    within = int(calls["within_15pct"].sum())
    said = calls["checklist_at_offer"].value_counts()
    call_text = (f"said {said.index[0]} at {_calls(n)} offers" if len(said) == 1 else
                 "said " + ", ".join(f"{c} at {k}" for c, k in said.items()))
    day1 = calls["first_day_return"].dropna()
    return (f"Track record: on {n} past IPO{'s' if n > 1 else ''} ({', '.join(calls['ticker'])}), each valued at its own "
            f"pricing date, the engine was within ±15% of the offer in {within} of {n} and {call_text}; first-day "
            f"returns ran {fmt.cell('first_day_return', day1.min())} to {fmt.cell('first_day_return', day1.max())}. "
            f"Its probability is {'supported' if tr.validated else 'unvalidated'}: {tr.reason}")


def track_record_sentence(result: BuildResult) -> str:
    """How the method did on the past IPOs known at the as-of date, against the plain peer
    median, in one paragraph; '' if the build has no track record."""
    tr = result.track_record
    if tr is None or tr.rows.empty:
        return track_record_line(result)
    calls, n = tr.to_frame(), len(tr.to_frame())
    head = tr.summary.iloc[0]
    base = tr.summary.set_index("method")
    dates = f"{calls['pricing_date'].min():%Y-%m} to {calls['pricing_date'].max():%Y-%m}"
    text = (f"The {n} past IPOs known at {result.as_of} ({', '.join(calls['ticker'])}, priced {dates}) were each valued "
            f"by this engine at their own pricing date, against the peers of that day. Its value was within ±15% of "
            f"the offer price in {int(calls['within_15pct'].sum())} of {n} and below it in "
            f"{int((calls['value_usd'] < calls['offer_usd']).sum())} of {n}, with a median |ln(value/offer)| of "
            f"{head['median_abs_ln_value_to_offer']:.2f}")
    if "median_ev_revenue" in base.index:
        text += f" (the plain peer-median EV/Revenue: {base.at['median_ev_revenue', 'median_abs_ln_value_to_offer']:.2f})"
    held = calls["in_90_band_first_day"].dropna()
    text += (f"; its 90% band held the first-day close in {int(held.sum())} of {len(held)}. With {n} IPOs this "
             "describes what happened and cannot test anything: one IPO moves every share by "
             f"{fmt.percent(1 / n, 0)}. The headline probability is therefore "
             f"{'supported' if tr.validated else 'unvalidated'} ({tr.reason})")
    return text


def risks(result: BuildResult) -> list[str]:
    """Three risks under the verdict: customer concentration, the gross margin, and the EV
    assumption at the headline price, each with its figures."""
    t, sv = result.target, result.specs[result.chosen]
    p = headline_point(result)
    groups: dict[str, list] = {}
    for c in t.customers:
        groups.setdefault(c.group or c.name, []).append(c)
    out = []
    if groups:
        name, members = max(groups.items(), key=lambda kv: sum(c.share for c in kv[1]))
        who = " and ".join(c.name for c in members)
        related = f" (the {name}, merged as one customer)" if len(members) > 1 else ""
        d = sv.discount
        out.append(f"Customer concentration: {who}{related} were {percent(sum(c.share for c in members), 0)} of "
                   f"{members[0].period or t.fiscal_label} revenue; the concentration discount is {percent(d.discount, 0)} "
                   f"({percent(d.range[0], 0)} to {percent(d.range[1], 0)} across its assumptions)")
    gm, gm0 = t.gross_margin, t.gross_margin_prior
    if gm is not None:
        peers = result.peers.loc[result.peers["include"], "gross_margin"].dropna()
        below = int((peers > gm.value).sum())
        trend = (f"fell from {percent(gm0.value, 0)} to {percent(gm.value, 0)} while revenue grew "
                 f"{percent(t.revenue_growth, 0)}" if gm0 is not None and gm0.value > gm.value
                 else f"is {percent(gm.value, 0)}")
        out.append(f"Gross margin {trend}, below {below} of {len(peers)} peers (median {percent(peers.median(), 0)}): "
                   f"on gross profit the price is {multiple(p['ev_to_revenue_ltm'] / gm.value)}")
    notes = "; ".join(sv.terms.notes)
    out.append(f"EV assumption: at {usd(p['price_usd'])}, EV is the {money(p['market_cap_usd'])} market cap on "
               f"{sv.shares / 1e6:,.1f}M shares less {money(p['net_cash_usd'])} of net cash after the offering"
               + (f" ({notes})" if notes else "") + f"; fully diluted the market cap is "
               f"{money(checklist_row(result, p['price_point'])['market_cap_diluted_usd'])}")
    return out
