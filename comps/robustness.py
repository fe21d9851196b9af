"""Checks that can overturn the headline verdict. Pure functions over the build's frames.

- :func:`roll_forward`: peers whose market data are stale are rolled to the as-of date by a
  price return: their own where the snapshots hold their prices on both days, else the median
  return of the fresh peers of the same segment, else the benchmark ETF's (labelled as such);
- :func:`date_check`: the headline method recomputed on the rolled peers (quartiles, percentile,
  band and the verdict that drives "wait"), beside a refit on the fresh peers alone, flagged as
  having no power when its band spans more than 20×;
- :func:`verdict_robustness`: the "wait" test at every price point under each variant (the low
  end of the discount's range, the rolled peers, the target's revenue calendarized to the
  peers' LTM end, the peers flagged for leverage left out, the upper end of the band's bootstrap
  interval, and all of them at once).

"Wait" means the price is above the headline method's band: an implied multiple above the band's
upper end after the discount. In multiple terms the test needs no bridge: with net cash C(P),
P > (M·(1 − D)·base + C(P)) / shares exactly when (P·shares − C(P)) / base > M·(1 − D).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from comps.errors import ModelError
from comps.metrics import growth_adjusted
from comps.regression import Method, fit_method
from comps.sources.snapshot import history
from comps.valuation import SpecValuation, apply_discount, band_level

#: a market value counts as "on" a day if it is within this many calendar days of it
DAY_TOLERANCE = 5
#: a fresh-peer refit whose band spans more than this ratio (high/low) cannot fail a verdict
NO_POWER_RATIO = 20.0


def _near(series: dict[dt.date, float], day: dt.date) -> float:
    close = [d for d in series if abs((d - day).days) <= DAY_TOLERANCE]
    return series[min(close, key=lambda d: abs((d - day).days))] if close else math.nan


def window_return(series: dict[dt.date, float], start: dt.date, end: dt.date) -> float:
    """The return of a price (or market-cap) series from ``start`` to ``end`` (fraction), NaN
    unless it has a value within DAY_TOLERANCE days of both."""
    a, b = _near(series, start), _near(series, end)
    return b / a - 1.0 if a > 0 and math.isfinite(b) else math.nan


def _market_series(rows, ticker: str, until: dt.date) -> dict[dt.date, float]:
    return history(rows, ticker, "market_cap", until) or history(rows, ticker, "share_price_close", until)


def roll_forward(table: pd.DataFrame, tickers: list[str], rows, as_of: dt.date, benchmark: str) -> pd.DataFrame:
    """The peers in ``tickers`` with stale market data rolled to ``as_of``: one row each with
    the return used, where it came from, and the rolled market cap, EV and multiples. ``rows``:
    every snapshot row (all files), for price histories."""
    until = as_of + dt.timedelta(days=DAY_TOLERANCE)
    fresh = [t for t in tickers if not table.at[t, "stale"]]
    bench = history(rows, benchmark, "share_price_close", until)
    out = []
    for t in tickers:
        if not table.at[t, "stale"]:
            continue
        start = table.at[t, "market_cap_date"]
        r, how = window_return(_market_series(rows, t, until), start, as_of), "own price return"
        if math.isnan(r):
            same = [window_return(_market_series(rows, f, until), start, as_of) for f in fresh
                    if table.at[f, "segment"] == table.at[t, "segment"]]
            same = [x for x in same if math.isfinite(x)]
            r, how = (float(np.median(same)), f"median return of {len(same)} fresh peer(s) in its segment") \
                if same else (math.nan, "")
        if math.isnan(r):
            r, how = window_return(bench, start, as_of), f"{benchmark} return (proxy for the peer's own)"
        if math.isnan(r):
            how = "not rolled: no price history for the window"
        out.append({"ticker": t, "from": start, "to": as_of, "return": r, "how": how})
    return pd.DataFrame(out, columns=["ticker", "from", "to", "return", "how"])


def rolled_table(table: pd.DataFrame, rolls: pd.DataFrame) -> pd.DataFrame:
    """The peer table with each rolled peer's market cap, EV and multiples moved by its return
    (net debt unchanged)."""
    out = table.copy()
    for _, r in rolls.dropna(subset=["return"]).iterrows():
        t = r["ticker"]
        mcap = out.at[t, "market_cap_usd"] * (1 + r["return"])
        ev = out.at[t, "enterprise_value_usd"] + mcap - out.at[t, "market_cap_usd"]
        out.at[t, "market_cap_usd"], out.at[t, "enterprise_value_usd"] = mcap, ev
        for col, base in (("ev_to_revenue_ltm", "revenue_ltm_usd"), ("ev_to_gross_profit_ltm", "gross_profit_ltm_usd")):
            b = out.at[t, base]
            out.at[t, col] = ev / b if b > 0 else math.nan
        out.at[t, "growth_adjusted_multiple"] = growth_adjusted(out.at[t, "ev_to_revenue_ltm"], out.at[t, "revenue_growth"])
    return out


def _band_high(method: Method, x: dict, level: float) -> float:
    """The upper end of a method's band (×, undiscounted)."""
    return method.predict(x, (level,)).interval(level).pi_high


