"""Fake yfinance 1.7.0 tickers for offline tests and benchmarks: the exact shapes of
``info`` (None keys dropped), statements (line items × period ends, newest first, float64)
and ``revenue_estimate`` (index ``period``: 0q, +1q, 0y, +1y, with a ``currency`` column),
and the failure modes measured in shared/reference/yfinance.md §2."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd
from curl_cffi.requests.exceptions import DNSError
from yfinance.exceptions import YFRateLimitError

NOW = dt.datetime(2026, 5, 13, 20, 0, tzinfo=dt.UTC)


def statement(rows: dict[str, list[float]], ends: list[str]) -> pd.DataFrame:
    """yfinance statement frame: index = line items, columns = period ends (Timestamps) newest first."""
    cols = pd.DatetimeIndex(pd.to_datetime(ends))
    return pd.DataFrame(rows, index=cols, dtype="float64").T[cols]


def estimates(avg0: float, avg1: float, currency: str = "USD") -> pd.DataFrame:
    df = pd.DataFrame({"avg": [1.0, 1.0, avg0, avg1], "low": [1.0] * 4, "high": [1.0] * 4,
                       "numberOfAnalysts": [10, 10, 30, 30], "yearAgoRevenue": [1, 1, 1, 1],
                       "growth": [0.1] * 4, "currency": [currency] * 4},
                      index=pd.Index(["0q", "+1q", "0y", "+1y"], name="period"))
    return df


class FakeTicker:
    """A healthy ticker: info with None keys already dropped, statements newest first."""

    def __init__(self, symbol: str, mcap: float = 100e9, revenue: float = 10e9, currency: str = "USD",
                 fin_currency: str = "USD", delay: float = 0.0):
        self.symbol, self.delay = symbol, delay
        g = 0.5 + (sum(map(ord, symbol)) % 13) / 10  # peers differ, so fits are not collinear
        scale = 1.0 if fin_currency == "USD" else 32.0
        self._info = {"quoteType": "EQUITY", "symbol": symbol, "currency": currency, "financialCurrency": fin_currency,
                      "marketCap": int(mcap * g), "regularMarketPrice": 100.0, "regularMarketTime": int(NOW.timestamp()),
                      "totalCash": int(5e9 * scale), "totalDebt": int(2e9 * scale), "grossMargins": 0.6,
                      "mostRecentQuarter": int(dt.datetime(2026, 3, 31, tzinfo=dt.UTC).timestamp()),
                      "lastFiscalYearEnd": int(dt.datetime(2025, 12, 31, tzinfo=dt.UTC).timestamp()),
                      "nextFiscalYearEnd": int(dt.datetime(2026, 12, 31, tzinfo=dt.UTC).timestamp()),
                      "trailingPegRatio": 1.2}
        r = revenue * scale
        self._annual = statement({"Total Revenue": [r, r / g, r / g**2], "Gross Profit": [0.6 * r, 0.3 * r, 0.2 * r]},
                                 ["2025-12-31", "2024-12-31", "2023-12-31"])
        q = [r / 4 * f for f in (1.2, 1.1, 1.0, 0.9, 0.8)]
        self._quarterly = statement({"Total Revenue": q, "Gross Profit": [0.6 * x for x in q]},
                                    ["2026-03-31", "2025-12-31", "2025-09-30", "2025-06-30", "2025-03-31"])
        self._ttm = statement({"Total Revenue": [sum(q[:4])], "Gross Profit": [0.6 * sum(q[:4])]}, ["2026-03-31"])
        self._est = estimates(r * 1.4, r * 1.9, fin_currency)

    def _wait(self):
        if self.delay:
            time.sleep(self.delay)

    @property
    def info(self):
        self._wait()
        return dict(self._info)

    @property
    def income_stmt(self):
        self._wait()
        return self._annual

    @property
    def quarterly_income_stmt(self):
        self._wait()
        return self._quarterly

    @property
    def ttm_income_stmt(self):
        self._wait()
        return self._ttm

    @property
    def revenue_estimate(self):
        self._wait()
        return self._est

    def history(self, start=None, end=None, **_):
        days = pd.date_range("2026-05-06", "2026-05-14", freq="B")
        return pd.DataFrame({"Open": 1.0, "High": 1.0, "Low": 1.0, "Close": np.linspace(90, 98, len(days)),
                             "Volume": 1, "Dividends": 0.0}, index=days)


class Dead(FakeTicker):
    """No network: .info and estimates raise DNSError; statements come back empty (as measured)."""

    info = property(lambda self: (_ for _ in ()).throw(DNSError("Could not resolve host: query2.finance.yahoo.com")))
    revenue_estimate = info
    income_stmt = quarterly_income_stmt = ttm_income_stmt = property(lambda self: pd.DataFrame())


class FxTicker(FakeTicker):
    info = property(lambda self: {"quoteType": "CURRENCY", "symbol": self.symbol, "currency": "USD",
                                  "regularMarketPrice": 1 / 32.0})


class RateLimited(FakeTicker):
    """HTTP 429 everywhere: info and estimates raise YFRateLimitError; statements come back empty."""

    calls = 0

    @property
    def info(self):
        type(self).calls += 1
        raise YFRateLimitError()

    revenue_estimate = info
    income_stmt = quarterly_income_stmt = ttm_income_stmt = property(lambda self: pd.DataFrame())


class Invalid(FakeTicker):
    info = property(lambda self: {"trailingPegRatio": None})
    income_stmt = quarterly_income_stmt = ttm_income_stmt = revenue_estimate = property(lambda self: pd.DataFrame())


class Unauthorized(FakeTicker):
    """quoteSummary 401: info holds only the v7 quote keys; estimates empty."""

    @property
    def info(self):
        keep = ("currency", "financialCurrency", "marketCap", "quoteType", "regularMarketPrice", "symbol")
        return {k: v for k, v in self._info.items() if k in keep} | {"trailingPegRatio": None}

    revenue_estimate = property(lambda self: pd.DataFrame())


class Broken(FakeTicker):
    """The fast_info path of a dead network: TypeError inside yfinance."""

    info = property(lambda self: (_ for _ in ()).throw(TypeError("argument of type 'NoneType' is not iterable")))
