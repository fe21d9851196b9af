"""Position the IPO target on each valuation method at every price point. Pure functions.

For a price P: market cap = P × basic shares; EV = market cap − net cash(P) (the EV bridge of
:mod:`comps.bridge`, where the IPO's own proceeds are cash); the implied multiple is EV / base
(the target's latest fiscal-year revenue, or its gross profit). A method gives a fair multiple
M̂: a regression's fitted value at the target's growth, or the peer median. The concentration
discount D gives M* = M̂·(1 − D) (applied in :func:`apply_discount`, and nowhere else).

- fair price at P: (M*·base + net cash(P)) / shares, and the premium P / fair − 1;
- break-even price: the one price at which the implied multiple equals M*, that is
  P* = (M*·base + pre-offering net cash) / (shares − primary shares × (1 − spread));
- the headline probability is predictive: P(a peer with the target's fundamentals, discounted
  for concentration, is valued below P), with its range across the parametric t and jackknife+
  distributions and the discount's range.

No negative multiple or price is reported: bounds are truncated at zero and flagged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from comps.bridge import Terms, offer_price
from comps.concentration import Discount
from comps.metrics import growth_adjusted
from comps.regression import GROWTH, Method, Prediction, Spec
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
    return [c for c in (*spec.x, spec.base) if not np.isfinite(x.get(c, math.nan)) or x.get(c, 0) <= 0 and c == spec.base]


def apply_discount(multiple: float | np.ndarray, discount: float) -> float | np.ndarray:
    """The one place the concentration discount touches a multiple."""
    return multiple * (1.0 - discount)


def floor0(v: float | np.ndarray) -> float | np.ndarray:
    """Truncate at zero: no negative multiple or price reaches a user."""
    return np.maximum(v, 0.0) if isinstance(v, np.ndarray) else max(float(v), 0.0)


def verdict(price: float, low: float | np.ndarray, high: float | np.ndarray) -> str | np.ndarray:
    """Where a price sits against the fair-price band [low, high] (element-wise for arrays)."""
    out = np.where(price > high, VERDICTS[0], np.where(price < low, VERDICTS[2], VERDICTS[1]))
    return str(out) if out.ndim == 0 else out


def band_level(method: Method, headline: float) -> float:
    """The level of a method's headline band: the prediction interval at ``headline`` for a
    regression, the interquartile range (50 %) for the peer distribution."""
    return 0.5 if method.spec.kind == "baseline" else headline


def band_name(method: Method, headline: float) -> str:
    return "peer interquartile range" if method.spec.kind == "baseline" else f"{headline:.0%} prediction band"


@dataclass(frozen=True)
class SpecValuation:
    """One method's fair value for the target; price-dependent figures take the price."""

    fit: Method
    prediction: Prediction
    discount: Discount
    base_usd: float
    terms: Terms
    bootstrap: np.ndarray  # bootstrap draws of the fair multiple (undiscounted, ×)
    offer: float | None = None  # the price the deal was priced at, once it is

    @property
    def shares(self) -> float:
        return self.terms.shares

    def cash(self, price: float, end: str = "high", trading: bool = False) -> float:
        """Net cash at ``price``: raised at that price, or, for a ``trading`` price after the
        pricing, at the offer price."""
        return self.terms.net_cash(price, end, self.offer if trading else None)

    def fair_price(self, multiple: float | np.ndarray, price: float, discount: float | None = None,
                   end: str = "high", trading: bool = False) -> float | np.ndarray:
        """USD per share of an *undiscounted* multiple, after the discount, with the net cash the
        deal has at ``price``."""
        d = self.discount.discount if discount is None else discount
        return (apply_discount(multiple, d) * self.base_usd + self.cash(price, end, trading)) / self.shares

    def breakeven(self, multiple: float | None = None, discount: float | None = None, end: str = "high") -> float:
        """The offer price at which the implied multiple equals the discounted ``multiple``
        (default: the fair multiple): the price the method calls fair."""
        d = self.discount.discount if discount is None else discount
        m = self.prediction.multiple if multiple is None else multiple
        return float(self.terms.breakeven_price(apply_discount(m, d) * self.base_usd + self.terms.pre_net_cash, end))

    def implied(self, price: float, end: str = "high", trading: bool = False) -> float:
        """The target's multiple (×) of this method's base at ``price``."""
        return (price * self.shares - self.cash(price, end, trading)) / self.base_usd

    def p_below(self, price: float, discount: float | None = None, end: str = "high", how: str = "t",
                trading: bool = False) -> float:
        """P(a peer like the target, discounted, is valued below ``price``): the parametric
        predictive distribution (``how='t'``) or jackknife+ (``'jackknife+'``)."""
        d = self.discount.discount if discount is None else discount
        if d >= 1:
            return 1.0
        m = self.implied(price, end, trading) / (1.0 - d)
        return self.prediction.percentile(m) if how == "t" else self.prediction.jackknife_plus(m)

    def p_range(self, price: float, trading: bool = False) -> tuple[float, float]:
        """The lowest and highest P(below) across the t and jackknife+ distributions, the
        discount's range and both ends of the EV bridge."""
        ps = [self.p_below(price, d, end, how, trading) for how in ("t", "jackknife+") for end in ("low", "high")
              for d in (*self.discount.range, self.discount.discount)]
        ps = [p for p in ps if math.isfinite(p)]
        return min(ps), max(ps)

    def to_frame(self) -> pd.DataFrame:
        """The fair value at each interval, as multiple, EV and break-even price (see interval_rows)."""
        return pd.DataFrame(interval_rows(self))


