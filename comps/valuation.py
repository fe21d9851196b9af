"""Position the IPO target on the peer regressions at every price point. Pure functions.

For a price P with S shares: market cap = P·S, EV = market cap − net cash, and the implied
multiple = EV / base (base = 2025 revenue for EV/Revenue, gross profit for EV/Gross profit).
The regression gives a fair multiple M̂ at the target's growth; the concentration discount D
gives M* = M̂·(1 − D) (applied in :func:`apply_discount`, and nowhere else); the fair price is
(M*·base + net cash) / S and the premium is P / fair − 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from comps.concentration import Discount
from comps.regression import GROWTH, FitResult, Prediction
from comps.target import Target

VERDICTS = ("above band", "within band", "below band")


def target_inputs(target: Target) -> dict[str, float]:
    """The target's values under the peer table's column names."""
    gm = target.gross_margin.value if target.gross_margin else math.nan
    revenue = target.revenue_usd.value
    return {
        GROWTH: target.revenue_growth,
        "gross_margin": gm,
        "revenue_ltm_usd": revenue,
        "gross_profit_ltm_usd": revenue * gm,
    }


def apply_discount(multiple: float | np.ndarray, discount: float) -> float | np.ndarray:
    """The one place the concentration discount touches a multiple."""
    return multiple * (1.0 - discount)


def price_from_multiple(multiple: float | np.ndarray, base_usd: float, net_cash_usd: float,
                        shares: float) -> float | np.ndarray:
    """USD per share from an EV multiple (×) of ``base_usd``: (M·base + net cash) / shares."""
    return (multiple * base_usd + net_cash_usd) / shares


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
    bootstrap: np.ndarray  # undiscounted fair multiples (×)

    def fair_price(self, multiple: float | np.ndarray, discount: float | None = None) -> float | np.ndarray:
        """USD per share of an *undiscounted* multiple, after the discount."""
        d = self.discount.discount if discount is None else discount
        return price_from_multiple(apply_discount(multiple, d), self.base_usd, self.net_cash_usd, self.shares)

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
    """The fair value at each interval level (and the bootstrap's 5-95 %), discount applied, as a
    multiple (×), EV, equity value (EV + net cash) and price per share (USD)."""
    d = sv.discount.discount

    def row(kind: str, level: float, m_low: float, m_high: float) -> dict:
        lo, hi = apply_discount(m_low, d), apply_discount(m_high, d)
        return {"spec": sv.fit.spec.name, "n": sv.fit.n, "interval": kind, "level": level,
                "multiple_low": lo, "multiple_high": hi,
                "ev_low_usd": lo * sv.base_usd, "ev_high_usd": hi * sv.base_usd,
                "equity_low_usd": lo * sv.base_usd + sv.net_cash_usd,
                "equity_high_usd": hi * sv.base_usd + sv.net_cash_usd,
                "price_low_usd": sv.fair_price(m_low), "price_high_usd": sv.fair_price(m_high)}

    p = sv.prediction
    rows = [row("point", 0.0, p.multiple, p.multiple)]
    rows += [row("confidence", iv.level, iv.ci_low, iv.ci_high) for iv in p.intervals]
    rows += [row("prediction", iv.level, iv.pi_low, iv.pi_high) for iv in p.intervals]
    if sv.bootstrap.size:
        q5, q95 = np.percentile(sv.bootstrap, [5, 95])
        rows.append(row("bootstrap", 0.90, float(q5), float(q95)) | {"draws": int(sv.bootstrap.size)})
    return rows


def price_rows(sv: SpecValuation, target: Target, headline: float) -> list[dict]:
    """One row per price point for one spec."""
    x = target_inputs(target)
    shares, net_cash = sv.shares, sv.net_cash_usd
    pred, d = sv.prediction, sv.discount.discount
    band = pred.interval(headline)
    fair = sv.fair_price(pred.multiple)
    lo, hi = sv.fair_price(band.pi_low), sv.fair_price(band.pi_high)
    boot_prices = sv.fair_price(sv.bootstrap)
    rows = []
    for p in target.price_points:
        mcap = p.price_usd * shares
        ev = mcap - net_cash
        implied = ev / sv.base_usd
        undiscounted = implied / (1.0 - d) if d < 1 else math.inf
        rows.append({
            "spec": sv.fit.spec.name, "n": sv.fit.n, "price_point": p.label, "kind": p.kind, "price_usd": p.price_usd,
            "market_cap_usd": mcap, "net_cash_assumed_usd": net_cash, "enterprise_value_usd": ev,
            "ev_to_revenue_2025": ev / target.revenue_usd.value,
            "price_to_sales_2025": mcap / target.revenue_usd.value,
            "multiple": sv.fit.spec.y, "implied_multiple": implied,
            "fair_multiple": pred.multiple,
            f"pi{headline * 100:.0f}_low_multiple": band.pi_low,
            f"pi{headline * 100:.0f}_high_multiple": band.pi_high,
            "discount": d, "fair_multiple_discounted": apply_discount(pred.multiple, d),
            "fair_ev_usd": apply_discount(pred.multiple, d) * sv.base_usd,
            "fair_price_usd": fair,
            f"pi{headline * 100:.0f}_low_price_usd": lo, f"pi{headline * 100:.0f}_high_price_usd": hi,
            "premium_to_fair": p.price_usd / fair - 1.0 if fair > 0 else math.nan,
            "pi_percentile": pred.percentile(undiscounted),
            "p_price_above_fair": float(np.mean(p.price_usd > boot_prices)) if boot_prices.size else math.nan,
            "implied_growth": sv.fit.solve_for_growth(undiscounted, x),
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
    change = price / base_fair - 1.0
    return pd.DataFrame({"spec": sv.fit.spec.name, "dropped": loo.index, "fair_price_usd": price,
                         "fair_price_change": change, "discount": d,
                         "verdict_flips": ["; ".join(f) for f in flips],
                         "influential": (np.abs(change) > threshold) | np.array([bool(f) for f in flips])})


def sensitivity(sv: SpecValuation, target: Target, discounts: Sequence[float],
                growths: Sequence[float]) -> pd.DataFrame:
    """Fair price per share (USD) over a grid: rows = target growth, columns = discount."""
    x = dict(target_inputs(target))
    out = {}
    for g in growths:
        x[GROWTH] = g
        m = sv.fit.predict(x, ()).multiple
        out[g] = [sv.fair_price(m, d) for d in discounts]
    frame = pd.DataFrame.from_dict(out, orient="index", columns=list(discounts))
    frame.index.name = "revenue_growth"
    frame.columns.name = "discount"
    return frame


def peer_multiple_values(peers: pd.DataFrame, fitted: Sequence[str], target: Target,
                         column: str = "ev_to_revenue_ltm") -> pd.DataFrame:
    """Fair price per share at the fitted peers' quartile multiples (no regression, no discount)."""
    m = peers.loc[list(fitted), column].dropna()
    x = target_inputs(target)
    rows = []
    for name, q in (("peer Q1", 0.25), ("peer median", 0.5), ("peer Q3", 0.75)):
        mult = float(m.quantile(q))
        rows.append({"method": name, "multiple": column, "value_multiple": mult, "n": len(m),
                     "fair_price_usd": price_from_multiple(mult, x["revenue_ltm_usd"],
                                                           target.net_cash_assumed_usd,
                                                           target.shares_outstanding.value)})
    return pd.DataFrame(rows)


def checklist(rows: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The seed article's signals at each price point, on the chosen spec's rows.

    walk-away: market cap in or above the walk-away band while concentration is not falling;
    wait: price above the prediction band (discount applied); follow: price within the band;
    soft warning: gross margin falling while revenue grows."""
    lo, hi = target.checklist.walk_away_market_cap_usd
    declining = target.checklist.concentration_declining
    gm, gm0 = target.gross_margin, target.gross_margin_prior
    soft = bool(gm and gm0 and gm.value < gm0.value and target.revenue_growth > 0)
    out = []
    for _, r in rows.iterrows():
        mcap = r["market_cap_usd"]
        if mcap >= lo and not declining:
            signal = "walk-away" + (" (above band)" if mcap >= hi else " (in band)")
        elif r["verdict"] == VERDICTS[0]:
            signal = "wait"
        elif r["verdict"] == VERDICTS[1]:
            signal = "follow"
        else:
            signal = "follow (below band)"
        out.append({"price_point": r["price_point"], "price_usd": r["price_usd"], "market_cap_usd": mcap,
                    "signal": signal, "soft_warning_margin": soft,
                    "p_price_above_fair": r["p_price_above_fair"], "verdict": r["verdict"]})
    return pd.DataFrame(out)

