"""Dated, sourced snapshots of peer figures under ``data/snapshots/``.

A snapshot is a long CSV named ``YYYY-MM-DD.csv`` (its as-of date), one row per figure::

    ticker,field,value,unit,date,source_url,note

``date`` is the date the figure refers to (the trading day of a market cap, the period end of
a revenue figure, the balance-sheet date of cash or debt). Money is in USD millions in the
file and in USD once loaded. Missing figures are absent rows, never zeros.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

from comps._io import write_text_atomic
from comps.errors import InputError, Problem
from comps.sources._table import read_rows

COLUMNS = ("ticker", "field", "value", "unit", "date", "source_url", "note")
USD_M = "USD millions"
#: field -> unit it must carry in the file
FIELDS = {
    "market_cap": USD_M,
    "enterprise_value": USD_M,
    "net_debt": USD_M,
    "cash": USD_M,
    "total_debt": USD_M,
    "revenue_fy": USD_M,
    "revenue_fy_prior": USD_M,
    "revenue_ltm": USD_M,
    "revenue_ltm_prior": USD_M,
    "revenue_ntm": USD_M,
    "gross_margin": "fraction",
    "shares_outstanding": "million shares",
    "fiscal_year_end": "text",
    "reporting_currency": "text",
}
TEXT_FIELDS = {f for f, u in FIELDS.items() if u == "text"}
NAME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\.csv$")


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: its as-of date, path and the figure rows (values in USD, not millions)."""

    as_of: dt.date
    path: Path
    rows: tuple[dict, ...]

    def tickers(self) -> set[str]:
        return {r["ticker"] for r in self.rows}


def parse_snapshot(text: str, source: str) -> list[dict]:
    """Validate snapshot CSV text into figure dicts. Raises InputError listing every problem."""
    lines, problems = read_rows(text, source, COLUMNS)
    rows: list[dict] = []
    seen: dict[tuple[str, str], int] = {}
    for lineno, row in lines:
        ticker = row["ticker"]
        fld = row["field"]
        if fld not in FIELDS:
            problems.append(Problem(source, f"unknown field {fld!r}; known: {', '.join(FIELDS)}", lineno, "field"))
            continue
        if row["unit"] != FIELDS[fld]:
            problems.append(Problem(source, f"{fld} must be in {FIELDS[fld]!r}, got {row['unit']!r}", lineno, "unit"))
        if (ticker, fld) in seen:
            problems.append(Problem(source, f"{ticker} {fld} repeats line {seen[(ticker, fld)]}", lineno, "field"))
        seen[(ticker, fld)] = lineno
        value: float | str = row["value"]
        if fld not in TEXT_FIELDS:
            try:
                value = float(row["value"])
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                problems.append(Problem(source, f"value must be a finite number, got {row['value']!r}", lineno, "value"))
                continue
            if FIELDS[fld] == USD_M:
                value *= 1e6
            if fld.startswith("revenue") and value <= 0:
                problems.append(Problem(source, f"{fld} must be positive, got {row['value']}", lineno, "value"))
            if fld in ("market_cap", "shares_outstanding") and value <= 0:
                problems.append(Problem(source, f"{fld} must be positive, got {row['value']}", lineno, "value"))
            if fld == "gross_margin" and not -1.0 <= value <= 1.0:
                problems.append(Problem(source, f"gross_margin is a fraction (0.71 for 71%), got {row['value']}", lineno, "value"))
        try:
            date = dt.date.fromisoformat(row["date"]) if row["date"] else None
        except ValueError:
            problems.append(Problem(source, f"date must be YYYY-MM-DD, got {row['date']!r}", lineno, "date"))
            continue
        if date is None and fld not in TEXT_FIELDS:
            problems.append(Problem(source, "date is required", lineno, "date"))
        if not row["source_url"]:
            problems.append(Problem(source, "source_url is required for every figure", lineno, "source_url"))
        rows.append({**row, "ticker": ticker, "value": value, "date": date, "line": lineno})
    if problems:
        raise InputError(problems)
    return rows


def snapshot_date(path: Path) -> dt.date:
    return dt.date.fromisoformat(path.stem)


def list_snapshots(directory: Path) -> list[Path]:
    """Snapshot files in ``directory``, oldest first."""
    return sorted(p for p in Path(directory).glob("*.csv") if NAME_RE.match(p.name))


def find_snapshot(directory: Path, as_of: dt.date | None = None) -> Path:
    """The newest snapshot dated on or before ``as_of`` (the newest of all if None)."""
    paths = list_snapshots(directory)
    if as_of is not None:
        paths = [p for p in paths if snapshot_date(p) <= as_of]
    if not paths:
        when = f" dated on or before {as_of}" if as_of else ""
        raise InputError(Problem(str(directory), f"no snapshot YYYY-MM-DD.csv{when}"))
    return paths[-1]


def load_snapshot(path: Path) -> Snapshot:
    path = Path(path)
    if not NAME_RE.match(path.name):
        raise InputError(Problem(str(path), "snapshot file name must be its as-of date, YYYY-MM-DD.csv"))
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found")) from None
    return Snapshot(snapshot_date(path), path, tuple(parse_snapshot(text, str(path))))


def format_snapshot(rows: list[dict]) -> str:
    """Serialise figure dicts (values in USD) back to snapshot CSV text, sorted for stable diffs."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in sorted(rows, key=lambda r: (r["ticker"], list(FIELDS).index(r["field"]))):
        value = r["value"]
        if r["field"] not in TEXT_FIELDS:
            value = float(value) / (1e6 if FIELDS[r["field"]] == USD_M else 1.0)
            value = f"{value:.10g}"
        date = r["date"].isoformat() if r.get("date") else ""
        w.writerow([r["ticker"], r["field"], value, FIELDS[r["field"]], date, r["source_url"], r.get("note", "")])
    return buf.getvalue()


def write_snapshot(directory: Path, as_of: dt.date, rows: list[dict]) -> Path:
    """Write a new dated snapshot atomically. Never overwrites an existing snapshot file."""
    path = Path(directory) / f"{as_of.isoformat()}.csv"
    if path.exists():
        raise InputError(Problem(str(path), "a snapshot with this date already exists; it is never overwritten"))
    write_text_atomic(path, format_snapshot(rows))
    return path
