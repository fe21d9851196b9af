"""The no-regression baseline: the peer distribution itself.

A :class:`PeerDistribution` answers the same questions as a
:class:`~comps.regression.fit.FitResult` (a fair multiple, bands, leave-one-out errors, a
bootstrap), so the valuation treats both alike:

- the fair multiple is the peers' median multiple (×), or their geometric mean;
- its band at level L runs between the peers' (1 − L)/2 and (1 + L)/2 quantiles (linear
  interpolation, as pandas), so the 50 % band is the interquartile range;
- the parametric predictive distribution is a Student t(n − 1) on ln(multiple), centred on the
  log of the fair multiple with scale s·√(1 + 1/n);
- the jackknife+ samples are the peers' own log multiples, so its probability is the peers'
  empirical distribution;
- left out, a peer is valued at the median (geometric mean) of the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from comps.errors import ModelError
from comps.regression.fit import Interval, Prediction, capped_rms, log_errors, sample
from comps.regression.specs import Spec


def loo_quantiles(values: np.ndarray, q: float) -> np.ndarray:
    """For each element, the q-quantile of the others (linear interpolation, as numpy and
    pandas), vectorized from one sort: O(n log n)."""
    order = np.argsort(values, kind="stable")
    s = values[order]
    n = len(s)
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    pos = q * (n - 2)  # position among the n − 1 others
    j = math.floor(pos)
    frac = pos - j

    def kth(k: int) -> np.ndarray:  # the k-th smallest of the others, for every left-out rank
        k = min(k, n - 2)
        return np.where(k < rank, s[k], s[min(k + 1, n - 1)])

    return kth(j) + frac * (kth(j + 1) - kth(j)) if frac else kth(j)


def loo_medians(values: np.ndarray) -> np.ndarray:
    """For each element, the median of the others."""
    return loo_quantiles(values, 0.5)


@dataclass(frozen=True)
class PeerDistribution:
    """The peers' ``spec.y`` across ``tickers`` (``y``: their ln multiples); the fair multiple is
    their median or geometric mean (``spec.stat``)."""

    spec: Spec
    tickers: tuple[str, ...]
    y: np.ndarray = field(repr=False)
    dropped: tuple[tuple[str, str], ...] = ()

    @classmethod
    def fit(cls, frame: pd.DataFrame, spec: Spec, *, min_n: int = 5) -> PeerDistribution:
        data, dropped = sample(frame, spec)
        if len(data) < min_n:
            raise ModelError(f"{spec.label}: {len(data)} peers have the data, at least {min_n} are needed")
        return cls(spec, tuple(str(t) for t in data.index), np.log(data[spec.y].to_numpy(dtype=float)),
                   tuple(dropped))

    n = property(lambda self: len(self.tickers))
    k = 1
    df_resid = property(lambda self: self.n - 1)
    rsquared = rsquared_adj = aic = math.nan
    growth_p = math.nan

    @property
    def multiples(self) -> np.ndarray:
        return np.exp(self.y)

    @property
    def center(self) -> float:
        """The fair multiple (×): the median, or the geometric mean."""
        return float(np.median(self.multiples)) if self.spec.stat == "median" else float(np.exp(self.y.mean()))

    def _loo_center(self) -> np.ndarray:
        if self.spec.stat == "median":
            return loo_medians(self.multiples)
        return np.exp((self.y.sum() - self.y) / (self.n - 1))

    @property
    def sigma(self) -> float:
        """Standard deviation of the peers' ln multiples."""
        return float(np.std(self.y, ddof=1))

    @property
    def observed_multiple(self) -> pd.Series:
        return pd.Series(self.multiples, index=list(self.tickers))

    @property
    def loo_multiple(self) -> pd.Series:
        return pd.Series(self._loo_center(), index=list(self.tickers))

    @property
    def loo_log_errors(self) -> pd.Series:
        return log_errors(self.loo_multiple, self.observed_multiple)

    @property
    def loo_error(self) -> float:
        return capped_rms(self.loo_log_errors)

    def extrapolates(self, x: Mapping[str, float]) -> bool:
        return False

    def solve_for_growth(self, multiple: float, x: Mapping[str, float]) -> float:
        return math.nan

    def back(self, v):
        return np.exp(v)

    def predict(self, x: Mapping[str, float], levels: Sequence[float] = (0.5, 0.8, 0.9, 0.95)) -> Prediction:
        """The fair multiple with the peers' empirical quantile bands (no confidence interval)."""
        ivs = []
        for level in levels:
            lo, hi = np.quantile(self.multiples, [(1 - level) / 2, (1 + level) / 2])
            ivs.append(Interval(level, math.nan, math.nan, float(lo), float(hi)))
        return Prediction(self.spec.name, (), self.center, math.nan, self.sigma * math.sqrt(1 + 1 / self.n),
                          self.df_resid, True, tuple(ivs), self.y.copy())

    def loo_band(self, x: Mapping[str, float], level: float) -> pd.DataFrame:
        """The fair multiple and the band at ``level`` (×) with each peer left out."""
        v = self.multiples
        return pd.DataFrame({"multiple": self._loo_center(), "low": loo_quantiles(v, (1 - level) / 2),
                             "high": loo_quantiles(v, (1 + level) / 2)}, index=list(self.tickers))

    def bootstrap(self, x: Mapping[str, float], *, resamples: int = 2000, seed: int = 0,
                  chunk_cells: int = 4_000_000) -> np.ndarray:
        """Pairs bootstrap of the fair multiple (×): the median (geometric mean) of each resample."""
        rng = np.random.default_rng(seed)
        values = self.multiples
        per_chunk = max(1, chunk_cells // max(self.n, 1))
        out = []
        for start in range(0, resamples, per_chunk):
            b = min(per_chunk, resamples - start)
            draw = values[rng.integers(0, self.n, size=(b, self.n))]
            out.append(np.median(draw, axis=1) if self.spec.stat == "median" else np.exp(np.log(draw).mean(axis=1)))
        return np.concatenate(out)

    def to_frame(self) -> pd.DataFrame:
        """The one 'coefficient': the fair multiple (×)."""
        return pd.DataFrame({"spec": [self.spec.name], "term": [self.spec.stat], "estimate": [self.center],
                             "std_error": [math.nan], "p_value": [math.nan], "ci95_low": [math.nan],
                             "ci95_high": [math.nan]})

    def summary(self) -> dict[str, Any]:
        return {"spec": self.spec.name, "label": self.spec.label, "kind": self.spec.kind, "n": self.n,
                "r_squared": math.nan, "adj_r_squared": math.nan, "aic": math.nan, "growth_p_value": math.nan,
                "residual_sd": self.sigma, f"coef_{self.spec.stat}": self.center}
