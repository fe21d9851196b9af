"""Customer concentration (CC, a Herfindahl index over disclosed customers) and the
discount it implies for the fair multiple. Pure functions; parameters come from config.

CC = Σ sⱼ² over the customers disclosed under the ASC 280 10 % rule (Patatoukas 2012).
Customers under common control may be merged first (ASC 280-10-50-42).

Methods (D is the fractional cut to the fair multiple, M* = M̂ · (1 − D)):

``peer_relative`` (default)
    D = 1 − exp(−γ · max(0, CC_target − CC_ref)), γ = β / (r − g): a cost-of-equity premium of
    β per unit of CC turned into a multiple change through the duration 1/(r − g). CC_ref is
    the mean CC of the fitted peers that disclose one, so concentration the market already
    prices in the peer line is not discounted twice.
``tiered``
    Piecewise-linear schedule on the top customer's share (thresholds: ASC 280's 10 % rule and
    M&A diligence practice; the discount values are policy assumptions).
``none``
    D = 0.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from comps.target import Customer

Method = str  # "peer_relative" | "tiered" | "none"
METHODS = ("peer_relative", "tiered", "none")


@dataclass(frozen=True)
class ConcentrationConfig:
    """Discount parameters. Every number carries its citation in ``citations``."""

    method: Method = "peer_relative"
    beta_bp_per_unit_cc: float = 200.0
    r_minus_g: float = 0.06
    aggregate_related: bool = False
    cap: float = 0.35
    tiers: tuple[tuple[float, float], ...] = (
        (0.10, 0.00), (0.20, 0.05), (0.35, 0.10), (0.50, 0.15), (0.75, 0.25), (1.00, 0.30))
    citations: Mapping[str, str] = field(default_factory=lambda: {
        "cc_measure": "Patatoukas (2012), The Accounting Review 87(2):363-392, doi:10.2308/accr-10198: "
                      "CC = sum of squared revenue shares of disclosed major customers",
        "aggregate_related": "ASC 280-10-50-42: entities under common control are one customer "
                             "(Deloitte DART Roadmap, Segment Reporting, section 5.7)",
        "beta_bp_per_unit_cc": "ASSUMPTION: 200 bp of cost of equity per unit of CC, the middle of a "
                               "100/200/300 bp grid. Direction from Dhaliwal, Judd, Serfling & Shaikh (2016), "
                               "J. Accounting & Economics 61(1):23-48, doi:10.1016/j.jacceco.2015.03.005; "
                               "their coefficient was not retrievable, so this is not a cited estimate",
        "r_minus_g": "ASSUMPTION: r - g = 6 % (equity duration ~16.7 years) for long-duration AI growth equity",
        "tiers": "Thresholds: ASC 280 10 % disclosure rule; 15-20 % and 30-40 % single-customer "
                 "diligence thresholds (practitioner sources). Discount values are policy assumptions",
        "cap": "ASSUMPTION: discount capped at 35 %, below private-market 20-35 % haircuts quoted "
               "for SMEs, since public holders diversify idiosyncratic customer risk (Han 2017)",
    })

    @property
    def gamma(self) -> float:
        """Semi-elasticity of the multiple to CC: β (decimal) / (r − g)."""
        return self.beta_bp_per_unit_cc / 1e4 / self.r_minus_g


def merge_related(customers: Sequence[Customer]) -> list[tuple[str, float]]:
    """(name, share) after merging customers that share a non-empty ``group``."""
    merged: dict[str, float] = {}
    for c in customers:
        key = c.group or c.name
        merged[key] = merged.get(key, 0.0) + c.share
    return list(merged.items())


def cc_index(shares: Iterable[float]) -> float:
    """Herfindahl index Σ s² of revenue shares (fractions)."""
    return float(sum(s * s for s in shares))


def cc_bounds(shares: Sequence[float], disclosure_threshold: float = 0.10) -> tuple[float, float]:
    """CC of the disclosed customers and its upper bound once undisclosed customers (each below
    the disclosure threshold, together the remainder) are counted: + threshold × remainder."""
    low = cc_index(shares)
    remainder = max(0.0, 1.0 - sum(shares))
    return low, low + disclosure_threshold * remainder


def peer_cc(rows: pd.DataFrame, as_of: dt.date | None = None) -> pd.Series:
    """CC per peer from disclosure rows (ticker, fiscal_year, customer, share, published): the
    latest fiscal year each peer had disclosed by ``as_of`` (all rows if None)."""
    if as_of is not None and "published" in rows:
        rows = rows[rows["published"] <= as_of]
    if rows.empty:
        return pd.Series(dtype=float, name="cc")
    latest = rows[rows["fiscal_year"] == rows.groupby("ticker")["fiscal_year"].transform("max")]
    return latest.groupby("ticker")["share"].apply(lambda s: cc_index(s)).rename("cc")


@dataclass(frozen=True)
class Discount:
    """The concentration discount applied to the fair multiple, with how it was reached."""

    method: Method
    discount: float  # fraction of the fair multiple removed
    cc_target: float
    cc_target_upper: float  # with the undisclosed-tail bound
    top_share: float
    cc_ref: float
    ref_tickers: tuple[str, ...]
    gamma: float
    aggregate_related: bool

    def to_frame(self) -> pd.DataFrame:
        """Each quantity with its unit ('percent' values are fractions shown as %)."""
        rows = [
            ("method", self.method, "text", ""), ("aggregate_related", self.aggregate_related, "yes/no", ""),
            ("cc_target", self.cc_target, "HHI, 0-1", "Σ s² of disclosed customers"),
            ("cc_target_upper", self.cc_target_upper, "HHI, 0-1", "with undisclosed customers each < 10 %"),
            ("top_customer_share", self.top_share, "percent", "of revenue"),
            ("cc_reference", self.cc_ref, "HHI, 0-1", "mean CC of fitted peers that disclose: " + ", ".join(self.ref_tickers)),
            ("gamma", self.gamma, "per unit of CC", "β / (r − g)"),
            ("discount", self.discount, "percent", "cut to the fair multiple"),
        ]
        return pd.DataFrame(rows, columns=["item", "value", "unit", "note"])


def tiered_discount(top_share: float, tiers: Sequence[tuple[float, float]]) -> float:
    """Linear interpolation of the tier schedule at ``top_share``; 0 below the first tier."""
    pts = [(0.0, 0.0), *tiers]
    for (x0, d0), (x1, d1) in zip(pts, pts[1:], strict=False):
        if top_share <= x1:
            return d1 if x0 == x1 else d0 + (top_share - x0) / (x1 - x0) * (d1 - d0)
    return pts[-1][1]


def concentration_discount(customers: Sequence[Customer], peer_ccs: Mapping[str, float],
                           fitted: Iterable[str], cfg: ConcentrationConfig) -> Discount:
    """The discount for a target with ``customers``, given the CC of peers (``peer_ccs``) and
    the tickers in the fit (``fitted``) that define the reference."""
    if cfg.method not in METHODS:
        raise ValueError(f"concentration method must be one of {', '.join(METHODS)}; got {cfg.method!r}")
    shares = [s for _, s in merge_related(customers)] if cfg.aggregate_related else [c.share for c in customers]
    cc, cc_hi = cc_bounds(shares)
    top = max(shares, default=0.0)
    ref_tickers = tuple(t for t in fitted if t in peer_ccs)
    cc_ref = sum(peer_ccs[t] for t in ref_tickers) / len(ref_tickers) if ref_tickers else 0.0
    if cfg.method == "peer_relative":
        d = 1.0 - math.exp(-cfg.gamma * max(0.0, cc - cc_ref))
    elif cfg.method == "tiered":
        d = tiered_discount(top, cfg.tiers)
    else:
        d = 0.0
    return Discount(cfg.method, min(d, cfg.cap), cc, cc_hi, top, cc_ref, ref_tickers, cfg.gamma,
                    cfg.aggregate_related)
