"""The build's story in Markdown (summary.md) and as one self-contained HTML page
(report.html: inline CSS and charts, no external requests, every user string escaped)."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

import pandas as pd

from comps.report.tables import PEER_DISPLAY, VALUATION_DISPLAY, _fmt, to_markdown, usd

if TYPE_CHECKING:
    from comps.result import BuildResult


def verdict_lines(result: BuildResult) -> list[str]:
    """One sentence per price point on the chosen spec."""
    lvl = f"{result.config.headline_level:.0%}"
    lo_col = f"pi{result.config.headline_level * 100:.0f}_low_price_usd"
    hi_col = f"pi{result.config.headline_level * 100:.0f}_high_price_usd"
    chk = result.checklist.set_index("price_point")["signal"]
    out = []
    for _, r in result.headline.iterrows():
        out.append(
            f"{r['price_point']} ${r['price_usd']:,.2f}: market cap ${r['market_cap_usd'] / 1e9:,.1f}B, "
            f"{r['ev_to_revenue_ltm']:.1f}× 2025 revenue; fair {usd(r['fair_price_usd'])} "
            f"({lvl} band {usd(r[lo_col])} to {usd(r[hi_col])}); premium {r['premium_to_fair']:+.0%}; "
            f"P(peer below price) {r['p_peer_below_price']:.0%}; {r['verdict']}; checklist: {chk[r['price_point']]}")
    return out


def _headline(result: BuildResult) -> str:
    f = result.fits[result.chosen]
    d = result.specs[result.chosen].discount
    how = ("chosen by the lowest leave-one-out log error on the peers every spec fits"
           if result.config.spec == "auto" else "set in the settings")
    return (f"Spec {f.spec.label} ({how}), n = {f.n} peers, "
            f"R² {f.rsquared:.2f}; concentration discount {d.discount:.1%} ({d.method}, "
            f"CC {d.cc_target:.3f} vs peer reference {d.cc_ref:.3f}).")


def summary_markdown(result: BuildResult, frames: dict[str, pd.DataFrame]) -> str:
    t = result.target
    parts = [
        f"# {t.name} ({t.ticker}) against listed peers, as of {result.as_of}\n",
        "## Verdict\n", _headline(result) + "\n",
        *[f"- {line}" for line in verdict_lines(result)], "",
        "## Warnings\n", *([f"- {w}" for w in result.warnings] or ["- none"]), "",
        "## Valuation (chosen spec)\n", to_markdown(result.headline[VALUATION_DISPLAY]),
        "## Fair value intervals (discount applied)\n",
        to_markdown(frames["intervals"][frames["intervals"]["spec"] == result.chosen]),
        "## Specs compared\n",
        to_markdown(frames["regression"][["spec", "n", "r_squared", "adj_r_squared", "aic", "loo_rmse_log",
                                          "n_common", "loo_rmse_log_common", "fair_multiple_at_target",
                                          "huber_fair_multiple", "extrapolated", "chosen"]]),
        "## Checklist\n", to_markdown(result.checklist),
        "## Concentration discount\n", to_markdown(frames["concentration"]),
        "## Peers\n", to_markdown(result.peers[PEER_DISPLAY]),
        f"\n{result.data_notice}. Per-figure sources: sources_peers.csv and sources_target.csv.\n",
    ]
    return "\n".join(parts)


_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1150px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:2px solid #ddd;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.8rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.verdict{background:#fff8e1;border-left:5px solid #f0a500;padding:.6rem 1rem}
.warn{background:#fdecea;border-left:5px solid #d9534f;padding:.6rem 1rem}
img{max-width:100%;height:auto;border:1px solid #eee;margin:.5rem 0}
.small{font-size:.75rem;color:#555}
"""


def _table_html(frame: pd.DataFrame, link_col: str | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for c in frame.columns:
            text = html.escape(_fmt(str(c), row[c]))
            if c == link_col and str(row[c]).startswith(("http://", "https://")):
                text = f'<a href="{html.escape(str(row[c]), quote=True)}" rel="noreferrer">{text}</a>'
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def html_report(result: BuildResult, frames: dict[str, pd.DataFrame], pngs: dict[str, bytes]) -> str:
    t = result.target
    e = html.escape
    charts = "".join(
        f'<figure><img alt="{e(name)}" src="data:image/png;base64,{base64.b64encode(data).decode()}"></figure>'
        for name, data in pngs.items())
    warnings = "".join(f"<li>{e(w)}</li>" for w in result.warnings) or "<li>none</li>"
    verdicts = "".join(f"<li>{e(v)}</li>" for v in verdict_lines(result))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{e(t.name)} comps as of {result.as_of}</title><style>{_CSS}</style></head><body>
<h1>{e(t.name)} ({e(t.ticker)}): IPO prices against listed peers</h1>
<div class="verdict"><h2>Verdict</h2><p>{e(_headline(result))}</p><ul>{verdicts}</ul></div>
<div class="warn"><h2>Warnings</h2><ul>{warnings}</ul></div>
<h2>Valuation at each price point ({e(result.chosen)})</h2>{_table_html(result.headline[VALUATION_DISPLAY])}
<h2>Checklist</h2>{_table_html(result.checklist)}
<h2>Charts</h2>{charts}
<h2>Specs compared</h2>{_table_html(frames["regression"])}
<h2>Influence (leave one peer out)</h2>{_table_html(frames["influence"])}
<h2>Sensitivity: fair price by growth × discount</h2>{_table_html(frames["sensitivity"])}
<h2>Concentration discount and assumptions</h2>{_table_html(frames["concentration"])}
<ul>{"".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in result.config.concentration.citations.items())}</ul>
<h2>Peers</h2>{_table_html(result.peers[PEER_DISPLAY])}
<h2>Sources</h2><p class="small">{e(result.data_notice)}</p>
<h3>Target</h3>{_table_html(frames["sources_target"], "source")}
<h3>Peers</h3>{_table_html(frames["sources_peers"], "source_url")}
</body></html>
"""
