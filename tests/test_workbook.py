"""comps.xlsx as a model: read back with openpyxl (formulas, cached values, dates, print setup),
then changed through its input cells and recalculated by LibreOffice headless where it is
installed (CI installs it): the fair price, the Comps statistics and the checklist follow,
checked against numpy and hand arithmetic."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
SHARES, REVENUE, GM = 215_228_541, 510.0e6, 0.39
#: LibreOffice recalculates every formula of an .xlsx it opens (default: never, trust the cache)
RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">
<value>0</value></prop></item></oor:items>"""


def net_cash(offer: float) -> float:
    """$701.7M before the offering plus 30M primary shares at the offer, less a 3.3 % spread."""
    return 701.7e6 + 30e6 * offer * (1 - 0.033)


def recalculated(path: Path, tmp: Path) -> Path:
    """``path`` opened, recalculated and saved again by LibreOffice headless."""
    profile = tmp / "lo-profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    out = tmp / "recalculated"
    subprocess.run([SOFFICE, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--calc", "--convert-to",
                    "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(path)], check=True, capture_output=True,
                   timeout=180)
    return out / path.name


def _rows(ws, column: str = "A") -> dict[str, int]:
    return {c.value: c.row for c in ws[column] if isinstance(c.value, str)}


@pytest.fixture(scope="module")
def book(offline_result):
    return next(p for p in offline_result.written if p.name == "comps.xlsx")


def test_the_workbook_is_a_model_with_its_values_cached(offline_result, book):
    from openpyxl import load_workbook
    from openpyxl.worksheet.formula import ArrayFormula

    wb, values = load_workbook(book), load_workbook(book, data_only=True)
    assert wb.sheetnames == ["Summary", "Comps", "Valuation", "Regression", "Sensitivity", "Sources"]
    ws, cached = wb["Valuation"], values["Valuation"]
    rows = _rows(ws)
    priced = rows["Priced"]
    assert ws[f"C{priced}"].value == f"=B{priced}*$B$2"  # market cap: the price times the basic shares
    assert ws[f"E{priced}"].value == f"=C{priced}-D{priced}"
    assert cached[f"C{priced}"].value == pytest.approx(185 * SHARES)
    assert cached[f"D{priced}"].value == pytest.approx(net_cash(185))
    assert cached[f"F{priced}"].value == pytest.approx((185 * SHARES - net_cash(185)) / REVENUE)
    assert cached[f"J{priced}"].value == pytest.approx(185 * 305e6)  # the stated fully diluted count
    assert (cached[f"K{priced}"].value, cached[f"L{priced}"].value) == ("wait", "walk away")
    first_day = rows["First-day close"]  # a trading price keeps the proceeds raised at the offer
    assert ws[f"D{first_day}"].value == f"=$B$9+B{priced}*$B$10"
    assert isinstance(ws["B13"].value, ArrayFormula) and "Comps!" in ws["B13"].value.text  # the peers' multiple
    comps = wb["Comps"]
    header = [c.value for c in comps[1]]
    col = {h: i + 1 for i, h in enumerate(header)}
    assert comps.cell(2, col["EV"]).value.startswith("=IF(") and comps.cell(2, col["Include (1/0)"]).value == 1
    assert comps.cell(2, col["Market data"]).is_date and isinstance(values["Comps"].cell(2, col["Market data"]).value,
                                                                     dt.datetime)
    stat = next(r for r in range(2, comps.max_row + 1)
                if comps.cell(r, 1).value == "All peers" and comps.cell(r, 2).value == "Median")
    assert isinstance(comps.cell(stat, col["EV/Revenue (LTM)"]).value, ArrayFormula)
    peers = offline_result.peers[offline_result.peers["include"]]
    assert values["Comps"].cell(stat, col["EV/Revenue (LTM)"]).value == pytest.approx(
        np.median(peers["ev_to_revenue_ltm"].dropna()))
    for sheet in wb.worksheets:  # prints landscape, one page wide (fitToWidth absent: the OOXML default, 1)
        setup = sheet.page_setup
        assert setup.orientation == "landscape" and setup.fitToWidth in (None, 1) and setup.fitToHeight == 0, sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
    assert any(isinstance(c.value, str) and c.value.startswith("=Valuation!K") for c in wb["Summary"]["B"])


@pytest.mark.slow
def test_a_recalculated_workbook_follows_the_discount_a_price_and_an_include_flag(offline_result, book, tmp_path):
    if SOFFICE is None:
        if os.environ.get("CI"):
            raise RuntimeError("CI must install LibreOffice for the recalculation test (see .ci/run)")
        pytest.skip("LibreOffice is not installed")
    from openpyxl import load_workbook

    wb = load_workbook(book)
    val, comps = wb["Valuation"], wb["Comps"]
    priced = _rows(val)["Priced"]
    val["B14"] = 0.30  # the concentration discount
    val[f"B{priced}"] = 200.0  # the offer, typed over
    header = {c.value: i + 1 for i, c in enumerate(comps[1])}
    arm = next(r for r in range(2, comps.max_row + 1) if comps.cell(r, header["Ticker"]).value == "ARM")
    comps.cell(arm, header["Include (1/0)"]).value = 0  # ARM out of every statistic
    changed = tmp_path / "comps.xlsx"
    wb.save(changed)
    got = load_workbook(recalculated(changed, tmp_path), data_only=True)
    v, c, summary = got["Valuation"], got["Comps"], got["Summary"]

    peers = offline_result.peers[offline_result.peers["include"] & (offline_result.peers.index != "ARM")]
    ev_gp = peers["ev_to_gross_profit_ltm"].dropna()
    fair = float(np.exp(np.log(ev_gp).mean()))  # the headline: the peers' geometric-mean EV/Gross profit
    assert v["B13"].value == pytest.approx(fair)
    assert v["B15"].value == pytest.approx(float(np.quantile(ev_gp, 0.75)))  # the wait line: the upper quartile
    cash = net_cash(200)
    assert v[f"C{priced}"].value == pytest.approx(200 * SHARES)
    assert v[f"H{priced}"].value == pytest.approx((fair * 0.70 * REVENUE * GM + cash) / SHARES)  # the fair price
    assert v[f"K{priced}"].value == "walk away"  # $43.0B is over the $40B line
    first_day = _rows(v)["First-day close"]
    assert v[f"D{first_day}"].value == pytest.approx(cash)  # raised at the new offer
    stat = next(r for r in range(2, c.max_row + 1) if c.cell(r, 1).value == "All peers" and c.cell(r, 2).value == "Median")
    assert c.cell(stat, header["EV/Revenue (LTM)"]).value == pytest.approx(np.median(peers["ev_to_revenue_ltm"].dropna()))
    n_row = stat + 3
    assert c.cell(n_row, 2).value == "n" and c.cell(n_row, header["EV/Revenue (LTM)"]).value == len(
        peers["ev_to_revenue_ltm"].dropna())
    target = next(r for r in range(2, c.max_row + 1) if c.cell(r, 2).value == "Priced")
    assert c.cell(target, header["EV/Revenue (LTM)"]).value == pytest.approx((200 * SHARES - cash) / REVENUE)
    live = {summary.cell(r, 1).value: summary.cell(r, 2).value for r in range(1, 14)}
    assert live["Checklist (basic shares)"] == "walk away" and live["Priced price"] == 200
    assert live["Peer median EV/Revenue (included peers)"] == pytest.approx(np.median(peers["ev_to_revenue_ltm"].dropna()))
    # and the untouched workbook recalculates to exactly the values it was written with
    fresh = load_workbook(recalculated(book, tmp_path / "again"), data_only=True)
    written = load_workbook(book, data_only=True)
    for name in written.sheetnames:
        for row in written[name].iter_rows():
            for cell in row:
                if isinstance(cell.value, float):
                    assert fresh[name][cell.coordinate].value == pytest.approx(cell.value, rel=1e-9), (name, cell.coordinate)
    assert isinstance(pd.Timestamp(fresh["Comps"].cell(2, header["Market data"]).value), pd.Timestamp)
