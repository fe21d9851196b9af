"""The regression layer against independent arithmetic: numpy least squares, the textbook
prediction interval, the HC3 sandwich formula and explicit leave-one-out refits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from comps import regression as rg
from comps.errors import ModelError
from comps.regression import selection

GROWTH = rg.GROWTH


def frame(growth, multiple, margin=None, include=None) -> pd.DataFrame:
    n = len(growth)
    data = {GROWTH: growth, "ev_to_revenue_ltm": multiple, "include": include or [True] * n,
            "gross_margin": margin if margin is not None else np.linspace(0.4, 0.8, n)}
    return pd.DataFrame(data, index=[f"P{i}" for i in range(n)])


@pytest.fixture
def peers() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    g = np.array([0.1, 0.25, 0.3, 0.45, 0.6, 0.8, 1.1, 1.5, 0.05, 0.35])
    m = 8 + 12 * g + rng.normal(0, 2.0, g.size)
    return frame(g, m, margin=rng.uniform(0.3, 0.8, g.size))


def design(f: pd.DataFrame, cols=(GROWTH,)) -> np.ndarray:
    return np.column_stack([np.ones(len(f)), f[list(cols)].to_numpy()])


def test_fit_matches_numpy_least_squares(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    X, y = design(peers), peers["ev_to_revenue_ltm"].to_numpy()
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-10)
    resid = y - X @ beta
    r2 = 1 - resid @ resid / np.sum((y - y.mean()) ** 2)
    assert res.rsquared == pytest.approx(r2, rel=1e-10)
    assert res.n == 10 and res.df_resid == 8


def test_two_regressor_spec_matches_numpy(peers):
    res = rg.fit(peers, rg.SPECS["log_ev_revenue_margin"])
    X = design(peers, (GROWTH, "gross_margin"))
    beta, *_ = np.linalg.lstsq(X, np.log(peers["ev_to_revenue_ltm"].to_numpy()), rcond=None)
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-10)


def test_log_spec_fits_log_multiple(peers):
    res = rg.fit(peers, rg.SPECS["log_ev_revenue"])
    beta, *_ = np.linalg.lstsq(design(peers), np.log(peers["ev_to_revenue_ltm"].to_numpy()), rcond=None)
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-10)
    p = res.predict({GROWTH: 0.7})
    assert p.multiple == pytest.approx(np.exp(beta[0] + 0.7 * beta[1]))


def test_hc3_standard_errors_match_sandwich_formula(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    X, y = design(peers), peers["ev_to_revenue_ltm"].to_numpy()
    A = np.linalg.inv(X.T @ X)
    e = y - X @ (A @ X.T @ y)
    h = np.diag(X @ A @ X.T)
    meat = X.T @ np.diag((e / (1 - h)) ** 2) @ X
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(A @ meat @ A)), rtol=1e-8)


def test_prediction_interval_matches_textbook_formula(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    X, y = design(peers), peers["ev_to_revenue_ltm"].to_numpy()
    n, k = X.shape
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    s2 = np.sum((y - X @ beta) ** 2) / (n - k)
    x0 = np.array([1.0, 0.76])
    q = x0 @ np.linalg.inv(X.T @ X) @ x0
    for level in (0.8, 0.9, 0.95):
        t = stats.t.ppf(0.5 + level / 2, n - k)
        iv = res.predict({GROWTH: 0.76}, (level,)).interval(level)
        assert iv.pi_low == pytest.approx(x0 @ beta - t * np.sqrt(s2 * (1 + q)), rel=1e-10)
        assert iv.pi_high == pytest.approx(x0 @ beta + t * np.sqrt(s2 * (1 + q)), rel=1e-10)
        assert iv.ci_high - iv.ci_low < iv.pi_high - iv.pi_low
    table = res.predict({GROWTH: 0.76}).to_frame().set_index("level")
    assert list(table.index) == [0.8, 0.9, 0.95] and (table["pi_high"] > table["ci_high"]).all()


def test_percentile_is_half_at_the_fit_and_monotone(peers):
    p = rg.fit(peers, rg.SPECS["ev_revenue"]).predict({GROWTH: 0.5})
    assert p.percentile(p.multiple) == pytest.approx(0.5)
    assert p.percentile(p.interval(0.9).pi_high) == pytest.approx(0.95)
    assert p.percentile(p.multiple + 1) > p.percentile(p.multiple)


def test_leave_one_out_matches_explicit_refits(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    X, y = design(peers), peers["ev_to_revenue_ltm"].to_numpy()
    x0 = {GROWTH: 0.76}
    loo = res.loo_predict(x0)
    for i, ticker in enumerate(peers.index):
        Xi, yi = np.delete(X, i, 0), np.delete(y, i)
        b = np.linalg.lstsq(Xi, yi, rcond=None)[0]
        s2 = np.sum((yi - Xi @ b) ** 2) / (len(yi) - 2)
        x = np.array([1.0, 0.76])
        se = np.sqrt(s2 * (1 + x @ np.linalg.inv(Xi.T @ Xi) @ x))
        np.testing.assert_allclose(res.loo_params().loc[ticker].to_numpy(), b, rtol=1e-9)
        assert loo.loc[ticker, "multiple"] == pytest.approx(x @ b, rel=1e-9)
        assert loo.loc[ticker, "se_pred"] == pytest.approx(se, rel=1e-9)
        assert res.loo_multiple[ticker] == pytest.approx(X[i] @ b, rel=1e-9)


def test_bootstrap_is_reproducible_and_centred(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    a = res.bootstrap({GROWTH: 0.5}, resamples=2000, seed=11)
    b = res.bootstrap({GROWTH: 0.5}, resamples=2000, seed=11)
    c = res.bootstrap({GROWTH: 0.5}, resamples=2000, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 1900 <= a.size <= 2000
    assert np.median(a) == pytest.approx(res.predict({GROWTH: 0.5}).multiple, rel=0.1)


def test_bootstrap_draw_equals_a_refit_on_the_resample(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    draws = res.bootstrap({GROWTH: 0.5}, resamples=3, seed=5, chunk_cells=10)
    idx = np.random.default_rng(5).integers(0, res.n, size=(1, res.n))[0]
    b = np.linalg.lstsq(res.X[idx], res.y[idx], rcond=None)[0]
    assert draws[0] == pytest.approx(b[0] + 0.5 * b[1], rel=1e-9)


def test_solve_for_growth_inverts_the_fit(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    m = res.predict({GROWTH: 0.9}).multiple
    assert res.solve_for_growth(m, {}) == pytest.approx(0.9)


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(range(10))), st.sampled_from(["ev_revenue", "log_ev_revenue", "log_ev_revenue_margin"]))
def test_peer_order_does_not_change_the_fit(order, spec):
    rng = np.random.default_rng(7)
    g = np.array([0.1, 0.25, 0.3, 0.45, 0.6, 0.8, 1.1, 1.5, 0.05, 0.35])
    f = frame(g, 8 + 12 * g + rng.normal(0, 2.0, g.size), margin=rng.uniform(0.3, 0.8, g.size))
    a = rg.fit(f, rg.SPECS[spec])
    b = rg.fit(f.iloc[list(order)], rg.SPECS[spec])
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-9)
    assert b.predict({GROWTH: 0.7, "gross_margin": 0.5}).multiple == pytest.approx(
        a.predict({GROWTH: 0.7, "gross_margin": 0.5}).multiple)


def test_excluded_and_incomplete_peers_are_left_out_with_reasons():
    f = frame([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], [5, 6, 8, 9, np.nan, 12, 30],
              include=[True] * 6 + [False])
    res = rg.fit(f, rg.SPECS["ev_revenue"], min_n=5)
    assert res.n == 5 and "P6" not in res.tickers
    assert dict(res.dropped) == {"P4": "missing ev_to_revenue_ltm"}


def test_too_few_peers_or_collinear_growth_raise_model_error():
    with pytest.raises(ModelError, match="3 peers have the data"):
        rg.fit(frame([0.1, 0.2, 0.3], [1, 2, 3]), rg.SPECS["ev_revenue"])
    with pytest.raises(ModelError, match="collinear"):
        rg.fit(frame([0.2] * 6, [1, 2, 3, 4, 5, 6]), rg.SPECS["ev_revenue"])


def _loo_log_errors(f: pd.DataFrame, cols, log_y: bool, on) -> np.ndarray:
    """Explicit leave-one-out refits with numpy: ln(predicted / actual) for each peer in ``on``,
    trained on the others in ``on``."""
    errs = []
    sub = f.loc[list(on)]
    for t in on:
        train = sub.drop(index=t)
        y = train["ev_to_revenue_ltm"].to_numpy()
        beta, *_ = np.linalg.lstsq(design(train, cols), np.log(y) if log_y else y, rcond=None)
        pred = np.array([1.0, *f.loc[t, list(cols)]]) @ beta
        errs.append((pred if log_y else np.log(pred)) - np.log(f.loc[t, "ev_to_revenue_ltm"]))
    return np.array(errs)


def _rms(e) -> float:
    e = np.clip(np.asarray(e, dtype=float), -np.log(10), np.log(10))
    return float(np.sqrt(np.mean(e**2)))


def _median_loo(f: pd.DataFrame, on) -> np.ndarray:
    v = f.loc[list(on), "ev_to_revenue_ltm"]
    return np.array([np.log(np.median(v.drop(index=t)) / v[t]) for t in on])


def test_each_regression_is_scored_against_the_peer_median_on_its_own_peers(peers):
    f = peers.copy()
    f.loc["P9", "gross_margin"] = np.nan  # the margin spec fits 9 peers, the others 10
    names = ("ev_revenue", "log_ev_revenue", "log_ev_revenue_margin", "median_ev_revenue", "geomean_ev_revenue")
    fits, _ = rg.fit_all(f, names)
    table = selection.compare_methods(fits, f, set(names)).set_index("spec")
    nine = [t for t in f.index if t != "P9"]
    own = {"ev_revenue": _rms(_loo_log_errors(f, (GROWTH,), False, f.index)),
           "log_ev_revenue": _rms(_loo_log_errors(f, (GROWTH,), True, f.index)),
           "log_ev_revenue_margin": _rms(_loo_log_errors(f, (GROWTH, "gross_margin"), True, nine))}
    base = {"ev_revenue": _rms(_median_loo(f, f.index)), "log_ev_revenue": _rms(_median_loo(f, f.index)),
            "log_ev_revenue_margin": _rms(_median_loo(f, nine))}
    for name, error in own.items():
        assert table.loc[name, "loo_rmse_log"] == pytest.approx(error, rel=1e-9)
        assert table.loc[name, "baseline_rmse_log"] == pytest.approx(base[name], rel=1e-9)
        assert table.loc[name, "beats_baseline"] == (error < base[name])
    # every candidate is refitted and scored on the 9 peers they all share
    common = {"log_ev_revenue": _rms(_loo_log_errors(f, (GROWTH,), True, nine)),
              "median_ev_revenue": _rms(_median_loo(f, nine))}
    for name, value in common.items():
        if table.loc[name, "candidate"]:
            assert table.loc[name, "loo_rmse_log_common"] == pytest.approx(value, rel=1e-9)
    errors = _loo_log_errors(f, (GROWTH,), True, f.index)
    assert table.loc["log_ev_revenue", "loo_median_abs_log"] == pytest.approx(np.median(np.abs(errors)))
    assert table.loc["log_ev_revenue", "loo_within_15pct"] == pytest.approx(np.mean(np.abs(np.exp(errors) - 1) <= 0.15))


def _synthetic(slope: float, seed: int, n: int = 14) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.linspace(0.1, 1.6, n)
    return frame(g, np.exp(2.5 + slope * g + rng.normal(0, 0.3, n)))


def test_a_zero_slope_selects_the_baseline_and_a_strong_slope_the_regression():
    names = ("ev_revenue", "log_ev_revenue", "median_ev_revenue", "geomean_ev_revenue")
    flat = _synthetic(0.0, seed=3)
    fits, _ = rg.fit_all(flat, names)
    assert abs(fits["log_ev_revenue"].params[GROWTH] / fits["log_ev_revenue"].bse[GROWTH]) < 2
    chosen = selection.choose(selection.compare_methods(fits, flat, set(names)))
    assert rg.SPECS[chosen].kind == "baseline"
    steep = _synthetic(2.0, seed=3)
    fits, _ = rg.fit_all(steep, names)
    assert fits["log_ev_revenue"].params[GROWTH] / fits["log_ev_revenue"].bse[GROWTH] > 5
    table = selection.compare_methods(fits, steep, set(names))
    assert selection.choose(table) == "log_ev_revenue"
    assert table.set_index("spec").at["log_ev_revenue", "beats_baseline"]


def test_a_negative_loo_prediction_is_an_infinite_log_error_capped_in_the_score():
    # P5's 30× at 200 % growth makes the line steep, so P0 and P1, left out, are predicted < 0
    f = frame([0.1, 0.2, 0.3, 0.4, 0.5, 2.0], [1.0, 1.2, 1.1, 1.3, 1.2, 30.0])
    res = rg.fit(f, rg.SPECS["ev_revenue"])
    negative = res.loo_multiple <= 0
    assert list(res.loo_multiple.index[negative]) == ["P0", "P1"]
    assert np.isinf(res.loo_log_errors[negative]).all()
    assert res.loo_error == pytest.approx(_rms(res.loo_log_errors))
    assert np.isfinite(res.loo_error) and res.loo_error > 0
