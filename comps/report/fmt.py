"""How figures look to a reader: one place that knows each column's kind (money, price,
multiple, percent, probability, coefficient …) and its human label. Markdown, HTML, the CLI and
the workbook all format through here; CSV files keep raw numbers and machine column names.

No scientific notation anywhere: money is compact ($39.4B, $512.3M), prices have cents,
multiples end in ×, shares and growth in %, and probabilities never round to 0 % or 100 %.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

LABELS = {
    "ticker": "Ticker", "name": "Company", "segment": "Segment", "include": "In fits", "notes": "Notes",
    "share_price_usd": "Share price", "share_of_52w_high": "% of 52-week high",
    "market_cap_usd": "Market cap", "market_cap_date": "Market data", "market_cap_basis": "Market cap basis",
    "market_data_age_days": "Age (days)", "stale": "Stale", "net_debt_usd": "Net debt", "enterprise_value_usd": "EV",
    "ev_basis": "EV basis", "revenue_ltm_usd": "Revenue (LTM)", "revenue_ltm_prior_usd": "Revenue a year earlier",
    "ltm_end_date": "LTM to", "revenue_basis": "Revenue basis", "revenue_growth": "Revenue growth",
    "gross_margin": "Gross margin", "gross_margin_date": "Margin period", "gross_profit_ltm_usd": "Gross profit (LTM)",
    "ev_to_revenue_ltm": "EV/Revenue (LTM)", "ev_to_gross_profit_ltm": "EV/Gross profit (LTM)",
    "price_to_sales_ltm": "P/S (LTM)", "growth_adjusted_multiple": "EV/Revenue ÷ growth (pts)",
    "revenue_ntm_usd": "Revenue (NTM)", "revenue_growth_ntm": "NTM growth", "ev_to_revenue_ntm": "EV/Revenue (NTM)",
    "sources": "Snapshot files", "mixed_sources": "Figures from different files", "missing": "Missing",
    "spec": "Method", "label": "Formula", "n": "n", "price_point": "Price point", "kind": "Kind", "price_date": "Date",
    "price_usd": "Price", "net_cash_assumed_usd": "Net cash (assumed)", "multiple": "Multiple",
    "implied_multiple": "Implied multiple", "fair_multiple": "Fair multiple", "discount": "Concentration discount",
    "fair_multiple_discounted": "Fair multiple (discounted)", "fair_ev_usd": "Fair EV", "fair_price_usd": "Fair price",
    "band_low_truncated": "Band floored at $0", "premium_to_fair": "Premium to fair",
    "p_peer_below_price": "P(a peer like it is valued below the price)",
    "p_line_below_price_param_boot": "Share of refitted lines below the price (parameter bootstrap)",
    "implied_growth": "Implied growth", "implied_growth_note": "Implied growth note", "verdict": "Verdict",
    "signal": "Checklist", "soft_warning_margin": "Margin soft warning",
    "interval": "Interval", "level": "Level", "multiple_low": "Multiple low", "multiple_high": "Multiple high",
    "ev_low_usd": "EV low", "ev_high_usd": "EV high", "equity_low_usd": "Equity low", "equity_high_usd": "Equity high",
    "price_low_usd": "Price low", "price_high_usd": "Price high", "low_truncated": "Low floored at $0",
    "draws": "Draws", "method": "Method", "r_squared": "R²", "adj_r_squared": "Adjusted R²", "aic": "AIC",
    "growth_p_value": "Growth slope p (HC3)", "loo_rmse_log": "Leave-one-out error (log)",
    "residual_sd": "Residual s.d.", "growth_min": "Peer growth min", "growth_max": "Peer growth max",
    "n_common": "n (common peers)", "loo_rmse_log_common": "Leave-one-out error, common peers (log)",
    "valued": "Values the target", "fair_multiple_at_target": "Fair multiple at the target",
    "huber_slope_growth": "Huber growth slope", "huber_fair_multiple": "Huber fair multiple",
    "target_growth": "Target growth", "extrapolated": "Target outside peers' growth", "chosen": "Headline",
    "term": "Term", "estimate": "Coefficient", "std_error": "Std. error (HC3)", "p_value": "p (HC3)",
    "ci95_low": "95% CI low", "ci95_high": "95% CI high", "coef_const": "Intercept", "se_const": "s.e. intercept",
    "coef_growth": "Growth slope", "se_growth": "s.e. growth slope", "coef_gross_margin": "Margin slope",
    "se_gross_margin": "s.e. margin slope",
    "dropped": "Peer left out", "fair_price_change": "Change in fair price", "verdict_flips": "Verdicts that flip",
    "influential": "Influential", "value_multiple": "Multiple", "peer_percentile": "Peer percentile",
    "peer_min": "Peer low", "peer_q1": "Peer Q1", "peer_median": "Peer median", "peer_q3": "Peer Q3",
    "peer_max": "Peer high", "premium_to_peer_median": "Premium to peer median",
    "peer_median_growth_adjusted": "Peer median EV/Revenue ÷ growth",
    "verdict_all_peers": "Verdict, all peers", "n_all": "n, all", "verdict_fresh_peers": "Verdict, fresh peers",
    "n_fresh": "n, fresh", "fair_price_fresh_usd": "Fair price, fresh peers", "band_low_fresh_usd": "Band low, fresh",
    "band_high_fresh_usd": "Band high, fresh", "holds": "Verdict holds",
    "left_out": "Peer left out", "cc_reference": "Peer CC reference", "n_reference": "Disclosing peers",
    "failed": "What failed", "kept_from_snapshots": "Kept from snapshots",
    "field": "Field", "value": "Value", "unit": "Unit", "date": "Date", "published": "Published", "status": "Status",
    "file": "File", "source_url": "Source", "source": "Source", "note": "Note", "figure": "Figure", "item": "Item",
    "revenue_growth_offset": "Target growth", "ipo": "IPO", "pricing_date": "Priced", "n_listed": "Peers listed",
    "n_valued": "Peers valued", "n_with_gross_margin": "With gross margin", "not_valued": "Not valued",
    "peer_list": "Peer list (its notes say where each was looked for)",
    # the concentration model's parameters, as its citations name them
    "cc_measure": "Concentration measure", "aggregate_related": "Related customers",
    "beta_bp_per_unit_cc": "β, cost of equity per unit of CC", "r_minus_g": "r − g",
    "undisclosed_cc": "Peers that disclose no 10% customer", "tiers": "Tiered schedule", "cap": "Cap",
}
_PROBABILITY = re.compile(r"^(p_(?!value|over)|pit_)")
_PERCENT_WORDS = ("growth", "margin", "discount", "premium", "percentile", "change", "share")
_COEFFICIENT = ("estimate", "std_error", "ci95_low", "ci95_high", "residual_sd", "huber_slope_growth", "aic")
_DECIMALS = ("r_squared", "adj_r_squared", "growth_p_value", "p_value", "loo_rmse_log", "loo_rmse_log_common",
             "spearman_rho", "bootstrap_5pct", "bootstrap_95pct")
_RETURNS = ("return", "revision")


@functools.lru_cache(maxsize=1024)
def label(column: str) -> str:
    """A column's human header: from LABELS, else 'Snake case' with units spelled out."""
    if column in LABELS:
        return LABELS[column]
    if m := re.match(r"^pi(\d+)_(low|high)_(price_usd|multiple)$", column):
        what = "price" if m[3] == "price_usd" else "multiple"
        return f"{m[1]} % band {m[2]} ({what})"
    text = column.replace("_usd", "").replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@functools.lru_cache(maxsize=1024)
