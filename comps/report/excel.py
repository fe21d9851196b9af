"""comps.xlsx: the workbook an analyst opens (xlsxwriter), a live model rather than a printout.

- **Comps**: every peer with an Include flag (1/0, an input), its market cap, net debt and
  revenue as figures, and EV, gross profit and every multiple as formulas of them; Mean,
  Median, High, Low and n of each tier and of all peers as formulas over the included peers.
  The target's rows link to the Valuation sheet.
- **Valuation**: the inputs (blue: type over them), then one row per price point whose market
  cap (basic and fully diluted), net cash, EV, multiples, fair price and checklist signals are
  formulas of its price and the inputs. Where the headline method is the peer distribution, its
  fair multiple and band top are formulas over the Comps sheet, so the Include flags move them.
- **Summary**: the figures at the headline price, linked to Valuation and Comps; the verdict
  and key figures as built; the warnings.
- **Regression**, **Sensitivity** and **Sources** as tables.

Every formula is written with its computed value, so the file reads right before a spreadsheet
recalculates. Dates are dates; text is always text (never parsed as a formula); each sheet
prints landscape, one page wide, its header repeated.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from comps.bridge import terms as bridge_terms
from comps.report import fmt
from comps.report.story import signals, verdict_sentence
from comps.report.summary import key_figures
from comps.report.tables import LARGE_UNIVERSE, OPTIONAL_COLUMNS, STAT_COLUMNS

if TYPE_CHECKING:
    from comps.result import BuildResult

NUMBER_FORMATS = {
    "money": '$#,##0.0,,"M";-$#,##0.0,,"M"',  # USD millions, as bankers' models are kept
    "price": "$#,##0.00",
    "multiple": '[<1]0.00"×";0.0"×"',
    "percent": "0.0%",
    "premium": "+0%;-0%;0%",
    "ratio": "0.00",
    "probability": "0.0%",
    "decimal": "0.00",
    "coefficient": "0.000",
    "count": "#,##0",
    "date": "yyyy-mm-dd",
    "millions": "#,##0.0",
    "text": "@",
}
#: the unit a Sources row states → the number format of its value
UNIT_FORMATS = {"USD millions": "millions", "million shares": "millions", "USD per share": "price",
                "fraction": "percent", "percent": "percent", "USD": "money", "shares": "count"}


class _Book:
    """A workbook with one cell format per kind and a helper that writes a typed table."""

    def __init__(self, buf: io.BytesIO):
        import xlsxwriter

        self.wb = xlsxwriter.Workbook(buf, {"strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False, "in_memory": True})
        self.wb.set_properties({"title": "comps", "created": dt.datetime(2000, 1, 1)})
        self.head = self.wb.add_format({"bold": True, "bg_color": "#F3F4F6", "bottom": 1, "text_wrap": True,
                                        "valign": "top"})
        self.bold = self.wb.add_format({"bold": True})
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.note = self.wb.add_format({"italic": True, "font_color": "#57606A", "text_wrap": True, "valign": "top"})
        self.formats = {k: self.wb.add_format({"num_format": v}) for k, v in NUMBER_FORMATS.items()}
        self.bold_formats = {k: self.wb.add_format({"num_format": v, "bold": True}) for k, v in NUMBER_FORMATS.items()}
        self.stat_formats = {k: self.wb.add_format({"num_format": v, "bg_color": "#F3F4F6"})
                             for k, v in NUMBER_FORMATS.items()}
        self.inputs = {k: self.wb.add_format({"num_format": v, "font_color": "#1F4E9E", "bg_color": "#FFF8E1",
                                              "border": 1}) for k, v in NUMBER_FORMATS.items()}

    def sheet(self, name: str, header_rows: int = 1):
        """A worksheet set up to print landscape, one page wide, its header rows repeated."""
        ws = self.wb.add_worksheet(name)
        ws.set_landscape()
        ws.set_paper(9)  # A4; it also fits Letter at one page wide
        ws.fit_to_pages(1, 0)
        if header_rows:
            ws.repeat_rows(0, header_rows - 1)
        return ws

    def value(self, ws, row: int, col: int, kind: str, v: object, formats: dict | None = None) -> None:
        """One cell: numbers as numbers and dates as dates in ``kind``'s format, else text."""
        formats = formats or self.formats
        if isinstance(v, bool | np.bool_):
            ws.write_string(row, col, "yes" if v else "no")
        elif isinstance(v, dt.date):
            ws.write_datetime(row, col, dt.datetime(v.year, v.month, v.day), formats["date"])
        elif isinstance(v, numbers.Number):
            if math.isfinite(float(v)):
                ws.write_number(row, col, float(v), formats[kind if kind != "text" else "decimal"])
            else:
                ws.write_blank(row, col, None)
        elif v is None:
            ws.write_blank(row, col, None)
        else:
            ws.write_string(row, col, str(v))

    def frame(self, ws, frame: pd.DataFrame, top: int = 0) -> int:
        """Write ``frame`` with a header row at ``top``, headers and machine names in words;
        returns the next free row."""
        for j, c in enumerate(frame.columns):
            head = fmt.label(c)
            ws.write_string(top, j, head, self.head)
            texts = [fmt.text(c, v) for v in frame.iloc[:50, j] if isinstance(v, str)]
            ws.set_column(j, j, max(10, min(48, max([len(head), *(len(t) for t in texts)]) + 2)))
        units = frame["unit"].tolist() if "unit" in frame.columns else None
        for i, row in enumerate(frame.itertuples(index=False), start=top + 1):
            for j, (c, v) in enumerate(zip(frame.columns, row, strict=True)):
                kind = UNIT_FORMATS.get(units[i - top - 1], "decimal") if units and c == "value" else fmt.kind(c)
                self.value(ws, i, j, kind, fmt.text(c, v) if isinstance(v, str) else v)
        return top + len(frame) + 2


