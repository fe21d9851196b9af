"""Tables for the outputs: the frames of a build, made safe and readable. Formatting lives
here only; nothing is computed that the build did not already compute."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from comps.result import BuildResult

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """Defuse spreadsheet formula injection: a text cell starting with = + - @ (or tab/CR)
    gets a leading apostrophe. Numbers are left alone."""
    def fix(v: object) -> object:
        return "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(fix)
    out.columns = [fix(str(c)) for c in out.columns]
    return out


def to_csv(frame: pd.DataFrame) -> str:
    return neutralize(frame).to_csv(index=False, float_format="%.10g", lineterminator="\n")


def usd(v: float, decimals: int = 2) -> str:
    """A price in dollars with the sign before the symbol: -$3.82, $62.06."""
    return f"{'-' if v < 0 else ''}${abs(v):,.{decimals}f}"


def _fmt(col: str, v: object) -> str:
    """Human format by the unit in the column name."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, int | float):
        return str(v)
    c = col.lower()
    if c.endswith("_usd") and "price" in c:
        return usd(v)
    if c.endswith("_usd"):
        return usd(v / 1e9) + "B"
    if "multiple" in c or c.startswith(("ev_to", "price_to")):
        return f"{v:.1f}×"
    if "rmse_log" in c:  # a log ratio: 0.100 is about a 10 % error
        return f"{v:.3f}"
    if any(k in c for k in ("growth", "margin", "discount", "premium", "percentile", "p_price", "change",
                            "share", "r_squared")):
        return f"{v:.1%}"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def to_markdown(frame: pd.DataFrame) -> str:
    shown = pd.DataFrame({c: [_fmt(str(c), v) for v in frame[c]] for c in frame.columns})
    return neutralize(shown).to_markdown(index=False, disable_numparse=True) + "\n"


PEER_DISPLAY = ["ticker", "name", "segment", "include", "market_cap_usd", "market_cap_date",
                "market_data_age_days", "enterprise_value_usd", "revenue_ltm_usd", "revenue_basis",
                "revenue_growth", "gross_margin", "ev_to_revenue_ltm", "ev_to_gross_profit_ltm",
                "price_to_sales_ltm", "missing", "notes"]

VALUATION_DISPLAY = ["price_point", "price_usd", "market_cap_usd", "enterprise_value_usd",
                     "ev_to_revenue_ltm", "fair_multiple", "discount", "fair_multiple_discounted",
                     "fair_price_usd", "premium_to_fair", "p_peer_below_price",
                     "implied_growth", "verdict"]


def tables(result: BuildResult) -> dict[str, pd.DataFrame]:
    """Every table a build writes, by file stem."""
    used = {(r["file"], r["line"]) for r in result.snapshots.rows}
    out = {(r["file"], r["line"]): r["reason"] for r in result.snapshots.left_out}
    sources = pd.DataFrame([
        {"ticker": r["ticker"], "field": r["field"], "value": r["value"], "unit": r["unit"],
         "date": r["date"].isoformat() if r["date"] else "",
         "published": r["published"].isoformat() if r["published"] else "",
         "status": "used" if (r["file"], r["line"]) in used else out.get((r["file"], r["line"]), "superseded"),
         "file": r["file"].name, "source_url": r["source_url"], "note": r["note"]}
        for r in result.snapshots.all_rows])
    target_sources = pd.DataFrame(result.target.provenance())
    sens = result.sensitivity.copy()
    sens.columns = [f"discount_{c:.0%}" for c in sens.columns]
    sens = sens.reset_index().rename(columns={"revenue_growth": "revenue_growth"})
    spec_sens = result.spec_sensitivity.copy()
    spec_sens.columns = [f"fair_price_usd_discount_{c:.0%}" for c in spec_sens.columns]
    coefs = pd.concat([f.to_frame() for f in result.fits.values()], ignore_index=True)
    return {
        "peers": result.peers.reset_index(drop=True),
        "regression": result.regression_table(),
        "coefficients": coefs,
        "valuation": result.valuation,
        "intervals": pd.concat([sv.to_frame() for sv in result.specs.values()], ignore_index=True),
        "influence": result.influence,
        "sensitivity": sens,
        "spec_sensitivity": spec_sens.reset_index(),
        "peer_multiple_values": result.peer_values,
        "checklist": result.checklist,
        "concentration": result.specs[result.chosen].discount.to_frame(),
        "sources_peers": sources,
        "sources_target": target_sources,
    } | ({"refresh": result.refresh} if not result.refresh.empty else {})
