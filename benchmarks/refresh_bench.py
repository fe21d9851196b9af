"""Benchmark (c): refresh N tickers through yfinance's real code against Yahoo replayed at the
HTTP layer (tests/yahoo_replay.py) with 300 ms added per request, on the bounded worker pool vs
a sequential loop. Prints both wall times and the ratio.

    .venv/bin/python benchmarks/refresh_bench.py [--json] [--tickers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from yahoo_replay import Yahoo, synthetic

from comps.sources import refresh, yahoo

DELAY_S = 0.3


class _Patch:
    def setattr(self, obj, name, value):
        setattr(obj, name, value)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tickers", type=int, default=50)
    n = ap.parse_args().tickers
    symbols = [f"T{i:03d}" for i in range(n)]
    q = {dt.date(2024, 3 * k, 28): 1e9 * (1 + k / 10) for k in range(1, 5)}
    responses = {s: synthetic(s, price=10.0, market_cap=1e10, annual={dt.date(2024, 12, 31): 4e9}, quarterly=q,
                              est_0y=5e9, est_1y=6e9) for s in symbols}
    Yahoo(responses, delay_s=DELAY_S).install(_Patch())
    yahoo.configure(Path("/tmp/comps-bench-yfinance"))
    factory = yahoo.ticker_factory(yahoo.session())
    fetch = lambda s: yahoo.fetch(s, ticker_factory=factory)
    cache = refresh.Cache(Path("/tmp/comps-bench-cache"), 0, read=False)
    t0 = time.perf_counter()
    pooled = refresh.fetch_all(symbols, fetch, cache, progress=False)
    pool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sequential = {s: fetch(s) for s in symbols}
    seq_s = time.perf_counter() - t0
    bad = {s: r.errors for s, r in pooled.items() if not r.cacheable}
    assert len(pooled) == len(sequential) == n and not bad, bad
    result = {"tickers": n, "delay_per_request_s": DELAY_S, "workers": refresh.WORKERS,
              "pool_s": pool_s, "sequential_s": seq_s, "speedup": seq_s / pool_s}
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        print(f"{n} tickers, {DELAY_S * 1000:.0f} ms per request, {refresh.WORKERS} workers: pool {pool_s:.2f} s, "
              f"sequential {seq_s:.2f} s, {seq_s / pool_s:.1f}× faster (target ≥ 8×)")


if __name__ == "__main__":
    main()
