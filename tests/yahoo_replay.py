"""Yahoo Finance replayed at yfinance's HTTP layer.

``curl_cffi.requests.Session.request`` (the method yfinance calls for every request, cookie
and crumb handshake included) is replaced by one that answers from canned responses, so
yfinance's own parsing runs end to end. Responses are keyed by URL path and query:

- ``fc.yahoo.com`` and ``/v1/test/getcrumb``: the cookie/crumb handshake;
- ``/v10/finance/quoteSummary/SYM``: ``quoteSummary_earningsTrend`` when the modules ask for
  earningsTrend, else ``quoteSummary_info``; Yahoo's 404 body for an unknown symbol;
- ``/v7/finance/quote?symbols=A,B``: the ``quote_v7`` result of every known symbol;
- ``/ws/fundamentals-timeseries/…/SYM?type=…``: ``ts_pegratio``, ``ts_annual``,
  ``ts_quarterly`` or ``ts_trailing`` by the requested types;
- ``/v8/finance/chart/SYM``: ``chart``.

Two sources of responses: :func:`recorded` reads the real recordings in
``../shared/reference/yahoo_responses`` at test time (never copied into this repository), and
:func:`synthetic` builds responses in the same shapes with numbers of our own, for tests that
run everywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

#: SYM/<kind>.json files as listed above; COMPS_YAHOO_RECORDINGS points at a newer set
RECORDINGS = Path(os.environ.get("COMPS_YAHOO_RECORDINGS")
                  or Path(__file__).resolve().parents[2] / "shared" / "reference" / "yahoo_responses")
NOT_FOUND_SUMMARY = {"quoteSummary": {"result": None, "error": {"code": "Not Found",
                                                                "description": "Quote not found for symbol: {s}"}}}
NOT_FOUND_CHART = {"chart": {"result": None, "error": {"code": "Not Found",
                                                        "description": "No data found, symbol may be delisted"}}}


class Yahoo:
    """Canned Yahoo: ``responses[symbol][kind]`` is a JSON body; ``faults`` maps a symbol (or
    ``"*"``) to ``"dns"`` (the request raises DNSError), ``"429"`` or ``"401"`` (quoteSummary
    answers with that status). Every request is logged as (path, query)."""

    def __init__(self, responses: dict[str, dict[str, dict]], faults: dict[str, str] | None = None,
                 delay_s: float = 0.0):
        self.responses, self.faults, self.delay_s = responses, faults or {}, delay_s
        self.log: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    def fault(self, symbol: str) -> str | None:
        return self.faults.get(symbol) or self.faults.get("*")

    def answer(self, url: str, params: dict | None) -> tuple[int, object]:
        parts = urlsplit(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {k: str(v) for k, v in (params or {}).items()}
        with self._lock:
            self.log.append((parts.path, query))
        if parts.hostname == "fc.yahoo.com":
            return 200, ""
        path = parts.path
        if path.endswith("/v1/test/getcrumb"):
            return 200, "replay-crumb"
        symbol = path.rsplit("/", 1)[-1]
        if path.startswith("/v7/finance/quote"):
            symbols = query.get("symbols", "").split(",")
            if any(self.fault(s) == "429" for s in symbols):
                return 429, "Too Many Requests"
            result = [r for s in symbols if s in self.responses
                      for r in self.responses[s]["quote_v7"]["quoteResponse"]["result"]]
            return 200, {"quoteResponse": {"result": result, "error": None}}
        kind = self.fault(symbol)
        if kind == "429":
            return 429, "Too Many Requests"
        known = self.responses.get(symbol, {})
        if path.startswith("/v10/finance/quoteSummary/"):
            if kind == "401":
                return 401, {"finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}}
            name = "quoteSummary_earningsTrend" if "earningsTrend" in query.get("modules", "") else "quoteSummary_info"
            if name not in known:
                body = json.loads(json.dumps(NOT_FOUND_SUMMARY).replace("{s}", symbol))
                return 404, body
            return 200, known[name]
        if "/fundamentals-timeseries/" in path:
            types = query.get("type", "")
            name = ("ts_pegratio" if "PegRatio" in types else "ts_annual" if types.startswith("annual")
                    else "ts_quarterly" if types.startswith("quarterly") else "ts_trailing")
            return 200, known.get(name, {"timeseries": {"result": [], "error": None}})
        if path.startswith("/v8/finance/chart/"):
            return (200, known["chart"]) if "chart" in known else (404, NOT_FOUND_CHART)
        return 404, {"error": f"no replay for {path}"}

    def requests_for(self, symbol: str) -> list[str]:
        """The paths requested for ``symbol`` (v7 quotes count once per symbol they name)."""
        out = []
        for path, query in self.log:
            if path.endswith("/" + symbol) or symbol in query.get("symbols", "").split(","):
                out.append(path)
        return out

    def install(self, monkeypatch) -> Yahoo:
        """Patch curl_cffi's Session.request (what yfinance calls) and reset yfinance's
        process-wide caches; Yahoo is reachable."""
        from curl_cffi import requests as curl
        from curl_cffi.requests.exceptions import DNSError
        from yfinance.data import YfData

        from comps.sources import yahoo

        replay = self

        def request(session, method, url, params=None, **kwargs):
            if replay.fault(urlsplit(url).path.rsplit("/", 1)[-1]) == "dns":
                raise DNSError(f"Could not resolve host: {urlsplit(url).hostname}")
            if replay.delay_s:
                time.sleep(replay.delay_s)
            if urlsplit(url).hostname == "fc.yahoo.com":  # Yahoo's consent cookie, which yfinance then reuses
                session.cookies.jar.set_cookie(_a3_cookie())
            status, body = replay.answer(url, params)
            resp = curl.Response()
            resp.status_code, resp.reason, resp.ok = status, "OK" if status < 400 else "Error", status < 400
            resp.url = url
            resp.content = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            resp.headers["content-type"] = "application/json"
            return resp

        monkeypatch.setattr(curl.Session, "request", request)
        monkeypatch.setattr(yahoo, "unreachable", lambda *a, **k: None)
        YfData.cache_get.cache_clear()
        data = YfData()
        data._cookie, data._crumb, data._cookie_strategy = None, None, "basic"
        return self


def _a3_cookie():
    from http.cookiejar import Cookie

    expires = int(time.time()) + 365 * 86400
    return Cookie(0, "A3", "d=replay", None, False, ".yahoo.com", True, True, "/", True, True, expires, False,
                  None, None, {})


def recorded(symbols: list[str] | None = None) -> dict[str, dict[str, dict]]:
    """The recorded responses, read from ../shared at test time."""
    out = {}
    for d in sorted(p for p in RECORDINGS.iterdir() if p.is_dir()):
        if symbols is None or d.name in symbols:
            out[d.name] = {f.stem: json.loads(f.read_text()) for f in d.glob("*.json")}
    return out


def _epoch(d: dt.date) -> int:
    return int(dt.datetime.combine(d, dt.time(), dt.UTC).timestamp())


def _ts(symbol: str, prefix: str, rows: dict[str, dict[dt.date, float]], currency: str, period: str) -> dict:
    result = []
    for item, series in rows.items():
        t = f"{prefix}{item}"
        points = [{"asOfDate": d.isoformat(), "periodType": period, "currencyCode": currency,
                   "reportedValue": {"raw": v, "fmt": f"{v:.4g}"}} for d, v in sorted(series.items())]
        result.append({"meta": {"symbol": [symbol], "type": [t]}, "timestamp": [_epoch(d) for d in sorted(series)],
                       t: points})
    return {"timeseries": {"result": result, "error": None}}


def synthetic(symbol: str, *, price: float, market_cap: float, currency: str = "USD", fin_currency: str = "USD",
              annual: dict[dt.date, float], quarterly: dict[dt.date, float], ttm: dict[dt.date, float] | None = None,
              gross_ttm: dict[dt.date, float] | None = None, est_0y: float | None = None, est_1y: float | None = None,
              est_currency: str | None = None, next_fy_end: dt.date = dt.date(2025, 12, 31),
              mrq: dt.date = dt.date(2024, 12, 31), cash: float = 1e9, debt: float = 2e9, gross_margin: float = 0.5,
              closes: dict[dt.date, float] | None = None, today: dt.date = dt.date(2025, 2, 24)) -> dict[str, dict]:
    """One symbol's responses in Yahoo's recorded shapes, with the numbers given."""
    info = {
        "financialData": {"currentPrice": price, "totalCash": cash, "totalDebt": debt, "grossMargins": gross_margin,
                          "financialCurrency": fin_currency, "maxAge": 86400},
        "quoteType": {"quoteType": "EQUITY", "symbol": symbol, "shortName": symbol, "maxAge": 1},
        "defaultKeyStatistics": {"mostRecentQuarter": _epoch(mrq), "lastFiscalYearEnd": _epoch(max(annual)),
                                 "nextFiscalYearEnd": _epoch(next_fy_end), "maxAge": 1},
        "assetProfile": {"maxAge": 86400},
        "summaryDetail": {"marketCap": market_cap, "currency": currency, "maxAge": 1},
    }
    quote = {"quoteType": "EQUITY", "symbol": symbol, "shortName": symbol, "currency": currency,
             "financialCurrency": fin_currency, "marketCap": market_cap, "regularMarketPrice": price,
             "regularMarketTime": _epoch(today) - 3600}
    trend = []
    for period, end, avg in (("0y", next_fy_end, est_0y), ("+1y", next_fy_end.replace(year=next_fy_end.year + 1), est_1y)):
        if avg is not None:
            trend.append({"maxAge": 1, "period": period, "endDate": end.isoformat(),
                          "revenueEstimate": {"avg": {"raw": avg, "fmt": f"{avg:.4g}"},
                                              "numberOfAnalysts": {"raw": 20, "fmt": "20"},
                                              "revenueCurrency": est_currency or fin_currency}})
    gross = gross_ttm or {}
    days = sorted(closes or {today - dt.timedelta(days=1): price})
    out = {
        "quoteSummary_info": {"quoteSummary": {"result": [info], "error": None}},
        "quoteSummary_earningsTrend": {"quoteSummary": {"result": [{"earningsTrend": {"trend": trend, "maxAge": 1}}],
                                                        "error": None}},
        "quote_v7": {"quoteResponse": {"result": [quote], "error": None}},
        "ts_pegratio": {"timeseries": {"result": [{"meta": {"symbol": [symbol], "type": ["trailingPegRatio"]}}],
                                       "error": None}},
        "ts_annual": _ts(symbol, "annual", {"TotalRevenue": annual}, fin_currency, "12M"),
        "ts_quarterly": _ts(symbol, "quarterly", {"TotalRevenue": quarterly}, fin_currency, "3M"),
        "ts_trailing": _ts(symbol, "trailing", {"TotalRevenue": ttm or {}, "GrossProfit": gross}, fin_currency, "TTM"),
        "chart": {"chart": {"result": [{
            "meta": {"currency": currency, "symbol": symbol, "exchangeName": "NMS", "instrumentType": "EQUITY",
                     "firstTradeDate": _epoch(dt.date(2000, 1, 3)), "regularMarketTime": _epoch(today),
                     "gmtoffset": 0, "timezone": "UTC", "exchangeTimezoneName": "UTC", "regularMarketPrice": price,
                     "priceHint": 2, "dataGranularity": "1d", "range": "",
                     "currentTradingPeriod": {k: {"timezone": "UTC", "start": _epoch(today), "end": _epoch(today) + 3600,
                                                  "gmtoffset": 0} for k in ("pre", "regular", "post")},
                     "validRanges": ["1d", "5d", "1mo"]},
            "timestamp": [_epoch(d) + 14 * 3600 for d in days],
            "indicators": {"quote": [{"close": [closes[d] if closes else price for d in days],
                                      "open": [price] * len(days), "high": [price] * len(days),
                                      "low": [price] * len(days), "volume": [1000] * len(days)}],
                           "adjclose": [{"adjclose": [closes[d] if closes else price for d in days]}]}}],
            "error": None}},
    }
    return out


def fx_pair(pair: str, rate: float, today: dt.date = dt.date(2025, 2, 24)) -> dict[str, dict]:
    """An FX pair's quote (USD per unit of the first currency), as Yahoo answers for 'GBPUSD=X'."""
    q = {"quoteType": "CURRENCY", "symbol": pair, "currency": "USD", "regularMarketPrice": rate,
         "regularMarketTime": _epoch(today) - 3600, "shortName": pair}
    return {"quote_v7": {"quoteResponse": {"result": [q], "error": None}},
            "quoteSummary_info": {"quoteSummary": {"result": [{"quoteType": {"quoteType": "CURRENCY", "symbol": pair},
                                                               "summaryDetail": {"currency": "USD"}}], "error": None}}}
