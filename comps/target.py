"""The IPO target: a TOML file with every figure, its date and its source.

Nothing about any company is hard-coded in comps: another IPO is valued by writing another
target file (see ``data/targets/cerebras.toml`` for the schema by example).
"""

from __future__ import annotations

import datetime as dt
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
    group: str = ""  # customers sharing a non-empty group may be related parties


@dataclass(frozen=True)
class PricePoint:
    label: str
    price_usd: float
    date: dt.date
    kind: str  # range | revised | priced | trading
    source: str


@dataclass(frozen=True)
class Checklist:
    """Thresholds for the seed article's follow / wait / walk-away checklist.

    ``walk_away_market_cap_usd`` is a [low, high] market-cap band in USD; None (not given in the
    target file) means the checklist has no walk-away signal."""

    walk_away_market_cap_usd: tuple[float, float] | None = None
    concentration_declining: bool = False


@dataclass(frozen=True)
class Target:
    ticker: str
    name: str
    segment: str
    revenue_usd: Figure  # latest fiscal year
    revenue_prior_usd: Figure  # the fiscal year before
    gross_margin: Figure | None  # latest fiscal year, fraction
    gross_margin_prior: Figure | None
    shares_outstanding: Figure  # shares after the offering
    net_cash_usd: Figure | None  # None = unknown
    ev_assumption: str  # what the build does about net cash, in words
    customers: tuple[Customer, ...]
    price_points: tuple[PricePoint, ...]
    checklist: Checklist = field(default_factory=Checklist)
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
        names = ("revenue_usd", "revenue_prior_usd", "gross_margin", "gross_margin_prior", "shares_outstanding",
                 "net_cash_usd")
        return [(n, getattr(self, n)) for n in names if getattr(self, n) is not None]

    @property
    def net_cash_assumed_usd(self) -> float:
        """Net cash used to bridge equity value and EV. Unknown net cash means EV = market cap,
        an explicit assumption recorded in the target file and printed by every build."""
        return self.net_cash_usd.value if self.net_cash_usd is not None else 0.0

    def provenance(self) -> list[dict[str, Any]]:
        """One row per sourced figure, for the report."""
        rows = []
        for name, f in self.dated_figures():
            rows.append({"figure": name, "value": f.value, "date": f.date.isoformat(),
                         "published": f.published.isoformat() if f.published else "", "source": f.source,
                         "note": f.note})
        for c in self.customers:
            rows.append({"figure": f"customer_share:{c.name}", "value": c.share, "date": c.period,
                         "source": c.source, "note": f"group: {c.group}" if c.group else ""})
        for p in self.price_points:
            rows.append({"figure": f"price_usd:{p.label}", "value": p.price_usd,
                         "date": p.date.isoformat(), "source": p.source, "note": p.kind})
        return rows


