"""The result of one ``comps build``: every table and fit it computed. Its own module, so that
``report/`` depends on the result type and never on the pipeline that produces it."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from comps import regression as rg
from comps import valuation as val
from comps.config import BuildConfig
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
    fits: dict[str, rg.FitResult]
    huber: dict[str, rg.FitResult]
    skipped: dict[str, str]
    chosen: str
    specs: dict[str, val.SpecValuation]
    valuation: pd.DataFrame  # one row per spec × price point
    influence: pd.DataFrame
    sensitivity: pd.DataFrame  # chosen spec: growth × discount → fair price
    spec_sensitivity: pd.DataFrame  # spec × discount → fair price
    peer_values: pd.DataFrame
    peer_distribution: pd.DataFrame  # price points against the peers' multiples, no regression
    checklist: pd.DataFrame
    peer_cc: pd.Series
    discount_range: pd.DataFrame  # the discount with each disclosing peer left out
    robustness: pd.DataFrame  # verdicts refitted on the peers with fresh market data (empty if not run)
    robustness_note: str
    refresh: pd.DataFrame  # per-ticker live-refresh problems and what was kept (empty offline)
    warnings: tuple[str, ...]
    written: tuple[Path, ...] = field(default=())

    @property
    def headline(self) -> pd.DataFrame:
        """The chosen spec's rows of the valuation table."""
        return self.valuation[self.valuation["spec"] == self.chosen].reset_index(drop=True)

    def regression_table(self) -> pd.DataFrame:
        """One row per fitted spec (OLS), with the Huber fit's slope and fair multiple beside it."""
        table = rg.compare(self.fits, list(self.specs))
        x = val.target_inputs(self.target)
        valued = [s in self.specs for s in table["spec"]]
        growth = [x[self.fits[s].spec.growth] for s in table["spec"]]
        table["valued"] = valued
        table["fair_multiple_at_target"] = [val.floor0(self.specs[s].prediction.multiple) if ok else math.nan
                                            for s, ok in zip(table["spec"], valued, strict=True)]
        table["huber_slope_growth"] = [self.huber[s].params[self.fits[s].spec.growth] if s in self.huber else math.nan
                                       for s in table["spec"]]
        table["huber_fair_multiple"] = [val.floor0(self.huber[s].predict(x, ()).multiple)
                                        if s in self.huber and ok else math.nan
                                        for s, ok in zip(table["spec"], valued, strict=True)]
        table["target_growth"] = growth
        table["extrapolated"] = [self.fits[s].extrapolates(x) for s in table["spec"]]
        table["chosen"] = table["spec"] == self.chosen
        return table
