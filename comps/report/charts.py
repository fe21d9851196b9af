"""Charts from a build's results (seaborn + matplotlib). Figures are drawn from results only,
never computed here, and rendered to bytes with fixed metadata so two builds on the same
inputs give identical files.

Nothing here selects a matplotlib backend or changes global settings: each figure carries
its own Agg canvas and is drawn inside a style context, so importing this module in a
notebook leaves the session's backend and style alone (figures still display inline).
Labels are words, never spec ids; every chart colours a segment the same way.
"""

from __future__ import annotations

import contextlib
import gc
import io
import math
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from comps.report.fmt import segment_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from comps.result import BuildResult

DPI = 160
KIND_COLORS = {"range": "#1f77b4", "revised": "#9467bd", "priced": "#d62728", "trading": "#ff7f0e"}
KIND_NAMES = {"range": "IPO range", "revised": "revised range", "priced": "priced", "trading": "trading"}
SEGMENT_PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
                   "#ece133", "#56b4e9")


def _style() -> dict:
    import seaborn as sns

    return {**sns.axes_style("whitegrid"), **sns.plotting_context("notebook", font_scale=1.05),
            "svg.hashsalt": "comps", "figure.dpi": DPI, "axes.titleweight": "bold", "axes.titlesize": 13,
            "text.parse_math": False,  # "$" in prices and user notes is a dollar sign, never mathtext
            "svg.fonttype": "none"}  # SVG text stays text: selectable, editable, a third of the size


@contextlib.contextmanager
def styled():
    """matplotlib settings for one chart, restored afterwards."""
    import matplotlib

    with matplotlib.rc_context(_style()):
        yield


