"""Reading the project's CSV files (peer list, snapshots, disclosures) the way users save them.

One pass, standard library only (so ``comps peers list`` stays instant), that answers every
messy file with a clear problem and its line number:

- a byte-order mark (Excel's "CSV UTF-8") is ignored, in every command;
- blank lines and ``#`` comment lines are skipped, and line numbers stay true;
- each record is one physical line: a quote left open on its line is an error that names the
  line, rather than swallowing the rest of the file into one field;
- a file that looks ``;``- or tab-separated gets a hint to save it as comma-separated;
- the empty trailing columns that Excel adds are ignored;
- columns are matched by name (any order); missing and unknown columns are listed.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from comps.errors import InputError, Problem


def read_text(path: Path | str) -> str:
    """The file's text exactly as stored (UTF-8; BOM and line endings kept, for the caller to
    round-trip), or an InputError naming the line of an undecodable byte."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found")) from None
    except IsADirectoryError:
        raise InputError(Problem(str(path), "is a folder, expected a CSV file")) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(Problem(str(path), f"not UTF-8 text (byte 0x{raw[exc.start]:02x}, {exc.reason}); save it as "
                                            "'CSV UTF-8'", line)) from None


def newline_of(text: str) -> str:
    """The line ending a file uses: CRLF if its first line ends so, else LF."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


@dataclass(frozen=True)
class Table:
    """A parsed CSV: the header (lower-cased names, file order), its line, and the data rows
    as (line number, {column: stripped cell})."""

    header: tuple[str, ...]
    header_line: int
    rows: tuple[tuple[int, dict[str, str]], ...]


def _cells(line: str, lineno: int, source: str) -> list[str]:
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error:
        raise InputError(Problem(source, "a quote opened on this line is not closed on it (a field "
                                         "cannot span lines); close the quote or remove it", lineno)) from None


def _separator_hint(header_cells: list[str]) -> str | None:
    if len(header_cells) == 1:
        for sep, name in ((";", "';'"), ("\t", "tab")):
            if sep in header_cells[0]:
                return (f"this file looks {name}-separated; save it as comma-separated "
                        "(in Excel: Save As > CSV UTF-8)")
    return None


def parse_table(text: str, source: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> Table:
    """Parse CSV ``text``. Raises one InputError listing every problem found."""
    text = text.removeprefix("\ufeff")
    problems: list[Problem] = []
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, dict[str, str]]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            cells = _cells(line, lineno, source)
        except InputError as exc:
            problems.extend(exc.problems)
            continue
        if header is None:
            header_line = lineno
            if (hint := _separator_hint(cells)) is not None:
                raise InputError(Problem(source, hint, lineno))
            while cells and not cells[-1].strip():  # Excel's empty trailing columns
                cells.pop()
            header = [c.strip().lower() for c in cells]
            missing = [c for c in required if c not in header]
            unknown = [c for c in header if c not in (*required, *optional)]
            if missing:
                problems.append(Problem(source, f"missing column(s) {', '.join(missing)}; expected "
                                                f"{','.join((*required, *optional))}", lineno))
            if unknown:
                problems.append(Problem(source, f"unknown column(s) {', '.join(repr(u) for u in unknown)}; "
                                                f"allowed {','.join((*required, *optional))}", lineno))
            if missing or unknown:
                raise InputError(problems)
            continue
        while len(cells) > len(header) and not cells[-1].strip():
            cells.pop()
        if len(cells) != len(header):
            problems.append(Problem(source, f"expected {len(header)} cells, found {len(cells)}", lineno))
            continue
        rows.append((lineno, dict(zip(header, (c.strip() for c in cells), strict=True))))
    if header is None:
        if problems:
            raise InputError(problems)
        raise InputError(Problem(source, f"file is empty: expected a header row {','.join((*required, *optional))}"))
    if problems:
        raise InputError(problems)
    return Table(tuple(header), header_line, tuple(rows))