def value_spec(method: Method, target: Target, discount: Discount, terms: Terms, *, levels: Sequence[float],
               bootstrap_draws: np.ndarray) -> SpecValuation:
    x = target_inputs(target)
    base = x[method.spec.base]
    if not base > 0:
        raise ValueError(f"{method.spec.label}: the target's {method.spec.base} is not positive")
    levels = tuple(sorted({*levels, 0.5})) if method.spec.kind == "baseline" else tuple(levels)
    return SpecValuation(method, method.predict(x, levels), discount, base, terms, bootstrap_draws,
                         offer_price(target))


def interval_rows(sv: SpecValuation) -> list[dict]:
    """The fair value at each interval level (and the bootstrap's 5-95 %), discount applied, as
    a multiple (×), an EV and a break-even price per share (USD), truncated at zero."""
    d = sv.discount.discount

    def row(kind: str, level: float, m_low: float, m_high: float) -> dict:
        lo, hi = apply_discount(m_low, d), apply_discount(m_high, d)
        p_lo, p_hi = sv.breakeven(m_low), sv.breakeven(m_high)
        return {"spec": sv.fit.spec.name, "n": sv.fit.n, "interval": kind, "level": level,
                "multiple_low": floor0(lo), "multiple_high": floor0(hi),
                "ev_low_usd": floor0(lo * sv.base_usd), "ev_high_usd": floor0(hi * sv.base_usd),
                "price_low_usd": floor0(p_lo), "price_high_usd": floor0(p_hi), "low_truncated": bool(p_lo < 0)}

    p = sv.prediction
    rows = [row("point", math.nan, p.multiple, p.multiple)]
    rows += [row("confidence", iv.level, iv.ci_low, iv.ci_high) for iv in p.intervals if math.isfinite(iv.ci_low)]
    kind = "peer distribution" if sv.fit.spec.kind == "baseline" else "prediction"
    rows += [row(kind, iv.level, iv.pi_low, iv.pi_high) for iv in p.intervals]
    if sv.bootstrap.size:
        q5, q95 = np.percentile(sv.bootstrap, [5, 95])
        rows.append(row("bootstrap of the fair multiple", 0.90, float(q5), float(q95)) | {"draws": int(sv.bootstrap.size)})
    return rows


