"""Yahoo Finance adapter: the only module that imports yfinance.

It turns a ticker's ``info``, income statements (annual, quarterly, trailing), revenue
estimates and (for ``--as-of``) price history into a plain JSON-able :class:`RawPeer`; FX
pairs and the target need only a quote, and :func:`quotes` gets all of them in one request.
Before any of that, :func:`unreachable` learns cheaply (one DNS lookup, no yfinance import)
whether Yahoo can be reached at all.
yfinance 1.7.0 fails in mixed ways (some calls raise DNSError/OSError or YFRateLimitError,
some return an empty DataFrame, keys go missing, an invalid ticker gives
``{'trailingPegRatio': None}``); every one becomes an entry in ``RawPeer.errors`` with its
reason, never an exception. Wall time per ticker is bounded: request timeouts are clamped
and a per-ticker deadline stops further calls.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

INFO_KEYS = (
    "quoteType", "symbol", "shortName", "currency", "financialCurrency", "marketCap", "regularMarketPrice",
    "currentPrice", "regularMarketTime", "sharesOutstanding", "impliedSharesOutstanding", "enterpriseValue",
    "totalRevenue", "grossMargins", "totalCash", "totalDebt", "lastFiscalYearEnd", "nextFiscalYearEnd",
    "mostRecentQuarter", "fiftyTwoWeekHigh",
)
STATEMENT_ROWS = ("Total Revenue", "Gross Profit")
ESTIMATE_COLUMNS = ("avg", "low", "high", "numberOfAnalysts", "yearAgoRevenue", "growth", "currency")
TIMEOUT_S = 8.0


@dataclass
class RawPeer:
    """What Yahoo returned for one ticker, as plain data (dates as ISO strings)."""

    ticker: str
    fetched_at: str
    info: dict[str, Any] = field(default_factory=dict)
    income_annual: dict[str, dict[str, float]] = field(default_factory=dict)
    income_quarterly: dict[str, dict[str, float]] = field(default_factory=dict)
    income_ttm: dict[str, dict[str, float]] = field(default_factory=dict)
    revenue_estimate: dict[str, dict[str, Any]] = field(default_factory=dict)
    close: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    network_failure: bool = False
    transient: bool = False  # a failure that may not recur: network, rate limit, deadline, the unexpected

    @property
    def cacheable(self) -> bool:
        """Worth caching: Yahoo answered (quote type and market cap present) and nothing failed
        for a transient reason. An empty statement is Yahoo's answer for that ticker, so a
        response with one is cached too."""
        return "quoteType" in self.info and "marketCap" in self.info and not self.transient

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawPeer:
        return cls(**data)


HOST = "query2.finance.yahoo.com"
QUOTE_URL = "https://query1.finance.yahoo.com/v7/finance/quote"
QUOTE_KEYS = ("quoteType", "symbol", "currency", "regularMarketPrice", "regularMarketTime", "marketCap",
              "shortName")


def unreachable(timeout_s: float = 1.5) -> str | None:
    """Why Yahoo cannot be reached (a failed DNS lookup of its API host), or None if it may be.

    One lookup on a daemon thread, bounded by ``timeout_s``, before yfinance is imported, so a
    machine with no network learns it once instead of from every request. Behind a proxy the
    local resolver says nothing about reachability, so the check is skipped."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    outcome: list[BaseException | None] = []

    def lookup() -> None:
        try:
            socket.getaddrinfo(HOST, 443, type=socket.SOCK_STREAM)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - any failure means unreachable
            outcome.append(exc)

    t = threading.Thread(target=lookup, daemon=True)
    t.start()
    t.join(timeout_s)
    if not outcome:
        return f"DNS lookup of {HOST} did not answer within {timeout_s:g} s"
    exc = outcome[0]
    return None if exc is None else f"DNS lookup of {HOST} failed ({type(exc).__name__}: {exc})"


def session():
    """One curl_cffi session for a whole refresh, its request timeout clamped (yfinance
    hard-codes 30 s). yfinance keeps a single session per process anyway."""
    from curl_cffi import requests as curl

    class ClampedSession(curl.Session):
        def request(self, *args, **kwargs):
            kwargs["timeout"] = min(float(kwargs.get("timeout") or TIMEOUT_S), TIMEOUT_S)
            return super().request(*args, **kwargs)

    return ClampedSession(impersonate="chrome")


_CONFIGURED: list[str] = []


def configure(cache_dir) -> None:
    """Keep yfinance's own sqlite caches (cookies, time zones) under comps' cache folder, and
    quiet its logger: every failure it logs is also captured per ticker in ``RawPeer.errors``.

    Only the first call in a process moves the caches: yfinance cannot relocate a cache it has
    opened (its database proxy keeps the closed connection), and which folder holds them does
    not change any figure."""
    import logging

    import yfinance as yf

    if not _CONFIGURED:
        path = str(Path(cache_dir).resolve())  # absolute: the process may change directory later
        yf.set_tz_cache_location(path)
        _CONFIGURED.append(path)
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)


def ticker_factory(sess) -> Callable[[str], Any]:
    """The production factory: ``yf.Ticker`` on the shared session."""
    import yfinance as yf

    return lambda symbol: yf.Ticker(symbol, session=sess)