def _col(j: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(j)


def workbook(result: BuildResult, frames: dict[str, pd.DataFrame]) -> bytes:
    """The workbook's bytes (no timestamps inside, so two builds give the same file)."""
    buf = io.BytesIO()
    book = _Book(buf)
    summary = book.sheet("Summary", header_rows=0)
    layout = ValuationLayout.of(result)
    comps = _comps(book, frames["comps"], result, layout)
    _valuation(book, result, layout, comps)
    _summary(book, summary, result, layout, comps)
    ws = book.sheet("Regression")
    row = book.frame(ws, frames["regression"])
    book.frame(ws, frames["coefficients"], top=row)
    ws.freeze_panes(1, 2)
    _sensitivity(book, result)
    ws = book.sheet("Sources")
    row = book.frame(ws, frames["sources_target"])
    if len(result.peers) <= LARGE_UNIVERSE:
        book.frame(ws, frames["sources_peers"], top=row)
    else:
        ws.write_string(row, 0, f"{len(frames['sources_peers']):,} peer figures: see tables/sources_peers.csv.", book.note)
    ws.freeze_panes(1, 1)
    book.wb.close()
    return buf.getvalue()


@dataclass(frozen=True)
class ValuationLayout:
    """Where the Valuation sheet's inputs and price rows are (Excel's 1-based rows)."""

    inputs: tuple[tuple[str, str], ...]  # (key, label) in order, from row 2
    first_price_row: int
    price_points: tuple[str, ...]

    @classmethod
    def of(cls, result: BuildResult) -> ValuationLayout:
        sv = result.specs[result.chosen]
        t, y = result.target, sv.fit.spec.y_label
        band = "peers' upper quartile" if sv.fit.spec.kind == "baseline" else f"{result.config.headline_level:.0%} band top"
        inputs = (("shares", "Shares after the offering (basic)"),
                  ("diluted", "Fully diluted shares, stated (blank: the treasury-stock method below)"),
                  ("rsus", "RSUs outstanding"), ("options", "Options outstanding"),
                  ("options_strike", "Options' exercise price (USD)"), ("warrants", "Warrants outstanding"),
                  ("warrants_strike", "Warrants' exercise price (USD)"),
                  ("pre_net_cash", "Pre-offering net cash (USD)"),
                  ("per_dollar", "Net proceeds per $1 of offer price (primary shares × (1 − spread))"),
                  ("revenue", f"Revenue {t.fiscal_label} (USD)"), ("base", f"Base of {y} (USD)"),
                  ("fair", f"Fair {y}, before the discount ({sv.fit.spec.title})"),
                  ("discount", "Concentration discount"),
                  ("band_top", f"Wait line: the {band} of {y}, before the discount"),
                  ("walk_away", "Walk-away market cap (USD; blank: none)"))
        return cls(inputs, len(inputs) + 4, tuple(result.headline["price_point"]))

    def cell(self, key: str) -> str:
        """The absolute reference of an input, e.g. '$B$2'."""
        return f"$B${2 + [k for k, _ in self.inputs].index(key)}"

    def row(self, price_point: str) -> int:
        return self.first_price_row + self.price_points.index(price_point)


@dataclass(frozen=True)
class CompsLayout:
    """Where the Comps sheet's columns, peer rows and statistics are."""

    columns: dict[str, str]  # field → column letter
    first: int  # first and last peer rows (1-based)
    last: int
    stat_rows: dict[tuple[str, str], int]  # (block, statistic) → row

    def range(self, field: str, sheet: str = "") -> str:
        c = self.columns[field]
        return f"{sheet}${c}${self.first}:${c}${self.last}"


#: above this many peers the Comps sheet writes each peer's EV and multiples as values, not formulas
#: (xlsxwriter parses every formula; the statistics stay formulas of the values and the Include flags)
FORMULA_PEERS = 1000
#: the Comps sheet's columns: (field, header, kind, formula of the row's cells or None)
COMPS_SHEET = (
    ("group", "Segment", "text", None), ("name", "Company", "text", None), ("ticker", "Ticker", "text", None),
    ("tier", "Tier", "text", None), ("include", "Include (1/0)", "count", None),
    ("share_price_usd", "Share price", "price", None), ("share_of_52w_high", "% of 52-week high", "percent", None),
    ("market_cap_usd", "Market cap", "money", None),
    ("net_debt_usd", "Net debt", "money", None),
    ("enterprise_value_usd", "EV", "money", ("=IF(AND(ISNUMBER({market_cap_usd}),ISNUMBER({net_debt_usd})),"
                                            "{market_cap_usd}+{net_debt_usd},\"\")")),
    ("revenue_ltm_usd", "Revenue (LTM)", "money", None), ("ltm_end_date", "LTM to", "date", None),
    ("gross_margin", "Gross margin", "percent", None),
    ("gross_profit_ltm_usd", "Gross profit (LTM)", "money", ("=IF(AND(ISNUMBER({revenue_ltm_usd}),"
                                                            "ISNUMBER({gross_margin})),{revenue_ltm_usd}*{gross_margin},\"\")")),
    ("ev_to_revenue_ltm", "EV/Revenue (LTM)", "multiple", ("=IF(AND(ISNUMBER({enterprise_value_usd}),"
                                                          "ISNUMBER({revenue_ltm_usd})),{enterprise_value_usd}/{revenue_ltm_usd},\"\")")),
    ("ev_to_gross_profit_ltm", "EV/Gross profit (LTM)", "multiple",
     ("=IF(AND(ISNUMBER({enterprise_value_usd}),ISNUMBER({gross_profit_ltm_usd})),"
     "IF({gross_profit_ltm_usd}>0,{enterprise_value_usd}/{gross_profit_ltm_usd},\"\"),\"\")")),
    ("revenue_ntm_usd", "Revenue (NTM)", "money", None),
    ("ev_to_revenue_ntm", "EV/Revenue (NTM)", "multiple", ("=IF(AND(ISNUMBER({enterprise_value_usd}),"
                                                          "ISNUMBER({revenue_ntm_usd})),{enterprise_value_usd}/{revenue_ntm_usd},\"\")")),
    ("revenue_growth", "Revenue growth", "percent", None),
    ("growth_adjusted_multiple", "EV/Revenue ÷ growth (pts)", "multiple",
     ("=IF(AND(ISNUMBER({ev_to_revenue_ltm}),ISNUMBER({revenue_growth})),"
     "IF({revenue_growth}>0,{ev_to_revenue_ltm}/({revenue_growth}*100),\"\"),\"\")")),
    ("market_cap_date", "Market data", "date", None),
)
STAT_FORMULAS = {"Mean": "AVERAGE(IF({mask},{r}))", "Median": "MEDIAN(IF({mask},{r}))", "High": "MAX(IF({mask},{r}))",
                 "Low": "MIN(IF({mask},{r}))"}


def _comps(book: _Book, frame: pd.DataFrame, result: BuildResult, val: ValuationLayout) -> CompsLayout:
    """Peers with their figures and formulas, then each block's statistics as formulas over the
    included peers, then the target's rows linked to the Valuation sheet."""
    ws = book.sheet("Comps")
    absent = {c for c in OPTIONAL_COLUMNS if c not in frame.columns}
    if "ev_to_revenue_ntm" in absent:
        absent.add("revenue_ntm_usd")
    spec = [c for c in COMPS_SHEET if c[0] not in absent]
    letters = {f: _col(j) for j, (f, *_rest) in enumerate(spec)}
    rows = frame[frame["row_type"] == "peer"].join(
        result.peers[["gross_profit_ltm_usd", "revenue_ntm_usd"]], on="ticker").reset_index(drop=True)
    first, last = 2, 1 + len(rows)
    for j, (_f, head, kind, _formula) in enumerate(spec):
        ws.write_string(0, j, head, book.head)
        ws.set_column(j, j, {"group": 16, "name": 30, "ticker": 8, "tier": 9, "include": 8}.get(_f, 15))
    ws.set_row(0, 30)

    def cells(n: int) -> dict[str, str]:
        return {f: f"{c}{n}" for f, c in letters.items()}

    columns = {f: rows[f].tolist() for f, *_rest in spec}  # one pass per column, not per cell
    formulas = len(rows) <= FORMULA_PEERS
    for i in range(len(rows)):
        n = first + i
        refs = cells(n)
        for j, (f, _head, kind, formula) in enumerate(spec):
            v = columns[f][i]
            if f == "include":
                ws.write_number(n - 1, j, 1 if v else 0, book.inputs["count"])
            elif formula and formulas:
                ws.write_formula(n - 1, j, formula.format(**refs), book.formats[kind], _cached(v))
            else:
                book.value(ws, n - 1, j, kind, fmt.text(f, v) if isinstance(v, str) else v)
    stat_rows: dict[tuple[str, str], int] = {}
    n = last + 2
    stats = frame[frame["row_type"] == "stat"]
    for block, g in stats.groupby("group", sort=False):
        tier = next((t for t, label in (("core", "Core peers"), ("extended", "Extended peers")) if label == block), None)
        include = f"({letters['include']}${first}:${letters['include']}${last}=1)"
        tier_mask = f"*(${letters['tier']}${first}:${letters['tier']}${last}=\"{tier}\")" if tier else ""
        for _, s in g.iterrows():
            ws.write_string(n - 1, 0, block, book.bold)
            ws.write_string(n - 1, 1, s["name"], book.bold)
            stat_rows[(block, s["name"])] = n
            for j, (f, _head, kind, _formula) in enumerate(spec):
                if f not in STAT_COLUMNS:
                    continue
                r = f"${letters[f]}${first}:${letters[f]}${last}"
                mask = f"{include}{tier_mask}*ISNUMBER({r})"
                count = f"SUM({mask})"
                body = count if s["name"] == "n" else f"IF({count}=0,\"\",{STAT_FORMULAS[s['name']].format(mask=mask, r=r)})"
                ws.write_array_formula(n - 1, j, n - 1, j, "{=" + body + "}",
                                       book.stat_formats["count" if s["name"] == "n" else kind], _cached(s[f]))
            n += 1
        n += 1
    targets = frame[frame["row_type"] == "target"]
    links = {"share_price_usd": "=Valuation!B{v}", "market_cap_usd": "=Valuation!C{v}",
             "net_debt_usd": "=-Valuation!D{v}", "revenue_ltm_usd": "=Valuation!" + val.cell("revenue")}
    for _, r in targets.iterrows():
        v = val.row(r["name"])
        r = {**r, "gross_profit_ltm_usd": r["revenue_ltm_usd"] * r["gross_margin"]}
        for j, (f, _head, kind, formula) in enumerate(spec):
            if f in links:
                ws.write_formula(n - 1, j, links[f].format(v=v), book.bold_formats[kind], _cached(r[f]))
            elif formula:
                ws.write_formula(n - 1, j, formula.format(**cells(n)), book.bold_formats[kind], _cached(r[f]))
            elif f in ("group", "name", "ticker"):
                ws.write_string(n - 1, j, str(r[f]), book.bold)
            elif f not in ("tier", "include"):
                book.value(ws, n - 1, j, kind, r.get(f), book.bold_formats)
        n += 1
    ws.merge_range(n, 0, n, 8, ("" if formulas else f"{len(rows):,} peers: their EV and multiples are values (formulas "
                                f"up to {FORMULA_PEERS:,} peers). ") + "Include: set a peer's flag to 0 to drop it from every statistic above"
                    + (" and from the Valuation sheet's fair multiple and wait line" if
                       result.specs[result.chosen].fit.spec.kind == "baseline" else "")
                    + ". The target's rows follow the prices on the Valuation sheet. Money in USD, shown in $M.",
                   book.note)
    ws.set_row(n, 30)
    ws.freeze_panes(1, 3)
    ws.autofilter(0, 0, last - 1, len(spec) - 1)
    ws.repeat_columns(0, 2)
    return CompsLayout(letters, first, last, stat_rows)


def _cached(v: object) -> float | str:
    """A formula's computed value as the file stores it: a number, or '' for a blank."""
    try:
        return float(v) if math.isfinite(float(v)) else ""
    except (TypeError, ValueError):
        return ""


def _peer_formulas(result: BuildResult, comps: CompsLayout) -> dict[str, str]:
    """The fair multiple and wait line of a peer-distribution headline as formulas over the
    included peers on the Comps sheet (the median or geometric mean; the upper quartile,
    interpolated as numpy does); {} for a regression, whose fit is not a spreadsheet formula."""
    spec = result.specs[result.chosen].fit.spec
    if spec.kind != "baseline":
        return {}
    r = comps.range(spec.y, "Comps!")
    inc = comps.range("include", "Comps!")
    mask = f"({inc}=1)*ISNUMBER({r})"
    centre = f"MEDIAN(IF({mask},{r}))" if spec.stat == "median" else f"EXP(AVERAGE(IF({mask},LN({r}))))"
    return {"fair": "{=" + centre + "}", "band_top": "{=PERCENTILE(IF(" + mask + "," + r + "),0.75)}"}


def _valuation(book: _Book, result: BuildResult, layout: ValuationLayout, comps: CompsLayout) -> None:
    """The inputs, then one row per price point of formulas of its price and the inputs."""
    ws = book.sheet("Valuation")
    sv = result.specs[result.chosen]
    t, y = result.target, sv.fit.spec.y_label
    terms = bridge_terms(t)
    walk = t.checklist.walk_away_market_cap_usd
    band = sv.prediction.interval(0.5 if sv.fit.spec.kind == "baseline" else result.config.headline_level)
    values = {"shares": (sv.shares, "count"), "diluted": (terms.stated_diluted, "count"), "rsus": (terms.rsus, "count"),
              "options": (terms.options, "count"), "options_strike": (terms.options_strike, "price"),
              "warrants": (terms.warrants, "count"), "warrants_strike": (terms.warrants_strike, "price"),
              "pre_net_cash": (terms.pre_net_cash, "money"), "per_dollar": (terms.per_dollar_high, "count"),
              "revenue": (t.revenue_usd.value, "money"), "base": (sv.base_usd, "money"),
              "fair": (sv.prediction.multiple, "multiple"), "discount": (sv.discount.discount, "percent"),
              "band_top": (band.pi_high, "multiple"),
              "walk_away": (walk[0] if walk and not t.checklist.concentration_declining else None, "money")}
    linked = _peer_formulas(result, comps)
    ws.write_string(0, 0, "Inputs (blue cells: type over them and every row recalculates)", book.bold)
    for i, (key, label) in enumerate(layout.inputs, start=1):
        v, kind = values[key]
        ws.write_string(i, 0, label + (" — from the Comps sheet's included peers" if key in linked else ""))
        if key in linked:
            ws.write_array_formula(i, 1, i, 1, linked[key], book.formats[kind], _cached(v))
        elif v is None:
            ws.write_blank(i, 1, None, book.inputs[kind])
        else:
            ws.write_number(i, 1, float(v), book.inputs[kind])
    c = {k: layout.cell(k) for k, _ in layout.inputs}
    top = layout.first_price_row - 2  # 0-based header row
    headers = ["Price point", "Price", "Market cap", "Net cash", "EV", f"EV/Revenue {t.fiscal_label}",
               f"{y} at the price", "Fair price", "Premium to fair", "Market cap, fully diluted", "Checklist",
               "Checklist, fully diluted"]
    for j, h in enumerate(headers):
        ws.write_string(top, j, h, book.head)
    ws.set_row(top, 30)
    ws.set_column(0, 0, 60)
    ws.set_column(1, len(headers) - 1, 14)
    kinds = list(result.headline["kind"])
    offer_row = layout.row(layout.price_points[kinds.index("priced")]) if "priced" in kinds else None
    checks = result.checklist.set_index("price_point")
    diluted_shares = (f"IF(ISNUMBER({c['diluted']}),{c['diluted']},{c['shares']}+{c['rsus']}"
                      f"+{c['options']}*MAX(0,1-{c['options_strike']}/B{{n}})"
                      f"+{c['warrants']}*MAX(0,1-{c['warrants_strike']}/B{{n}}))")
    signal = (f'=IF(AND(ISNUMBER({c["walk_away"]}),{{mcap}}>={c["walk_away"]}),"walk away",'
              f'IF(G{{n}}>{c["band_top"]}*(1-{c["discount"]}),"wait","follow"))')
    for _, r in result.headline.iterrows():
        n = layout.row(r["price_point"])
        i = n - 1
        raised = f"B{offer_row}" if r["kind"] == "trading" and offer_row else f"B{n}"  # proceeds raised at the offer
        check = checks.loc[r["price_point"]]
        basic, diluted = signals(result, r["price_point"])
        ws.write_string(i, 0, str(r["price_point"]))
        ws.write_number(i, 1, float(r["price_usd"]), book.inputs["price"])
        for j, (formula, kind, cached) in enumerate((
                (f"=B{n}*{c['shares']}", "money", r["market_cap_usd"]),
                (f"={c['pre_net_cash']}+{raised}*{c['per_dollar']}", "money", r["net_cash_usd"]),
                (f"=C{n}-D{n}", "money", r["enterprise_value_usd"]),
                (f"=E{n}/{c['revenue']}", "multiple", r["ev_to_revenue_ltm"]),
                (f"=E{n}/{c['base']}", "multiple", r["implied_multiple"]),
                (f"=({c['fair']}*(1-{c['discount']})*{c['base']}+D{n})/{c['shares']}", "price", r["fair_price_usd"]),
                (f"=B{n}/H{n}-1", "percent", r["premium_to_fair"]),
                (f"=B{n}*" + diluted_shares.format(n=n), "money", check["market_cap_diluted_usd"]),
                (signal.format(mcap=f"C{n}", n=n), "text", basic),
                (signal.format(mcap=f"J{n}", n=n), "text", diluted)),
                start=2):
            ws.write_formula(i, j, formula, None if kind == "text" else book.formats[kind], _cached(cached)
                             if kind != "text" else cached)
    ws.write_string(layout.first_price_row + len(layout.price_points), 0,
                    "A trading price after the pricing keeps the proceeds raised at the offer price. Checklist: walk "
                    "away at or above the walk-away market cap while concentration is not falling; wait when the "
                    "multiple at the price is above the wait line after the discount; else follow.", book.note)
    ws.freeze_panes(top + 1, 1)


def _summary(book: _Book, ws, result: BuildResult, layout: ValuationLayout, comps: CompsLayout) -> None:
    """The figures at the headline price as formulas (they follow the Valuation and Comps
    sheets), then the verdict and key figures as built, then the warnings."""
    from comps.report.story import headline_point

    ws.set_column(0, 0, 46)
    ws.set_column(1, 1, 18)
    ws.set_column(2, 2, 100)
    ws.write_string(0, 0, f"{result.target.name} ({result.target.ticker}) against listed peers, as of {result.as_of}",
                    book.title)
    p = headline_point(result)
    n = layout.row(p["price_point"])
    check = result.checklist.set_index("price_point").loc[p["price_point"]]
    basic, diluted = signals(result, p["price_point"])
    median_row = comps.stat_rows.get(("All peers", "Median"))
    rev = result.peer_distribution
    rev = rev[(rev["multiple"] == "ev_to_revenue_ltm") & (rev["price_point"] == p["price_point"])].iloc[0]
    sv = result.specs[result.chosen]
    median = f"Comps!{comps.columns['ev_to_revenue_ltm']}{median_row}"
    live = [(f"{p['price_point']} price", f"=Valuation!B{n}", "price", p["price_usd"]),
            ("Market cap (basic)", f"=Valuation!C{n}", "money", p["market_cap_usd"]),
            ("Market cap (fully diluted)", f"=Valuation!J{n}", "money", check["market_cap_diluted_usd"]),
            (f"EV/Revenue {result.target.fiscal_label}", f"=Valuation!F{n}", "multiple", p["ev_to_revenue_ltm"]),
            ("Peer median EV/Revenue (included peers)", f"={median}", "multiple", rev["peer_median"]),
            ("Premium to the peer median EV/Revenue", f"=Valuation!F{n}/{median}-1", "premium",
             rev["premium_to_peer_median"]),
            ("Fair multiple after the discount", f"=Valuation!{layout.cell('fair')}*(1-Valuation!{layout.cell('discount')})",
             "multiple", sv.prediction.multiple * (1 - sv.discount.discount)),
            ("Checklist (basic shares)", f"=Valuation!K{n}", "text", basic),
            ("Checklist (fully diluted)", f"=Valuation!L{n}", "text", diluted)]
    ws.write_string(2, 0, "At the headline price (these follow the Valuation and Comps sheets)", book.bold)
    for i, (label, formula, kind, cached) in enumerate(live, start=3):
        ws.write_string(i, 0, label)
        ws.write_formula(i, 1, formula, book.formats["text" if kind == "text" else kind],
                         cached if kind == "text" else _cached(cached))

    def long_text(row: int, label: str, text: str, fmt_=book.wrap) -> None:
        if label:
            ws.write_string(row, 0, label, book.bold)
        ws.merge_range(row, 1, row, 2, text, fmt_)
        ws.set_row(row, 15 * max(1, math.ceil(len(text) / 110)))

    row = 4 + len(live)
    long_text(row, "Verdict, as built", verdict_sentence(result))
    figures = key_figures(result)
    for i, (k, v) in enumerate(figures, start=row + 2):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
    row += 3 + len(figures)
    ws.write_string(row, 0, "Warnings", book.bold)
    for i, w in enumerate(result.warnings, start=row + 1):
        long_text(i, "", w)
    ws.write_string(row + len(result.warnings) + 2, 0, result.data_notice)


def _sensitivity(book: _Book, result: BuildResult) -> None:
    ws = book.sheet("Sensitivity", header_rows=2)
    grid = result.sensitivity
    ws.write_string(0, 0, f"Break-even price per share (USD) by the {result.fits[result.chosen].spec.y_label} applied "
                          "(rows) and the concentration discount (columns)", book.bold)
    ws.write_string(1, 0, "Multiple applied", book.head)
    for j, d in enumerate(grid.columns, start=1):
        ws.write_number(1, j, float(d), book.formats["percent"])
    for i, (g, row) in enumerate(grid.iterrows(), start=2):
        ws.write_number(i, 0, float(g), book.formats["multiple"])
        for j, v in enumerate(row, start=1):
            ws.write_number(i, j, float(v), book.formats["price"])
    price = float(result.headline.loc[result.headline["kind"] == "priced", "price_usd"].iloc[0]) \
        if (result.headline["kind"] == "priced").any() else float(result.headline["price_usd"].median())
    ws.conditional_format(2, 1, 1 + len(grid), len(grid.columns), {
        "type": "3_color_scale", "min_color": "#B2182B", "mid_type": "num", "mid_value": price, "mid_color": "#F7F7F7",
        "max_color": "#2166AC"})
    ws.set_column(0, len(grid.columns), 14)
    ws.freeze_panes(2, 1)