def price_rows(sv: SpecValuation, target: Target, headline: float, weak_slope_p: float) -> list[dict]:
    """One row per price point for one method. Implied growth is given only where the growth
    slope is significant (HC3 p < ``weak_slope_p``)."""
    x = target_inputs(target)
    pred, d = sv.prediction, sv.discount.discount
    band = pred.interval(band_level(sv.fit, headline))
    p_slope = sv.fit.growth_p
    fair_m = apply_discount(pred.multiple, d)
    rows = []
    for p in target.price_points:
        price, trading = p.price_usd, p.kind == "trading"
        mcap = price * sv.shares
        net_cash = sv.cash(price, trading=trading)
        ev = mcap - net_cash
        implied = sv.implied(price, trading=trading)
        fair, lo, hi = (sv.fair_price(m, price, trading=trading) for m in (pred.multiple, band.pi_low, band.pi_high))
        if sv.fit.spec.kind == "baseline":
            g, g_note = math.nan, "n/a: no regression"
        elif p_slope < weak_slope_p:
            g, g_note = sv.fit.solve_for_growth(implied / (1.0 - d) if d < 1 else math.inf, x), ""
            if math.isnan(g):
                g_note = "n/a: the growth slope is not positive"
        else:
            g, g_note = math.nan, f"n/a: slope not significant (HC3 p = {p_slope:.2f})"
        p_lo, p_hi = sv.p_range(price, trading)
        rows.append({
            "spec": sv.fit.spec.name, "kind_of_method": sv.fit.spec.kind, "n": sv.fit.n, "price_point": p.label,
            "kind": p.kind, "price_date": p.date, "price_usd": price,
            "market_cap_usd": mcap, "market_cap_diluted_usd": price * sv.terms.diluted_shares(price),
            "net_cash_usd": net_cash, "enterprise_value_usd": ev,
            "ev_to_revenue_ltm": ev / target.revenue_usd.value, "multiple": sv.fit.spec.y, "implied_multiple": implied,
            "fair_multiple": floor0(pred.multiple), "discount": d, "fair_multiple_discounted": floor0(fair_m),
            "band": band_name(sv.fit, headline), "band_low_multiple": floor0(apply_discount(band.pi_low, d)),
            "band_high_multiple": floor0(apply_discount(band.pi_high, d)),
            "fair_price_usd": floor0(fair), "band_low_price_usd": floor0(lo), "band_high_price_usd": floor0(hi),
            "band_low_truncated": bool(lo < 0), "breakeven_price_usd": floor0(sv.breakeven()),
            "premium_to_fair": price / fair - 1.0 if fair > 0 else math.nan,
            "p_peer_below_price": sv.p_below(price, trading=trading),
            "p_jackknife_plus": sv.p_below(price, how="jackknife+", trading=trading),
            "p_low": p_lo, "p_high": p_hi,
            "implied_growth": g, "implied_growth_note": g_note,
            "verdict": verdict(price, lo, hi),
        })
    return rows


def influence(sv: SpecValuation, target: Target, headline: float,
              discount_without: Callable[[str], float], threshold: float) -> pd.DataFrame:
    """Leave-one-out fair value: for each peer of the method, the break-even price with that
    peer dropped (refit and, for the peer-relative discount, a reference without it). Flags
    peers whose removal moves it by more than ``threshold`` (a fraction) or changes the band
    verdict at any price point."""
    level = band_level(sv.fit, headline)
    loo = sv.fit.loo_band(target_inputs(target), level)
    d = np.array([discount_without(str(t)) for t in loo.index])
    base_fair = sv.breakeven()
    band = sv.prediction.interval(level)
    price = np.array([sv.breakeven(m, di) for m, di in zip(loo["multiple"], d, strict=True)])
    flips = [[] for _ in range(len(loo))]
    for p in target.price_points:
        t = p.kind == "trading"
        before = verdict(p.price_usd, sv.fair_price(band.pi_low, p.price_usd, trading=t),
                         sv.fair_price(band.pi_high, p.price_usd, trading=t))
        after = verdict(p.price_usd, sv.fair_price(loo["low"].to_numpy(), p.price_usd, d, trading=t),
                        sv.fair_price(loo["high"].to_numpy(), p.price_usd, d, trading=t))
        for i in np.flatnonzero(after != before):
            flips[i].append(p.label)
    change = price / base_fair - 1.0 if base_fair > 0 else np.full(len(price), np.nan)
    return pd.DataFrame({"spec": sv.fit.spec.name, "dropped": loo.index, "fair_price_usd": floor0(price),
                         "fair_price_change": change, "discount": d,
                         "verdict_flips": ["; ".join(f) for f in flips],
                         "influential": (np.abs(change) > threshold) | np.array([bool(f) for f in flips])})


