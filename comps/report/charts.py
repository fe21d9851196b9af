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
#: seaborn's colorblind palette, reordered so no two of the first eight segments share a hue family
SEGMENT_PALETTE = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#ece133", "#949494",
                   "#56b4e9", "#fbafe4")


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
    bounding box is measured once and reused, instead of a second layout pass per format. PNG
    uses zlib level 1: about a quarter less encoding CPU for files about 5 % larger."""
    with styled():
        bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
        out = {}
        for ext, kw in (("png", {"metadata": {"Software": None}, "pil_kwargs": {"compress_level": 1}}),
                        ("svg", {"metadata": {"Date": None, "Creator": None}})):
            buf = io.BytesIO()
            fig.savefig(buf, format=ext, dpi=DPI, bbox_inches=bbox, **kw)
            out[ext] = buf.getvalue()
    return out


def charts_for(obj) -> dict:
    """The charts of a build's result, or of a backtest's rows (a DataFrame)."""
    return CHARTS if hasattr(obj, "specs") else BACKTEST_CHARTS


def render_all(obj, stems: list[str] | None = None) -> dict[str, dict[str, bytes]]:
    """The charts of ``obj`` named by ``stems`` (default: all) as PNG and SVG bytes."""
    charts = charts_for(obj)
    return {stem: render(charts[stem](obj)) for stem in (stems or list(charts))}


def segment_colors(result: BuildResult) -> dict[str, str]:
    """One colour per segment, the same in every chart (segments in sorted order)."""
    segments = sorted(result.peers["segment"].unique())
    return {s: SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)] for i, s in enumerate(segments)}


def _footnote(fig: Figure, result: BuildResult, extra: str = "", below=None) -> None:
    """Sources and as-of date under the figure (under ``below``, a legend, if given), wrapped to
    its width. textwrap, not matplotlib's ``wrap=True``, which re-measures the text word by
    word on every draw."""
    files = ", ".join(p.name for p in result.snapshots.files)
    text = (f"As of {result.as_of}. Peer figures: snapshots {files} (sources in tables/sources_peers.csv); "
            f"target: {result.target.path}. {extra}").strip()
    chars = int(fig.get_figwidth() * 72 / (7.5 * 0.55))  # 7.5 pt text averages ~0.55 em per character
    style = {"ha": "left", "va": "top", "fontsize": 7.5, "color": "#555555"}
    if below is None:
        fig.text(0.01, -0.01, textwrap.fill(text, chars), **style)
    else:  # start at the figure's left edge, just under the legend
        ax = fig.axes[0]
        ax.annotate(textwrap.fill(text, chars), xy=(0, 0), xycoords=(fig.transFigure, below),
                    xytext=(4, -6), textcoords="offset points", **style)


def label_points(ax, xs, ys, texts, fontsize: float = 8.5) -> None:
    """Label points without overlaps, each joined to its point by a thin leader line (adjustText)."""
    from adjustText import adjust_text

    ax.autoscale_view()
    labels = [ax.text(x, y, t, fontsize=fontsize, color="#222222") for x, y, t in zip(xs, ys, texts, strict=True)]
    adjust_text(labels, x=np.asarray(xs, dtype=float), y=np.asarray(ys, dtype=float), ax=ax,
                arrowprops={"arrowstyle": "-", "color": "#888888", "lw": 0.6}, expand=(1.3, 1.5))


def legend_below(ax, ncol: int, gap_inches: float = 0.62):
    """The legend centred under the axes, a fixed distance below them (clear of the x label
    whatever the figure's height)."""
    from matplotlib.transforms import offset_copy

    below = offset_copy(ax.transAxes, fig=ax.figure, y=-gap_inches, units="inches")
    return ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below, ncol=ncol,
                     frameon=False)


def _times(v: float, _pos=None) -> str:
    return f"{v:,.0f}×" if v >= 1 else f"{v:.1f}×"


