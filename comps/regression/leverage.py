"""Is the growth slope the peers', or one peer's? Diagnostics that look at leverage before a
slope is trusted. Pure functions of a :class:`~comps.regression.fit.FitResult`.

- Per peer: leverage hᵢ, Cook's distance, DFBETAS on the growth slope and the externally
  studentized residual. A peer is flagged when Cook's D > 1 or |DFBETAS| > 2/√n (Belsley, Kuh
  & Welsch 1980); the fit is repeated without the flagged peers.
- The slope's p-value from a wild bootstrap (Rademacher weights on the residuals of the fit
  restricted to a zero slope, HC3 t statistics; Davidson & Flachaire 2008, MacKinnon 2013),
  because every sandwich estimator is unreliable at leverage near 1 (Chesher & Jewitt 1987).
- Rank checks that no single peer can carry: the Theil–Sen slope with its 95 % interval and
  Spearman's ρ between growth and the multiple.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from comps.errors import ModelError
from comps.regression.fit import FitResult, fit

#: rank checks are O(n²) in memory; above this many peers they are skipped, and said so
RANK_CHECK_MAX_N = 2000


def influence_table(f: FitResult) -> pd.DataFrame:
    """Per peer: leverage, Cook's distance, DFBETAS on the growth slope, externally studentized
    residual, and whether it is flagged (Cook's D > 1 or |DFBETAS| > 2/√n)."""
    e, h = f._resid_and_leverage()
    n, k = f.n, f.k
    s2 = f.sigma**2
    cooks = e**2 * h / (k * s2 * (1 - h) ** 2)
    s2_loo = (np.sum(e**2) - e**2 / (1 - h)) / (n - k - 1) if n > k + 1 else np.full(n, np.nan)
    j = 1 + f.spec.x.index(f.spec.growth)
    dfbeta = (f.X @ f.xtx_inv)[:, j] * e / (1 - h)
    with np.errstate(divide="ignore", invalid="ignore"):
        dfbetas = dfbeta / np.sqrt(s2_loo * f.xtx_inv[j, j])
        student = e / np.sqrt(s2_loo * (1 - h))
    threshold = 2 / math.sqrt(n)
    return pd.DataFrame({"spec": f.spec.name, "ticker": list(f.tickers), "leverage": h, "cooks_distance": cooks,
                         "dfbetas_growth": dfbetas, "studentized_residual": student,
                         "flagged": (cooks > 1) | (np.abs(dfbetas) > threshold)})


def wild_bootstrap_p(f: FitResult, *, resamples: int = 1999, seed: int = 0) -> float:
    """Two-sided wild-bootstrap p-value of the growth slope: residuals of the fit with the slope
    restricted to 0, times Rademacher signs, refitted; the share of HC3 |t*| ≥ |t| (with the
    observed one counted: (1 + #)/(B + 1)). Vectorized over resamples."""
    j = 1 + f.spec.x.index(f.spec.growth)
    X, y = f.X, f.y
    Xr = np.delete(X, j, axis=1)
    beta_r = np.linalg.lstsq(Xr, y, rcond=None)[0]
    fitted_r, resid_r = Xr @ beta_r, y - Xr @ beta_r
    A = f.xtx_inv @ X.T  # k × n: β = A y
    h = np.einsum("ij,jk,ik->i", X, f.xtx_inv, X)
    weight = A[j] ** 2 / (1 - h) ** 2

    def t_stat(Y: np.ndarray) -> np.ndarray:  # Y: b × n  → HC3 t of coefficient j per row
        beta = Y @ A.T
        e = Y - beta @ X.T
        return beta[:, j] / np.sqrt((e**2) @ weight)

    t0 = float(t_stat(y[None, :])[0])
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(resamples, f.n))
    t_star = t_stat(fitted_r[None, :] + resid_r[None, :] * signs)
    return float((1 + np.sum(np.abs(t_star) >= abs(t0))) / (resamples + 1))


@dataclass(frozen=True)
class SlopeEvidence:
    """What the peers say about the growth slope of one spec, beyond its HC3 p-value."""

    spec: str
    n: int
    slope: float
    p_hc3: float
    r_squared: float
    p_wild: float
    wild_resamples: int
    wild_seed: int
    theil_sen: float  # slope per unit of growth (fraction), on the fitted scale
    theil_sen_low: float
    theil_sen_high: float
    spearman_rho: float
    spearman_p: float
    flagged: tuple[str, ...]
    slope_without: float  # refitted without the flagged peers
    p_without: float
    r_squared_without: float
    n_without: int
    note: str = ""

    @property
    def rests_on_flagged(self) -> bool:
        """Whether the slope looked significant only with the flagged peers in."""
        return bool(self.flagged) and self.p_hc3 < 0.10 <= self.p_without

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])


def slope_evidence(frame: pd.DataFrame, f: FitResult, *, resamples: int = 1999, seed: int = 0,
                   min_n: int = 5) -> SlopeEvidence:
    """The slope's evidence for a regression ``f`` fitted on ``frame``: wild bootstrap, rank
    checks, and the fit without the peers the influence table flags."""
    from scipy import stats

    j = 1 + f.spec.x.index(f.spec.growth)
    g, y = f.X[:, j], f.y
    note = []
    if f.n <= RANK_CHECK_MAX_N:
        ts = stats.theilslopes(y, g, alpha=0.95)
        rho = stats.spearmanr(g, y)
        theil, lo, hi, r, rp = float(ts.slope), float(ts.low_slope), float(ts.high_slope), float(rho.statistic), \
            float(rho.pvalue)
    else:
        theil = lo = hi = r = rp = math.nan
        note.append(f"rank checks skipped above {RANK_CHECK_MAX_N} peers")
    flagged = tuple(influence_table(f).query("flagged")["ticker"])
    without = [t for t in f.tickers if t not in flagged]
    try:
        g2 = fit(frame.loc[without], f.spec, min_n=min_n) if flagged else f
        slope2, p2, r2 = float(g2.params[f.spec.growth]), g2.growth_p, g2.rsquared
    except ModelError as exc:
        slope2 = p2 = r2 = math.nan
        note.append(f"no refit without the flagged peers: {exc}")
    return SlopeEvidence(
        spec=f.spec.name, n=f.n, slope=float(f.params[f.spec.growth]), p_hc3=f.growth_p, r_squared=f.rsquared,
        p_wild=wild_bootstrap_p(f, resamples=resamples, seed=seed), wild_resamples=resamples, wild_seed=seed,
        theil_sen=theil, theil_sen_low=lo, theil_sen_high=hi, spearman_rho=r, spearman_p=rp, flagged=flagged,
        slope_without=slope2, p_without=p2, r_squared_without=r2, n_without=len(without), note="; ".join(note))
