"""The build's story in Markdown (summary.md): the verdict sentence first, then the key
figures, the comps table, the valuation at each price point and the details."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from comps.report import fmt
from comps.report.story import (
    believe_line,
    checklist_row,
    distribution_row,
    headline_point,
    method_support,
    probability_sentence,
    probability_validated,
    signal,
    track_record_line,
    track_record_sentence,
    verdict_sentence,
)
from comps.report.tables import (
    LARGE_UNIVERSE,
    PEER_DISPLAY,
    comps_display,
    comps_summary,
    headline_display,
    to_markdown,
)

if TYPE_CHECKING:
    from comps.result import BuildResult


def key_figures(result: BuildResult) -> list[tuple[str, str]]:
    """The strip of figures under the verdict: (label, value)."""
    p = headline_point(result)
    row = distribution_row(result, p["price_point"])
    gp = distribution_row(result, p["price_point"], "ev_to_gross_profit_ltm")
    sv = result.specs[result.chosen]
    chk = checklist_row(result, p["price_point"])
    figures = [
        (p["price_point"], fmt.usd(p["price_usd"])),
        ("Market cap (basic / fully diluted)", f"{fmt.money(p['market_cap_usd'])} / {fmt.money(chk['market_cap_diluted_usd'])}"),
        (f"EV/Revenue {result.target.fiscal_label}", fmt.multiple(p["ev_to_revenue_ltm"])),
        (f"Peer median EV/Revenue (n = {int(row['n'])})", fmt.multiple(row["peer_median"])),
        ("Premium to the peer median", fmt.cell("premium_to_peer_median", row["premium_to_peer_median"])),
    ]
    if gp is not None:
        figures.append(("EV/Gross profit vs peer median", (f"{fmt.multiple(gp['implied_multiple'])} vs "
                                                          f"{fmt.multiple(gp['peer_median'])}")))
    figures += [
        ("P(a peer like it is valued below)" + ("" if probability_validated(result) else ", unvalidated"),
         fmt.probability_rounded(p["p_peer_below_price"])),
        ("Headline method", sv.fit.spec.title),
        ("Concentration discount", (f"{fmt.percent(sv.discount.discount, 0)} ({fmt.percent(sv.discount.range[0], 0)} to "
                                   f"{fmt.percent(sv.discount.range[1], 0)})")),
        ("Checklist", signal(result, p["price_point"])),
    ]
    return figures


def summary_markdown(result: BuildResult, frames: dict[str, pd.DataFrame]) -> str:
    t = result.target
    figures = "\n".join(f"| {k} | {v} |" for k, v in key_figures(result))
    methods = frames["regression"]
    parts = [
        f"# {t.name} ({t.ticker}) against listed peers, as of {result.as_of}\n",
        verdict_sentence(result) + "\n",
        f"{method_support(result)}. {probability_sentence(result)}.\n",
        believe_line(result) + ".\n",
        *([track_record_line(result) + ".\n"] if result.track_record is not None else []),
        "| Figure | Value |\n|---|---:|\n" + figures + "\n",
        "## Every price point\n",
        to_markdown(headline_display(result), formatted=True),
        f"Verdict robustness: {result.verdict_note}\n",
        f"Date check: {result.date_note}.\n",
        *track_record_section(result),
        "## Trading comps\n", *comps_markdown(result, frames["comps"]),
        "## Every price point against the peer distribution (no regression)\n",
        to_markdown(frames["peer_distribution"][["multiple", "price_point", "implied_multiple", "peer_percentile",
                                                 "peer_q1", "peer_median", "peer_q3", "premium_to_peer_median"]]),
        "## Checklist\n", _checklist_basis(result),
        to_markdown(result.checklist.drop(columns=["verdict", "p_peer_below_price"])),
        "## Methods compared, leave one out\n",
        ("Each method values each peer with that peer left out; the error is ln(valued / actual). A regression may "
        "supply the fair value only if it beats the peer median of the same multiple on its own peers; the "
        "headline is the best of the rest on the peers they share.\n"),
        to_markdown(methods[["label", "n", "r_squared", "growth_p_value", "p_wild_bootstrap", "loo_rmse_log",
                             "loo_median_abs_log", "loo_within_15pct", "baseline_rmse_log", "beats_baseline",
                             "loo_rmse_log_common", "chosen"]]),
        "## Warnings\n", *([f"- {w}" for w in result.warnings] or ["- none"]), "",
        "## EV bridge\n", to_markdown(result.bridge),
        "## Concentration discount\n", to_markdown(frames["concentration"]),
        to_markdown(frames["discount_range"]),
        "## Peers\n", to_markdown(result.peers[PEER_DISPLAY]) if len(result.peers) <= LARGE_UNIVERSE
        else f"{len(result.peers):,} peers: every one is in tables/peers.csv and comps.xlsx.\n",
        f"\n{result.data_notice}. Per-figure sources: tables/sources_peers.csv and tables/sources_target.csv.\n",
    ]
    return "\n".join(parts)


def comps_markdown(result: BuildResult, comps: pd.DataFrame) -> list[str]:
    """The comps table, or its summary for a universe larger than LARGE_UNIVERSE."""
    if len(result.peers) <= LARGE_UNIVERSE:
        return [to_markdown(comps_display(comps), formatted=True)]
    return [(f"{len(result.peers):,} peers, shown in brief: the largest by market cap, each segment's median, and the "
            "statistics; every peer is in tables/comps.csv and comps.xlsx.\n"),
            to_markdown(comps_display(comps_summary(comps)), formatted=True)]


def track_record_section(result: BuildResult) -> list[str]:
    """'How this method did on past IPOs': the paragraph, the engine's call on each, and each
    method's accuracy and band coverage; nothing without a track record."""
    from comps.report.backtest import calls_display, methods_display

    tr = result.track_record
    if tr is None:
        return []
    parts = ["## How this method did on past IPOs\n", track_record_sentence(result) + ".\n"]
    if not tr.rows.empty:
        parts += [to_markdown(calls_display(tr), formatted=True), to_markdown(methods_display(tr), formatted=True),
                  "Run `comps backtest` for every IPO's full build and the signal tests.\n"]
    return parts


def _checklist_basis(result: BuildResult) -> str:
    """One sentence on the walk-away band the checklist used, from the target file."""
    band = result.target.checklist.walk_away_market_cap_usd
    if band is None:
        return "The target file sets no walk-away market-cap band, so no price point can signal walk-away.\n"
    return (f"Walk-away band from the target file: market cap {fmt.money(band[0])} to {fmt.money(band[1])} "
            "while customer concentration is not falling, on basic and on fully diluted shares. Wait: the price "
            f"is above the headline method's band ({result.headline['band'].iloc[0]}, after the concentration "
            "discount).\n")