def date_check(table: pd.DataFrame, sv: SpecValuation, rows: pd.DataFrame, x: dict, rolls: pd.DataFrame, *,
               headline: float, min_peers: int) -> tuple[pd.DataFrame, str]:
    """(table per price point, one-line summary): the headline method's verdict on the peers
    as built, rolled forward, and refitted on the fresh peers alone."""
    spec, d = sv.fit.spec, sv.discount.discount
    level = band_level(sv.fit, headline)
    tickers = list(sv.fit.tickers)
    stale = [t for t in tickers if table.at[t, "stale"]]
    if not stale:
        return pd.DataFrame(), f"market data of all {len(tickers)} peers lie within the stale threshold: no roll needed"
    rolled_fit = fit_method(rolled_table(table, rolls).loc[tickers], spec, min_n=min_peers)
    high_rolled = apply_discount(_band_high(rolled_fit, x, level), d)
    high = apply_discount(_band_high(sv.fit, x, level), d)
    fresh = [t for t in tickers if not table.at[t, "stale"]]
    try:
        fresh_fit = fit_method(table.loc[fresh], spec, min_n=min_peers)
        band = fresh_fit.predict(x, (level,)).interval(level)
        ratio = band.pi_high / band.pi_low if band.pi_low > 0 else math.inf
        high_fresh = apply_discount(band.pi_high, d)
    except ModelError:
        fresh_fit, ratio, high_fresh = None, math.nan, math.nan
    no_power = not ratio <= NO_POWER_RATIO
    m_rolled = rolled_table(table, rolls).loc[tickers, spec.y].dropna()
    frame = pd.DataFrame({
        "price_point": rows["price_point"], "price_usd": rows["price_usd"], "implied_multiple": rows["implied_multiple"],
        "band_high_multiple": high, "wait": rows["implied_multiple"] > high,
        "band_high_multiple_rolled": high_rolled, "wait_rolled": rows["implied_multiple"] > high_rolled,
        "peer_percentile_rolled": [float((m_rolled <= m).mean()) for m in rows["implied_multiple"]],
        "n_fresh": len(fresh), "band_high_multiple_fresh": high_fresh,
        "fresh_band_ratio": ratio, "fresh_no_power": no_power,
    })
    rolled = rolls.dropna(subset=["return"])
    holds = int((frame["wait"] == frame["wait_rolled"]).sum())
    how = "; ".join(sorted({h.split(" (")[0] for h in rolled["how"]}))
    summary = (f"{len(stale)} of {len(tickers)} peers have market data more than the stale threshold old; "
               f"{len(rolled)} rolled to the as-of date ({how or 'none'}), median return "
               f"{rolled['return'].median():+.0%}" if len(rolled) else
               f"{len(stale)} of {len(tickers)} peers are stale and none could be rolled (no price history)")
    summary += (f": the {band_top_name(sv)} (after the discount) moves from {high:.1f}× to {high_rolled:.1f}×, "
                f"and {holds} of {len(frame)} wait/no-wait calls hold")
    if fresh_fit is not None:
        summary += (f"; the refit on the {fresh_fit.n} fresh peers alone " +
                    (f"has a band spanning {ratio:,.0f}×: no power to test anything" if no_power else
                     f"puts the band top at {high_fresh:.1f}×"))
    return frame, summary


def band_top_name(sv: SpecValuation) -> str:
    return "peer upper quartile" if sv.fit.spec.kind == "baseline" else "top of the prediction band"


