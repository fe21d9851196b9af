"""The build's story in Markdown (summary.md): the verdict sentence first, then the key
figures, the comps table, the valuation at each price point and the details."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from comps.report import fmt
from comps.report.story import (
    distribution_row,
    fit_support,
    headline_point,
    signal,
    verdict_sentence,
)
from comps.report.tables import (
    PEER_DISPLAY,
    comps_display,
    headline_display,
    to_markdown,
)

if TYPE_CHECKING:
    from comps.result import BuildResult


def key_figures(result: BuildResult) -> list[tuple[str, str]]:
    """The strip of figures under the verdict: (label, value)."""
    p = headline_point(result)
    row = distribution_row(result, p["price_point"])
    sv = result.specs[result.chosen]
    return [
        (p["price_point"], fmt.usd(p["price_usd"])),
        ("Market cap", fmt.money(p["market_cap_usd"])),
        (f"EV/Revenue {result.target.fiscal_label}", fmt.multiple(p["ev_to_revenue_ltm"])),
        (f"Peer median (n = {int(row['n'])})", fmt.multiple(row["peer_median"])),
        ("Peer percentile", fmt.percent(row["peer_percentile"], 0)),
        ("P(peer like it below the price)", fmt.probability(p["p_peer_below_price"])),
        (f"Fit R² ({sv.fit.spec.y_label})", f"{sv.fit.rsquared:.2f}"),
        ("Concentration discount", fmt.percent(sv.discount.discount)),
        ("Checklist", signal(result, p["price_point"])),
    ]


def summary_markdown(result: BuildResult, frames: dict[str, pd.DataFrame]) -> str:
    t = result.target
    sv = result.specs[result.chosen]
    level = f"{result.config.headline_level:.0%}"
    dr = result.discount_range["discount"]
    figures = "\n".join(f"| {k} | {v} |" for k, v in key_figures(result))
    parts = [
        f"# {t.name} ({t.ticker}) against listed peers, as of {result.as_of}\n",
        verdict_sentence(result) + "\n",
        "| Figure | Value |\n|---|---|\n" + figures + "\n",
        "## What the peers support\n",
        f"Fitted on {sv.fit.n} peers, {fit_support(result)}. The headline spec has the lowest leave-one-out "
        f"error among the specs that can value the target. Bands are {level} prediction intervals (where a new "
        "peer with the target's growth would trade), not confidence intervals, and are floored at $0 where a "
        "linear fit's lower bound is negative. The probability column is predictive too. The concentration "
        f"discount is {fmt.percent(sv.discount.discount)} ({fmt.percent(dr.min())} to {fmt.percent(dr.max())} "
        "with one disclosing peer left out of the reference).\n",
        f"Date check: {result.robustness_note}.\n",
        "## Trading comps\n", to_markdown(comps_display(frames["comps"]), formatted=True),
        "## Every price point against the peer distribution (no regression)\n",
        to_markdown(frames["peer_distribution"][["multiple", "price_point", "implied_multiple", "peer_percentile",
                                                 "peer_q1", "peer_median", "peer_q3", "growth_adjusted_multiple",
                                                 "peer_median_growth_adjusted"]]),
        f"## Every price point on the headline spec ({sv.fit.spec.label})\n",
        to_markdown(headline_display(result), formatted=True),
        "## Checklist\n", _checklist_basis(result), to_markdown(result.checklist),
        "## Warnings\n", *([f"- {w}" for w in result.warnings] or ["- none"]), "",
        "## Specs compared\n",
        to_markdown(frames["regression"][["label", "n", "r_squared", "growth_p_value", "loo_rmse_log_common",
                                          "fair_multiple_at_target", "extrapolated", "valued", "chosen"]]),
        *(["∞: left out of its own fit, some peer gets a fair multiple ≤ 0 from a linear spec, "
           "an infinite log error.\n"] if np.isinf(frames["regression"]["loo_rmse_log_common"]).any() else []),
        "## Concentration discount\n", to_markdown(frames["concentration"]),
        to_markdown(result.discount_range),
        "## Peers\n", to_markdown(result.peers[PEER_DISPLAY]),
        f"\n{result.data_notice}. Per-figure sources: sources_peers.csv and sources_target.csv.\n",
    ]
    return "\n".join(parts)


def _checklist_basis(result: BuildResult) -> str:
    """One sentence on the walk-away band the checklist used, from the target file."""
    band = result.target.checklist.walk_away_market_cap_usd
    if band is None:
        return "The target file sets no walk-away market-cap band, so no price point can signal walk-away.\n"
    return (f"Walk-away band from the target file: market cap {fmt.money(band[0])} to {fmt.money(band[1])} "
            "while customer concentration is not falling.\n")
