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

import pandas as pd

from comps.report import fmt
from comps.report.story import (
    believe_line,
    method_support,
    probability_sentence,
    verdict_sentence,
)
from comps.report.summary import key_figures
from comps.report.tables import (
    COMPS_COLUMNS,
    PEER_DISPLAY,
    display,
    grid,
    headline_display,
)

if TYPE_CHECKING:
    from comps.result import BuildResult

CSS = """
*{box-sizing:border-box}
body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1f2328;background:#fff}
main{max-width:1200px;margin:0 auto;padding:1rem}
h1{font-size:1.45rem;margin:.2rem 0 .6rem}
h2{font-size:1.15rem;border-bottom:2px solid #e5e7eb;padding-bottom:.2rem;margin:1.6rem 0 .6rem}
.verdict{font-size:1.05rem;line-height:1.5;background:#fff8e1;border-left:5px solid #d4a106;padding:.7rem 1rem;margin:0}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.5rem;margin:.8rem 0}
.figure{border:1px solid #e5e7eb;border-radius:6px;padding:.45rem .6rem}
.figure .k{font-size:.72rem;color:#57606a}.figure .v{font-size:1.1rem;font-weight:600}
.scroll{overflow-x:auto;max-width:100%}
table.t{border-collapse:collapse;font-size:.8rem;margin:.4rem 0}
table.t th,table.t td{border:1px solid #d8dee4;padding:.25rem .45rem;text-align:right;white-space:nowrap}
table.t th{background:#f6f8fa;border-style:solid}
table.t td:first-child,table.t th:first-child{text-align:left}
table.t td.wrap{white-space:normal;min-width:14rem;overflow-wrap:anywhere;text-align:left}
table.h th{white-space:normal;vertical-align:bottom;min-width:4.5rem}
table.h td:nth-last-child(-n+2){text-align:left}
figure{margin:.6rem 0}img{display:block;width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.8rem;color:#57606a}
details{border:1px solid #e5e7eb;border-radius:6px;padding:.4rem .8rem;margin:.5rem 0}
summary{cursor:pointer;font-weight:600}
ul.warn li{margin:.2rem 0}
.small{font-size:.78rem;color:#57606a;overflow-wrap:anywhere}
@media (max-width:600px){main{padding:.6rem}h1{font-size:1.2rem}.verdict{font-size:.95rem}}
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


def formatted_table(shown: pd.DataFrame) -> str:
    """An HTML table of cells already formatted as text."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in shown.itertuples(index=False))
    return f'<div class="scroll"><table class="t h"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def comps_gt(result: BuildResult, frame: pd.DataFrame) -> str:
    """The banker's comps table with great_tables: row groups per segment, spanners, number
    formats, statistics rows shaded, the target's rows in bold, the headline multiple marked."""
    from great_tables import GT, loc, style

    frame = frame.copy()
    frame["row"] = [f"{r['name']} ({r['ticker']})" if r["row_type"] == "peer" else r["name"] for _, r in frame.iterrows()]
    frame["market_cap_date"] = [d.isoformat() if hasattr(d, "isoformat") else "" for d in frame["market_cap_date"]]
    cols = [c for c in COMPS_COLUMNS if c in frame.columns]
    headline = result.fits[result.chosen].spec.y
    labels = {c: fmt.label(c) for c in cols} | {"market_cap_date": "Date", "market_cap_usd": "Equity value",
                                                "growth_adjusted_multiple": "EV/Rev ÷ growth"}
    labels[headline] = labels[headline] + " ★"
    multiples = [c for c in cols if c.startswith("ev_to")]
    gt = (GT(frame[["row", "group", *cols]], rowname_col="row", groupname_col="group", id="comps-table")
          .tab_header(title=f"Trading comparables as of {result.as_of}",
                      subtitle=f"Peers by segment with Mean / Median / High / Low; {result.target.name} at each "
                               f"price point. ★ = the headline spec's multiple ({result.fits[result.chosen].spec.label}).")
          .cols_label(**labels)
          .tab_spanner("Value", ["market_cap_usd", "enterprise_value_usd"])
          .tab_spanner("Multiples", multiples)
          .tab_spanner("Operating", ["revenue_growth", "gross_margin"])
          .fmt_currency(["market_cap_usd", "enterprise_value_usd"], decimals=1, compact=True)
          .fmt_number(multiples, decimals=1, pattern="{x}×")
          .fmt_number(["growth_adjusted_multiple"], decimals=2, pattern="{x}×")
          .fmt_percent(["revenue_growth", "gross_margin"], decimals=1)
          .sub_missing(missing_text="—")
          .tab_options(table_font_size="13px", data_row_padding="3px", row_group_padding="4px")
          .tab_style(style.css("white-space: nowrap"), loc.body(columns=["market_cap_date"]))
          .tab_style(style.fill(color="#f3f4f6"), loc.body(rows=list(frame.index[frame["row_type"] == "stat"])))
          .tab_style(style.text(weight="bold"), loc.body(rows=list(frame.index[frame["row_type"] == "target"])))
          .tab_style(style.fill(color="#fff3c4"), loc.body(columns=[headline]))
          .tab_source_note(f"{result.data_notice}. Multiples are LTM; growth is TTM over the TTM a year earlier, "
                           "or fiscal year over fiscal year where the quarters are not sourced (see the peers table)."))
    return f'<div class="scroll">{gt.as_raw_html()}</div>'


