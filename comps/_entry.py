"""The console entry point, and what a Ctrl-C needs to be answered at any moment of a run.

This module imports only the standard library, so the ``comps`` command reaches the ``try``
below before anything heavy (typer, pandas, the chart process) is imported: an interrupt
during those imports, the build or the writes ends the run with exit 130 and one line that
says whether the outputs were replaced. The build's own ``finally`` blocks stop the chart
process, and an output folder is only ever swapped whole.
"""

from __future__ import annotations

import os
import signal
import sys

#: the output folder once a build has swapped it in (so an interrupt can say so), else None;
#: whether SIGINT arrived (a library may turn the KeyboardInterrupt into another exception)
STATE: dict[str, object] = {"written": None, "interrupted": False}


def _on_sigint(signum: int, frame: object) -> None:
    STATE["interrupted"] = True
    raise KeyboardInterrupt


def checkpoint(phase: str) -> None:
    """Send this process SIGINT when the environment names this phase (COMPS_INTERRUPT_AT).

    It is how the tests press Ctrl-C at an exact moment of a run, deterministically, instead
    of sleeping and hoping; otherwise it costs one environment lookup."""
    if os.environ.get("COMPS_INTERRUPT_AT") == phase:
        os.kill(os.getpid(), signal.SIGINT)


def interrupted() -> int:
    """Say, in one line, that the run was interrupted and what happened to the outputs; 130."""
    written = STATE["written"]
    message = (f"interrupted: {written} already holds this build's complete output" if written
               else "interrupted: no output was changed")
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed or a broken pipe: the exit code still says it
        pass
    return 130


def run() -> None:
    """``comps``: the CLI, with Ctrl-C answered from here to the last write."""
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        checkpoint("entry")
        from comps.cli import main

        checkpoint("imported")
        code = main()
    except KeyboardInterrupt:
        code = interrupted()
    sys.exit(code)
