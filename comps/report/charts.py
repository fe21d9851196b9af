"""Charts from a build's results (seaborn + matplotlib, Agg backend). Figures are drawn from
results only, never computed here, and rendered to bytes with fixed metadata so two builds
on the same inputs give identical files."""

from __future__ import annotations

import gc
import io
import textwrap
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from comps.result import BuildResult

DPI = 160
KIND_COLORS = {"range": "#1f77b4", "revised": "#9467bd", "priced": "#d62728", "trading": "#ff7f0e"}


def _setup():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind")
    plt.rcParams.update({
        "svg.hashsalt": "comps", "figure.dpi": DPI, "axes.titleweight": "bold",
        "text.parse_math": False,  # "$" in prices and user notes is a dollar sign, never mathtext
        "svg.fonttype": "none",  # SVG text stays text: selectable, editable, a third of the size
    })
    return plt, sns


def warm_up() -> None:
    """Prepare a chart process: import what rendering and unpickling a result need, load the
    fonts by drawing once, then freeze the heap so garbage collection does not rescan the
    imported libraries while rendering."""
    import comps.result  # noqa: F401 - unpickling a BuildResult imports it

    plt, _ = _setup()
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title("warm-up")
    fig.canvas.draw()
    plt.close(fig)
    gc.freeze()


def render(fig: Figure) -> dict[str, bytes]:
    """PNG and SVG bytes with fixed metadata (no timestamps, no version strings). The tight
    bounding box is measured once and reused, instead of a second layout pass per format."""
    import matplotlib.pyplot as plt

    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
    out = {}
    for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=DPI, bbox_inches=bbox, metadata=meta)
        out[ext] = buf.getvalue()
    plt.close(fig)
    return out


def _render_one(stem: str, result: BuildResult) -> tuple[str, dict[str, bytes]]:
    return stem, render(CHARTS[stem](result))


def render_all(result: BuildResult, stems: list[str] | None = None) -> dict[str, dict[str, bytes]]:
    """The charts named by ``stems`` (default: all) as PNG and SVG bytes."""
    return dict(_render_one(stem, result) for stem in (stems or list(CHARTS)))


def _footnote(fig: Figure, result: BuildResult, extra: str = "") -> None:
    """Sources and as-of date under the figure, wrapped to its width. textwrap, not matplotlib's
    ``wrap=True``, which re-measures the text word by word on every draw."""
    files = ", ".join(p.name for p in result.snapshots.files)
    text = (f"As of {result.as_of}. Peer figures: snapshots {files} (per-figure source URLs in "
            f"sources_peers.csv); target: {result.target.path}. {extra}").strip()
    chars = int(fig.get_figwidth() * 72 / (7 * 0.55))  # 7 pt text averages ~0.55 em per character
    fig.text(0.01, -0.02, textwrap.fill(text, chars), ha="left", va="top", fontsize=7, color="#555555")


def place_labels(ax, xs, ys, texts, half_widths=None, fontsize: float = 8, color: str = "#222222") -> None:
    """Label points without overlaps: try offsets around each point, keep the first whose box
    clears every marker and every label already placed, else the least-overlapping one.
    ``half_widths`` (points) is each marker's half width; 5 pt if not given."""
    from matplotlib.transforms import Bbox

    ax.autoscale_view()  # final limits, so data-to-pixel transforms hold without a full draw
    renderer = ax.figure.canvas.get_renderer()
    px = renderer.points_to_pixels(1.0)
    half = np.full(len(xs), 5.0) if half_widths is None else np.asarray(half_widths, dtype=float)
    centers = ax.transData.transform(np.column_stack([xs, ys]))
    placed = [Bbox.from_extents(cx - h * px, cy - 3 * px, cx + h * px, cy + 3 * px)
              for (cx, cy), h in zip(centers, half, strict=True)]
    offsets = [(6, 4), (6, -10), (-6, 4), (-6, -10), (0, 9), (0, -14), (12, 12), (-12, -16), (14, -2), (-14, -2)]
    for i in np.argsort(ys)[::-1]:
        best, best_overlap = None, None
        for dx, dy in offsets:
            dx = dx + np.sign(dx) * max(half[i] - 5, 0)  # start clear of wide markers
            ann = ax.annotate(texts[i], (xs[i], ys[i]), xytext=(dx, dy), textcoords="offset points",
                              fontsize=fontsize, color=color, ha="left" if dx >= 0 else "right")
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            overlap = sum(_area(box, b) for b in placed)
            if best_overlap is None or overlap < best_overlap:
                if best is not None:
                    best[0].remove()
                best, best_overlap = (ann, box), overlap
            else:
                ann.remove()
            if overlap == 0:
                break
        placed.append(best[1])


