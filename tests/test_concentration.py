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
    # concentration.md §5 Method C: γ = 0.02/0.06 = 0.333, ΔCC = 0.442 − 0.039 → D = 12.6 %
    d = cc.concentration_discount(UAE, {"NVDA": 0.0386}, ["NVDA"], cc.ConcentrationConfig())
    assert d.gamma == pytest.approx(0.02 / 0.06)
    assert d.discount == pytest.approx(1 - math.exp(-(0.02 / 0.06) * (0.442 - 0.0386)))
    assert d.discount == pytest.approx(0.126, abs=0.001)


def test_reference_is_mean_cc_of_fitted_disclosers_only():
    d = cc.concentration_discount(UAE, {"A": 0.1, "B": 0.3, "C": 0.9}, ["A", "B", "X"], cc.ConcentrationConfig())
    assert d.cc_ref == pytest.approx(0.2) and d.ref_tickers == ("A", "B")


def test_tiered_schedule_interpolates():
    tiers = cc.ConcentrationConfig().tiers
    assert cc.tiered_discount(0.62, tiers) == pytest.approx(0.198)  # 15% + 0.48 × 10%
    assert cc.tiered_discount(0.86, tiers) == pytest.approx(0.272)  # 25% + 0.44 × 5%
    assert cc.tiered_discount(0.05, tiers) == 0.0
    merged = cc.concentration_discount(UAE, {}, [], cc.ConcentrationConfig(method="tiered", aggregate_related=True))
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
