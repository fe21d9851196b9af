"""The live refresh, replayed at yfinance's HTTP layer (tests/yahoo_replay.py): yfinance's own
cookie/crumb handshake and parsing run on recorded or synthetic Yahoo responses, and comps'
figures are checked against values read straight from the JSON."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from yahoo_replay import RECORDINGS, Yahoo, fx_pair, recorded, synthetic

from comps.cli import main
from comps.config import load_config
from comps.errors import SourceError
from comps.pipeline import build
from comps.report.tables import comps_table
from comps.sources import refresh, yahoo
from comps.sources.snapshot import list_snapshots, load_snapshots, read_snapshot
from comps.target import load_target
from comps.universe import load_peers

TODAY = dt.date(2025, 2, 24)
EQUITIES = ["AAPL", "ABBV", "AMZN", "BABA", "BEKE", "CRM", "GOOG", "OCDO.L", "SPOT"]
needs_recordings = pytest.mark.skipif(not RECORDINGS.is_dir(), reason="../shared/reference/yahoo_responses is absent")


def _peers(project: Path, tickers: list[str], name: str = "replay_peers.csv") -> Path:
    path = project / "data" / name
    path.write_text("ticker,name,segment,include,notes\n" + "".join(f"{t},{t},replay,true,\n" for t in tickers))
    return path


@pytest.fixture(autouse=True)
def _valued_today(request):
    """These tests value a deal live on the replayed day: the bundled target without its
    [analysis] date (which would value it point in time at its 2026 pricing date instead)."""
    if "project" in request.fixturenames:
        target = request.getfixturevalue("project") / "data" / "targets" / "cerebras.toml"
        target.write_text(re.sub(r"\[analysis\]\nas_of = [0-9-]+\n", "", target.read_text()))


def _settings(project: Path, **extra) -> None:
    lines = [f'today = "{TODAY}"'] + [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    (project / "comps.toml").write_text("[build]\n" + "\n".join(lines) + "\n")


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# --- values read straight from the recorded JSON (no yfinance, no comps) ---------------------

def _raw(v):
    return v["raw"] if isinstance(v, dict) else v


def _series(body: dict, key: str) -> dict[str, float]:
    for r in body["timeseries"]["result"]:
        if key in r:
            return {p["asOfDate"]: p["reportedValue"]["raw"] for p in r[key] if p}
    return {}


def expected(symbol: str, fx: dict[str, float]) -> dict[str, float]:
    """USD figures for ``symbol`` as the JSON states them. Precedence as in yfinance: the v7
    quote's keys override quoteSummary's. GBp quotes the price in pence and the market cap in
    pounds."""
    d = RECORDINGS / symbol
    summary = json.loads((d / "quoteSummary_info.json").read_text())["quoteSummary"]["result"][0]
    v7 = json.loads((d / "quote_v7.json").read_text())["quoteResponse"]["result"][0]
    merged = {k: _raw(v) for m in summary.values() for k, v in m.items()} | v7
    cur = {"GBp": "GBP"}.get(merged["currency"], merged["currency"])
    fin = merged["financialCurrency"]
    usd = lambda c: 1.0 if c == "USD" else fx[c]
    pence = 100 if merged["currency"] == "GBp" else 1
    out = {"market_cap": merged["marketCap"] * usd(cur), "cash": merged["totalCash"] * usd(fin),
           "total_debt": merged["totalDebt"] * usd(fin),
           "share_price_close": merged["regularMarketPrice"] / pence * usd(cur),
           "price_52w_high": merged["fiftyTwoWeekHigh"] / pence * usd(cur)}
    trailing = json.loads((d / "ts_trailing.json").read_text())
    ttm, gp = _series(trailing, "trailingTotalRevenue"), _series(trailing, "trailingGrossProfit")
    if ttm:
        end = max(ttm)
        out["revenue_ltm"] = ttm[end] * usd(fin)
        if end in gp:
            out["gross_margin"] = gp[end] / ttm[end]
    annual = json.loads((d / "ts_annual.json").read_text())
    for end, v in _series(annual, "annualTotalRevenue").items():
        out[f"revenue_fy {end}"] = v * usd(fin)
    if "gross_margin" not in out:
        ann_gp = _series(annual, "annualGrossProfit")
        ann_rev = _series(annual, "annualTotalRevenue")
        both = [e for e in ann_gp if e in ann_rev]
        out["gross_margin"] = ann_gp[max(both)] / ann_rev[max(both)] if both else merged["grossMargins"]
    trend = json.loads((d / "quoteSummary_earningsTrend.json").read_text())["quoteSummary"]["result"][0]
    est = {t["period"]: t["revenueEstimate"] for t in trend["earningsTrend"]["trend"]}
    nfy = dt.datetime.fromtimestamp(merged["nextFiscalYearEnd"], dt.UTC).date()
    w = min(max((nfy - TODAY).days / 365, 0.0), 1.0)
    a0, a1 = _raw(est["0y"]["avg"]), _raw(est["+1y"]["avg"])
    if a0 and a1:
        out["revenue_ntm"] = (w * a0 + (1 - w) * a1) * usd(est["0y"]["revenueCurrency"])
    return out


@needs_recordings
def test_recorded_live_build_exits_0_and_every_figure_equals_the_json(project, monkeypatch, capsys):
    replay = Yahoo(recorded()).install(monkeypatch)
    peers = _peers(project, EQUITIES)
    _settings(project)
    assert main(["build", "--peers", str(peers), "--out", "out"]) == 0  # live, every spec, charts on
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    written = project / "data" / "snapshots" / "2025-02-24.csv"
    assert written.exists()
    assert f"wrote {written.relative_to(project)}, refreshed on 2025-02-24" in out.err
    fx = {c: json.loads((RECORDINGS / f"{c}USD=X" / "quote_v7.json").read_text())["quoteResponse"]["result"][0]
          ["regularMarketPrice"] for c in ("CNY", "EUR", "GBP")}
    rows = read_snapshot(written)
    got = {}
    for r in rows:
        key = f"{r['field']} {r['date']}" if r["field"] == "revenue_fy" else r["field"]
        got[(r["ticker"], key)] = r["value"]
    checked = 0
    for symbol in EQUITIES:
        for key, value in expected(symbol, fx).items():
            assert got[(symbol, key)] == pytest.approx(value, rel=1e-9), (symbol, key)
            checked += 1
    assert checked >= 60
    # EV in the peer table: market cap + debt − cash, all from the refresh
    table = pd.read_csv(project / "out" / "tables" / "peers.csv").set_index("ticker")
    for symbol in EQUITIES:
        e = expected(symbol, fx)
        assert table.loc[symbol, "enterprise_value_usd"] == pytest.approx(e["market_cap"] + e["total_debt"] - e["cash"],
                                                                          rel=1e-9)
    # the FX pairs and the (unknown) target cost one quote request each, nothing else
    for symbol in ("GBPUSD=X", "EURUSD=X", "CNYUSD=X", "CBRS"):
        assert replay.requests_for(symbol) == ["/v7/finance/quote"], symbol
    # the snapshot this refresh wrote builds offline afterwards
    assert main(["build", "--offline", "--peers", str(peers), "--out", "out2", "--no-charts"]) == 0
    assert "2025-02-24.csv (refreshed on 2025-02-24)" in capsys.readouterr().err


@needs_recordings
def test_a_london_listing_in_pence_at_an_as_of_close(project, monkeypatch):
    """OCDO.L quotes 308.8 GBp while its market cap is £2.55B: the --as-of market cap is the
    close in pounds × (market cap / price in pounds) × GBPUSD, not 100 × too much."""
    Yahoo(recorded(["OCDO.L", "GBPUSD=X"])).install(monkeypatch)
    peers = _peers(project, ["OCDO.L"])
    cfg = load_config(peers_path=peers, charts=False, today=TODAY, as_of="2025-02-21")
    target = load_target(cfg.target_path)
    outcome = refresh.refresh(cfg.resolved(target.analysis), load_peers(peers), target, today=TODAY)
    assert outcome.path is not None, outcome
    rows = {r["field"]: r for r in read_snapshot(outcome.path) if r["ticker"] == "OCDO.L"}
    chart = json.loads((RECORDINGS / "OCDO.L" / "chart.json").read_text())["chart"]["result"][0]
    closes = {dt.datetime.fromtimestamp(t, dt.UTC).date(): c
              for t, c in zip(chart["timestamp"], chart["indicators"]["quote"][0]["close"], strict=True) if c}
    day = max(d for d in closes if d <= dt.date(2025, 2, 21))
    v7 = json.loads((RECORDINGS / "OCDO.L" / "quote_v7.json").read_text())["quoteResponse"]["result"][0]
    gbp = json.loads((RECORDINGS / "GBPUSD=X" / "quote_v7.json").read_text())["quoteResponse"]["result"][0]
    shares = v7["marketCap"] / (v7["regularMarketPrice"] / 100)
    assert rows["market_cap"]["date"] == day
    assert rows["market_cap"]["value"] == pytest.approx(closes[day] / 100 * shares * gbp["regularMarketPrice"], rel=1e-9)
    assert rows["share_price_close"]["value"] == pytest.approx(closes[day] / 100 * gbp["regularMarketPrice"], rel=1e-9)
    year = [c for d, c in closes.items() if (day - d).days <= 364 and d <= day]
    if min(closes) <= day - dt.timedelta(days=360):  # the 52-week closing high, where the history spans a year
        assert rows["price_52w_high"]["value"] == pytest.approx(max(year) / 100 * gbp["regularMarketPrice"], rel=1e-9)
    else:
        assert "price_52w_high" not in rows


# --- synthetic responses: our own numbers in Yahoo's shapes, run everywhere --------------------

Q_ENDS = [dt.date(2023, 3, 31), dt.date(2023, 6, 30), dt.date(2023, 9, 30), dt.date(2023, 12, 31),
          dt.date(2024, 3, 31), dt.date(2024, 6, 30), dt.date(2024, 9, 30), dt.date(2024, 12, 31)]


def universe(n: int = 6, today: dt.date = TODAY, **overrides) -> dict[str, dict]:
    """``n`` peers P0…, growing at different rates, with NTM estimates that differ too."""
    out = {}
    for i in range(n):
        g = 0.2 + 0.15 * i
        base = 1e9 * (1 + i)
        quarterly = {d: base * (1 + g) ** (k / 4) / 4 for k, d in enumerate(Q_ENDS)}
        annual = {dt.date(2023, 12, 31): sum(list(quarterly.values())[:4]),
                  dt.date(2024, 12, 31): sum(list(quarterly.values())[4:])}
        kw = {"price": 50.0 + i, "market_cap": base * (4 + 6 * g), "annual": annual, "quarterly": quarterly,
                  "est_0y": annual[dt.date(2024, 12, 31)] * (1 + g * (1.1 + 0.05 * i)),
                  "est_1y": annual[dt.date(2024, 12, 31)] * (1 + g) ** 2, "gross_margin": 0.4 + 0.05 * (i * 3 % 5),
                  "today": today}
        kw.update(overrides.get(f"P{i}", {}))
        out[f"P{i}"] = synthetic(f"P{i}", **kw)
    return out


def test_ntm_estimates_that_differ_are_fitted_and_never_crash_the_valuation(project, monkeypatch):
    """The NTM spec is fitted on real-looking estimates (they differ across peers), shown in the
    regression table, and skipped for valuation with its reason: the target has no NTM revenue."""
    Yahoo(universe(6)).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)])
    result = build(load_config(peers_path=peers, charts=False, today=TODAY), write=False)
    assert "ev_revenue_ntm" in result.fits and result.fits["ev_revenue_ntm"].n == 6
    assert "ev_revenue_ntm" not in result.specs
    assert "the target has no revenue_growth_ntm, revenue_ntm_usd" in result.skipped["ev_revenue_ntm"]
    table = result.regression_table().set_index("spec")
    assert not table.loc["ev_revenue_ntm", "valued"] and table.loc["ev_revenue", "valued"]
    # NTM growth compares NTM with the latest TTM, both in USD
    p = result.peers.loc["P2"]
    assert p["revenue_growth_ntm"] == pytest.approx(p["revenue_ntm_usd"] / p["revenue_ltm_usd"] - 1)


def test_an_as_of_refresh_takes_the_close_and_the_52_week_closing_high_from_a_year_of_history(project, monkeypatch):
    day = dt.date(2025, 2, 20)
    closes = {day - dt.timedelta(days=k): 100.0 for k in range(420)}
    closes |= {dt.date(2024, 1, 15): 180.0,  # 402 days before: outside the 52 weeks
               dt.date(2024, 6, 3): 150.0,  # inside: the 52-week high
               day: 120.0, day + dt.timedelta(days=1): 400.0}  # the as-of close; a later one is never used
    Yahoo(universe(6, P0={"closes": closes})).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)])
    result = build(load_config(peers_path=peers, charts=False, today=TODAY, as_of=day.isoformat()), write=False)
    p0 = result.peers.loc["P0"]
    assert p0["share_price_usd"] == 120.0 and p0["market_cap_date"] == day
    assert p0["share_of_52w_high"] == pytest.approx(120 / 150)
    assert math.isnan(result.peers.loc["P1", "share_of_52w_high"])  # a week of history: no 52-week high
    comps = comps_table(result)
    assert comps.loc[comps["ticker"] == "P0", "share_of_52w_high"].iloc[0] == pytest.approx(0.8)


def test_growth_is_ttm_over_ttm_when_eight_quarters_allow_else_the_fiscal_year(project, monkeypatch):
    resp = universe(6)
    # P5: three quarters only, so no TTM but the fiscal years' (which must then carry both)
    resp["P5"] = synthetic("P5", price=60, market_cap=30e9, annual={dt.date(2023, 12, 31): 4e9, dt.date(2024, 12, 31): 6e9},
                           quarterly={d: 1.5e9 for d in Q_ENDS[4:7]}, est_0y=7e9, est_1y=8e9)
    Yahoo(resp).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)])
    result = build(load_config(peers_path=peers, charts=False, today=TODAY), write=False)
    p0, p5 = result.peers.loc["P0"], result.peers.loc["P5"]
    q = sorted(resp["P0"]["ts_quarterly"]["timeseries"]["result"][0]["quarterlyTotalRevenue"], key=lambda x: x["asOfDate"])
    values = [x["reportedValue"]["raw"] for x in q]
    assert p0["revenue_growth"] == pytest.approx(sum(values[4:]) / sum(values[:4]) - 1)
    assert p0["revenue_basis"].startswith("TTM to 2024-12-31")
    assert p5["revenue_growth"] == pytest.approx(6 / 4 - 1) and p5["revenue_basis"].startswith("fiscal year to 2024-12-31")


def test_failures_are_tabled_after_every_live_build_and_partial_peers_are_flagged(project, monkeypatch, capsys):
    """P1 reports in JPY and Yahoo has no JPYUSD=X rate: its statements cannot be converted, so its
    live market cap is used with last month's snapshot revenue, and the peer table says so."""
    resp = universe(6, P1={"fin_currency": "JPY"})
    Yahoo(resp).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)] + ["NOPE"])
    old = project / "data" / "snapshots" / "2025-01-31.csv"
    old.write_text("ticker,field,value,unit,date,published,source_url,note\n"
                   "P1,revenue_fy,2000,USD millions,2023-12-31,2024-02-15,https://example.com/p1,test\n"
                   "P1,revenue_fy,2600,USD millions,2024-12-31,2025-01-30,https://example.com/p1,test\n"
                   "P1,net_debt,100,USD millions,2024-12-31,2025-01-30,https://example.com/p1,test\n")
    _settings(project)
    assert main(["build", "--peers", str(peers), "--out", "out", "--no-charts"]) == 0
    out = capsys.readouterr().out
    assert "Live refresh problems" in out and "NOPE" in out  # the table, after every live build
    problems = pd.read_csv(project / "out" / "tables" / "refresh.csv").set_index("ticker")
    assert "no JPY→USD rate" in problems.loc["P1", "failed"]
    assert problems.loc["P1", "kept_from_snapshots"] == "net_debt (2025-01-31.csv), revenue_fy (2025-01-31.csv)"
    assert "no quoteType/marketCap" in problems.loc["NOPE", "failed"]
    table = pd.read_csv(project / "out" / "tables" / "peers.csv").set_index("ticker")
    assert "market cap: 2025-02-24.csv" in table.loc["P1", "mixed_sources"]
    assert "revenue: 2025-01-31.csv" in table.loc["P1", "mixed_sources"]
    assert table.loc["P1", "revenue_ltm_usd"] == pytest.approx(2600e6)


