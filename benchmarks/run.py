"""Speed and memory benchmarks for comps. Prints medians over several runs and ratios measured
in the same run, each next to its target. Run from the repository root:

    .venv/bin/python benchmarks/run.py            # everything (a quarter of an hour or more)
    .venv/bin/python benchmarks/run.py --quick    # fewer repeats, universes up to 5,000
    .venv/bin/python benchmarks/run.py --only cli-universe --sizes 50000 --timeout 300

Groups for ``--only``: cli = (a) (b) (e); refresh = (c); universe = (d); charts = (f);
cli-universe = (g); backtest = (h).

(a) ``comps --help`` vs ``python -c "import typer"``           target ≤ 0.3 s
(b) ``comps build --offline`` vs the floor below, paired run by
    run (build, floor, build, floor …): the median of the
    per-pair ratios, with their min and max                     target ratio ≤ 1.3
(c) refresh of 50 tickers, fake Yahoo with 300 ms per request,
    vs a sequential loop                                        target ≥ 8× faster
(d) synthetic universes of 500 / 5,000 / 50,000 peers, in one
    process (``pipeline.build`` and every chart): every spec,
    2,000 bootstrap resamples, influence and charts              target 5,000 in < 10 s, < 1 GB
(e) with no network at all, ``comps build`` vs ``comps build --offline``
                                                                target ratio ≤ 1.5
(f) fits plus the five charts: the forked chart process vs a
    ProcessPoolExecutor with warm workers vs in-process          chart process ≤ executor
(g) ``python -m comps build --offline --peers P --snapshots S --out O``
    through the CLI, every output written (charts on), on synthetic
    universes (benchmarks/synthetic.py) of 500 / 5,000 / 50,000 peers
    (``--quick``: 500 / 5,000): median wall time of 3 runs (1 at
    50,000), peak RSS of the build's process tree (``os.wait4``),
    and the time ratio per ×10 peers                            target 5,000 in < 10 s, < 1 GB;
                                                                near-linear growth
(h) ``comps backtest --offline`` vs ``comps build --offline``, paired
    (backtest, build, … 3 pairs): median of the per-pair ratios   target ≤ 3×

The floor of (b) is measured, not assumed. Before timing, one ``comps build --offline`` runs
under a recorder (SCAN_CHILD) that writes the ``sys.modules`` of every process of the build:
the main process at exit (atexit) and at the moment it forks the chart process, and the forked
chart process and its renderers as they leave (``os._exit`` wrapped). A module counts when its
top-level package is neither in ``sys.stdlib_module_names`` nor ``comps`` and it was not already
loaded at interpreter start-up; aliases (a key other than the module's ``__spec__.name``) are
skipped. Three lists come out, each in load order: loaded before the fork (typer, pydantic,
and pandas/numpy, which ``comps.report/__init__`` pulls in through ``tables``), loaded after it
by the main process (scipy, statsmodels, patsy, formulaic, great_tables, IPython, xlsxwriter,
rich, …), and loaded by the chart process and its renderers (matplotlib, seaborn, adjustText,
PIL, fontTools, kiwisolver, scipy, statsmodels, …). Each module is imported by its full dotted
name (``import scipy`` alone would leave out ``scipy.stats``). A fresh interpreter importing
them loads no third-party module the build did not.

The floor is one ``python -c`` (FLOOR_CHILD) with the build's two-process layout and nothing
else, because the build overlaps the chart process's imports with its own on the second core:
it forks at once; the child imports the chart process's list (plus the pre-fork modules those
need: pandas, numpy, dateutil, pytz) and exits; the parent imports the pre-fork and main lists
and waits for the child. The ratio against it is the target. A second floor imports the
pre-fork list before forking, as the build does today; the gap between the two is what the
serial pre-fork pandas import costs. Neither floor holds comps' own modules, the chart
warm-up (fonts), reading inputs, the fits, rendering or writing: the work the ratio measures.
Anything an offline build does not load (yfinance, statsmodels.api) is not in them. comps itself
is byte-compiled before timing (``compileall``), as an installed package is and as pip compiled
the floor's libraries; otherwise, with PYTHONDONTWRITEBYTECODE set, every build would compile
comps from source.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
COMPS = [PY, "-m", "comps"]
ENV = {**os.environ, "MPLBACKEND": "Agg"}
Row = tuple[str, str, str]


def timed(cmd: list[str], repeats: int, cwd: Path = ROOT) -> float:
    """Median wall time (s) of a command over ``repeats`` runs (after one warm-up)."""
    subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, check=True)
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, check=True)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs)


def measure(cmd: list[str], cwd: Path = ROOT, timeout: float | None = None) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MB) of one run of ``cmd``. The RSS is ``ru_maxrss`` of
    ``os.wait4`` on this child, as ``/usr/bin/time`` reports it: the largest resident set of the
    child or of any descendant it waited for (the chart process, the renderers). A non-zero exit
    raises CalledProcessError with the output; past ``timeout`` the whole process group is
    killed and TimeoutExpired raised."""
    with tempfile.TemporaryFile() as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, 0 if timeout is None else os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                proc.returncode = -signal.SIGKILL
                raise subprocess.TimeoutExpired(cmd, timeout)
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            log.seek(0)
            raise subprocess.CalledProcessError(proc.returncode, cmd, log.read().decode(errors="replace"))
    return wall, usage.ru_maxrss / 1024


