"""Chart rendering off the main process, started before the build needs it, and never able
to outlive or block it.

Importing matplotlib and seaborn and loading fonts costs about as much CPU as the whole build
computes, and matplotlib is single-threaded. So ``comps build`` forks one chart process as it
starts. It imports and warms up on the second core while the main process loads the data and
fits; when the result arrives it forks ``workers`` renderers that inherit the warm state and
draw the charts in parallel.

Shutdown is the part that must never fail, so it uses nothing that can wait:

- the chart process leads its own process group, and every renderer joins it; closing before
  the charts were collected sends SIGKILL to the whole group, which no child can catch, block
  or answer with a traceback, and no lock is waited on;
- every child asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``), so even
  a main process killed with SIGKILL, or by SIGTERM's default action, takes the children along;
- ``collect`` waits with a timeout.

A standard-library pool cannot offer these: ``multiprocessing.Pool.terminate`` joins worker
and handler threads (the hang this replaces), and ``ProcessPoolExecutor`` on Python < 3.14
cannot kill a worker that is still importing. ``benchmarks/run.py --only charts`` measures this
against a ``ProcessPoolExecutor`` with warm workers. Where fork is unavailable (Windows, macOS
spawn), :func:`start` returns None and the charts render in-process.

This module imports only the standard library, so starting the process costs nothing.
"""

from __future__ import annotations

import ctypes
import multiprocessing as mp
import os
import pickle
import signal
import sys
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import pandas as pd

    from comps.result import BuildResult

Rendered = dict[str, dict[str, bytes]]  # chart stem → {"png": bytes, "svg": bytes}
COLLECT_TIMEOUT_S = 300.0


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies; exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(0)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class ChartProcess:
    """A forked chart process. ``submit`` a result, do other work, then ``collect`` the bytes.
    Use as a context manager, or call ``close``; closing before ``collect`` kills it at once."""

    def __init__(self, workers: int = 2) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self._conn, workers), name="comps-charts", daemon=True)
        self._proc.start()
        try:
            os.setpgid(self._proc.pid, self._proc.pid)  # the child does the same: whichever runs first wins
        except (PermissionError, ProcessLookupError):
            pass
        child.close()
        self._collected = self._closed = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    def submit(self, result: BuildResult | pd.DataFrame) -> None:
        """Render the charts of a build's result (or of a backtest's rows); ``collect`` them
        before submitting the next."""
        self._conn.send(result)
        self._collected = False

    def collect(self, timeout: float = COLLECT_TIMEOUT_S) -> Rendered:
        if not self._conn.poll(timeout):
            self.close()
            raise RuntimeError(f"the chart process did not answer within {timeout:g} s")
        try:
            status, payload = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the chart process exited without rendering (exit code {self._proc.exitcode})") from None
        self._collected = True
        if status == "error":
            raise RuntimeError(f"rendering the charts failed: {payload}")
        return payload

    def close(self) -> None:
        """Stop the chart process and its renderers. Never waits more than two seconds."""
        if self._closed:
            return
        self._closed = True
        self._conn.close()  # a chart process waiting for a result sees EOF and exits
        if not self._collected:  # mid-render (or never used): nothing to wait for
            _kill_group(self._proc.pid)
        self._proc.join(timeout=2)
        if self._proc.is_alive():
            _kill_group(self._proc.pid)
            self._proc.join(timeout=2)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start(workers: int = 2) -> ChartProcess | None:
    """A chart process rendering on ``workers`` cores, or None where fork is unavailable or
    fails (the charts then render in-process)."""
    if "fork" not in mp.get_all_start_methods():
        return None
    try:
        return ChartProcess(workers)
    except OSError:
        return None


def _serve(conn: Connection, parent_end: Connection, workers: int) -> None:
    """Body of the chart process: warm up, then for each result that arrives (one per build, or
    one per IPO of a backtest) render it on forked renderers and send back ("ok", bytes) or
    ("error", message), until the main process closes its end."""
    try:
        os.setpgid(0, 0)
    except PermissionError:
        pass
    _die_with_parent()
    parent_end.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C belongs to the main process, which then kills this group
    from comps.report.charts import charts_for, warm_up

    warm_up()
    while True:
        try:
            result = conn.recv()
        except EOFError:  # the build (or the last one) is done
            return
        try:
            reply = ("ok", _render_forked(result, list(charts_for(result)), workers))
        except Exception as exc:  # noqa: BLE001 - reported to the main process, which raises it
            reply = ("error", f"{type(exc).__name__}: {exc}")
        conn.send(reply)


def _render_forked(result: BuildResult, stems: list[str], workers: int) -> Rendered:
    """Render ``stems`` split across ``workers`` forked renderers (warm copies of this process)."""
    from comps.report.charts import render_all

    shares = [stems[i::workers] for i in range(max(1, workers))]
    children = []
    for share in shares[1:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # renderer: draw its share, send it, leave without running any cleanup
            os.close(r)
            _die_with_parent()
            try:
                data = pickle.dumps(("ok", render_all(result, stems=share)))
            except BaseException as exc:  # noqa: BLE001 - reported through the pipe
                data = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            with os.fdopen(w, "wb") as fh:
                fh.write(data)
            os._exit(0)
        os.close(w)
        children.append((pid, r))
    out = render_all(result, stems=shares[0])
    for pid, r in children:
        with os.fdopen(r, "rb") as fh:
            raw = fh.read()
        os.waitpid(pid, 0)
        if not raw:
            raise RuntimeError("a chart renderer exited without rendering")
        status, payload = pickle.loads(raw)
        if status == "error":
            raise RuntimeError(payload)
        out.update(payload)
    return {stem: out[stem] for stem in stems}
