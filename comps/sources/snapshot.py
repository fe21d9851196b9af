"""Dated, sourced snapshots of peer figures under ``data/snapshots/``, layered point in time.

A snapshot is a long CSV named ``YYYY-MM-DD.csv``, one row per figure::

    ticker,field,value,unit,date,published,source_url,note

``date`` is the date the figure refers to (the trading day of a close or market cap, the period
end of a revenue figure, the balance-sheet date of cash or debt); ``published`` is the date it
became public. Money is in USD millions in the file and in USD once loaded. Missing figures are
absent rows, never zeros. A file may hold any subset of peers and fields, one peer included.

Snapshots layer, they never replace one another. For an analysis dated D the build uses, for
each (ticker, field), the newest figure dated on or before D and published on or before D,
from whichever file holds it; period series (quarterly, fiscal-year and TTM revenue) keep
every period, each from its newest version. A figure published after D is look-ahead and is
left out, except market data dated just after D, which is used only when no figure on or
before D exists, and then with a warning that names it. Market data may hold several trading
days per ticker (a price history, e.g. of the benchmark ETF): the newest one on or before D is
the ticker's market figure, and :func:`history` gives the rest for returns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from comps._csv import newline_of, parse_table, read_text
from comps._io import write_text_atomic, write_text_new
from comps.errors import InputError, Problem
from comps.universe import normalize_ticker, ticker_problem

COLUMNS = ("ticker", "field", "value", "unit", "date", "published", "source_url", "note")
USD_M = "USD millions"
#: field -> the unit it must carry in the file
FIELDS = {
    "market_cap": USD_M,
    "share_price_close": "USD per share",
    "price_52w_high": "USD per share",  # the highest close (or trade) of the 52 weeks to its date
    "shares_outstanding": "million shares",
    "enterprise_value": USD_M,
    "net_debt": USD_M,
    "cash": USD_M,
    "total_debt": USD_M,
    "revenue_q": USD_M,
    "revenue_fy": USD_M,
    "revenue_ltm": USD_M,
    "revenue_ntm": USD_M,
    "gross_margin": "fraction",
    "fiscal_year_end": "text",
    "reporting_currency": "text",
}
TEXT_FIELDS = frozenset(f for f, u in FIELDS.items() if u == "text")
#: one figure per period: every period is kept, keyed by its end date
SERIES_FIELDS = frozenset({"revenue_q", "revenue_fy", "revenue_ltm"})
#: market data: a figure dated after the as-of date may stand in, with a warning
MARKET_FIELDS = frozenset({"market_cap", "share_price_close", "price_52w_high", "enterprise_value"})
POSITIVE_FIELDS = frozenset({"market_cap", "share_price_close", "price_52w_high", "shares_outstanding", "revenue_q",
                             "revenue_fy", "revenue_ltm", "revenue_ntm"})
#: plausible magnitudes (low, high) of each number field, in the file's unit, on its absolute
#: value: outside them a figure is a unit slip (dollars typed where USD millions are expected)
#: unless its note begins with CONFIRMED
PLAUSIBLE = {
    "market_cap": (1.0, 5e7), "enterprise_value": (1.0, 5e7),  # $1M to $50T
    "revenue_q": (1e-3, 2e6), "revenue_fy": (1e-3, 5e6), "revenue_ltm": (1e-3, 5e6), "revenue_ntm": (1e-3, 5e6),
    "cash": (0.0, 5e6), "total_debt": (0.0, 5e6), "net_debt": (0.0, 5e6),
    "shares_outstanding": (1e-3, 1e5), "share_price_close": (1e-4, 1e6), "price_52w_high": (1e-4, 1e6),
}
CONFIRMED = "CONFIRMED"
#: YYYY-MM-DD.csv, or YYYY-MM-DD.N.csv for a further snapshot written on the same day
NAME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.csv$")
_SCALE = {USD_M: 1e6, "million shares": 1e6}


@dataclass(frozen=True)
class Snapshots:
    """The figures an analysis dated ``as_of`` uses, layered from every snapshot file.

    ``rows`` (values in USD) are the figures used; ``left_out`` the look-ahead rows not used
    (each with a ``reason``); ``lookahead`` the market rows dated after ``as_of`` that stand in
    for a missing figure. Every row keeps its ``file`` and ``line``."""

    as_of: dt.date
    files: tuple[Path, ...]
    rows: tuple[dict, ...]
    left_out: tuple[dict, ...] = ()
    lookahead: tuple[dict, ...] = ()
    all_rows: tuple[dict, ...] = field(default=(), repr=False)



def _plain(v: float) -> str:
    """A number as typed, never in scientific notation: 180,000,000,000 or 0.00012."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:,.6f}".rstrip("0").rstrip(".")


