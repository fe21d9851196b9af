"""Customer concentration (CC, a Herfindahl index over disclosed customers) and the
discount it implies for the fair multiple. Pure functions; parameters come from config.

CC = Σ sⱼ² over the customers disclosed under the ASC 280 10 % rule (Patatoukas 2012).
Customers under common control count as one customer (ASC 280-10-50-42): the target file
marks them with a shared ``group`` and they are merged by default; the separate figure is
reported beside it.

Methods (D is the fractional cut to the fair multiple, M* = M̂ · (1 − D)):

``peer_relative`` (default)
    D = 1 − exp(−γ · max(0, CC_target − CC_ref)), γ = β / (r − g): a cost-of-equity premium of
    β per unit of CC turned into a multiple change through the duration 1/(r − g). CC_ref is
    the mean CC over all the fitted peers, so concentration the market already prices in the
    peers is not discounted twice. A peer with no disclosure found has no customer at 10 % or
    more, or one not found: its CC is bounded in [0, 0.10] (below 0.10 if every customer is under
    10 %) and counted at the midpoint; the bounds give the discount's range.
``tiered``
    Piecewise-linear schedule on the top customer's share (thresholds: ASC 280's 10 % rule and
    M&A diligence practice; the discount values are policy assumptions).
``none``
    D = 0.

β and r − g are assumptions: :func:`discount_grid` shows D across a 3 × 3 grid of them, and
the discount's ``range`` spans that grid and the non-disclosers' bounds. The literature runs
both ways: concentration goes with better operating efficiency (Patatoukas 2012) and with a
higher cost of equity (Dhaliwal, Judd, Serfling & Shaikh 2016), the costs falling early in a
relationship (Irvine, Park & Yıldızhan 2016), which supports a discount for a young supplier.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

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
    aggregate_related: bool = True
    undisclosed_cc: tuple[float, float] = (0.0, 0.10)  # bounds on a non-disclosing peer's CC
    beta_grid: tuple[float, ...] = (100.0, 200.0, 300.0)
    r_minus_g_grid: tuple[float, ...] = (0.04, 0.06, 0.08)
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
        "r_minus_g": "ASSUMPTION: r - g = 6% (equity duration ~16.7 years) for long-duration AI growth equity",
        "undisclosed_cc": "A peer with no 10%+ customer found has CC below 0.10 if it truly has none (each customer "
                          "< 10%): bounded in [0, 0.10], counted at the midpoint",
        "tiers": "Thresholds: ASC 280 10% disclosure rule; 15-20% and 30-40% single-customer "
                 "diligence thresholds (practitioner sources). Discount values are policy assumptions",
        "cap": "ASSUMPTION: discount capped at 35%, below private-market 20-35% haircuts quoted "
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
    ref_tickers: tuple[str, ...]  # the fitted peers with a disclosure
    n_reference: int  # all fitted peers
    gamma: float
    aggregate_related: bool
    range: tuple[float, float] = (0.0, 0.0)  # across the β × (r − g) grid and the non-disclosers' bounds
    cc_target_separate: float = math.nan  # related customers not merged
    discount_separate: float = math.nan

    def to_frame(self) -> pd.DataFrame:
        """Each quantity with its unit ('percent' values are fractions shown as %)."""
        rows = [
            ("Method", self.method.replace("_", "-"), "text", ""),
            ("Related customers merged", self.aggregate_related, "yes/no", "ASC 280-10-50-42: common control is one customer"),
            ("Target CC", self.cc_target, "HHI, 0-1", "Σ s² of disclosed customers"),
            ("Target CC, related customers separate", self.cc_target_separate, "HHI, 0-1", ""),
            ("Target CC upper bound", self.cc_target_upper, "HHI, 0-1", "with undisclosed customers each < 10%"),
            ("Top customer's share", self.top_share, "percent", "of revenue"),
            ("Peer CC reference", self.cc_ref, "HHI, 0-1",
             f"mean over {self.n_reference} fitted peers; disclosing: {', '.join(self.ref_tickers) or 'none'}"),
            ("γ (per unit of CC)", self.gamma, "number", "β / (r − g)"),
            ("Discount", self.discount, "percent", "cut to the fair multiple"),
            ("Discount, related customers separate", self.discount_separate, "percent", ""),
            ("Discount range, low", self.range[0], "percent", "across β × (r − g) and the non-disclosers' bounds"),
            ("Discount range, high", self.range[1], "percent", ""),
        ]
        return pd.DataFrame(rows, columns=["item", "value", "unit", "note"])


def tiered_discount(top_share: float, tiers: Sequence[tuple[float, float]]) -> float:
    """Linear interpolation of the tier schedule at ``top_share``; 0 below the first tier."""
    pts = [(0.0, 0.0), *tiers]
    for (x0, d0), (x1, d1) in itertools.pairwise(pts):
        if top_share <= x1:
            return d1 if x0 == x1 else d0 + (top_share - x0) / (x1 - x0) * (d1 - d0)
    return pts[-1][1]


def _peer_relative(cc: float, cc_ref: float, gamma: float) -> float:
    return 1.0 - math.exp(-gamma * max(0.0, cc - cc_ref))


def concentration_discount(customers: Sequence[Customer], peer_ccs: Mapping[str, float],
                           fitted: Iterable[str], cfg: ConcentrationConfig) -> Discount:
    """The discount for a target with ``customers``, given the CC of the disclosing peers
    (``peer_ccs``) and the peers in the fit (``fitted``), which define the reference."""
    if cfg.method not in METHODS:
        raise ValueError(f"concentration method must be one of {', '.join(METHODS)}; got {cfg.method!r}")
    fitted = list(fitted)
    separate = [c.share for c in customers]
    merged = [s for _, s in merge_related(customers)]
    shares = merged if cfg.aggregate_related else separate
    cc, cc_hi = cc_bounds(shares)
    top = max(shares, default=0.0)
    ref_tickers = tuple(t for t in fitted if t in peer_ccs)

    def reference(undisclosed: float) -> float:
        return sum(peer_ccs.get(t, undisclosed) for t in fitted) / len(fitted) if fitted else 0.0

    mid = sum(cfg.undisclosed_cc) / 2
    cc_ref = reference(mid)

    def discount(cc_value: float, ref: float, gamma: float, top_share: float) -> float:
        if cfg.method == "peer_relative":
            d = _peer_relative(cc_value, ref, gamma)
        elif cfg.method == "tiered":
            d = tiered_discount(top_share, cfg.tiers)
        else:
            d = 0.0
        return min(d, cfg.cap)

    d = discount(cc, cc_ref, cfg.gamma, top)
    grid = [discount(cc, reference(u), b / 1e4 / rmg, top) for u in cfg.undisclosed_cc
            for b in cfg.beta_grid for rmg in cfg.r_minus_g_grid]
    cc_sep = cc_index(separate)
    return Discount(cfg.method, d, cc, cc_hi, top, cc_ref, ref_tickers, len(fitted), cfg.gamma,
                    cfg.aggregate_related, (min(grid + [d]), max(grid + [d])), cc_sep,
                    discount(cc_sep, cc_ref, cfg.gamma, max(separate, default=0.0)))


def discount_grid(customers: Sequence[Customer], peer_ccs: Mapping[str, float], fitted: Iterable[str],
                  cfg: ConcentrationConfig) -> pd.DataFrame:
    """D over the β (rows, bp per unit of CC) × r − g (columns) grid, other settings as ``cfg``."""
    fitted = list(fitted)
    grid = pd.DataFrame({rmg: [concentration_discount(customers, peer_ccs, fitted, replace(
        cfg, beta_bp_per_unit_cc=b, r_minus_g=rmg)).discount for b in cfg.beta_grid] for rmg in cfg.r_minus_g_grid},
        index=pd.Index(list(cfg.beta_grid), name="beta_bp_per_unit_cc"))
    grid.columns.name = "r_minus_g"
    return grid
