"""Write a build's outputs: report.html, comps.xlsx, summary.md and manifest.json at the top,
the tables (CSV + Markdown) in ``tables/`` and the charts (PNG + SVG) in ``charts/``.
Everything is rendered in memory first, then the output folder is replaced as one set, so an
interrupted build leaves the previous set intact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from comps._entry import STATE, checkpoint
from comps._io import lock, remove_stale_temporaries, replace_dir, sha256_file
from comps.errors import InputError, Problem

if TYPE_CHECKING:
    from comps.report.workers import ChartProcess
    from comps.result import BuildResult

PACKAGES = ("comps", "pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "yfinance", "typer",
            "great_tables", "xlsxwriter")


def render_files(result: BuildResult, renderer: ChartProcess | None = None) -> dict[str, bytes]:
    """File name → bytes for every output except the manifest. Charts render on ``renderer``
    (while the tables are formatted here) if given, else in-process."""
    from comps.report import (
        tables as tb,  # here, not at the top: the chart process forks before pandas loads
    )
    from comps.report.excel import workbook
    from comps.report.html import embed_charts, html_report
    from comps.report.summary import summary_markdown

    if result.config.charts and renderer is not None:
        renderer.submit(result)
    files: dict[str, bytes] = {}
    frames = tb.tables(result)
    for stem, frame in frames.items():
        files[f"{TABLES}/{stem}.csv"] = tb.to_csv(frame).encode()
        if len(frame) <= tb.MARKDOWN_ROWS:
            files[f"{TABLES}/{stem}.md"] = tb.markdown_for(stem, frame, result).encode()
    files["comps.xlsx"] = workbook(result, frames)
    files["summary.md"] = summary_markdown(result, frames).encode()
    page = html_report(result, frames)
    charts: dict[str, dict[str, bytes]] = {}
    if result.config.charts:
        if renderer is not None:
            charts = renderer.collect()
        else:
            from comps.report.charts import render_all

            charts = render_all(result)
        for stem, rendered in charts.items():
            for ext, data in rendered.items():
                files[f"{CHARTS}/{stem}.{ext}"] = data
    files["report.html"] = embed_charts(page, {k: v["png"] for k, v in charts.items()}, CHARTS).encode()
    return files


#: the subfolders of a build's outputs
TABLES, CHARTS = "tables", "charts"


def manifest(result: BuildResult, files: dict[str, bytes]) -> dict:
    """Inputs, versions, settings and output hashes. Only ``created_at`` varies between runs."""
    cfg = result.config
    inputs = {}
    for label, path in (("peers", cfg.peers_path), ("target", cfg.target_path),
                        *((f"snapshot {p.name}", p) for p in result.snapshots.files),
                        ("concentration", cfg.concentration_path), ("settings", cfg.config_path)):
        if path is not None and Path(path).exists():
            inputs[label] = {"path": str(path), "sha256": sha256_file(Path(path))}
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "as_of": result.as_of.isoformat(),
        "snapshots": [str(p) for p in result.snapshots.files],
        "data_notice": result.data_notice,
        "chosen_spec": result.chosen,
        "inputs": inputs,
        "packages": versions,
        "settings": cfg.settings(),
        "outputs": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }


def check_out_dir(out_dir: Path) -> None:
    """A build replaces its output folder wholesale, so it refuses any folder it did not write:
    a file, or a folder with files and no comps manifest (``--out data`` must never swap the
    data away). An absent or empty folder, or one holding only this README (and the browser
    test's screenshots/), is fine."""
    import tempfile

    out_dir = Path(out_dir)
    try:  # a folder that cannot be written is bad input, found before any work
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir.parent):
            pass
    except OSError as exc:
        raise InputError(Problem(str(out_dir), f"cannot write here ({exc.strerror or exc}); choose a writable folder",
                                 field="--out")) from None
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise InputError(Problem(str(out_dir), "--out must be a folder, and this is a file", field="--out"))
    names = {p.name for p in out_dir.iterdir()} - {"screenshots"}  # the browser test's artifacts
    if (out_dir / BACKTEST_DIR / "manifest.json").is_file():  # a backtest's set (and its lock), which a build keeps
        names -= {BACKTEST_DIR, f".{BACKTEST_DIR}.lock"}
    if not names or names == {"README.md"} and (out_dir / "README.md").read_text(errors="replace") == OUTPUTS_README:
        return
    try:
        if "outputs" in json.loads((out_dir / "manifest.json").read_text()):
            return
    except (OSError, ValueError):
        pass
    raise InputError(Problem(str(out_dir), "this folder holds files that comps did not write (it has no comps "
                                           "manifest.json); a build replaces its output folder entirely, so choose "
                                           "a new or empty folder", field="--out"))


#: the subfolder ``comps backtest`` writes by default; a build keeps it when it replaces its folder
BACKTEST_DIR = "backtest"


def output_lock(out_dir: Path):
    """The lock writers of ``out_dir`` take turns on: beside the folder, or, for a folder inside
    a build's output folder (the backtest's), the lock of that build's folder, so neither swap
    can move the other's temporary files away."""
    out_dir = Path(out_dir)
    owner = out_dir.parent if (out_dir.parent / "manifest.json").is_file() else out_dir
    return lock(owner.parent / f".{owner.name}.lock", f"the output folder {owner}")


def write_outputs(result: BuildResult, out_dir: Path, renderer: ChartProcess | None = None) -> BuildResult:
    """Render everything in memory, then make ``out_dir`` hold this set of files and nothing
    else, in one atomic swap. Builds writing to one folder take turns (a lock beside it)."""
    files = render_files(result, renderer)
    files["README.md"] = OUTPUTS_README.encode()
    files["manifest.json"] = (json.dumps(manifest(result, files), indent=2, sort_keys=True) + "\n").encode()
    out_dir = Path(out_dir)
    checkpoint("rendered")
    with output_lock(out_dir):
        check_out_dir(out_dir)  # again under the lock: the folder may have changed since the build began
        remove_stale_temporaries(out_dir)
        written = replace_dir(files, out_dir, keep=(BACKTEST_DIR,))
        STATE["written"] = out_dir
    checkpoint("swapped")
    return dataclasses.replace(result, written=tuple(written))


OUTPUTS_README = """# outputs/

Written by `comps build`. Start with `report.html`.

- `report.html`: the report, one self-contained page; its top is a one-page brief that prints
  on one A4 or Letter page.
- `comps.xlsx`: the workbook: a live valuation model (type over a price or the discount),
  the comps with an include flag per peer, the regressions, the sensitivity and the sources.
- `summary.md`: the report in Markdown.
- `manifest.json`: each file's hash, with the inputs, settings and package versions that
  produced it.
- `tables/`: every table as CSV (raw numbers, machine column names) and, up to 1,000 rows,
  Markdown.
- `charts/`: every chart as PNG and SVG.
- `backtest/`: written by `comps backtest`, kept by later builds.

Every build replaces this folder as one set, in one atomic swap, so its files always come
from the same build. The browser test leaves its screenshots in `screenshots/`; the next
build replaces them.
"""