def _date(text: str, fld: str, lineno: int, source: str, problems: list[Problem]) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        problems.append(Problem(source, f"{fld} must be YYYY-MM-DD, got {text!r}", lineno, fld))
        return None


def parse_snapshot(text: str, source: str) -> list[dict]:
    """Validate snapshot CSV text into figure dicts (values in USD). Raises InputError listing
    every problem."""
    table = parse_table(text, source, COLUMNS)
    problems: list[Problem] = []
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    for lineno, row in table.rows:
        ticker, fld = normalize_ticker(row["ticker"]), row["field"]
        if (why := ticker_problem(ticker)) is not None:
            problems.append(Problem(source, why, lineno, "ticker"))
        if fld not in FIELDS:
            problems.append(Problem(source, f"unknown field {fld!r}; known: {', '.join(FIELDS)}", lineno, "field"))
            continue
        if row["unit"] != FIELDS[fld]:
            problems.append(Problem(source, f"{fld} must be in {FIELDS[fld]!r}, got {row['unit']!r}", lineno, "unit"))
        date = _date(row["date"], "date", lineno, source, problems)
        published = _date(row["published"], "published", lineno, source, problems)
        value: float | str = row["value"]
        if fld not in TEXT_FIELDS:
            try:
                value = float(row["value"])
                if not math.isfinite(value):
                    raise ValueError
            except ValueError:
                problems.append(Problem(source, f"value must be a finite number, got {row['value']!r}", lineno, "value"))
                continue
            low, high = PLAUSIBLE.get(fld, (0.0, math.inf))
            if value and not low <= abs(value) <= high and not row["note"].upper().startswith(CONFIRMED):
                hint = f"; did you mean {_plain(value / 1e6)}?" if abs(value) > high else ""
                problems.append(Problem(source, f"{fld} {_plain(value)} is implausible in {FIELDS[fld]}{hint} (if it "
                                                f"is right, begin its note with {CONFIRMED})", lineno, "value"))
            value *= _SCALE.get(FIELDS[fld], 1.0)
            if fld in POSITIVE_FIELDS and value <= 0:
                problems.append(Problem(source, f"{fld} must be positive, got {row['value']}", lineno, "value"))
            if fld == "gross_margin" and not -1.0 <= value <= 1.0:
                problems.append(Problem(source, f"gross_margin is a fraction (0.71 for 71%), got {row['value']}",
                                        lineno, "value"))
            if not row["date"]:
                problems.append(Problem(source, "date is required (the date the figure refers to)", lineno, "date"))
            if not row["published"]:
                problems.append(Problem(source, "published is required (the date the figure became public)",
                                        lineno, "published"))
            elif date and published and published < date and fld in MARKET_FIELDS:
                problems.append(Problem(source, f"published {published} is before the trading day {date} it reports",
                                        lineno, "published"))
            elif date and published and published < date and fld != "revenue_ntm":
                problems.append(Problem(source, f"published {published} is before the period it reports ends ({date})",
                                        lineno, "published"))
        elif not value:
            problems.append(Problem(source, "value is empty", lineno, "value"))
        if not row["source_url"]:
            problems.append(Problem(source, "source_url is required for every figure", lineno, "source_url"))
        key = (ticker, fld, date) if fld in SERIES_FIELDS | MARKET_FIELDS else (ticker, fld)
        if key in seen:
            what = f"{ticker} {fld}" + (f" for {date}" if fld in SERIES_FIELDS | MARKET_FIELDS else "")
            problems.append(Problem(source, f"{what} repeats line {seen[key]}", lineno, "field"))
        seen[key] = lineno
        rows.append({**row, "ticker": ticker, "value": value, "date": date, "published": published, "line": lineno})
    if problems:
        raise InputError(problems)
    return rows


def history(rows: tuple[dict, ...] | list[dict], ticker: str, field: str, until: dt.date) -> dict[dt.date, float]:
    """A ticker's values of one market field by trading day, dated on or before ``until`` (USD)."""
    return {r["date"]: float(r["value"]) for r in rows
            if r["ticker"] == ticker and r["field"] == field and r["date"] and r["date"] <= until}


def snapshot_date(path: Path) -> dt.date:
    return dt.date.fromisoformat(NAME_RE.match(Path(path).name).group(1))


def _order(path: Path) -> tuple[str, int]:
    m = NAME_RE.match(Path(path).name)
    return m.group(1), int(m.group(2) or 1)


def list_snapshots(directory: Path) -> list[Path]:
    """Snapshot files in ``directory``, oldest first."""
    return sorted((p for p in Path(directory).glob("*.csv") if NAME_RE.match(p.name)), key=_order)