def scatter(result: BuildResult, max_labels: int = 40) -> Figure:
    """Peers' growth against the headline multiple (log scale), the target at each price point,
    and what the headline method says: a regression's line and band, drawn only across the
    peers' growth range, solid when its slope is significant and dashed when not; or the peer
    distribution's median and interquartile range, with the log regression on growth dashed
    for comparison."""
    import seaborn as sns
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from comps.regression import GROWTH
    from comps.valuation import band_level, target_inputs

    sv = result.specs[result.chosen]
    spec, peers = sv.fit.spec, result.peers
    x_t = target_inputs(result.target)
    g_t = x_t[GROWTH]
    colors = segment_colors(result)
    line = sv.fit if spec.kind == "regression" else result.fits.get("log_ev_revenue" if spec.y == "ev_to_revenue_ltm"
                                                                     else "log_ev_gross_profit")
    with styled():
        fig, ax = new_figure(10, 6.4)
        fitted = peers.loc[peers.index.isin(sv.fit.tickers)]
        xs = fitted[GROWTH].to_numpy(dtype=float)
        title_fit = ""
        if line is not None and line.spec.growth == GROWTH:
            grid = np.linspace(xs.min(), xs.max(), 100)  # never beyond the peers' growth
            level = result.config.headline_level
            preds = [line.predict({**x_t, GROWTH: g}, (level,)) for g in grid]
            significant = line.growth_p < result.config.weak_slope_p
            style = "-" if significant else "--"
            what = "significant" if significant else "not significant"
            if line is sv.fit:
                ax.fill_between(grid * 100, [p.interval(level).pi_low for p in preds],
                                [p.interval(level).pi_high for p in preds], color="#4c72b0", alpha=0.15, lw=0,
                                label=f"{level:.0%} prediction band (peers' growth range only)")
            ax.plot(grid * 100, [p.multiple for p in preds], color="#4c72b0", lw=1.8, ls=style,
                    label=f"{line.spec.label}: R² {line.rsquared:.2f}, slope p = {line.growth_p:.2f} ({what})")
            title_fit = f"; growth slope {what}"
        if spec.kind == "baseline":  # the peers' distribution, drawn across their own growth only
            iv = sv.prediction.interval(band_level(sv.fit, result.config.headline_level))
            span = [xs.min() * 100, xs.max() * 100]
            ax.fill_between(span, iv.pi_low, iv.pi_high, color="#999999", alpha=0.18, lw=0,
                            label="peers' interquartile range")
            ax.plot(span, [sv.prediction.multiple] * 2, color="#555555", lw=1.2,
                    label=f"peer {spec.stat.replace('geomean', 'geometric mean')} {_times(sv.prediction.multiple)}")
        sns.scatterplot(x=fitted[GROWTH] * 100, y=fitted[spec.y], hue=fitted["segment"].map(segment_label),
                        palette={segment_label(s): c for s, c in colors.items()}, s=70, ax=ax, edgecolor="black",
                        linewidth=0.5, zorder=3)
        named = fitted.nlargest(max_labels, "market_cap_usd") if len(fitted) > max_labels else fitted
        head = result.headline
        for kind, color in KIND_COLORS.items():
            pts = head[head["kind"] == kind]
            if len(pts):
                ax.scatter([g_t * 100] * len(pts), pts["implied_multiple"], marker="_", s=400, lw=2.5, color=color,
                           zorder=4, label=f"{result.target.ticker} {KIND_NAMES[kind]}: "
                           + ", ".join(f"${p:,.0f}" for p in pts["price_usd"]))
        marks = head.groupby(head["implied_multiple"].round(6), sort=False).agg(
            price=("price_usd", "first"), kinds=("kind", lambda k: " / ".join(dict.fromkeys(KIND_NAMES[x] for x in k))))
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(_times))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("Revenue growth, year on year (%)")
        ax.set_ylabel(f"{spec.y_label} (log scale)")
        ax.set_title(f"{result.target.name} against the peers: {spec.y_label}, n = {sv.fit.n}{title_fit}")
        label_points(ax, [*(named[GROWTH] * 100), *[g_t * 100] * len(marks)], [*named[spec.y], *marks.index],
                     [*named.index, *(f"${r.price:,.0f} {r.kinds}" for r in marks.itertuples())])
        legend = legend_below(ax, ncol=2)
        _footnote(fig, result, f"{result.target.ticker} sits at its own growth ({g_t:.0%}); its multiple at each "
                               "price uses the EV bridge of the target file.", legend)
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
                lo, hi = pts["price_usd"].min(), pts["price_usd"].max()
                ax.annotate(f"${lo:,.0f}" + (f"–{hi:,.0f}" if hi > lo else ""), (pts["ev_to_revenue_ltm"].mean(), 1),
                            xycoords=("data", "axes fraction"), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=8, color=color, fontweight="bold")
        ax.set_xlabel(f"EV / revenue, LTM (×); {result.target.ticker} on {result.target.fiscal_label} revenue")
        ax.set_ylabel("")
        shown = f"largest {len(peers)} of {len(every)}" if len(every) > len(peers) else f"n = {len(peers)}"
        ax.set_title(f"Peer EV/Revenue against {result.target.ticker} at its price points ({shown})", pad=16)
        legend = legend_below(ax, ncol=2)
        _footnote(fig, result, below=legend)
    return fig


