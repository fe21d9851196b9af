"""The valuation methods a build compares: growth-versus-multiple regressions, and the peer
distribution itself (no regression) as the baseline every regression must beat.

A method values a multiple ``y`` (×) of a ``base`` (revenue or gross profit, USD). Regressions
have regressors ``x``; baselines have none. The baselines are the peer distribution of the
multiple, centred on its median or its geometric mean. Growth and margins
are fractions.
"""

from __future__ import annotations

from dataclasses import dataclass

GROWTH = "revenue_growth"
EV_REVENUE = "ev_to_revenue_ltm"
EV_GROSS_PROFIT = "ev_to_gross_profit_ltm"


@dataclass(frozen=True)
class Spec:
    """One method: the multiple ``y`` explained by ``x`` (none for a baseline)."""

    name: str
    label: str  # formula notation, for technical tables: 'ln EV/Revenue (LTM) ~ growth'
    title: str  # plain words, for headings: 'EV/Revenue regressed on growth (log scale)'
    y: str
    x: tuple[str, ...]
    base: str
    log_y: bool = False
    stat: str = ""  # baselines: "median" or "geomean"

    @property
    def kind(self) -> str:
        """'regression' or 'baseline' (the peer distribution, no regression)."""
        return "regression" if self.x else "baseline"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.y, *self.x)

    @property
    def growth(self) -> str | None:
        """The growth regressor (LTM or NTM growth), always the first x; None for a baseline."""
        return self.x[0] if self.x else None

    @property
    def y_label(self) -> str:
        """The multiple in words, e.g. 'EV/Revenue (LTM)'."""
        return {EV_REVENUE: "EV/Revenue (LTM)", EV_GROSS_PROFIT: "EV/Gross profit (LTM)",
                "ev_to_revenue_ntm": "EV/Revenue (NTM)"}[self.y]


def _baselines(y: str, base: str, words: str) -> tuple[Spec, Spec]:
    short = {EV_REVENUE: "ev_revenue", EV_GROSS_PROFIT: "ev_gross_profit"}[y]
    return (Spec(f"median_{short}", f"peer median {words}", f"Peer median {words}", y, (), base, True, "median"),
            Spec(f"geomean_{short}", f"peer geometric mean {words}", f"Peer geometric-mean {words}", y, (), base,
                 True, "geomean"))


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("ev_revenue", "EV/Revenue (LTM) ~ growth", "EV/Revenue regressed on growth (linear)", EV_REVENUE, (GROWTH,),
         "revenue_ltm_usd"),
    Spec("log_ev_revenue", "ln EV/Revenue (LTM) ~ growth", "EV/Revenue regressed on growth (log scale)", EV_REVENUE,
         (GROWTH,), "revenue_ltm_usd", log_y=True),
    Spec("log_ev_revenue_margin", "ln EV/Revenue (LTM) ~ growth + gross margin",
         "EV/Revenue regressed on growth and gross margin (log scale)", EV_REVENUE, (GROWTH, "gross_margin"),
         "revenue_ltm_usd", log_y=True),
    Spec("log_ev_gross_profit", "ln EV/Gross profit (LTM) ~ growth", "EV/Gross profit regressed on growth (log scale)",
         EV_GROSS_PROFIT, (GROWTH,), "gross_profit_ltm_usd", log_y=True),
    Spec("ev_revenue_ntm", "EV/Revenue (NTM) ~ NTM growth", "EV/NTM revenue regressed on NTM growth",
         "ev_to_revenue_ntm", ("revenue_growth_ntm",), "revenue_ntm_usd"),
    *_baselines(EV_REVENUE, "revenue_ltm_usd", "EV/Revenue"),
    *_baselines(EV_GROSS_PROFIT, "gross_profit_ltm_usd", "EV/Gross profit"),
)}
SPEC_NAMES = tuple(SPECS)
#: the no-regression baseline each regression must beat: the peer median of the same multiple
BASELINE = {EV_REVENUE: "median_ev_revenue", EV_GROSS_PROFIT: "median_ev_gross_profit"}
