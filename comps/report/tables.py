"""Tables for the outputs: the frames a build writes (CSV with raw numbers and machine names),
the banker's trading-comps table, and their reader-facing Markdown. Formatting lives in
:mod:`comps.report.fmt`; nothing here computes what the build did not."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from comps.metrics import growth_adjusted
from comps.report import fmt
from comps.report.story import signal

if TYPE_CHECKING:
    from comps.result import BuildResult

COMPS_COLUMNS = ["share_price_usd", "share_of_52w_high", "market_cap_usd", "net_debt_usd", "enterprise_value_usd", "revenue_ltm_usd",
                 "ltm_end_date", "ev_to_revenue_ltm", "ev_to_revenue_ntm", "ev_to_gross_profit_ltm", "revenue_growth",
                 "gross_margin", "growth_adjusted_multiple", "market_cap_date"]
#: the statistics of each tier and of all peers, over included peers with the figure
STATS = (("Mean", "mean"), ("Median", "median"), ("High", "max"), ("Low", "min"), ("n", "count"))
STAT_COLUMNS = [c for c in COMPS_COLUMNS if c not in ("share_price_usd", "ltm_end_date", "market_cap_date")]
#: columns shown only where some peer has the figure (estimates, a year of prices)
OPTIONAL_COLUMNS = ("ev_to_revenue_ntm", "share_of_52w_high")
#: above this many peers the page shows the comps as a summary; every peer stays in the CSV and workbook
LARGE_UNIVERSE = 40
#: a table longer than this is written as CSV only: its Markdown twin would be unreadable
MARKDOWN_ROWS = 1000
#: tiers as the comps table names them
TIER_LABELS = {"core": "Core peers", "extended": "Extended peers"}

PEER_DISPLAY = ["ticker", "name", "segment", "include", "market_cap_usd", "market_cap_date", "market_data_age_days",
                "enterprise_value_usd", "ev_basis", "revenue_ltm_usd", "revenue_basis", "revenue_growth", "gross_margin",
                "ev_to_revenue_ltm", "ev_to_gross_profit_ltm", "price_to_sales_ltm", "growth_adjusted_multiple",
                "mixed_sources", "missing", "notes"]


def valuation_labels(result: BuildResult) -> dict[str, str]:
    """Headers that name the method's multiple and the target's own fiscal year."""
    y = result.fits[result.chosen].spec.y_label
    return {"ev_to_revenue_ltm": f"EV/Revenue {result.target.fiscal_label}", "implied_multiple": f"{y} at the price",
            "fair_multiple_discounted": f"Fair {y} (discounted)"}


def headline_display(result: BuildResult) -> pd.DataFrame:
    """The price-point table a reader scans, formatted: the multiples against the peer
    distribution, the probability at its precision and the checklist; a fair price and its
    band only when a regression beat the peer distribution (a peer-distribution headline
    shows where the price sits among the peers instead)."""
    spec = result.fits[result.chosen].spec
    labels = valuation_labels(result)
    checks = result.checklist.set_index("price_point")
    diluted = not np.allclose(checks["market_cap_diluted_usd"], checks["market_cap_usd"])
    rows = []
    for _, r in result.headline.iterrows():
        pp = r["price_point"]
        dist = result.peer_distribution
        own = dist[(dist["multiple"] == spec.y) & (dist["price_point"] == pp)]
        row = {"Price point": pp, "Price": fmt.usd(r["price_usd"]), "Market cap": fmt.money(r["market_cap_usd"])}
        if diluted:
            row["Fully diluted"] = fmt.money(checks.at[pp, "market_cap_diluted_usd"])
        row[labels["ev_to_revenue_ltm"]] = fmt.multiple(r["ev_to_revenue_ltm"])
        if spec.y != "ev_to_revenue_ltm":
            row[spec.y_label] = fmt.multiple(r["implied_multiple"])
        if len(own):
            short = spec.y_label.split(" (")[0]
            row[f"Peer percentile ({short})"] = fmt.percent(own["peer_percentile"].iloc[0], 0)
            row[f"vs peer median ({short})"] = fmt.cell("premium_to_peer_median", own["premium_to_peer_median"].iloc[0])
        if spec.kind == "regression":
            row |= {"Fair price": fmt.usd(r["fair_price_usd"]),
                    f"{result.config.headline_level:.0%} band": f"{fmt.usd(r['band_low_price_usd'])} to "
                    f"{fmt.usd(r['band_high_price_usd'])}" + (" (floored)" if r["band_low_truncated"] else ""),
                    "Premium to fair": fmt.cell("premium_to_fair", r["premium_to_fair"])}
        row |= {"P(peer below)": fmt.probability_rounded(r["p_peer_below_price"]),
                "Checklist": signal(result, pp)}
        rows.append(row)
    return pd.DataFrame(rows)


def premium_strip(result: BuildResult) -> pd.DataFrame:
    """Every price point against the peer medians, formatted: market cap (basic and fully
    diluted), EV/Revenue and EV/Gross profit with their premiums to the peer median, and the
    checklist. No model: the peer distribution only."""
    dist = result.peer_distribution.set_index(["multiple", "price_point"])
    checks = result.checklist.set_index("price_point")
    rows = []
    for _, r in result.headline.iterrows():
        pp = r["price_point"]
        row = {"Price point": pp, "Price": fmt.usd(r["price_usd"]),
               "Market cap (fully diluted)": f"{fmt.money(r['market_cap_usd'])} "
                                             f"({fmt.money(checks.at[pp, 'market_cap_diluted_usd'])})"}
        for col, short in (("ev_to_revenue_ltm", "EV/Revenue"), ("ev_to_gross_profit_ltm", "EV/Gross profit")):
            if (col, pp) in dist.index:
                d = dist.loc[(col, pp)]
                row[short] = fmt.multiple(d["implied_multiple"])
                row[f"vs median {fmt.multiple(d['peer_median'])}"] = fmt.cell("premium", d["premium_to_peer_median"])
        row["Checklist"] = signal(result, pp)
        rows.append(row)
    return pd.DataFrame(rows)


#: the headline table's columns, most important first: a narrow terminal drops from the end
PRIORITY = ("Price point", "Price", "EV/Revenue", "EV/Gross profit", "Checklist", "P(peer below)", "Fair price",
            "vs peer median", "Market cap", "Fully diluted", "Peer percentile", "Premium to fair",
            # the backtest's table
            "IPO", "Offer", "Engine's value", "Call at offer", "First-day return", "12-month", "Priced", "Day-1")


def column_need(shown: pd.DataFrame, col: str) -> int:
    """The narrowest a column can be without breaking a cell or a header word (characters)."""
    return max(max(len(w) for w in str(col).split()), *(len(str(v)) for v in shown[col]))


def fit_to_width(shown: pd.DataFrame, width: int) -> pd.DataFrame:
    """The columns of ``shown`` that fit a boxed table ``width`` characters wide, least
    important dropped first (PRIORITY), so no cell ever wraps; headers may wrap between words."""
    def need(col: str) -> int:
        return column_need(shown, col)

    rank = {c: next((i for i, p in enumerate(PRIORITY) if c == p or c.startswith(f"{p} ")), len(PRIORITY))
            for c in shown.columns}
    keep = list(shown.columns)
    while len(keep) > 2 and sum(need(c) for c in keep) + 3 * len(keep) + 1 > width:
        keep.remove(max(keep, key=lambda c: (rank[c], keep.index(c))))
    return shown[keep]


def comps_table(result: BuildResult) -> pd.DataFrame:
    """The banker's trading-comps table: every peer grouped by segment (``include`` says whether
    it counts in the statistics and fits), then Mean / Median / High / Low / n over the included
    peers of each tier and of all peers, then the target at each price point. ``row_type`` is
    peer, stat or target; NTM columns only where some peer has estimates."""
    peers = result.peers
    ordered = peers.sort_values("segment", kind="stable")
    peer_rows = pd.DataFrame({"row_type": "peer", "group": ordered["segment"].map(fmt.segment_label),
                              "ticker": ordered.index, "name": ordered["name"], "tier": ordered["tier"],
                              "include": ordered["include"].astype(bool), **{c: ordered[c] for c in COMPS_COLUMNS}})
    rows = []
    included = peers[peers["include"]]
    tiers = [t for t in TIER_LABELS if (included["tier"] == t).any()]
    if len(tiers) > 1:
        for tier in tiers:
            rows += _stats(included[included["tier"] == tier], TIER_LABELS[tier])
    rows += _stats(included, "All peers")
    t = result.target
    base_gp = t.revenue_usd.value * (t.gross_margin.value if t.gross_margin else np.nan)
    for _, p in result.headline.iterrows():
        ev = p["enterprise_value_usd"]
        rows.append({"row_type": "target", "group": f"{t.name} ({t.ticker})", "ticker": t.ticker,
                     "name": f"{p['price_point']}", "tier": "", "include": False,
                     "share_price_usd": p["price_usd"], "share_of_52w_high": np.nan,
                     "market_cap_usd": p["market_cap_usd"],
                     "net_debt_usd": -p["net_cash_usd"], "enterprise_value_usd": ev,
                     "revenue_ltm_usd": t.revenue_usd.value, "ltm_end_date": t.revenue_usd.date,
                     "ev_to_revenue_ltm": p["ev_to_revenue_ltm"], "ev_to_revenue_ntm": np.nan,
                     "ev_to_gross_profit_ltm": ev / base_gp if base_gp > 0 else np.nan,
                     "revenue_growth": t.revenue_growth,
                     "gross_margin": t.gross_margin.value if t.gross_margin else np.nan,
                     "growth_adjusted_multiple": growth_adjusted(p["ev_to_revenue_ltm"], t.revenue_growth),
                     "market_cap_date": p["price_date"]})
    columns = ["row_type", "group", "ticker", "name", "tier", "include", *COMPS_COLUMNS]
    frame = pd.concat([peer_rows.reset_index(drop=True), pd.DataFrame(rows, columns=columns)], ignore_index=True)[columns]
    absent = [c for c in OPTIONAL_COLUMNS if frame.loc[frame["row_type"] == "peer", c].isna().all()]
    return frame.drop(columns=absent)


def _stats(group: pd.DataFrame, name: str) -> list[dict]:
    values = group[STAT_COLUMNS].apply(pd.to_numeric, errors="coerce")
    agg = values.agg([how for _, how in STATS])  # NaN where a column has no values; n counts them
    return [{"row_type": "stat", "group": name, "ticker": "", "name": label, "tier": "", "include": False,
             **agg.loc[how].to_dict()} for label, how in STATS]


def sources_frame(result: BuildResult) -> pd.DataFrame:
    """Every snapshot row read, its value in the unit the file states, and whether it was used."""
    scale = {"USD millions": 1e6, "million shares": 1e6}
    used = {(r["file"], r["line"]) for r in result.snapshots.rows}
    out = {(r["file"], r["line"]): r["reason"] for r in result.snapshots.left_out}
    return pd.DataFrame([
        {"ticker": r["ticker"], "field": r["field"],
         "value": r["value"] / scale[r["unit"]] if r["unit"] in scale else r["value"], "unit": r["unit"],
         "date": r["date"].isoformat() if r["date"] else "", "published": r["published"].isoformat() if r["published"] else "",
         "status": "used" if (r["file"], r["line"]) in used else out.get((r["file"], r["line"]), "superseded"),
         "file": r["file"].name, "source_url": r["source_url"], "note": r["note"]}
        for r in result.snapshots.all_rows],
        columns=["ticker", "field", "value", "unit", "date", "published", "status", "file", "source_url", "note"])


def tables(result: BuildResult) -> dict[str, pd.DataFrame]:
    """Every table a build writes, by file stem (CSV: raw numbers, machine column names)."""
    sens = result.sensitivity.stack().rename("breakeven_price_usd").reset_index()
    spec_sens = result.spec_sensitivity.stack().rename("breakeven_price_usd").reset_index()
    grid = result.discount_grid.stack().rename("discount").reset_index()
    frames = {
        "comps": comps_table(result),
        "valuation": result.valuation,
        "peer_distribution": result.peer_distribution,
        "checklist": result.checklist,
        "ev_bridge": result.bridge,
        "intervals": pd.concat([sv.to_frame() for sv in result.specs.values()], ignore_index=True),
        "regression": result.regression_table(),
        "coefficients": pd.concat([f.to_frame() for f in result.fits.values()], ignore_index=True),
        "leverage": result.leverage,
        "influence": result.influence,
        "date_check": result.date_check,
        "stale_peers_rolled": result.rolls,
        "verdict_robustness": result.verdicts,
        "sensitivity": sens,
        "spec_sensitivity": spec_sens,
        "peer_multiple_values": result.peer_values,
        "concentration": result.specs[result.chosen].discount.to_frame(),
        "discount_range": result.discount_range,
        "discount_grid": grid,
        "peers": result.peers.reset_index(drop=True),
        "sources_peers": sources_frame(result),
        "sources_target": pd.DataFrame(result.target.provenance()),
        "refresh": result.refresh,
    }
    return {k: v for k, v in frames.items() if not v.empty}


def to_csv(frame: pd.DataFrame) -> str:
    """CSV with numbers as numbers (shortest round-trip digits, never scientific notation) and
    text cells defused against formula injection."""
    out = frame.copy()
    vectorized = len(out) > 1000  # per column at once pays off only on long tables
    for col in out.columns:
        if vectorized and pd.api.types.is_float_dtype(out[col]):
            out[col] = plain_numbers(out[col])
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(fmt.neutralize)
    return out.to_csv(index=False, lineterminator="\n",
                      float_format=lambda v: np.format_float_positional(v, trim="-"))


def plain_numbers(values: pd.Series) -> pd.Series:
    """Floats as text: the shortest digits that round-trip, '1' not '1.0', blank for missing,
    and positional where Python would write an exponent (1e-05, 1e+16). Vectorized: only the
    rare exponent cells are formatted one by one."""
    text = values.astype(str).str.removesuffix(".0")
    sci = text.str.contains("e", regex=False) & values.notna()
    if sci.any():
        text[sci] = [np.format_float_positional(v, trim="-") for v in values[sci]]
    return text.where(values.notna(), "")


def display(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """Every cell formatted for a reader, headers in words."""
    labels = labels or {}
    if {"value", "unit"} <= set(frame.columns):  # one unit per row
        shown = frame.copy().astype(object)
        shown["value"] = [fmt.by_unit(u, v) for u, v in zip(frame["unit"], frame["value"], strict=True)]
        rest = [c for c in frame.columns if c != "value"]
        shown[rest] = pd.DataFrame({c: [fmt.cell(c, v) for v in frame[c]] for c in rest}, index=frame.index)
    else:
        shown = pd.DataFrame({c: [fmt.cell(str(c), v) for v in frame[c]] for c in frame.columns}, index=frame.index)
    shown.columns = [labels.get(str(c), fmt.label(str(c))) for c in frame.columns]
    return shown


def grid(frame: pd.DataFrame, value_kind: str, row_label: str, col_label: str) -> pd.DataFrame:
    """A two-way grid (sensitivity): row and column keys formatted, cells by ``value_kind``."""
    rows_fmt = {"revenue_growth": fmt.percent, "discount": fmt.percent, "multiple_applied": fmt.multiple}.get(
        frame.index.name, str)
    shown = pd.DataFrame([[fmt.cell(value_kind, v) for v in row] for row in frame.to_numpy()],
                         index=[rows_fmt(v) if not isinstance(v, str) else v for v in frame.index],
                         columns=[f"{col_label} {fmt.percent(c, 0)}" for c in frame.columns])
    shown.index.name = row_label
    return shown.reset_index()


def comps_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The comps table's figure columns as text, the n rows as counts (blank where not a count)."""
    cols = [c for c in COMPS_COLUMNS if c in frame.columns]
    shown = display(frame[cols]).set_axis(cols, axis=1).reset_index(drop=True)
    for i in np.flatnonzero(frame["row_type"].eq("stat") & frame["name"].eq("n")):
        shown.iloc[i] = [fmt.cell("n", v) if c in STAT_COLUMNS else "" for c, v in frame.iloc[i][cols].items()]
    return shown


