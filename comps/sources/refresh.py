"""Live refresh of peer figures from Yahoo Finance, merged with the snapshot, with a safe
fallback. ``refresh_or_fallback`` is what a build calls unless ``--offline``.

Per peer, live figures override the snapshot's and the others stay from the snapshot
(each row's note says ``fresh`` or ``snapshot``). A refresh that delivered anything is written
as a new dated snapshot, atomically, next to the old ones, which are never touched. If Yahoo
cannot be reached the build says so in one line and uses the snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from comps._io import write_text_atomic
from comps.errors import SourceError
from comps.sources import yahoo
from comps.sources.snapshot import FIELDS, Snapshot, write_snapshot
from comps.universe import ticker_problem

WORKERS = 16
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def fx_symbol(currency: str) -> str:
    return f"{currency}USD=X"


def _date(epoch: Any) -> dt.date | None:
    try:
        return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def derive(raw: yahoo.RawPeer, fx: dict[str, float], as_of: dt.date | None) -> tuple[list[dict], list[str]]:
    """Snapshot rows (values in USD) from one ticker's raw Yahoo data, and the problems met.

    Statement amounts are in ``financialCurrency``, market cap in the trading ``currency`` and
    estimates in their own ``currency``: each is converted with ``fx`` (USD per unit). EV is
    rebuilt as market cap + debt − cash rather than taken from ``info.enterpriseValue``, which
    Yahoo gets wrong for some ADRs (yfinance issue #2507)."""
    info, rows, problems = raw.info, [], []
    stamp = f"fetched_at={raw.fetched_at}; fresh"

    def rate(cur: str | None) -> float | None:
        if cur in (None, "USD"):
            return 1.0
        if cur not in fx:
            problems.append(f"no {cur}→USD rate")
        return fx.get(cur)

    def add(fld: str, value: float | str | None, date: dt.date | None, source: str, note: str = "") -> None:
        if value is None or (isinstance(value, float) and value != value):
            return
        rows.append({"ticker": raw.ticker, "field": fld, "value": value, "unit": FIELDS[fld], "date": date,
                     "source_url": f"yfinance:{source}", "note": f"{stamp}{'; ' + note if note else ''}"})

    fin, cur = info.get("financialCurrency", info.get("currency")), info.get("currency")
    f_fin, f_cur = rate(fin), rate(cur)
    fx_note = lambda c, f: f"converted from {c} at {f:.6g} USD per {c}" if c not in (None, "USD") and f else ""  # noqa: E731
    price = info.get("regularMarketPrice") or info.get("currentPrice")
    mcap = info.get("marketCap")
    if mcap and f_cur:
        mdate = _date(info.get("regularMarketTime")) or dt.date.fromisoformat(raw.fetched_at[:10])
        if as_of is not None and raw.close and price:
            # one date for all peers: close on (or just before) as-of × price-consistent shares (ADR basis)
            day = max(d for d in raw.close if d <= as_of.isoformat()) if any(
                d <= as_of.isoformat() for d in raw.close) else None
            if day is None:
                problems.append(f"no close on or before {as_of}")
            else:
                shares = mcap / price
                add("market_cap", raw.close[day] * shares * f_cur, dt.date.fromisoformat(day),
                    "history.Close×(info.marketCap/info.regularMarketPrice)", fx_note(cur, f_cur))
        else:
            add("market_cap", float(mcap) * f_cur, mdate, "info.marketCap", fx_note(cur, f_cur))
    bs_date = _date(info.get("mostRecentQuarter"))
    if f_fin and bs_date:
        for key, fld in (("totalCash", "cash"), ("totalDebt", "total_debt")):
            if key in info:
                add(fld, float(info[key]) * f_fin, bs_date, f"info.{key}", fx_note(fin, f_fin))
    if f_fin:
        annual = sorted(raw.income_annual.items(), reverse=True)
        annual = [(d, v) for d, v in annual if "Total Revenue" in v]
        for (d, v), fld in zip(annual[:2], ("revenue_fy", "revenue_fy_prior"), strict=False):
            add(fld, v["Total Revenue"] * f_fin, dt.date.fromisoformat(d), "income_stmt.Total Revenue",
                fx_note(fin, f_fin))
        ltm = _ltm(raw)
        if ltm:
            end, revenue, gp, source, prior = ltm
            add("revenue_ltm", revenue * f_fin, end, source, fx_note(fin, f_fin))
            if prior is not None:
                add("revenue_ltm_prior", prior[1] * f_fin, prior[0], source, "quarters 5-8")
            if gp is not None and revenue > 0:
                add("gross_margin", gp / revenue, end, source.replace("Total Revenue", "Gross Profit/Total Revenue"))
        if "grossMargins" in info and bs_date and not any(r["field"] == "gross_margin" for r in rows):
            add("gross_margin", float(info["grossMargins"]), bs_date, "info.grossMargins")
    ntm = _ntm(raw, as_of or dt.date.fromisoformat(raw.fetched_at[:10]), rate)
    if ntm is not None:
        add("revenue_ntm", ntm[0], ntm[1], "revenue_estimate.avg[0y,+1y]", ntm[2])
    fye = _date(info.get("lastFiscalYearEnd"))
    if fye:
        add("fiscal_year_end", MONTHS[fye.month - 1], None, "info.lastFiscalYearEnd")
    if fin:
        add("reporting_currency", fin, None, "info.financialCurrency")
    return rows, problems


def _ltm(raw: yahoo.RawPeer):
    """(end, revenue, gross profit, source, (prior end, prior revenue) or None), financial currency.

    The trailing statement first (yfinance issue #1882: a quarter can be missing while the TTM
    is right), else the four latest quarters. The year-earlier TTM needs eight quarters ending
    on the same date, which Yahoo rarely gives (about five), so it is usually absent."""
    q = sorted(((d, v) for d, v in raw.income_quarterly.items() if "Total Revenue" in v), reverse=True)
    ttm = max(raw.income_ttm.items()) if raw.income_ttm else None
    if ttm and "Total Revenue" in ttm[1]:
        end, rev, gp, source = ttm[0], ttm[1]["Total Revenue"], ttm[1].get("Gross Profit"), "ttm_income_stmt"
    elif len(q) >= 4:
        end, rev, source = q[0][0], sum(v["Total Revenue"] for _, v in q[:4]), "quarterly_income_stmt (4 quarters)"
        gp = sum(v["Gross Profit"] for _, v in q[:4]) if all("Gross Profit" in v for _, v in q[:4]) else None
    else:
        return None
    prior = None
    if len(q) >= 8 and q[0][0] == end:
        prior = dt.date.fromisoformat(q[4][0]), sum(v["Total Revenue"] for _, v in q[4:8])
    return dt.date.fromisoformat(end), rev, gp, source + ".Total Revenue", prior


def _ntm(raw: yahoo.RawPeer, today: dt.date, rate: Callable[[str | None], float | None]):
    """NTM revenue calendarized from the 0y/+1y estimates: w = days to fiscal-year end / 365."""
    est, fy_end = raw.revenue_estimate, _date(raw.info.get("nextFiscalYearEnd"))
    if "0y" not in est or "+1y" not in est or "avg" not in est["0y"] or "avg" not in est["+1y"] or fy_end is None:
        return None
    cur = est["0y"].get("currency") or raw.info.get("financialCurrency")
    f = rate(cur)
    if f is None:
        return None
    w = min(max((fy_end - today).days / 365.0, 0.0), 1.0)
    value = (w * est["0y"]["avg"] + (1 - w) * est["+1y"]["avg"]) * f
    return value, today, f"w(0y)={w:.3f} to FY end {fy_end}; estimates in {cur}"


class Cache:
    """Raw responses on disk, one JSON file per ticker (and ``--as-of`` date), valid for ``ttl_hours``."""

    def __init__(self, directory: Path, ttl_hours: float, as_of: dt.date | None = None):
        self.dir, self.ttl = Path(directory), ttl_hours * 3600
        self.tag = as_of.isoformat() if as_of else "latest"

    def path(self, ticker: str) -> Path:
        if ticker_problem(ticker) is not None:
            raise ValueError(f"unsafe ticker for a cache path: {ticker!r}")
        p = (self.dir / f"{ticker}.{self.tag}.json").resolve()
        if p.parent != self.dir.resolve():
            raise ValueError(f"cache path escapes {self.dir}: {ticker!r}")
        return p

    def get(self, ticker: str) -> yahoo.RawPeer | None:
        p = self.path(ticker)
        if not p.exists() or time.time() - p.stat().st_mtime > self.ttl:
            return None
        try:
            return yahoo.RawPeer.from_json(json.loads(p.read_text()))
        except (ValueError, TypeError):
            return None

    def put(self, raw: yahoo.RawPeer) -> None:
        if not raw.errors:
            write_text_atomic(self.path(raw.ticker), json.dumps(raw.to_json(), sort_keys=True))


def fetch_all(symbols: Sequence[str], fetch: Callable[[str], yahoo.RawPeer], cache: Cache | None,
              workers: int = WORKERS, progress: bool = True) -> dict[str, yahoo.RawPeer]:
    """Fetch every symbol on a bounded thread pool, from the cache where fresh."""
    out: dict[str, yahoo.RawPeer] = {}
    todo = []
    for s in symbols:
        hit = cache.get(s) if cache else None
        if hit is not None:
            out[s] = hit
        else:
            todo.append(s)
    from rich.progress import Progress

    with Progress(transient=True, disable=not (progress and sys.stderr.isatty())) as bar, \
            ThreadPoolExecutor(max_workers=max(1, min(workers, len(todo) or 1))) as pool:
        task = bar.add_task("Yahoo refresh", total=len(todo))
        failed = 0
        for fut in as_completed({pool.submit(fetch, s): s for s in todo}):
            raw = fut.result()
            out[raw.ticker] = raw
            failed += bool(raw.errors)
            bar.update(task, advance=1, description=f"Yahoo refresh ({failed} failed)")
            if cache:
                cache.put(raw)
    return out


def refresh_or_fallback(config, peers, target, snapshot: Snapshot) -> tuple[list[dict], str, dt.date]:
    """Rows for the build (live merged over the snapshot), a one-line notice and the as-of date
    (``--as-of`` if given, else the refresh date; the snapshot's date on fallback)."""
    factory = yahoo.yfinance_ticker
    Path(config.cache_dir).mkdir(parents=True, exist_ok=True)
    yahoo.configure(Path(config.cache_dir) / "yfinance")
    symbols = [p.ticker for p in peers if p.include] + [target.ticker]
    fetch = lambda s: yahoo.fetch(s, ticker_factory=factory, as_of=config.as_of)  # noqa: E731
    cache = None if config.refresh else Cache(config.cache_dir, config.cache_ttl_hours, config.as_of)
    raws = fetch_all(symbols, fetch, cache)
    currencies = {c for r in raws.values() for c in (r.info.get("currency"), r.info.get("financialCurrency"),
                  *(e.get("currency") for e in r.revenue_estimate.values())) if c and c != "USD"}
    fx: dict[str, float] = {}
    for c, raw in fetch_all([fx_symbol(c) for c in sorted(currencies)], fetch, cache, progress=False).items():
        price = raw.info.get("regularMarketPrice")
        if price:
            fx[c[:3]] = float(price)
    live: dict[str, list[dict]] = {}
    problems: dict[str, list[str]] = {}
    for p in peers:
        raw = raws.get(p.ticker)
        if raw is None:
            continue
        rows, probs = derive(raw, fx, config.as_of)
        problems[p.ticker] = raw.errors + probs
        if rows:
            live[p.ticker] = rows
    wanted = [p.ticker for p in peers if p.include]
    failed = [t for t in wanted if t not in live]
    if config.require_live and (failed or any(problems[t] for t in wanted)):
        bad = ", ".join(f"{t}: {'; '.join(problems.get(t, ['no data'])[:2])}" for t in wanted
                        if t in failed or problems.get(t))
        raise SourceError(f"--require-live: the live refresh did not complete ({bad})")
    if not live:
        errors = [r.errors[0] for r in raws.values() if r.errors]
        short = f"{len(errors)}/{len(raws)} tickers failed; first: {errors[0][:90]}" if errors else "no data"
        return list(snapshot.rows), (f"Live refresh failed ({short}); data from the snapshot of "
                                     f"{snapshot.as_of} ({snapshot.path})"), config.as_of or snapshot.as_of
    merged = merge(snapshot.rows, live)
    stamp = dt.datetime.now(dt.UTC)
    note = (f"Data: live Yahoo Finance refresh of {len(live)}/{len(wanted)} peers ({stamp:%Y-%m-%d %H:%M} UTC), "
            f"merged with the snapshot of {snapshot.as_of}")
    new_path = Path(config.snapshot_dir) / f"{stamp.date().isoformat()}.csv"
    if new_path.exists():
        note += f"; {new_path.name} already exists and was kept"
    else:
        write_snapshot(config.snapshot_dir, stamp.date(), merged)
        note += f"; wrote {new_path}"
    return merged, note, config.as_of or stamp.date()


def merge(snapshot_rows: Sequence[dict], live: dict[str, list[dict]]) -> list[dict]:
    """Live rows override snapshot rows field by field; the rest stay, marked as from the snapshot.

    A snapshot EV reported on the same date as the snapshot market cap that a live market cap
    replaces is kept as what it says about the balance sheet: net debt = EV − market cap."""
    fresh = {(r["ticker"], r["field"]) for rows in live.values() for r in rows}
    old = {(r["ticker"], r["field"]): r for r in snapshot_rows}
    kept = []
    for (ticker, fld), r in old.items():
        mcap = old.get((ticker, "market_cap"))
        if (fld == "enterprise_value" and (ticker, "market_cap") in fresh and (ticker, "net_debt") not in fresh
                and mcap is not None and mcap["date"] == r["date"] and (ticker, "net_debt") not in old):
            kept.append({**r, "field": "net_debt", "value": r["value"] - mcap["value"],
                         "note": f"DERIVED: snapshot EV − market cap on {r['date']}; snapshot (not refreshed)"})
        elif (ticker, fld) not in fresh:
            kept.append({**r, "note": (r.get("note", "") + "; snapshot (not refreshed)").lstrip("; ")})
    return kept + [r for rows in live.values() for r in rows]