def football_field(result: BuildResult) -> Figure:
    """Value per share by method, one bar each (the headline method marked): the peer
    EV/Revenue interquartile range on top, then each method's band (the peers' interquartile
    range for the peer distribution, the prediction interval for a regression) as break-even
    prices, against the IPO price points. Bars beyond the axis end in an arrow and their value."""
    from comps.valuation import band_level, target_inputs

    pv = result.peer_values.set_index("method")["fair_price_usd"]
    rows = [("Peer EV/Revenue, Q1 to Q3 (no discount)", pv["peer Q1"], pv["peer Q3"], pv["peer median"], "#fdae6b")]
    x = target_inputs(result.target)
    for name, sv in result.specs.items():
        iv = sv.prediction.interval(band_level(sv.fit, result.config.headline_level))
        star = "★ " if name == result.chosen else ""
        what = "IQR" if sv.fit.spec.kind == "baseline" else f"{result.config.headline_level:.0%} band"
        if sv.fit.extrapolates(x):  # a line beyond the peers' growth is not a value: no bar
            lo, hi = sv.fit.x_range()
            what = f"not drawn: {result.target.ticker}'s growth is outside the peers' {lo:.0%} to {hi:.0%}"
            rows.append((f"{sv.fit.spec.title} ({what})", math.nan, math.nan, math.nan, ""))
            continue
        rows.append((f"{star}{sv.fit.spec.title} ({what})", sv.breakeven(iv.pi_low), sv.breakeven(iv.pi_high),
                     sv.breakeven(), "#3690c0" if name == result.chosen else "#a6bddb"))
    head = result.headline
    right = 1.15 * float(head["price_usd"].max())
    with styled():
        fig, ax = new_figure(10, 0.5 * len(rows) + 2.4)
        for i, (_, lo, hi, mid, color) in enumerate(rows):
            if math.isnan(lo):
                continue
            lo_c, hi_c = max(lo, 0.0), min(hi, right)
            if lo_c >= right:  # the whole bar lies beyond the axis: say where
                ax.annotate(f"${lo:,.0f} to ${hi:,.0f} →", (right, i), ha="right", va="center", fontsize=8)
                continue
            ax.barh(i, hi_c - lo_c, left=lo_c, color=color, edgecolor="black", lw=0.4, height=0.6)
            if 0 <= mid < right:
                ax.plot([mid, mid], [i - 0.3, i + 0.3], color="black", lw=1.5)
            if hi > right:
                ax.annotate(f"→ ${hi:,.0f}", (right, i), ha="right", va="center", fontsize=8)
        ax.set_xlim(0, right)
        ax.set_yticks(range(len(rows)), [textwrap.fill(r[0], 44) for r in rows], fontsize=8.5)
        ax.invert_yaxis()
        for kind, color in KIND_COLORS.items():
            pts = head[head["kind"] == kind]["price_usd"]
            if len(pts) > 1:
                ax.axvspan(pts.min(), pts.max(), color=color, alpha=0.15,
                           label=f"{KIND_NAMES[kind]} ${pts.min():,.0f}–{pts.max():,.0f}")
            elif len(pts) == 1:
                ax.axvline(pts.iloc[0], color=color, lw=2, ls="-" if kind != "trading" else ":",
                           label=f"{KIND_NAMES[kind]} ${pts.iloc[0]:,.2f}")
        ax.set_xlabel("Value per share (USD): the offer price at which the deal is fair for each multiple")
        ax.set_title(f"{result.target.name}: value per share by method against the IPO prices")
        legend = legend_below(ax, ncol=4)
        _footnote(fig, result, "★ the headline method. Black ticks: each method's fair value. The concentration "
                               "discount applies to every method's bar, not to the peer quartile bar.", legend)
    return fig


