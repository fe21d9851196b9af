"""Live refresh of peer figures from Yahoo Finance, written as a new dated snapshot.

``refresh`` is what a build calls unless ``--offline``. It fetches every included peer on a
bounded thread pool (from the response cache where fresh), the FX pairs and the target with
one quote request, turns each peer's responses into figure rows in USD (:func:`derive`) and
writes them, validated, as a new snapshot file. Snapshots layer, so the build then reads the
new figures over the older files: a figure Yahoo did not give stays from the newest older
file that has it, and the peer table says when a peer's figures come from different files.
If Yahoo cannot be reached, or nothing usable comes back, nothing is written and the build
says so in one line and goes on from the snapshots.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comps._io import lock, write_text_atomic
from comps.errors import SourceError
from comps.sources import yahoo
from comps.sources.snapshot import FIELDS, split_valid, write_snapshot
from comps.universe import ticker_problem

WORKERS = 16
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
#: quotes in a minor unit: Yahoo gives the price in pence (GBp) but the market cap in pounds
MINOR_UNITS = {"GBp": ("GBP", 100.0), "GBX": ("GBP", 100.0), "ZAc": ("ZAR", 100.0), "ILA": ("ILS", 100.0)}
#: Yahoo does not say when a period's figures were published: assume no later than the filing
#: deadline after the period end (10-Q: 40-45 days; 10-K: 60-90 days), or the fetch date if sooner
QUARTER_LAG_DAYS, YEAR_LAG_DAYS = 45, 90


def yahoo_page(symbol: str, page: str = "") -> str:
    return f"https://finance.yahoo.com/quote/{symbol}/{page}"


def fx_symbol(currency: str) -> str:
    return f"{currency}USD=X"


def major(currency: str | None) -> tuple[str | None, float]:
    """(major currency, units per major unit): ('GBP', 100) for GBp."""
    return MINOR_UNITS.get(currency or "", (currency, 1.0))


def _date(epoch: Any) -> dt.date | None:
    try:
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@dataclass(frozen=True)
class Fx:
    """USD per unit of each major currency, with where each rate came from."""

    rates: dict[str, float]
    notes: dict[str, str] = field(default_factory=dict)

    def rate(self, currency: str | None) -> float | None:
        """USD per unit of ``currency`` (a major unit: the GBP, not the GBp); None if unknown."""
        return 1.0 if currency in (None, "USD") else self.rates.get(currency)


def derive(raw: yahoo.RawPeer, fx: Fx, as_of: dt.date | None, today: dt.date) -> tuple[list[dict], list[str]]:
    """Snapshot rows (values in USD) from one ticker's Yahoo responses, and the problems met.

    Statements are in ``financialCurrency``, the market cap in the trading ``currency`` (its
    major unit), the price in the trading currency as quoted (pence for GBp) and estimates in
    their own ``currency``: each is converted with its own rate. EV is not taken from
    ``info.enterpriseValue`` (wrong for some ADRs, yfinance issue #2507): the build forms it
    from market cap, debt and cash. With ``as_of``, the market cap is the close on (or just
    before) that day × the price-consistent share count, marketCap / price."""
    info, rows, problems = raw.info, [], []
    stamp = f"yfinance {{src}}; fetched_at={raw.fetched_at}"

    def usd(currency: str | None) -> float | None:
        cur, _ = major(currency)
        r = fx.rate(cur)
        if r is None:
            problems.append(f"no {cur}→USD rate")
        return r

    def conv_note(currency: str | None, r: float | None) -> str:
        cur, _ = major(currency)
        return f"; converted from {cur} at {r:.6g} USD per {cur} ({fx.notes.get(cur, 'spot')})" \
            if cur not in (None, "USD") and r else ""

    def add(fld: str, value: float | str | None, date: dt.date | None, published: dt.date | None, src: str,
            page: str, note: str = "") -> None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return
        rows.append({"ticker": raw.ticker, "field": fld, "value": value, "unit": FIELDS[fld], "date": date,
                     "published": published, "source_url": yahoo_page(raw.ticker, page),
                     "note": stamp.format(src=src) + note})

    def public(end: dt.date, lag: int) -> dt.date:
        return min(today, end + dt.timedelta(days=lag))

    fin = info.get("financialCurrency", info.get("currency"))
    cur = info.get("currency")
    r_fin, r_cur = usd(fin), usd(cur)
    price = info.get("regularMarketPrice") or info.get("currentPrice")
    mcap = info.get("marketCap")
    units = major(cur)[1]
    if mcap and r_cur:
        if as_of is not None and raw.close and price:
            day = max((d for d in raw.close if d <= as_of.isoformat()), default=None)
            if day is None:
                problems.append(f"no close on or before {as_of}")
            else:
                shares = mcap / (price / units)  # price-consistent shares (ADR basis), major units
                d = dt.date.fromisoformat(day)
                add("market_cap", raw.close[day] / units * shares * r_cur, d, d,
                    "history.Close × (info.marketCap / info.regularMarketPrice)", "history/",
                    f"; {shares / 1e6:,.1f}M price-consistent shares" + conv_note(cur, r_cur))
                add("share_price_close", raw.close[day] / units * r_cur, d, d, "history.Close", "history/",
                    conv_note(cur, r_cur))
                year = [v for k, v in raw.close.items() if (d - dt.date.fromisoformat(k)).days <= 364 and k <= day]
                if min(raw.close) <= (d - dt.timedelta(days=360)).isoformat():  # the history spans the year
                    add("price_52w_high", max(year) / units * r_cur, d, d, "history.Close, highest of the 52 weeks",
                        "history/", conv_note(cur, r_cur))
        else:
            d = _date(info.get("regularMarketTime")) or today
            add("market_cap", float(mcap) * r_cur, d, d, "info.marketCap", "key-statistics/", conv_note(cur, r_cur))
            if price:
                add("share_price_close", float(price) / units * r_cur, d, d, "info.regularMarketPrice", "key-statistics/",
                    conv_note(cur, r_cur))
            if high := info.get("fiftyTwoWeekHigh"):
                add("price_52w_high", float(high) / units * r_cur, d, d, "info.fiftyTwoWeekHigh", "key-statistics/",
                    conv_note(cur, r_cur))
    bs_date = _date(info.get("mostRecentQuarter"))
    if r_fin and bs_date:
        for key, fld in (("totalCash", "cash"), ("totalDebt", "total_debt")):
            if key in info:
                add(fld, float(info[key]) * r_fin, bs_date, public(bs_date, QUARTER_LAG_DAYS), f"info.{key}",
                    "balance-sheet/", conv_note(fin, r_fin))
    if r_fin:
        note = conv_note(fin, r_fin)
        for fld, stmt, lag, label in (("revenue_fy", raw.income_annual, YEAR_LAG_DAYS, "income_stmt"),
                                      ("revenue_q", raw.income_quarterly, QUARTER_LAG_DAYS, "quarterly_income_stmt"),
                                      ("revenue_ltm", raw.income_ttm, QUARTER_LAG_DAYS, "ttm_income_stmt")):
            for d, v in stmt.items():
                if "Total Revenue" in v:
                    end = dt.date.fromisoformat(d)
                    add(fld, v["Total Revenue"] * r_fin, end, public(end, lag), f"{label} Total Revenue",
                        "financials/", note)
        margin = _gross_margin(raw)
        if margin is not None:
            end, gm, src = margin
            add("gross_margin", gm, end, public(end, QUARTER_LAG_DAYS), src, "financials/")
        elif "grossMargins" in info and bs_date:
            add("gross_margin", float(info["grossMargins"]), bs_date, public(bs_date, QUARTER_LAG_DAYS),
                "info.grossMargins", "key-statistics/")
    ntm = _ntm(raw, as_of or today, usd)
    if ntm is not None:
        value, how, est_cur = ntm
        add("revenue_ntm", value, as_of or today, today, "revenue_estimate avg[0y, +1y]", "analysis/",
            f"; {how}" + conv_note(est_cur, usd(est_cur)))
    if fye := _date(info.get("lastFiscalYearEnd")):
        add("fiscal_year_end", MONTHS[fye.month - 1], None, None, "info.lastFiscalYearEnd", "key-statistics/")
    if fin:
        add("reporting_currency", fin, None, None, "info.financialCurrency", "financials/")
    return rows, sorted(set(problems))


def _gross_margin(raw: yahoo.RawPeer) -> tuple[dt.date, float, str] | None:
    """Gross profit / revenue over the latest period that reports both: the TTM statement,
    else the latest fiscal year."""
    for label, stmt in (("ttm_income_stmt", raw.income_ttm), ("income_stmt", raw.income_annual)):
        both = [(d, v) for d, v in stmt.items() if "Total Revenue" in v and "Gross Profit" in v and v["Total Revenue"] > 0]
        if both:
            d, v = max(both)
            return dt.date.fromisoformat(d), v["Gross Profit"] / v["Total Revenue"], f"{label} Gross Profit / Total Revenue"
    return None


def _ntm(raw: yahoo.RawPeer, today: dt.date, usd: Callable[[str | None], float | None]):
    """Next-twelve-month revenue (USD) calendarized from the 0y/+1y estimates,
    w = days to the current fiscal year's end / 365, clamped to [0, 1]."""
    est, fy_end = raw.revenue_estimate, _date(raw.info.get("nextFiscalYearEnd"))
    if fy_end is None or not all("avg" in est.get(p, {}) and est[p]["avg"] > 0 for p in ("0y", "+1y")):
        return None
    cur = est["0y"].get("currency") or raw.info.get("financialCurrency")
    r = usd(cur)
    if r is None:
        return None
    w = min(max((fy_end - today).days / 365.0, 0.0), 1.0)
    value = (w * est["0y"]["avg"] + (1 - w) * est["+1y"]["avg"]) * r
    return value, f"w(0y) = {w:.3f} to the fiscal year ending {fy_end}; estimates in {cur}", cur


class Cache:
    """Raw responses on disk, one JSON file per key (ticker, or quote.SYMBOL) and ``--as-of``
    tag, valid for ``ttl_hours``. ``--refresh`` skips reading but still writes."""

    def __init__(self, directory: Path, ttl_hours: float, as_of: dt.date | None = None, read: bool = True):
        self.dir, self.ttl, self.read = Path(directory), ttl_hours * 3600, read
        self.tag = as_of.isoformat() if as_of else "latest"

    def path(self, key: str) -> Path:
        if ticker_problem(key.removeprefix("quote.")) is not None:
            raise ValueError(f"unsafe key for a cache path: {key!r}")
        p = (self.dir / f"{key}.{self.tag}.json").resolve()
        if p.parent != self.dir.resolve():
            raise ValueError(f"cache path escapes {self.dir}: {key!r}")
        return p

    def get(self, key: str) -> Any | None:
        p = self.path(key)
        if not self.read or not p.exists() or time.time() - p.stat().st_mtime > self.ttl:
            return None
        try:
            return json.loads(p.read_text())
        except ValueError:
            return None

    def put(self, key: str, data: Any) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path(key), json.dumps(data, sort_keys=True))