def read_snapshot(path: Path) -> list[dict]:
    """One snapshot file's rows, each tagged with its ``file``."""
    path = Path(path)
    if not NAME_RE.match(path.name):
        raise InputError(Problem(str(path), "snapshot file name must be its date, YYYY-MM-DD.csv"))
    try:
        snapshot_date(path)
    except ValueError:
        raise InputError(Problem(str(path), "snapshot file name is not a real date")) from None
    return [{**r, "file": path} for r in parse_snapshot(read_text(path), str(path))]


def layer(rows: list[dict], as_of: dt.date, lookahead_days: int = 30) -> tuple[list[dict], list[dict], list[dict]]:
    """(used, left out, look-ahead used) for an analysis dated ``as_of``; see the module doc.

    Among versions of one figure the newest date wins, then the newest publication, then the
    newest file."""
    def rank(r: dict) -> tuple:
        return (r["date"] or dt.date.min, r["published"] or dt.date.min, _order(r["file"]), r["line"])

    left_out, candidates, ahead = [], {}, {}
    for r in rows:
        key = (r["ticker"], r["field"], r["date"]) if r["field"] in SERIES_FIELDS else (r["ticker"], r["field"])
        late_date = r["date"] is not None and r["date"] > as_of
        # a close is public on its trading day, whenever the page quoting it appeared
        late_pub = r["field"] not in MARKET_FIELDS and r["published"] is not None and r["published"] > as_of
        if r["field"] in MARKET_FIELDS and late_date and (r["date"] - as_of).days <= lookahead_days:
            if key not in ahead or rank(r) < rank(ahead[key]):  # the closest to the as-of date
                ahead[key] = r
            continue
        if late_date or late_pub:
            why = (f"dated {r['date']}, after the as-of date {as_of}" if late_date
                   else f"published {r['published']}, after the as-of date {as_of}")
            left_out.append({**r, "reason": why})
            continue
        if key not in candidates or rank(r) > rank(candidates[key]):
            candidates[key] = r
    used_ahead = [r for k, r in ahead.items() if k not in candidates]
    left_out += [{**r, "reason": f"dated {r['date']}, after the as-of date; a figure on or before it exists"}
                 for k, r in ahead.items() if k in candidates]
    return list(candidates.values()) + used_ahead, left_out, used_ahead


def load_snapshots(directory: Path, as_of: dt.date | None = None, lookahead_days: int = 30, *,
                   required: bool = True, today: dt.date | None = None) -> Snapshots:
    """Every snapshot in ``directory`` layered for ``as_of`` (default: the newest file's date).
    One InputError lists the problems of all files, including a file or figure dated after
    ``today`` (default: the real date), and an ``as_of`` with no snapshot layer on or before it.
    With ``required=False`` (a live build, which writes the first one) an empty folder gives
    empty figures dated ``as_of`` or today."""
    today = today or dt.date.today()
    paths = list_snapshots(directory)
    if not paths:
        if required:
            raise InputError(Problem(str(directory), "no snapshot files named YYYY-MM-DD.csv"))
        return Snapshots(as_of or today, (), ())
    problems: list[Problem] = []
    rows: list[dict] = []
    for p in paths:
        if snapshot_date(p) > today:
            problems.append(Problem(str(p), f"the file is named for {snapshot_date(p)}, after today ({today}): a "
                                            "snapshot holds figures already public; rename it to their date"))
            continue
        try:
            rows += read_snapshot(p)
        except InputError as exc:
            problems += exc.problems
    problems += [Problem(str(r["file"]), f"{which} {r[which]} is after today ({today})", r["line"], which)
                 for r in rows for which in ("date", "published") if r[which] and r[which] > today]
    if required and as_of is not None and min(snapshot_date(p) for p in paths) > as_of:  # a live build writes one
        problems.append(Problem(str(directory), (
            f"no snapshot layer on or before the as-of date {as_of} (the oldest is {paths[0].name}); create one "
            f"with figures public by then, e.g. comps figures add TICKER market_cap VALUE --date {as_of} "
            f"--source URL --snapshots {directory} (it writes {Path(directory) / f'{as_of}.csv'})"), field="--as-of"))
    if problems:
        raise InputError(problems)
    as_of = as_of or max(snapshot_date(p) for p in paths)
    used, left_out, ahead = layer(rows, as_of, lookahead_days)
    return Snapshots(as_of, tuple(paths), tuple(used), tuple(left_out), tuple(ahead), tuple(rows))


