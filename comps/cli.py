"""The ``comps`` command line: a thin typer layer over :func:`comps.pipeline.build`.

Heavy libraries (pandas, statsmodels, matplotlib, seaborn, yfinance) are imported inside the
commands that need them, so ``comps --help`` and ``comps peers list`` start instantly. The
console entry point is :mod:`comps._entry`, which answers Ctrl-C before this module's imports.
Exit codes: 0 ok, 2 bad input, 3 live refresh required but unavailable, 130 interrupted,
1 anything else.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from comps import __version__
from comps._entry import STATE, checkpoint, interrupted
from comps.errors import CompsError

PLAIN = {"no_args_is_help": True, "rich_markup_mode": None}  # plain help: flags show no '<bool>'
app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Comparable-company valuation of an IPO against listed peers.", **PLAIN)
peers_app = typer.Typer(help="List, add, remove and validate peers in the peer CSV.", **PLAIN)
figures_app = typer.Typer(help="Add sourced figures to the dated snapshots (offline data).", **PLAIN)
app.add_typer(peers_app, name="peers")
app.add_typer(figures_app, name="figures")

PeersOpt = Annotated[Path, typer.Option("--peers", help="Peer list CSV.")]
DEFAULT_PEERS = Path("data/peers.csv")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"comps {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,  # noqa: UP045
                                                          help="Print the version and exit.")] = None) -> None:
    """Comparable-company valuation of an IPO against listed peers."""


@app.command()
def build(
    peers: Annotated[Optional[Path], typer.Option(help="Peer list CSV (default: the target's own, else data/peers.csv).")] = None,  # noqa: UP045
    target: Annotated[Path, typer.Option(help="Target TOML file (the IPO).")] = Path("data/targets/cerebras.toml"),
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("outputs"),
    config: Annotated[Optional[Path], typer.Option(help="Settings TOML (default: ./comps.toml if present).")] = None,  # noqa: UP045
    snapshots: Annotated[Optional[Path], typer.Option(help="Folder of dated snapshots (default: the target's own, else data/snapshots).")] = None,  # noqa: UP045
    as_of: Annotated[Optional[str], typer.Option(help="Analysis date YYYY-MM-DD (default: the target's pricing date, else the newest snapshot).")] = None,  # noqa: UP045
    spec: Annotated[Optional[str], typer.Option(help="Headline method, or 'auto' (the best leave-one-out; a regression only if it beats the peer median).")] = None,  # noqa: UP045
    offline: Annotated[bool, typer.Option("--offline", help="Skip the live refresh; use the snapshot.")] = False,
    require_live: Annotated[bool, typer.Option("--require-live", help="Exit 3 if the live refresh fails.")] = False,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore the response cache and fetch again.")] = False,
    no_charts: Annotated[bool, typer.Option("--no-charts", help="Skip the PNG/SVG charts.")] = False,
) -> None:
    """Value the target at every price point against the peers and write tables and charts."""
    from comps.report import workers

    # Start the chart process first: it imports matplotlib on the second core while this one
    # imports pandas and statsmodels and fits.
    renderer = None if no_charts else workers.start()
    try:
        from comps.config import load_config
        from comps.pipeline import build as run

        cfg = load_config(config, peers_path=peers, target_path=target, out_dir=out, snapshot_dir=snapshots,
                          as_of=as_of, spec=spec, offline=offline or None, require_live=require_live or None,
                          refresh=refresh or None, charts=False if no_charts else None)
        checkpoint("config")
        result = run(cfg, progress=lambda msg: typer.echo(msg, err=True), renderer=renderer)
    finally:
        if renderer is not None:
            renderer.close()
    checkpoint("summary")
    _print_summary(result)


def _print_summary(result) -> None:
    """The verdict, what the method supports, the headline table and every warning, fitted to
    the terminal's width (COLUMNS is honoured)."""
    from rich.table import Table

    from comps.diagnostics import digest
    from comps.report.story import (
        believe_line,
        method_support,
        probability_sentence,
        track_record_line,
        verdict_sentence,
    )
    from comps.report.tables import column_need, fit_to_width, headline_display

    console = _console()
    console.print(verdict_sentence(result))
    console.print(f"{method_support(result)}. {probability_sentence(result)}.")
    console.print(believe_line(result) + ".")
    if result.track_record is not None:
        console.print(track_record_line(result) + ".")
    table = Table(title=f"{result.target.name} ({result.target.ticker}) at each price point, as of {result.as_of}",
                  title_justify="left")
    full = headline_display(result)
    shown = fit_to_width(full, console.width)
    for col in shown.columns:
        table.add_column(col, justify="left" if col in ("Price point", "Checklist") else "right",
                         width=column_need(shown, col))
    for row in shown.itertuples(index=False):
        table.add_row(*row)
    console.print(table)
    if dropped := [c for c in full.columns if c not in shown.columns]:
        console.print(f"(Narrow terminal: {', '.join(dropped)} left out; every column is in summary.md.)")
    if not result.refresh.empty and result.refresh["failed"].nunique() > 1:  # one cause (no network) is said once above
        problems = Table(title="Live refresh problems (figures kept from older snapshots)", title_justify="left")
        for col in ("ticker", "what failed", "kept from snapshots"):
            problems.add_column(col, overflow="fold")
        for _, r in result.refresh.iterrows():
            problems.add_row(r["ticker"], r["failed"], r["kept_from_snapshots"])
        console.print(problems)
    if result.warnings:
        console.print(f"[yellow]{len(result.warnings)} warnings[/yellow] (each in full in summary.md):", markup=True)
        for w in digest(result.warnings):
            console.print(f"- {w}", markup=False)
    if result.written:
        out = result.config.out_dir
        console.print(f"Open {out / 'report.html'} ({len(result.written)} files written to {out}/)")


