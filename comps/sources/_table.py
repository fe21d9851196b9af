"""Reading the project's fixed-header CSV files (snapshots, disclosures): one shared pass
that strips a BOM, skips blank and ``#`` comment lines, checks the header and cell counts and
normalizes tickers, collecting problems with their true line numbers."""

from __future__ import annotations

import csv
import io

from comps.errors import InputError, Problem
from comps.universe import normalize_ticker, ticker_problem


def read_rows(text: str, source: str, columns: tuple[str, ...]) -> tuple[list[tuple[int, dict]], list[Problem]]:
    """(line number, stripped cells by column) per data row, and the problems found so far.
    Raises InputError at once if the file is empty or its header is wrong."""
    text = text.removeprefix("\ufeff")
    text = "\n".join("" if line.lstrip().startswith("#") else line for line in text.split("\n"))
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    for header in reader:
        if any(c.strip() for c in header):
            break
    if not any(c.strip() for c in header):
        raise InputError(Problem(source, f"file is empty: expected the header {','.join(columns)}"))
    if tuple(h.strip() for h in header) != columns:
        raise InputError(Problem(source, f"header must be {','.join(columns)}", reader.line_num))
    rows, problems = [], []
    for cells in reader:
        lineno = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(columns):
            problems.append(Problem(source, f"expected {len(columns)} cells, found {len(cells)}", lineno))
            continue
        row = dict(zip(columns, (c.strip() for c in cells), strict=True))
        row["ticker"] = normalize_ticker(row["ticker"])
        if (why := ticker_problem(row["ticker"])) is not None:
            problems.append(Problem(source, why, lineno, "ticker"))
        rows.append((lineno, row))
    return rows, problems
