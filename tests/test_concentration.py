"""Concentration arithmetic against the hand calculations in shared/reference/concentration.md."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from comps import concentration as cc
from comps.target import Customer

UAE = [Customer("MBZUAI", 0.62, "FY2025", "s", "Abu Dhabi"), Customer("G42", 0.24, "FY2025", "s", "Abu Dhabi")]


def test_hhi_separate_and_merged():
    assert cc.cc_index([0.62, 0.24]) == pytest.approx(0.3844 + 0.0576)  # 0.442
    assert cc.merge_related(UAE) == [("Abu Dhabi", pytest.approx(0.86))]
    assert cc.cc_index(s for _, s in cc.merge_related(UAE)) == pytest.approx(0.7396)


def test_tail_bound_adds_at_most_threshold_times_remainder():
    low, high = cc.cc_bounds([0.62, 0.24])
    assert (low, high) == (pytest.approx(0.442), pytest.approx(0.442 + 0.10 * 0.14))


def test_peer_relative_discount_against_nvidia_reference():
    # concentration.md §5 Method C: γ = 0.02/0.06 = 0.333, ΔCC = 0.442 − 0.039 → D = 12.6 % (customers separate)
    d = cc.concentration_discount(UAE, {"NVDA": 0.0386}, ["NVDA"], cc.ConcentrationConfig(aggregate_related=False))
    assert d.gamma == pytest.approx(0.02 / 0.06)
    assert d.discount == pytest.approx(1 - math.exp(-(0.02 / 0.06) * (0.442 - 0.0386)))
    assert d.discount == pytest.approx(0.126, abs=0.001)


def test_reference_is_the_mean_over_every_fitted_peer_with_non_disclosers_bounded():
    d = cc.concentration_discount(UAE, {"A": 0.1, "B": 0.3, "C": 0.9}, ["A", "B", "X"], cc.ConcentrationConfig())
    # X discloses nothing: counted at 0.05, the middle of [0, 0.10]; C is not fitted
    assert d.cc_ref == pytest.approx((0.1 + 0.3 + 0.05) / 3) and d.ref_tickers == ("A", "B") and d.n_reference == 3
    merged = 0.86**2
    gamma = 0.02 / 0.06
    assert d.discount == pytest.approx(1 - math.exp(-gamma * (merged - d.cc_ref)))
    # the range: X at 0 or at 0.10, over β 100-300 bp and r − g 4-8 %
    ends = [1 - math.exp(-(b / 1e4 / r) * (merged - (0.4 + u) / 3)) for u in (0.0, 0.10) for b in (100, 200, 300)
            for r in (0.04, 0.06, 0.08)]
    assert d.range == (pytest.approx(min(ends)), pytest.approx(min(max(ends), 0.35)))


def test_related_customers_merge_by_default_and_the_separate_figure_is_kept():
    d = cc.concentration_discount(UAE, {"A": 0.1}, ["A"], cc.ConcentrationConfig())
    assert d.cc_target == pytest.approx(0.7396) and d.cc_target_separate == pytest.approx(0.442)
    assert d.discount_separate == pytest.approx(1 - math.exp(-(0.02 / 0.06) * (0.442 - 0.1)))
    assert d.discount > d.discount_separate


def test_the_discount_grid_over_beta_and_r_minus_g():
    grid = cc.discount_grid(UAE, {"A": 0.1}, ["A"], cc.ConcentrationConfig())
    assert list(grid.index) == [100.0, 200.0, 300.0] and list(grid.columns) == [0.04, 0.06, 0.08]
    for b in grid.index:
        for r in grid.columns:
            assert grid.loc[b, r] == pytest.approx(min(1 - math.exp(-(b / 1e4 / r) * (0.7396 - 0.1)), 0.35))


def test_tiered_schedule_interpolates():
    tiers = cc.ConcentrationConfig().tiers
    assert cc.tiered_discount(0.62, tiers) == pytest.approx(0.198)  # 15% + 0.48 × 10%
    assert cc.tiered_discount(0.86, tiers) == pytest.approx(0.272)  # 25% + 0.44 × 5%
    assert cc.tiered_discount(0.05, tiers) == 0.0
    merged = cc.concentration_discount(UAE, {}, [], cc.ConcentrationConfig(method="tiered"))
    assert merged.top_share == pytest.approx(0.86) and merged.discount == pytest.approx(0.272)


def test_none_method_and_cap():
    assert cc.concentration_discount(UAE, {}, [], cc.ConcentrationConfig(method="none")).discount == 0.0
    capped = cc.ConcentrationConfig(beta_bp_per_unit_cc=5000, cap=0.35)
    assert cc.concentration_discount(UAE, {}, [], capped).discount == 0.35
    with pytest.raises(ValueError, match="peer_relative"):
        cc.concentration_discount(UAE, {}, [], cc.ConcentrationConfig(method="bogus"))


def test_peer_cc_uses_each_peers_latest_year():
    rows = pd.DataFrame({"ticker": ["N", "N", "N", "C"], "fiscal_year": [2024, 2025, 2025, 2025],
                         "share": [0.13, 0.12, 0.11, 0.5]})
    out = cc.peer_cc(rows)
    assert out["N"] == pytest.approx(0.12**2 + 0.11**2) and out["C"] == pytest.approx(0.25)


@given(st.floats(0, 3000), st.floats(0, 3000), st.floats(0.01, 0.2))
def test_higher_beta_never_lowers_the_discount(b1, b2, rmg):
    lo, hi = sorted((b1, b2))
    d_lo = cc.concentration_discount(UAE, {}, [], cc.ConcentrationConfig(beta_bp_per_unit_cc=lo, r_minus_g=rmg))
    d_hi = cc.concentration_discount(UAE, {}, [], cc.ConcentrationConfig(beta_bp_per_unit_cc=hi, r_minus_g=rmg))
    assert d_hi.discount >= d_lo.discount
