"""Peers' disclosed customer concentration (``data/concentration.csv``), one row per
customer with 10 %+ of a fiscal year's revenue::

    ticker,fiscal_year,customer,share,period_end,source_url,note
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pandas as pd

from comps.errors import InputError, Problem
from comps.universe import normalize_ticker, ticker_problem

COLUMNS = ("ticker", "fiscal_year", "customer", "share", "period_end", "source_url", "note")


def load_disclosures(path: Path) -> pd.DataFrame:
    """Validated disclosure rows; an absent file means no peer discloses (empty frame)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    text = path.read_text(encoding="utf-8").removeprefix("\ufeff")
    # comment lines (#) become blank lines, so line numbers in messages stay true
    text = "\n".join("" if line.lstrip().startswith("#") else line for line in text.split("\n"))
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    for header in reader:
        if any(c.strip() for c in header):
            break
    if tuple(h.strip() for h in header) != COLUMNS:
        raise InputError(Problem(str(path), f"header must be {','.join(COLUMNS)}", reader.line_num))
    rows, problems = [], []
    for cells in reader:
        lineno = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(COLUMNS):
            problems.append(Problem(str(path), f"expected {len(COLUMNS)} cells, found {len(cells)}", lineno))
            continue
        r = dict(zip(COLUMNS, (c.strip() for c in cells), strict=True))
        r["ticker"] = normalize_ticker(r["ticker"])
        if (why := ticker_problem(r["ticker"])) is not None:
            problems.append(Problem(str(path), why, lineno, "ticker"))
        try:
            r["fiscal_year"] = int(r["fiscal_year"])
            r["share"] = float(r["share"])
            if not 0 < r["share"] <= 1:
                raise ValueError
        except ValueError:
            problems.append(Problem(str(path), "fiscal_year must be an integer and share a fraction in (0, 1]", lineno))
            continue
        try:
            r["period_end"] = dt.date.fromisoformat(r["period_end"])
        except ValueError:
            problems.append(Problem(str(path), f"period_end must be YYYY-MM-DD, got {r['period_end']!r}", lineno, "period_end"))
        if not r["source_url"]:
            problems.append(Problem(str(path), "source_url is required", lineno, "source_url"))
        rows.append(r)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for (ticker, fy), total in frame.groupby(["ticker", "fiscal_year"])["share"].sum().items():
        if total > 1 + 1e-9:
            problems.append(Problem(str(path), f"{ticker} FY{fy} customer shares sum to {total:.2f}, above 1"))
    if problems:
        raise InputError(problems)
    return frame
