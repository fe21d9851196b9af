"""A method that earns its claims: each finding of the method audit reproduced on the bundled
data and shown fixed, against independent arithmetic (numpy, statsmodels, scipy, by hand)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from comps import bridge, robustness
from comps import regression as rg
from comps.regression import leverage
from comps.target import Offering

SHARES, REV, GM = 215_228_541, 510.0e6, 0.39
CASH, PRIMARY, SPREAD = 701.7e6, 30e6, 0.033


def _fitted(result, spec: str) -> pd.DataFrame:
    return result.peers.loc[list(result.fits[spec].tickers)]


# 1. The EV bridge


def test_the_ev_bridge_takes_the_ipo_cash_out_of_ev(offline_result):
    # the finding: with the post-offering share count and net cash taken as 0, EV = market cap
    assert 185 * 212_965_381 / REV == pytest.approx(77.25, abs=0.01)
    priced = offline_result.headline.set_index("price_point").loc["Priced"]
    net_cash = CASH + PRIMARY * 185 * (1 - SPREAD)  # pre-offering cash + the primary shares' net proceeds
    assert priced["net_cash_usd"] == pytest.approx(net_cash)
    assert priced["ev_to_revenue_ltm"] == pytest.approx((185 * SHARES - net_cash) / REV)
    assert priced["ev_to_revenue_ltm"] < 67.0
    bridge_rows = offline_result.bridge.set_index("price_point")
    # net cash depends on the price point
    assert bridge_rows.loc["IPO range low", "net_cash_usd"] == pytest.approx(CASH + PRIMARY * 115 * (1 - SPREAD))


def test_the_fair_price_moves_by_exactly_the_change_in_net_cash_over_shares(offline_result):
    sv = offline_result.specs[offline_result.chosen]
    delta = 1.0e9
    richer = dataclasses.replace(sv, terms=dataclasses.replace(sv.terms, pre_net_cash=sv.terms.pre_net_cash + delta))
    m = sv.prediction.multiple
    for price in (115.0, 185.0):
        assert richer.fair_price(m, price) - sv.fair_price(m, price) == pytest.approx(delta / SHARES, rel=1e-12)
    # the break-even price solves P × shares − proceeds(P) = fair EV + pre-offering net cash
    a = PRIMARY * (1 - SPREAD)
    assert richer.breakeven() - sv.breakeven() == pytest.approx(delta / (SHARES - a), rel=1e-12)


def test_unsourced_proceeds_carry_the_range_from_none_to_full(offline_result):
    t = offline_result.target
    figures = {k: v for k, v in t.offering.figures.items() if k not in ("primary_shares", "underwriting_spread")}
    loose = dataclasses.replace(t, offering=Offering(figures))
    terms = bridge.terms(loose)
    assert terms.is_range
    assert terms.net_cash(185, "low") == pytest.approx(CASH)  # no proceeds
    assert terms.net_cash(185, "high") == pytest.approx(CASH + 30e6 * 185)  # every offered share primary, gross
    assert any("verdicts use the full-proceeds end" in n for n in terms.notes)
    rows = pd.DataFrame(bridge.bridge_rows(loose)).set_index("price_point")
    assert rows.loc["Priced", "ev_to_revenue_no_proceeds"] == pytest.approx((185 * SHARES - CASH) / REV)
    assert rows.loc["Priced", "ev_to_revenue_ltm"] == pytest.approx((185 * SHARES - CASH - 30e6 * 185) / REV)


def test_fully_diluted_shares_by_the_treasury_stock_method(offline_result):
    t = offline_result.target
    figures = {k: v for k, v in t.offering.figures.items() if k != "fully_diluted_shares"}
    terms = bridge.terms(dataclasses.replace(t, offering=Offering(figures)))
    # options 28.4M at $4.97 and the OpenAI warrant 33,445,026 at $0.00001: RSUs not sourced
    expected = SHARES + 28.4e6 * (1 - 4.97 / 185) + 33_445_026 * (1 - 0.00001 / 185)
    assert terms.diluted_shares(185) == pytest.approx(expected)
    assert any("lower bound: RSUs not sourced" in n for n in terms.notes)
    stated = bridge.terms(t)
    assert stated.diluted_shares(185) == 305.0e6  # the stated count wins


def test_the_checklist_is_shown_on_basic_and_fully_diluted_shares(offline_result):
    chk = offline_result.checklist.set_index("price_point").loc["Priced"]
    assert chk["market_cap_usd"] == pytest.approx(185 * SHARES) and chk["market_cap_usd"] < 40e9
    assert chk["walk_away_headroom_usd"] == pytest.approx(40e9 - 185 * SHARES)
    assert chk["market_cap_diluted_usd"] == pytest.approx(185 * 305e6)
    assert chk["signal"] == "wait" and chk["signal_diluted"].startswith("walk away")


# 2. A baseline every method must beat


def _loo_errors(y: np.ndarray, X: np.ndarray) -> np.ndarray:
    out = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        beta = np.linalg.lstsq(X[keep], y[keep], rcond=None)[0]
        out.append(X[i] @ beta - y[i])
    return np.array(out)


def test_the_growth_regression_loses_to_the_peer_median_and_cannot_supply_a_fair_value(offline_result):
    peers = _fitted(offline_result, "log_ev_revenue")
    y = np.log(peers["ev_to_revenue_ltm"].to_numpy())
    g = peers["revenue_growth"].to_numpy()
    reg = _loo_errors(y, np.column_stack([np.ones(len(y)), g]))
    med = np.array([np.log(np.median(np.delete(np.exp(y), i))) - y[i] for i in range(len(y))])
    rms = lambda e: float(np.sqrt(np.mean(np.clip(e, -np.log(10), np.log(10)) ** 2)))
    table = offline_result.methods.set_index("spec")
    assert table.loc["log_ev_revenue", "loo_rmse_log"] == pytest.approx(rms(reg))
    assert table.loc["log_ev_revenue", "baseline_rmse_log"] == pytest.approx(rms(med))
    assert rms(reg) > rms(med) and not table.loc["log_ev_revenue", "beats_baseline"]
    within = lambda e: float(np.mean(np.abs(np.exp(e) - 1) <= 0.15))
    assert table.loc["log_ev_revenue", "loo_within_15pct"] == pytest.approx(within(reg))
    assert table.loc["median_ev_revenue", "loo_within_15pct"] == pytest.approx(within(med))
    assert offline_result.headline_is_baseline
    assert not table.loc["log_ev_revenue", "candidate"]


# 3. One peer makes the slope


def test_one_peer_carries_the_growth_slope_and_the_evidence_says_so(offline_result):
    peers = _fitted(offline_result, "log_ev_revenue")
    y = np.log(peers["ev_to_revenue_ltm"].to_numpy())
    X = sm.add_constant(peers["revenue_growth"].to_numpy())
    ols = sm.OLS(y, X).fit()
    infl = ols.get_influence()
    ours = offline_result.leverage.query("spec == 'log_ev_revenue'").set_index("ticker").loc[list(peers.index)]
    np.testing.assert_allclose(ours["cooks_distance"], infl.cooks_distance[0], rtol=1e-9)
    np.testing.assert_allclose(ours["dfbetas_growth"], infl.dfbetas[:, 1], rtol=1e-9)
    np.testing.assert_allclose(ours["leverage"], infl.hat_matrix_diag, rtol=1e-9)
    ev = offline_result.evidence["log_ev_revenue"]
    assert "NBIS" in ev.flagged  # its DFBETAS on the slope is far beyond 2/√n
    assert abs(infl.dfbetas[list(peers.index).index("NBIS"), 1]) > 2 / math.sqrt(len(y))
    keep = peers.index != "NBIS"
    without = sm.OLS(y[keep], X[keep]).fit(cov_type="HC3", use_t=True)
    assert ev.slope_without == pytest.approx(without.params[1]) and ev.p_without == pytest.approx(without.pvalues[1])
    assert ev.r_squared_without == pytest.approx(without.rsquared) and without.rsquared < 0.01
    rho = stats.spearmanr(peers["revenue_growth"], y)
    assert ev.spearman_rho == pytest.approx(rho.statistic) and ev.spearman_p == pytest.approx(rho.pvalue)
    ts = stats.theilslopes(y, peers["revenue_growth"].to_numpy())
    assert ev.theil_sen == pytest.approx(ts.slope)
    assert any(w.startswith("leverage: ln EV/Revenue (LTM) ~ growth: NBIS") for w in offline_result.warnings)


def test_the_wild_bootstrap_p_value_equals_a_loop_of_explicit_refits(offline_result):
    f = offline_result.fits["log_ev_revenue"]
    B, seed = 499, 7
    X, y, n = f.X, f.y, f.n
    restricted = X[:, :1] @ np.linalg.lstsq(X[:, :1], y, rcond=None)[0]  # the slope set to 0
    resid = y - restricted

    def hc3_t(yy: np.ndarray) -> float:
        m = sm.OLS(yy, X).fit(cov_type="HC3")
        return m.params[1] / m.bse[1]

    t0 = hc3_t(y)
    signs = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(B, n))
    t_star = np.array([hc3_t(restricted + resid * s) for s in signs])
    expected = (1 + np.sum(np.abs(t_star) >= abs(t0))) / (B + 1)
    assert leverage.wild_bootstrap_p(f, resamples=B, seed=seed) == pytest.approx(expected)


# 4. The spec that explains the peers


def test_gross_margin_explains_the_peers_and_cerebras_has_less_of_it(offline_result):
    peers = _fitted(offline_result, "log_ev_revenue_margin")
    X = sm.add_constant(peers[["revenue_growth", "gross_margin"]].to_numpy())
    m = sm.OLS(np.log(peers["ev_to_revenue_ltm"].to_numpy()), X).fit(cov_type="HC3", use_t=True)
    f = offline_result.fits["log_ev_revenue_margin"]
    assert f.rsquared == pytest.approx(m.rsquared) and f.rsquared > 0.8
    assert f.pvalues["gross_margin"] == pytest.approx(m.pvalues[2]) and m.pvalues[2] < 0.05
    assert int((peers["gross_margin"] > GM).sum()) == len(peers) - 1  # below all but one (SMCI)
    dist = offline_result.peer_distribution
    low = dist[(dist["multiple"] == "ev_to_gross_profit_ltm") & (dist["price_point"] == "IPO range low")].iloc[0]
    ev = 115 * SHARES - CASH - PRIMARY * 115 * (1 - SPREAD)
    assert low["implied_multiple"] == pytest.approx(ev / (REV * GM))
    assert low["implied_multiple"] > 2 * low["peer_max"]


# 5 and 6. LTM as bankers do it, and the target's revenue period


def test_nebius_takes_the_stub_period_ltm(offline_result):
    nbis = offline_result.peers.loc["NBIS"]
    assert nbis["revenue_ltm_usd"] == pytest.approx((529.8 + 399.0 - 50.9) * 1e6)
    assert nbis["ev_to_revenue_ltm"] == pytest.approx(nbis["enterprise_value_usd"] / 877.9e6)


def test_the_target_revenue_lag_is_warned_with_its_size(offline_result):
    peers = _fitted(offline_result, offline_result.chosen)
    ends = sorted(pd.to_datetime(peers["ltm_end_date"]))
    median_end = ends[(len(ends) - 1) // 2].date()
    lag = (median_end - dt.date(2025, 12, 31)).days
    factor = (510.0 / 290.3) ** (lag / 365.25)
    assert offline_result.calendar_lag_days == lag > 45
    assert offline_result.calendar_factor == pytest.approx(factor)
    assert any(w.startswith(f"revenue period: Cerebras Systems's revenue ends 2025-12-31, {lag} days before") and
               f"about {factor - 1:.0%} higher" in w for w in offline_result.warnings)


# 8. A date check that can fail


def test_stale_peers_are_rolled_forward_by_the_benchmarks_return(offline_result):
    rolls = offline_result.rolls.set_index("ticker")
    # ALAB's market cap is from 2026-03-31: SMH closed at 383.40 then and 572.46 on 2026-05-13
    assert rolls.loc["ALAB", "return"] == pytest.approx(572.46 / 383.40 - 1)
    assert rolls.loc["ALAB", "how"].startswith("SMH return")
    rolled = robustness.rolled_table(offline_result.peers, offline_result.rolls)
    alab = offline_result.peers.loc["ALAB"]
    mcap = alab["market_cap_usd"] * 572.46 / 383.40
    assert rolled.loc["ALAB", "enterprise_value_usd"] == pytest.approx(mcap + alab["net_debt_usd"])
    sv = offline_result.specs[offline_result.chosen]
    q3 = np.quantile(rolled.loc[list(sv.fit.tickers), sv.fit.spec.y], 0.75)
    check = offline_result.date_check
    assert check["band_high_multiple_rolled"].iloc[0] == pytest.approx(q3 * (1 - sv.discount.discount))


def _synthetic_peers(stale_return: float = 0.0) -> tuple[pd.DataFrame, list[dict]]:
    as_of = dt.date(2026, 5, 13)
    n = 12
    stale = np.arange(n) % 2 == 1
    multiple = np.linspace(5, 40, n)
    table = pd.DataFrame({"include": True, "segment": "s", "stale": stale, "revenue_growth": np.linspace(0.1, 1, n),
                          "market_cap_date": [as_of - dt.timedelta(days=60) if s else as_of for s in stale],
                          "market_cap_usd": multiple * 1e9, "enterprise_value_usd": multiple * 1e9,
                          "net_debt_usd": 0.0, "revenue_ltm_usd": 1e9, "gross_profit_ltm_usd": 0.6e9,
                          "ev_to_revenue_ltm": multiple, "ev_to_gross_profit_ltm": multiple / 0.6},
                         index=[f"P{i}" for i in range(n)])
    table["growth_adjusted_multiple"] = table["ev_to_revenue_ltm"] / (table["revenue_growth"] * 100)
    bench = [{"ticker": "SMH", "field": "share_price_close", "value": v, "date": d}
             for v, d in ((100.0, as_of - dt.timedelta(days=60)), (100.0 * (1 + stale_return), as_of))]
    return table, bench


def test_the_date_check_can_overturn_a_verdict(offline_result):
    """Six of twelve peers are 60 days stale; the benchmark rose 30 % since: rolled forward, the
    peer upper quartile rises above a price that was 'wait' as built, and the check says so."""
    table, bench = _synthetic_peers(0.30)
    sv0 = offline_result.specs["median_ev_revenue"]
    f = rg.fit_method(table, rg.SPECS["median_ev_revenue"])
    sv = dataclasses.replace(sv0, fit=f, prediction=f.predict({}, (0.5, 0.9)),
                             discount=dataclasses.replace(sv0.discount, discount=0.0))
    q3 = np.quantile(table["ev_to_revenue_ltm"], 0.75)
    rows = pd.DataFrame({"price_point": ["p"], "price_usd": [1.0], "implied_multiple": [q3 * 1.1]})
    rolls = robustness.roll_forward(table, list(table.index), bench, dt.date(2026, 5, 13), "SMH")
    assert np.allclose(rolls["return"], 0.30) and len(rolls) == 6
    frame, note = robustness.date_check(table, sv, rows, {}, rolls, headline=0.9, min_peers=5)
    rolled = table["ev_to_revenue_ltm"] * np.where(table["stale"], 1.3, 1.0)
    assert frame["band_high_multiple_rolled"].iloc[0] == pytest.approx(np.quantile(rolled, 0.75))
    assert frame["wait"].iloc[0] and not frame["wait_rolled"].iloc[0]
    assert "0 of 1 wait/no-wait calls hold" in note
    assert frame["peer_percentile_rolled"].iloc[0] == pytest.approx(float((rolled <= q3 * 1.1).mean()))


def test_a_fresh_peer_refit_with_a_band_wider_than_20_times_has_no_power(offline_result):
    table, bench = _synthetic_peers(0.0)
    table.loc[~table["stale"], "ev_to_revenue_ltm"] = [0.5, 40, 1, 80, 2, 160]  # six fresh peers, wildly apart
    f = rg.fit(table, rg.SPECS["log_ev_revenue"])
    sv0 = offline_result.specs["log_ev_revenue"]
    x = {"revenue_growth": 0.5, "gross_margin": 0.5}
    sv = dataclasses.replace(sv0, fit=f, prediction=f.predict(x, (0.9,)))
    rows = pd.DataFrame({"price_point": ["p"], "price_usd": [1.0], "implied_multiple": [10.0]})
    rolls = robustness.roll_forward(table, list(table.index), bench, dt.date(2026, 5, 13), "SMH")
    frame, note = robustness.date_check(table, sv, rows, x, rolls, headline=0.9, min_peers=5)
    fresh = rg.fit(table[~table["stale"]], rg.SPECS["log_ev_revenue"]).predict(x, (0.9,)).interval(0.9)
    assert frame["fresh_band_ratio"].iloc[0] == pytest.approx(fresh.pi_high / fresh.pi_low) and fresh.pi_high / fresh.pi_low > 20
    assert frame["fresh_no_power"].iloc[0] and "no power to test anything" in note


# The verdict's robustness, and what leads the report


def test_the_verdict_states_where_wait_survives_every_variant(offline_result):
    v = offline_result.verdicts
    variants = [c for c in v.columns if c not in ("price_point", "price_usd", "wait_survives_all", "wait_as_built")]
    assert {"as built", "discount at the low end of its range", "stale peers rolled to the as-of date",
            "target revenue calendarized to the peers' LTM end", "band top at its bootstrap 90% upper bound",
            "all of the above at once"} <= set(variants)
    assert (v["wait_survives_all"] == v[variants].all(axis=1)).all()
    sv = offline_result.specs[offline_result.chosen]
    # by hand at the range low: the implied EV/GP against the discounted peer upper quartile, at the discount's low end
    low = offline_result.headline.iloc[0]
    q3 = np.quantile(sv.fit.multiples, 0.75)
    assert v["discount at the low end of its range"].iloc[0] == (low["implied_multiple"] > q3 * (1 - sv.discount.range[0]))
    assert offline_result.verdict_note.startswith("Wait survives every variant")


def test_when_the_baseline_wins_no_fair_price_leads(offline_result):
    from comps.report.story import method_support, verdict_sentence

    assert offline_result.headline_is_baseline
    assert "fair price" not in verdict_sentence(offline_result).lower()
    assert method_support(offline_result).startswith(("No regression beats", "One regression beats", "2 regressions beat",
                                                          "3 regressions beat", "4 regressions beat"))
    assert "not a regression's fair value" in method_support(offline_result)


def test_the_verdict_is_tested_on_the_core_peers_alone(offline_result):
    peers = offline_result.peers
    sv = offline_result.specs[offline_result.chosen]
    core = peers.loc[peers["include"] & (peers["tier"] == "core"), sv.fit.spec.y].dropna()
    name = next(c for c in offline_result.verdicts.columns if c.startswith("core peers only"))
    assert name.startswith(f"core peers only ({len(core)} of ")
    line = np.quantile(core, 0.75) * (1 - sv.discount.discount)  # their upper quartile, after the discount
    implied = offline_result.headline["implied_multiple"].to_numpy()
    assert list(offline_result.verdicts[name]) == list(implied > line)
