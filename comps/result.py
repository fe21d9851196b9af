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
from comps.sources.snapshot import Snapshot
from comps.target import Target


@dataclass(frozen=True)
class BuildResult:
    """Everything a build computed. Tables are DataFrames with units in column names."""

    config: BuildConfig
    as_of: dt.date
    snapshot: Snapshot
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
    checklist: pd.DataFrame
    peer_cc: pd.Series
    warnings: tuple[str, ...]
    written: tuple[Path, ...] = field(default=())

    @property
    def headline(self) -> pd.DataFrame:
        """The chosen spec's rows of the valuation table."""
        return self.valuation[self.valuation["spec"] == self.chosen].reset_index(drop=True)

    def regression_table(self) -> pd.DataFrame:
        """One row per fitted spec (OLS), with the Huber fit's slope and fair multiple beside it."""
        table = rg.compare(self.fits)
        x = val.target_inputs(self.target)
        table["fair_multiple_at_target"] = [self.specs[s].prediction.multiple for s in table["spec"]]
        table["huber_slope_growth"] = [self.huber[s].params[rg.GROWTH] if s in self.huber else math.nan
                                       for s in table["spec"]]
        table["huber_fair_multiple"] = [self.huber[s].predict(x, ()).multiple if s in self.huber else math.nan
                                        for s in table["spec"]]
        table["target_growth"] = x[rg.GROWTH]
        table["extrapolated"] = [not lo <= x[rg.GROWTH] <= hi
                                 for lo, hi in zip(table["growth_min"], table["growth_max"], strict=True)]
        table["chosen"] = table["spec"] == self.chosen
        return table