def new_figure(width: float, height: float):
    """A figure on its own Agg canvas (no pyplot, no backend switch) and its axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig, fig.subplots()


def warm_up() -> None:
    """Prepare a chart process: import what rendering and unpickling a result need, load the
    fonts by drawing once, then freeze the heap so garbage collection does not rescan the
    imported libraries while rendering."""
    import comps.result  # noqa: F401 - unpickling a BuildResult imports it

    with styled():
        fig, ax = new_figure(2, 1)
        ax.set_title("warm-up")
        fig.canvas.draw()
    gc.freeze()


def render(fig: Figure) -> dict[str, bytes]:
    """PNG and SVG bytes with fixed metadata (no timestamps, no version strings). The tight
    bounding box is measured once and reused, instead of a second layout pass per format."""
    with styled():
        bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
        out = {}
        for ext, meta in (("png", {"Software": None}), ("svg", {"Date": None, "Creator": None})):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=DPI, bbox_inches=bbox, metadata=meta)
            out[ext] = buf.getvalue()
    return out


def render_all(result: BuildResult, stems: list[str] | None = None) -> dict[str, dict[str, bytes]]:
    """The charts named by ``stems`` (default: all) as PNG and SVG bytes."""
    return {stem: render(CHARTS[stem](result)) for stem in (stems or list(CHARTS))}


def segment_colors(result: BuildResult) -> dict[str, str]:
    """One colour per segment, the same in every chart (segments in sorted order)."""
    segments = sorted(result.peers["segment"].unique())
    return {s: SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)] for i, s in enumerate(segments)}


def _footnote(fig: Figure, result: BuildResult, extra: str = "", below=None) -> None:
    """Sources and as-of date under the figure (under ``below``, a legend, if given), wrapped to
    its width. textwrap, not matplotlib's ``wrap=True``, which re-measures the text word by
    word on every draw."""
    files = ", ".join(p.name for p in result.snapshots.files)
    text = (f"As of {result.as_of}. Peer figures: snapshots {files} (sources in sources_peers.csv); "
            f"target: {result.target.path}. {extra}").strip()
    chars = int(fig.get_figwidth() * 72 / (7.5 * 0.55))  # 7.5 pt text averages ~0.55 em per character
    style = {"ha": "left", "va": "top", "fontsize": 7.5, "color": "#555555"}
    if below is None:
        fig.text(0.01, -0.01, textwrap.fill(text, chars), **style)
    else:  # start at the figure's left edge, just under the legend
        ax = fig.axes[0]
        ax.annotate(textwrap.fill(text, chars), xy=(0, 0), xycoords=(fig.transFigure, below),
                    xytext=(4, -6), textcoords="offset points", **style)


def place_labels(ax, xs, ys, texts, half_widths=None, fontsize: float = 9, color: str = "#222222") -> None:
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


def _times(v: float, _pos=None) -> str:
    return f"{v:,.0f}×" if v >= 1 else f"{v:.1f}×"


def scatter(result: BuildResult, max_labels: int = 40) -> Figure:
    """Peers' growth against the headline multiple, the fit with its 80/95 % prediction bands,
    the target at each price point and its discounted fair value."""
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter, NullFormatter

    from comps.valuation import floor0, target_inputs

    sv = result.specs[result.chosen]
    fit, spec, peers = sv.fit, sv.fit.spec, result.peers
    x_t = target_inputs(result.target)
    g_t = x_t[spec.growth]
    colors = segment_colors(result)
    with styled():
        fig, ax = new_figure(10, 6.4)
        in_fit = peers.index.isin(fit.tickers)
        xs = peers.loc[in_fit, spec.growth].to_numpy(dtype=float)
        lo, hi = np.nanmin(np.append(xs, g_t)), np.nanmax(np.append(xs, g_t))
        grid = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 120)
        preds = [fit.predict({**x_t, spec.growth: g}, (0.8, 0.95)) for g in grid]
        for level, alpha in ((0.95, 0.12), (0.8, 0.22)):
            ax.fill_between(grid * 100, [floor0(p.interval(level).pi_low) for p in preds],
                            [p.interval(level).pi_high for p in preds], color="#4c72b0", alpha=alpha, lw=0,
                            label=f"{level:.0%} prediction band")
        ax.plot(grid * 100, [p.multiple for p in preds], color="#4c72b0", lw=2, label="fitted line")
        fitted = peers.loc[in_fit]
        sns.scatterplot(x=fitted[spec.growth] * 100, y=fitted[spec.y], hue=fitted["segment"].map(segment_label),
                        palette={segment_label(s): c for s, c in colors.items()}, s=75, ax=ax, edgecolor="black",
                        linewidth=0.5, zorder=3)
        named = fitted.nlargest(max_labels, "market_cap_usd") if len(fitted) > max_labels else fitted
        head = result.headline
        for kind, color in KIND_COLORS.items():
            pts = head[head["kind"] == kind]
            if len(pts):
                ax.scatter([g_t * 100] * len(pts), pts["implied_multiple"], marker="_", s=500, lw=2.5,
                           color=color, zorder=4, label=f"{result.target.ticker} at the {KIND_NAMES[kind]} price")
        fair = sv.prediction.multiple * (1 - sv.discount.discount)
        ax.scatter([g_t * 100], [fair], marker="D", s=90, color="#2ca02c", edgecolor="black", zorder=5,
                   label=f"{result.target.ticker} fair value ({sv.discount.discount:.0%} concentration discount)")
        labels_x = [*named[spec.growth] * 100, *[g_t * 100] * len(head), g_t * 100]
        labels_y = [*named[spec.y], *head["implied_multiple"], fair]
        texts = [*named.index, *(f"${p:,.0f}" for p in head["price_usd"]),
                 f"fair ${sv.fair_price(sv.prediction.multiple):,.0f}"]
        half_widths = [5.0] * len(named) + [12.0] * len(head) + [6.0]  # dots, price bars (s=500), diamond
        if spec.log_y:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(FuncFormatter(_times))
            ax.yaxis.set_minor_formatter(NullFormatter())
        else:
            ax.yaxis.set_major_formatter(FuncFormatter(_times))
            ax.set_ylim(bottom=0)
        ax.set_xlabel("Revenue growth, year on year (%)" if spec.growth == "revenue_growth"
                      else "Revenue growth, next twelve months (%)")
        ax.set_ylabel(spec.y_label + (" (log scale)" if spec.log_y else ""))
        ax.set_title(f"{result.target.name} at each price point against the peers: {spec.y_label}, n = {fit.n}")
        place_labels(ax, np.array(labels_x), np.array(labels_y), texts, half_widths)
        legend = ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
        extra = " Gross margin held at the target's." if len(spec.x) > 1 else ""
        _footnote(fig, result, f"Bands: where a new peer with this growth would trade (OLS prediction intervals, "
                               f"floored at 0×).{extra}" + (f" Target EV: {result.target.ev_assumption}"
                                                             if result.target.net_cash_usd is None else ""), legend)
    return fig


def peer_bars(result: BuildResult, max_bars: int = 40) -> Figure:
    """Peer EV/Revenue (LTM) with the peer median and the target's multiple at each price kind.
    Large universes show the ``max_bars`` largest peers; the median is over all of them."""
    import seaborn as sns

    colors = segment_colors(result)
    every = result.peers[result.peers["include"]].dropna(subset=["ev_to_revenue_ltm"])
    peers = every.nlargest(max_bars, "market_cap_usd").sort_values("ev_to_revenue_ltm", ascending=False)
    with styled():
        fig, ax = new_figure(9, max(4.0, 0.34 * len(peers) + 1.8))
        sns.barplot(x=peers["ev_to_revenue_ltm"], y=peers.index, hue=peers["segment"].map(segment_label),
                    palette={segment_label(s): c for s, c in colors.items()}, dodge=False, saturation=1, ax=ax)
        med = float(every["ev_to_revenue_ltm"].median())
        ax.axvline(med, color="black", ls="--", lw=1.2, label=f"median of all {len(every)} peers {med:.1f}×")
        head = result.headline
        for kind, color in KIND_COLORS.items():
            pts = head[head["kind"] == kind]
            for _, r in pts.iterrows():
                ax.axvline(r["ev_to_revenue_ltm"], color=color, lw=1, alpha=0.8)
            if len(pts):
                ax.plot([], [], color=color, label=f"{result.target.ticker} {KIND_NAMES[kind]}: "
                        + ", ".join(f"{m:.0f}×" for m in pts["ev_to_revenue_ltm"]))
        ax.set_xlabel(f"EV / revenue, LTM (×); {result.target.ticker} on {result.target.fiscal_label} revenue")
        ax.set_ylabel("")
        shown = f"largest {len(peers)} of {len(every)}" if len(every) > len(peers) else f"n = {len(peers)}"
        ax.set_title(f"Peer EV/Revenue against {result.target.ticker} at its price points ({shown})")
        legend = ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
        _footnote(fig, result, below=legend)
    return fig


def football_field(result: BuildResult) -> Figure:
    """Fair value per share by method, with the IPO range, priced and first-close lines."""
    rows = []
    for sv in result.specs.values():
        p, label = sv.prediction, sv.fit.spec.label
        i95, i80 = p.interval(0.95), p.interval(0.8)
        boot = np.percentile(sv.fair_price(sv.bootstrap), [5, 95]) if sv.bootstrap.size else (np.nan, np.nan)
        mid = sv.fair_price(p.multiple)
        rows.append((f"{label}\n95 % prediction interval", sv.fair_price(i95.pi_low), sv.fair_price(i95.pi_high),
                     mid, "#a6bddb"))
        rows.append(("80 % prediction interval", sv.fair_price(i80.pi_low), sv.fair_price(i80.pi_high), mid, "#3690c0"))
        rows.append(("fitted line, parameter bootstrap 5–95 %", boot[0], boot[1], mid, "#74c476"))
    pv = result.peer_values.set_index("method")["fair_price_usd"]
    rows.append(("Peer EV/Revenue Q1 to Q3\n(no regression, no discount)", pv["peer Q1"], pv["peer Q3"],
                 pv["peer median"], "#fdae6b"))
    with styled():
        fig, ax = new_figure(10, 0.46 * len(rows) + 2.2)
        right = 1.4 * float(result.headline["price_usd"].max())  # clip runaway bands; label their end
        for i, (_, lo, hi, mid, color) in enumerate(rows):
            lo_c, hi_c = max(lo, 0.0), min(hi, right)
            if lo_c >= right:  # the whole band lies beyond the axis: say where
                ax.text(right, i, f"${lo:,.0f} to ${hi:,.0f} →", va="center", ha="right", fontsize=8)
                continue
            ax.barh(i, hi_c - lo_c, left=lo_c, color=color, edgecolor="black", lw=0.4, height=0.62)
            if mid < right:
                ax.plot([max(mid, 0), max(mid, 0)], [i - 0.31, i + 0.31], color="black", lw=1.5)
            if hi > right:
                ax.text(right, i, f" → ${hi:,.0f}", va="center", ha="right", fontsize=8)
        ax.set_xlim(0, right)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8.5)
        ax.invert_yaxis()
        head = result.headline
        for kind, color in KIND_COLORS.items():
            pts = head[head["kind"] == kind]["price_usd"]
            if len(pts) > 1:
                ax.axvspan(pts.min(), pts.max(), color=color, alpha=0.15,
                           label=f"{KIND_NAMES[kind]} ${pts.min():,.0f}–{pts.max():,.0f}")
            elif len(pts) == 1:
                ax.axvline(pts.iloc[0], color=color, lw=2, label=f"{KIND_NAMES[kind]} ${pts.iloc[0]:,.2f}")
        ax.set_xlabel("Fair value per share (USD); the concentration discount applies to the regression rows")
        ax.set_title(f"{result.target.name}: fair value per share by method against the IPO prices")
        legend = ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, frameon=False)
        _footnote(fig, result, "Bars start at $0 where a linear fit's lower bound is negative.", legend)
    return fig


def sensitivity_heatmap(result: BuildResult) -> Figure:
    """Fair price per share over concentration discount × target growth (headline spec),
    coloured on a diverging scale centred on the price: red below it, blue above, the depth
    of colour the ratio of fair price to price (symmetric in log terms)."""
    import seaborn as sns
    from matplotlib.colors import TwoSlopeNorm

    grid = result.sensitivity
    priced = result.headline[result.headline["kind"] == "priced"]["price_usd"]
    price = float(priced.iloc[0]) if len(priced) else float(result.headline["price_usd"].median())
    values = grid.to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        ratio = np.log(np.maximum(values, 1e-9) / price)
    limit = max(float(np.nanmax(np.abs(np.clip(ratio, -5, 5)))), 0.1)
    annotations = np.vectorize(lambda v: f"${v:,.0f}")(values)
    with styled():
        fig, ax = new_figure(9, 5.8)
        sns.heatmap(np.clip(ratio, -limit, limit), annot=annotations, fmt="", cmap="RdBu", ax=ax,
                    norm=TwoSlopeNorm(vmin=-limit, vcenter=0.0, vmax=limit), linewidths=0.5, linecolor="white",
                    xticklabels=[f"{d:.0%}" for d in grid.columns], yticklabels=[f"{g:.0%}" for g in grid.index],
                    annot_kws={"fontsize": 10}, cbar_kws={"label": "fair price per share (USD)"})
        bar = ax.collections[0].colorbar
        ticks = np.linspace(-limit, limit, 5)
        bar.set_ticks(ticks, labels=[f"${price * math.exp(t):,.0f}" for t in ticks])
        ax.tick_params(axis="y", labelrotation=0)
        ax.tick_params(axis="x", labelrotation=0)
        ax.set_xlabel("concentration discount")
        ax.set_ylabel("target revenue growth")
        spec = result.fits[result.chosen].spec
        below = int((values < price).sum())
        ax.set_title(f"Fair price by growth and discount on {spec.label};\ncolour centred on the ${price:,.0f} IPO price")
        _footnote(fig, result, f"{below} of {values.size} cells are below the ${price:,.0f} price (red).")
    return fig


def influence_chart(result: BuildResult) -> Figure:
    """How the headline fair price moves when each peer is dropped (the 30 largest moves)."""
    inf = result.influence[result.influence["spec"] == result.chosen]
    inf = inf.loc[inf["fair_price_change"].abs().nlargest(30).index].sort_values("fair_price_change")
    with styled():
        fig, ax = new_figure(9, max(3.5, 0.34 * len(inf) + 1.6))
        colors = ["#d62728" if f else "#7f7f7f" for f in inf["influential"]]
        ax.barh(inf["dropped"], inf["fair_price_change"] * 100, color=colors)
        thr = result.config.influence_threshold * 100
        for v in (-thr, thr):
            ax.axvline(v, color="black", ls=":", lw=1)
        ax.set_xlabel("change in the fair price when the peer is left out (%)")
        ax.set_title(f"Leave-one-out influence on the fair price ({result.fits[result.chosen].spec.label})")
        _footnote(fig, result, "Red: moves the fair price by more than the threshold or flips a verdict.")
    return fig


CHARTS = {
    "scatter_growth_multiple": scatter,
    "football_field": football_field,
    "sensitivity_heatmap": sensitivity_heatmap,
    "peer_multiples": peer_bars,
    "influence": influence_chart,
}
