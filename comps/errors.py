"""The few exception types comps raises. Only ``cli.py`` turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input: where it is and what was expected."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f" [{self.field}]"
        return f"{where}: {self.message}"


class CompsError(Exception):
    """Base class of every error comps raises on purpose."""

    exit_code = 1


class InputError(CompsError):
    """Bad user input. Carries every problem found, so one message lists them all."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        super().__init__(f"{n} input problem{'s' if n != 1 else ''}:\n{lines}")


class SourceError(CompsError):
    """A data source could not deliver (network down, rate-limited, bad payload)."""

    exit_code = 3


class ModelError(CompsError):
    """A fit or valuation cannot be computed from the data given (e.g. too few peers)."""

    exit_code = 1