def format_snapshot(rows: list[dict]) -> str:
    """Figure dicts (values in USD) as snapshot CSV text, sorted for stable diffs."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    order = list(FIELDS)
    for r in sorted(rows, key=lambda r: (r["ticker"], order.index(r["field"]), r.get("date") or dt.date.min)):
        value = r["value"]
        if r["field"] not in TEXT_FIELDS:
            value = f"{float(value) / _SCALE.get(FIELDS[r['field']], 1.0):.10g}"
        w.writerow([r["ticker"], r["field"], value, FIELDS[r["field"]], _iso(r.get("date")), _iso(r.get("published")),
                    r["source_url"], r.get("note", "")])
    return buf.getvalue()


def _iso(d: dt.date | None) -> str:
    return d.isoformat() if d else ""


def split_valid(rows: list[dict]) -> tuple[list[dict], list[tuple[dict, str]]]:
    """(rows a snapshot file accepts, [(row, why) for the others]), each row checked alone."""
    ok, bad = [], []
    for r in rows:
        try:
            parse_snapshot(format_snapshot([r]), "row")
            ok.append(r)
        except InputError as exc:
            bad.append((r, "; ".join(p.message for p in exc.problems)))
    return ok, bad


def write_snapshot(directory: Path, date: dt.date, rows: list[dict]) -> Path:
    """Write a new snapshot file atomically, validated exactly as a build reads it before it
    takes its name. Never overwrites a file: a second snapshot on one day is YYYY-MM-DD.2.csv."""
    directory = Path(directory)
    path, n = directory / f"{date.isoformat()}.csv", 1
    while path.exists():
        n += 1
        path = directory / f"{date.isoformat()}.{n}.csv"
    text = format_snapshot(rows)
    parse_snapshot(text, str(path))
    write_text_new(path, text)
    return path


def new_figure(directory: Path, *, ticker: str, field: str, value: str, date: str, source: str,
               published: str | None = None, unit: str | None = None, note: str = "", confirm: bool = False,
               today: dt.date | None = None) -> Path:
    """Add one figure, given as a user types it (value in the file's unit, dates as text), to
    the snapshot named for its publication date: validated exactly as a build reads it, every
    problem reported at once (each on the option the user typed), the file replaced atomically
    under the snapshot folder's lock, its line endings and mode kept. ``confirm`` accepts a
    value outside the plausible range (its note then begins with CONFIRMED)."""
    from comps._io import lock

    src = "command line"
    today = today or dt.date.today()
    problems = []
    if field not in FIELDS:
        raise InputError(Problem(src, f"unknown field {field!r}; known: {', '.join(FIELDS)}", field="FIELD"))
    if unit is not None and unit != FIELDS[field]:
        problems.append(Problem(src, f"{field} is in {FIELDS[field]!r}, not {unit!r}", field="--unit"))
    if published is None and field not in MARKET_FIELDS | TEXT_FIELDS:
        problems.append(Problem(src, "--published is required: the date the figure became public (a filing or "
                                     "release date)", field="--published"))
    days = {}
    for option, text in (("--date", date), ("--published", published)):
        if text is None:
            continue
        try:
            days[option] = dt.date.fromisoformat(text)
        except ValueError:
            problems.append(Problem(src, f"{option} must be YYYY-MM-DD, got {text!r}", field=option))
            continue
        if days[option] > today:
            problems.append(Problem(src, f"{option} {text} is after today ({today}): a figure must already be public",
                                    field=option))
    if not source.startswith(("https://", "http://")):
        problems.append(Problem(src, f"--source must be the URL of the figure's source (https://…), got {source!r}",
                                field="--source"))
    if any(ch in note for ch in "\r\n"):
        problems.append(Problem(src, "--note must be one line", field="--note"))
    if problems:
        raise InputError(problems)
    day = days.get("--published", days.get("--date"))
    if confirm and not note.upper().startswith(CONFIRMED):
        note = f"{CONFIRMED}: {note}".rstrip(": ")
    directory = Path(directory)
    path = directory / f"{day.isoformat()}.csv"
    cells = [normalize_ticker(ticker), field, value.strip(), FIELDS[field], "" if field in TEXT_FIELDS else date,
             "" if field in TEXT_FIELDS else (published or date), source, note]
    with lock(directory / ".lock", f"the snapshot folder {directory}"):
        old = read_text(path) if path.exists() else ",".join(COLUMNS) + "\n"
        newline = newline_of(old)
        buf = io.StringIO()
        csv.writer(buf, lineterminator=newline).writerow(cells)
        text = old + ("" if old.endswith("\n") else newline) + buf.getvalue()
        try:
            parse_snapshot(text, str(path))
        except InputError as exc:  # say where the problem is in the user's terms
            raise InputError([Problem(src, p.message.replace("(if it is right, begin its note with CONFIRMED)",
                                                             "(if it is right, add --confirm)"), field=p.field)
                              for p in exc.problems]) from None
        write_text_atomic(path, text)
    return path
