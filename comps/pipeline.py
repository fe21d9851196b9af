"""One ``comps build``: load and validate inputs, collect figures, compute metrics, fit the
specs, value the target and (optionally) write every output. Returns a :class:`BuildResult`
that the CLI, the notebook and the tests all use."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from comps import bridge, diagnostics, robustness
from comps import concentration as cc
from comps import regression as rg
from comps import valuation as val
from comps._entry import checkpoint
from comps._io import write_bytes_atomic
from comps.config import BuildConfig
from comps.errors import CompsError, InputError, ModelError, Problem
from comps.metrics import compute_peer_table
from comps.regression import leverage, selection
from comps.result import BuildResult
from comps.sources.disclosures import load_disclosures
from comps.sources.snapshot import Snapshots, load_snapshots, snapshot_date
from comps.target import Analysis, Target, load_target
from comps.universe import Peer, load_peers

if TYPE_CHECKING:
    from comps.backtest import TrackRecord
    from comps.report.workers import ChartProcess
    from comps.result import BacktestResult


def load_inputs(config: BuildConfig) -> tuple[BuildConfig, list[Peer], Target, Snapshots, pd.DataFrame]:
    """Load and validate every input file; one InputError lists the problems of all of them.
    The target comes first: its [analysis] table may name the peers, snapshots and as-of date,
    so the config returned is the resolved one."""
    problems = []
    try:
        target = load_target(config.target_path)
        config = config.resolved(target.analysis)
    except InputError as exc:
        problems.extend(exc.problems)
        target, config = None, config.resolved(Analysis())
    loaded: list[Any] = []
    for loader in (lambda: load_peers(config.peers_path),
                   lambda: load_snapshots(config.snapshot_dir, config.as_of, lookahead_days=config.lookahead,
                                          required=not config.live),
                   lambda: load_disclosures(config.concentration_path)):
        try:
            loaded.append(loader())
        except InputError as exc:
            problems.extend(exc.problems)
            loaded.append(None)
    if problems:
        raise InputError(problems)
    return config, loaded[0], target, loaded[1], loaded[2]


def describe(snaps: Snapshots) -> str:
    """Where the figures came from: each snapshot file, curated or refreshed from Yahoo, and
    the as-of date."""
    if not snaps.files:
        return "no snapshot files"
    refreshed = {r["file"] for r in snaps.all_rows if r["source_url"].startswith("https://finance.yahoo.com/")}
    parts = [f"{p.name} ({'refreshed on ' + p.name[:10] if p in refreshed else 'curated'})" for p in snaps.files]
    return f"{', '.join(parts)} in {snaps.files[0].parent}, as of {snaps.as_of}"


def collect(config: BuildConfig, peers: list[Peer], target: Target, snaps: Snapshots,
            say: Callable[[str], None]) -> tuple[Snapshots, str, pd.DataFrame]:
    """The layered figures for the build, a notice of where they came from, and the per-ticker
    refresh problems (empty offline). Unless ``offline``, a live refresh first writes a new
    snapshot (its failures fall back to the snapshots on disk)."""
    if not config.live:
        notice = f"Data: {describe(snaps)}"
        if not config.offline:
            notice += (f"; no live refresh: {target.ticker} is valued at {config.as_of}, and today's quotes cannot be "
                       "used at that date (pass --as-of to value it on another day)")
        return snaps, notice, pd.DataFrame()
    from comps.sources import refresh

    outcome = refresh.refresh(config, peers, target, today=config.today, say=say)
    if outcome.path is not None:
        snaps = load_snapshots(config.snapshot_dir, config.as_of or snapshot_date(outcome.path),
                               lookahead_days=config.lookahead, required=False)  # the refresh wrote its layer
    notice = outcome.notice if outcome.path is not None else f"{outcome.notice}; data from {describe(snaps)}"
    if outcome.target_quote:
        q = outcome.target_quote
        notice += (f"; {target.ticker} itself now trades at {q.get('regularMarketPrice')} {q.get('currency', '')}"
                   .rstrip())
    return snaps, notice, refresh_report(outcome.problems, outcome.path, snaps, peers)


def refresh_report(problems: dict[str, list[str]], path, snaps: Snapshots, peers: list[Peer]) -> pd.DataFrame:
    """One row per included peer that had a refresh problem: what failed, and which figures the
    build kept from older snapshots instead."""
    rows = []
    for p in peers:
        if not p.include or not problems.get(p.ticker):
            continue
        kept = sorted({f"{r['field']} ({r['file'].name})" for r in snaps.rows
                       if r["ticker"] == p.ticker and r["file"] != path})
        rows.append({"ticker": p.ticker, "failed": "; ".join(problems[p.ticker]),
                     "kept_from_snapshots": ", ".join(kept) or "nothing: no older figures"})
    return pd.DataFrame(rows, columns=["ticker", "failed", "kept_from_snapshots"])


def build(config: BuildConfig | None = None, *, write: bool = True,
          progress: Callable[[str], None] | None = None, renderer: ChartProcess | None = None) -> BuildResult:
    """Run one build. With ``write``, every output goes to ``config.out_dir`` as one set. Charts
    render on ``renderer`` if given (the CLI starts one before it imports this module), else on
    a chart process started here, so that its imports overlap the fits."""
    config, peers, target, snaps, disclosures = load_inputs(config or BuildConfig())
    if write:
        from comps.report import check_out_dir

        check_out_dir(config.out_dir)
    own = renderer is None and write and config.charts
    if own:
        from comps.report import workers

        renderer = workers.start()
    try:
        result = compute(config, peers, target, snaps, disclosures, progress or (lambda _m: None))
        result = dataclasses.replace(result, track_record=track_record(config, target, result.as_of))
        checkpoint("computed")
        if write:
            from comps.report import write_outputs

            result = write_outputs(result, config.out_dir, renderer if config.charts else None)
    finally:
        if own and renderer is not None:
            renderer.close()
    return result


#: a peer multiple outside this range (×) is a unit slip until a figure behind it is confirmed
PLAUSIBLE_MULTIPLE = (0.05, 500.0)


def implausible_multiples(table: pd.DataFrame) -> list[Problem]:
    """Included peers whose EV/Revenue or EV/Gross profit lies outside PLAUSIBLE_MULTIPLE and no
    figure behind it is marked CONFIRMED: one problem each, with the figures that made it."""
    low, high = PLAUSIBLE_MULTIPLE
    out = []
    for t, r in table[table["include"]].iterrows():
        for col, base, label in (("ev_to_revenue_ltm", "revenue_ltm_usd", "EV/Revenue"),
                                 ("ev_to_gross_profit_ltm", "gross_profit_ltm_usd", "EV/Gross profit")):
            m = r[col]
            if pd.notna(m) and not low <= m <= high and not r["confirmed"]:
                out.append(Problem(r["sources"] or "snapshots", (
                    f"{label} is {m:,.2f}×, outside {low:g}× to {high:g}× (EV ${r['enterprise_value_usd'] / 1e6:,.0f}M on "
                    f"${r[base] / 1e6:,.1f}M): a figure is probably in the wrong unit (snapshots hold USD millions); if "
                    "it is right, begin the note of its market cap or revenue row with CONFIRMED"), field=t))
                break
    return out


def _too_few(table: pd.DataFrame, skipped: dict[str, str]) -> InputError:
    """Too few usable peers is a problem with the input: list each excluded peer and what it lacks."""
    problems = [Problem("peers", f"no regression could be fitted: {why}", field=name) for name, why in skipped.items()]
    problems += [Problem("peers", f"excluded: {r['missing']}", field=t)
                 for t, r in table[table["include"] & (table["missing"] != "")].iterrows()]
    return InputError(problems)


def compute(config: BuildConfig, peers: list[Peer], target: Target, snaps: Snapshots,
            disclosures: pd.DataFrame, say: Callable[[str], None]) -> BuildResult:
    snaps, notice, refresh_problems = collect(config, peers, target, snaps, say)
    say(notice)
    as_of = snaps.as_of
    notes: list[str] = []
    if any(p.ticker == target.ticker for p in peers):  # the target is not its own comparable
        peers = [dataclasses.replace(p, include=False) if p.ticker == target.ticker else p for p in peers]
        notes.append(f"target in peer list: {target.ticker} is left out of every fit (it is the company being valued)")

    table = compute_peer_table(peers, snaps.rows, as_of, config.stale_days)
    if problems := implausible_multiples(table):
        raise InputError(problems)
    fits, skipped = rg.fit_all(table, config.specs, min_n=config.min_peers)
    if not fits:
        raise _too_few(table, skipped)
    peer_ccs = cc.peer_cc(disclosures, as_of)
    x = val.target_inputs(target)
    terms = bridge.terms(target)

    def discount(tickers: tuple[str, ...]) -> cc.Discount:
        return cc.concentration_discount(target.customers, peer_ccs.to_dict(), tickers, config.concentration)

    specs: dict[str, val.SpecValuation] = {}
    not_valued: dict[str, str] = {}
    frames, influence = [], []
    for i, (name, f) in enumerate(fits.items()):
        if absent := val.missing_inputs(f.spec, x):
            not_valued[name] = f"fitted, but the target has no {', '.join(absent)}: not valued"
            continue
        base = discount(f.tickers)
        draws = f.bootstrap(x, resamples=config.bootstrap_resamples, seed=config.seed + i)
        sv = val.value_spec(f, target, base, terms, levels=config.levels, bootstrap_draws=draws)
        specs[name] = sv
        frames.append(pd.DataFrame(val.price_rows(sv, target, config.headline_level, config.weak_slope_p)))

        def without(t: str, f=f, base=base) -> float:
            return base.discount if t not in base.ref_tickers else discount(tuple(p for p in f.tickers if p != t)).discount

        influence.append(val.influence(sv, target, config.headline_level, without, config.influence_threshold))
    if not specs:
        raise ModelError("no fitted method can value the target:\n" + "\n".join(f"  - {k}: {v}" for k, v in not_valued.items()))
    methods = selection.compare_methods(fits, table, set(specs), min_n=config.min_peers)
    if config.spec == "auto":
        chosen = selection.choose(methods)
    elif config.spec in specs:
        chosen = config.spec
    else:
        why = not_valued.get(config.spec) or skipped.get(config.spec, "not among the specs requested")
        raise ModelError(f"spec {config.spec} cannot value the target: {why}")
    regressions = {n: f for n, f in fits.items() if f.spec.growth is not None}
    evidence = {n: leverage.slope_evidence(table, f, resamples=config.wild_resamples, seed=config.seed, min_n=config.min_peers)
                for n, f in regressions.items()}
    valuation = pd.concat(frames, ignore_index=True)
    sv = specs[chosen]
    headline = valuation[valuation["spec"] == chosen].reset_index(drop=True)
    rolls = robustness.roll_forward(table, list(sv.fit.tickers), snaps.all_rows, as_of, config.benchmark)
    date_check, date_note = robustness.date_check(table, sv, headline, x, rolls, headline=config.headline_level,
                                                  min_peers=config.min_peers)
    flagged = evidence[chosen].flagged if chosen in evidence else ()
    rolled_fit, without_flagged = robustness.make_variant_fits(table, sv, rolls, flagged, config.min_peers)
    lag, factor = robustness.calendarization(target.revenue_usd.date, table.loc[list(sv.fit.tickers), "ltm_end_date"],
                                             target.revenue_growth)
    others = []
    if sv.fit.spec.y != "ev_to_revenue_ltm" and "median_ev_revenue" in specs:
        alt = specs["median_ev_revenue"]
        others.append(("the peers' EV/Revenue interquartile range instead", headline["ev_to_revenue_ltm"].to_numpy(),
                       val.apply_discount(alt.prediction.interval(0.5).pi_high, alt.discount.discount)))
    core = table.loc[table["include"] & (table["tier"] == "core"), sv.fit.spec.y].dropna()
    if config.min_peers <= len(core) < len(every := table.loc[table["include"], sv.fit.spec.y].dropna()):
        others.append((f"core peers only ({len(core)} of {len(every)}): their upper quartile",
                       headline["implied_multiple"].to_numpy(),
                       val.apply_discount(float(core.quantile(0.75)), sv.discount.discount)))
    verdicts, verdict_note = robustness.verdict_robustness(
        sv, headline, x, headline=config.headline_level, rolled_fit=rolled_fit if len(rolls) else None,
        without_flagged=without_flagged, calendar_factor=factor if lag > config.calendar_lag_days else 1.0,
        band_ci_high=robustness.band_ci(sv, config.headline_level, config.bootstrap_resamples, config.seed),
        others=others)
    peer_m = table.loc[list(sv.fit.tickers), sv.fit.spec.y].dropna()
    ladder = sorted({round(float(v), 1) for v in (*peer_m.quantile([0.25, 0.5, 0.75, 1.0]), sv.prediction.multiple,
                                                  *headline["implied_multiple"])})
    spec_sens = pd.DataFrame({n: [val.floor0(s.breakeven(None, d)) for d in config.sensitivity_discounts]
                              for n, s in specs.items()}, index=list(config.sensitivity_discounts)).T
    spec_sens.index.name, spec_sens.columns.name = "spec", "discount"
    skipped = {**skipped, **not_valued}
    warns = notes + diagnostics.warnings(
        table, fits, skipped, target, as_of, stale_days=config.stale_days,
        small_n=config.small_n_warning, weak_slope_p=config.weak_slope_p, left_out=snaps.left_out,
        lookahead=snaps.lookahead, evidence=evidence, terms=terms, calendar=(lag, factor),
        calendar_lag_days=config.calendar_lag_days)
    return BuildResult(
        config=config, as_of=as_of, snapshots=snaps, data_notice=notice, peers=table, target=target,
        fits=fits, skipped=skipped, chosen=chosen, specs=specs, methods=methods, evidence=evidence,
        leverage=pd.concat([leverage.influence_table(f) for f in regressions.values()], ignore_index=True)
        if regressions else pd.DataFrame(),
        valuation=valuation, influence=pd.concat(influence, ignore_index=True),
        sensitivity=val.sensitivity(sv, ladder, config.sensitivity_discounts), spec_sensitivity=spec_sens,
        peer_values=val.peer_multiple_values(table, sv.fit.tickers, sv, sv.fit.spec.y),
        peer_distribution=val.peer_distribution(table, headline, target),
        checklist=val.checklist(headline, target), bridge=pd.DataFrame(bridge.bridge_rows(target)),
        peer_cc=peer_ccs,
        discount_range=diagnostics.discount_range(sv.fit.tickers, sv.discount, discount),
        discount_grid=cc.discount_grid(target.customers, peer_ccs.to_dict(), sv.fit.tickers, config.concentration),
        rolls=rolls, date_check=date_check, date_note=date_note, verdicts=verdicts, verdict_note=verdict_note,
        calendar_lag_days=lag, calendar_factor=factor, refresh=refresh_problems, warnings=tuple(warns),
    )


def backtest_targets(config: BuildConfig, outcomes: pd.DataFrame) -> list[Target]:
    """The target files in ``config.targets_dir`` with outcomes, in pricing-date order. A file
    that does not load is bad input."""
    from comps.bridge import offer_price

    problems, found = [], []
    for path in sorted(Path(config.targets_dir).glob("*.toml")):
        try:
            t = load_target(path)
        except InputError as exc:
            problems += exc.problems
            continue
        if t.ticker in set(outcomes["ticker"]) and offer_price(t) is not None:
            found.append(t)
    if problems:
        raise InputError(problems)
    return sorted(found, key=lambda t: (t.analysis.as_of or dt.date.max, t.ticker))


def value_ipo(config: BuildConfig, target: Target) -> BuildResult:
    """One past IPO valued by the same engine at its own pricing date, from its own files,
    strictly point in time: no market figure dated after the pricing stands in for a missing one."""
    cfg = config.replace(target_path=Path(target.path), peers_path=None, snapshot_dir=None, as_of=None, offline=True,
                         track_record=False, lookahead_days=0)
    return build(cfg, write=False)


def track_record(config: BuildConfig, target: Target, as_of: dt.date,
                 results: dict[str, BuildResult] | None = None) -> TrackRecord | None:
    """How the method did on the IPOs priced before ``as_of`` whose outcomes were known by then
    (``results``: builds already made, by ticker). None when there is no outcomes file.

    Without ``results`` the past IPOs are valued here, once: the record is cached under
    ``config.cache_dir`` keyed by every input it depends on (the engine's source, the settings,
    the outcomes, and each past IPO's target file, peers and snapshots), so a later build with
    the same inputs reads it back and any change to one of them values the IPOs again."""
    from comps.backtest import TrackRecord, ipo_rows
    from comps.sources.outcomes import load_outcomes

    if not config.track_record or not Path(config.outcomes_path).exists():
        return None
    outcomes = load_outcomes(config.outcomes_path)
    known = outcomes[outcomes["date"] <= as_of]
    past = [t for t in backtest_targets(config, known)
            if t.ticker != target.ticker and t.analysis.as_of and t.analysis.as_of < as_of]
    cache = None if results is not None else _record_cache(config, target, as_of, past)
    if cache is not None and cache.exists():
        try:
            return pickle.loads(cache.read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass  # unreadable: value the IPOs again
    rows, notes = [], []
    for t in past:
        try:
            built = (results or {}).get(t.ticker) or value_ipo(config, t)
        except CompsError as exc:
            notes.append(f"{t.ticker}: not valued ({str(exc).splitlines()[0]})")
            continue
        rows += ipo_rows(built, known, known_by=as_of)
    record = TrackRecord.from_rows(pd.DataFrame(rows), tuple(notes), config.seed)
    if cache is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written is no cache, not an error
            cache.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(cache, pickle.dumps(record))
    return record


def _record_cache(config: BuildConfig, target: Target, as_of: dt.date, past: list[Target]) -> Path:
    """Where the track record for these inputs is cached: a hash of the engine's source files,
    the settings, the outcomes and every file each past IPO is valued from."""
    import hashlib

    import comps

    settings = {k: v for k, v in config.settings().items() if k not in ("out_dir", "charts", "today")}
    digest = hashlib.sha256(f"{target.ticker}|{as_of}|{sorted(settings.items())}".encode())
    files = sorted(Path(comps.__file__).parent.rglob("*.py"))
    files += [Path(config.outcomes_path), Path(config.concentration_path)]
    for t in past:
        files.append(Path(t.path))
        for folder in (t.analysis.peers, t.analysis.snapshots):
            if folder is not None:
                files += sorted(Path(folder).rglob("*")) if Path(folder).is_dir() else [Path(folder)]
    for f in files:
        if f.is_file():
            digest.update(str(f).encode() + f.read_bytes())
    return Path(config.cache_dir) / "track_record" / f"{digest.hexdigest()[:32]}.pickle"


def run_backtest(config: BuildConfig, out_dir: Path | None = None, *, renderer: ChartProcess | None = None,
                 advance: Callable[[str, int, int], None] | None = None) -> BacktestResult:
    """Every past IPO with outcomes valued at its own pricing date by the same engine, each
    build's report given the track record of the IPOs before it, then all of them scored
    against what followed. With ``out_dir``, every IPO's full build goes to its own folder in
    it, beside the backtest's tables and chart, written as one set. ``advance(ticker, i, n)`` is
    called before the i-th of n IPOs is valued."""
    from comps.backtest import TrackRecord, ipo_rows
    from comps.result import BacktestResult
    from comps.sources.outcomes import load_outcomes

    outcomes = load_outcomes(config.outcomes_path)
    targets = backtest_targets(config, outcomes)
    if not targets:
        raise InputError(Problem(str(config.targets_dir), "no target file has outcomes in "
                                                          f"{config.outcomes_path}: nothing to backtest"))
    results: dict[str, BuildResult] = {}
    for i, t in enumerate(targets):
        if advance is not None:
            advance(t.ticker, i, len(targets))
        results[t.ticker] = value_ipo(config, t)
    for t in targets:
        r = results[t.ticker]
        results[t.ticker] = dataclasses.replace(r, track_record=track_record(config, t, r.as_of, results))
    rows = [row for r in results.values() for row in ipo_rows(r, outcomes)]
    record = TrackRecord.from_rows(pd.DataFrame(rows), seed=config.seed)
    result = BacktestResult(config, results, outcomes, record)
    if out_dir is not None:
        from comps.report.backtest import write_backtest

        result = write_backtest(result, Path(out_dir), renderer)
    return result
