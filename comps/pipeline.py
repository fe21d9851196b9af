"""One ``comps build``: load and validate inputs, collect figures, compute metrics, fit the
specs, value the target and (optionally) write every output. Returns a :class:`BuildResult`
that the CLI, the notebook and the tests all use."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from comps import concentration as cc
from comps import regression as rg
from comps import valuation as val
from comps.config import BuildConfig
from comps.errors import InputError, ModelError
from comps.metrics import compute_peer_table
from comps.result import BuildResult
from comps.sources.disclosures import load_disclosures
from comps.sources.snapshot import Snapshot, find_snapshot, load_snapshot
from comps.target import Target, load_target
from comps.universe import Peer, load_peers

if TYPE_CHECKING:
    from comps.report.workers import ChartProcess


def load_inputs(config: BuildConfig) -> tuple[list[Peer], Target, Snapshot, pd.DataFrame]:
    """Load and validate every input file; one InputError lists the problems of all of them."""
    problems = []
    loaded: list[Any] = []
    for loader in (lambda: load_peers(config.peers_path), lambda: load_target(config.target_path),
                   lambda: load_snapshot(find_snapshot(config.snapshot_dir, config.as_of)),
                   lambda: load_disclosures(config.concentration_path)):
        try:
            loaded.append(loader())
        except InputError as exc:
            problems.extend(exc.problems)
            loaded.append(None)
    if problems:
        raise InputError(problems)
    return loaded[0], loaded[1], loaded[2], loaded[3]


def collect(config: BuildConfig, peers: list[Peer], target: Target,
            snapshot: Snapshot) -> tuple[list[dict], str, dt.date]:
    """Figure rows for the build, a one-line notice of where they came from, and the as-of date.

    The live refresh (Yahoo) is tried unless ``offline``; any failure falls back to the snapshot."""
    if not config.offline:
        from comps.sources import refresh  # imports yfinance lazily

        return refresh.refresh_or_fallback(config, peers, target, snapshot)
    notice = f"Data: bundled snapshot of {snapshot.as_of} ({snapshot.path})"
    return list(snapshot.rows), notice, config.as_of or snapshot.as_of


def _discounter(target: Target, peer_ccs: pd.Series, cfg: cc.ConcentrationConfig,
                tickers: tuple[str, ...]) -> Callable[[str | None], cc.Discount]:
    ccs = peer_ccs.to_dict()
    base = cc.concentration_discount(target.customers, ccs, tickers, cfg)

    def discount(without: str | None = None) -> cc.Discount:
        if without not in base.ref_tickers:  # dropping a non-discloser leaves the reference as is
            return base
        return cc.concentration_discount(target.customers, ccs, [t for t in tickers if t != without], cfg)

    return discount


def build(config: BuildConfig | None = None, *, write: bool = True,
          progress: Callable[[str], None] | None = None, renderer: ChartProcess | None = None) -> BuildResult:
    """Run one build. With ``write``, every output goes to ``config.out_dir``. Charts render on
    ``renderer`` if given (the CLI starts one before it imports this module), else on a chart
    process started here, so that its imports overlap the fits."""
    config = config or BuildConfig()
    peers, target, snapshot, disclosures = load_inputs(config)
    own = renderer is None and write and config.charts
    if own:
        from comps.report import workers

        renderer = workers.start()
    try:
        result = _compute(config, peers, target, snapshot, disclosures, progress)
        if write:
            from comps.report import write_outputs

            result = write_outputs(result, config.out_dir, renderer if config.charts else None)
    finally:
        if own and renderer is not None:
            renderer.close()
    return result


def _compute(config: BuildConfig, peers: list[Peer], target: Target, snapshot: Snapshot,
             disclosures: pd.DataFrame, progress: Callable[[str], None] | None) -> BuildResult:
    say = progress or (lambda _msg: None)
    rows, notice, as_of = collect(config, peers, target, snapshot)
    say(notice)

    table = compute_peer_table(peers, rows, as_of, config.stale_days)
    fits, skipped = rg.fit_all(table, config.specs, min_n=config.min_peers)
    if not fits:
        raise ModelError("no regression could be fitted:\n" + "\n".join(f"  - {k}: {v}" for k, v in skipped.items()))
    huber = {}
    for name, f in fits.items():
        try:
            huber[name] = rg.fit(table, f.spec, method="huber", min_n=config.min_peers)
        except (ModelError, np.linalg.LinAlgError, ValueError):
            pass
    if config.spec != "auto" and config.spec not in fits:
        raise ModelError(f"spec {config.spec} could not be fitted: {skipped.get(config.spec, 'not requested')}")
    chosen = rg.choose_spec(fits) if config.spec == "auto" else config.spec

    peer_ccs = cc.peer_cc(disclosures)
    x = val.target_inputs(target)
    specs: dict[str, val.SpecValuation] = {}
    frames, influence = [], []
    for i, (name, f) in enumerate(fits.items()):
        discount = _discounter(target, peer_ccs, config.concentration, f.tickers)
        if not np.isfinite(x[f.spec.base]) or not all(np.isfinite(x.get(c, math.nan)) for c in f.spec.x):
            skipped[name] = "the target has no value for " + ", ".join(c for c in (*f.spec.x, f.spec.base)
                                                                      if not np.isfinite(x.get(c, math.nan)))
            continue
        draws = rg.bootstrap(f, x, resamples=config.bootstrap_resamples, seed=config.seed + i)
        sv = val.value_spec(f, target, discount(), levels=config.levels, bootstrap_draws=draws)
        specs[name] = sv
        frames.append(pd.DataFrame(val.price_rows(sv, target, config.headline_level)))
        influence.append(val.influence(sv, target, config.headline_level,
                                       lambda t, d=discount: d(t).discount, config.influence_threshold))
    fits = {k: v for k, v in fits.items() if k in specs}
    if chosen not in specs:
        if config.spec != "auto":
            raise ModelError(f"spec {chosen} cannot value the target: {skipped[chosen]}")
        chosen = rg.choose_spec(fits)
    valuation = pd.concat(frames, ignore_index=True)
    sv = specs[chosen]
    g = x[rg.GROWTH]
    sensitivity = val.sensitivity(sv, target, config.sensitivity_discounts,
                                  [g + o for o in config.sensitivity_growth_offsets])
    spec_sens = pd.DataFrame({n: [s.fair_price(s.prediction.multiple, d) for d in config.sensitivity_discounts]
                              for n, s in specs.items()}, index=list(config.sensitivity_discounts)).T
    spec_sens.index.name, spec_sens.columns.name = "spec", "discount"
    headline = valuation[valuation["spec"] == chosen].reset_index(drop=True)
    return BuildResult(
        config=config, as_of=as_of, snapshot=snapshot, data_notice=notice, peers=table, target=target,
        fits=fits, huber=huber, skipped=skipped, chosen=chosen, specs=specs, valuation=valuation,
        influence=pd.concat(influence, ignore_index=True), sensitivity=sensitivity,
        spec_sensitivity=spec_sens, peer_values=val.peer_multiple_values(table, fits[chosen].tickers, target),
        checklist=val.checklist(headline, target), peer_cc=peer_ccs,
        warnings=tuple(collect_warnings(table, fits, skipped, target, config)),
    )


def collect_warnings(table: pd.DataFrame, fits: dict[str, rg.FitResult], skipped: dict[str, str],
                     target: Target, config: BuildConfig, per_kind: int = 20) -> list[str]:
    """Stale data, incomplete peers, skipped specs, extrapolation, small n and the EV assumption,
    in words. Per-peer kinds list at most ``per_kind`` peers and then count the rest."""
    def capped(lines: list[str], kind: str) -> list[str]:
        extra = len(lines) - per_kind
        return lines[:per_kind] + ([f"{kind}: … and {extra} more peers (see peers.csv)"] if extra > 0 else [])

    inc = table[table["include"]]
    out = capped([f"stale: {t} market cap is from {r['market_cap_date']}, "
                  f"{abs(int(r['market_data_age_days']))} days from the as-of date"
                  for t, r in inc[inc["stale"]].iterrows()], "stale")
    out += capped([f"incomplete: {t}: {r['missing']}" for t, r in inc[inc["missing"] != ""].iterrows()],
                  "incomplete")
    out += [f"skipped spec: {name}: {why}" for name, why in skipped.items()]
    g = target.revenue_growth
    for name, f in fits.items():
        lo, hi = f.x_range()
        if not lo <= g <= hi:
            out.append(f"extrapolation: {name}: target growth {g:.1%} lies outside the peers' "
                       f"{lo:.1%} to {hi:.1%}; the prediction interval understates the risk")
        if f.n < config.small_n_warning:
            out.append(f"small sample: {name} is fitted on n = {f.n} peers")
        p = float(f.pvalues[rg.GROWTH])
        if not p < config.weak_slope_p:
            out.append(f"weak fit: {name}: the growth slope is not significant (HC3 p = {p:.2f} ≥ "
                       f"{config.weak_slope_p:.2f}); the peers do not pin down what growth is worth")
    if target.net_cash_usd is None:
        out.append(f"EV assumption: {target.ev_assumption}")
    return out