def sensitivity(sv: SpecValuation, multiples: Sequence[float], discounts: Sequence[float]) -> pd.DataFrame:
    """Break-even price per share (USD, truncated at zero) over a grid: rows = the multiple
    applied (×, undiscounted), columns = the concentration discount."""
    frame = pd.DataFrame({d: [floor0(sv.breakeven(m, d)) for m in multiples] for d in discounts},
                         index=pd.Index(list(multiples), name="multiple_applied"))
    frame.columns.name = "discount"
    return frame


def peer_distribution(peers: pd.DataFrame, rows: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The comparison that needs no slope: each price point's EV/Revenue and EV/Gross profit
    as a percentile of the included peers' (the share at or below it; each multiple over the
    peers that have it), beside their quartiles, and its growth-adjusted EV/Revenue (÷ growth
    in %) against the peers' median."""
    sample = peers[peers["include"].astype(bool)]
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


def peer_multiple_values(peers: pd.DataFrame, fitted: Sequence[str], sv: SpecValuation, column: str) -> pd.DataFrame:
    """Break-even price per share at the peers' quartile multiples (no regression, no discount)."""
    m = peers.loc[[t for t in fitted if t in peers.index], column].dropna()
    rows = []
    for name, q in (("peer Q1", 0.25), ("peer median", 0.5), ("peer Q3", 0.75)):
        mult = float(m.quantile(q))
        rows.append({"method": name, "multiple": column, "value_multiple": mult, "n": len(m),
                     "fair_price_usd": floor0(sv.breakeven(mult, 0.0))})
    return pd.DataFrame(rows)


def checklist(rows: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The seed article's signals at each price point, on the headline method's rows, on basic
    and on fully diluted shares.

    walk-away: market cap in or above the target's walk-away band (if it sets one) while
    concentration is not falling; wait: the price is "far ahead" of the peers, above the
    headline method's band (the prediction band of a regression, the peers' interquartile range
    of the peer distribution); follow: otherwise. soft warning: gross margin falling while
    revenue grows. ``headroom_usd``: how far the basic market cap is below the walk-away line."""
    band = target.checklist.walk_away_market_cap_usd
    declining = target.checklist.concentration_declining
    gm, gm0 = target.gross_margin, target.gross_margin_prior
    soft = bool(gm and gm0 and gm.value < gm0.value and target.revenue_growth > 0)

    def signal(mcap: float, r: pd.Series) -> str:
        if band is not None and mcap >= band[0] and not declining:
            return (f"walk away (market cap {'above' if mcap >= band[1] else 'in'} the "
                    f"${band[0] / 1e9:,.0f}-{band[1] / 1e9:,.0f}B band)")
        if r["verdict"] == VERDICTS[0]:
            return "wait"
        return "follow (below band)" if r["verdict"] == VERDICTS[2] else "follow"

    out = []
    for _, r in rows.iterrows():
        mcap, diluted = r["market_cap_usd"], r["market_cap_diluted_usd"]
        out.append({"price_point": r["price_point"], "price_usd": r["price_usd"], "market_cap_usd": mcap,
                    "market_cap_diluted_usd": diluted, "implied_multiple": r["implied_multiple"],
                    "signal": signal(mcap, r), "signal_diluted": signal(diluted, r), "wait_test": r["band"],
                    "walk_away_headroom_usd": band[0] - mcap if band else math.nan,
                    "walk_away_headroom_diluted_usd": band[0] - diluted if band else math.nan,
                    "soft_warning_margin": soft, "p_peer_below_price": r["p_peer_below_price"],
                    "verdict": r["verdict"]})
    return pd.DataFrame(out)
