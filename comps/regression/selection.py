"""Which method may value the target: every regression is scored against the no-regression
baseline on the same peers, leave one out, and only one that beats it may supply a fair value.

Scores are on the log scale, ln(m̂₋ᵢ/mᵢ) for each peer i left out (the base cancels, so revenue
and gross-profit methods compare on one scale):

- ``loo_rmse_log``: RMS with each error capped at ±ln 10, so one peer priced at ≤ 0 by a linear
  fit does not make a score infinite;
- ``loo_median_abs_log``: the median |error| (Dittmann & Maug 2008 argue for the median under
  log errors);
- ``loo_within_15pct``: the share of peers valued within ±15 % (Kim & Ritter 1999).

Two stages:

1. *Eligibility.* A regression is eligible only if its RMS beats the peer median of the same
   multiple on the regression's own peers (the same peers, each left out in turn).
2. *Headline.* Among the eligible regressions and the baselines that can value the target, every
   candidate is refitted on the peers all of them share and scored there (same training and
   evaluation peers for all); the lowest RMS wins, ties to the baseline, then to fewer terms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from comps.errors import ModelError
from comps.regression.fit import LOG_ERROR_CAP, capped_rms, fit_method
from comps.regression.specs import BASELINE, SPECS

SCORE_COLUMNS = ["loo_rmse_log", "loo_median_abs_log", "loo_within_15pct"]


def scores(errors: pd.Series) -> dict[str, float]:
    """The three leave-one-out scores of a set of log errors."""
    e = errors.to_numpy(dtype=float)
    if not e.size:
        return dict.fromkeys(SCORE_COLUMNS, math.nan)
    return {"loo_rmse_log": capped_rms(e), "loo_median_abs_log": float(np.median(np.minimum(np.abs(e), LOG_ERROR_CAP))),
            "loo_within_15pct": float(np.mean(np.abs(np.exp(np.clip(e, -50, 50)) - 1) <= 0.15))}


def _refit(frame: pd.DataFrame, name: str, tickers, min_n: int):
    return fit_method(frame.loc[list(tickers)], SPECS[name], min_n=min_n)


def compare_methods(fits: Mapping[str, object], frame: pd.DataFrame, candidates: set[str], *,
                    min_n: int = 5) -> pd.DataFrame:
    """One row per fitted method: its own leave-one-out scores, the peer-median baseline's on
    the same peers, whether it beats it, and the score on the peers common to the candidates
    (``candidates``: the methods that can value the target). Column ``chosen`` marks the winner."""
    rows = []
    for name, f in fits.items():
        spec = f.spec
        row = {"spec": name, "kind": spec.kind, "n": f.n, **scores(f.loo_log_errors)}
        if spec.kind == "regression" and spec.y in BASELINE:
            try:
                base = _refit(frame, BASELINE[spec.y], f.tickers, min_n)
                row["baseline_rmse_log"] = base.loo_error
                row["beats_baseline"] = bool(row["loo_rmse_log"] < base.loo_error)
            except ModelError:
                row["baseline_rmse_log"], row["beats_baseline"] = math.nan, False
        else:
            row["baseline_rmse_log"], row["beats_baseline"] = math.nan, spec.kind == "baseline"
        row["candidate"] = name in candidates and bool(row["beats_baseline"])
        rows.append(row)
    table = pd.DataFrame(rows)
    eligible = table.loc[table["candidate"], "spec"].tolist()
    common = set.intersection(*(set(fits[s].tickers) for s in eligible)) if eligible else set()
    table["n_common"] = np.nan
    table["loo_rmse_log_common"] = np.nan
    for i, name in table["spec"].items():
        if not table.at[i, "candidate"]:
            continue
        try:
            f = _refit(frame, name, sorted(common), min_n) if len(common) >= min_n else fits[name]
        except ModelError:
            f = fits[name]
        table.at[i, "n_common"] = f.n
        table.at[i, "loo_rmse_log_common"] = f.loo_error
    table["chosen"] = False
    if eligible:
        best = min(eligible, key=lambda s: (table.set_index("spec").at[s, "loo_rmse_log_common"],
                                            SPECS[s].kind != "baseline", len(SPECS[s].x), s))
        table.loc[table["spec"] == best, "chosen"] = True
    return table


def choose(table: pd.DataFrame) -> str:
    """The winning method of :func:`compare_methods`."""
    chosen = table.loc[table["chosen"], "spec"]
    if chosen.empty:
        raise ModelError("no method can value the target: see the skipped specs")
    return str(chosen.iloc[0])
