"""Peers' disclosed customer concentration (``data/concentration.csv``), one row per
customer with 10 %+ of a fiscal year's revenue::

    ticker,fiscal_year,customer,share,period_end,source_url,note
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from comps.errors import InputError, Problem
from comps.sources._table import read_rows

COLUMNS = ("ticker", "fiscal_year", "customer", "share", "period_end", "source_url", "note")


def load_disclosures(path: Path) -> pd.DataFrame:
    """Validated disclosure rows; an absent file means no peer discloses (empty frame)."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=list(COLUMNS))
    lines, problems = read_rows(path.read_text(encoding="utf-8"), str(path), COLUMNS)
    rows = []
    for lineno, r in lines:
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
