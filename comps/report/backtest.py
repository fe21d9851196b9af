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
    from comps.report.workers import ChartProcess
    from comps.result import BacktestResult

IPO_COLUMNS = ["ticker", "pricing_date", "offer_usd", "method", "value_usd", "p_over_v", "p_below_offer",
               "checklist_at_offer", "first_day_close_usd", "first_day_return", "in_90_band_first_day",
               "excess_return_6m", "excess_return_12m", "range_revision", "outcomes_missing"]


def backtest_frames(result: BacktestResult) -> dict[str, pd.DataFrame]:
    """The backtest's tables by file stem: every IPO × method, the engine's call per IPO, the
    summary per method and the signals."""
    record = result.record
    return {"backtest": record.rows, "backtest_ipos": record.to_frame()[IPO_COLUMNS],
            "backtest_summary": record.summary, "backtest_signals": record.signals}


def caveat(n: int) -> str:
    """What a sample of ``n`` IPOs can and cannot show, in one sentence."""
    if n >= MIN_FOR_INFERENCE:
        return f"{n} IPOs: enough to describe calibration, still too few for precise inference."
    return (f"{n} IPOs: this describes what happened; it cannot test anything (no p-values), and a single IPO moves "
            "every share by {:.0%}.".format(1 / max(n, 1)))


def backtest_markdown(result: BacktestResult, frames: dict[str, pd.DataFrame]) -> str:
    record = result.record
    head = record.summary.iloc[0] if len(record.summary) else None
    ipos = frames["backtest_ipos"]
    lines = [
        "# How the method did on past IPOs\n",
        "Each IPO was valued by the same engine at its own pricing date, against the peers a banker would have "
        "used then and only figures public by that date, then scored against what followed. Value per share is "
        "the break-even price of the method's fair multiple (after the concentration discount and the EV "
        "bridge); a trading price after the pricing keeps the proceeds raised at the offer.\n",
        f"**{caveat(len(ipos))}**\n",
    ]
    if head is not None:
        lines.append(
            f"The engine's headline call was within ±15 % of the offer price for "
            f"{fmt.percent(head['within_15pct_of_offer'], 0)} of the IPOs (median |ln(V/P)| "
            f"{head['median_abs_ln_value_to_offer']:.2f}); its 90 % band held the first-day close for "
            f"{fmt.percent(head['coverage_90_first_day'], 0)} and the +6-month price for "
            f"{fmt.percent(head['coverage_90_6m'], 0)} (of {int(head['n_with_6m'])}). The headline probability is "
            f"{'supported' if record.validated else 'unvalidated'}: {record.reason}.\n")
    lines += ["## The engine's call on each IPO\n", to_markdown(ipos),
              "## Each method across the IPOs\n", to_markdown(frames["backtest_summary"]),
              "## Did the call at the offer say anything about what followed?\n",
              f"Spearman ρ over the IPOs with a bootstrap 5-95 % interval; n = {len(ipos)}, so descriptive only.\n",
              to_markdown(frames["backtest_signals"])]
    missing = ipos[ipos["outcomes_missing"] != ""]
    if len(missing):
        lines += ["## Outcomes not yet known or not found\n",
                  *[f"- {r['ticker']}: {r['outcomes_missing']} (left blank: not yet known, or not in the stored "
                    "sources)" for _, r in missing.iterrows()], ""]
    lines.append(f"Builds of each IPO: the folders {', '.join(result.builds)} beside this file.\n")
    return "\n".join(lines)


def write_backtest(result: BacktestResult, out_dir: Path, renderer: ChartProcess | None = None) -> BacktestResult:
    """Render every IPO's build and the backtest's own files, then replace ``out_dir`` with them
    as one set (under the lock of the output folder it sits in)."""
    import dataclasses

    from comps._io import remove_stale_temporaries, replace_dir
    from comps.report import check_out_dir, manifest, output_lock, render_files
    from comps.report.charts import render_all

    check_out_dir(out_dir)
    files: dict[str, bytes] = {}
    for ticker, build in result.builds.items():
        own = render_files(build, renderer if build.config.charts else None)
        own["manifest.json"] = (json.dumps(manifest(build, own), indent=2, sort_keys=True) + "\n").encode()
        files.update({f"{ticker}/{name}": data for name, data in own.items()})
    frames = backtest_frames(result)
    for stem, frame in frames.items():
        files[f"{stem}.csv"] = to_csv(frame).encode()
        files[f"{stem}.md"] = to_markdown(frame).encode()
    files["backtest.md"] = backtest_markdown(result, frames).encode()
    if renderer is not None:
        renderer.submit(result.record.rows)
        charts = renderer.collect()
    else:
        charts = render_all(result.record.rows)
    for stem, rendered in charts.items():
        for ext, data in rendered.items():
            files[f"{stem}.{ext}"] = data
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
