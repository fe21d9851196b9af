"""What a reader sees: the comps table's arithmetic, the workbook read back with openpyxl, and
each formatting fix (prices as dollars, no stray apostrophes, units that match the values, no
scientific notation, fiscal years from the target file)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
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
    peers = offline_result.peers[offline_result.peers["include"]]
    assert set(t.loc[t["row_type"] == "peer", "ticker"]) == set(peers.index)
    for segment, group in peers.groupby("segment"):
        label = fmt.segment_label(segment)
        rows = t[(t["group"] == label) & (t["row_type"] == "stat")].set_index("name")
        values = group["ev_to_revenue_ltm"].dropna().to_numpy()
        assert rows.empty == (len(group) == 1)  # no statistics of a single peer
        if len(group) > 1 and len(values):
            assert rows.loc["Mean", "ev_to_revenue_ltm"] == pytest.approx(np.mean(values))
            assert rows.loc["Median", "ev_to_revenue_ltm"] == pytest.approx(np.median(values))
            assert rows.loc["High", "ev_to_revenue_ltm"] == pytest.approx(values.max())
            assert rows.loc["Low", "ev_to_revenue_ltm"] == pytest.approx(values.min())
    overall = t[(t["group"] == "All peers")].set_index("name")
    assert overall.loc["Median", "growth_adjusted_multiple"] == pytest.approx(
        np.median((peers["ev_to_revenue_ltm"] / (peers["revenue_growth"] * 100)).dropna()))
    target = t[t["row_type"] == "target"]
    assert list(t["row_type"].iloc[-len(target):]) == ["target"] * len(offline_result.target.price_points)
    shares, rev, gm = 215_228_541, 510.0e6, 0.39
    for (_, row), p in zip(target.iterrows(), offline_result.target.price_points, strict=True):
        raised = 185.0 if p.kind == "trading" else p.price_usd  # proceeds raised at the offer once priced
        ev = p.price_usd * shares - (701.7e6 + 30e6 * raised * (1 - 0.033))  # the EV bridge, by hand
        assert row["ev_to_revenue_ltm"] == pytest.approx(ev / rev)
        assert row["ev_to_gross_profit_ltm"] == pytest.approx(ev / (rev * gm))


def test_the_workbook_has_its_sheets_formats_formulas_and_cached_values(offline_result):
    from openpyxl import load_workbook

    data = _out(offline_result, "comps.xlsx").read_bytes()
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Summary", "Comps", "Valuation", "Regression", "Sensitivity", "Sources"]
    values = load_workbook(io.BytesIO(data), data_only=True)["Valuation"]
    ws = wb["Valuation"]
    assert ws.freeze_panes == "B13" and wb["Comps"].freeze_panes == "D2"  # inputs and header stay in view
    val = pd.read_csv(_out(offline_result, "valuation.csv"))
    val = val[val["spec"] == offline_result.chosen].reset_index(drop=True)
    for i, r in val.iterrows():
        n = 13 + i  # first price row under the nine inputs, a blank row and the header
        assert ws[f"A{n}"].value == r["price_point"]
        raised = "B18" if r["kind"] == "trading" else f"B{n}"  # the first-day close: proceeds raised at the $185 offer
        assert ws[f"C{n}"].value == f"=B{n}*$B$2" and ws[f"D{n}"].value == f"=$B$3+{raised}*$B$4"
        assert ws[f"E{n}"].value == f"=C{n}-D{n}" and ws[f"F{n}"].value == f"=E{n}/$B$5"
        assert ws[f"H{n}"].value == f"=($B$7*(1-$B$8)*$B$6+D{n})/$B$2"
        assert values[f"B{n}"].value == pytest.approx(r["price_usd"])
        assert values[f"C{n}"].value == pytest.approx(r["market_cap_usd"])
        assert values[f"D{n}"].value == pytest.approx(r["net_cash_usd"])
        assert values[f"E{n}"].value == pytest.approx(r["enterprise_value_usd"])
        assert values[f"F{n}"].value == pytest.approx(r["ev_to_revenue_ltm"])
        assert values[f"G{n}"].value == pytest.approx(r["implied_multiple"])
        assert values[f"H{n}"].value == pytest.approx(r["fair_price_usd"])
        assert ws[f"B{n}"].number_format == "$#,##0.00" and ws[f"F{n}"].number_format == '0.0"×"'
        assert "$" in ws[f"C{n}"].number_format and ws[f"I{n}"].number_format == "0.0%"
    assert values["B2"].value == 215_228_541
    comps = wb["Comps"]
    header = [c.value for c in comps[1]]
    col = header.index("EV/Revenue (LTM)") + 1
    assert comps.cell(2, col).number_format == '0.0"×"'
    assert isinstance(comps.cell(2, col).value, float)


def test_text_cells_are_defused_and_numbers_stay_numbers(project):
    from openpyxl import load_workbook

    from comps.cli import main

    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text().replace("NVDA,NVIDIA,accelerators,true,GPU and systems standard; FY ends late January",
                                               'NVDA,"=cmd|\' /C calc\'!A0",accelerators,true,"@SUM(1+1)"'))
    assert main(["build", "--offline", "--no-charts", "--out", "out"]) == 0
    csv_text = (project / "out" / "peers.csv").read_text()
    assert "'=cmd|" in csv_text and "'@SUM(1+1)" in csv_text
    frame = pd.read_csv(project / "out" / "peers.csv")
    assert pd.api.types.is_float_dtype(frame["net_debt_usd"]) and (frame["net_debt_usd"] < 0).any()
    comps = load_workbook(project / "out" / "comps.xlsx")["Comps"]
    cells = [c for row in comps.iter_rows() for c in row if isinstance(c.value, str) and "cmd|" in c.value]
    assert cells and all(c.data_type == "s" for c in cells)  # text, never a formula
    assert not any(md.read_text().count("'=") for md in (project / "out").glob("*.md"))


def test_markdown_shows_prices_as_dollars_and_no_stray_apostrophes(offline_result):
    out = _out(offline_result, "summary.md").parent
    sens = (out / "sensitivity.md").read_text()
    grid = offline_result.sensitivity
    first = fmt.usd(grid.iloc[0, 0])
    assert first in sens and "%" not in sens.split("\n")[2].split("|")[2]  # a price cell, not a percentage
    assert "Discount 0%" in sens
    for md in out.glob("*.md"):
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
    assert shown.iloc[0]["vs peer median"] == f"{own['premium_to_peer_median'] * 100:+,.0f}%"
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
                        f"revenue and {ev / (510e6 * 0.39):.1f}× gross profit, {ev / 510e6 / np.median(peers):.1f} times "
                        "the peer median EV/Revenue")
    assert int((peers <= priced["ev_to_revenue_ltm"]).sum()) == len(peers) and f"above all {len(peers)} peers" in s
    # basic shares are below the $40B line, fully diluted (305M shares) above it
    assert "checklist: wait on basic shares, walk away" in s
    assert f"market cap $39.8B, ${(40e9 - 185 * 215_228_541) / 1e6:,.1f}M below the $40.0B walk-away line" in s


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
