"""The backtest's outputs: every past IPO's full build in a folder of its own, and beside them
``backtest.md``, the tables (CSV and Markdown) and a chart of each IPO's predicted band at the
offer against the prices that followed, written as one set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from comps.backtest import MIN_FOR_INFERENCE
from comps.report import fmt
from comps.report.tables import to_csv, to_markdown

if TYPE_CHECKING:
    from comps.backtest import TrackRecord
    from comps.report.workers import ChartProcess
    from comps.result import BacktestResult

IPO_COLUMNS = ["ticker", "pricing_date", "offer_usd", "method", "value_usd", "p_over_v", "p_below_offer",
               "checklist_at_offer", "first_day_close_usd", "first_day_return", "in_90_band_first_day",
               "excess_return_6m", "excess_return_12m", "range_revision", "outcomes_missing"]


def method_title(method: str) -> str:
    """A method's plain name; the summary's first row is the engine's own call."""
    from comps.regression.specs import SPECS

    return SPECS[method].title if method in SPECS else "The engine's call (its headline method each time)"


def calls_display(record: TrackRecord) -> pd.DataFrame:
    """The engine's call on each past IPO, formatted: its value at the offer, the call, and
    what followed (blank where not yet known)."""
    calls = record.to_frame()
    return pd.DataFrame({
        "IPO": [f"{n} ({t})" for n, t in zip(calls["name"], calls["ticker"], strict=True)],
        "Priced": [fmt.cell("date", d) for d in calls["pricing_date"]],
        "Offer": [fmt.usd(v) for v in calls["offer_usd"]],
        "Engine's value": [f"{fmt.usd(v)}" for v in calls["value_usd"]],
        "Method": [method_title(m) for m in calls["method"]],
        "P(peer below offer)": [fmt.probability(v) for v in calls["p_below_offer"]],
        "Call at offer": calls["checklist_at_offer"].tolist(),
        "First-day return": [fmt.cell("first_day_return", v) for v in calls["first_day_return"]],
        "Day-1 close in 90% band": [fmt.cell("", v) for v in calls["in_90_band_first_day"]],
        "12-month return less SMH": [fmt.cell("excess_return_12m", v) for v in calls["excess_return_12m"]],
    })


def methods_display(record: TrackRecord) -> pd.DataFrame:
    """Each method's accuracy at the offer and band coverage over the past IPOs, formatted."""
    sm = record.summary
    return pd.DataFrame({
        "Method": [method_title(m) for m in sm["method"]],
        "IPOs": sm["n_ipos"].astype(int).tolist(),
        "Within ±15% of offer": [fmt.percent(v, 0) for v in sm["within_15pct_of_offer"]],
        "Median abs. ln(value/offer)": [f"{v:.2f}" for v in sm["median_abs_ln_value_to_offer"]],
        "90% band held day-1 close": [fmt.percent(v, 0) for v in sm["coverage_90_first_day"]],
        "90% band held +6m price": [fmt.percent(v, 0) if pd.notna(v) else "—" for v in sm["coverage_90_6m"]],
    })


def coverage(result: BacktestResult) -> pd.DataFrame:
    """Per IPO: the peers a banker would have used then, those valued (included, with an EV
    and revenue at the pricing date), those left out or incomplete, and where the peer list
    records what was looked for."""
    rows = []
    for ticker, build in result.builds.items():
        peers = build.peers
        valued = peers["include"] & peers["ev_to_revenue_ltm"].notna()
        rows.append({"ipo": ticker, "pricing_date": build.as_of, "n_listed": len(peers), "n_valued": int(valued.sum()),
                     "n_with_gross_margin": int((valued & peers["ev_to_gross_profit_ltm"].notna()).sum()),
                     "not_valued": ", ".join(peers.index[~valued]), "peer_list": str(build.config.peers_path)})
    return pd.DataFrame(rows)


def backtest_frames(result: BacktestResult) -> dict[str, pd.DataFrame]:
    """The backtest's tables by file stem: every IPO × method, the engine's call per IPO, the
    summary per method and the signals."""
    record = result.record
    return {"backtest": record.rows, "backtest_ipos": record.to_frame()[IPO_COLUMNS],
            "backtest_summary": record.summary, "backtest_signals": record.signals,
            "backtest_coverage": coverage(result)}


def caveat(n: int) -> str:
    """What a sample of ``n`` IPOs can and cannot show, in one sentence."""
    if n >= MIN_FOR_INFERENCE:
        return f"{n} IPOs: enough to describe calibration, still too few for precise inference."
    return (f"{n} IPOs: this describes what happened; it cannot test anything (no p-values), and a single IPO moves "
            "every share by {:.0%}.".format(1 / max(n, 1)))


SIGNALS = {"p_over_v": "Offer ÷ engine's value", "p_below_offer": "P(peer below offer)",
           "range_revision": "Range revision (offer vs first range)", "first_day_return": "First-day return",
           "excess_return_12m": "12-month return less SMH"}