_CHART = re.compile(r"<!--chart:(\w+)-->(.*?)<!--/chart-->", re.DOTALL)


def embed_charts(page: str, pngs: dict[str, bytes]) -> str:
    """Fill the report's chart slots with inline PNGs; a chart that was not drawn leaves nothing."""
    def fill(m: re.Match) -> str:
        if m[1] not in pngs:
            return ""
        data = base64.b64encode(pngs[m[1]]).decode()
        return f'<figure><img alt="{m[2]}" src="data:image/png;base64,{data}"><figcaption>{m[2]}</figcaption></figure>'
    return _CHART.sub(fill, page)


def html_report(result: BuildResult, frames: dict[str, pd.DataFrame]) -> str:
    """The self-contained report page, with a slot per chart for :func:`embed_charts`, so the
    page is built while the charts are still drawing."""
    t, e = result.target, html.escape
    sv = result.specs[result.chosen]

    def chart(stem: str, caption: str) -> str:
        return f"<!--chart:{stem}-->{e(caption)}<!--/chart-->"

    def details(title: str, body: str) -> str:
        return f"<details><summary>{e(title)}</summary>{body}</details>"

    cards = "".join(f'<div class="figure"><div class="k">{e(k)}</div><div class="v">{e(v)}</div></div>'
                    for k, v in key_figures(result))
    warnings = "".join(f"<li>{e(w)}</li>" for w in result.warnings) or "<li>none</li>"
    citations = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in result.config.concentration.citations.items())
    spec_sens = result.spec_sensitivity.rename(index={s: result.fits[s].spec.title for s in result.spec_sensitivity.index})
    spec_sens.index.name = "spec"
    parts = [
        f"<h1>{e(t.name)} ({e(t.ticker)}): IPO prices against listed peers</h1>",
        f'<p class="verdict" id="verdict">{e(verdict_sentence(result))}</p>',
        f'<p class="support">{e(method_support(result)[0].upper() + method_support(result)[1:])}. '
        f"{e(probability_sentence(result))}.</p>",
        f'<p class="believe" id="believe">{e(believe_line(result))}.</p>',
        f'<div class="figures">{cards}</div>',
        "<h2>Every price point</h2>", formatted_table(headline_display(result)),
        f'<p class="small">{e(result.verdict_note)} Date check: {e(result.date_note)}.</p>',
        "<h2>The price points against the peers</h2>",
        chart("peer_multiples", "Peer EV/Revenue against the target's price points"),
        chart("football_field", "Value per share by method against the IPO prices"),
        chart("scatter_growth_multiple", f"Peers' growth against {sv.fit.spec.y_label}, with {t.ticker} at each "
                                         "price point"),
        "<h2>Trading comps</h2>", comps_gt(result, frames["comps"]),
        details(f"Warnings ({len(result.warnings)})", f'<ul class="warn">{warnings}</ul>'),
        details("Checklist (follow / wait / walk away)", table(result.checklist)),
        details("Price points against the peer distribution (no regression)", table(frames["peer_distribution"])),
        details("Methods compared, leave one out", table(frames["regression"]) + table(frames["coefficients"])),
        details("Leverage: which peers carry each slope", table(result.leverage) if not result.leverage.empty else ""),
        details("Verdict robustness", f'<p class="small">{e(result.verdict_note)}</p>' + table(result.verdicts)),
        details("Date check: stale peers rolled forward", f'<p class="small">{e(result.date_note)}.</p>'
                + (table(result.date_check) + table(result.rolls) if not result.date_check.empty else "")),
        details("EV bridge at each price", table(result.bridge)),
        details("Value intervals by method", table(frames["intervals"])),
        details("Influence: each peer left out", chart("influence", "Change in the break-even price when each peer "
                                                                     "is left out") + table(frames["influence"])),
        details("Sensitivity: break-even price by multiple and discount",
                chart("sensitivity_heatmap", "Break-even price per share by the multiple applied and the discount")
                + table(grid(result.sensitivity, "breakeven_price_usd", "Multiple applied", "Discount"))
                + table(grid(spec_sens, "breakeven_price_usd", "Method", "Discount"))),
        details("Concentration discount and its assumptions",
                table(frames["concentration"]) + table(result.discount_range) + table(frames["discount_grid"])
                + f"<ul class='small'>{citations}</ul>"),
        details("Peers", table(result.peers[PEER_DISPLAY])),
        details("Sources", "<h3>Target</h3>" + table(frames["sources_target"], links="source")
                + "<h3>Peers</h3>" + table(frames["sources_peers"], links="source_url")),
        *([details("Live refresh problems", table(result.refresh))] if not result.refresh.empty else []),
        f'<p class="small">{e(result.data_notice)}. As of {result.as_of}. Written by comps.</p>',
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{e(t.name)} comps as of {result.as_of}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")
