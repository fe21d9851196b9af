"""Benchmark (c): refresh 50 tickers against the fake Yahoo with 300 ms added per request,
on the bounded worker pool vs a sequential loop. Prints both wall times and the ratio.

    .venv/bin/python benchmarks/refresh_bench.py [--json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from yahoo_fakes import FakeTicker  # noqa: E402

from comps.sources import refresh, yahoo  # noqa: E402

DELAY_S, N = 0.3, 50


def main() -> None:
    symbols = [f"T{i:03d}" for i in range(N)]
    fetch = lambda s: yahoo.fetch(s, ticker_factory=lambda t: FakeTicker(t, delay=DELAY_S))  # noqa: E731
    t0 = time.perf_counter()
    pooled = refresh.fetch_all(symbols, fetch, cache=None, progress=False)
    pool_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sequential = {s: fetch(s) for s in symbols}
    seq_s = time.perf_counter() - t0
    assert len(pooled) == len(sequential) == N and not any(r.errors for r in pooled.values())
    result = {"tickers": N, "delay_per_request_s": DELAY_S, "workers": refresh.WORKERS,
              "pool_s": pool_s, "sequential_s": seq_s, "speedup": seq_s / pool_s}
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        print(f"{N} tickers, {DELAY_S * 1000:.0f} ms per request, {refresh.WORKERS} workers: pool {pool_s:.2f} s, "
              f"sequential {seq_s:.2f} s, {seq_s / pool_s:.1f}× faster (target ≥ 8×)")


if __name__ == "__main__":
    main()
