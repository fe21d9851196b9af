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
            prob = sv.p_below(p.price_usd, trading=p.kind == "trading")
            if not 0.01 <= prob <= 0.99:
                continue
            checked += 1
            net_cash = 701.7e6 + 30e6 * (185.0 if p.kind == "trading" else p.price_usd) * (1 - 0.033)
            undiscounted = (p.price_usd * sv.shares - net_cash) / sv.base_usd / (1 - sv.discount.discount)
            t = stats.t.ppf(prob, sv.prediction.df_resid)  # the end of the central interval at level |2P − 1|
            mu = math.log(sv.prediction.multiple) if sv.fit.spec.log_y else sv.prediction.multiple
            end = mu + t * sv.prediction.se_pred
            end = math.exp(end) if sv.fit.spec.log_y else end
            assert end == pytest.approx(undiscounted, rel=1e-9)
    assert checked >= 7
    val_ = offline_result.valuation
    # inside a regression's 90 % band the probability is at most 95 %: never "100 %" for a price the band contains
    inside = val_[(val_["kind_of_method"] == "regression") & (val_["verdict"] == "within band")]
    assert (inside["p_peer_below_price"] <= 0.95 + 1e-12).all() and len(inside)


def test_the_headline_probability_carries_its_range_and_its_precision(offline_result):
    """The range spans the t and jackknife+ distributions, the discount's range and both bridge
    ends; the jackknife+ value of a peer-distribution method is the peers' own ranks: (k + ½)/(n + 1)."""
    from comps.report.fmt import probability_headline

    sv = offline_result.specs[offline_result.chosen]
    d_low, d_high = sv.discount.range
    for _, r in offline_result.headline.iterrows():
        price = r["price_usd"]
        t = r["kind"] == "trading"
        ps = [sv.p_below(price, d, end, how, t) for how in ("t", "jackknife+") for end in ("low", "high")
              for d in (d_low, d_high, sv.discount.discount)]
        assert r["p_low"] == pytest.approx(min(ps)) and r["p_high"] == pytest.approx(max(ps))
        m = r["implied_multiple"] / (1 - sv.discount.discount)
        k = int((sv.fit.multiples <= m).sum())
        assert r["p_jackknife_plus"] == pytest.approx((k + 0.5) / (sv.fit.n + 1))
    assert probability_headline(0.939, 0.86, 0.99) == "≈ 95% (86.0% to 99.0% across methods)"
    assert probability_headline(0.9787, 0.954, 0.999).startswith("> 95%")


def test_no_negative_multiple_or_price_reaches_a_table(offline_result):
    sv = offline_result.specs["ev_revenue"]
    assert sv.prediction.interval(0.9).pi_low < 0 or sv.prediction.interval(0.95).pi_low < 0  # the premise
    out = next(p for p in offline_result.written if p.name == "valuation.csv").parent
    for name in ("valuation.csv", "intervals.csv", "influence.csv", "sensitivity.csv", "spec_sensitivity.csv",
                 "peer_multiple_values.csv", "ev_bridge.csv"):
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
    peers = offline_result.peers[offline_result.peers["include"]]
    m = peers["ev_to_revenue_ltm"].dropna()
    ga = (peers["ev_to_revenue_ltm"] / (peers["revenue_growth"] * 100)).dropna()
    g = offline_result.target.revenue_growth
    for _, r in dist[dist["multiple"] == "ev_to_revenue_ltm"].iterrows():
        raised = 185.0 if r["price_point"] == "First-day close" else r["price_usd"]
        implied = (r["price_usd"] * 215_228_541 - 701.7e6 - 30e6 * raised * (1 - 0.033)) / 510.0e6
        assert r["implied_multiple"] == pytest.approx(implied)
        assert r["peer_percentile"] == pytest.approx((m <= implied).mean())
        assert r["peer_median"] == pytest.approx(np.median(m)) and r["peer_q3"] == pytest.approx(np.quantile(m, 0.75))
        assert r["growth_adjusted_multiple"] == pytest.approx(implied / (g * 100))
        assert r["peer_median_growth_adjusted"] == pytest.approx(np.median(ga))


def test_the_discount_range_with_each_disclosing_peer_left_out(offline_result):
    sv = offline_result.specs[offline_result.chosen]
    cfg = offline_result.config.concentration
    ccs = offline_result.peer_cc
    cc_target = 0.86**2  # MBZUAI and G42 merged
    rng = offline_result.discount_range.set_index("left_out")
    assert set(rng.index) == {"none", *sv.discount.ref_tickers}
    for t in sv.discount.ref_tickers:
        others = [x for x in sv.fit.tickers if x != t]
        ref = sum(ccs.get(x, 0.05) for x in others) / len(others)
        d = min(1 - math.exp(-(cfg.beta_bp_per_unit_cc / 1e4 / cfg.r_minus_g) * max(0.0, cc_target - ref)), cfg.cap)
        assert rng.loc[t, "discount"] == pytest.approx(d) and rng.loc[t, "cc_reference"] == pytest.approx(ref)


def test_a_target_listed_among_the_peers_is_left_out_of_the_fits(project):
    from comps.config import load_config
    from comps.pipeline import build

    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text() + "CBRS,Cerebras Systems,accelerators,true,core,the target itself\n")
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