def kind(column: str) -> str:
    """money | price | multiple | percent | premium (signed %, returns too) | probability | decimal | ratio |
    coefficient | count | text."""
    c = column.lower()
    if c in ("n", "draws", "market_data_age_days") or c.startswith("n_"):
        return "count"
    if any(w in c for w in _RETURNS):
        return "premium"
    if c.startswith(("coverage", "within_")):
        return "percent"
    if c.startswith("ln_") or "_ln_" in c:
        return "decimal"
    if c == "p_over_v":
        return "ratio"
    if _PROBABILITY.match(c):
        return "probability"
    if c in _DECIMALS:
        return "decimal"
    if c in _COEFFICIENT or c.startswith(("coef_", "se_")):
        return "coefficient"
    if c.endswith("_usd") or c.startswith("fair_price_usd"):
        return "price" if "price" in c else "money"
    if "multiple" in c or c.startswith(("ev_to", "price_to", "peer_q", "peer_m")):
        return "multiple"
    if c.startswith("premium"):
        return "premium"
    if any(w in c for w in _PERCENT_WORDS) or c == "level":
        return "percent"
    return "text"


def segment_label(segment: str) -> str:
    """'ai_cloud' → 'AI cloud'."""
    words = [w.upper() if w in ("ai", "ip", "hbm") else w for w in segment.replace("_", " ").split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def usd(v: float, decimals: int = 2) -> str:
    """A price in dollars with the sign before the symbol: -$3.82, $62.06."""
    return f"{'-' if v < 0 else ''}${abs(v):,.{decimals}f}"


def money(v: float) -> str:
    """Compact USD: $5.72T, $39.4B, $512.3M, $950K."""
    a = abs(v)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= div:
            return f"{'-' if v < 0 else ''}${a / div:,.{2 if suffix == 'T' else 1}f}{suffix}"
    return usd(v, 0)


def percent(v: float, decimals: int = 1) -> str:
    return f"{v * 100:,.{decimals}f}%"


def probability(v: float) -> str:
    """A probability that never reads as certainty: '<0.1%' and '>99.9%' at the ends."""
    if v < 0.001:
        return "<0.1%"
    if v > 0.999:
        return ">99.9%"
    return percent(v)


def probability_rounded(p: float) -> str:
    """A headline probability at the precision it has: rounded to 5 points, never 0 or 100%:
    '≈ 90%', '> 95%', '< 5%'."""
    r = round(p * 20) / 20
    return "> 95%" if r >= 1 else "< 5%" if r <= 0 else f"≈ {r:.0%}"


def probability_headline(p: float, low: float, high: float) -> str:
    """The rounded probability with its range across methods: '≈ 90% (86% to 99% across methods)'."""
    return f"{probability_rounded(p)} ({probability(low)} to {probability(high)} across methods)"


def multiple(v: float) -> str:
    """10.2×, 0.83× (two decimals below 1×, so a small multiple never reads 0.0×), 1,234×."""
    return f"{v:,.2f}×" if abs(v) < 1 else f"{v:,.1f}×" if abs(v) < 1000 else f"{v:,.0f}×"


def number(v: float) -> str:
    """A plain number without scientific notation: thousands separators, sensible decimals."""
    a = abs(v)
    if a >= 100:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:,.2f}"
    return f"{v:.4f}".rstrip("0").rstrip(".") if v else "0"