def _area(a, b) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return max(w, 0) * max(h, 0)


def scatter(result: BuildResult, max_labels: int = 40) -> Figure:
    """Peers' growth vs multiple, the fit with 80/95 % prediction bands, the target's price
    points and its discounted fair value."""
    plt, sns = _setup()
    from comps.valuation import target_inputs

    sv = result.specs[result.chosen]
    fit = sv.fit
    spec = fit.spec
    peers = result.peers
    x_t = target_inputs(result.target)
    g_t = x_t[spec.x[0]]
    fig, ax = plt.subplots(figsize=(11, 6.5))
    in_fit = peers.index.isin(fit.tickers)
    xs = peers.loc[in_fit, spec.x[0]].to_numpy(dtype=float)
    lo = np.nanmin(np.append(xs, g_t))
    hi = np.nanmax(np.append(xs, g_t))
    grid = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 120)
    preds = [fit.predict({**x_t, spec.x[0]: g}, (0.8, 0.95)) for g in grid]
    for level, alpha in ((0.95, 0.12), (0.8, 0.22)):
        ax.fill_between(grid * 100, [p.interval(level).pi_low for p in preds],
                        [p.interval(level).pi_high for p in preds], color="#4c72b0", alpha=alpha, lw=0,
                        label=f"{level:.0%} prediction band")
    ax.plot(grid * 100, [p.multiple for p in preds], color="#4c72b0", lw=2, label=f"fit: {spec.label}")
    sns.scatterplot(x=peers.loc[in_fit, spec.x[0]] * 100, y=peers.loc[in_fit, spec.y], hue=peers.loc[in_fit, "segment"],
                    s=70, ax=ax, edgecolor="black", linewidth=0.5, zorder=3)
    named = peers.loc[in_fit].nlargest(max_labels, "market_cap_usd") if in_fit.sum() > max_labels else peers.loc[in_fit]
    head = result.headline
    for kind in KIND_COLORS:
        pts = head[head["kind"] == kind]
        if len(pts):
            ax.scatter([g_t * 100] * len(pts), pts["implied_multiple"], marker="_", s=500, lw=2.5,
                       color=KIND_COLORS[kind], zorder=4, label=f"{result.target.ticker} {kind} price")
    fair = sv.prediction.multiple * (1 - sv.discount.discount)
    ax.scatter([g_t * 100], [fair], marker="D", s=90, color="#2ca02c", edgecolor="black", zorder=5,
               label=f"{result.target.ticker} discounted fair value ({sv.discount.discount:.0%} discount)")
    labels_x = [*named[spec.x[0]] * 100, *[g_t * 100] * len(head), g_t * 100]
    labels_y = [*named[spec.y], *head["implied_multiple"], fair]
    texts = [*named.index, *(f"${p:,.0f}" for p in head["price_usd"]), f"fair ${sv.fair_price(sv.prediction.multiple):,.0f}"]
    half_widths = [5.0] * len(named) + [12.0] * len(head) + [6.0]  # dots, price bars (s=500), diamond
    if spec.log_y:
        ax.set_yscale("log")
    ax.set_xlabel("Revenue growth, YoY (%): TTM where both TTMs are sourced, else last fiscal year"
                  if spec.x[0] == "revenue_growth" else "Revenue growth, next twelve months (%)")
    ax.set_ylabel(spec.label.split(" ~ ")[0].removeprefix("ln ") + (" (×, log scale)" if spec.log_y else " (×)"))
    extra = " (gross margin held at the target's)" if len(spec.x) > 1 else ""
    ax.set_title(f"{result.target.name}: price points vs peer {spec.label}{extra}, n = {fit.n}")
    place_labels(ax, np.array(labels_x), np.array(labels_y), texts, half_widths)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=True)
    _footnote(fig, result, f"Bands are OLS prediction intervals. Target EV assumes: {result.target.ev_assumption}"
              if result.target.net_cash_usd is None else "")
    return fig


