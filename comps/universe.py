"""The peer list: ``data/peers.csv``, the file users edit.

Parsed with the standard library so ``comps peers list`` starts instantly. Lines starting
with ``#`` are comments and blank lines are ignored; both survive ``add``/``remove``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from comps._csv import newline_of, parse_table, read_text
from comps._io import write_text_atomic
from comps.errors import InputError, Problem

REQUIRED = ("ticker", "name", "segment", "include")
OPTIONAL = ("tier", "notes")
#: core: what a banker compares the target with first; extended: the supply chain and
#: diversified companies priced partly on the same theme. Each tier gets its own statistics.
TIERS = ("core", "extended")
TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9.\-^=]{0,19}$")
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class Peer:
    ticker: str
    name: str
    segment: str
    include: bool
    notes: str = ""
    line: int = 0
    tier: str = "core"


#: a share class written with a dot (BRK.B): Yahoo writes it with a dash (BRK-B); an exchange
#: suffix (OCDO.L, 7203.T) keeps its dot
_SHARE_CLASS = re.compile(r"^([A-Z]{1,5})\.([A-C])$")


def normalize_ticker(raw: str) -> str:
    """Upper case, trimmed, and a share class in Yahoo's form: 'brk.b' → 'BRK-B'."""
    return _SHARE_CLASS.sub(r"\1-\2", raw.strip().upper())


def ticker_problem(ticker: str) -> str | None:
    """Why ``ticker`` (already normalized) is not acceptable, or None."""
    if not ticker:
        return "ticker is empty"
    if "/" in ticker or "\\" in ticker or ".." in ticker:
        return f"ticker {ticker!r} contains a path separator or '..'"
    if not TICKER_RE.match(ticker):
        return f"ticker {ticker!r} must match {TICKER_RE.pattern} (letters, digits, . - ^ =)"
    return None


def parse_bool(raw: str) -> bool | None:
    v = raw.strip().lower()
    return True if v in _TRUE else False if v in _FALSE else None


def parse_peers(text: str, source: str = "peers.csv") -> list[Peer]:
    """Parse and validate peer-list text. Raises InputError listing every problem."""
    table = parse_table(text, source, REQUIRED, OPTIONAL)
    problems: list[Problem] = []
    peers: list[Peer] = []
    seen: dict[str, int] = {}
    for lineno, row in table.rows:
        ticker = normalize_ticker(row["ticker"])
        if (why := ticker_problem(ticker)) is not None:
            problems.append(Problem(source, why, lineno, "ticker"))
        elif ticker in seen:
            problems.append(Problem(source, f"duplicate ticker {ticker} (first on line {seen[ticker]})", lineno, "ticker"))
        else:
            seen[ticker] = lineno
        for col in ("name", "segment"):
            if not row[col]:
                problems.append(Problem(source, f"{col} is empty", lineno, col))
        include = parse_bool(row["include"])
        if include is None:
            problems.append(Problem(source, f"include must be true or false, got {row['include']!r}", lineno, "include"))
        tier = (row.get("tier") or "core").strip().lower()
        if tier not in TIERS:
            problems.append(Problem(source, f"tier must be {' or '.join(TIERS)}, got {row['tier']!r}", lineno, "tier"))
        peers.append(Peer(ticker, row["name"], row["segment"], bool(include), row.get("notes", ""), lineno, tier))
    if problems:
        raise InputError(problems)
    if not peers:
        raise InputError(Problem(source, "no peers listed below the header", table.header_line))
    return peers


def load_peers(path: Path | str) -> list[Peer]:
    """Read and validate the peer CSV at ``path``."""
    return parse_peers(read_text(path), str(path))


def add_peer(path: Path, peer: Peer) -> None:
    """Append ``peer`` to the CSV, keeping existing lines, order, comments, any BOM, the line
    endings and the file's mode. The new file is parsed before it is written: a value that would
    break it (a line break in the notes) is refused."""
    path = Path(path)
    text = read_text(path)
    existing = parse_peers(text, str(path))
    problems = [Problem("command line", f"{name} must be one line of text, without line breaks or tabs", field=f"--{name}")
                for name, v in (("name", peer.name), ("segment", peer.segment), ("notes", peer.notes))
                if any(ch in v for ch in "\r\n\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")]
    if any(p.ticker == peer.ticker for p in existing):
        problems.append(Problem(str(path), f"{peer.ticker} is already in the peer list", field="ticker"))
    header = parse_table(text, str(path), REQUIRED, OPTIONAL).header
    if peer.tier != "core" and "tier" not in header:
        problems.append(Problem(str(path), f"--tier {peer.tier} needs a tier column in the header, and this file has "
                                           "none (every peer is core); add the column first", field="--tier"))
    if problems:
        raise InputError(problems)
    values = {"ticker": peer.ticker, "name": peer.name, "segment": peer.segment,
              "include": "true" if peer.include else "false", "tier": peer.tier, "notes": peer.notes}
    newline = newline_of(text)
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerow([values[h] for h in header])
    new = text + ("" if text.endswith("\n") or not text else newline) + buf.getvalue()
    parse_peers(new, str(path))
    write_text_atomic(path, new)


def remove_peer(path: Path, ticker: str) -> None:
    """Delete the row of ``ticker``, keeping every other line byte for byte."""
    path = Path(path)
    text = read_text(path)
    peers = parse_peers(text, str(path))
    target = normalize_ticker(ticker)
    match = [p for p in peers if p.ticker == target]
    if not match:
        raise InputError(Problem(str(path), f"{target} is not in the peer list", field="ticker"))
    kept = [line for i, line in enumerate(text.splitlines(keepends=True), start=1) if i != match[0].line]
    write_text_atomic(path, "".join(kept))
