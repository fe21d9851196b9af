"""comps.xlsx: the workbook an analyst opens (xlsxwriter).

Sheets Summary, Comps, Valuation, Regression, Sensitivity, Sources, with real number formats
($, ×, %), frozen headers and set column widths. On Valuation, market cap, EV and the implied
multiples are formulas of each row's price cell and the share count, written with their
computed values, so the file reads right before Excel recalculates and moves when a price is
typed over. Text is always written as text (never parsed as a formula); numbers stay numbers.
"""

from __future__ import annotations

import io
import math
import numbers
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from comps.report import fmt
from comps.report.story import verdict_sentence
from comps.report.summary import key_figures
from comps.report.tables import COMPS_COLUMNS, sources_frame

if TYPE_CHECKING:
    from comps.result import BuildResult

NUMBER_FORMATS = {
    "money": '[>=1000000000]$#,##0.0,,,"B";[>=1000000]$#,##0.0,,"M";$#,##0',
    "price": "$#,##0.00",
    "multiple": '0.0"×"',
    "percent": "0.0%",
    "probability": "0.0%",
    "decimal": "0.00",
    "coefficient": "0.000",
    "count": "#,##0",
    "text": "@",
}


class _Book:
    """A workbook with one cell format per kind and a helper that writes a typed table."""

    def __init__(self, buf: io.BytesIO):
        import xlsxwriter

        self.wb = xlsxwriter.Workbook(buf, {"strings_to_formulas": False, "strings_to_urls": False,
                                            "strings_to_numbers": False, "in_memory": True})
        self.wb.set_properties({"title": "comps", "created": pd.Timestamp("2000-01-01").to_pydatetime()})
        self.head = self.wb.add_format({"bold": True, "bg_color": "#F3F4F6", "bottom": 1, "text_wrap": True,
                                        "valign": "top"})
        self.bold = self.wb.add_format({"bold": True})
        self.title = self.wb.add_format({"bold": True, "font_size": 14})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.input = self.wb.add_format({"num_format": NUMBER_FORMATS["price"], "font_color": "#1F4E9E",
                                         "bg_color": "#FFF8E1", "border": 1})
        self.formats = {k: self.wb.add_format({"num_format": v}) for k, v in NUMBER_FORMATS.items()}
        self.bold_formats = {k: self.wb.add_format({"num_format": v, "bold": True}) for k, v in NUMBER_FORMATS.items()}

    def value(self, ws, row: int, col: int, column: str, v: object, bold: bool = False) -> None:
        """One cell: numbers as numbers in the column's format, everything else as text."""
        formats = self.bold_formats if bold else self.formats
        if isinstance(v, bool | np.bool_):
            ws.write_string(row, col, "yes" if v else "no")
        elif isinstance(v, numbers.Number):
            if not math.isfinite(float(v)):
                ws.write_blank(row, col, None, formats["text"])
            else:
                ws.write_number(row, col, float(v), formats[fmt.kind(column) if fmt.kind(column) != "text" else "decimal"])
        elif v is None:
            ws.write_blank(row, col, None, formats["text"])
        else:
            ws.write_string(row, col, v.isoformat() if hasattr(v, "isoformat") else str(v))

    def frame(self, ws, frame: pd.DataFrame, top: int = 0, labels: dict[str, str] | None = None,
              bold_rows: set[int] | None = None) -> int:
        """Write ``frame`` with a header row at ``top``; returns the next free row."""
        labels = labels or {}
        for j, c in enumerate(frame.columns):
            head = labels.get(c, fmt.label(c))
            ws.write_string(top, j, head, self.head)
            longest = max([len(head), *(len(v) for v in frame.iloc[:50, j] if isinstance(v, str))])
            ws.set_column(j, j, max(10, min(48, longest + 2)))  # the widest of header and text, capped
        for i, (_, r) in enumerate(frame.iterrows(), start=1):
            for j, c in enumerate(frame.columns):
                self.value(ws, top + i, j, c, r[c], bold=bool(bold_rows and i - 1 in bold_rows))
        return top + len(frame) + 2


def workbook(result: BuildResult, frames: dict[str, pd.DataFrame]) -> bytes:
    """The workbook's bytes (no timestamps inside, so two builds give the same file)."""
    buf = io.BytesIO()
    book = _Book(buf)
    _summary(book, result)
    _comps(book, frames["comps"])
    _valuation(book, result)
    ws = book.wb.add_worksheet("Regression")
    row = book.frame(ws, frames["regression"])
    book.frame(ws, frames["coefficients"], top=row)
    ws.freeze_panes(1, 2)
    _sensitivity(book, result)
    ws = book.wb.add_worksheet("Sources")
    row = book.frame(ws, frames["sources_target"])
    book.frame(ws, sources_frame(result), top=row)
    ws.freeze_panes(1, 1)
    book.wb.close()
    return buf.getvalue()


def _summary(book: _Book, result: BuildResult) -> None:
    ws = book.wb.add_worksheet("Summary")
    ws.set_column(0, 0, 42)
    ws.set_column(1, 1, 110)
    ws.write_string(0, 0, f"{result.target.name} ({result.target.ticker}) against listed peers, as of {result.as_of}",
                    book.title)
    ws.write_string(2, 0, "Verdict", book.bold)
    ws.write_string(2, 1, verdict_sentence(result), book.wrap)
    ws.set_row(2, 60)
    for i, (k, v) in enumerate(key_figures(result), start=4):
        ws.write_string(i, 0, k)
        ws.write_string(i, 1, v)
    row = 5 + len(key_figures(result))
    ws.write_string(row, 0, "Warnings", book.bold)
    for i, w in enumerate(result.warnings, start=row + 1):
        ws.write_string(i, 1, w, book.wrap)
    ws.write_string(row + len(result.warnings) + 2, 0, result.data_notice)


