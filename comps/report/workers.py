"""Chart rendering off the main process, started before the build needs it.

Importing matplotlib and seaborn and loading fonts costs about as much CPU as the whole
build computes, and matplotlib is single-threaded. So ``comps build`` forks one chart process
as it starts. That process imports and warms up on the second core while the main process
loads the data and fits, then forks ``workers`` renderers that inherit the warm state. When
the result arrives, they render the charts in parallel. Where fork is unavailable (Windows,
macOS spawn), :func:`start` returns None and the charts render in-process.

This module imports only the standard library, so starting the process costs nothing."""

from __future__ import annotations

import multiprocessing as mp
import signal
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from comps.result import BuildResult

Rendered = dict[str, dict[str, bytes]]  # chart stem → {"png": bytes, "svg": bytes}


class ChartProcess:
    """A forked chart process. ``submit`` a result, do other work, then ``collect`` the bytes.
    Use as a context manager, or call ``close``; closing before ``collect`` stops it at once."""

    def __init__(self, workers: int = 2) -> None:
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self._conn, workers), name="comps-charts")
        self._proc.start()
        child.close()
        self._collected = False

    def submit(self, result: BuildResult) -> None:
        self._conn.send(result)

    def collect(self) -> Rendered:
        try:
            status, payload = self._conn.recv()
            self._collected = True
        except EOFError:
            raise RuntimeError(f"the chart process exited without rendering (exit code {self._proc.exitcode})") from None
        if status == "error":
            raise payload
        return payload

    def close(self) -> None:
        self._conn.close()  # the chart process sees EOF and stops its renderers
        if not self._collected:
            self._proc.terminate()  # importing or rendering for a build that failed: do not wait
        self._proc.join(timeout=5)

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
    """Body of the chart process: warm up, fork the renderers, render the one result that
    arrives on ``conn`` and send back ("ok", bytes) or ("error", exception)."""
    parent_end.close()
    signal.signal(signal.SIGTERM, _exit)  # so that close() can stop it while it imports
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    pool = None
    try:
        from comps.report.charts import render_all, warm_up

        warm_up()
        # renderers inherit the warm state; SIGTERM is theirs again so pool.terminate() works
        pool = mp.get_context("fork").Pool(workers, initializer=signal.signal, initargs=(signal.SIGTERM, signal.SIG_DFL))
        try:
            result = conn.recv()
        except EOFError:  # the build ended without charts
            return
        try:
            reply = ("ok", render_all(result, pool))
        except Exception as exc:  # noqa: BLE001 - re-raised in the main process
            reply = ("error", exc)
        conn.send(reply)
    finally:
        if pool is not None:
            pool.terminate()
        conn.close()


def _exit(*_args: object) -> None:
    raise SystemExit(0)