def peer_bars(result: BuildResult, max_bars: int = 40) -> Figure:
    """Peer EV/Revenue (LTM) with the peer median and the target's multiple at each price kind.
    Large universes show the ``max_bars`` largest peers; the median is over all of them."""
    plt, sns = _setup()
    every = result.peers[result.peers["include"]].dropna(subset=["ev_to_revenue_ltm"])
    peers = every.nlargest(max_bars, "market_cap_usd").sort_values("ev_to_revenue_ltm", ascending=False)
    fig, ax = plt.subplots(figsize=(10, max(4.0, 0.32 * len(peers) + 1.5)))
    sns.barplot(x=peers["ev_to_revenue_ltm"], y=peers.index, hue=peers["segment"], dodge=False, ax=ax)
    med = float(every["ev_to_revenue_ltm"].median())
    ax.axvline(med, color="black", ls="--", lw=1.2, label=f"median of all {len(every)} peers {med:.1f}×")
    head = result.headline
    for kind, color in KIND_COLORS.items():
        pts = head[head["kind"] == kind]
        for _, r in pts.iterrows():
            ax.axvline(r["ev_to_revenue_ltm"], color=color, lw=1, alpha=0.8)
        if len(pts):
            ax.plot([], [], color=color, label=f"{result.target.ticker} {kind}: "
                    + ", ".join(f"{m:.0f}×" for m in pts["ev_to_revenue_ltm"]))
    ax.set_xlabel("EV / revenue, LTM (×)")
    ax.set_ylabel("")
    shown = f"largest {len(peers)} of {len(every)}" if len(every) > len(peers) else f"n = {len(peers)}"
    ax.set_title(f"Peer EV/Revenue vs {result.target.ticker} at its price points ({shown})")
    ax.legend(fontsize=7, loc="lower right")
    _footnote(fig, result)
    return fig


