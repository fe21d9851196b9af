"""What the build should doubt, in words and tables. Pure functions over the build's frames.

- :func:`warnings`: look-ahead and stale figures, incomplete peers, mixed sources, skipped
  specs, extrapolation, small samples, weak slopes, the EV assumption;
- :func:`date_robustness`: when peers' market data spans more than the stale threshold, the
  headline spec refitted on the peers whose market data is fresh, and whether each price
  point's verdict holds;
- :func:`discount_range`: the concentration discount with each disclosing peer left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping

import pandas as pd

from comps import regression as rg
from comps import valuation as val
from comps.concentration import Discount
from comps.errors import ModelError
from comps.target import Target


def _capped(lines: list[str], kind: str, per_kind: int) -> list[str]:
    extra = len(lines) - per_kind
    return lines[:per_kind] + ([f"{kind}: … and {extra} more (see peers.csv and sources_peers.csv)"] if extra > 0 else [])


def warnings(table: pd.DataFrame, fits: Mapping[str, rg.FitResult], skipped: Mapping[str, str], target: Target,
             as_of: dt.date, *, stale_days: int, small_n: int, weak_slope_p: float, left_out: Iterable[dict] = (),
             lookahead: Iterable[dict] = (), per_kind: int = 20) -> list[str]:
    """Every caveat of one build, one line each. Per-peer kinds list at most ``per_kind`` lines."""
    inc = table[table["include"]]
    out = []
    left_out = [r for r in left_out if r["ticker"] in inc.index]  # other tickers' figures do not matter here
    if left_out:
        shown = "; ".join(f"{r['ticker']} {r['field']} {r['date'] or ''} ({r['reason'].split(',')[0]})"
                          for r in left_out[:8])
        out.append(f"look-ahead excluded: {len(left_out)} figure(s) published or dated after {as_of} were "
                   f"left out: {shown}{' …' if len(left_out) > 8 else ''}")
    out += _capped([f"look-ahead: {r['ticker']} {r['field'].replace('_', ' ')} is dated {r['date']}, "
                    f"{(r['date'] - as_of).days} day(s) after the as-of date, and is used because no figure "
                    f"on or before it exists" for r in lookahead if r["ticker"] in inc.index], "look-ahead", per_kind)
    for name, f in target.dated_figures():
        if f.published and f.published > as_of:
            out.append(f"look-ahead: target {name} was published {f.published}, after the as-of date {as_of}")
    for p in target.price_points:
        gap = (p.date - as_of).days
        if abs(gap) > stale_days:
            out.append(f"price date: {p.label} (${p.price_usd:,.2f}) is dated {p.date}, {abs(gap)} days "
                       f"{'after' if gap > 0 else 'before'} the as-of date {as_of}; the peers are priced on other days")
    out += _capped([f"stale: {t} market cap is from {r['market_cap_date']}, "
                    f"{abs(int(r['market_data_age_days']))} days from the as-of date"
                    for t, r in inc[inc["stale"]].iterrows()], "stale", per_kind)
    out += _capped([f"incomplete: {t}: {r['missing']}" for t, r in inc[inc["missing"] != ""].iterrows()],
                   "incomplete", per_kind)
    out += _capped([f"mixed sources: {t}: {r['mixed_sources']}" for t, r in inc[inc["mixed_sources"] != ""].iterrows()],
                   "mixed sources", per_kind)
    out += [f"skipped spec: {rg.SPECS[name].label if name in rg.SPECS else name}: {why}" for name, why in skipped.items()]
    x = val.target_inputs(target)
    for f in fits.values():
        if f.extrapolates(x):
            lo, hi = f.x_range()
            out.append(f"extrapolation: {f.spec.label}: target growth {x[f.spec.growth]:.1%} lies outside the peers' "
                       f"{lo:.1%} to {hi:.1%}; the prediction interval understates the risk")
        if f.n < small_n:
            out.append(f"small sample: {f.spec.label} is fitted on n = {f.n} peers")
        if not f.growth_p < weak_slope_p:
            out.append(f"weak fit: {f.spec.label}: the growth slope is not significant (HC3 p = {f.growth_p:.2f} ≥ "
                       f"{weak_slope_p:.2f}); the peers do not pin down what growth is worth")
    if target.net_cash_usd is None:
        out.append(f"EV assumption: {target.ev_assumption}")
    return out


def date_robustness(table: pd.DataFrame, sv: val.SpecValuation, target: Target, *, stale_days: int,
                    headline: float, min_peers: int, discount: Callable[[tuple[str, ...]], Discount]
                    ) -> tuple[pd.DataFrame, str]:
    """(table, one-line summary). When the fitted peers' market-data dates span more than
    ``stale_days``, refit the headline spec on the peers within ``stale_days`` of the as-of
    date and compare each price point's verdict; otherwise say why no refit was needed."""
    fitted = table.loc[list(sv.fit.tickers)]
    dates = pd.to_datetime(fitted["market_cap_date"])
    span = (dates.max() - dates.min()).days if len(dates) else 0
    if span <= stale_days:
        return pd.DataFrame(), f"market data of the {len(fitted)} fitted peers spans {span} days: no refit needed"
    fresh = fitted[~fitted["stale"]].index
    if len(fresh) < min_peers:
        return pd.DataFrame(), (f"market data spans {span} days, but only {len(fresh)} of {len(fitted)} fitted peers "
                                f"are within {stale_days} days of the as-of date (at least {min_peers} are needed "
                                "to refit): verdicts not checked")
    try:
        fit = rg.fit(table.loc[fresh], sv.fit.spec, min_n=min_peers)
    except ModelError as exc:
        return pd.DataFrame(), f"refit on the {len(fresh)} fresh peers failed: {exc}"
    fresh_sv = val.value_spec(fit, target, discount(fit.tickers), levels=(headline,), bootstrap_draws=sv.bootstrap[:0])
    lo_col, hi_col = val.band_columns(headline)
    all_rows = pd.DataFrame(val.price_rows(sv, target, headline, weak_slope_p=0.0))
    fresh_rows = pd.DataFrame(val.price_rows(fresh_sv, target, headline, weak_slope_p=0.0))
    frame = pd.DataFrame({
        "price_point": all_rows["price_point"], "price_usd": all_rows["price_usd"],
        "verdict_all_peers": all_rows["verdict"], "n_all": sv.fit.n,
        "verdict_fresh_peers": fresh_rows["verdict"], "n_fresh": fit.n,
        "fair_price_fresh_usd": fresh_rows["fair_price_usd"],
        "band_low_fresh_usd": fresh_rows[lo_col], "band_high_fresh_usd": fresh_rows[hi_col],
        "holds": all_rows["verdict"] == fresh_rows["verdict"],
    })
    held = int(frame["holds"].sum())
    summary = (f"market data spans {span} days; refitted on the {fit.n} peers within {stale_days} days "
               f"({', '.join(fit.tickers)}): {held} of {len(frame)} verdicts hold")
    return frame, summary


def discount_range(fitted: tuple[str, ...], base: Discount,
                   discount: Callable[[tuple[str, ...]], Discount]) -> pd.DataFrame:
    """The discount with each disclosing fitted peer left out of the reference (and with none);
    ``discount`` gives the discount for a set of fitted peers."""
    rows = [{"left_out": "none", "cc_reference": base.cc_ref, "n_reference": len(base.ref_tickers),
             "discount": base.discount}]
    for t in base.ref_tickers:
        d = discount(tuple(x for x in fitted if x != t))
        rows.append({"left_out": t, "cc_reference": d.cc_ref, "n_reference": len(d.ref_tickers),
                     "discount": d.discount})
    return pd.DataFrame(rows)