def row_names(frame: pd.DataFrame) -> list[str]:
    """The comps table's first column: 'NVIDIA (NVDA)', ', excluded' for a peer out of the
    statistics; the statistic or price point otherwise."""
    return [f"{r['name']} ({r['ticker']})" + ("" if r["include"] else ", excluded") if r["row_type"] == "peer"
            else r["name"] for _, r in frame.iterrows()]


def comps_summary(frame: pd.DataFrame, largest: int = 15) -> pd.DataFrame:
    """A large comps table in brief: the ``largest`` included peers by market cap, the median
    and n of each segment, the tier and all-peer statistics, and the target."""
    peers = frame[frame["row_type"] == "peer"]
    top = peers[peers["include"]].nlargest(largest, "market_cap_usd").assign(group="Largest peers by market cap")
    segments = []
    stat_columns = [c for c in STAT_COLUMNS if c in frame.columns]
    for segment, g in peers[peers["include"]].groupby("group", sort=True):
        med = g[stat_columns].apply(pd.to_numeric, errors="coerce").median()
        segments.append({"row_type": "stat", "group": "Segment medians", "ticker": "", "name": f"{segment} (n = {len(g):,})",
                         "tier": "", "include": False, **med.to_dict()})
    return pd.concat([top, pd.DataFrame(segments, columns=frame.columns), frame[frame["row_type"] != "peer"]],
                     ignore_index=True)