def fetch_all(symbols: Sequence[str], fetch: Callable[[str], yahoo.RawPeer], cache: Cache,
              workers: int = WORKERS, progress: bool = True) -> dict[str, yahoo.RawPeer]:
    """Fetch every symbol on a bounded thread pool, from the cache where fresh. Answers are
    cached; transient failures are fetched again next time."""
    out: dict[str, yahoo.RawPeer] = {}
    todo = []
    for s in symbols:
        hit = cache.get(s)
        try:
            out[s] = yahoo.RawPeer.from_json(hit)
        except TypeError:  # no entry (None), or one in an older shape: fetch again
            todo.append(s)
    if not todo:
        return out
    from rich.progress import Progress

    with Progress(transient=True, disable=not (progress and sys.stderr.isatty())) as bar, \
            ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo)))) as pool:
        task = bar.add_task("Yahoo refresh", total=len(todo))
        failed = 0
        for fut in as_completed({pool.submit(fetch, s): s for s in todo}):
            raw = fut.result()
            out[raw.ticker] = raw
            failed += bool(raw.errors)
            bar.update(task, advance=1, description=f"Yahoo refresh ({failed} failed)")
            if raw.cacheable:
                cache.put(raw.ticker, raw.to_json())
    return out


def cached_quotes(symbols: Iterable[str], cache: Cache, sess, clock: Callable[[], dt.datetime]) -> tuple[dict, str | None]:
    """Quotes for ``symbols``: cached ones from the cache (a symbol Yahoo does not know is
    cached too, as ``{}``), the rest in one request."""
    out: dict[str, dict] = {}
    todo = []
    for s in dict.fromkeys(symbols):
        hit = cache.get(f"quote.{s}")
        if hit is None:
            todo.append(s)
        elif hit:
            out[s] = hit
    error = None
    if todo:
        fetched, error = yahoo.quotes(todo, sess)
        stamp = clock().isoformat(timespec="seconds")
        for s in todo:
            q = fetched.get(s, {})
            if q:
                q = {**q, "fetched_at": stamp}
                out[s] = q
            if error is None:
                cache.put(f"quote.{s}", q)
    return out, error