def quotes(symbols: Sequence[str], sess) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The v7 quote of every symbol in ONE request through yfinance's own session, cookie and
    crumb handling (``YfData``, the object every yfinance call uses). Returns ({symbol: quote
    keys}, error or None); a symbol Yahoo does not know is absent from the dict."""
    if not symbols:
        return {}, None
    from yfinance.data import YfData

    params = {"symbols": ",".join(symbols), "formatted": "false", "lang": "en-US", "region": "US"}
    try:
        data = YfData(session=sess).get_raw_json(QUOTE_URL, params=params, timeout=TIMEOUT_S)
        result = (data.get("quoteResponse") or {}).get("result") or []
    except Exception as exc:  # noqa: BLE001 - network, HTTP and payload errors alike
        return {}, f"quote: {type(exc).__name__}: {str(exc)[:120]}"
    out = {}
    for q in result:
        if q.get("symbol") in symbols:
            out[q["symbol"]] = {k: q[k] for k in QUOTE_KEYS if q.get(k) is not None}
    return out, None


def _is_network(exc: BaseException) -> bool:
    return isinstance(exc, OSError)  # curl_cffi and requests network errors subclass OSError


def _frame(df, rows: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Statement frame (rows = line items, columns = period ends newest first) → {date: {row: value}}."""
    out: dict[str, dict[str, float]] = {}
    for col in df.columns:
        cell = {r: float(df.at[r, col]) for r in rows if r in df.index and df.at[r, col] == df.at[r, col]}
        if cell:
            out[col.date().isoformat()] = cell
    return out


def fetch(symbol: str, *, ticker_factory: Callable[[str], Any], as_of: dt.date | None = None,
          deadline_s: float = 30.0, retries: int = 3, backoff_s: float = 1.0,
          sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.monotonic,
          clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> RawPeer:
    """Fetch one ticker. Never raises for data or network problems: they land in ``errors``.
    ``clock`` stamps ``fetched_at`` (settable, to replay recorded responses)."""
    from yfinance.exceptions import YFException, YFRateLimitError

    raw = RawPeer(symbol, clock().isoformat(timespec="seconds"))
    start = now()
    try:
        tk = ticker_factory(symbol)
    except Exception as exc:  # noqa: BLE001 - any failure to build the ticker is a per-ticker error
        raw.errors.append(f"ticker: {type(exc).__name__}: {exc}")
        return raw

    def call(label: str, get: Callable[[], Any]) -> Any:
        for attempt in range(retries + 1):
            if raw.network_failure:
                return None
            if now() - start > deadline_s:
                raw.errors.append(f"{label}: skipped, per-ticker deadline of {deadline_s:g} s reached")
                raw.transient = True
                return None
            try:
                return get()
            except YFRateLimitError:
                if attempt == retries:
                    raw.errors.append(f"{label}: rate-limited (YFRateLimitError) after {retries} retries")
                    raw.transient = True
                    return None
                sleep(backoff_s * 2**attempt)
            except Exception as exc:  # noqa: BLE001 - yfinance raises many unrelated types
                if _is_network(exc):
                    raw.network_failure = raw.transient = True
                    raw.errors.append(f"{label}: network: {type(exc).__name__}: {str(exc)[:120]}")
                elif isinstance(exc, YFException | TypeError | AttributeError | KeyError | ValueError):
                    raw.errors.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
                else:
                    raw.transient = True
                    raw.errors.append(f"{label}: unexpected {type(exc).__name__}: {str(exc)[:120]}")
                return None
        return None

    info = call("info", lambda: tk.info)
    if isinstance(info, dict):
        raw.info = {k: info[k] for k in INFO_KEYS if info.get(k) is not None}
        if "quoteType" not in raw.info or "marketCap" not in raw.info:
            raw.errors.append("info: no quoteType/marketCap (invalid or delisted ticker, or quoteSummary failed)")
    for label, attr, target in (("income_stmt", "income_stmt", raw.income_annual),
                                ("quarterly_income_stmt", "quarterly_income_stmt", raw.income_quarterly),
                                ("ttm_income_stmt", "ttm_income_stmt", raw.income_ttm)):
        df = call(label, lambda a=attr: getattr(tk, a))
        if df is not None and getattr(df, "empty", True):
            raw.errors.append(f"{label}: empty (no data, or a network problem yfinance swallowed)")
        elif df is not None:
            target.update(_frame(df, STATEMENT_ROWS))
    est = call("revenue_estimate", lambda: tk.revenue_estimate)
    if est is not None and getattr(est, "empty", True):
        raw.errors.append("revenue_estimate: empty (no analysts or no data)")
    elif est is not None:
        for period in ("0y", "+1y"):
            if period in est.index:
                row = est.loc[period]
                raw.revenue_estimate[period] = {c: (row[c] if c == "currency" else float(row[c]))
                                                for c in ESTIMATE_COLUMNS if c in row.index and row[c] == row[c]}
    if as_of is not None:
        hist = call("history", lambda: tk.history(start=as_of - dt.timedelta(days=372), end=as_of + dt.timedelta(days=1),
                                                  auto_adjust=False))  # a year: the 52-week closing high too
        if hist is not None and not getattr(hist, "empty", True):
            raw.close = {ts.date().isoformat(): float(v) for ts, v in hist["Close"].dropna().items()}
        elif hist is not None:
            raw.errors.append(f"history: no close on or before {as_of}")
    return raw
