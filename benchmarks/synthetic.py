"""Synthetic peer universes for the scale benchmark: a peer CSV and a snapshot of n peers
whose EV/Revenue rises with growth plus noise. Values are random, labelled synthetic.

Draws a build would refuse as unit slips are left out (so slightly fewer than n peers are
written): a market cap that is not positive, EV/Revenue or EV/Gross profit outside
``comps.pipeline.PLAUSIBLE_MULTIPLE`` (0.05× to 500×; kept within 0.1× to 400× here), and any
figure outside ``comps.sources.snapshot.PLAUSIBLE`` (kept within 80 % of its bounds).

Each peer also has a revenue_ntm estimate (``ntm=False`` leaves it out, as before): a large
universe with no NTM figure at all stops ``comps build`` with KeyError ['ev_to_revenue_ntm'] in
``comps.report.tables.comps_summary`` (the comps table drops that column when no peer has it)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEGMENTS = ("accelerators", "ai_cloud", "connectivity", "networking", "memory", "foundry", "systems_power")


def write_universe(directory: Path, n: int, seed: int = 0, ntm: bool = True) -> None:
    rng = np.random.default_rng(seed)
    growth = rng.uniform(-0.1, 1.6, n)
    gm = rng.uniform(0.1, 0.9, n)
    rev_prior = np.exp(rng.normal(np.log(5e3), 1.2, n))  # USD millions
    rev = rev_prior * (1 + growth)
    multiple = np.exp(1.2 + 1.3 * growth + 1.0 * gm + rng.normal(0, 0.35, n))
    net_debt = rev * rng.normal(0, 0.3, n)
    mcap = multiple * rev - net_debt
    rev_ntm = rev * (1 + 0.6 * growth * rng.uniform(0.5, 1.5, n))  # growth slows, with noise
    ev = multiple * rev
    ok = ((mcap > 0) & (mcap <= 4e7) & (rev <= 4e6) & (rev_ntm <= 4e6) & (np.abs(net_debt) <= 4e6)
          & (multiple >= 0.1) & (multiple <= 400) & (ev / (gm * rev) <= 400))
    (directory / "snapshots").mkdir(parents=True, exist_ok=True)
    with open(directory / "peers.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["ticker", "name", "segment", "include", "notes"])
        for i in np.flatnonzero(ok):
            w.writerow([f"S{i:05d}", f"Synthetic {i}", SEGMENTS[i % len(SEGMENTS)], "true", "synthetic"])
    with open(directory / "snapshots" / "2026-05-13.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["ticker", "field", "value", "unit", "date", "published", "source_url", "note"])
        for i in np.flatnonzero(ok):
            t = f"S{i:05d}"
            for field, value, unit, date, published in (
                ("market_cap", mcap[i], "USD millions", "2026-05-13", "2026-05-13"),
                ("net_debt", net_debt[i], "USD millions", "2026-03-31", "2026-05-01"),
                ("revenue_fy", rev[i], "USD millions", "2025-12-31", "2026-02-15"),
                ("revenue_fy", rev_prior[i], "USD millions", "2024-12-31", "2025-02-15"),
                ("gross_margin", gm[i], "fraction", "2025-12-31", "2026-02-15"),
                *((("revenue_ntm", rev_ntm[i], "USD millions", "2026-05-13", "2026-05-13"),) if ntm else ()),
            ):
                w.writerow([t, field, f"{value:.6g}", unit, date, published, "synthetic:benchmark", "random"])