@dataclass(frozen=True)
class Refresh:
    """What a live refresh did: the snapshot it wrote (None if nothing usable came back), a
    one-line notice, per-ticker problems, the target's quote if it trades, and fetch times."""

    path: Path | None
    notice: str
    problems: dict[str, list[str]]
    target_quote: dict | None = None
    fetched: tuple[str, str] | None = None


def _clock(today: dt.date | None) -> Callable[[], dt.datetime]:
    if today is None:
        return lambda: dt.datetime.now(dt.UTC)
    return lambda: dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)


def refresh(config, peers, target, today: dt.date | None = None,
            say: Callable[[str], None] = lambda _m: None) -> Refresh:
    """Fetch the included peers, FX and the target and write a new snapshot (see module doc).
    ``today`` (default: the real clock) dates the fetch, the new file and the NTM weights."""
    clock = _clock(today)
    today = clock().date()
    wanted = [p.ticker for p in peers if p.include]
    if (why := yahoo.unreachable()) is not None:
        return _fallback(config, f"Yahoo Finance is unreachable ({why})", {t: [why] for t in wanted})
    cache_dir = Path(config.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    yahoo.configure(cache_dir / "yfinance")
    sess = yahoo.session()
    factory = yahoo.ticker_factory(sess)
    cache = Cache(cache_dir, config.cache_ttl_hours, config.as_of, read=not config.refresh)
    raws = fetch_all(wanted, lambda s: yahoo.fetch(s, ticker_factory=factory, as_of=config.as_of, clock=clock), cache)
    if all(r.network_failure for r in raws.values()):
        first = next((r.errors[0] for r in raws.values() if r.errors), "no data")
        return _fallback(config, f"Live refresh failed ({len(raws)}/{len(raws)} tickers failed; first: {first[:90]})",
                         {t: raws[t].errors for t in wanted})
    currencies = {major(c)[0] for r in raws.values() for c in (r.info.get("currency"), r.info.get("financialCurrency"),
                                                               r.revenue_estimate.get("0y", {}).get("currency"))}
    fx_pairs = sorted(fx_symbol(c) for c in currencies if c and c != "USD")
    quoted, quote_error = cached_quotes([*fx_pairs, target.ticker], cache, sess, clock)
    fx = _rates(fx_pairs, quoted, config.as_of, factory)
    rows: list[dict] = []
    problems: dict[str, list[str]] = {}
    for t in wanted:
        derived, probs = derive(raws[t], fx, config.as_of, today)
        derived, rejected = split_valid(derived)  # a snapshot the build cannot read is never written
        probs += [f"{r['field']} {r['date'] or ''} rejected: {why}" for r, why in rejected]
        problems[t] = raws[t].errors + probs + ([quote_error] if quote_error and probs else [])
        rows += derived
    got = {r["ticker"] for r in rows}
    if config.require_live and (incomplete := [t for t in wanted if problems[t] or t not in got]):
        bad = ", ".join(f"{t}: {'; '.join(problems[t][:2]) or 'no figures'}" for t in incomplete)
        raise SourceError(f"--require-live: the live refresh did not complete ({bad})")
    stamps = sorted(r.fetched_at for r in raws.values())
    fetched = (stamps[0], stamps[-1]) if stamps else None
    target_quote = quoted.get(target.ticker)
    if not rows:
        fb = _fallback(config, "Live refresh returned no usable figures", problems)
        return dataclasses.replace(fb, target_quote=target_quote, fetched=fetched)
    with lock(Path(config.snapshot_dir) / ".lock", f"the snapshot folder {config.snapshot_dir}"):
        path = write_snapshot(config.snapshot_dir, today, rows)
    n_ok = len(got)
    when = fetched[0][:16].replace("T", " ") + (f" to {fetched[1][11:16]}" if fetched[1][:16] != fetched[0][:16] else "")
    notice = (f"Data: live Yahoo Finance refresh of {n_ok}/{len(wanted)} peers, fetched {when} UTC; "
              f"wrote {path}, refreshed on {today}")
    return Refresh(path, notice, problems, target_quote, fetched)


def _rates(pairs: Sequence[str], quoted: dict, as_of: dt.date | None, factory) -> Fx:
    """USD per unit for each pair: the close on the as-of date when one is asked for (one
    history request per pair, spot if that fails), else the spot quote."""
    rates, notes = {}, {}
    for pair in pairs:
        cur = pair.removesuffix("USD=X")
        spot = quoted.get(pair, {}).get("regularMarketPrice")
        if as_of is not None:
            try:
                hist = factory(pair).history(start=as_of - dt.timedelta(days=7), end=as_of + dt.timedelta(days=1))
                closes = {ts.date(): float(v) for ts, v in hist["Close"].dropna().items() if ts.date() <= as_of}
            except Exception:  # noqa: BLE001 - an FX history failure falls back to spot, with a note
                closes = {}
            if closes:
                day = max(closes)
                rates[cur], notes[cur] = closes[day], f"{pair} close {day}"
                continue
        if spot:
            rates[cur] = float(spot)
            notes[cur] = f"{pair} spot" + (f", no close on or before {as_of}" if as_of else "")
    return Fx(rates, notes)


def _fallback(config, why: str, problems: dict[str, list[str]]) -> Refresh:
    if config.require_live:
        raise SourceError(f"--require-live: {why}")
    return Refresh(None, why, problems)

