"""Yahoo Finance adapter: the only module that imports yfinance.

It turns a ticker's ``info``, income statements (annual, quarterly, trailing), revenue
estimates and (for ``--as-of``) price history into a plain JSON-able :class:`RawPeer`.
yfinance 1.7.0 fails in mixed ways (some calls raise DNSError/OSError or YFRateLimitError,
some return an empty DataFrame, keys go missing, an invalid ticker gives
``{'trailingPegRatio': None}``); every one becomes an entry in ``RawPeer.errors`` with its
reason, never an exception. Wall time per ticker is bounded: request timeouts are clamped
and a per-ticker deadline stops further calls.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

INFO_KEYS = (
    "quoteType", "symbol", "shortName", "currency", "financialCurrency", "marketCap", "regularMarketPrice",
    "currentPrice", "regularMarketTime", "sharesOutstanding", "impliedSharesOutstanding", "enterpriseValue",
    "totalRevenue", "grossMargins", "totalCash", "totalDebt", "lastFiscalYearEnd", "nextFiscalYearEnd",
    "mostRecentQuarter",
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

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RawPeer:
        return cls(**data)


def _session():
    """A curl_cffi session whose request timeout is clamped (yfinance hard-codes 30 s)."""
    from curl_cffi import requests as curl

    class ClampedSession(curl.Session):
        def request(self, *args, **kwargs):
            kwargs["timeout"] = min(float(kwargs.get("timeout") or TIMEOUT_S), TIMEOUT_S)
            return super().request(*args, **kwargs)

    return ClampedSession(impersonate="chrome")


def configure(cache_dir) -> None:
    """Keep yfinance's own sqlite caches (cookies, time zones) under comps' cache folder, and
    quiet its logger: every failure it logs is also captured per ticker in ``RawPeer.errors``."""
    import logging

    import yfinance as yf

    yf.set_tz_cache_location(str(cache_dir))
    logging.getLogger("yfinance").setLevel(logging.CRITICAL)


def yfinance_ticker(symbol: str):
    """The production ticker factory."""
    import yfinance as yf

    return yf.Ticker(symbol, session=_session())


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


def fetch(symbol: str, *, ticker_factory: Callable[[str], Any] = yfinance_ticker, as_of: dt.date | None = None,
          deadline_s: float = 30.0, retries: int = 3, backoff_s: float = 1.0,
          sleep: Callable[[float], None] = time.sleep, now: Callable[[], float] = time.monotonic) -> RawPeer:
    """Fetch one ticker. Never raises for data or network problems: they land in ``errors``."""
    from yfinance.exceptions import YFException, YFRateLimitError

    raw = RawPeer(symbol, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
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
                return None
            try:
                return get()
            except YFRateLimitError:
                if attempt == retries:
                    raw.errors.append(f"{label}: rate-limited (YFRateLimitError) after {retries} retries")
                    return None
                sleep(backoff_s * 2**attempt)
            except Exception as exc:  # noqa: BLE001 - yfinance raises many unrelated types
                if _is_network(exc):
                    raw.network_failure = True
                    raw.errors.append(f"{label}: network: {type(exc).__name__}: {str(exc)[:120]}")
                elif isinstance(exc, YFException | TypeError | AttributeError | KeyError | ValueError):
                    raw.errors.append(f"{label}: {type(exc).__name__}: {str(exc)[:120]}")
                else:
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
        hist = call("history", lambda: tk.history(start=as_of - dt.timedelta(days=7), end=as_of + dt.timedelta(days=1),
                                                  auto_adjust=False))
        if hist is not None and not getattr(hist, "empty", True):
            raw.close = {ts.date().isoformat(): float(v) for ts, v in hist["Close"].dropna().items()}
        elif hist is not None:
            raw.errors.append(f"history: no close on or before {as_of}")
    return raw