def test_rows_a_build_cannot_read_are_never_written(project, monkeypatch):
    resp = universe(6, P3={"quarterly": {d: (-5e8 if k == 7 else 5e8) for k, d in enumerate(Q_ENDS)}})
    Yahoo(resp).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)])
    build(load_config(peers_path=peers, charts=False, today=TODAY), write=False)
    written = project / "data" / "snapshots" / "2025-02-24.csv"
    rows = read_snapshot(written)  # parses: nothing invalid was written
    assert not [r for r in rows if r["ticker"] == "P3" and r["field"] == "revenue_q" and r["date"] == Q_ENDS[7]]
    result = build(load_config(peers_path=peers, charts=False, offline=True, as_of=str(TODAY)), write=False)
    assert result.as_of == TODAY and "2025-02-24.csv (refreshed on 2025-02-24)" in result.data_notice


def test_fx_and_the_target_cost_one_quote_request_and_are_cached(project, monkeypatch):
    resp = universe(6, P0={"fin_currency": "EUR", "est_currency": "EUR"}) | {"EURUSD=X": fx_pair("EURUSD=X", 1.05)}
    replay = Yahoo(resp).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)])
    cfg = load_config(peers_path=peers, charts=False, today=TODAY)
    result = build(cfg, write=False)
    assert replay.requests_for("EURUSD=X") == ["/v7/finance/quote"] and replay.requests_for("CBRS") == ["/v7/finance/quote"]
    q = resp["P0"]["ts_annual"]["timeseries"]["result"][0]["annualTotalRevenue"]
    latest = max(q, key=lambda x: x["asOfDate"])["reportedValue"]["raw"]
    fy = [r for r in result.snapshots.rows if r["ticker"] == "P0" and r["field"] == "revenue_fy"]
    assert max(fy, key=lambda r: r["date"])["value"] == pytest.approx(latest * 1.05)
    n = len(replay.log)
    build(cfg, write=False)  # every answer comes from the cache now
    assert len(replay.log) == n