def comps_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The comps table (:func:`comps_table`) as text, one heading row per segment, tier block and
    the target (never a segment repeated on every row); peers left out of the statistics say so,
    and the n rows are counts."""
    shown = comps_cells(frame)
    shown.columns = [fmt.label(c) for c in shown.columns]
    shown.insert(0, "Company", row_names(frame))
    out, last = [], None
    for (_, r), (_, row) in zip(frame.iterrows(), shown.iterrows(), strict=True):
        if r["group"] != last:
            out.append({"Company": f"**{r['group']}**", **{c: "" for c in shown.columns[1:]}})
            last = r["group"]
        out.append(row.to_dict())
    return pd.DataFrame(out, columns=shown.columns)


_NUMERIC = re.compile(r"^(—|[-+<>≈ ]*\$?[\d.,]+[×%BMKT]?( \(floored\))?|[-+]?∞)$")


def numeric_column(cells: pd.Series) -> bool:
    """Whether a column of formatted cells holds figures (so it is right-aligned)."""
    texts = [str(v) for v in cells if str(v) not in ("", "—")]
    return bool(texts) and all(_NUMERIC.match(t) for t in texts)


def to_markdown(frame: pd.DataFrame, labels: dict[str, str] | None = None, formatted: bool = False) -> str:
    """A GitHub Markdown table, figures right-aligned; cells formatted by their columns' kinds
    unless ``formatted``. A '|' inside a cell is escaped."""
    shown = frame if formatted else display(frame, labels)
    shown = shown.map(lambda v: str(v).replace("|", "\\|"))
    align = ["right" if numeric_column(shown.iloc[:, j]) else "left" for j in range(shown.shape[1])]
    return shown.to_markdown(index=False, disable_numparse=True, colalign=align) + "\n"


def markdown_for(stem: str, frame: pd.DataFrame, result: BuildResult) -> str:
    """The Markdown twin of one CSV output."""
    if stem == "comps":
        return to_markdown(comps_display(frame), formatted=True)
    if stem == "sensitivity":
        return to_markdown(grid(result.sensitivity, "breakeven_price_usd", "Multiple applied", "Discount"), formatted=True)
    if stem == "spec_sensitivity":
        labels = {s: result.fits[s].spec.title for s in result.spec_sensitivity.index}
        g = result.spec_sensitivity.rename(index=labels)
        g.index.name = "spec"
        return to_markdown(grid(g, "breakeven_price_usd", "Method", "Discount"), formatted=True)
    if stem == "valuation":
        return to_markdown(frame, valuation_labels(result))
    return to_markdown(frame)