@app.command()
def backtest(
    out: Annotated[Path, typer.Option(help="Output folder: the backtest's tables and chart, and each IPO's build.")] = Path("outputs/backtest"),
    targets: Annotated[Path, typer.Option(help="Folder of target files; those with outcomes are backtested.")] = Path("data/targets"),
    outcomes: Annotated[Path, typer.Option(help="Outcomes CSV (first-day, +6m and +12m closes, the benchmark).")] = Path("data/backtest/outcomes.csv"),
    config: Annotated[Optional[Path], typer.Option(help="Settings TOML (default: ./comps.toml if present).")] = None,  # noqa: UP045
    offline: Annotated[bool, typer.Option("--offline", help="Accepted for symmetry with build: a backtest always uses the snapshots.")] = False,
    no_charts: Annotated[bool, typer.Option("--no-charts", help="Skip the PNG/SVG charts of each IPO's build.")] = False,
) -> None:
    """Value every past IPO at its own pricing date with the same engine and score it against
    what followed: accuracy, band coverage and signal, beside a no-regression baseline."""
    from comps.report import workers

    renderer = None if no_charts else workers.start()
    try:
        from rich.progress import Progress

        from comps.config import load_config
        from comps.pipeline import run_backtest

        cfg = load_config(config, targets_dir=targets, outcomes_path=outcomes, charts=False if no_charts else None,
                          offline=True)
        with Progress(transient=True, console=_console(stderr=True)) as bar:
            task = bar.add_task("valuing past IPOs", total=None)
            result = run_backtest(cfg, out, renderer=renderer, advance=lambda t, i, n: bar.update(
                task, completed=i, total=n, description=f"valuing {t} at its pricing date"))
    finally:
        if renderer is not None:
            renderer.close()
    _print_backtest(result, out)


def _print_backtest(result, out: Path) -> None:
    """The engine's call on each past IPO and what followed, fitted to the terminal."""
    from rich.table import Table

    from comps.report.backtest import calls_display, caveat
    from comps.report.tables import column_need, fit_to_width

    console = _console()
    record = result.record
    console.print(f"Backtest: {len(record.to_frame())} IPOs, each valued at its own pricing date. {caveat(len(record.to_frame()))}")
    full = calls_display(record).drop(columns="Method").assign(IPO=record.to_frame()["ticker"])
    shown = fit_to_width(full, console.width)
    table = Table()
    for col in shown.columns:
        table.add_column(col, justify="left" if col in ("IPO", "Priced", "Call at offer") else "right",
                         width=column_need(shown, col))
    for row in shown.itertuples(index=False):
        table.add_row(*row)
    console.print(table)
    console.print(f"The headline probability is {'supported' if record.validated else 'unvalidated'}: {record.reason}.")
    if result.written:
        console.print(f"Open {out / 'backtest.md'} ({len(result.written)} files written to {out}/, each IPO's build "
                      "in its own folder)")


def _console(stderr: bool = False):
    """A rich console that fits the terminal and treats a closed pipe (comps … | head) as the
    reader leaving, not an error."""
    from rich.console import Console

    class Quiet(Console):
        def on_broken_pipe(self) -> None:
            self.quiet = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), (sys.stderr if stderr else sys.stdout).fileno())

    return Quiet(highlight=False, stderr=stderr)


@peers_app.command("list")
def peers_list(peers: PeersOpt = DEFAULT_PEERS) -> None:
    """Print the peer list."""
    from comps.universe import load_peers

    for p in load_peers(peers):
        typer.echo(f"{p.ticker:<8} {'in ' if p.include else 'out'} {p.segment:<14} {p.name}")


@peers_app.command("validate")
def peers_validate(peers: PeersOpt = DEFAULT_PEERS) -> None:
    """Check the peer CSV and report every problem (exit 2 if any)."""
    from comps.universe import load_peers

    n = len(load_peers(peers))
    typer.echo(f"{peers}: {n} peers, no problems")


