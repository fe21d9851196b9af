"""The IPO target: a TOML file with every figure, its date and its source.

Nothing about any company is hard-coded in comps: another IPO is valued by writing another
target file (see ``data/targets/cerebras.toml`` for the schema by example). Every key is
checked: an unknown one (a typo) is an error with a "did you mean" hint, never ignored, and a
figure far outside the plausible range for its unit (revenue typed in millions where USD is
expected) is refused with the likely fix.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comps.errors import InputError, Problem
from comps.universe import normalize_ticker, ticker_problem


@dataclass(frozen=True)
class Figure:
    """One sourced number. ``value`` is in the unit named by the field that holds it."""

    value: float
    date: dt.date  # the date the figure refers to (a period end, or a filing date)
    source: str
    note: str = ""
    published: dt.date | None = None  # the date it became public (None: not stated)


@dataclass(frozen=True)
class Customer:
    name: str
    share: float  # fraction of revenue, 0..1
    period: str
    source: str
    group: str = ""  # customers sharing a non-empty group are under common control (merged by default)
    note: str = ""


@dataclass(frozen=True)
class PricePoint:
    label: str
    price_usd: float
    date: dt.date
    kind: str  # range | revised | priced | trading
    source: str
    note: str = ""


@dataclass(frozen=True)
class Checklist:
    """Thresholds for the seed article's follow / wait / walk-away checklist.

    ``walk_away_market_cap_usd`` is a [low, high] market-cap band in USD; None (not given in the
    target file) means the checklist has no walk-away signal."""

    walk_away_market_cap_usd: tuple[float, float] | None = None
    concentration_declining: bool = False


#: [offering] figures: (unit kind, what it is). Counts are shares, money USD, the spread a fraction.
OFFERING_FIELDS = {
    "shares_offered": ("count", "shares sold in the base deal"),
    "primary_shares": ("count", "of which new shares sold by the company"),
    "secondary_shares": ("count", "of which sold by existing holders"),
    "overallotment_shares": ("count", "the underwriters' option (greenshoe)"),
    "underwriting_spread": ("fraction", "underwriting discount, fraction of the offer price"),
    "pre_offering_cash_usd": ("money", "cash and marketable securities before the offering"),
    "pre_offering_debt_usd": ("money", "total debt before the offering"),
    "net_cash_after_offering_usd": ("money", ("net cash after the offering, where the prospectus fixes it whatever the "
                                             "price (it then replaces cash, debt and proceeds)")),
    "options_outstanding": ("count", "options outstanding"),
    "options_strike_usd": ("price", "their weighted-average exercise price"),
    "rsus_outstanding": ("count", "restricted stock units outstanding"),
    "warrants_outstanding": ("count", "warrants outstanding"),
    "warrants_strike_usd": ("price", "their exercise price"),
    "fully_diluted_shares": ("count", "a stated fully diluted share count"),
}


@dataclass(frozen=True)
class Offering:
    """The offering terms the EV bridge needs; each a sourced :class:`Figure`, None if unsourced."""

    figures: dict[str, Figure] = field(default_factory=dict)

    def get(self, name: str) -> float | None:
        f = self.figures.get(name)
        return f.value if f is not None else None


@dataclass(frozen=True)
class Analysis:
    """Where and when the target is valued, from its file's [analysis] table: the as-of date (its
    pricing date) and the peer list and snapshot folder (paths relative to the target file)."""

    as_of: dt.date | None = None
    peers: Path | None = None
    snapshots: Path | None = None


@dataclass(frozen=True)
class Target:
    ticker: str
    name: str
    segment: str
    revenue_usd: Figure  # latest fiscal year
    revenue_prior_usd: Figure  # the fiscal year before
    gross_margin: Figure | None  # latest fiscal year, fraction
    gross_margin_prior: Figure | None
    shares_outstanding: Figure  # shares after the offering (base deal)
    ev_assumption: str  # anything the file says about net cash, in words
    customers: tuple[Customer, ...]
    price_points: tuple[PricePoint, ...]
    checklist: Checklist = field(default_factory=Checklist)
    offering: Offering = field(default_factory=Offering)
    analysis: Analysis = field(default_factory=Analysis)
    path: str = ""

    @property
    def revenue_growth(self) -> float:
        """Latest fiscal-year revenue growth, fraction."""
        return self.revenue_usd.value / self.revenue_prior_usd.value - 1.0

    @property
    def fiscal_label(self) -> str:
        """The latest fiscal year as a label, from the revenue's period end: 'FY2025'."""
        return f"FY{self.revenue_usd.date.year}"

    def dated_figures(self) -> list[tuple[str, Figure]]:
        """(name, figure) for every sourced figure of the target."""
        names = ("revenue_usd", "revenue_prior_usd", "gross_margin", "gross_margin_prior", "shares_outstanding")
        return [(n, getattr(self, n)) for n in names if getattr(self, n) is not None] + \
            [(f"offering.{n}", f) for n, f in self.offering.figures.items()]

    def provenance(self) -> list[dict[str, Any]]:
        """One row per sourced figure, for the report."""
        rows = []
        for name, f in self.dated_figures():
            rows.append({"figure": name, "value": f.value, "date": f.date.isoformat(),
                         "published": f.published.isoformat() if f.published else "", "source": f.source,
                         "note": f.note})
        for c in self.customers:
            rows.append({"figure": f"customer share: {c.name}", "value": c.share, "date": c.period, "published": "",
                         "source": c.source, "note": "; ".join(x for x in (f"group: {c.group}" if c.group else "", c.note) if x)})
        for p in self.price_points:
            rows.append({"figure": f"price: {p.label}", "value": p.price_usd, "date": p.date.isoformat(),
                         "published": p.date.isoformat(), "source": p.source, "note": "; ".join(x for x in (p.kind, p.note) if x)})
        return rows