def test_refresh_bypasses_the_cache_but_still_writes_to_it(project, monkeypatch):
    replay = Yahoo(universe(6)).install(monkeypatch)
    peers = _peers(project, [f"P{i}" for i in range(6)])
    cfg = load_config(peers_path=peers, charts=False, today=TODAY)
    build(cfg, write=False)
    cache = sorted((project / ".cache" / "comps").glob("P0.*.json"))
    assert cache
    stamp = cache[0].stat().st_mtime_ns
    n = len(replay.log)
    result = build(cfg.replace(refresh=True), write=False)
    assert len(replay.log) > n  # fetched again
    assert cache[0].stat().st_mtime_ns > stamp  # and written again
    assert "fetched 2025-02-24 12:00 UTC" in result.data_notice


@pytest.mark.parametrize("fault", ["dns", "429", "401", "404"])
def test_http_faults_never_break_the_build_or_touch_old_snapshots(project, monkeypatch, fault):
    """The bundled peers, each answered (or not) by a faulty Yahoo, a week after the IPO."""
    today = dt.date(2026, 5, 20)
    tickers = [p.ticker for p in load_peers(project / "data" / "peers.csv")]
    # each peer's own market cap from the bundled snapshot, so that a live market cap beside the
    # snapshot's debt, cash and revenue (the 401 case) gives a plausible multiple
    caps = {r["ticker"]: r["value"] for r in load_snapshots(project / "data" / "snapshots").rows
            if r["field"] == "market_cap"}
    sized = {f"P{i}": {"market_cap": caps.get(t, 60e9)} for i, t in enumerate(tickers)}
    responses = {t: r for t, r in zip(tickers, universe(len(tickers), today, **sized).values(), strict=True)}
    for t, r in responses.items():  # the synthetic bodies carry their own symbol names
        responses[t] = json.loads(json.dumps(r).replace(f'"{r["quote_v7"]["quoteResponse"]["result"][0]["symbol"]}"', f'"{t}"'))
    Yahoo({} if fault == "404" else responses, faults={} if fault == "404" else {"*": fault}).install(monkeypatch)
    monkeypatch.setattr(yahoo.time, "sleep", lambda s: None)
    old = project / "data" / "snapshots" / "2026-05-13.csv"
    before = _sha(old)
    result = build(load_config(charts=False, today=today), write=False)
    assert _sha(old) == before
    assert result.headline.shape[0] == len(result.target.price_points)
    assert not result.refresh.empty and set(result.refresh["ticker"]) <= set(tickers)
    if fault == "401":  # quoteSummary refused; the v7 quote and the statements still answer
        assert result.data_notice.startswith("Data: live Yahoo Finance refresh of 15/15 peers")
        assert result.as_of == today
        # live market caps without Yahoo's debt and cash: the snapshot's are used, and the peer table says so
        assert result.peers.loc["NVDA", "mixed_sources"].startswith("market cap: 2026-05-20.csv")
    else:  # nothing came back: the analysis of record, unchanged
        assert "data from 2026-05-13.csv (curated)" in result.data_notice and result.as_of == dt.date(2026, 5, 13)