def alternate(cmds: list[list[str]], rounds: int) -> list[list[float]]:
    """Wall times of each command, run in turn (a, b, …, a, b, …) for ``rounds`` rounds after one
    warm-up of each, so a drift in the machine's load falls on all alike: one list per command."""
    for cmd in cmds:
        measure(cmd)
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(rounds):
        for cmd, ts in zip(cmds, times, strict=True):
            ts.append(measure(cmd)[0])
    return times


def ratios(ta: list[float], tb: list[float]) -> str:
    r = [x / y for x, y in zip(ta, tb, strict=True)]
    return (f"median per-pair ratio {statistics.median(r):.2f} (min {min(r):.2f}, max {max(r):.2f}, {len(r)} pairs); "
            f"median times {statistics.median(ta):.2f} s vs {statistics.median(tb):.2f} s")


def failure(exc: subprocess.CalledProcessError) -> str:
    lines = [ln for ln in (exc.output or "").strip().splitlines() if ln.strip()]
    return f"FAILED (exit {exc.returncode}): {' / '.join(lines[-3:])}"


#: runs ``comps`` (argv after the record folder) and writes into the record folder the module
#: names of every process of the run: start.<pid> at start-up, prefork.<pid> when the main process
#: first forks, main.<pid> at its exit, fork.<pid> when a forked child leaves through os._exit
SCAN_CHILD = r"""
import atexit, os, runpy, sys
rec = sys.argv[1]
def dump(tag):
    names = [k for k, m in list(sys.modules.items())
             if getattr(m, "__spec__", None) is not None and m.__spec__.name == k]
    with open(os.path.join(rec, f"{tag}.{os.getpid()}"), "w") as fh:
        fh.write("\n".join(names))
dump("start")
main_pid, forked = os.getpid(), []
def before_fork():
    if os.getpid() == main_pid and not forked:
        forked.append(True)
        dump("prefork")
os.register_at_fork(before=before_fork)
_exit = os._exit
def exit_recording(code):
    dump("fork")
    _exit(code)
os._exit = exit_recording
atexit.register(dump, "main")
sys.argv = ["comps", *sys.argv[2:]]
runpy.run_module("comps", run_name="__main__", alter_sys=True)
"""