def football_field(result: BuildResult) -> Figure:
    """Fair value per share by method, with the IPO range, priced and first-close lines."""
    plt, _ = _setup()
    rows = []
    for name, sv in result.specs.items():
        p = sv.prediction
        i95, i80 = p.interval(0.95), p.interval(0.8)
        boot = np.percentile(sv.fair_price(sv.bootstrap), [5, 95]) if sv.bootstrap.size else (np.nan, np.nan)
        rows.append((f"{name}: 95% PI", sv.fair_price(i95.pi_low), sv.fair_price(i95.pi_high),
                     sv.fair_price(p.multiple), "#a6bddb"))
        rows.append((f"{name}: 80% PI", sv.fair_price(i80.pi_low), sv.fair_price(i80.pi_high),
                     sv.fair_price(p.multiple), "#3690c0"))
        rows.append((f"{name}: bootstrap 5–95%", boot[0], boot[1], sv.fair_price(p.multiple), "#74c476"))
    pv = result.peer_values.set_index("method")["fair_price_usd"]
    rows.append(("peer EV/Revenue Q1–Q3 (no discount)", pv["peer Q1"], pv["peer Q3"], pv["peer median"], "#fdae6b"))
    fig, ax = plt.subplots(figsize=(10, 0.42 * len(rows) + 2))
    right = 1.4 * float(result.headline["price_usd"].max())  # clip runaway bands; label their end
    for i, (_, lo, hi, mid, color) in enumerate(rows):
        lo_c, hi_c = max(lo, 0.0), min(hi, right)
        ax.barh(i, hi_c - lo_c, left=lo_c, color=color, edgecolor="black", lw=0.4, height=0.6)
        ax.plot([mid, mid], [i - 0.3, i + 0.3], color="black", lw=1.5)
        if hi > right:
            ax.text(right, i, f" → ${hi:,.0f}", va="center", ha="right", fontsize=7)
    ax.set_xlim(0, right)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    head = result.headline
    for kind, color in KIND_COLORS.items():
        pts = head[head["kind"] == kind]["price_usd"]
        if len(pts) > 1:
            ax.axvspan(pts.min(), pts.max(), color=color, alpha=0.15, label=f"{kind} ${pts.min():.0f}–{pts.max():.0f}")
        elif len(pts) == 1:
            ax.axvline(pts.iloc[0], color=color, lw=2, label=f"{kind} ${pts.iloc[0]:,.2f}")
    ax.set_xlabel("Fair value per share (USD), concentration discount applied to regression methods")
    ax.set_title(f"{result.target.name}: fair value per share by method vs the IPO prices")
    ax.legend(fontsize=7, loc="lower right")
    _footnote(fig, result)
    return fig


def sensitivity_heatmap(result: BuildResult) -> Figure:
    """Fair price per share over concentration discount × target growth (chosen spec)."""
    plt, sns = _setup()
    grid = result.sensitivity.copy()
    grid.index = [f"{g:.0%}" for g in grid.index]
    grid.columns = [f"{d:.0%}" for d in grid.columns]
    priced = result.headline[result.headline["kind"] == "priced"]["price_usd"]
    center = float(priced.iloc[0]) if len(priced) else None
    fig, ax = plt.subplots(figsize=(9, 5.5))
    span = float(np.abs(grid.to_numpy() - center).max()) if center else None
    sns.heatmap(grid, annot=True, fmt=".0f", cmap="RdYlGn", center=center, ax=ax,
                vmin=center - span if span else None, vmax=center + span if span else None,
                cbar_kws={"label": "fair price per share (USD); red: below the IPO price"})
    ax.set_xlabel("concentration discount")
    ax.set_ylabel("target revenue growth")
    note = f"; colour centred on the ${center:,.0f} IPO price" if center else ""
    ax.set_title(f"Fair price (USD/share), {result.fits[result.chosen].spec.label}{note}")
    _footnote(fig, result)
    return fig


def influence_chart(result: BuildResult) -> Figure:
    """How the chosen spec's fair price moves when each peer is dropped (the 30 largest moves)."""
    plt, _ = _setup()
    inf = result.influence[result.influence["spec"] == result.chosen]
    inf = inf.loc[inf["fair_price_change"].abs().nlargest(30).index].sort_values("fair_price_change")
    fig, ax = plt.subplots(figsize=(9, max(3.5, 0.32 * len(inf) + 1.5)))
    colors = ["#d62728" if f else "#7f7f7f" for f in inf["influential"]]
    ax.barh(inf["dropped"], inf["fair_price_change"] * 100, color=colors)
    thr = result.config.influence_threshold * 100
    for v in (-thr, thr):
        ax.axvline(v, color="black", ls=":", lw=1)
    ax.set_xlabel("change in fair price when the peer is dropped (%)")
    ax.set_title(f"Leave-one-out influence on the fair price ({result.chosen}); red = influential")
    _footnote(fig, result, "Influential: moves the fair price by more than the threshold or flips a verdict.")
    return fig


CHARTS = {
    "scatter_growth_multiple": scatter,
    "football_field": football_field,
    "sensitivity_heatmap": sensitivity_heatmap,
    "peer_multiples": peer_bars,
    "influence": influence_chart,
}