def sensitivity_heatmap(result: BuildResult) -> Figure:
    """Break-even price per share over the multiple applied × concentration discount (headline
    method), coloured on a diverging scale centred on the price: red below it, blue above, the
    depth of colour the ratio of break-even to price (symmetric in log terms)."""
    import seaborn as sns
    from matplotlib.colors import TwoSlopeNorm

    grid = result.sensitivity
    priced = result.headline[result.headline["kind"] == "priced"]["price_usd"]
    price = float(priced.iloc[0]) if len(priced) else float(result.headline["price_usd"].median())
    values = grid.to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        ratio = np.log(np.maximum(values, 1e-9) / price)
    limit = max(float(np.nanmax(np.abs(np.clip(ratio, -3, 3)))), 0.1)
    annotations = np.vectorize(lambda v: f"${v:,.0f}")(values)
    spec = result.fits[result.chosen].spec
    with styled():
        fig, ax = new_figure(9, 0.45 * len(grid) + 2.6)
        sns.heatmap(np.clip(ratio, -limit, limit), annot=annotations, fmt="", cmap="RdBu", ax=ax,
                    norm=TwoSlopeNorm(vmin=-limit, vcenter=0.0, vmax=limit), linewidths=0.5, linecolor="white",
                    xticklabels=[f"{d:.0%}" for d in grid.columns], yticklabels=ladder_labels(result),
                    annot_kws={"fontsize": 9}, cbar_kws={"label": "break-even price per share (USD)"})
        bar = ax.collections[0].colorbar
        ticks = np.linspace(-limit, limit, 5)
        bar.set_ticks(ticks, labels=[f"${price * math.exp(t):,.0f}" for t in ticks])
        ax.tick_params(axis="both", labelrotation=0)
        ax.set_xlabel("concentration discount")
        ax.set_ylabel(f"{spec.y_label} applied")
        ax.set_title(f"The price each {spec.y_label} justifies, by discount;\ncolour centred on the ${price:,.0f} price")
        _footnote(fig, result, "Rows: the peers' quartiles and maximum, the headline method's fair multiple before "
                               "the discount, and the multiple each IPO price implies.")
    return fig


def ladder_labels(result: BuildResult) -> list[str]:
    """The sensitivity's rows named for what each multiple is: '26× peer median', '170× priced'."""
    sv = result.specs[result.chosen]
    peer = result.peers.loc[list(sv.fit.tickers), sv.fit.spec.y].dropna()
    named = [("peer Q1", peer.quantile(0.25)), ("peer median", peer.median()), ("peer Q3", peer.quantile(0.75)),
             ("peer high", peer.max()), ("fair", sv.prediction.multiple),
             *zip(result.headline["price_point"], result.headline["implied_multiple"], strict=True)]
    out = []
    for m in result.sensitivity.index:
        what = [name for name, v in named if round(float(v), 1) == m]
        out.append(f"{_times(m)} {', '.join(dict.fromkeys(what))}".strip())
    return out


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
        ax.set_xlabel("change in the break-even price when the peer is left out (%)")
        ax.set_title(f"Leave-one-out influence: {result.fits[result.chosen].spec.title}")
        _footnote(fig, result, "Red: moves the fair price by more than the threshold or flips a verdict.")
    return fig