#: the floor of (b): the recorded modules, imported in two processes like the build's; argv[2]
#: 'start' forks before any of them (each process imports its own share of 'pre'), 'as-built'
#: imports 'pre' first and then forks, where the build forks its chart process
FLOOR_CHILD = r"""
import importlib, json, os, sys
mods, fork_at = json.loads(sys.argv[1]), sys.argv[2]
def load(names):
    for m in names:
        importlib.import_module(m)
if fork_at == "as-built":
    load(mods["pre"])
pid = os.fork()
if pid == 0:
    load(mods["child"] if fork_at == "as-built" else mods["pre_child"] + mods["child"])
    os._exit(0)
load(mods["main"] if fork_at == "as-built" else mods["pre"] + mods["main"])
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def build_modules(out: Path) -> dict[str, list[str]]:
    """The third-party modules one ``comps build --offline --out out`` loads, by process, each in
    load order: 'pre' (main process, before it forks the chart process), 'main' (main process at
    exit, less 'pre'), 'child' (chart process and renderers, less 'pre'), 'pre_child' (those of
    'pre' the chart process and renderers use: all of 'pre' but typer and its own deps)."""
    rec = Path(tempfile.mkdtemp())
    try:
        subprocess.run([PY, "-c", SCAN_CHILD, str(rec), "build", "--offline", "--out", str(out)], cwd=ROOT, env=ENV,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=True)
        read: dict[str, list[list[str]]] = {}
        for f in sorted(rec.iterdir()):
            read.setdefault(f.name.split(".")[0], []).append(f.read_text().split("\n"))
    finally:
        shutil.rmtree(rec)
    start = set(read["start"][0])

    def third_party(names: list[str]) -> list[str]:
        return [m for m in names if m not in start and not m.startswith(("__", "_sysconfigdata"))
                and m.split(".")[0] != "comps" and m.split(".")[0] not in sys.stdlib_module_names]

    pre = third_party(read.get("prefork", [[]])[0])
    main = [m for m in third_party(read["main"][0]) if m not in set(pre)]
    child: list[str] = []
    for names in read.get("fork", []):
        seen = set(pre) | set(child)
        child += [m for m in third_party(names) if m not in seen]
    # 'pre' as the chart process would need it had it been forked first: the pre-fork modules that
    # a fresh interpreter also loads when it imports the chart process's modules
    code = ("import importlib, json, sys\n"
             "for m in json.loads(sys.argv[1]):\n    importlib.import_module(m)\n"
             "print(json.dumps(list(sys.modules)))")
    probe = subprocess.run([PY, "-c", code, json.dumps(child)], cwd=ROOT, env=ENV, capture_output=True, text=True,
                           check=True)
    loaded = set(json.loads(probe.stdout))
    pre_child = [m for m in pre if m in loaded]
    return {"pre": pre, "main": main, "child": child, "pre_child": pre_child}


def floor_command(mods: dict[str, list[str]], fork_at: str = "start") -> list[str]:
    return [PY, "-c", FLOOR_CHILD, json.dumps(mods), fork_at]


def tops(names: list[str]) -> str:
    return ", ".join(sorted({m.split(".")[0] for m in names}))


def bench_cli(repeats: int) -> list[Row]:
    help_t = timed([*COMPS, "--help"], repeats)
    typer_t = timed([PY, "-c", "import typer"], repeats)
    out = Path(tempfile.mkdtemp())
    build_cmd = [*COMPS, "build", "--offline", "--out", str(out)]
    try:
        mods = build_modules(out)
        build_ts, floor_ts, as_built_ts = alternate([build_cmd, floor_command(mods), floor_command(mods, "as-built")],
                                                    repeats)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(out)
        return [("(a) comps --help", f"{help_t:.3f} s (import typer {typer_t:.3f} s, ratio {help_t / typer_t:.2f})",
                 "≤ 0.3 s"), ("(b) comps build --offline vs floor", failure(exc), "ratio ≤ 1.3")]
    build_t = statistics.median(build_ts)
    live_t = timed([*COMPS, "build", "--out", str(out)], max(3, repeats // 2)) if _offline_machine() else None
    shutil.rmtree(out)
    no_net = (f"{live_t:.2f} s vs --offline {build_t:.2f} s: ratio {live_t / build_t:.2f}" if live_t
              else "not run: this machine reaches Yahoo")
    only_child = sorted({m.split(".")[0] for m in mods["child"]} - {m.split(".")[0] for m in mods["main"]})
    return [
        ("(a) comps --help", f"{help_t:.3f} s (import typer {typer_t:.3f} s, ratio {help_t / typer_t:.2f})", "≤ 0.3 s"),
        ("(b) comps build --offline vs floor", ratios(build_ts, floor_ts), "ratio ≤ 1.3"),
        ("    vs floor forking where the build does", ratios(build_ts, as_built_ts), "-"),
        ("    floor, before the fork", f"{len(mods['pre'])} modules: {tops(mods['pre'])}", "-"),
        ("    floor, main process", f"{len(mods['main'])} modules: {tops(mods['main'])}", "-"),
        ("    floor, chart process", (f"{len(mods['child'])} modules: {tops(mods['child'])} "
                                     f"(only here: {', '.join(only_child)})"), "-"),
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


def bench_refresh() -> list[Row]:
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
cfg, *inputs = load_inputs(BuildConfig(offline=True))  # the config comes back resolved
result = compute(cfg, *inputs, lambda m: None)
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


def bench_charts(repeats: int) -> list[Row]:
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
    return [("(f) fits + 5 charts", (f"chart process {times['chart-process']:.2f} s, ProcessPoolExecutor "
             f"{times['executor']:.2f} s, in-process {times['in-process']:.2f} s"),
             "chart process ≤ executor")]


def bench_universes(sizes: list[int]) -> list[Row]:
    rows, prev = [], None
    for n in sizes:
        done = subprocess.run([PY, "-c", UNIVERSE_CHILD, str(n), str(ROOT)], cwd=ROOT, capture_output=True,
                              text=True, check=True, env={**os.environ, "MPLBACKEND": "Agg"})
        r = json.loads(done.stdout.strip().splitlines()[-1])
        growth = f", ×{r['total_s'] / prev['total_s']:.1f} time for ×{n / prev['n']:.0f} peers" if prev else ""
        target = "< 10 s, < 1 GB" if n == 5000 else "near-linear growth"
        rows.append((f"(d) {n:,} peers", (f"{r['total_s']:.2f} s (fits+valuation {r['fit_s']:.2f} s), "
                     f"peak RSS {r['rss_mb']:.0f} MB, {r['specs']} specs{growth}"), target))
        prev = r
    return rows


def bench_cli_universe(sizes: list[int], timeout: float | None) -> list[Row]:
    """(g): ``comps build`` through the CLI on synthetic universes, every output written."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.synthetic import write_universe

    rows, prev, first = [], None, True
    for n in sizes:
        d = Path(tempfile.mkdtemp())
        try:
            write_universe(d, n, seed=n)
            peers = len((d / "peers.csv").read_text().splitlines()) - 1
            cmd = [*COMPS, "build", "--offline", "--peers", str(d / "peers.csv"), "--snapshots", str(d / "snapshots"),
                   "--out", str(d / "out")]
            runs = 3 if n <= 5000 else 1
            if first and runs > 1:  # warm the page cache for the libraries, once (not on a 50,000 build)
                measure(cmd, timeout=timeout)
            first = False
            walls, rss = [], []
            for _ in range(runs):
                w, r = measure(cmd, timeout=timeout)
                walls.append(w)
                rss.append(r)
        except subprocess.TimeoutExpired:
            rows.append((f"(g) CLI build, {n:,} peers", f"not finished within {timeout:g} s: stopped", "-"))
            break
        except subprocess.CalledProcessError as exc:
            rows.append((f"(g) CLI build, {n:,} peers", failure(exc), "-"))
            break
        finally:
            shutil.rmtree(d, ignore_errors=True)
        wall = statistics.median(walls)
        growth = (f"; ×{wall / prev[1]:.1f} time, ×{max(rss) / prev[2]:.1f} RSS for ×{n / prev[0]:.0f} peers"
                  if prev else "")
        target = "< 10 s, < 1 GB" if n == 5000 else "near-linear growth"
        each = ", ".join(f"{w:.2f}" for w in walls)
        rows.append((f"(g) CLI build, {n:,} peers", (f"median {wall:.2f} s of {runs} ({each}), peak RSS {max(rss):.0f} MB, "
                                                     f"{peers:,} peers in the CSV{growth}"), target))
        prev = (n, wall, max(rss))
    return rows


