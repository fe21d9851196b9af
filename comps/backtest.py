"""How the method did on past IPOs: each IPO valued at its own pricing date by the same engine,
scored against what followed. Pure functions over :class:`~comps.result.BuildResult` objects and
the outcomes table (:mod:`comps.sources.outcomes`).

For every IPO and every method that valued it:

- *accuracy at the offer*: V, the method's value per share (the break-even price of its fair
  multiple), against the offer price P: ln(V/P) and whether |V/P − 1| ≤ 15 % (Kim & Ritter
  1999); the same against the first-day close;
- *calibration*: where the realized price fell in the method's predictive distribution
  (the probability integral transform, P(a peer like it is valued below that price)), at the
  first-day close and at +6 months, and whether it lay inside the 80 % and 90 % bands;
- *signal*: P/V and the headline probability at the offer against the first-day return and
  the 12-month return in excess of the benchmark (Purnanandam & Swaminathan 2004: overvalued
  IPOs rise more on day one, then lag); the range revision (Hanley 1993) as the no-model
  baseline for the first-day return; and the checklist's call at the offer.

A trading price after the pricing keeps the proceeds raised at the offer price (EV bridge).
Outcomes dated after ``known_by`` are treated as not yet known. With fewer than ten IPOs the
summary is descriptive: n is given and no p-value is computed.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from comps.bridge import offer_price
from comps.metrics import shift_months
from comps.valuation import apply_discount

#: below this many IPOs the backtest describes; it does not test
MIN_FOR_INFERENCE = 10
#: a benchmark close counts for an outcome's day if it is within this many days of it
BENCH_TOLERANCE_DAYS = 5
LEVELS = (0.8, 0.9)


def _outcome(outcomes: pd.DataFrame, ticker: str, field: str, known_by: dt.date | None) -> tuple[float, dt.date | None]:
    rows = outcomes[(outcomes["ticker"] == ticker) & (outcomes["field"] == field)]
    if known_by is not None:
        rows = rows[rows["date"] <= known_by]
    if rows.empty:
        return math.nan, None
    r = rows.iloc[-1]
    return float(r["value"]), r["date"]


def _bench(outcomes: pd.DataFrame, day: dt.date | None) -> float:
    if day is None:
        return math.nan
    rows = outcomes[outcomes["field"] == "benchmark_close"]
    gaps = rows["date"].map(lambda d: abs((d - day).days))
    near = rows[gaps <= BENCH_TOLERANCE_DAYS]
    return float(near.loc[gaps[near.index].idxmin(), "value"]) if len(near) else math.nan


def _excess(p0: float, p1: float, b0: float, b1: float) -> float:
    """The stock's return from p0 to p1 less the benchmark's from b0 to b1."""
    return (p1 / p0 - 1) - (b1 / b0 - 1)


def accuracy(value: float, price: float) -> dict[str, float | bool]:
    """A value per share against a price: ln(V/P), whether V is within ±15 % of P (Kim &
    Ritter 1999), and P/V (above 1: priced above the value)."""
    positive = value > 0
    return {"ln_value_to_offer": math.log(value / price) if positive else -math.inf,
            "within_15pct": bool(abs(value / price - 1) <= 0.15), "p_over_v": price / value if positive else math.inf}


def ipo_rows(result, outcomes: pd.DataFrame, known_by: dt.date | None = None) -> list[dict]:
    """One row per method that valued this IPO: its value at the offer against what followed."""
    t = result.target
    offer = offer_price(t)
    if offer is None:
        return []
    known = known_by or result.config.today or dt.date.today()
    close1, day1 = _outcome(outcomes, t.ticker, "first_day_close", known_by)
    close6, day6 = _outcome(outcomes, t.ticker, "close_6m", known_by)
    close12, day12 = _outcome(outcomes, t.ticker, "close_12m", known_by)
    bench0 = _bench(outcomes, result.as_of)
    bench1, bench6, bench12 = (_bench(outcomes, d) for d in (day1, day6, day12))
    initial = [p.price_usd for p in t.price_points if p.kind == "range"]
    revision = offer / ((min(initial) + max(initial)) / 2) - 1 if initial else math.nan
    chk = result.checklist.set_index("price_point")
    priced = next(p.label for p in t.price_points if p.kind == "priced" and p.price_usd == offer)
    rows = []
    for name, sv in result.specs.items():
        value = sv.breakeven()
        d = sv.discount.discount
        row = {"ticker": t.ticker, "name": t.name, "pricing_date": result.as_of, "method": name,
               "kind": sv.fit.spec.kind, "headline": name == result.chosen, "n_peers": sv.fit.n,
               "offer_usd": offer, "value_usd": value, **accuracy(value, offer), "p_below_offer": sv.p_below(offer),
               "first_day_close_usd": close1, "close_6m_usd": close6, "close_12m_usd": close12,
               "ln_value_to_first_close": math.log(value / close1) if value > 0 and close1 > 0 else math.nan,
               "first_day_return": close1 / offer - 1, "return_6m": close6 / close1 - 1,
               "excess_return_6m": _excess(close1, close6, bench1, bench6),
               "excess_return_12m": _excess(close1, close12, bench1, bench12),
               "first_day_return_vs_benchmark": _excess(offer, close1, bench0, bench1),
               "range_revision": revision,
               "checklist_at_offer": chk.at[priced, "signal"] if name == result.chosen else ""}
        for level in LEVELS:  # the band as values per share (break-even prices of its ends)
            iv = sv.prediction.interval(level)
            row[f"band_{level * 100:.0f}_low_usd"] = max(sv.breakeven(iv.pi_low), 0.0)
            row[f"band_{level * 100:.0f}_high_usd"] = sv.breakeven(iv.pi_high)
        for label, price in (("first_day", close1), ("6m", close6)):
            if not price > 0:
                row[f"pit_{label}"] = math.nan
                for level in LEVELS:
                    row[f"in_{level:.0%}_band_{label}".replace("%", "")] = math.nan
                continue
            row[f"pit_{label}"] = sv.p_below(price, trading=True)
            m = sv.implied(price, trading=True)
            for level in LEVELS:
                iv = sv.prediction.interval(level)
                lo, hi = apply_discount(iv.pi_low, d), apply_discount(iv.pi_high, d)
                row[f"in_{level:.0%}_band_{label}".replace("%", "")] = bool(lo <= m <= hi)
        row["outcomes_missing"] = "; ".join(
            f"{what} {'not yet known (due about ' + str(due) + ')' if due > known else 'not in the stored sources'}"
            for what, v, due in (("first-day close", close1, result.as_of), ("+6m close", close6, shift_months(result.as_of, 6)),
                                 ("+12m close", close12, shift_months(result.as_of, 12))) if not v > 0)
        rows.append(row)
    return rows


def spearman_with_interval(x: Iterable[float], y: Iterable[float], *, resamples: int = 2000,
                           seed: int = 0) -> tuple[float, float, float, int]:
    """(Spearman ρ, its 5 % and 95 % bootstrap percentiles, n) over the pairs where both are
    finite; resamples whose ranks are constant are skipped. NaN where n < 3. Vectorized: ρ is
    the Pearson correlation of the ranks, every resample ranked at once."""
    from scipy import stats

    pairs = np.array([(a, b) for a, b in zip(x, y, strict=True) if np.isfinite(a) and np.isfinite(b)])
    n = len(pairs)
    if n < 3:
        return math.nan, math.nan, math.nan, n
    rho = float(stats.spearmanr(pairs[:, 0], pairs[:, 1]).statistic)
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    rx, ry = (stats.rankdata(pairs[idx, j], axis=1) for j in (0, 1))
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    ok = den > 0
    draws = (rx * ry).sum(axis=1)[ok] / den[ok]
    lo, hi = np.percentile(draws, [5, 95]) if draws.size else (math.nan, math.nan)
    return rho, float(lo), float(hi), n


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per method (and 'headline': whichever method each build chose): n IPOs, the
    median |ln(V/P)| and the share within ±15 % at the offer and against the first-day close,
    and the 80% and 90% band coverage of the first-day and +6-month prices."""
    groups = [("headline (the engine's call)", rows[rows["headline"]])]
    groups += [(m, g) for m, g in rows.groupby("method", sort=False)]
    out = []
    for name, g in groups:
        def share(col: str, g=g) -> float:
            v = g[col].dropna().astype(float)
            return float(v.mean()) if len(v) else math.nan

        out.append({"method": name, "n_ipos": len(g),
                    "median_abs_ln_value_to_offer": float(np.median(np.abs(g["ln_value_to_offer"]))),
                    "within_15pct_of_offer": share("within_15pct"),
                    "median_abs_ln_value_to_first_close": float(np.nanmedian(np.abs(g["ln_value_to_first_close"])))
                    if g["ln_value_to_first_close"].notna().any() else math.nan,
                    "coverage_80_first_day": share("in_80_band_first_day"),
                    "coverage_90_first_day": share("in_90_band_first_day"),
                    "coverage_80_6m": share("in_80_band_6m"), "coverage_90_6m": share("in_90_band_6m"),
                    "n_with_6m": int(g["in_90_band_6m"].notna().sum())})
    return pd.DataFrame(out)


