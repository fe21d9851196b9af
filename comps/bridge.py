"""The target's EV bridge at each price: market cap on basic and fully diluted shares, and net
cash after the offering. Pure functions of a :class:`~comps.target.Target`; money in USD.

The share count after the offering already contains the new (primary) shares, so the market
cap at a price P contains the cash they raised. EV must take it out:

    net cash(P) = pre-offering cash − pre-offering debt + primary shares × P × (1 − spread)
    EV(P)       = P × basic shares − net cash(P)

Where a term of the proceeds is unsourced (the primary shares or the spread), the bridge is a
range from no proceeds (net cash = pre-offering net cash) to full proceeds (every offered share
primary, no spread), carried through every price-dependent figure. The verdicts use the
full-proceeds end, the lowest EV: the end most favourable to the price, so a "rich" verdict
holds at the other end too. Unsourced pre-offering cash or debt counts as 0, and is said. Where
the prospectus fixes the net cash after the offering whatever the price (a parent's note settled
from the proceeds and a contribution), that stated figure is the net cash at every price.

Fully diluted shares: a stated count if the file gives one, else the treasury-stock method,
basic + RSUs + options × max(0, 1 − K/P) + warrants × max(0, 1 − K_w/P), missing components
counting 0 (so the count is a lower bound, and the notes say which are missing).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from comps.target import Target


@dataclass(frozen=True)
class Terms:
    """The bridge's inputs, read once from the target. ``per_dollar_*``: net proceeds per $1
    of offer price (primary shares × (1 − spread)) at the no- and full-proceeds ends."""

    shares: float
    pre_net_cash: float
    per_dollar_low: float
    per_dollar_high: float
    notes: tuple[str, ...] = ()
    stated_diluted: float | None = None
    options: float = 0.0
    options_strike: float = 0.0
    rsus: float = 0.0
    warrants: float = 0.0
    warrants_strike: float = 0.0

    @property
    def is_range(self) -> bool:
        return not math.isclose(self.per_dollar_low, self.per_dollar_high)

    def net_cash(self, price: float, end: str = "high", raised_at: float | None = None) -> float:
        """Net cash after an offering priced at ``price`` (USD); ``end`` 'low' (no proceeds) or
        'high'. Once the deal is priced, the proceeds were raised at the offer price: a later
        trading price passes it as ``raised_at``."""
        at = price if raised_at is None else raised_at
        return self.pre_net_cash + at * (self.per_dollar_high if end == "high" else self.per_dollar_low)

    def diluted_shares(self, price: float) -> float:
        """Fully diluted shares at ``price``: stated, else by the treasury-stock method."""
        if self.stated_diluted is not None:
            return self.stated_diluted
        def itm(n: float, k: float) -> float:
            return n * max(0.0, 1.0 - k / price) if price > 0 else 0.0
        return self.shares + self.rsus + itm(self.options, self.options_strike) + itm(self.warrants, self.warrants_strike)

    def breakeven_price(self, equity_ex_proceeds: float, end: str = "high") -> float:
        """The offer price P at which P × shares − proceeds(P) equals ``equity_ex_proceeds``
        (fair EV + pre-offering net cash): the price that is fair for that EV."""
        per_dollar = self.per_dollar_high if end == "high" else self.per_dollar_low
        return equity_ex_proceeds / (self.shares - per_dollar)


def terms(target: Target) -> Terms:
    """The bridge terms of ``target``, with a note for each unsourced one."""
    o = target.offering
    notes = []
    shares = target.shares_outstanding.value
    stated = o.get("net_cash_after_offering_usd")
    if stated is not None:  # the prospectus fixes the net cash after the offering, whatever the price
        notes.append(f"net cash after the offering is stated, ${stated / 1e9:,.2f}B at every price")
        return _diluted(target, Terms(shares, stated, 0.0, 0.0), notes)
    cash, debt = o.get("pre_offering_cash_usd"), o.get("pre_offering_debt_usd")
    if cash is None:
        notes.append("pre-offering cash not sourced: counted as 0")
    if debt is None:
        notes.append("pre-offering debt not sourced: counted as 0")
    pre = (cash or 0.0) - (debt or 0.0)
    primary, offered, spread = o.get("primary_shares"), o.get("shares_offered"), o.get("underwriting_spread")
    if primary is not None and spread is not None:
        low = high = primary * (1.0 - spread)
    else:
        missing = [n for n, v in (("primary shares", primary), ("underwriting spread", spread)) if v is None]
        size = primary if primary is not None else offered
        low, high = 0.0, (size or 0.0)
        if size is None:
            notes.append("offering size not sourced: no proceeds counted")
        else:
            notes.append(f"{' and '.join(missing)} not sourced: net cash runs from no proceeds to the gross proceeds "
                         f"of {size:,.0f} shares; verdicts use the full-proceeds end")
    return _diluted(target, Terms(shares, pre, low, high), notes)


def _diluted(target: Target, base: Terms, notes: list[str]) -> Terms:
    """``base`` with the fully diluted share terms and every note."""
    o = target.offering
    missing = [n for n, k in (("options", "options_outstanding"), ("RSUs", "rsus_outstanding"),
                              ("warrants", "warrants_outstanding")) if o.get(k) is None]
    stated = o.get("fully_diluted_shares")
    if stated is None and missing:
        notes.append(f"fully diluted shares are a lower bound: {', '.join(missing)} not sourced")
    return dataclasses.replace(base, notes=tuple(notes), stated_diluted=stated,
                               options=o.get("options_outstanding") or 0.0,
                               options_strike=o.get("options_strike_usd") or 0.0,
                               rsus=o.get("rsus_outstanding") or 0.0, warrants=o.get("warrants_outstanding") or 0.0,
                               warrants_strike=o.get("warrants_strike_usd") or 0.0)


def offer_price(target: Target) -> float | None:
    """The price the deal was priced at (its 'priced' point), if it has been priced."""
    priced = [p.price_usd for p in target.price_points if p.kind == "priced"]
    return priced[-1] if priced else None


def raised_at(target: Target, kind: str) -> float | None:
    """The price the proceeds were raised at for a price point of this kind: the offer price
    for a trading price, else None (the point's own price)."""
    return offer_price(target) if kind == "trading" else None


def bridge_rows(target: Target) -> list[dict]:
    """One row per price point: market caps, net cash and EV at both ends of the bridge (USD)."""
    t = terms(target)
    rows = []
    for p in target.price_points:
        mcap = p.price_usd * t.shares
        at = raised_at(target, p.kind)
        lo, hi = t.net_cash(p.price_usd, "low", at), t.net_cash(p.price_usd, "high", at)
        diluted = t.diluted_shares(p.price_usd)
        rows.append({"price_point": p.label, "price_usd": p.price_usd, "shares": t.shares,
                     "market_cap_usd": mcap, "shares_diluted": diluted, "market_cap_diluted_usd": p.price_usd * diluted,
                     "net_cash_no_proceeds_usd": lo, "net_cash_usd": hi,
                     "enterprise_value_no_proceeds_usd": mcap - lo, "enterprise_value_usd": mcap - hi,
                     "ev_to_revenue_no_proceeds": (mcap - lo) / target.revenue_usd.value,
                     "ev_to_revenue_ltm": (mcap - hi) / target.revenue_usd.value})
    return rows