def bench_backtest(pairs: int = 3) -> list[Row]:
    """(h): ``comps backtest --offline`` vs ``comps build --offline``, paired."""
    o1, o2 = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    try:
        bt, b = alternate([[*COMPS, "backtest", "--offline", "--out", str(o1)],
                           [*COMPS, "build", "--offline", "--out", str(o2)]], pairs)
        figure = "backtest vs build: " + ratios(bt, b)
    except subprocess.CalledProcessError as exc:
        figure = failure(exc)
    finally:
        shutil.rmtree(o1, ignore_errors=True)
        shutil.rmtree(o2, ignore_errors=True)
    return [("(h) comps backtest --offline", figure, "≤ 3×")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats; universes up to 5,000")
    ap.add_argument("--only", choices=["cli", "refresh", "charts", "universe", "cli-universe", "backtest"],
                    help="run one group")
    ap.add_argument("--sizes", type=lambda v: [int(x) for x in v.split(",")],
                    help="universe sizes for universe and cli-universe, comma-separated (overrides --quick)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="cli-universe: stop a build after this many seconds and skip larger sizes")
    args = ap.parse_args()
    compileall.compile_dir(ROOT / "comps", quiet=1)  # as an install does (see the docstring)
    repeats = 3 if args.quick else 7
    sizes = args.sizes or ([500, 5000] if args.quick else [500, 5000, 50000])
    groups = {"cli": lambda: bench_cli(repeats), "refresh": bench_refresh, "charts": lambda: bench_charts(repeats),
              "universe": lambda: bench_universes(sizes), "cli-universe": lambda: bench_cli_universe(sizes, args.timeout),
              "backtest": bench_backtest}
    rows = [r for name, run in groups.items() if args.only in (None, name) for r in run()]
    width = max(len(r[0]) for r in rows)
    print(f"comps benchmarks on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    for name, figure, target in rows:
        print(f"{name:<{width}}  {figure}   [target {target}]")


if __name__ == "__main__":
    main()
