"""Position the IPO target on the peer regressions at every price point. Pure functions.

For a price P with S shares: market cap = P·S, EV = market cap − net cash, and the implied
multiple = EV / base (base = the target's latest fiscal-year revenue for EV/Revenue, its gross
profit for EV/Gross profit). The regression gives a fair multiple M̂ at the target's growth; the
concentration discount D gives M* = M̂·(1 − D) (applied in :func:`apply_discount`, and nowhere
else); the fair price is (M*·base + net cash) / S and the premium is P / fair − 1.

The headline probability is predictive: P(a peer with the target's fundamentals, discounted
for concentration, is valued below P), the predictive distribution's CDF at the implied
multiple. Linear specs put some predictive mass below zero; no negative multiple or price is
reported: bounds are truncated at zero and flagged (``*_truncated``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from comps.concentration import Discount
from comps.metrics import growth_adjusted
from comps.regression import GROWTH, FitResult, Prediction, Spec
from comps.target import Target

VERDICTS = ("above band", "within band", "below band")


def target_inputs(target: Target) -> dict[str, float]:
    """The target's values under the peer table's column names (NaN where it has none)."""
    gm = target.gross_margin.value if target.gross_margin else math.nan
    revenue = target.revenue_usd.value
    return {
        GROWTH: target.revenue_growth,
        "gross_margin": gm,
        "revenue_ltm_usd": revenue,
        "gross_profit_ltm_usd": revenue * gm,
        "revenue_ntm_usd": math.nan,
        "revenue_growth_ntm": math.nan,
    }


def missing_inputs(spec: Spec, x: dict[str, float]) -> list[str]:
    """The target values ``spec`` needs that ``x`` lacks (regressors and the multiple's base)."""
    return [c for c in (*spec.x, spec.base) if not np.isfinite(x.get(c, math.nan))]


def apply_discount(multiple: float | np.ndarray, discount: float) -> float | np.ndarray:
    """The one place the concentration discount touches a multiple."""
    return multiple * (1.0 - discount)


def price_from_multiple(multiple: float | np.ndarray, base_usd: float, net_cash_usd: float,
                        shares: float) -> float | np.ndarray:
    """USD per share from an EV multiple (×) of ``base_usd``: (M·base + net cash) / shares."""
    return (multiple * base_usd + net_cash_usd) / shares


def floor0(v: float | np.ndarray) -> float | np.ndarray:
    """Truncate at zero: no negative multiple or price reaches a user."""
    return np.maximum(v, 0.0) if isinstance(v, np.ndarray) else max(float(v), 0.0)


def verdict(price: float, low: float | np.ndarray, high: float | np.ndarray) -> str | np.ndarray:
    """Where a price sits against the fair-price band [low, high] (element-wise for arrays)."""
    out = np.where(price > high, VERDICTS[0], np.where(price < low, VERDICTS[2], VERDICTS[1]))
    return str(out) if out.ndim == 0 else out


@dataclass(frozen=True)
class SpecValuation:
    """One spec's fair value for the target (independent of the price point)."""

    fit: FitResult
    prediction: Prediction
    discount: Discount
    base_usd: float
    net_cash_usd: float
    shares: float
    bootstrap: np.ndarray  # pairs-bootstrap refits of the peer line at the target: undiscounted multiples (×)

    def fair_price(self, multiple: float | np.ndarray, discount: float | None = None) -> float | np.ndarray:
        """USD per share of an *undiscounted* multiple, after the discount."""
        d = self.discount.discount if discount is None else discount
        return price_from_multiple(apply_discount(multiple, d), self.base_usd, self.net_cash_usd, self.shares)

    def p_below(self, price: float) -> float:
        """Predictive P(a peer like the target, discounted, is valued below ``price`` per share)."""
        ev = price * self.shares - self.net_cash_usd
        d = self.discount.discount
        return self.prediction.percentile(ev / self.base_usd / (1.0 - d)) if d < 1 else 1.0

    def to_frame(self) -> pd.DataFrame:
        """The fair value at each interval, as multiple, EV, equity and price (see interval_rows)."""
        return pd.DataFrame(interval_rows(self))


def value_spec(fit: FitResult, target: Target, discount: Discount, *, levels: Sequence[float],
               bootstrap_draws: np.ndarray) -> SpecValuation:
    x = target_inputs(target)
    base = x[fit.spec.base]
    if not base > 0:
        raise ValueError(f"{fit.spec.label}: the target's {fit.spec.base} is not positive")
    return SpecValuation(fit, fit.predict(x, levels), discount, base, target.net_cash_assumed_usd,
                         target.shares_outstanding.value, bootstrap_draws)


def interval_rows(sv: SpecValuation) -> list[dict]:
    """The fair value at each interval level (and the parameter bootstrap's 5-95 %), discount
    applied, as a multiple (×), EV, equity value (EV + net cash) and price per share (USD),
    each truncated at zero (``low_truncated``)."""
    d = sv.discount.discount

    def row(kind: str, level: float, m_low: float, m_high: float) -> dict:
        lo, hi = apply_discount(m_low, d), apply_discount(m_high, d)
        return {"spec": sv.fit.spec.name, "n": sv.fit.n, "interval": kind, "level": level,
                "multiple_low": floor0(lo), "multiple_high": floor0(hi),
                "ev_low_usd": floor0(lo * sv.base_usd), "ev_high_usd": floor0(hi * sv.base_usd),
                "equity_low_usd": floor0(lo * sv.base_usd + sv.net_cash_usd),
                "equity_high_usd": floor0(hi * sv.base_usd + sv.net_cash_usd),
                "price_low_usd": floor0(sv.fair_price(m_low)), "price_high_usd": floor0(sv.fair_price(m_high)),
                "low_truncated": bool(sv.fair_price(m_low) < 0)}

    p = sv.prediction
    rows = [row("point", 0.0, p.multiple, p.multiple)]
    rows += [row("confidence", iv.level, iv.ci_low, iv.ci_high) for iv in p.intervals]
    rows += [row("prediction", iv.level, iv.pi_low, iv.pi_high) for iv in p.intervals]
    if sv.bootstrap.size:
        q5, q95 = np.percentile(sv.bootstrap, [5, 95])
        rows.append(row("parameter bootstrap", 0.90, float(q5), float(q95)) | {"draws": int(sv.bootstrap.size)})
    return rows


def band_columns(level: float) -> tuple[str, str]:
    """Names of the headline prediction band's price columns, e.g. pi90_low_price_usd."""
    return f"pi{level * 100:.0f}_low_price_usd", f"pi{level * 100:.0f}_high_price_usd"


def price_rows(sv: SpecValuation, target: Target, headline: float, weak_slope_p: float) -> list[dict]:
    """One row per price point for one spec. Implied growth is given only where the growth
    slope is significant (HC3 p < ``weak_slope_p``)."""
    x = target_inputs(target)
    pred, d = sv.prediction, sv.discount.discount
    band = pred.interval(headline)
    fair = sv.fair_price(pred.multiple)
    lo, hi = sv.fair_price(band.pi_low), sv.fair_price(band.pi_high)
    boot_prices = sv.fair_price(sv.bootstrap)
    p_slope = sv.fit.growth_p
    lo_col, hi_col = band_columns(headline)
    rows = []
    for p in target.price_points:
        mcap = p.price_usd * sv.shares
        ev = mcap - sv.net_cash_usd
        implied = ev / sv.base_usd
        undiscounted = implied / (1.0 - d) if d < 1 else math.inf
        if p_slope < weak_slope_p:
            g, g_note = sv.fit.solve_for_growth(undiscounted, x), ""
            if math.isnan(g):
                g_note = "n/a: the growth slope is not positive"
        else:
            g, g_note = math.nan, f"n/a: slope not significant (HC3 p = {p_slope:.2f})"
        rows.append({
            "spec": sv.fit.spec.name, "n": sv.fit.n, "price_point": p.label, "kind": p.kind,
            "price_date": p.date, "price_usd": p.price_usd,
            "market_cap_usd": mcap, "net_cash_assumed_usd": sv.net_cash_usd, "enterprise_value_usd": ev,
            "ev_to_revenue_ltm": ev / target.revenue_usd.value, "price_to_sales_ltm": mcap / target.revenue_usd.value,
            "multiple": sv.fit.spec.y, "implied_multiple": implied,
            "fair_multiple": floor0(pred.multiple),
            f"pi{headline * 100:.0f}_low_multiple": floor0(band.pi_low),
            f"pi{headline * 100:.0f}_high_multiple": floor0(band.pi_high),
            "discount": d, "fair_multiple_discounted": floor0(apply_discount(pred.multiple, d)),
            "fair_ev_usd": floor0(apply_discount(pred.multiple, d) * sv.base_usd),
            "fair_price_usd": floor0(fair), lo_col: floor0(lo), hi_col: floor0(hi),
            "band_low_truncated": bool(lo < 0),
            "premium_to_fair": p.price_usd / fair - 1.0 if fair > 0 else math.nan,
            "p_peer_below_price": sv.p_below(p.price_usd),
            "p_line_below_price_param_boot": float(np.mean(boot_prices < p.price_usd)) if boot_prices.size else math.nan,
            "implied_growth": g, "implied_growth_note": g_note,
            "verdict": verdict(p.price_usd, lo, hi),
        })
    return rows


def influence(sv: SpecValuation, target: Target, headline: float,
              discount_without: Callable[[str], float], threshold: float) -> pd.DataFrame:
    """Leave-one-out fair value: for each fitted peer, the fair price with that peer dropped
    (refit and, for the peer-relative discount, a reference without it). Flags peers whose
    removal moves the fair price by more than ``threshold`` (a fraction) or changes the verdict
    at any price point."""
    from scipy import stats

    loo = sv.fit.loo_predict(target_inputs(target))
    back = np.exp if sv.fit.spec.log_y else (lambda v: v)
    base_fair = sv.fair_price(sv.prediction.multiple)
    band = sv.prediction.interval(headline)
    base_lo, base_hi = sv.fair_price(band.pi_low), sv.fair_price(band.pi_high)
    d = np.array([discount_without(str(t)) for t in loo.index])
    df = loo["df_resid"].to_numpy(dtype=float)
    t = stats.t.ppf(0.5 + headline / 2, np.where(df > 0, df, np.nan))
    mu, se = loo["mu"].to_numpy(), loo["se_pred"].to_numpy()
    price = sv.fair_price(loo["multiple"].to_numpy(), d)
    lo, hi = sv.fair_price(back(mu - t * se), d), sv.fair_price(back(mu + t * se), d)
    flips = [[] for _ in range(len(loo))]
    for p in target.price_points:
        before = verdict(p.price_usd, base_lo, base_hi)
        after = verdict(p.price_usd, lo, hi)
        for i in np.flatnonzero(after != before):
            flips[i].append(p.label)
    change = price / base_fair - 1.0 if base_fair > 0 else np.full(len(price), np.nan)
    return pd.DataFrame({"spec": sv.fit.spec.name, "dropped": loo.index, "fair_price_usd": floor0(price),
                         "fair_price_change": change, "discount": d,
                         "verdict_flips": ["; ".join(f) for f in flips],
                         "influential": (np.abs(change) > threshold) | np.array([bool(f) for f in flips])})


def sensitivity(sv: SpecValuation, target: Target, discounts: Sequence[float],
                growths: Sequence[float]) -> pd.DataFrame:
    """Fair price per share (USD, truncated at zero) over a grid: rows = target growth,
    columns = discount."""
    x = dict(target_inputs(target))
    out = {}
    for g in growths:
        x[sv.fit.spec.growth] = g
        m = sv.fit.predict(x, ()).multiple
        out[g] = [floor0(sv.fair_price(m, d)) for d in discounts]
    frame = pd.DataFrame.from_dict(out, orient="index", columns=list(discounts))
    frame.index.name = "revenue_growth"
    frame.columns.name = "discount"
    return frame


def peer_distribution(peers: pd.DataFrame, fitted: Sequence[str], rows: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The comparison that needs no slope: each price point's EV/Revenue and EV/Gross profit
    as a percentile of the fitted peers' (the share of peers at or below it), beside the
    peers' quartiles, and its growth-adjusted EV/Revenue (÷ growth in %) against the peers'
    median. Stays meaningful when the regression explains little."""
    sample = peers.loc[[t for t in fitted if t in peers.index]]
    gm = target.gross_margin.value if target.gross_margin else math.nan
    g = target.revenue_growth
    out = []
    for column, base in (("ev_to_revenue_ltm", target.revenue_usd.value),
                         ("ev_to_gross_profit_ltm", target.revenue_usd.value * gm)):
        m = sample[column].dropna()
        if m.empty or not base > 0:
            continue
        ga = sample["growth_adjusted_multiple"].dropna()
        for _, r in rows.iterrows():
            implied = r["enterprise_value_usd"] / base
            adj = growth_adjusted(implied, g) if column == "ev_to_revenue_ltm" else math.nan
            out.append({
                "multiple": column, "price_point": r["price_point"], "price_usd": r["price_usd"],
                "implied_multiple": implied, "n": len(m), "peer_percentile": float((m <= implied).mean()),
                "peer_min": float(m.min()), "peer_q1": float(m.quantile(0.25)), "peer_median": float(m.median()),
                "peer_q3": float(m.quantile(0.75)), "peer_max": float(m.max()),
                "premium_to_peer_median": implied / float(m.median()) - 1.0,
                "growth_adjusted_multiple": adj,
                "peer_median_growth_adjusted": float(ga.median()) if column == "ev_to_revenue_ltm" and len(ga) else math.nan,
            })
    return pd.DataFrame(out)


def peer_multiple_values(peers: pd.DataFrame, fitted: Sequence[str], target: Target,
                         column: str = "ev_to_revenue_ltm") -> pd.DataFrame:
    """Fair price per share at the fitted peers' quartile multiples (no regression, no discount)."""
    m = peers.loc[list(fitted), column].dropna()
    x = target_inputs(target)
    base = x["revenue_ltm_usd"] if column == "ev_to_revenue_ltm" else x["gross_profit_ltm_usd"]
    rows = []
    for name, q in (("peer Q1", 0.25), ("peer median", 0.5), ("peer Q3", 0.75)):
        mult = float(m.quantile(q))
        rows.append({"method": name, "multiple": column, "value_multiple": mult, "n": len(m),
                     "fair_price_usd": price_from_multiple(mult, base, target.net_cash_assumed_usd,
                                                           target.shares_outstanding.value)})
    return pd.DataFrame(rows)


def checklist(rows: pd.DataFrame, target: Target, peer_q3: float | None = None) -> pd.DataFrame:
    """The seed article's signals at each price point, on the chosen spec's rows.

    walk-away: market cap in or above the target's walk-away band (if it sets one) while
    concentration is not falling;
    wait: the price is "far ahead" of the peers: above the prediction band when the fit prices
    growth, or, when it does not (``peer_q3`` given), an EV/Revenue above the peers' upper
    quartile; follow: otherwise. soft warning: gross margin falling while revenue grows."""
    band = target.checklist.walk_away_market_cap_usd
    declining = target.checklist.concentration_declining
    gm, gm0 = target.gross_margin, target.gross_margin_prior
    soft = bool(gm and gm0 and gm.value < gm0.value and target.revenue_growth > 0)
    out = []
    for _, r in rows.iterrows():
        mcap = r["market_cap_usd"]
        if peer_q3 is not None:
            ahead, basis = r["ev_to_revenue_ltm"] > peer_q3, "peer upper quartile"
        else:
            ahead, basis = r["verdict"] == VERDICTS[0], "prediction band"
        if band is not None and mcap >= band[0] and not declining:
            signal = (f"walk-away (market cap {'above' if mcap >= band[1] else 'in'} the "
                      f"${band[0] / 1e9:,.0f}-{band[1] / 1e9:,.0f}B band)")
        elif ahead:
            signal = "wait"
        elif peer_q3 is None and r["verdict"] == VERDICTS[2]:
            signal = "follow (below band)"
        else:
            signal = "follow"
        out.append({"price_point": r["price_point"], "price_usd": r["price_usd"], "market_cap_usd": mcap,
                    "ev_to_revenue_ltm": r["ev_to_revenue_ltm"], "signal": signal, "wait_test": basis,
                    "soft_warning_margin": soft, "p_peer_below_price": r["p_peer_below_price"], "verdict": r["verdict"]})
    return pd.DataFrame(out)