def signals_display(record: TrackRecord) -> pd.DataFrame:
    """Each signal against each outcome: Spearman ρ with its bootstrap interval, formatted."""
    sg = record.signals
    return pd.DataFrame({
        "Signal at the offer": [SIGNALS[v] for v in sg["signal"]], "Outcome": [SIGNALS[v] for v in sg["outcome"]],
        "IPOs": sg["n_ipos"].astype(int).tolist(), "Spearman ρ": [f"{v:+.2f}" if pd.notna(v) else "—"
                                                                  for v in sg["spearman_rho"]],
        "Bootstrap 5% to 95%": [f"{lo:+.2f} to {hi:+.2f}" if pd.notna(lo) else "—"
                                for lo, hi in zip(sg["bootstrap_5pct"], sg["bootstrap_95pct"], strict=True)],
        "Sign expected": sg["sign_expected"].tolist()})


def backtest_markdown(result: BacktestResult) -> str:
    record = result.record
    n = len(record.to_frame())
    head = record.summary.iloc[0] if len(record.summary) else None
    lines = [
        "# How the method did on past IPOs\n",
        ("Each IPO was valued by the same engine at its own pricing date, against the peers a banker would have "
        "used then and only figures public by that date, then scored against what followed. Value per share is "
        "the break-even price of the method's fair multiple (after the concentration discount and the EV "
        "bridge); a trading price after the pricing keeps the proceeds raised at the offer.\n"),
        f"**{caveat(n)}**\n",
    ]
    if head is not None:
        lines.append(
            f"The engine's headline value was within ±15% of the offer price for "
            f"{fmt.percent(head['within_15pct_of_offer'], 0)} of the IPOs (median abs. ln(value/offer) "
            f"{head['median_abs_ln_value_to_offer']:.2f}); its 90% band held the first-day close for "
            f"{fmt.percent(head['coverage_90_first_day'], 0)} and the +6-month price for "
            f"{fmt.percent(head['coverage_90_6m'], 0)} (of {int(head['n_with_6m'])}). The headline probability is "
            f"{'supported' if record.validated else 'unvalidated'}: {record.reason}.\n")
    lines += ["## The engine's call on each IPO\n", to_markdown(calls_display(record), formatted=True),
              "## The peers each IPO was valued against\n",
              ("A peer is valued when it is included and has an EV and revenue public by the pricing date; the peer "
              "list's notes say, for each one left out, what was missing and where it was looked for.\n"),
              to_markdown(coverage(result)),
              "## Each method across the IPOs\n", to_markdown(methods_display(record), formatted=True),
              "## Did the call at the offer say anything about what followed?\n",
              (f"Spearman ρ over the IPOs, with a bootstrap 5-95% interval; n = {n}, so descriptive only: no p-value "
              "is computed.\n"),
              to_markdown(signals_display(record), formatted=True)]
    calls = record.to_frame()
    missing = calls[calls["outcomes_missing"] != ""]
    if len(missing):
        lines += ["## Outcomes left blank\n",
                  *[f"- {r['ticker']}: {r['outcomes_missing']}" for _, r in missing.iterrows()], ""]
    lines.append(f"Each IPO's full build is in its own folder beside this file: {', '.join(result.builds)}. Every "
                 "figure above is in backtest.csv, one row per IPO and method.\n")
    return "\n".join(lines)


def write_backtest(result: BacktestResult, out_dir: Path, renderer: ChartProcess | None = None) -> BacktestResult:
    """Render every IPO's build and the backtest's own files, then replace ``out_dir`` with them
    as one set (under the lock of the output folder it sits in)."""
    import dataclasses

    from comps._io import remove_stale_temporaries, replace_dir
    from comps.report import (
        CHARTS,
        TABLES,
        check_out_dir,
        manifest,
        output_lock,
        render_files,
    )
    from comps.report.charts import render_all

    check_out_dir(out_dir)
    files: dict[str, bytes] = {}
    for ticker, build in result.builds.items():
        own = render_files(build, renderer if build.config.charts else None)
        own["manifest.json"] = (json.dumps(manifest(build, own), indent=2, sort_keys=True) + "\n").encode()
        files.update({f"{ticker}/{name}": data for name, data in own.items()})
    frames = backtest_frames(result)
    files["backtest.csv"] = to_csv(frames["backtest"]).encode()
    for stem, frame in list(frames.items())[1:]:  # the first is backtest.csv, at the top
        files[f"{TABLES}/{stem}.csv"] = to_csv(frame).encode()
        files[f"{TABLES}/{stem}.md"] = to_markdown(frame).encode()
    files["backtest.md"] = backtest_markdown(result).encode()
    if renderer is not None:
        renderer.submit(result.record.rows)
        charts = renderer.collect()
    else:
        charts = render_all(result.record.rows)
    for stem, rendered in charts.items():
        for ext, data in rendered.items():
            files[f"{CHARTS}/{stem}.{ext}"] = data
    files["manifest.json"] = (json.dumps({"kind": "backtest", "ipos": list(result.builds),
                                          "outputs": {n: _sha(d) for n, d in sorted(files.items())}},
                                         indent=2, sort_keys=True) + "\n").encode()
    out_dir = Path(out_dir)
    with output_lock(out_dir):
        check_out_dir(out_dir)
        remove_stale_temporaries(out_dir)
        written = replace_dir(files, out_dir)
    return dataclasses.replace(result, written=tuple(written))


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
