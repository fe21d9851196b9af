"""Write a build's outputs: tables (CSV + Markdown), charts (PNG + SVG), summary.md,
report.html and manifest.json. Everything is rendered in memory first, then each file is
replaced atomically, so an interrupted build leaves the previous outputs intact."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from comps._io import sha256_file, write_bytes_atomic
from comps.report import tables as tb

if TYPE_CHECKING:
    from comps.report.workers import ChartProcess
    from comps.result import BuildResult

PACKAGES = ("comps", "pandas", "numpy", "scipy", "statsmodels", "matplotlib", "seaborn", "yfinance", "typer")


def render_files(result: BuildResult, renderer: ChartProcess | None = None) -> dict[str, bytes]:
    """File name → bytes for every output except the manifest. Charts render on ``renderer``
    (while the tables are formatted here) if given, else in-process."""
    from comps.report.summary import html_report, summary_markdown

    if result.config.charts and renderer is not None:
        renderer.submit(result)
    files: dict[str, bytes] = {}
    frames = tb.tables(result)
    for stem, frame in frames.items():
        files[f"{stem}.csv"] = tb.to_csv(frame).encode()
        files[f"{stem}.md"] = tb.to_markdown(frame).encode()
    charts: dict[str, dict[str, bytes]] = {}
    if result.config.charts:
        if renderer is not None:
            charts = renderer.collect()
        else:
            from comps.report.charts import render_all

            charts = render_all(result)
        for stem, rendered in charts.items():
            for ext, data in rendered.items():
                files[f"{stem}.{ext}"] = data
    files["summary.md"] = summary_markdown(result, frames).encode()
    files["report.html"] = html_report(result, frames, {k: v["png"] for k, v in charts.items()}).encode()
    return files


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


def write_outputs(result: BuildResult, out_dir: Path, renderer: ChartProcess | None = None) -> BuildResult:
    """Render everything, then replace each file in ``out_dir`` atomically."""
    files = render_files(result, renderer)
    files["manifest.json"] = (json.dumps(manifest(result, files), indent=2, sort_keys=True) + "\n").encode()
    out_dir = Path(out_dir)
    written = []
    for name, data in files.items():
        write_bytes_atomic(out_dir / name, data)
        written.append(out_dir / name)
    return dataclasses.replace(result, written=tuple(written))