TERMS = {"const": "Intercept", "revenue_growth": "Revenue growth", "gross_margin": "Gross margin",
         "revenue_growth_ntm": "NTM revenue growth"}


def words(name: str) -> str:
    """A machine name as words: 'offering.fully_diluted_shares' → 'offering: fully diluted shares',
    'price_usd:Priced' → 'price: Priced'."""
    return name.replace(".", ": ").replace("_usd", "").replace(":", ": ").replace(":  ", ": ").replace("_", " ")


def text(column: str, v: str) -> str:
    """A text cell in words where it holds a machine name: a method, a multiple, a regression
    term, a segment or a figure's field; other text as it is."""
    from comps.regression.specs import SPECS

    if column in ("spec", "method") and v in SPECS:
        return SPECS[v].title
    if column == "multiple":  # a column name: 'ev_to_revenue_ltm'
        return label(v)
    if column == "term":
        return TERMS.get(v, words(v))
    if column == "segment":
        return segment_label(v)
    if column in ("field", "figure"):
        return words(v)
    return v


def cell(column: str, v: object) -> str:
    """One value as a reader sees it, by the column's kind."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, str):
        return text(column, v)
    if not isinstance(v, int | float):
        return str(v)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    k = kind(column)
    return {"count": lambda x: f"{int(x):,}", "probability": probability, "decimal": lambda x: f"{x:.2f}",
            "coefficient": lambda x: f"{x:,.3f}", "price": usd, "money": money, "multiple": multiple,
            "percent": percent, "premium": lambda x: f"{x * 100:+,.0f}%", "ratio": lambda x: f"{x:.2f}"}.get(k, number)(v)


def by_unit(unit: str, v: object) -> str:
    """A value whose unit is stated beside it (the concentration and sources tables)."""
    if not isinstance(v, int | float) or isinstance(v, bool) or (isinstance(v, float) and math.isnan(v)):
        return cell("", v)
    if unit == "percent":
        return percent(v)
    if unit == "USD millions":
        return f"{v:,.1f}"
    if unit == "USD per share":
        return usd(v)
    return number(v)


def neutralize(v: object) -> object:
    """Defuse spreadsheet formula injection in a text cell (a leading apostrophe); numbers and
    other values pass through. Applied to CSV text cells only."""
    return "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v
