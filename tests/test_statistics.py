"""Claims only the data support: point-in-time figures, a predictive headline probability, no
negative bound, the slope-free peer comparison, the refit on fresh market data, and the
concentration discount's range. Checked against independent arithmetic."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from comps import regression as rg
from comps import valuation as val
from comps.concentration import ConcentrationConfig, concentration_discount
from comps.diagnostics import date_robustness
from comps.sources.snapshot import load_snapshots

HEADER = "ticker,field,value,unit,date,published,source_url,note\n"


def test_figures_published_after_the_as_of_date_are_left_out_and_named(tmp_path):
    (tmp_path / "2026-05-12.csv").write_text(
        HEADER
        + "AAA,revenue_fy,100,USD millions,2025-12-31,2026-02-20,https://x,FY\n"
        + "AAA,revenue_fy,80,USD millions,2024-12-31,2025-02-20,https://x,FY\n"
        + "AAA,cash,4,USD millions,2025-12-31,2026-02-20,https://x,the balance sheet public at the as-of date\n"
        + "BBB,market_cap,450,USD millions,2026-05-12,2026-05-12,https://x,the day before\n")
    (tmp_path / "2026-05-20.csv").write_text(
        HEADER
        + "AAA,cash,5,USD millions,2026-03-31,2026-05-20,https://x,published a week after the as-of date\n"
        + "AAA,market_cap,900,USD millions,2026-05-14,2026-05-14,https://x,the day after\n"
        + "BBB,market_cap,500,USD millions,2026-05-14,2026-05-14,https://x,the day after\n")
    s = load_snapshots(tmp_path, dt.date(2026, 5, 13))
    used = {(r["ticker"], r["field"]): r["value"] for r in s.rows if r["field"] != "revenue_fy"}
    assert used[("AAA", "cash")] == 4e6  # the later balance sheet was not public yet
    assert used[("AAA", "market_cap")] == 900e6  # no close on or before: the look-ahead one, named
    assert used[("BBB", "market_cap")] == 450e6  # a close on or before the as-of date wins
    assert [(r["ticker"], r["field"]) for r in s.lookahead] == [("AAA", "market_cap")]
    reasons = {(r["ticker"], r["field"], r["value"]): r["reason"] for r in s.left_out}
    assert reasons[("AAA", "cash", 5e6)] == "published 2026-05-20, after the as-of date 2026-05-13"
    assert "a figure on or before it exists" in reasons[("BBB", "market_cap", 500e6)]


def test_the_build_warns_of_look_ahead_by_peer_and_days(offline_result):
    text = "\n".join(offline_result.warnings)
    assert ("look-ahead: NVDA market cap is dated 2026-05-14, 1 day(s) after the as-of date, and is used "
            "because no figure on or before it exists") in text


def _linear(n=12, slope=20.0, noise=(0.3, -0.3)):
    g = np.linspace(0.1, 1.5, n)
    table = pd.DataFrame({rg.GROWTH: g, "ev_to_revenue_ltm": 5 + slope * g + np.tile(noise, n // 2), "include": True},
                         index=[f"P{i}" for i in range(n)])
    return rg.fit(table, rg.SPECS["ev_revenue"])


def test_the_headline_probability_is_the_prediction_intervals_percentile(offline_result):
    """P(a peer like the target is valued below the price) is the predictive CDF at the price's
    multiple. Independently: the central interval at level 2P − 1 ends exactly at that multiple.
    (Checked where P is well-conditioned, 1 % to 99 %: deeper in the tail 1 − P itself carries
    only ~1e-8 relative precision in double arithmetic.)"""
    checked = 0
    for sv in offline_result.specs.values():
        for p in offline_result.target.price_points:
            prob = sv.p_below(p.price_usd)
            if not 0.01 <= prob <= 0.99:
                continue
            checked += 1
            undiscounted = (p.price_usd * sv.shares - sv.net_cash_usd) / sv.base_usd / (1 - sv.discount.discount)
            t = stats.t.ppf(prob, sv.prediction.df_resid)  # the end of the central interval at level |2P − 1|
            mu = math.log(sv.prediction.multiple) if sv.fit.spec.log_y else sv.prediction.multiple
            end = mu + t * sv.prediction.se_pred
            end = math.exp(end) if sv.fit.spec.log_y else end
            assert end == pytest.approx(undiscounted, rel=1e-9)
    assert checked >= 7
    head = offline_result.headline.set_index("price_point")
    # inside the 90 % band the probability is at most 95 %: never "100 %" for a price the band contains
    inside = head[head["verdict"] == "within band"]
    assert (inside["p_peer_below_price"] <= 0.95 + 1e-12).all() and len(inside)


def test_the_parameter_bootstrap_keeps_a_name_that_says_what_it_is(offline_result):
    cols = set(offline_result.valuation.columns)
    assert "p_line_below_price_param_boot" in cols and "p_price_above_fair" not in cols


def test_no_negative_multiple_or_price_reaches_a_table(offline_result):
    sv = offline_result.specs["ev_revenue"]
    assert sv.prediction.interval(0.9).pi_low < 0 or sv.prediction.interval(0.95).pi_low < 0  # the premise
    out = next(p for p in offline_result.written if p.name == "valuation.csv").parent
    for name in ("valuation.csv", "intervals.csv", "influence.csv", "sensitivity.csv", "spec_sensitivity.csv",
                 "peer_multiple_values.csv"):
        frame = pd.read_csv(out / name)
        money = [c for c in frame.select_dtypes("number").columns if c.endswith("_usd") or "multiple" in c]
        assert (frame[money].fillna(0) >= 0).all().all(), name
    intervals = pd.read_csv(out / "intervals.csv")
    row = intervals[(intervals["spec"] == "ev_revenue") & (intervals["interval"] == "prediction")
                    & (intervals["level"] == 0.95)].iloc[0]
    assert row["price_low_usd"] == 0 and row["low_truncated"]


def test_implied_growth_needs_a_significant_slope():
    f = _linear()
    x = {rg.GROWTH: 0.7}
    assert f.growth_p < 1e-6
    weak = _linear(noise=(9.0, -9.0), slope=0.5)
    assert weak.growth_p > 0.10
    assert math.isfinite(f.solve_for_growth(25.0, x))


def test_the_peer_distribution_needs_no_slope(offline_result):
    dist = offline_result.peer_distribution
    peers = offline_result.peers.loc[list(offline_result.fits[offline_result.chosen].tickers)]
    m = peers["ev_to_revenue_ltm"].dropna()
    ga = (peers["ev_to_revenue_ltm"] / (peers["revenue_growth"] * 100)).dropna()
    g = offline_result.target.revenue_growth
    for _, r in dist[dist["multiple"] == "ev_to_revenue_ltm"].iterrows():
        implied = r["price_usd"] * 212_965_381 / 510.0e6
        assert r["implied_multiple"] == pytest.approx(implied)
        assert r["peer_percentile"] == pytest.approx((m <= implied).mean())
        assert r["peer_median"] == pytest.approx(np.median(m)) and r["peer_q3"] == pytest.approx(np.quantile(m, 0.75))
        assert r["growth_adjusted_multiple"] == pytest.approx(implied / (g * 100))
        assert r["peer_median_growth_adjusted"] == pytest.approx(np.median(ga))


def test_a_refit_on_fresh_market_data_reports_whether_each_verdict_holds(offline_result):
    """Twelve synthetic peers, six priced today and six 90 days ago at inflated multiples: the
    refit uses only the six fresh ones and compares the verdicts."""
    g = np.linspace(0.1, 1.2, 12)
    fresh = np.arange(12) % 2 == 0
    multiple = 5 + 10 * g + np.where(fresh, 0.0, 25.0) + np.tile([0.4, -0.4, 0.2, -0.2], 3)
    as_of = dt.date(2026, 5, 13)
    table = pd.DataFrame({rg.GROWTH: g, "ev_to_revenue_ltm": multiple, "include": True,
                          "market_cap_date": [as_of if f else as_of - dt.timedelta(days=90) for f in fresh],
                          "stale": ~fresh}, index=[f"P{i}" for i in range(12)])
    fit = rg.fit(table, rg.SPECS["ev_revenue"])
    target = offline_result.target
    none = ConcentrationConfig(method="none")
    discount = lambda tickers: concentration_discount(target.customers, {}, tickers, none)  # noqa: E731
    sv = val.value_spec(fit, target, discount(fit.tickers), levels=(0.9,), bootstrap_draws=np.array([]))
    frame, note = date_robustness(table, sv, target, stale_days=30, headline=0.9, min_peers=5, discount=discount)
    refit = rg.fit(table[fresh], rg.SPECS["ev_revenue"])
    assert note.startswith("market data spans 90 days; refitted on the 6 peers within 30 days")
    assert (frame["n_fresh"] == 6).all() and (frame["n_all"] == 12).all()
    fair = refit.predict(val.target_inputs(target), ()).multiple * 510.0e6 / 212_965_381
    assert frame["fair_price_fresh_usd"].iloc[0] == pytest.approx(max(fair, 0.0))
    assert list(frame["holds"]) == list(frame["verdict_all_peers"] == frame["verdict_fresh_peers"])
    # too few fresh peers: no refit, and the note says why
    table.loc[["P0", "P2", "P4"], "stale"] = True
    frame, note = date_robustness(table, sv, target, stale_days=30, headline=0.9, min_peers=5, discount=discount)
    assert frame.empty and "only 3 of 12 fitted peers" in note


def test_the_discount_range_with_each_disclosing_peer_left_out(offline_result):
    sv = offline_result.specs[offline_result.chosen]
    cfg = offline_result.config.concentration
    ccs = offline_result.peer_cc
    cc_target = 0.62**2 + 0.24**2
    rng = offline_result.discount_range.set_index("left_out")
    assert set(rng.index) == {"none", *sv.discount.ref_tickers}
    for t in sv.discount.ref_tickers:
        others = [x for x in sv.discount.ref_tickers if x != t]
        ref = sum(ccs[x] for x in others) / len(others)
        d = min(1 - math.exp(-(cfg.beta_bp_per_unit_cc / 1e4 / cfg.r_minus_g) * max(0.0, cc_target - ref)), cfg.cap)
        assert rng.loc[t, "discount"] == pytest.approx(d) and rng.loc[t, "cc_reference"] == pytest.approx(ref)


def test_a_target_listed_among_the_peers_is_left_out_of_the_fits(project):
    from comps.config import load_config
    from comps.pipeline import build

    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text() + "CBRS,Cerebras Systems,accelerators,true,the target itself\n")
    snap = project / "data" / "snapshots" / "2026-05-13.csv"
    snap.write_text(snap.read_text() + "CBRS,market_cap,66000,USD millions,2026-05-13,2026-05-13,https://x,test\n")
    result = build(load_config(offline=True), write=False)
    assert all("CBRS" not in f.tickers for f in result.fits.values())
    assert any(w.startswith("target in peer list: CBRS is left out of every fit") for w in result.warnings)
    assert not result.peers.loc["CBRS", "include"]


def test_price_points_far_from_the_as_of_date_draw_a_warning(offline_result, tmp_path):
    import dataclasses

    from comps.diagnostics import warnings

    t = offline_result.target
    moved = dataclasses.replace(t, price_points=(dataclasses.replace(t.price_points[0], date=dt.date(2025, 3, 27)),))
    cfg = offline_result.config
    text = "\n".join(warnings(offline_result.peers, {}, {}, moved, offline_result.as_of, stale_days=cfg.stale_days,
                              small_n=cfg.small_n_warning, weak_slope_p=cfg.weak_slope_p))
    assert "price date: IPO range low ($115.00) is dated 2025-03-27, 412 days before the as-of date 2026-05-13" in text
    assert Path(t.path).exists()
