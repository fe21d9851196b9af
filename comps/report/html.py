"""report.html: one self-contained page, verdict first.

The opening sentence and a strip of key figures, then the banker's comps table (great_tables),
the scatter and the football field; every detail table below in collapsible sections. Inline
CSS and charts, no external request, every user string escaped, wide tables scrolling inside
their own box so the page never runs wider than the screen."""

from __future__ import annotations

import base64
import html
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from comps.report import CHARTS, TABLES, fmt
from comps.report.story import (
    believe_line,
    method_support,
    probability_sentence,
    risks,
    track_record_line,
    track_record_sentence,
    verdict_sentence,
)
from comps.report.summary import key_figures
from comps.report.tables import (
    COMPS_COLUMNS,
    LARGE_UNIVERSE,
    PEER_DISPLAY,
    comps_cells,
    comps_summary,
    display,
    grid,
    headline_display,
    numeric_column,
    premium_strip,
    row_names,
)

if TYPE_CHECKING:
    from comps.result import BuildResult

CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.45rem;margin:.2rem 0 .6rem}
h2{font-size:1.15rem;border-bottom:2px solid #e5e7eb;padding-bottom:.2rem;margin:1.6rem 0 .6rem}
#brief h2{font-size:1rem;margin:1rem 0 .4rem}
#brief p{margin:.45rem 0;line-height:1.45}
.verdict{font-size:1.05rem;background:#fff8e1;border-left:5px solid #d4a106;padding:.7rem 1rem}
.support,.believe,.track{font-size:.92rem}
.track{color:#57606a}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.5rem;margin:.8rem 0}
.figure{border:1px solid #e5e7eb;border-radius:6px;padding:.45rem .6rem}
.figure .k{font-size:.72rem;color:#57606a}.figure .v{font-size:1.05rem;font-weight:600}
.brief-bottom{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem;align-items:start}
@media (max-width:800px){.brief-bottom{grid-template-columns:minmax(0,1fr)}}
ul.risks{margin:.3rem 0;padding-left:1.2rem;font-size:.9rem}ul.risks li{margin:.25rem 0}
.scroll{overflow-x:auto;max-width:100%}
table.t{border-collapse:collapse;font-size:.8rem;margin:.4rem 0}
table.t th,table.t td{border:1px solid #d8dee4;padding:.25rem .45rem;text-align:left;white-space:nowrap}
table.t th{background:#f6f8fa}
table.t .n,table.t td:not(:first-child):not(.wrap){text-align:right}
table.t td.wrap{white-space:normal;min-width:14rem;overflow-wrap:anywhere;text-align:left}
table.h th{white-space:normal;vertical-align:bottom;min-width:4.5rem}
table.t.h td:not(.n){text-align:left}
#comps-table td{white-space:nowrap}#comps-table .gt_stub{position:sticky;left:0;background:#fff;z-index:1}
figure{margin:.6rem 0}img{display:block;width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.8rem;color:#57606a}
details{border:1px solid #e5e7eb;border-radius:6px;padding:.4rem .8rem;margin:.5rem 0}
summary{cursor:pointer;font-weight:600}
ul.warn li{margin:.2rem 0}
.small{font-size:.78rem;color:#57606a;overflow-wrap:anywhere}
ul.files{columns:3 12rem}
@media (max-width:600px){main{padding:.6rem}h1{font-size:1.1rem}.verdict{font-size:.92rem;padding:.5rem .7rem}
 .figures{grid-template-columns:repeat(2,1fr);gap:.3rem}.figure{padding:.25rem .4rem}.figure .v{font-size:.9rem}
 .figure .k{font-size:.68rem}figure img{min-width:600px}figure a{display:block;overflow-x:auto}}
@page{size:auto;margin:10mm}
@media print{main{max-width:none;padding:0}#brief{break-after:page;font-size:9pt}#brief h1{font-size:13pt}
 #brief .verdict{font-size:9.5pt;padding:.35rem .6rem}#brief p{margin:.25rem 0}
 #brief .support,#brief .believe,#brief .track,ul.risks{font-size:8.5pt}
 #brief .figures{grid-template-columns:repeat(5,1fr);gap:.25rem;margin:.4rem 0}
 #brief .figure{padding:.2rem .35rem}#brief .figure .k{font-size:6.5pt}#brief .figure .v{font-size:8.5pt}
 #brief h2{font-size:10pt;margin:.5rem 0 .25rem}#brief table.t{font-size:7.5pt;margin:.2rem 0}
 #brief table.t th,#brief table.t td{padding:.1rem .3rem}.brief-bottom{grid-template-columns:minmax(0,11fr) minmax(0,9fr);gap:.6rem}
 figcaption{display:none}
 .scroll{overflow:visible}a{color:inherit;text-decoration:none}details{break-inside:auto}}
"""
WRAP = {"notes", "missing", "mixed_sources", "note", "source_url", "source", "ev_basis", "revenue_basis", "failed",
        "kept_from_snapshots", "verdict_flips", "implied_growth_note", "label", "market_cap_basis", "reason"}


def table(frame: pd.DataFrame, labels: dict[str, str] | None = None, links: str | None = None) -> str:
    """A plain HTML table of formatted cells, escaped, in its own scrolling box."""
    shown = display(frame, labels)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    columns = []
    for j, raw_col in enumerate(frame.columns):  # by position: two columns may share a label
        cls = ' class="wrap"' if raw_col in WRAP else ""
        cells = []
        for text, raw in zip(shown.iloc[:, j].tolist(), frame.iloc[:, j].tolist(), strict=True):
            text = html.escape(str(text))
            if raw_col == links and isinstance(raw, str) and raw.startswith(("http://", "https://")):
                text = f'<a href="{html.escape(raw, quote=True)}" rel="noreferrer">{text}</a>'
            cells.append(f"<td{cls}>{text}</td>")
        columns.append(cells)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in zip(*columns, strict=True))
    return f'<div class="scroll"><table class="t"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def formatted_table(shown: pd.DataFrame, css_id: str = "") -> str:
    """An HTML table of cells already formatted as text; figures right-aligned."""
    numeric = [numeric_column(shown.iloc[:, j]) for j in range(shown.shape[1])]
    head = "".join(f'<th{" class=n" if n else ""}>{html.escape(str(c))}</th>' for c, n in zip(shown.columns, numeric,
                                                                                                 strict=True))
    body = "".join("<tr>" + "".join(f'<td{" class=n" if n else ""}>{html.escape(str(v))}</td>'
                                    for v, n in zip(row, numeric, strict=True)) + "</tr>"
                   for row in shown.itertuples(index=False))
    ident = f' id="{css_id}"' if css_id else ""
    return f'<div class="scroll"{ident}><table class="t h"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def comps_gt(result: BuildResult, frame: pd.DataFrame) -> str:
    """The banker's comps table with great_tables: row groups per segment, tier and the target,
    spanners, statistics rows shaded, the target's rows in bold, the headline multiple marked.
    Cells are formatted by :mod:`comps.report.fmt`, as in every other output. A universe larger
    than LARGE_UNIVERSE is shown as its summary (:func:`comps_summary`)."""
    from great_tables import GT, loc, style

    large = (frame["row_type"] == "peer").sum() > LARGE_UNIVERSE
    if large:
        frame = comps_summary(frame)
    cols = [c for c in COMPS_COLUMNS if c in frame.columns]
    shown = comps_cells(frame)
    shown["row"] = row_names(frame)
    shown["group"] = frame["group"].to_numpy()
    headline = result.fits[result.chosen].spec.y
    labels = {c: fmt.label(c) for c in cols} | {"market_cap_date": "Market data", "growth_adjusted_multiple":
                                                "EV/Rev ÷ growth", "share_price_usd": "Share price"}
    labels[headline] = labels[headline] + " ★"
    multiples = [c for c in cols if c.startswith("ev_to")]
    note = (f"{(frame['row_type'] == 'peer').sum():,} of {len(result.peers):,} peers shown (the largest by market cap; "
            f"segment medians below); every peer is in {TABLES}/comps.csv and comps.xlsx. " if large else "")
    gt = (GT(shown[["row", "group", *cols]], rowname_col="row", groupname_col="group", id="comps-table")
          .tab_header(title=f"Trading comparables as of {result.as_of}",
                      subtitle=f"Peers by segment; Mean / Median / High / Low and n over the included peers of each "
                               f"tier and of all; {result.target.name} at each price point. ★ = the headline "
                               f"method's multiple ({result.fits[result.chosen].spec.title}).")
          .cols_label(**labels)
          .cols_align("right", columns=[c for c in cols if c not in ("ltm_end_date", "market_cap_date")])
          .tab_spanner("Value", [c for c in ("share_price_usd", "share_of_52w_high", "market_cap_usd", "net_debt_usd",
                                             "enterprise_value_usd") if c in cols])
          .tab_spanner("Multiples", multiples)
          .tab_spanner("Operating", ["revenue_ltm_usd", "ltm_end_date", "revenue_growth", "gross_margin"])
          .tab_options(table_font_size="13px", data_row_padding="3px", row_group_padding="4px")
          .tab_style(style.fill(color="#f3f4f6"), loc.body(rows=[int(i) for i in np.flatnonzero(frame["row_type"] == "stat")]))
          .tab_style(style.text(weight="bold"), loc.body(rows=[int(i) for i in np.flatnonzero(frame["row_type"] == "target")]))
          .tab_style(style.fill(color="#fff3c4"), loc.body(columns=[headline]))
          .tab_source_note(f"{note}{result.data_notice}. Multiples are LTM; growth is TTM over the TTM a year earlier, "
                           "or fiscal year over fiscal year where the quarters are not sourced (see the peers table)."))
    return f'<div class="scroll">{gt.as_raw_html()}</div>'


_CHART = re.compile(r"<!--chart:(\w+)-->(.*?)<!--/chart-->", re.DOTALL)


def embed_charts(page: str, pngs: dict[str, bytes], folder: str = "charts") -> str:
    """Fill the report's chart slots with inline PNGs, each linked to its full-size SVG in
    ``folder``; a chart that was not drawn leaves nothing."""
    def fill(m: re.Match) -> str:
        if m[1] not in pngs:
            return ""
        data = base64.b64encode(pngs[m[1]]).decode()
        return (f'<figure id="chart-{m[1]}"><a href="{folder}/{m[1]}.svg" title="Open full size">'
                f'<img alt="{m[2]}" src="data:image/png;base64,{data}"></a>'
                f'<figcaption>{m[2]} <a href="{folder}/{m[1]}.svg">Full size</a></figcaption></figure>')
    return _CHART.sub(fill, page)


def largest(frame: pd.DataFrame, column: str, stem: str, n: int = 60) -> str:
    """A table, or for a long one its ``n`` rows of largest |``column``| with a note that the
    rest are in ``tables/<stem>.csv``."""
    if len(frame) <= n:
        return table(frame)
    note = f'<p class="small">The {n} of {len(frame):,} rows with the largest {fmt.label(column).lower()}; every row is ' \
           f"in {TABLES}/{stem}.csv.</p>"
    return note + table(frame.loc[sorted(frame[column].abs().nlargest(n).index)])


def brief(result: BuildResult) -> str:
    """The one-page brief at the top of the report (printed alone on the first page): the
    verdict, what the price asks you to believe, the key figures, what the method supports, the
    track record, the premium to the peer median at every price, the peer-multiples chart and
    three risks."""
    t, e = result.target, html.escape
    cards = "".join(f'<div class="figure"><div class="k">{e(k)}</div><div class="v">{e(v)}</div></div>'
                    for k, v in key_figures(result))
    track = track_record_line(result)
    return "".join([
        '<section id="brief">',
        f"<h1>{e(t.name)} ({e(t.ticker)}): IPO prices against listed peers, as of {result.as_of}</h1>",
        f'<p class="verdict" id="verdict">{e(verdict_sentence(result))}</p>',
        f'<p class="believe" id="believe"><b>What you have to believe:</b> {e(believe_line(result))}.</p>',
        f'<div class="figures" id="figures">{cards}</div>',
        f'<p class="support" id="support">{e(method_support(result))}. {e(probability_sentence(result))}.</p>',
        f'<p class="track" id="track">{e(track)}.</p>' if track else "",
        '<h2 class="brief-h">Premium to the peer median at every price</h2>',
        formatted_table(premium_strip(result), "strip"),
        ('<div class="brief-bottom"><div class="brief-chart"><!--chart:peer_multiples-->Peer EV/Revenue against the '
        "target's price points<!--/chart--></div>"),
        '<div><h2 class="brief-h">Risks</h2><ul class="risks">' + "".join(f"<li>{e(r)}</li>" for r in risks(result))
        + "</ul></div></div></section>",
    ])


def track_record_html(result: BuildResult) -> str:
    """'How this method did on past IPOs', open on the page, with its two tables."""
    from comps.report.backtest import calls_display, methods_display

    tr = result.track_record
    if tr is None:
        return ""
    body = f"<p>{html.escape(track_record_sentence(result))}.</p>"
    if not tr.rows.empty:
        body += formatted_table(calls_display(tr)) + formatted_table(methods_display(tr))
    return f'<h2 id="track-record">How this method did on past IPOs</h2>{body}'


def html_report(result: BuildResult, frames: dict[str, pd.DataFrame]) -> str:
    """The self-contained report page, with a slot per chart for :func:`embed_charts`, so the
    page is built while the charts are still drawing."""
    t, e = result.target, html.escape
    sv = result.specs[result.chosen]

    def chart(stem: str, caption: str) -> str:
        return f"<!--chart:{stem}-->{e(caption)}<!--/chart-->"

    def details(title: str, body: str) -> str:
        return f"<details><summary>{e(title)}</summary>{body}</details>"

    warnings = "".join(f"<li>{e(w)}</li>" for w in result.warnings) or "<li>none</li>"
    citations = "".join(f"<li><b>{e(fmt.label(k))}</b>: {e(v)}</li>"
                        for k, v in result.config.concentration.citations.items())
    spec_sens = result.spec_sensitivity.rename(index={s: result.fits[s].spec.title for s in result.spec_sensitivity.index})
    spec_sens.index.name = "spec"
    large = len(result.peers) > LARGE_UNIVERSE
    files = "".join(f'<li><a href="{TABLES}/{stem}.csv">{e(stem)}.csv</a></li>' for stem in frames)
    parts = [
        brief(result),
        "<h2>Every price point</h2>", formatted_table(headline_display(result)),
        f'<p class="small">{e(result.verdict_note)} Date check: {e(result.date_note)}.</p>',
        "<h2>The price points against the methods</h2>",
        chart("football_field", "Value per share by method against the IPO prices"),
        chart("scatter_growth_multiple", f"Peers' growth against {sv.fit.spec.y_label}, with {t.ticker} at each "
                                         "price point"),
        track_record_html(result),
        "<h2>Trading comps</h2>", comps_gt(result, frames["comps"]),
        details(f"Warnings ({len(result.warnings)})", f'<ul class="warn">{warnings}</ul>'),
        details("Checklist (follow / wait / walk away)", table(result.checklist)),
        details("Price points against the peer distribution (no regression)", table(frames["peer_distribution"])),
        details("Methods compared, leave one out", table(frames["regression"]) + table(frames["coefficients"])),
        details("Leverage: which peers carry each slope",
                largest(result.leverage, "cooks_distance", "leverage") if not result.leverage.empty else ""),
        details("Verdict robustness", f'<p class="small">{e(result.verdict_note)}</p>' + table(result.verdicts)),
        details("Date check: stale peers rolled forward", f'<p class="small">{e(result.date_note)}.</p>'
                + (table(result.date_check) + table(result.rolls) if not result.date_check.empty else "")),
        details("EV bridge at each price", table(result.bridge)),
        details("Value intervals by method", table(frames["intervals"])),
        details("Influence: each peer left out", chart("influence", "Change in the break-even price when each peer "
                                                                     "is left out")
                + largest(frames["influence"], "fair_price_change", "influence")),
        details("Sensitivity: break-even price by multiple and discount",
                chart("sensitivity_heatmap", "Break-even price per share by the multiple applied and the discount")
                + table(grid(result.sensitivity, "breakeven_price_usd", "Multiple applied", "Discount"))
                + table(grid(spec_sens, "breakeven_price_usd", "Method", "Discount"))),
        details("Concentration discount and its assumptions",
                table(frames["concentration"]) + table(result.discount_range) + table(frames["discount_grid"])
                + f"<ul class='small'>{citations}</ul>"),
        details("Peers", f'<p class="small">{len(result.peers):,} peers: every one is in {TABLES}/peers.csv and '
                         "comps.xlsx.</p>" if large else table(result.peers[PEER_DISPLAY])),
        details("Sources", "<h3>Target</h3>" + table(frames["sources_target"], links="source")
                + "<h3>Peers</h3>" + (f'<p class="small">{len(frames["sources_peers"]):,} figures: see '
                                      f"{TABLES}/sources_peers.csv.</p>" if large
                                      else table(frames["sources_peers"], links="source_url"))),
        *([details("Live refresh problems", table(result.refresh))] if not result.refresh.empty else []),
        details("Files in this folder", '<p class="small">comps.xlsx (the workbook), summary.md (this report in '
                f"Markdown), manifest.json (hashes, inputs, settings), {CHARTS}/ (every chart as PNG and SVG) and "
                f'{TABLES}/:</p><ul class="small files">{files}</ul>'),
        f'<p class="small">{e(result.data_notice)}. As of {result.as_of}. Written by comps.</p>',
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{e(t.name)} comps as of {result.as_of}</title><style>{CSS}</style>"
            f"<script>{PRINT_SCRIPT}</script></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


#: printing opens every collapsed section, so a printout holds the whole report
PRINT_SCRIPT = ("addEventListener('beforeprint',()=>document.querySelectorAll('details').forEach(d=>{d.dataset.was=d.open;"
                "d.open=true}));addEventListener('afterprint',()=>document.querySelectorAll('details').forEach(d=>{"
                "d.open=d.dataset.was==='true'}))")