def _comps(book: _Book, frame: pd.DataFrame) -> None:
    ws = book.wb.add_worksheet("Comps")
    cols = ["group", "name", "ticker", *[c for c in COMPS_COLUMNS if c in frame.columns]]
    labels = {"group": "Segment", "name": "Company / statistic", "market_cap_date": "Market data date",
              "market_cap_usd": "Equity value"}
    bold = set(frame.index[frame["row_type"] != "peer"])
    book.frame(ws, frame[cols], labels=labels, bold_rows=bold)
    ws.freeze_panes(1, 3)


def _valuation(book: _Book, result: BuildResult) -> None:
    """Inputs, then one row per price point whose market cap, net cash, EV, multiples, fair price
    and checklist signal are formulas of the price typed in column B and of the inputs (the
    discount included). Formulas carry their computed values."""
    ws = book.wb.add_worksheet("Valuation")
    sv = result.specs[result.chosen]
    t = result.target
    y = sv.fit.spec.y_label
    band = sv.prediction.interval(0.5 if sv.fit.spec.kind == "baseline" else result.config.headline_level)
    walk = t.checklist.walk_away_market_cap_usd
    inputs = [("Shares after the offering (basic)", sv.shares, "count"),
              ("Pre-offering net cash (USD)", sv.terms.pre_net_cash, "money"),
              ("Net proceeds per $1 of offer price (shares)", sv.terms.per_dollar_high, "count"),
              (f"Revenue {t.fiscal_label} (USD)", t.revenue_usd.value, "money"),
              (f"Base of {y} (USD)", sv.base_usd, "money"),
              (f"Fair {y}, before the discount ({sv.fit.spec.title})", sv.prediction.multiple, "multiple"),
              ("Concentration discount", sv.discount.discount, "percent"),
              (f"Band top, before the discount ({result.headline['band'].iloc[0]})", band.pi_high, "multiple"),
              ("Walk-away market cap (USD; blank: none)", walk[0] if walk else None, "money")]
    ws.write_string(0, 0, "Inputs (blue cells: type over them and every row recalculates)", book.bold)
    for i, (name, v, k) in enumerate(inputs, start=1):
        ws.write_string(i, 0, name)
        if v is None:
            ws.write_blank(i, 1, None, book.input)
        else:
            ws.write_number(i, 1, float(v), book.input if k in ("percent", "multiple", "money") else book.formats[k])
    shares, pre, per_dollar, rev, base, fair_m, disc, band_top, walk_cell = (f"$B${i}" for i in range(2, 11))
    top = len(inputs) + 2
    headers = ["Price point", "Price", "Market cap", "Net cash", "EV", f"EV/Revenue {t.fiscal_label}", f"{y} at the price",
               "Fair price", "Premium to fair", "Checklist"]
    for j, h in enumerate(headers):
        ws.write_string(top, j, h, book.head)
    ws.set_column(0, 0, 44)
    ws.set_column(1, len(headers) - 1, 15)
    kinds = list(result.headline["kind"])
    offer_row = top + 2 + kinds.index("priced") if "priced" in kinds else None  # Excel row of the offer price
    for i, (_, r) in enumerate(result.headline.iterrows(), start=top + 1):
        n = i + 1  # Excel's 1-based row
        price = float(r["price_usd"])
        raised = f"B{offer_row}" if r["kind"] == "trading" and offer_row else f"B{n}"  # proceeds raised at the offer
        ws.write_string(i, 0, str(r["price_point"]))
        ws.write_number(i, 1, price, book.input)
        ws.write_formula(i, 2, f"=B{n}*{shares}", book.formats["money"], r["market_cap_usd"])
        ws.write_formula(i, 3, f"={pre}+{raised}*{per_dollar}", book.formats["money"], r["net_cash_usd"])
        ws.write_formula(i, 4, f"=C{n}-D{n}", book.formats["money"], r["enterprise_value_usd"])
        ws.write_formula(i, 5, f"=E{n}/{rev}", book.formats["multiple"], r["ev_to_revenue_ltm"])
        ws.write_formula(i, 6, f"=E{n}/{base}", book.formats["multiple"], r["implied_multiple"])
        ws.write_formula(i, 7, f"=({fair_m}*(1-{disc})*{base}+D{n})/{shares}", book.formats["price"], r["fair_price_usd"])
        ws.write_formula(i, 8, f"=B{n}/H{n}-1", book.formats["percent"], r["premium_to_fair"])
        signal = result.checklist.set_index("price_point").at[r["price_point"], "signal"].split(" (")[0]
        ws.write_formula(i, 9, f'=IF(AND(ISNUMBER({walk_cell}),C{n}>={walk_cell}),"walk away",'
                               f'IF(G{n}>{band_top}*(1-{disc}),"wait","follow"))', None, signal)
    ws.freeze_panes(top + 1, 1)


def _sensitivity(book: _Book, result: BuildResult) -> None:
    ws = book.wb.add_worksheet("Sensitivity")
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
