"""Least-squares fits of a multiple across peers: coefficients with HC3 errors, prediction
intervals, closed-form leave-one-out, jackknife+ samples and a vectorized pairs bootstrap.

Pure: takes the peer table, returns frozen results. statsmodels stays inside this package.

Conventions: growth and margins are fractions, multiples are ×. Coefficient standard errors
and confidence intervals are HC3 (heteroskedasticity-robust, small-sample corrected).
Prediction intervals are the classical OLS ones, ŷ ± t(n−k) · s · √(1 + x₀'(X'X)⁻¹x₀), because
HC3 has no textbook predictive counterpart; with a dozen peers both are wide, and the report
says so. A log spec is fitted on ln(multiple) and its predictions are back-transformed with
exp(), so its "fair multiple" is the conditional median.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from comps.errors import ModelError
from comps.regression.specs import SPEC_NAMES, SPECS, Spec

#: a left-out log error beyond this (a factor of 10) is scored as this: one peer priced at ≤ 0
#: by a linear fit must not make a method's score infinite, nor dominate it
LOG_ERROR_CAP = math.log(10.0)


@dataclass(frozen=True)
class Interval:
    level: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float


@dataclass(frozen=True)
class Prediction:
    """The fair multiple (×) at one point, with confidence and prediction intervals.

    ``samples`` are the jackknife+ predictive samples on the fitted scale, μ̂₋ᵢ(x₀) + rᵢ with rᵢ
    the left-out residual of peer i (Barber, Candès, Ramdas & Tibshirani 2021)."""

    spec: str
    x: tuple[float, ...]
    multiple: float
    se_mean: float  # on the fitted scale (ln × for log specs)
    se_pred: float
    df_resid: float
    log_y: bool
    intervals: tuple[Interval, ...]
    samples: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    def interval(self, level: float) -> Interval:
        for iv in self.intervals:
            if math.isclose(iv.level, level):
                return iv
        raise KeyError(f"no {level:.0%} interval; have {[iv.level for iv in self.intervals]}")

    def to_frame(self) -> pd.DataFrame:
        """One row per level: mean CI and prediction interval of the multiple (×)."""
        return pd.DataFrame([{"spec": self.spec, "multiple": self.multiple, "level": iv.level,
                              "ci_low": iv.ci_low, "ci_high": iv.ci_high, "pi_low": iv.pi_low,
                              "pi_high": iv.pi_high} for iv in self.intervals])

    def _scale(self, multiple: float) -> float:
        if self.log_y:
            return math.log(multiple) if multiple > 0 else -math.inf
        return multiple

    def percentile(self, multiple: float) -> float:
        """P(a new peer with these regressors trades at or below ``multiple``): the predictive
        distribution's CDF, a Student t with the fit's residual degrees of freedom (on ln × for
        a log spec). Its central (1 − α) interval is the (1 − α) prediction interval."""
        v = self._scale(multiple)
        if v == -math.inf:
            return 0.0
        return float(stats.t.cdf((v - self._scale(self.multiple)) / self.se_pred, self.df_resid))

    def jackknife_plus(self, multiple: float) -> float:
        """The jackknife+ probability of a value at or below ``multiple``: the midpoint of its
        bounds k / (n + 1) and (k + 1) / (n + 1), k the predictive samples at or below it;
        distribution-free, and never 0 % or 100 %."""
        if not self.samples.size:
            return math.nan
        k = int(np.sum(self.samples <= self._scale(multiple)))
        return (k + 0.5) / (self.samples.size + 1)


@dataclass(frozen=True)
class FitResult:
    """A fitted spec. Arrays are in the fit's sample order (``tickers``)."""

    spec: Spec
    tickers: tuple[str, ...]
    X: np.ndarray = field(repr=False)  # n × k, with the constant first
    y: np.ndarray = field(repr=False)  # fitted scale (ln for log specs)
    params: pd.Series
    bse: pd.Series  # HC3
    pvalues: pd.Series
    conf_int: pd.DataFrame  # 95 %, columns low/high
    rsquared: float
    rsquared_adj: float
    aic: float
    sigma: float  # residual standard deviation, fitted scale
    xtx_inv: np.ndarray = field(repr=False)
    dropped: tuple[tuple[str, str], ...] = ()  # (ticker, reason) for peers left out of this fit

    @property
    def n(self) -> int:
        return len(self.tickers)

    @property
    def k(self) -> int:
        return self.X.shape[1]

    @property
    def df_resid(self) -> int:
        return self.n - self.k

    @property
    def observed_multiple(self) -> pd.Series:
        return pd.Series(np.exp(self.y) if self.spec.log_y else self.y, index=list(self.tickers))

    @property
    def loo_multiple(self) -> pd.Series:
        """Per peer, the fitted multiple at its own regressors when it is left out (×)."""
        mu = np.einsum("ij,ij->i", self.loo_params().to_numpy(), self.X)
        return pd.Series(np.exp(mu) if self.spec.log_y else mu, index=list(self.tickers))

    @property
    def loo_log_errors(self) -> pd.Series:
        """Per peer, ln(m̂₋ᵢ/mᵢ): the log error of its fair EV when it is left out of the fit.

        The base (revenue or gross profit) cancels, so methods on either compare on one scale,
        and over- and under-valuing by the same factor count the same. A prediction ≤ 0 is an
        infinite error."""
        return log_errors(self.loo_multiple, self.observed_multiple)

    @property
    def loo_error(self) -> float:
        """Leave-one-out RMS of ln(m̂₋ᵢ/mᵢ) over the fit's own peers, each capped at ln 10."""
        return capped_rms(self.loo_log_errors)

    def x_range(self, column: str | None = None) -> tuple[float, float]:
        """Smallest and largest value of a regressor (default: growth) across the fitted peers."""
        j = 1 + self.spec.x.index(column or self.spec.growth)
        return float(self.X[:, j].min()), float(self.X[:, j].max())

    def extrapolates(self, x: Mapping[str, float]) -> bool:
        """Whether the growth in ``x`` lies outside the fitted peers' range (never, for a baseline)."""
        if self.spec.growth is None:
            return False
        g = x.get(self.spec.growth, math.nan)
        lo, hi = self.x_range()
        return math.isfinite(g) and not lo <= g <= hi

    @property
    def growth_p(self) -> float:
        """HC3 p-value of the growth slope (NaN for a baseline)."""
        return float(self.pvalues[self.spec.growth]) if self.spec.growth else math.nan

    def _row(self, x: Mapping[str, float]) -> np.ndarray:
        try:
            return np.array([1.0, *(float(x[c]) for c in self.spec.x)])
        except KeyError as exc:
            raise ModelError(f"{self.spec.label}: the target has no value for {exc.args[0]}") from None

    def back(self, v):
        """From the fitted scale to a multiple (×)."""
        return np.exp(v) if self.spec.log_y else v

    def predict(self, x: Mapping[str, float], levels: Sequence[float] = (0.8, 0.9, 0.95)) -> Prediction:
        """Fitted multiple at ``x`` with mean CIs, prediction intervals at each level, and the
        jackknife+ samples."""
        x0 = self._row(x)
        mu = float(x0 @ self.params.to_numpy())
        q = float(x0 @ self.xtx_inv @ x0)
        se_mean = self.sigma * math.sqrt(q)
        se_pred = self.sigma * math.sqrt(1.0 + q)
        ivs = []
        for level in levels:
            t = float(stats.t.ppf(0.5 + level / 2, self.df_resid))
            ivs.append(Interval(level, float(self.back(mu - t * se_mean)), float(self.back(mu + t * se_mean)),
                                float(self.back(mu - t * se_pred)), float(self.back(mu + t * se_pred))))
        e, h = self._resid_and_leverage()
        samples = self.loo_params().to_numpy() @ x0 + e / (1.0 - h)  # μ̂₋ᵢ(x₀) + the left-out residual
        return Prediction(self.spec.name, tuple(x0[1:]), float(self.back(mu)), se_mean, se_pred,
                          self.df_resid, self.spec.log_y, tuple(ivs), samples)

    def solve_for_growth(self, multiple: float, x: Mapping[str, float]) -> float:
        """The growth (fraction) at which the fitted line gives ``multiple`` (×), other x held at ``x``.

        NaN for a baseline, when the slope on growth is not positive, or when a log spec meets
        a multiple ≤ 0."""
        g = self.spec.growth
        if g is None:
            return math.nan
        slope = float(self.params[g])
        if slope <= 0 or (self.spec.log_y and multiple <= 0):
            return math.nan
        target = math.log(multiple) if self.spec.log_y else multiple
        rest = float(self.params["const"]) + sum(
            float(self.params[c]) * float(x[c]) for c in self.spec.x if c != g)
        return (target - rest) / slope

    def loo_params(self) -> pd.DataFrame:
        """Coefficients with each peer left out (rows: dropped ticker), exact for OLS:
        β₋ᵢ = β − (X'X)⁻¹xᵢeᵢ/(1−hᵢᵢ) (DFBETA), vectorized."""
        e, h = self._resid_and_leverage()
        delta = (self.X @ self.xtx_inv) * (e / (1.0 - h))[:, None]
        return pd.DataFrame(self.params.to_numpy() - delta, index=list(self.tickers), columns=self.params.index)

    def loo_predict(self, x: Mapping[str, float]) -> pd.DataFrame:
        """Fitted multiple and prediction s.e. at ``x`` with each peer left out, vectorized.

        Uses Sherman–Morrison for (X'X)₋ᵢ⁻¹ and the PRESS identity for s²₋ᵢ."""
        x0 = self._row(x)
        e, h = self._resid_and_leverage()
        mu = self.loo_params().to_numpy() @ x0
        a = self.X @ self.xtx_inv @ x0  # x_i' (X'X)⁻¹ x0
        q = float(x0 @ self.xtx_inv @ x0) + a**2 / (1.0 - h)
        df = self.df_resid - 1
        sse = float(np.sum(e**2)) - e**2 / (1.0 - h)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt(sse / df) if df > 0 else np.full_like(e, np.nan)
        return pd.DataFrame({"multiple": self.back(mu), "mu": mu, "se_pred": s * np.sqrt(1.0 + q),
                             "df_resid": df}, index=list(self.tickers))

    def loo_band(self, x: Mapping[str, float], level: float) -> pd.DataFrame:
        """The fitted multiple and its prediction interval at ``level`` (×) at ``x``, with each
        peer left out."""
        loo = self.loo_predict(x)
        df = loo["df_resid"].to_numpy(dtype=float)
        t = stats.t.ppf(0.5 + level / 2, np.where(df > 0, df, np.nan))
        mu, se = loo["mu"].to_numpy(), loo["se_pred"].to_numpy()
        return pd.DataFrame({"multiple": loo["multiple"].to_numpy(), "low": self.back(mu - t * se),
                             "high": self.back(mu + t * se)}, index=loo.index)

    def _resid_and_leverage(self) -> tuple[np.ndarray, np.ndarray]:
        e = self.y - self.X @ self.params.to_numpy()
        h = np.einsum("ij,jk,ik->i", self.X, self.xtx_inv, self.X)
        return e, h

    def bootstrap(self, x: Mapping[str, float], *, resamples: int = 2000, seed: int = 0,
                  chunk_cells: int = 4_000_000) -> np.ndarray:
        """Pairs bootstrap of the fitted multiple (×) at ``x``: resample peers with replacement
        and refit by least squares, all resamples at once.

        A resample is a vector of counts w over peers, so X'WX = w·(xᵢxᵢ') and X'Wy = w·(xᵢyᵢ)
        are one matrix product each. Resamples whose regressors are collinear are dropped.
        Returns the finite draws; deterministic for a given seed."""
        rng = np.random.default_rng(seed)
        x0 = self._row(x)
        X, y, n, k = self.X, self.y, self.n, self.k
        outer = (X[:, :, None] * X[:, None, :]).reshape(n, k * k)
        xy = X * y[:, None]
        per_chunk = max(1, chunk_cells // max(n, 1))
        out = []
        done = 0
        while done < resamples:
            b = min(per_chunk, resamples - done)
            counts = resample_counts(rng, n, b)
            xtx = (counts @ outer).reshape(b, k, k)
            xty = counts @ xy
            scale = np.abs(xtx).max(axis=(1, 2))
            ok = np.abs(np.linalg.det(xtx)) > 1e-10 * np.maximum(1.0, scale) ** k
            beta = np.linalg.solve(xtx[ok], xty[ok][..., None])[..., 0]
            out.append(beta @ x0)
            done += b
        return self.back(np.concatenate(out))

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: estimate, HC3 s.e., p-value and 95 % CI per term."""
        return pd.DataFrame({
            "spec": self.spec.name, "term": self.params.index, "estimate": self.params.to_numpy(),
            "std_error": self.bse.to_numpy(), "p_value": self.pvalues.to_numpy(),
            "ci95_low": self.conf_int["low"].to_numpy(), "ci95_high": self.conf_int["high"].to_numpy(),
        })

    def summary(self) -> dict[str, Any]:
        """One row for a side-by-side comparison of methods."""
        row = {"spec": self.spec.name, "label": self.spec.label, "kind": self.spec.kind, "n": self.n,
               "r_squared": self.rsquared if self.spec.x else math.nan,
               "adj_r_squared": self.rsquared_adj if self.spec.x else math.nan, "aic": self.aic,
               "growth_p_value": self.growth_p, "residual_sd": self.sigma}
        if self.spec.growth:
            row["growth_min"], row["growth_max"] = self.x_range()
        for term in self.params.index:
            name = "growth" if term == self.spec.growth else term  # one column for LTM and NTM growth
            row[f"coef_{name}"] = float(self.params[term])
            row[f"se_{name}"] = float(self.bse[term])
        return row


def resample_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """``b`` pairs-bootstrap resamples of ``n`` peers as a b × n matrix of draw counts."""
    idx = rng.integers(0, n, size=(b, n))
    return np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n).astype(float)


def log_errors(predicted: pd.Series, observed: pd.Series) -> pd.Series:
    """ln(predicted / observed) per peer; a prediction ≤ 0 is +∞."""
    pred, obs = predicted.to_numpy(dtype=float), observed.to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        err = np.where(pred > 0, np.log(pred / obs), np.inf)
    return pd.Series(err, index=predicted.index)


def capped_rms(errors: pd.Series | np.ndarray) -> float:
    """RMS of log errors, each capped at ±ln 10 (NaN for no errors)."""
    v = np.clip(np.asarray(errors, dtype=float), -LOG_ERROR_CAP, LOG_ERROR_CAP)
    return float(np.sqrt(np.mean(v**2))) if v.size else math.nan


def sample(frame: pd.DataFrame, spec: Spec) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Included peers with every column the spec needs; the others with the reason."""
    included = frame[frame["include"].astype(bool)] if "include" in frame.columns else frame
    absent = [c for c in spec.columns if c not in frame.columns]
    if absent:
        return included.iloc[:0], [(str(t), "missing " + ", ".join(absent)) for t in included.index]
    values = included[list(spec.columns)].apply(pd.to_numeric, errors="coerce")
    finite = np.isfinite(values.to_numpy(dtype=float))
    bad_log = (values[spec.y] <= 0).to_numpy() & finite[:, 0] if spec.log_y else np.zeros(len(values), bool)
    dropped = []
    for i in np.flatnonzero(~finite.all(axis=1) | bad_log):
        gone = [c for c, ok in zip(spec.columns, finite[i], strict=True) if not ok]
        why = "missing " + ", ".join(gone) if gone else f"{spec.y} ≤ 0 cannot be logged"
        dropped.append((str(included.index[i]), why))
    return included[finite.all(axis=1) & ~bad_log], dropped


def design(data: pd.DataFrame, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """(X with a constant first, y on the fitted scale) for the peers in ``data``."""
    X = np.column_stack([np.ones(len(data)), data[list(spec.x)].to_numpy(dtype=float)])
    y = data[spec.y].to_numpy(dtype=float)
    return X, np.log(y) if spec.log_y else y


def fit(frame: pd.DataFrame, spec: Spec, *, min_n: int = 5) -> FitResult:
    """Fit ``spec`` by OLS across the included peers of ``frame`` that have its data.

    Raises ModelError when fewer than ``min_n`` peers (and at least k + 2) remain, or when
    the regressors are collinear (e.g. every peer has the same growth)."""
    # the module itself, not statsmodels.api: 0.2 s less to import
    from statsmodels.regression.linear_model import OLS

    data, dropped = sample(frame, spec)
    n, k = len(data), 1 + len(spec.x)
    need = max(min_n, k + 2)
    if n < need:
        raise ModelError(f"{spec.label}: {n} peers have the data, at least {need} are needed")
    X, y = design(data, spec)
    if np.linalg.matrix_rank(X) < k or np.linalg.cond(X) > 1e10:
        raise ModelError(f"{spec.label}: regressors are collinear across the {n} peers")
    names = ["const", *spec.x]
    ols = OLS(y, X).fit()
    robust = ols.get_robustcov_results(cov_type="HC3")
    return FitResult(
        spec=spec, tickers=tuple(str(t) for t in data.index), X=X, y=y, params=pd.Series(ols.params, index=names),
        bse=pd.Series(robust.bse, index=names), pvalues=pd.Series(robust.pvalues, index=names),
        conf_int=pd.DataFrame(np.asarray(robust.conf_int(0.05)), index=names, columns=["low", "high"]),
        rsquared=float(ols.rsquared), rsquared_adj=float(ols.rsquared_adj), aic=float(ols.aic),
        sigma=math.sqrt(ols.scale), xtx_inv=np.linalg.inv(X.T @ X), dropped=tuple(dropped),
    )


def fit_method(frame: pd.DataFrame, spec: Spec, *, min_n: int = 5):
    """A regression (:class:`FitResult`) or a baseline
    (:class:`~comps.regression.baseline.PeerDistribution`)."""
    if spec.kind == "baseline":
        from comps.regression.baseline import PeerDistribution

        return PeerDistribution.fit(frame, spec, min_n=min_n)
    return fit(frame, spec, min_n=min_n)


def fit_all(frame: pd.DataFrame, specs: Sequence[str] = SPEC_NAMES, *, min_n: int = 5) -> tuple[dict, dict[str, str]]:
    """Fit every method that the data allow. Returns (fits, skipped method -> reason)."""
    fits: dict = {}
    skipped: dict[str, str] = {}
    for name in specs:
        spec = SPECS[name]
        if any(c not in frame.columns for c in spec.columns):
            skipped[name] = f"no {', '.join(c for c in spec.columns if c not in frame.columns)} in the data"
            continue
        try:
            fits[name] = fit_method(frame, spec, min_n=min_n)
        except ModelError as exc:
            skipped[name] = str(exc).removeprefix(f"{spec.label}: ")
    return fits, skipped
