"""Growth-versus-multiple regressions across peers: specs, fits, prediction intervals,
leave-one-out and a vectorized pairs bootstrap.

Pure: takes the peer table, returns frozen results. statsmodels stays inside this module.

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
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from comps.config import SPEC_NAMES
from comps.errors import ModelError

GROWTH = "revenue_growth"
Method = Literal["ols", "huber"]


@dataclass(frozen=True)
class Spec:
    """One regression: multiple ``y`` (×) on ``x`` columns; ``base`` is what the multiple is of."""

    name: str
    label: str
    y: str
    x: tuple[str, ...]
    base: str
    log_y: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.y, *self.x)

    @property
    def growth(self) -> str:
        """The growth regressor (LTM or NTM growth), always the first x."""
        return self.x[0]

    @property
    def y_label(self) -> str:
        """The multiple in words, e.g. 'EV/Revenue (LTM)'."""
        return self.label.split(" ~ ")[0].removeprefix("ln ")


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("ev_revenue", "EV/Revenue (LTM) ~ growth", "ev_to_revenue_ltm", (GROWTH,), "revenue_ltm_usd"),
    Spec("log_ev_revenue", "ln EV/Revenue (LTM) ~ growth", "ev_to_revenue_ltm", (GROWTH,), "revenue_ltm_usd",
         log_y=True),
    Spec("ev_revenue_margin", "EV/Revenue (LTM) ~ growth + gross margin", "ev_to_revenue_ltm",
         (GROWTH, "gross_margin"), "revenue_ltm_usd"),
    Spec("ev_gross_profit", "EV/Gross profit (LTM) ~ growth", "ev_to_gross_profit_ltm", (GROWTH,),
         "gross_profit_ltm_usd"),
    Spec("ev_revenue_ntm", "EV/Revenue (NTM) ~ NTM growth", "ev_to_revenue_ntm", ("revenue_growth_ntm",),
         "revenue_ntm_usd"),
)}
DEFAULT_SPECS = SPEC_NAMES


@dataclass(frozen=True)
class Interval:
    level: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float


@dataclass(frozen=True)
class Prediction:
    """The fitted multiple (×) at one point, with confidence and prediction intervals."""

    spec: str
    x: tuple[float, ...]
    multiple: float
    se_mean: float  # on the fitted scale (ln × for log specs)
    se_pred: float
    df_resid: float
    log_y: bool
    intervals: tuple[Interval, ...]

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

    def percentile(self, multiple: float) -> float:
        """P(a new peer with these regressors trades at or below ``multiple``): the predictive
        distribution's CDF, a Student t with the fit's residual degrees of freedom (on ln × for
        a log spec). Its central (1 − α) interval is the (1 − α) prediction interval."""
        if self.log_y:
            if multiple <= 0:
                return 0.0
            z = (math.log(multiple) - math.log(self.multiple)) / self.se_pred
        else:
            z = (multiple - self.multiple) / self.se_pred
        return float(stats.t.cdf(z, self.df_resid))


@dataclass(frozen=True)
class FitResult:
    """A fitted spec. Arrays are in the fit's sample order (``tickers``)."""

    spec: Spec
    method: Method
    tickers: tuple[str, ...]
    X: np.ndarray = field(repr=False)  # n × k, with the constant first
    y: np.ndarray = field(repr=False)  # fitted scale (ln for log specs)
    params: pd.Series
    bse: pd.Series  # HC3 (OLS) or the robust-norm standard errors (Huber)
    pvalues: pd.Series
    conf_int: pd.DataFrame  # 95 %, columns low/high
    rsquared: float
    rsquared_adj: float
    aic: float
    sigma: float  # residual standard deviation, fitted scale
    xtx_inv: np.ndarray = field(repr=False)
    loo_multiple: pd.Series  # leave-one-out predicted multiple per peer (×)
    dropped: tuple[tuple[str, str], ...] = ()  # (ticker, reason) for peers left out of this fit
    weights: np.ndarray | None = field(default=None, repr=False)  # Huber's final IRLS weights

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
    def loo_log_errors(self) -> pd.Series:
        """Per peer, ln(m̂₋ᵢ/mᵢ): the log error of its fair EV when it is left out of the fit.

        The base (revenue or gross profit) cancels, so specs on either compare on one scale,
        and over- and under-valuing by the same factor count the same. A prediction ≤ 0 is
        an infinite error."""
        pred, obs = self.loo_multiple.to_numpy(), self.observed_multiple.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            err = np.where(pred > 0, np.log(pred / obs), np.inf)
        return pd.Series(err, index=self.loo_multiple.index)

    @property
    def loo_error(self) -> float:
        """Leave-one-out RMSE of ln(m̂₋ᵢ/mᵢ) over the fit's own peers (a log ratio, 0.1 ≈ 10 %)."""
        return _rms(self.loo_log_errors)

    def x_range(self, column: str | None = None) -> tuple[float, float]:
        """Smallest and largest value of a regressor (default: growth) across the fitted peers."""
        j = 1 + self.spec.x.index(column or self.spec.growth)
        return float(self.X[:, j].min()), float(self.X[:, j].max())

    def extrapolates(self, x: Mapping[str, float]) -> bool:
        """Whether the growth in ``x`` lies outside the fitted peers' range."""
        g = x.get(self.spec.growth, math.nan)
        lo, hi = self.x_range()
        return math.isfinite(g) and not lo <= g <= hi

    @property
    def growth_p(self) -> float:
        """HC3 p-value of the growth slope."""
        return float(self.pvalues[self.spec.growth])

    def _row(self, x: Mapping[str, float]) -> np.ndarray:
        try:
            return np.array([1.0, *(float(x[c]) for c in self.spec.x)])
        except KeyError as exc:
            raise ModelError(f"{self.spec.label}: the target has no value for {exc.args[0]}") from None

    def predict(self, x: Mapping[str, float], levels: Sequence[float] = (0.8, 0.9, 0.95)) -> Prediction:
        """Fitted multiple at ``x`` with mean CIs and prediction intervals at each level."""
        x0 = self._row(x)
        mu = float(x0 @ self.params.to_numpy())
        q = float(x0 @ self.xtx_inv @ x0)
        se_mean = self.sigma * math.sqrt(q)
        se_pred = self.sigma * math.sqrt(1.0 + q)
        back = np.exp if self.spec.log_y else (lambda v: v)
        ivs = []
        for level in levels:
            t = float(stats.t.ppf(0.5 + level / 2, self.df_resid))
            ivs.append(Interval(level, float(back(mu - t * se_mean)), float(back(mu + t * se_mean)),
                                float(back(mu - t * se_pred)), float(back(mu + t * se_pred))))
        return Prediction(self.spec.name, tuple(x0[1:]), float(back(mu)), se_mean, se_pred,
                          self.df_resid, self.spec.log_y, tuple(ivs))

    def solve_for_growth(self, multiple: float, x: Mapping[str, float]) -> float:
        """The growth (fraction) at which the fitted line gives ``multiple`` (×), other x held at ``x``.

        NaN when the slope on growth is not positive or a log spec meets a multiple ≤ 0."""
        g = self.spec.growth
        slope = float(self.params[g])
        if slope <= 0 or (self.spec.log_y and multiple <= 0):
            return math.nan
        target = math.log(multiple) if self.spec.log_y else multiple
        rest = float(self.params["const"]) + sum(
            float(self.params[c]) * float(x[c]) for c in self.spec.x if c != g)
        return (target - rest) / slope

    def loo_params(self) -> pd.DataFrame:
        """Coefficients with each peer left out (rows: dropped ticker). Exact for OLS:
        β₋ᵢ = β − (X'X)⁻¹xᵢeᵢ/(1−hᵢᵢ) (DFBETA), vectorized. For a Huber fit the same identity
        on the weighted data holds its final weights fixed (a one-step approximation)."""
        e, h = self._resid_and_leverage()
        sw = self._sqrt_w()
        delta = (self.X * sw[:, None] @ self.xtx_inv) * (e / (1.0 - h))[:, None]
        return pd.DataFrame(self.params.to_numpy() - delta, index=list(self.tickers), columns=self.params.index)

    def loo_predict(self, x: Mapping[str, float]) -> pd.DataFrame:
        """Fitted multiple and prediction s.e. at ``x`` with each peer left out, vectorized.

        Uses Sherman–Morrison for (X'X)₋ᵢ⁻¹ and the PRESS identity for s²₋ᵢ."""
        x0 = self._row(x)
        e, h = self._resid_and_leverage()
        mu = self.loo_params().to_numpy() @ x0
        a = (self.X * self._sqrt_w()[:, None]) @ self.xtx_inv @ x0  # x_i' A x0
        q = float(x0 @ self.xtx_inv @ x0) + a**2 / (1.0 - h)
        df = self.df_resid - 1
        sse = float(np.sum(e**2)) - e**2 / (1.0 - h)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.sqrt(sse / df) if df > 0 else np.full_like(e, np.nan)
        back = np.exp if self.spec.log_y else (lambda v: v)
        return pd.DataFrame({"multiple": back(mu), "mu": mu, "se_pred": s * np.sqrt(1.0 + q),
                             "df_resid": df}, index=list(self.tickers))

    def _sqrt_w(self) -> np.ndarray:
        return np.ones(self.n) if self.weights is None else np.sqrt(self.weights)

    def _resid_and_leverage(self) -> tuple[np.ndarray, np.ndarray]:
        """Residuals and leverages, on the weighted data for a Huber fit (X'X⁻¹ is then X'WX⁻¹)."""
        sw = self._sqrt_w()
        Xw = self.X * sw[:, None]
        e = sw * (self.y - self.X @ self.params.to_numpy())
        h = np.einsum("ij,jk,ik->i", Xw, self.xtx_inv, Xw)
        return e, h

    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: estimate, HC3 s.e., p-value and 95 % CI per term."""
        return pd.DataFrame({
            "spec": self.spec.name, "term": self.params.index, "estimate": self.params.to_numpy(),
            "std_error": self.bse.to_numpy(), "p_value": self.pvalues.to_numpy(),
            "ci95_low": self.conf_int["low"].to_numpy(), "ci95_high": self.conf_int["high"].to_numpy(),
        })

    def summary(self) -> dict[str, Any]:
        """One row for a side-by-side comparison of specs."""
        lo, hi = self.x_range()
        row = {"spec": self.spec.name, "label": self.spec.label, "method": self.method, "n": self.n,
               "r_squared": self.rsquared, "adj_r_squared": self.rsquared_adj, "aic": self.aic,
               "growth_p_value": self.growth_p, "loo_rmse_log": self.loo_error, "residual_sd": self.sigma,
               "growth_min": lo, "growth_max": hi}
        for term in self.params.index:
            name = "growth" if term == self.spec.growth else term  # one column for LTM and NTM growth
            row[f"coef_{name}"] = float(self.params[term])
            row[f"se_{name}"] = float(self.bse[term])
        return row


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


def fit(frame: pd.DataFrame, spec: Spec, *, method: Method = "ols", min_n: int = 5) -> FitResult:
    """Fit ``spec`` across the included peers of ``frame`` that have its data.

    Raises ModelError when fewer than ``min_n`` peers (and at least k + 2) remain, or when
    the regressors are collinear (e.g. every peer has the same growth)."""
    # the modules themselves, not statsmodels.api: 0.2 s less to import
    from statsmodels.regression.linear_model import OLS
    from statsmodels.robust.norms import HuberT
    from statsmodels.robust.robust_linear_model import RLM

    data, dropped = sample(frame, spec)
    n, k = len(data), 1 + len(spec.x)
    need = max(min_n, k + 2)
    if n < need:
        raise ModelError(f"{spec.label}: {n} peers have the data, at least {need} are needed")
    X = np.column_stack([np.ones(n), data[list(spec.x)].to_numpy(dtype=float)])
    y = data[spec.y].to_numpy(dtype=float)
    if spec.log_y:
        y = np.log(y)
    if np.linalg.matrix_rank(X) < k or np.linalg.cond(X) > 1e10:
        raise ModelError(f"{spec.label}: regressors are collinear across the {n} peers")
    names = ["const", *spec.x]
    ols = OLS(y, X).fit()
    weights = None
    if method == "ols":
        robust = ols.get_robustcov_results(cov_type="HC3")
        params, bse, pvalues, ci = ols.params, robust.bse, robust.pvalues, robust.conf_int(0.05)
        sigma = math.sqrt(ols.scale)
        xtx_inv = np.linalg.inv(X.T @ X)
    elif method == "huber":
        rlm = RLM(y, X, M=HuberT()).fit()
        params, bse, pvalues, ci = rlm.params, rlm.bse, rlm.pvalues, rlm.conf_int(0.05)
        sigma, weights = float(rlm.scale), np.asarray(rlm.weights, dtype=float)
        xtx_inv = np.linalg.inv((X * weights[:, None]).T @ X)
    else:
        raise ValueError(f"method must be 'ols' or 'huber', got {method!r}")
    params = pd.Series(params, index=names)
    tickers = tuple(str(t) for t in data.index)
    result = FitResult(
        spec=spec, method=method, tickers=tickers, X=X, y=y, params=params,
        bse=pd.Series(bse, index=names), pvalues=pd.Series(pvalues, index=names),
        conf_int=pd.DataFrame(np.asarray(ci), index=names, columns=["low", "high"]),
        rsquared=float(ols.rsquared), rsquared_adj=float(ols.rsquared_adj), aic=float(ols.aic),
        sigma=sigma, xtx_inv=xtx_inv, loo_multiple=pd.Series(dtype=float), dropped=tuple(dropped),
        weights=weights,
    )
    loo = result.loo_params().to_numpy()
    mu = np.einsum("ij,ij->i", loo, X)
    object.__setattr__(result, "loo_multiple", pd.Series(np.exp(mu) if spec.log_y else mu, index=list(tickers)))
    return result


def fit_all(frame: pd.DataFrame, specs: Sequence[str] = DEFAULT_SPECS, *, method: Method = "ols",
            min_n: int = 5) -> tuple[dict[str, FitResult], dict[str, str]]:
    """Fit every spec that the data allow. Returns (fits, skipped spec -> reason)."""
    fits: dict[str, FitResult] = {}
    skipped: dict[str, str] = {}
    for name in specs:
        spec = SPECS[name]
        if any(c not in frame.columns for c in spec.columns):
            skipped[name] = f"no {', '.join(c for c in spec.columns if c not in frame.columns)} in the data"
            continue
        try:
            fits[name] = fit(frame, spec, method=method, min_n=min_n)
        except ModelError as exc:
            skipped[name] = str(exc).removeprefix(f"{spec.label}: ")
    return fits, skipped


def selection_scores(fits: Mapping[str, FitResult], min_common: int = 3) -> pd.DataFrame:
    """Leave-one-out log RMSE per spec on the peers that every spec fits, so a spec is not
    favoured for leaving out a peer that is hard to price. Falls back to each spec's own
    peers when fewer than ``min_common`` are common. Columns: spec, n_common, loo_rmse_log_common."""
    common = set.intersection(*(set(f.tickers) for f in fits.values())) if fits else set()
    rows = []
    for name, f in fits.items():
        errs = f.loo_log_errors
        on = errs[errs.index.isin(common)] if len(common) >= min_common else errs
        rows.append({"spec": name, "n_common": len(on), "loo_rmse_log_common": _rms(on)})
    return pd.DataFrame(rows, columns=["spec", "n_common", "loo_rmse_log_common"])


def choose_spec(fits: Mapping[str, FitResult]) -> str:
    """The spec with the lowest leave-one-out log RMSE on the common peers (ties: fewer terms,
    then name)."""
    if not fits:
        raise ModelError("no regression could be fitted: see the skipped specs")
    score = selection_scores(fits).set_index("spec")["loo_rmse_log_common"]
    return min(fits, key=lambda s: (score[s], fits[s].k, s))


def compare(fits: Mapping[str, FitResult], candidates: Sequence[str] | None = None) -> pd.DataFrame:
    """Side-by-side summary of fitted specs, one row each, with the selection score among the
    ``candidates`` for the headline (default: all; a spec that cannot value the target is
    fitted and shown, but not a candidate)."""
    table = pd.DataFrame([f.summary() for f in fits.values()])
    among = {k: fits[k] for k in (fits if candidates is None else candidates)}
    return table.merge(selection_scores(among), on="spec", how="left") if len(table) else table


def _rms(values: pd.Series | np.ndarray) -> float:
    v = np.asarray(values, dtype=float)
    return float(np.sqrt(np.mean(v**2))) if v.size else math.nan


def bootstrap(result: FitResult, x: Mapping[str, float], *, resamples: int = 2000, seed: int = 0,
              chunk_cells: int = 4_000_000) -> np.ndarray:
    """Pairs bootstrap of the fitted multiple (×) at ``x``: resample peers with replacement and
    refit by least squares (whatever the fit's method), all resamples at once.

    A resample is a vector of counts w over peers, so X'WX = w·(xᵢxᵢ') and X'Wy = w·(xᵢyᵢ) are one
    matrix product each. Resamples whose regressors are collinear are dropped. Returns the
    finite draws; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    x0 = result._row(x)
    X, y, n, k = result.X, result.y, result.n, result.k
    outer = (X[:, :, None] * X[:, None, :]).reshape(n, k * k)
    xy = X * y[:, None]
    per_chunk = max(1, chunk_cells // max(n, 1))
    out = []
    done = 0
    while done < resamples:
        b = min(per_chunk, resamples - done)
        idx = rng.integers(0, n, size=(b, n))
        counts = np.bincount((idx + n * np.arange(b)[:, None]).ravel(), minlength=b * n).reshape(b, n)
        counts = counts.astype(float)
        xtx = (counts @ outer).reshape(b, k, k)
        xty = counts @ xy
        scale = np.abs(xtx).max(axis=(1, 2))
        ok = np.abs(np.linalg.det(xtx)) > 1e-10 * np.maximum(1.0, scale) ** k
        beta = np.linalg.solve(xtx[ok], xty[ok][..., None])[..., 0]
        out.append(beta @ x0)
        done += b
    mu = np.concatenate(out)
    return np.exp(mu) if result.spec.log_y else mu
