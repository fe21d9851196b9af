"""What a reader sees: the comps table's arithmetic, the workbook read back with openpyxl, and
each formatting fix (prices as dollars, no stray apostrophes, units that match the values, no
scientific notation, fiscal years from the target file)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from comps.report import fmt
from comps.report.story import verdict_sentence
from comps.report.tables import comps_table, tables, to_csv, valuation_labels


def _out(result, name):
    return next(p for p in result.written if p.name == name)


def test_comps_table_groups_peers_and_its_statistics_are_the_numbers(offline_result):
    t = comps_table(offline_result)
    peers = offline_result.peers
    assert list(t.loc[t["row_type"] == "peer", "ticker"]) == list(peers.sort_values("segment", kind="stable").index)
    included = peers[peers["include"]]
    for block, rows in (("Core peers", included[included["tier"] == "core"]),
                        ("Extended peers", included[included["tier"] == "extended"]), ("All peers", included)):
        stats = t[(t["group"] == block) & (t["row_type"] == "stat")].set_index("name")
        assert list(stats.index) == ["Mean", "Median", "High", "Low", "n"]
        for col in ("ev_to_revenue_ltm", "ev_to_gross_profit_ltm", "net_debt_usd"):
            values = rows[col].dropna().to_numpy()
            assert stats.loc["n", col] == len(values)  # n per statistic: each column its own
            assert stats.loc["Mean", col] == pytest.approx(np.mean(values))
            assert stats.loc["Median", col] == pytest.approx(np.median(values))
            assert stats.loc["High", col] == pytest.approx(values.max())
            assert stats.loc["Low", col] == pytest.approx(values.min())
    assert len(included[included["tier"] == "core"]) == 7  # NVDA AMD AVGO CRWV NBIS ALAB CRDO, from data/peers.csv
    overall = t[(t["group"] == "All peers")].set_index("name")
    assert overall.loc["Median", "growth_adjusted_multiple"] == pytest.approx(
        np.median((included["ev_to_revenue_ltm"] / (included["revenue_growth"] * 100)).dropna()))
    target = t[t["row_type"] == "target"]
    assert list(t["row_type"].iloc[-len(target):]) == ["target"] * len(offline_result.target.price_points)
    shares, rev, gm = 215_228_541, 510.0e6, 0.39
    for (_, row), p in zip(target.iterrows(), offline_result.target.price_points, strict=True):
        raised = 185.0 if p.kind == "trading" else p.price_usd  # proceeds raised at the offer once priced
        net_cash = 701.7e6 + 30e6 * raised * (1 - 0.033)  # the EV bridge, by hand
        ev = p.price_usd * shares - net_cash
        assert row["share_price_usd"] == p.price_usd and row["net_debt_usd"] == pytest.approx(-net_cash)
        assert row["revenue_ltm_usd"] == rev and row["ltm_end_date"] == dt.date(2025, 12, 31)
        assert row["ev_to_revenue_ltm"] == pytest.approx(ev / rev)
        assert row["ev_to_gross_profit_ltm"] == pytest.approx(ev / (rev * gm))


def test_the_markdown_comps_table_names_each_segment_once_and_aligns_figures_right(offline_result):
    from comps.report.tables import comps_display, to_markdown

    md = to_markdown(comps_display(comps_table(offline_result)), formatted=True)
    lines = md.splitlines()
    assert lines[0].startswith("| Company") and "Share price" in lines[0] and "Net debt" in lines[0]
    aligns = [c.strip() for c in lines[1].strip("|").split("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert aligns[0].startswith(":") and all(a.endswith(":") and not a.startswith(":") for h, a in zip(header, aligns)
                                             if h in ("Market cap", "EV/Revenue (LTM)", "Gross margin"))
    assert md.count("| **Networking**") == 1 and md.count("| **All peers**") == 1
    assert "| Arm Holdings (ARM)" in md and "$207.82" in md  # a share price where the snapshot has the close


def test_text_cells_are_defused_and_numbers_stay_numbers(project):
    from openpyxl import load_workbook

    from comps.cli import main

    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text().replace("NVDA,NVIDIA,accelerators,true,core,The GPU incumbent Cerebras sells against in training and inference systems; FY ends late January",
                                               'NVDA,"=cmd|\' /C calc\'!A0",accelerators,true,core,"@SUM(1+1)"'))
    assert main(["build", "--offline", "--no-charts", "--out", "out"]) == 0
    csv_text = (project / "out" / "tables" / "peers.csv").read_text()
    assert "'=cmd|" in csv_text and "'@SUM(1+1)" in csv_text
    frame = pd.read_csv(project / "out" / "tables" / "peers.csv")
    assert pd.api.types.is_float_dtype(frame["net_debt_usd"]) and (frame["net_debt_usd"] < 0).any()
    comps = load_workbook(project / "out" / "comps.xlsx")["Comps"]
    cells = [c for row in comps.iter_rows() for c in row if isinstance(c.value, str) and "cmd|" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)  # text, never a formula
    assert not any(md.read_text().count("'=") for md in (project / "out").rglob("*.md"))


def test_markdown_shows_prices_as_dollars_and_no_stray_apostrophes(offline_result):
    out = _out(offline_result, "summary.md").parent / "tables"
    sens = (out / "sensitivity.md").read_text()
    grid = offline_result.sensitivity
    first = fmt.usd(grid.iloc[0, 0])
    assert first in sens and "%" not in sens.split("\n")[2].split("|")[2]  # a price cell, not a percentage
    assert "Discount 0%" in sens
    for md in out.parent.rglob("*.md"):  # the tables and summary.md
        assert "'-" not in md.read_text(), md.name
    coef = (out / "coefficients.md").read_text()
    slope = offline_result.fits["ev_revenue"].params["revenue_growth"]
    assert f"{slope:,.3f}" in coef and "%" not in coef.split("\n")[2]
    conc = (out / "concentration.md").read_text()
    d = offline_result.specs[offline_result.chosen].discount.discount
    assert fmt.percent(d) in conc and f"{d:.5f}" not in conc


def test_the_headline_table_leads_with_the_peer_distribution_when_no_regression_wins(offline_result):
    from comps.report.tables import headline_display

    assert offline_result.headline_is_baseline  # the premise, on the bundled data
    shown = headline_display(offline_result)
    assert not any("Fair" in c or "band" in c for c in shown.columns)  # no fair price leads
    row, dist = offline_result.headline.iloc[0], offline_result.peer_distribution
    own = dist[(dist["multiple"] == "ev_to_gross_profit_ltm") & (dist["price_point"] == row["price_point"])].iloc[0]
    assert shown.iloc[0]["EV/Gross profit (LTM)"] == fmt.multiple(row["implied_multiple"])
    assert shown.iloc[0]["vs peer median (EV/Gross profit)"] == f"{own['premium_to_peer_median'] * 100:+,.0f}%"
    # a regression headline shows its fair price, band and premium
    reg = dataclasses.replace(offline_result, chosen="log_ev_revenue_margin")
    shown = headline_display(reg)
    r = reg.headline.iloc[0]
    assert shown.iloc[0]["Fair price"] == fmt.usd(r["fair_price_usd"])
    assert shown.iloc[0]["90% band"] == f"{fmt.usd(r['band_low_price_usd'])} to {fmt.usd(r['band_high_price_usd'])}"


def test_source_values_are_in_the_unit_beside_them(offline_result):
    src = pd.read_csv(_out(offline_result, "sources_peers.csv"))
    nvda = src[(src["ticker"] == "NVDA") & (src["field"] == "revenue_fy") & (src["date"] == "2026-01-25")].iloc[0]
    assert nvda["unit"] == "USD millions" and float(nvda["value"]) == pytest.approx(215_900)  # as in the snapshot
    assert set(src["status"]) >= {"used"}


def test_no_scientific_notation_and_one_verdict_sentence_in_the_report(offline_result):
    html = _out(offline_result, "report.html").read_text()
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", html)
    text = re.sub(r"<style>.*?</style>", "", text, flags=re.DOTALL)
    assert not re.search(r"\d\.?\d*[eE][+-]\d{2}", text)
    assert f'<p class="verdict" id="verdict">{verdict_sentence(offline_result)}</p>'.replace("'", "&#x27;") in html
    assert "ev_revenue:" not in html and "log_ev_revenue" not in text.split("<details>")[0]


def test_the_verdict_sentence_states_the_multiples_the_peers_and_the_checklist(offline_result):
    s = verdict_sentence(offline_result)
    peers = offline_result.peers[offline_result.peers["include"]]["ev_to_revenue_ltm"].dropna()
    priced = offline_result.headline.set_index("price_point").loc["Priced"]
    ev = 185 * 215_228_541 - (701.7e6 + 30e6 * 185 * (1 - 0.033))
    assert s.startswith(f"At $185.00 (priced, 2026-05-13), Cerebras Systems is valued at {ev / 510e6:.1f}× FY2025 "
                        f"revenue and {ev / (510e6 * 0.39):.1f}× gross profit: {ev / 510e6 / np.median(peers):.1f} "
                        f"times the peer median EV/Revenue ({np.median(peers):.1f}×)")
    assert int((peers <= priced["ev_to_revenue_ltm"]).sum()) == len(peers) and f"above all {len(peers)} peers" in s
    # basic shares are below the $40B line, fully diluted (305M shares) above it: the headroom on both
    assert "Checklist: wait on basic shares, walk away fully diluted: $39.8B market cap, " in s
    assert f"${(40e9 - 185 * 215_228_541) / 1e6:,.1f}M under the $40.0B walk-away line" in s
    assert f"${185 * 305e6 / 1e9:.1f}B fully diluted, ${(185 * 305e6 - 40e9) / 1e9:.1f}B over it" in s


def test_labels_take_the_fiscal_year_from_the_target_file(offline_result):
    t = offline_result.target
    earlier = dataclasses.replace(t, revenue_usd=dataclasses.replace(t.revenue_usd, date=dt.date(2024, 12, 31)))
    assert valuation_labels(dataclasses.replace(offline_result, target=earlier))["ev_to_revenue_ltm"] == "EV/Revenue FY2024"


def test_csv_neutralizes_only_text(offline_result):
    frame = pd.DataFrame({"name": ["=x", "-y", "ok"], "value_usd": [-3.82, 1.0, -1e12]})
    out = to_csv(frame)
    assert out.splitlines()[1:] == ["'=x,-3.82", "'-y,1", "ok,-1000000000000"]  # and no scientific notation
    assert set(tables(offline_result)) >= {"comps", "peer_distribution", "discount_range", "valuation"}


@pytest.mark.parametrize("width", [80, 120, 200])
def test_the_terminal_table_fits_its_width_with_no_cell_wrapped(project, capsys, monkeypatch, width):
    from comps.cli import main

    monkeypatch.setenv("COLUMNS", str(width))
    assert main(["build", "--offline", "--no-charts", "--out", "out"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert all(len(line) <= width for line in out)
    rows = [line for line in out if line.startswith("│")]
    labels = ["IPO range low", "IPO range mid", "IPO range high", "Revised range low", "Revised range high", "Priced",
              "First-day close"]
    assert len(rows) == len(labels)  # one line per price point: no cell wrapped onto a second line
    for line, label in zip(rows, labels, strict=True):
        assert line.startswith(f"│ {label} ") and "$" in line and "×" in line
    header = next(i for i, line in enumerate(out) if line.startswith("┏"))
    assert ("Market" in " ".join(out[header:header + 5])) == (width >= 120)


def test_long_tables_write_the_same_numbers_as_short_ones():
    values = [1.0, -3.82, -1e12, 1e-5, 1.5e16, np.nan, 0.1 + 0.2, -0.0, 12345.678]
    frame = pd.DataFrame({"x_usd": values * 200, "name": ["=x", "y", "z"] * 600})
    long_rows = to_csv(frame).splitlines()[1:]  # the vectorized path (over 1,000 rows)
    expected = ["" if np.isnan(v) else np.format_float_positional(v, trim="-") for v in values * 200]
    assert [r.split(",")[0] for r in long_rows] == expected
    assert to_csv(frame.iloc[:9]).splitlines()[1:] == long_rows[:9]  # and the short path agrees


def test_the_readme_states_the_figures_a_build_produces(offline_result):
    from pathlib import Path

    from comps.report.story import believe_line, distribution_row, headline_point

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    p = headline_point(offline_result)
    rev = distribution_row(offline_result, p["price_point"])
    gp = distribution_row(offline_result, p["price_point"], "ev_to_gross_profit_ltm")
    sv = offline_result.specs[offline_result.chosen]
    d = sv.discount
    check = offline_result.checklist.set_index("price_point").loc[p["price_point"]]
    figures = [f"{fmt.multiple(p['ev_to_revenue_ltm'])} FY2025 revenue and {fmt.multiple(gp['implied_multiple'])} gross profit",
               (f"{p['ev_to_revenue_ltm'] / rev['peer_median']:.1f} times the\n  peer median EV/Revenue "
               f"({fmt.multiple(rev['peer_median'])})"), f"above all {int(rev['n'])} peers",
               f"({fmt.multiple(sv.prediction.multiple)}, n = {sv.fit.n})",
               f"{fmt.percent(d.discount, 0)} ({fmt.percent(d.range[0], 0)} to {fmt.percent(d.range[1], 0)}",
               f"{fmt.money(40e9 - check['market_cap_usd'])} under", f"{fmt.money(check['market_cap_diluted_usd'])},"]
    ev, revenue, g = p["enterprise_value_usd"], 510.0e6, 510.0 / 290.3 - 1
    years = np.log(ev / rev["peer_median"] / revenue) / np.log(1 + g)  # at the median multiple, growing at g
    figures += [f"{fmt.money(ev / rev['peer_median'])} of revenue", f"about {years:.1f} years",
                f"({fmt.multiple(rev['peer_q3'])}), {fmt.money(ev / rev['peer_q3'])}"]
    assert figures[-2] in believe_line(offline_result)
    for figure in figures:
        assert figure in readme, figure
