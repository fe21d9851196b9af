"""What the build should doubt, in words and tables. Pure functions over the build's frames.

- :func:`warnings`: look-ahead and stale figures, incomplete peers, mixed sources, skipped
  specs, extrapolation, small samples, peers that carry a slope, weak slopes with the evidence
  beyond HC3, the target's revenue period against the peers', the EV bridge's gaps;
- :func:`discount_range`: the concentration discount with each disclosing peer left out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

import pandas as pd

from comps import regression as rg
from comps import valuation as val
from comps.bridge import Terms
from comps.concentration import Discount
from comps.regression.leverage import SlopeEvidence
from comps.target import Target


def _capped(lines: list[str], kind: str, per_kind: int) -> list[str]:
    extra = len(lines) - per_kind
    return lines[:per_kind] + ([f"{kind}: … and {extra} more (see tables/peers.csv and tables/sources_peers.csv)"] if extra > 0 else [])


def _slope_lines(fits: Mapping, target: Target, *, small_n: int, weak_slope_p: float,
                 evidence: Mapping[str, SlopeEvidence]) -> list[str]:
    out = []
    x = val.target_inputs(target)
    for f in fits.values():
        if f.spec.kind == "baseline":
            continue
        if f.extrapolates(x):
            lo, hi = f.x_range()
            out.append(f"extrapolation: {f.spec.label}: target growth {x[f.spec.growth]:.1%} lies outside the peers' "
                       f"{lo:.1%} to {hi:.1%}; the prediction interval understates the risk")
        if f.n < small_n:
            out.append(f"small sample: {f.spec.label} is fitted on n = {f.n} peers")
        ev = evidence.get(f.spec.name)
        if ev is not None and ev.flagged:
            one = len(ev.flagged) == 1
            them = "it" if one else "them"
            without = (f"slope {ev.slope_without:+.2f} (HC3 p = {ev.p_without:.2f}), R² {ev.r_squared_without:.2f}"
                       if math.isfinite(ev.slope_without) else "too few peers remain to refit")
            out.append(f"leverage: {f.spec.label}: {', '.join(ev.flagged)} (Cook's D > 1 or |DFBETAS| > 2/√n) "
                       f"{'carries' if one else 'carry'} the growth slope: without {them}, {without}; with {them}, "
                       f"{ev.slope:+.2f} (p = {ev.p_hc3:.2f}), R² {ev.r_squared:.2f}")
        if not f.growth_p < weak_slope_p:
            checks = ""
            if ev is not None:
                checks = f"; wild bootstrap p = {ev.p_wild:.2f}"
                if math.isfinite(ev.spearman_rho):
                    checks += f", Spearman ρ = {ev.spearman_rho:+.2f}"
            out.append(f"weak fit: {f.spec.label}: the growth slope is not significant (HC3 p = {f.growth_p:.2f} ≥ "
                       f"{weak_slope_p:.2f}{checks}); the peers do not pin down what growth is worth")
    return out


def warnings(table: pd.DataFrame, fits: Mapping, skipped: Mapping[str, str], target: Target,
             as_of: dt.date, *, stale_days: int, small_n: int, weak_slope_p: float, left_out: Iterable[dict] = (),
             lookahead: Iterable[dict] = (), evidence: Mapping[str, SlopeEvidence] | None = None,
             terms: Terms | None = None, calendar: tuple[int, float] = (0, 1.0), calendar_lag_days: int = 45,
             per_kind: int = 20) -> list[str]:
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
    lag, factor = calendar
    if lag > calendar_lag_days and factor > 1.005:
        out.append(f"revenue period: {target.name}'s revenue ends {target.revenue_usd.date}, {lag} days before the "
                   f"peers' median LTM end; at its {target.revenue_growth:.0%} growth that lag makes its multiple "
                   f"about {factor - 1:.0%} higher than on the peers' basis")
    out += _capped([f"stale: {t} market cap is from {r['market_cap_date']}, "
                    f"{abs(int(r['market_data_age_days']))} days from the as-of date"
                    for t, r in inc[inc["stale"]].iterrows()], "stale", per_kind)
    out += _capped([f"incomplete: {t}: {r['missing']}" for t, r in inc[inc["missing"] != ""].iterrows()],
                   "incomplete", per_kind)
    out += _capped([f"mixed sources: {t}: {r['mixed_sources']}" for t, r in inc[inc["mixed_sources"] != ""].iterrows()],
                   "mixed sources", per_kind)
    out += [f"skipped spec: {rg.SPECS[name].label if name in rg.SPECS else name}: {why}" for name, why in skipped.items()]
    out += _slope_lines(fits, target, small_n=small_n, weak_slope_p=weak_slope_p, evidence=evidence or {})
    out += [f"EV bridge: {note}" for note in (terms.notes if terms else ())]
    if target.ev_assumption:
        out.append(f"EV bridge, from the target file: {target.ev_assumption}")
    return out


def discount_range(fitted: tuple[str, ...], base: Discount,
                   discount: Callable[[tuple[str, ...]], Discount]) -> pd.DataFrame:
    """The discount with each disclosing fitted peer left out of the reference (and with none);
    ``discount`` gives the discount for a set of fitted peers."""
    rows = [{"left_out": "none", "cc_reference": base.cc_ref, "n_reference": base.n_reference,
             "discount": base.discount}]
    for t in base.ref_tickers:
        d = discount(tuple(x for x in fitted if x != t))
        rows.append({"left_out": t, "cc_reference": d.cc_ref, "n_reference": d.n_reference, "discount": d.discount})
    return pd.DataFrame(rows)


def digest(warnings: Sequence[str], fold_at: int = 3) -> list[str]:
    """The warnings for a terminal: a category with ``fold_at`` or more warnings is folded into
    one line naming its subjects (the peer or the method each is about); the rest stay whole."""
    groups: dict[str, list[str]] = {}
    for w in warnings:
        category, _, rest = w.partition(": ")
        groups.setdefault(category, []).append(rest)
    out = []
    for category, items in groups.items():
        if len(items) < fold_at:
            out += [f"{category}: {item}" for item in items]
            continue
        subjects = [item.split(": ")[0] if ": " in item else item.split(" ")[0] for item in items]
        out.append(f"{category}: {len(items)} ({'; '.join(dict.fromkeys(subjects))})")
    return out