def calendarization(target_end: dt.date, peer_ends: pd.Series, growth: float) -> tuple[int, float]:
    """(days the target's LTM ends before the peers' median LTM end, the factor by which that lag
    inflates its multiple at its own growth: (1 + g)^(days / 365.25))."""
    ends = pd.to_datetime(peer_ends.dropna())
    if ends.empty:
        return 0, 1.0
    median_end = ends.sort_values().iloc[(len(ends) - 1) // 2].date()
    lag = (median_end - target_end).days
    return lag, (1 + growth) ** (max(lag, 0) / 365.25) if growth > -1 else 1.0


def verdict_robustness(sv: SpecValuation, rows: pd.DataFrame, x: dict, *, headline: float, rolled_fit: Method | None,
                       without_flagged: Method | None, calendar_factor: float, band_ci_high: float,
                       others: Sequence[tuple[str, np.ndarray, float]] = ()) -> tuple[pd.DataFrame, str]:
    """The "wait" test at each price point under each variant, and a sentence saying at which
    prices it survives every one. ``others``: (name, implied multiples, discounted wait line) of
    other multiples or peer sets, each a variant of its own (not combined with the rest)."""
    level = band_level(sv.fit, headline)
    d_point, d_low = sv.discount.discount, sv.discount.range[0]
    high = _band_high(sv.fit, x, level)
    implied = rows["implied_multiple"].to_numpy(dtype=float)
    variants: dict[str, tuple[np.ndarray, float]] = {"as built": (implied, apply_discount(high, d_point))}
    variants["discount at the low end of its range"] = (implied, apply_discount(high, d_low))
    if rolled_fit is not None:
        variants["stale peers rolled to the as-of date"] = (implied, apply_discount(_band_high(rolled_fit, x, level), d_point))
    if calendar_factor > 1.0:
        variants["target revenue calendarized to the peers' LTM end"] = (implied / calendar_factor,
                                                                         apply_discount(high, d_point))
    if without_flagged is not None:
        variants["peers flagged for leverage left out"] = (implied, apply_discount(_band_high(without_flagged, x, level),
                                                                                  d_point))
    if math.isfinite(band_ci_high):
        variants["band top at its bootstrap 90% upper bound"] = (implied, apply_discount(band_ci_high, d_point))
    worst_high = max(v[1] for v in variants.values())
    variants["all of the above at once"] = (implied / max(calendar_factor, 1.0), worst_high)
    for name, multiples, line in others:
        variants[name] = (np.asarray(multiples, dtype=float), line)
    frame = pd.DataFrame({"price_point": rows["price_point"], "price_usd": rows["price_usd"]})
    for name, (m, h) in variants.items():
        frame[name] = m > h
    frame["wait_survives_all"] = frame[list(variants)].all(axis=1)
    frame["wait_as_built"] = frame["as built"]
    waits = frame[frame["wait_as_built"]]
    sure = frame.loc[frame["wait_survives_all"], "price_usd"]
    if waits.empty:
        sentence = "No price point is a wait as built."
    elif len(sure) == len(waits):
        sentence = f"Wait survives every variant at every price where it is called ({_prices(sure)})."
    else:
        fragile = waits[~waits["wait_survives_all"]]
        broken = sorted({v for _, r in fragile.iterrows() for v in variants if not r[v]})
        sentence = ((f"Wait survives every variant from {_prices(sure)}; " if len(sure) else "Wait survives no price "
                     "under every variant; ") + f"at {_prices(fragile['price_usd'])} it fails under: {'; '.join(broken)}.")
    return frame, sentence


def _prices(prices: pd.Series) -> str:
    p = sorted(float(v) for v in prices)
    return f"${p[0]:,.2f}" if len(p) == 1 else f"${p[0]:,.2f} to ${p[-1]:,.2f}"


def band_ci(sv: SpecValuation, headline: float, resamples: int, seed: int) -> float:
    """The upper end of the 90 % bootstrap interval of the band's top (×, undiscounted): for
    the peer distribution, the bootstrap of the peers' quantile at the band's top; NaN for a
    regression (its prediction band already carries parameter uncertainty)."""
    if sv.fit.spec.kind != "baseline":
        return math.nan
    level = band_level(sv.fit, headline)
    rng = np.random.default_rng(seed)
    v = sv.fit.multiples
    draws = np.quantile(v[rng.integers(0, len(v), size=(resamples, len(v)))], (1 + level) / 2, axis=1)
    return float(np.percentile(draws, 95))


def make_variant_fits(table: pd.DataFrame, sv: SpecValuation, rolls: pd.DataFrame, flagged: tuple[str, ...],
                      min_peers: int, fitter: Callable = fit_method) -> tuple[Method | None, Method | None]:
    """(the headline method refitted on the rolled peers, and without the flagged peers), None
    where it cannot be refitted."""
    tickers = list(sv.fit.tickers)
    out = []
    for frame in (rolled_table(table, rolls).loc[tickers] if len(rolls) else None,
                  table.loc[[t for t in tickers if t not in flagged]] if flagged else None):
        try:
            out.append(fitter(frame, sv.fit.spec, min_n=min_peers) if frame is not None else None)
        except ModelError:
            out.append(None)
    return out[0], out[1]