def signals(rows: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Does the engine's call at the offer say anything about what followed? Spearman ρ with a
    bootstrap interval for P/V and the headline probability against the first-day and 12-month
    excess returns, and the range revision (Hanley 1993) against the first-day return."""
    head = rows[rows["headline"]]
    out = []
    for signal, outcome, expected in (("p_over_v", "first_day_return", "+ (overvalued IPOs pop more on day one)"),
                                      ("p_over_v", "excess_return_12m", "- (then lag the sector)"),
                                      ("p_below_offer", "first_day_return", "+"),
                                      ("p_below_offer", "excess_return_12m", "-"),
                                      ("range_revision", "first_day_return", "+ (Hanley 1993: the no-model baseline)")):
        rho, lo, hi, n = spearman_with_interval(head[signal], head[outcome], seed=seed)
        out.append({"signal": signal, "outcome": outcome, "n_ipos": n, "spearman_rho": rho,
                    "bootstrap_5pct": lo, "bootstrap_95pct": hi, "sign_expected": expected})
    return pd.DataFrame(out)


def validated(summary: pd.DataFrame) -> tuple[bool, str]:
    """Whether the backtest supports the headline probability: at least MIN_FOR_INFERENCE IPOs,
    with the headline's 90% band covering 80% to 97% of first-day prices; and why not."""
    head = summary[summary["method"].str.startswith("headline")]
    if head.empty or head["n_ipos"].iloc[0] == 0:
        return False, "no past IPO was scored"
    n, cov = int(head["n_ipos"].iloc[0]), float(head["coverage_90_first_day"].iloc[0])
    if n < MIN_FOR_INFERENCE:
        return False, f"only {n} past IPO{'s' if n != 1 else ''} scored, too few to calibrate a probability"
    if not 0.80 <= cov <= 0.97:
        return False, f"the 90% band covered {cov:.0%} of first-day prices, outside 80% to 97%"
    return True, f"{n} past IPOs; the 90% band covered {cov:.0%} of first-day prices"


@dataclass(frozen=True)
class TrackRecord:
    """How the method did on the past IPOs a build could know about: their rows, the summary per
    method, the signals, and whether that supports the headline probability."""

    rows: pd.DataFrame  # one per IPO × method (ipo_rows)
    summary: pd.DataFrame
    signals: pd.DataFrame
    validated: bool
    reason: str
    notes: tuple[str, ...] = ()  # past IPOs that could not be valued, and why

    @classmethod
    def from_rows(cls, rows: pd.DataFrame, notes: tuple[str, ...] = (), seed: int = 0) -> TrackRecord:
        if rows.empty:
            return cls(rows, pd.DataFrame(), pd.DataFrame(), False, "no past IPO was scored", notes)
        summary = summarize(rows)
        ok, reason = validated(summary)
        return cls(rows, summary, signals(rows, seed), ok, reason, notes)

    @property
    def tickers(self) -> list[str]:
        return list(dict.fromkeys(self.rows["ticker"])) if len(self.rows) else []

    def to_frame(self) -> pd.DataFrame:
        """The engine's headline call on each past IPO, one row each."""
        return self.rows[self.rows["headline"]].reset_index(drop=True) if len(self.rows) else self.rows