def test_require_live_exits_3_when_yahoo_fails(project, monkeypatch):
    Yahoo({}, faults={"*": "dns"}).install(monkeypatch)
    with pytest.raises(SourceError, match="--require-live"):
        build(load_config(charts=False, require_live=True), write=False)
    assert main(["build", "--require-live", "--no-charts", "--out", "out"]) == 3


def test_no_network_is_learned_once_without_importing_yfinance(project):
    import subprocess
    import sys

    code = ("import sys, socket\n"
            "def fail(*a, **k): raise socket.gaierror(-2, 'Name or service not known')\n"
            "socket.getaddrinfo = fail\n"
            "from comps.config import load_config\nfrom comps.pipeline import build\n"
            "r = build(load_config(charts=False), write=False)\n"
            "print(r.data_notice)\nprint('yfinance' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True)
    notice, imported = done.stdout.strip().splitlines()[-2:]
    assert notice.startswith("Yahoo Finance is unreachable (DNS lookup of query2.finance.yahoo.com failed")
    assert imported == "False"


# --- the adapter's own logic: retries, backoff and the per-ticker deadline --------------------

class _Ticker:
    """A minimal stand-in for yf.Ticker: what the adapter needs to test its own retry logic."""

    def __init__(self, fail_info: int = 0, exc: type[Exception] | None = None):
        self.calls, self.fail_info, self.exc = 0, fail_info, exc
        self.income_stmt = self.quarterly_income_stmt = self.ttm_income_stmt = self.revenue_estimate = pd.DataFrame()

    @property
    def info(self):
        self.calls += 1
        if self.calls <= self.fail_info:
            raise self.exc()
        return {"quoteType": "EQUITY", "marketCap": 1}


def test_rate_limits_are_retried_with_exponential_backoff():
    from yfinance.exceptions import YFRateLimitError

    waits = []
    tk = _Ticker(fail_info=2, exc=YFRateLimitError)
    raw = yahoo.fetch("RL", ticker_factory=lambda s: tk, retries=3, backoff_s=0.5, sleep=waits.append)
    assert waits == [0.5, 1.0] and tk.calls == 3 and raw.info == {"quoteType": "EQUITY", "marketCap": 1}


def test_the_per_ticker_deadline_stops_further_calls():
    clock = iter(range(0, 1000, 20))
    raw = yahoo.fetch("SLOW", ticker_factory=lambda s: _Ticker(), deadline_s=30, now=lambda: next(clock))
    assert any("deadline" in e for e in raw.errors) and not raw.cacheable


def test_cache_paths_cannot_leave_their_folder(tmp_path):
    cache = refresh.Cache(tmp_path, 1)
    assert cache.path("NVDA").parent == tmp_path.resolve()
    for bad in ("../x", "a/b", "..", "/etc/passwd"):
        with pytest.raises(ValueError):
            cache.path(bad)


@pytest.mark.network
def test_live_yahoo_refresh_of_one_peer():
    raw = yahoo.fetch("NVDA", ticker_factory=yahoo.ticker_factory(yahoo.session()))
    assert raw.info["marketCap"] > 0 and not math.isnan(raw.info["marketCap"])


def test_snapshot_listing_orders_same_day_refreshes(tmp_path):
    for name in ("2025-02-24.2.csv", "2025-02-24.csv", "2025-01-31.csv", "2025-02-24.10.csv"):
        (tmp_path / name).write_text("")
    assert [p.name for p in list_snapshots(tmp_path)] == ["2025-01-31.csv", "2025-02-24.csv", "2025-02-24.2.csv",
                                                         "2025-02-24.10.csv"]


def test_no_network_is_said_once_not_once_per_peer(project, monkeypatch, capsys):
    Yahoo({}, faults={"*": "dns"}).install(monkeypatch)
    assert main(["build", "--no-charts", "--out", "out"]) == 0
    out = capsys.readouterr()
    said = out.out + out.err
    assert said.count("query2.finance.yahoo.com") == 1  # the cause, said once
    assert "Live refresh problems" not in said  # no per-peer table of the same error
    assert (project / "out" / "tables" / "refresh.csv").exists()  # the detail stays in the file