@peers_app.command("add")
def peers_add(
    ticker: Annotated[str, typer.Argument(help="Ticker symbol, e.g. QCOM.")],
    segment: Annotated[str, typer.Option(help="Segment, e.g. accelerators, networking, memory.")],
    name: Annotated[Optional[str], typer.Option(help="Company name (default: the ticker).")] = None,  # noqa: UP045
    exclude: Annotated[bool, typer.Option("--exclude", help="Add with include=false.")] = False,
    notes: Annotated[str, typer.Option(help="Why it is a peer, and anything a reader should know.")] = "",
    tier: Annotated[str, typer.Option(help="core or extended (written only if the file has a tier column).")] = "core",
    peers: PeersOpt = DEFAULT_PEERS,
) -> None:
    """Append a peer to the CSV, keeping existing order and comments."""
    from comps.errors import InputError, Problem
    from comps.universe import TIERS, Peer, add_peer, normalize_ticker, ticker_problem

    t = normalize_ticker(ticker)
    problems = []
    if (why := ticker_problem(t)) is not None:
        problems.append(Problem("command line", why, field="TICKER"))
    if not segment.strip():
        problems.append(Problem("command line", "segment is empty", field="--segment"))
    if tier.strip().lower() not in TIERS:
        problems.append(Problem("command line", f"tier must be {' or '.join(TIERS)}, got {tier!r}", field="--tier"))
    if problems:
        raise InputError(problems)
    add_peer(peers, Peer(t, (name or t).strip(), segment.strip(), not exclude, notes.strip(), tier=tier.strip().lower()))
    typer.echo(f"added {t} to {peers}" + (f" (Yahoo's form of {ticker.strip()})" if t != ticker.strip().upper() else ""))


@peers_app.command("remove")
def peers_remove(ticker: Annotated[str, typer.Argument(help="Ticker to remove.")],
                 peers: PeersOpt = DEFAULT_PEERS) -> None:
    """Remove a peer from the CSV, keeping every other line."""
    from comps.universe import normalize_ticker, remove_peer

    remove_peer(peers, ticker)
    typer.echo(f"removed {normalize_ticker(ticker)} from {peers}")


@figures_app.command("add", context_settings={"ignore_unknown_options": True})  # a negative value is not an option
def figures_add(
    ticker: Annotated[str, typer.Argument(help="Ticker, e.g. QCOM.")],
    field: Annotated[str, typer.Argument(help="Field, e.g. market_cap, revenue_q, cash (comps figures fields).")],
    value: Annotated[str, typer.Argument(help="Value in the field's unit (USD millions for money); negatives as typed, e.g. -25960.")],
    date: Annotated[str, typer.Option(help="Date the figure refers to: the trading day or the period end, YYYY-MM-DD.")],
    source: Annotated[str, typer.Option(help="Source URL.")],
    published: Annotated[Optional[str], typer.Option(help="Date it became public (default: --date for market data).")] = None,  # noqa: UP045
    unit: Annotated[Optional[str], typer.Option(help="Unit, checked against the field's (e.g. 'USD millions').")] = None,  # noqa: UP045
    note: Annotated[str, typer.Option(help="Free-text note (a quote from the source).")] = "",
    confirm: Annotated[bool, typer.Option("--confirm", help="Accept a value outside the plausible range for its unit.")] = False,
    snapshots: Annotated[Path, typer.Option(help="Folder of dated snapshots.")] = Path("data/snapshots"),
) -> None:
    """Append one sourced figure to the snapshot named for its publication date, atomically."""
    from comps.sources.snapshot import new_figure
    from comps.universe import normalize_ticker

    path = new_figure(snapshots, ticker=ticker, field=field, value=value, date=date, source=source,
                      published=published, unit=unit, note=note, confirm=confirm)
    typer.echo(f"added {normalize_ticker(ticker)} {field} to {path}")


@figures_app.command("fields")
def figures_fields() -> None:
    """List the snapshot fields and their units."""
    from comps.sources.snapshot import FIELDS, SERIES_FIELDS

    for name, unit in FIELDS.items():
        typer.echo(f"{name:<20} {unit:<16} {'one row per period' if name in SERIES_FIELDS else ''}".rstrip())


def main(argv: list[str] | None = None) -> int:
    """Runs the app and maps errors to exit codes and one clear message.

    typer runs in standalone mode, so it prints its own one-line usage message for a bad
    option or value and exits 2; comps' own errors carry their exit code. Ctrl-C exits 130 with
    one line, also when it lands inside a library and surfaces as another exception."""
    try:
        app(args=argv, prog_name="comps")
    except SystemExit as exc:  # typer's exits: 0 after --help/--version, 2 on a usage error, 130 on Ctrl-C
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        return interrupted() if code == 130 else code
    except CompsError as exc:
        typer.echo(f"error: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        return interrupted()
    except Exception as exc:  # noqa: BLE001 - the unexpected: one line, no traceback
        if STATE["interrupted"]:
            return interrupted()
        typer.echo(f"unexpected error: {type(exc).__name__}: {exc}", err=True)
        return 1
    return 0
