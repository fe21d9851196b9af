"""Speed and memory benchmarks for comps. Prints medians over several runs and ratios measured
in the same run, each next to its target. Run from the repository root:

    .venv/bin/python benchmarks/run.py            # everything (a few minutes)
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats, universes up to 5,000

(a) ``comps --help`` vs ``python -c "import typer"``           target ≤ 0.3 s
(b) ``comps build --offline`` vs a bare import of its deps      target ratio ≤ 1.3
(c) refresh of 50 tickers, fake Yahoo with 300 ms per request,
    vs a sequential loop                                        target ≥ 8× faster
(d) synthetic universes of 500 / 5,000 / 50,000 peers: every
    spec, 2,000 bootstrap resamples, influence and charts        target 5,000 in < 10 s, < 1 GB
(e) with no network at all, ``comps build`` vs ``comps build --offline``
                                                                target ratio ≤ 1.5
(f) fits plus the five charts: the forked chart process vs a
    ProcessPoolExecutor with warm workers vs in-process          chart process ≤ executor
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
COMPS = [PY, "-m", "comps"]
DEPS = ("import pandas, numpy, scipy.stats, statsmodels.api, matplotlib.pyplot, seaborn, yfinance, typer, rich, "
        "great_tables, xlsxwriter")  # everything a build imports


def timed(cmd: list[str], repeats: int, cwd: Path = ROOT) -> float:
    """Median wall time (s) of a command over ``repeats`` runs (after one warm-up)."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, check=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def bench_cli(repeats: int) -> list[tuple[str, str, str]]:
    help_t = timed([*COMPS, "--help"], repeats)
    typer_t = timed([PY, "-c", "import typer"], repeats)
    out = Path(tempfile.mkdtemp())
    build_t = timed([*COMPS, "build", "--offline", "--out", str(out)], max(3, repeats // 2))
    deps_t = timed([PY, "-c", DEPS], max(3, repeats // 2))
    live_t = timed([*COMPS, "build", "--out", str(out)], max(3, repeats // 2)) if _offline_machine() else None
    shutil.rmtree(out)
    no_net = (f"{live_t:.2f} s vs --offline {build_t:.2f} s: ratio {live_t / build_t:.2f}" if live_t
              else "not run: this machine reaches Yahoo")
    return [
        ("(a) comps --help", f"{help_t:.3f} s (import typer {typer_t:.3f} s, ratio {help_t / typer_t:.2f})", "≤ 0.3 s"),
        ("(b) comps build --offline", f"{build_t:.2f} s vs bare imports {deps_t:.2f} s: ratio {build_t / deps_t:.2f}",
         "ratio ≤ 1.3"),
        ("(e) comps build, no network", no_net, "ratio ≤ 1.5"),
    ]


def _offline_machine() -> bool:
    """True when Yahoo's API host does not resolve here (the condition benchmark (e) measures)."""
    import socket

    try:
        socket.getaddrinfo("query2.finance.yahoo.com", 443)
        return False
    except OSError:
        return True


def bench_refresh() -> list[tuple[str, str, str]]:
    path = ROOT / "benchmarks" / "refresh_bench.py"
    if not path.exists():
        return [("(c) refresh 50 tickers", "not run: benchmarks/refresh_bench.py is missing", "≥ 8×")]
    done = subprocess.run([PY, str(path), "--json"], cwd=ROOT, capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    return [("(c) refresh 50 tickers @300 ms/request",
             f"pool {r['pool_s']:.2f} s vs sequential {r['sequential_s']:.2f} s: {r['speedup']:.1f}× faster", "≥ 8×")]


UNIVERSE_CHILD = r"""
import json, resource, sys, time, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from benchmarks.synthetic import write_universe
from comps.config import BuildConfig
from comps.pipeline import build
from comps.report.charts import CHARTS, render
n = int(sys.argv[1])
d = Path(tempfile.mkdtemp())
write_universe(d, n, seed=n)
t0 = time.perf_counter()
r = build(BuildConfig(peers_path=d / "peers.csv", snapshot_dir=d / "snapshots", target_path=Path(sys.argv[2]) / "data/targets/cerebras.toml",
                      concentration_path=d / "none.csv", offline=True), write=False)
t_fit = time.perf_counter() - t0
for draw in CHARTS.values():
    render(draw(r))
t_all = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"n": n, "fit_s": t_fit, "total_s": t_all, "rss_mb": rss, "specs": len(r.fits)}))
"""


CHARTS_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
mode = sys.argv[1]
if mode == "chart-process":
    from comps.report import workers
    proc = workers.start()
elif mode == "executor":
    import concurrent.futures, multiprocessing as mp
    def warm():
        from comps.report.charts import warm_up
        warm_up()
    pool = concurrent.futures.ProcessPoolExecutor(2, mp_context=mp.get_context("fork"), initializer=warm)
    pool.submit(int).result  # starts the workers now, so their imports overlap the fits
from comps.config import BuildConfig
from comps.pipeline import compute, load_inputs
cfg = BuildConfig(offline=True)
result = compute(cfg, *load_inputs(cfg), lambda m: None)
if mode == "chart-process":
    proc.submit(result); charts = proc.collect(); proc.close()
elif mode == "executor":
    from comps.report.charts import CHARTS, render_all
    futs = [pool.submit(render_all, result, [s]) for s in CHARTS]
    charts = {k: v for f in futs for k, v in f.result().items()}
    pool.shutdown()
else:
    from comps.report.charts import render_all
    charts = render_all(result)
print(json.dumps({"mode": mode, "s": time.perf_counter() - t0, "charts": len(charts)}))
"""


def bench_charts(repeats: int) -> list[tuple[str, str, str]]:
    """Fits plus the five charts, by how the charts render: the forked chart process (comps),
    a ProcessPoolExecutor with warm workers (the standard-library alternative), in-process."""
    times = {}
    for mode in ("chart-process", "executor", "in-process"):
        runs = []
        for _ in range(repeats):
            done = subprocess.run([PY, "-c", CHARTS_CHILD, mode], cwd=ROOT, capture_output=True, text=True, check=True,
                                  env={**os.environ, "MPLBACKEND": "Agg"})
            runs.append(json.loads(done.stdout.strip().splitlines()[-1])["s"])
        times[mode] = statistics.median(runs)
    return [("(f) fits + 5 charts", f"chart process {times['chart-process']:.2f} s, ProcessPoolExecutor "
             f"{times['executor']:.2f} s, in-process {times['in-process']:.2f} s",
             "chart process ≤ executor")]


def bench_universes(sizes: list[int]) -> list[tuple[str, str, str]]:
    rows, prev = [], None
    for n in sizes:
        done = subprocess.run([PY, "-c", UNIVERSE_CHILD, str(n), str(ROOT)], cwd=ROOT, capture_output=True,
                              text=True, check=True, env={**os.environ, "MPLBACKEND": "Agg"})
        r = json.loads(done.stdout.strip().splitlines()[-1])
        growth = f", ×{r['total_s'] / prev['total_s']:.1f} time for ×{n / prev['n']:.0f} peers" if prev else ""
        target = "< 10 s, < 1 GB" if n == 5000 else "near-linear growth"
        rows.append((f"(d) {n:,} peers", f"{r['total_s']:.2f} s (fits+valuation {r['fit_s']:.2f} s), "
                     f"peak RSS {r['rss_mb']:.0f} MB, {r['specs']} specs{growth}", target))
        prev = r
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats; universes up to 5,000")
    ap.add_argument("--only", choices=["cli", "refresh", "charts", "universe"], help="run one group")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    sizes = [500, 5000] if args.quick else [500, 5000, 50000]
    groups = {"cli": lambda: bench_cli(repeats), "refresh": bench_refresh, "charts": lambda: bench_charts(repeats),
              "universe": lambda: bench_universes(sizes)}
    rows = [r for name, run in groups.items() if args.only in (None, name) for r in run()]
    width = max(len(r[0]) for r in rows)
    print(f"comps benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name, figure, target in rows:
        print(f"{name:<{width}}  {figure}   [target {target}]")


if __name__ == "__main__":
    main()