def fmt_ratio(v: float) -> str:
    return f"{v:.2g}×"


def backtest_chart(rows) -> Figure:
    """Each past IPO's predicted band at the offer (the engine's headline method, 80% and 90%,
    as value per share) against the offer and the prices that followed, all divided by the offer
    price so the IPOs share one axis (log scale)."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    head = rows[rows["headline"]].sort_values("pricing_date").reset_index(drop=True)
    points = head[["value_usd", "first_day_close_usd", "close_6m_usd", "close_12m_usd",
                   "band_90_low_usd"]].div(head["offer_usd"], axis=0).to_numpy()
    left = 0.7 * float(np.nanmin(np.where(points >= 0.02, points, np.nan)))  # a band reaching lower ends in an arrow
    with styled():
        fig, ax = new_figure(9, 0.75 * len(head) + 2.2)
        for i, r in head.iterrows():
            p = r["offer_usd"]
            for level, color in ((90, "#c6dbef"), (80, "#6baed6")):
                lo, hi = r[f"band_{level}_low_usd"] / p, r[f"band_{level}_high_usd"] / p
                ax.barh(i, hi - max(lo, left), left=max(lo, left), height=0.5, color=color, edgecolor="none",
                        label=f"{level}% band at the offer" if i == 0 else None)
            if r["band_90_low_usd"] / p < left:
                ax.annotate(f"← to {fmt_ratio(max(r['band_90_low_usd'] / p, 0))}", (left, i), xytext=(2, 0),
                            textcoords="offset points", ha="left", va="center", fontsize=7.5)
            ax.plot([r["value_usd"] / p], [i], marker="D", color="#08306b", ms=7, ls="",
                    label="the method's value" if i == 0 else None)
            for col, marker, color, what in (("first_day_close_usd", "o", "#d62728", "first-day close"),
                                             ("close_6m_usd", "s", "#ff7f0e", "+6 months"),
                                             ("close_12m_usd", "^", "#2ca02c", "+12 months")):
                if r[col] > 0:
                    ax.plot([r[col] / p], [i], marker=marker, color=color, ms=8, ls="", mec="black", mew=0.5,
                            label=what if i == 0 else None)
        ax.axvline(1.0, color="black", lw=1.2, label="offer price")
        ax.set_xscale("log")
        ax.set_xlim(left=left)
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_ratio(v)))
        ax.set_yticks(range(len(head)), [f"{r['ticker']} ({r['pricing_date']}, ${r['offer_usd']:,.2f})"
                                         for _, r in head.iterrows()])
        ax.invert_yaxis()
        ax.set_xlabel("price or value per share ÷ offer price (log scale)")
        ax.set_title("Past IPOs: the band the engine gave at the offer, and where the price went")
        legend = legend_below(ax, ncol=4)
        ax.annotate(textwrap.fill(f"n = {len(head)} IPOs: descriptive, not a test. Each valued at its pricing date "
                                  "against its own point-in-time peers; bands after the concentration discount.", 110),
                    xy=(0, 0), xycoords=(fig.transFigure, legend), xytext=(4, -6), textcoords="offset points",
                    ha="left", va="top", fontsize=7.5, color="#555555")
    return fig


CHARTS = {
    "scatter_growth_multiple": scatter,
    "football_field": football_field,
    "sensitivity_heatmap": sensitivity_heatmap,
    "peer_multiples": peer_bars,
    "influence": influence_chart,
}
BACKTEST_CHARTS = {"backtest_bands": backtest_chart}
