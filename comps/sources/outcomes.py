"""What happened after each IPO (``data/backtest/outcomes.csv``), one sourced figure per row in
the snapshot format::

    ticker,field,value,unit,date,published,source_url,note

Fields, all in USD per share: ``first_day_close``, ``close_6m`` and ``close_12m`` for an IPO's
ticker (the last trading day on or before the first trade + 6 and + 12 months), and
``benchmark_close`` for the sector ETF (SMH) on each of those days and on the pricing day, all
on one split basis. An outcome not yet known, or not found, is an absent row. Only the backtest
reads these: no valuation does.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd

from comps._csv import parse_table, read_text
from comps.errors import InputError, Problem
from comps.universe import normalize_ticker, ticker_problem

COLUMNS = ("ticker", "field", "value", "unit", "date", "published", "source_url", "note")
FIELDS = ("first_day_close", "close_6m", "close_12m", "benchmark_close")
UNIT = "USD per share"


def load_outcomes(path: Path) -> pd.DataFrame:
    """The validated outcome rows (value, date and published parsed); every problem at once."""
    source = str(path)
    table = parse_table(read_text(path), source, COLUMNS)
    problems: list[Problem] = []
    rows, seen = [], {}
    for lineno, r in table.rows:
        ticker = normalize_ticker(r["ticker"])
        if (why := ticker_problem(ticker)) is not None:
            problems.append(Problem(source, why, lineno, "ticker"))
        if r["field"] not in FIELDS:
            problems.append(Problem(source, f"unknown field {r['field']!r}; known: {', '.join(FIELDS)}", lineno, "field"))
        if r["unit"] != UNIT:
            problems.append(Problem(source, f"unit must be {UNIT!r}, got {r['unit']!r}", lineno, "unit"))
        try:
            value = float(r["value"])
            if not math.isfinite(value) or value <= 0:
                raise ValueError
        except ValueError:
            problems.append(Problem(source, f"value must be a positive number, got {r['value']!r}", lineno, "value"))
            continue
        dates = {}
        for fld in ("date", "published"):
            try:
                dates[fld] = dt.date.fromisoformat(r[fld])
            except ValueError:
                problems.append(Problem(source, f"{fld} must be YYYY-MM-DD, got {r[fld]!r}", lineno, fld))
        if not r["source_url"].startswith(("https://", "http://")):
            problems.append(Problem(source, "source_url must be the URL of the figure's source", lineno, "source_url"))
        key = (ticker, r["field"], dates.get("date"))
        if key in seen:
            problems.append(Problem(source, f"{ticker} {r['field']} for {key[2]} repeats line {seen[key]}", lineno, "field"))
        seen[key] = lineno
        if len(dates) == 2:
            rows.append({"ticker": ticker, "field": r["field"], "value": value, **dates, "source_url": r["source_url"],
                         "note": r["note"]})
    if problems:
        raise InputError(problems)
    return pd.DataFrame(rows, columns=["ticker", "field", "value", "date", "published", "source_url", "note"])