class _Reader:
    """Pulls typed values out of the parsed TOML, collecting problems instead of stopping."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def fail(self, fld: str, message: str) -> None:
        self.problems.append(Problem(self.source, message, field=fld))

    def get(self, table: dict, key: str, fld: str, kind: type | tuple, required: bool = True) -> Any:
        if key not in table:
            if required:
                self.fail(fld, "required field is missing")
            return None
        value = table[key]
        if kind in (float, (float,)) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(fld, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__} {value!r}")
            return None
        return value

    def date(self, table: dict, key: str, fld: str, required: bool = True) -> dt.date | None:
        value = table.get(key)
        if value is None:
            if required:
                self.fail(fld, "required date is missing (YYYY-MM-DD)")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        self.fail(fld, f"date must be YYYY-MM-DD, got {value!r}")
        return None

    def figure(self, table: dict, key: str, *, positive: bool = False, fraction: bool = False,
               required: bool = True) -> Figure | None:
        fld = f"figures.{key}"
        raw = table.get(key)
        if raw is None:
            if required:
                self.fail(fld, "required figure is missing: {value = …, date = YYYY-MM-DD, source = \"…\"}")
            return None
        if not isinstance(raw, dict):
            self.fail(fld, f"expected a table {{value, date, source}}, got {raw!r}")
            return None
        value = self.get(raw, "value", f"{fld}.value", float)
        date = self.date(raw, "date", f"{fld}.date")
        source = self.get(raw, "source", f"{fld}.source", str)
        note = self.get(raw, "note", f"{fld}.note", str, required=False) or ""
        published = self.date(raw, "published", f"{fld}.published", required=False)
        if value is not None:
            if value != value or value in (float("inf"), float("-inf")):
                self.fail(f"{fld}.value", "must be a finite number")
                value = None
            elif positive and value <= 0:
                self.fail(f"{fld}.value", f"must be positive, got {value:g}")
            elif fraction and not -1.0 <= value <= 1.0:
                self.fail(f"{fld}.value", f"must be a fraction in [-1, 1] (0.39 for 39%), got {value:g}")
        if source is not None and not source.strip():
            self.fail(f"{fld}.source", "source is empty")
        if None in (value, date, source):
            return None
        return Figure(value, date, source, note, published)


def parse_target(data: dict[str, Any], source: str = "target.toml") -> Target:
    """Validate a parsed target TOML document into a :class:`Target`."""
    r = _Reader(source)
    company = data.get("company")
    if not isinstance(company, dict):
        r.fail("company", "required table [company] is missing")
        company = {}
    ticker = r.get(company, "ticker", "company.ticker", str)
    if ticker is not None:
        ticker = normalize_ticker(ticker)
        if (why := ticker_problem(ticker)) is not None:
            r.fail("company.ticker", why)
    name = r.get(company, "name", "company.name", str)
    segment = r.get(company, "segment", "company.segment", str, required=False) or ""

    figs = data.get("figures")
    if not isinstance(figs, dict):
        r.fail("figures", "required table [figures] is missing")
        figs = {}
    revenue = r.figure(figs, "revenue_usd", positive=True)
    revenue_prior = r.figure(figs, "revenue_prior_usd", positive=True)
    gm = r.figure(figs, "gross_margin", fraction=True, required=False)
    gm_prior = r.figure(figs, "gross_margin_prior", fraction=True, required=False)
    shares = r.figure(figs, "shares_outstanding", positive=True)
    net_cash = r.figure(figs, "net_cash_usd", required=False)
    if revenue and revenue_prior and revenue.date <= revenue_prior.date:
        r.fail("figures.revenue_prior_usd.date", "prior-year revenue must end before the latest year")
    ev_assumption = r.get(figs, "ev_assumption", "figures.ev_assumption", str, required=net_cash is None)

    customers = []
    raw_customers = data.get("customers", [])
    if not isinstance(raw_customers, list):
        r.fail("customers", "expected [[customers]] entries")
        raw_customers = []
    for i, c in enumerate(raw_customers):
        fld = f"customers[{i}]"
        cname = r.get(c, "name", f"{fld}.name", str)
        share = r.get(c, "share", f"{fld}.share", float)
        period = r.get(c, "period", f"{fld}.period", str)
        csrc = r.get(c, "source", f"{fld}.source", str)
        group = r.get(c, "group", f"{fld}.group", str, required=False) or ""
        if share is not None and not 0.0 <= share <= 1.0:
            r.fail(f"{fld}.share", f"customer share must be a fraction in [0, 1], got {share:g}")
            share = None
        if None not in (cname, share, period, csrc):
            customers.append(Customer(cname, share, period, csrc, group))
    total = sum(c.share for c in customers)
    if total > 1.0 + 1e-9:
        r.fail("customers", f"customer shares sum to {total:.3f}, above 1")

    points = []
    raw_points = data.get("price_points", [])
    if not isinstance(raw_points, list) or not raw_points:
        r.fail("price_points", "at least one [[price_points]] entry is required")
        raw_points = []
    labels: set[str] = set()
    for i, p in enumerate(raw_points):
        fld = f"price_points[{i}]"
        label = r.get(p, "label", f"{fld}.label", str)
        price = r.get(p, "price_usd", f"{fld}.price_usd", float)
        date = r.date(p, "date", f"{fld}.date")
        kind = r.get(p, "kind", f"{fld}.kind", str)
        psrc = r.get(p, "source", f"{fld}.source", str)
        if price is not None and not price > 0:
            r.fail(f"{fld}.price_usd", f"price must be positive, got {price:g}")
            price = None
        if kind is not None and kind not in ("range", "revised", "priced", "trading"):
            r.fail(f"{fld}.kind", f"kind must be one of range, revised, priced, trading; got {kind!r}")
        if label in labels:
            r.fail(f"{fld}.label", f"duplicate price-point label {label!r}")
        labels.add(label)
        if None not in (label, price, date, kind, psrc):
            points.append(PricePoint(label, price, date, kind, psrc))
    _check_ranges(r, points)

    chk = data.get("checklist", {})
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
            band = (float(band[0]), float(band[1]))
    declining = r.get(chk, "concentration_declining", "checklist.concentration_declining", bool,
                      required=False)
    checklist = Checklist(band, bool(declining))

    if r.problems:
        raise InputError(r.problems)
    return Target(ticker, name, segment, revenue, revenue_prior, gm, gm_prior, shares, net_cash,
                  ev_assumption or "", tuple(customers), tuple(points), checklist, source)


def _check_ranges(r: _Reader, points: list[PricePoint]) -> None:
    """Within one kind of range (e.g. 'range'), labels ending in low/high must not be reversed."""
    by_kind: dict[str, dict[str, float]] = {}
    for p in points:
        end = p.label.lower().rsplit(" ", 1)[-1]
        if end in ("low", "high"):
            by_kind.setdefault(p.kind, {})[end] = p.price_usd
    for kind, ends in by_kind.items():
        if "low" in ends and "high" in ends and ends["low"] > ends["high"]:
            r.fail("price_points", f"reversed {kind} range: low {ends['low']:g} > high {ends['high']:g}")


def load_target(path: Path | str) -> Target:
    """Read and validate a target TOML file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(Problem(str(path), "file not found")) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(Problem(str(path), f"not valid TOML: {exc}")) from None
    return parse_target(data, str(path))