#: every key a target file may hold, by table; anything else is a typo
KEYS = {
    "": ("company", "analysis", "figures", "offering", "customers", "price_points", "checklist"),
    "company": ("ticker", "name", "segment"),
    "analysis": ("as_of", "peers", "snapshots"),
    "figures": ("revenue_usd", "revenue_prior_usd", "gross_margin", "gross_margin_prior", "shares_outstanding",
                "ev_assumption"),
    "offering": tuple(OFFERING_FIELDS),
    "figure": ("value", "date", "published", "source", "note"),
    "customers": ("name", "share", "period", "source", "group", "note"),
    "price_points": ("label", "price_usd", "date", "kind", "source", "note"),
    "checklist": ("walk_away_market_cap_usd", "concentration_declining"),
}
#: plausible magnitudes (low, high, unit words) of money and counts, to catch a unit slip
MAGNITUDE = {
    "money": (1e5, 5e13, "USD (not millions)"),
    "count": (1e3, 5e11, "shares (not millions)"),
    "price": (0.0, 1e5, "USD per share"),
}


def _did_you_mean(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (known: {', '.join(known)})"


class _Reader:
    """Pulls typed values out of the parsed TOML, collecting problems instead of stopping."""

    def __init__(self, source: str, today: dt.date):
        self.source = source
        self.today = today
        self.problems: list[Problem] = []

    def fail(self, fld: str, message: str) -> None:
        self.problems.append(Problem(self.source, message, field=fld))

    def keys(self, table: Any, allowed: str, fld: str) -> None:
        """Every key of ``table`` must be one of KEYS[allowed]."""
        if isinstance(table, dict):
            for key in table:
                if key not in KEYS[allowed]:
                    self.fail(f"{fld}.{key}" if fld else key, _did_you_mean(key, KEYS[allowed]))

    def get(self, table: dict, key: str, fld: str, kind: type | tuple, required: bool = True) -> Any:
        if key not in table:
            if required:
                self.fail(fld, "required field is missing")
            return None
        value = table[key]
        if kind in (float, (float,)) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            hint = ""
            if kind is float and isinstance(value, str):
                hint = " (write a bare number: 0.39 for 39%, 185 for $185)"
            self.fail(fld, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__} {value!r}{hint}")
            return None
        return value

    def date(self, table: dict, key: str, fld: str, required: bool = True) -> dt.date | None:
        value = table.get(key)
        if value is None:
            if required:
                self.fail(fld, "required date is missing (YYYY-MM-DD)")
            return None
        if isinstance(value, dt.datetime):
            value = value.date()
        elif isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                pass
        if not isinstance(value, dt.date):
            self.fail(fld, f"date must be YYYY-MM-DD, got {value!r}")
            return None
        if value > self.today:
            self.fail(fld, f"{value} is after today ({self.today}): a figure cannot be dated in the future")
            return None
        return value

    def magnitude(self, fld: str, value: float, kind: str) -> None:
        low, high, unit = MAGNITUDE[kind]
        if not low <= abs(value) <= high and value != 0:
            hint = ""
            if abs(value) < low and kind != "price":
                hint = f"; did you mean {value * 1e6:,.0f} (the value in millions × 1,000,000)?"
            self.fail(fld, f"{value:,.10g} is implausible for a figure in {unit}{hint}")

    def figure(self, table: dict, key: str, *, kind: str = "money", positive: bool = False,
               required: bool = True, prefix: str = "figures") -> Figure | None:
        fld = f"{prefix}.{key}"
        raw = table.get(key)
        if raw is None:
            if required:
                self.fail(fld, "required figure is missing: {value = …, date = YYYY-MM-DD, source = \"…\"}")
            return None
        if not isinstance(raw, dict):
            self.fail(fld, f"expected a table {{value, date, published, source, note}}, got {raw!r}")
            return None
        self.keys(raw, "figure", fld)
        value = self.get(raw, "value", f"{fld}.value", float)
        date = self.date(raw, "date", f"{fld}.date")
        source = self.get(raw, "source", f"{fld}.source", str)
        note = self.get(raw, "note", f"{fld}.note", str, required=False) or ""
        published = self.date(raw, "published", f"{fld}.published", required=False)
        if value is not None:
            if not math.isfinite(value):
                self.fail(f"{fld}.value", "must be a finite number")
                value = None
            elif positive and value <= 0:
                self.fail(f"{fld}.value", f"must be positive, got {value:g}")
            elif kind == "fraction" and not -1.0 <= value <= 1.0:
                self.fail(f"{fld}.value", f"must be a fraction in [-1, 1] (0.39 for 39%), got {value:g}")
            elif kind in MAGNITUDE:
                self.magnitude(f"{fld}.value", value, kind)
        if source is not None and not source.strip():
            self.fail(f"{fld}.source", "source is empty")
        if date and published and published < date and kind != "price":
            self.fail(f"{fld}.published", f"published {published} is before the date it refers to ({date})")
        if None in (value, date, source):
            return None
        return Figure(value, date, source, note, published)


def _path(r: _Reader, table: dict, key: str, base: Path) -> Path | None:
    raw = r.get(table, key, f"analysis.{key}", str, required=False)
    return Path(os.path.normpath(base / raw)) if raw else None


def parse_target(data: dict[str, Any], source: str = "target.toml", today: dt.date | None = None) -> Target:
    """Validate a parsed target TOML document into a :class:`Target`. Paths in [analysis] are
    relative to the file's folder; no date may lie after ``today`` (default: the real date)."""
    r = _Reader(source, today or dt.date.today())
    r.keys(data, "", "")
    company = data.get("company")
    if not isinstance(company, dict):
        r.fail("company", "required table [company] is missing")
        company = {}
    r.keys(company, "company", "company")
    ticker = r.get(company, "ticker", "company.ticker", str)
    if ticker is not None:
        ticker = normalize_ticker(ticker)
        if (why := ticker_problem(ticker)) is not None:
            r.fail("company.ticker", why)
    name = r.get(company, "name", "company.name", str)
    segment = r.get(company, "segment", "company.segment", str, required=False) or ""

    raw_analysis = data.get("analysis", {})
    r.keys(raw_analysis, "analysis", "analysis")
    base = Path(source).parent
    analysis = Analysis(r.date(raw_analysis, "as_of", "analysis.as_of", required=False),
                        _path(r, raw_analysis, "peers", base), _path(r, raw_analysis, "snapshots", base))

    figs = data.get("figures")
    if not isinstance(figs, dict):
        r.fail("figures", "required table [figures] is missing")
        figs = {}
    r.keys(figs, "figures", "figures")
    revenue = r.figure(figs, "revenue_usd", positive=True)
    revenue_prior = r.figure(figs, "revenue_prior_usd", positive=True)
    gm = r.figure(figs, "gross_margin", kind="fraction", required=False)
    gm_prior = r.figure(figs, "gross_margin_prior", kind="fraction", required=False)
    shares = r.figure(figs, "shares_outstanding", kind="count", positive=True)
    if revenue and revenue_prior and revenue.date <= revenue_prior.date:
        r.fail("figures.revenue_prior_usd.date", "prior-year revenue must end before the latest year")
    ev_assumption = r.get(figs, "ev_assumption", "figures.ev_assumption", str, required=False) or ""

    raw_offering = data.get("offering", {})
    r.keys(raw_offering, "offering", "offering")
    offering = {}
    for key, (kind, _what) in OFFERING_FIELDS.items():
        f = r.figure(raw_offering, key, kind=kind, required=False, prefix="offering")
        if f is not None:
            if f.value < 0:
                r.fail(f"offering.{key}.value", f"must not be negative, got {f.value:g}")
            offering[key] = f

    customers = []
    raw_customers = data.get("customers", [])
    if not isinstance(raw_customers, list):
        r.fail("customers", "expected [[customers]] entries")
        raw_customers = []
    for i, c in enumerate(raw_customers, start=1):
        fld = f"customers #{i}"
        r.keys(c, "customers", fld)
        cname = r.get(c, "name", f"{fld}.name", str)
        share = r.get(c, "share", f"{fld}.share", float)
        period = r.get(c, "period", f"{fld}.period", str)
        csrc = r.get(c, "source", f"{fld}.source", str)
        group = r.get(c, "group", f"{fld}.group", str, required=False) or ""
        cnote = r.get(c, "note", f"{fld}.note", str, required=False) or ""
        if share is not None and not 0.0 <= share <= 1.0:
            r.fail(f"{fld}.share", f"customer share must be a fraction in [0, 1] (0.62 for 62%), got {share:g}")
            share = None
        if None not in (cname, share, period, csrc):
            customers.append(Customer(cname, share, period, csrc, group, cnote))
    total = sum(c.share for c in customers)
    if total > 1.0 + 1e-9:
        r.fail("customers", f"customer shares sum to {total:.3f}, above 1")

    points = _price_points(r, data.get("price_points", []))
    chk = data.get("checklist", {})
    r.keys(chk, "checklist", "checklist")
    band = chk.get("walk_away_market_cap_usd")
    if band is not None:
        if (not isinstance(band, list) or len(band) != 2
                or not all(isinstance(b, int | float) and not isinstance(b, bool) and b > 0 for b in band)):
            r.fail("checklist.walk_away_market_cap_usd", f"expected [low, high] in USD, got {band!r}")
            band = None
        elif band[0] > band[1]:
            r.fail("checklist.walk_away_market_cap_usd", f"reversed range: low {band[0]:g} > high {band[1]:g}")
            band = None
        else:
            for b in band:
                r.magnitude("checklist.walk_away_market_cap_usd", float(b), "money")
            band = (float(band[0]), float(band[1]))
    declining = r.get(chk, "concentration_declining", "checklist.concentration_declining", bool, required=False)

    if r.problems:
        raise InputError(r.problems)
    return Target(ticker, name, segment, revenue, revenue_prior, gm, gm_prior, shares, ev_assumption,
                  tuple(customers), tuple(points), Checklist(band, bool(declining)), Offering(offering), analysis,
                  source)


def _price_points(r: _Reader, raw_points: Any) -> list[PricePoint]:
    points = []
    if not isinstance(raw_points, list) or not raw_points:
        r.fail("price_points", "at least one [[price_points]] entry is required")
        return points
    labels: set[str] = set()
    for i, p in enumerate(raw_points, start=1):
        fld = f"price_points #{i}"
        r.keys(p, "price_points", fld)
        label = r.get(p, "label", f"{fld}.label", str)
        price = r.get(p, "price_usd", f"{fld}.price_usd", float)
        date = r.date(p, "date", f"{fld}.date")
        kind = r.get(p, "kind", f"{fld}.kind", str)
        psrc = r.get(p, "source", f"{fld}.source", str)
        pnote = r.get(p, "note", f"{fld}.note", str, required=False) or ""
        if price is not None and not price > 0:
            r.fail(f"{fld}.price_usd", f"price must be positive, got {price:g}")
            price = None
        elif price is not None:
            r.magnitude(f"{fld}.price_usd", price, "price")
        if kind is not None and kind not in ("range", "revised", "priced", "trading"):
            r.fail(f"{fld}.kind", f"kind must be one of range, revised, priced, trading; got {kind!r}")
        if label in labels:
            r.fail(f"{fld}.label", f"duplicate price-point label {label!r}")
        labels.add(label)
        if None not in (label, price, date, kind, psrc):
            points.append(PricePoint(label, price, date, kind, psrc, pnote))
    by_kind: dict[str, dict[str, float]] = {}  # labels ending in low/high must not be reversed
    for p in points:
        end = p.label.lower().rsplit(" ", 1)[-1]
        if end in ("low", "high"):
            by_kind.setdefault(p.kind, {})[end] = p.price_usd
    for kind, ends in by_kind.items():
        if "low" in ends and "high" in ends and ends["low"] > ends["high"]:
            r.fail("price_points", f"reversed {kind} range: low {ends['low']:g} > high {ends['high']:g}")
    return points


def load_target(path: Path | str, today: dt.date | None = None) -> Target:
    """Read and validate a target TOML file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found")) from None
    except IsADirectoryError:
        raise InputError(Problem(str(path), "is a folder, expected a TOML file")) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InputError(Problem(str(path), f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
                                 line)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(Problem(str(path), f"not valid TOML: {exc}")) from None
    return parse_target(data, str(path), today)
