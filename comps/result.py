"""The result of one ``comps build``: every table and fit it computed. Its own module, so that
``report/`` depends on the result type and never on the pipeline that produces it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from comps import valuation as val
from comps.backtest import TrackRecord
from comps.config import BuildConfig
from comps.regression import Method
from comps.regression.leverage import SlopeEvidence
from comps.sources.snapshot import Snapshots
from comps.target import Target


@dataclass(frozen=True)
class BuildResult:
    """Everything a build computed. Tables are DataFrames with units in column names."""

    config: BuildConfig
    as_of: dt.date
    snapshots: Snapshots  # the layered figures: used, left out as look-ahead, and their files
    data_notice: str  # one line: where the figures came from
    peers: pd.DataFrame
    target: Target
    fits: dict[str, Method]
    skipped: dict[str, str]
    chosen: str  # the headline method
    specs: dict[str, val.SpecValuation]
    methods: pd.DataFrame  # each method's leave-one-out scores against the peer-median baseline
    evidence: dict[str, SlopeEvidence]  # per regression: wild bootstrap, rank checks, fit without flagged peers
    leverage: pd.DataFrame  # per regression and peer: leverage, Cook's D, DFBETAS
    valuation: pd.DataFrame  # one row per method × price point
    influence: pd.DataFrame
    sensitivity: pd.DataFrame  # headline method: multiple applied × discount → break-even price
    spec_sensitivity: pd.DataFrame  # method × discount → break-even price
    peer_values: pd.DataFrame
    peer_distribution: pd.DataFrame  # price points against the peers' multiples, no regression
    checklist: pd.DataFrame
    bridge: pd.DataFrame  # the EV bridge at each price point
    peer_cc: pd.Series
    discount_range: pd.DataFrame  # the discount with each disclosing peer left out
    discount_grid: pd.DataFrame  # the discount over β × (r − g)
    rolls: pd.DataFrame  # stale peers' returns to the as-of date
    date_check: pd.DataFrame
    date_note: str
    verdicts: pd.DataFrame  # the wait test under each variant
    verdict_note: str
    calendar_lag_days: int  # days the target's LTM ends before the peers' median LTM end
    calendar_factor: float  # how much that lag inflates its multiple
    refresh: pd.DataFrame  # per-ticker live-refresh problems and what was kept (empty offline)
    warnings: tuple[str, ...]
    track_record: TrackRecord | None = None  # how the method did on the past IPOs known at the as-of date
    written: tuple[Path, ...] = field(default=())

    @property
    def headline(self) -> pd.DataFrame:
        """The headline method's rows of the valuation table."""
        return self.valuation[self.valuation["spec"] == self.chosen].reset_index(drop=True)

    @property
    def headline_is_baseline(self) -> bool:
        """Whether no regression beat the peer distribution: the headline is the peers' median."""
        return self.fits[self.chosen].spec.kind == "baseline"

    def regression_table(self) -> pd.DataFrame:
        """One row per fitted method: its fit, its leave-one-out scores against the baseline,
        and the slope's evidence beyond HC3 for regressions."""
        table = pd.DataFrame([f.summary() for f in self.fits.values()])
        table = table.merge(self.methods.drop(columns=["kind", "n"]), on="spec", how="left")
        x = val.target_inputs(self.target)
        table["valued"] = table["spec"].isin(list(self.specs))
        table["fair_multiple_at_target"] = [val.floor0(self.specs[s].prediction.multiple) if s in self.specs
                                            else math.nan for s in table["spec"]]
        table["extrapolated"] = [self.fits[s].extrapolates(x) for s in table["spec"]]
        ev = {s: e for s, e in self.evidence.items()}
        for col, attr in (("p_wild_bootstrap", "p_wild"), ("theil_sen_slope", "theil_sen"),
                          ("spearman_rho", "spearman_rho"), ("flagged_peers", "flagged"),
                          ("slope_without_flagged", "slope_without"), ("p_without_flagged", "p_without"),
                          ("r_squared_without_flagged", "r_squared_without")):
            table[col] = [(", ".join(v) if isinstance(v := getattr(ev[s], attr), tuple) else v) if s in ev else
                          ("" if col == "flagged_peers" else math.nan) for s in table["spec"]]
        return table


@dataclass(frozen=True)
class BacktestResult:
    """Every past IPO's build (by ticker), the outcomes, and how the method did on them."""

    config: BuildConfig
    builds: dict[str, BuildResult]
    outcomes: pd.DataFrame
    record: TrackRecord
    written: tuple[Path, ...] = field(default=())

    def to_frame(self) -> pd.DataFrame:
        """One row per IPO × method: its value at the offer against what followed."""
        return self.record.rows
