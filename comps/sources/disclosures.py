"""Peers' disclosed customer concentration (``data/concentration.csv``), one row per customer
with 10 %+ of a fiscal year's revenue (ASC 280)::

    ticker,fiscal_year,customer,share,period_end,published,source_url,note

``published`` is the date the filing became public; an analysis dated D uses only the
disclosures published on or before D.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from comps._csv import parse_table, read_text
from comps.errors import InputError, Problem
from comps.universe import normalize_ticker, ticker_problem

COLUMNS = ("ticker", "fiscal_year", "customer", "share", "period_end", "published", "source_url", "note")


def load_disclosures(path: Path) -> pd.DataFrame:
    """Validated disclosure rows; an absent file means no peer discloses (empty frame)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    source = str(path)
    table = parse_table(read_text(path), source, COLUMNS)
    problems: list[Problem] = []
    rows = []
    for lineno, r in table.rows:
        r["ticker"] = normalize_ticker(r["ticker"])
        if (why := ticker_problem(r["ticker"])) is not None:
            problems.append(Problem(source, why, lineno, "ticker"))
        try:
            r["fiscal_year"] = int(r["fiscal_year"])
            r["share"] = float(r["share"])
            if not 0 < r["share"] <= 1:
                raise ValueError
        except ValueError:
            problems.append(Problem(source, "fiscal_year must be an integer and share a fraction in (0, 1]", lineno))
            continue
        for fld in ("period_end", "published"):
            try:
                r[fld] = dt.date.fromisoformat(r[fld])
            except ValueError:
                problems.append(Problem(source, f"{fld} must be YYYY-MM-DD, got {r[fld]!r}", lineno, fld))
        if not r["source_url"]:
            problems.append(Problem(source, "source_url is required", lineno, "source_url"))
        rows.append(r)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for (ticker, fy), total in frame.groupby(["ticker", "fiscal_year"])["share"].sum().items():
        if total > 1 + 1e-9:
            problems.append(Problem(source, f"{ticker} FY{fy} customer shares sum to {total:.2f}, above 1"))
    if problems:
        raise InputError(problems)
    return frame
