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
    res = rg.fit(peers, rg.SPECS["ev_revenue_margin"])
    X = design(peers, (GROWTH, "gross_margin"))
    beta, *_ = np.linalg.lstsq(X, peers["ev_to_revenue_ltm"].to_numpy(), rcond=None)
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
    a = rg.bootstrap(res, {GROWTH: 0.5}, resamples=2000, seed=11)
    b = rg.bootstrap(res, {GROWTH: 0.5}, resamples=2000, seed=11)
    c = rg.bootstrap(res, {GROWTH: 0.5}, resamples=2000, seed=12)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 1900 <= a.size <= 2000
    assert np.median(a) == pytest.approx(res.predict({GROWTH: 0.5}).multiple, rel=0.1)


def test_bootstrap_draw_equals_a_refit_on_the_resample(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    draws = rg.bootstrap(res, {GROWTH: 0.5}, resamples=3, seed=5, chunk_cells=10)
    idx = np.random.default_rng(5).integers(0, res.n, size=(1, res.n))[0]
    b = np.linalg.lstsq(res.X[idx], res.y[idx], rcond=None)[0]
    assert draws[0] == pytest.approx(b[0] + 0.5 * b[1], rel=1e-9)


def test_solve_for_growth_inverts_the_fit(peers):
    res = rg.fit(peers, rg.SPECS["ev_revenue"])
    m = res.predict({GROWTH: 0.9}).multiple
    assert res.solve_for_growth(m, {}) == pytest.approx(0.9)


@settings(max_examples=50, deadline=None)
@given(st.permutations(list(range(10))), st.sampled_from(["ev_revenue", "log_ev_revenue", "ev_revenue_margin"]))
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


def _loo_log_rmse(f: pd.DataFrame, cols, log_y: bool, on) -> float:
    """Explicit leave-one-out refits with numpy: RMSE of ln(predicted / actual) over ``on``."""
    errs = []
    for t in on:
        train = f.drop(index=t)
        y = train["ev_to_revenue_ltm"].to_numpy()
        beta, *_ = np.linalg.lstsq(design(train, cols), np.log(y) if log_y else y, rcond=None)
        pred = np.array([1.0, *f.loc[t, list(cols)]]) @ beta
        errs.append((pred if log_y else np.log(pred)) - np.log(f.loc[t, "ev_to_revenue_ltm"]))
    return float(np.sqrt(np.mean(np.square(errs))))


def test_spec_choice_scores_log_loo_error_on_the_common_peers(peers):
    f = peers.copy()
    f.loc["P9", "gross_margin"] = np.nan  # the margin spec fits 9 peers, the others 10
    fits, _ = rg.fit_all(f, ("ev_revenue", "log_ev_revenue", "ev_revenue_margin"))
    common = [t for t in f.index if t != "P9"]
    expected = {
        "ev_revenue": _loo_log_rmse(f, (GROWTH,), False, common),
        "log_ev_revenue": _loo_log_rmse(f, (GROWTH,), True, common),
        "ev_revenue_margin": _loo_log_rmse(f.drop(index="P9"), (GROWTH, "gross_margin"), False, common),
    }
    scores = rg.selection_scores(fits).set_index("spec")
    assert (scores["n_common"] == 9).all()
    for name, value in expected.items():
        assert scores.loc[name, "loo_rmse_log_common"] == pytest.approx(value, rel=1e-9)
    assert fits["ev_revenue"].loo_error == pytest.approx(_loo_log_rmse(f, (GROWTH,), False, f.index), rel=1e-9)
    assert rg.choose_spec(fits) == min(expected, key=expected.get)


def test_a_negative_loo_prediction_is_an_infinite_log_error():
    # P5's 30× at 200 % growth makes the line steep, so P0 and P1, left out, are predicted < 0
    f = frame([0.1, 0.2, 0.3, 0.4, 0.5, 2.0], [1.0, 1.2, 1.1, 1.3, 1.2, 30.0])
    res = rg.fit(f, rg.SPECS["ev_revenue"])
    negative = res.loo_multiple <= 0
    assert list(res.loo_multiple.index[negative]) == ["P0", "P1"]
    assert np.isinf(res.loo_log_errors[negative]).all() and res.loo_error == np.inf
    assert np.isfinite(res.loo_log_errors[~negative]).all()


def test_huber_fit_downweights_an_outlier(peers):
    f = peers.copy()
    f.iloc[0, f.columns.get_loc("ev_to_revenue_ltm")] = 200.0
    ols = rg.fit(f, rg.SPECS["ev_revenue"])
    hub = rg.fit(f, rg.SPECS["ev_revenue"], method="huber")
    clean = rg.fit(peers, rg.SPECS["ev_revenue"])
    assert abs(hub.params[GROWTH] - clean.params[GROWTH]) < abs(ols.params[GROWTH] - clean.params[GROWTH])
