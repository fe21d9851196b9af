"""End to end on the bundled data: the valuation table, the CLI and the files it writes."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from comps import regression as rg
from comps.cli import main
from comps.diagnostics import warnings as collect_warnings
from comps.report.charts import CHARTS
from comps.report.tables import tables
from comps.valuation import target_inputs

# The target file's final terms: 215,228,541 shares after the offering, 30M primary shares, a 3.3 %
# spread and $701.7M of cash before the offering (no debt sourced).
SHARES, REV, PRIMARY, SPREAD, CASH = 215_228_541, 510.0e6, 30e6, 0.033, 701.7e6


def net_cash(price: float, kind: str = "priced") -> float:
    """Pre-offering cash + the primary shares' net proceeds, raised at ``price``; once priced, a
    trading price (the first-day close) leaves the proceeds as raised at the $185 offer."""
    return CASH + PRIMARY * (185.0 if kind == "trading" else price) * (1 - SPREAD)


def test_valuation_has_a_row_per_price_point_and_the_seed_figures(offline_result):
    head = offline_result.headline
    assert list(head["price_point"]) == [p.label for p in offline_result.target.price_points]
    mid = head.set_index("price_point").loc["IPO range mid"]
    assert mid["market_cap_usd"] == pytest.approx(120 * SHARES)
    assert mid["net_cash_usd"] == pytest.approx(701.7e6 + 30e6 * 120 * 0.967)
    assert mid["enterprise_value_usd"] == pytest.approx(120 * SHARES - net_cash(120))
    assert mid["ev_to_revenue_ltm"] == pytest.approx(42.44, abs=0.005)


def test_fair_price_premium_and_discount_by_hand(offline_result):
    for _, r in offline_result.valuation.iterrows():
        base = REV if r["multiple"] == "ev_to_revenue_ltm" else REV * 0.39
        p = r["price_usd"]
        assert r["fair_multiple_discounted"] == pytest.approx(r["fair_multiple"] * (1 - r["discount"]))
        cash = net_cash(p, r["kind"])
        assert r["fair_price_usd"] == pytest.approx((r["fair_multiple_discounted"] * base + cash) / SHARES)
        assert r["premium_to_fair"] == pytest.approx(p / r["fair_price_usd"] - 1)
        assert r["implied_multiple"] == pytest.approx((p * SHARES - cash) / base)
        # the break-even price: P × shares − proceeds(P) − cash = fair EV
        be = r["breakeven_price_usd"]
        assert be * SHARES - net_cash(be) == pytest.approx(r["fair_multiple_discounted"] * base, rel=1e-9)
        assert 0.0 <= r["p_low"] <= r["p_peer_below_price"] <= r["p_high"] <= 1.0
        assert r["p_low"] <= r["p_jackknife_plus"] <= r["p_high"]


def test_every_fit_is_numpy_arithmetic_on_the_peer_table(offline_result):
    for f in offline_result.fits.values():
        peers = offline_result.peers.loc[list(f.tickers)]
        y = peers[f.spec.y].to_numpy(float)
        if f.spec.kind == "baseline":
            expected = np.median(y) if f.spec.stat == "median" else np.exp(np.mean(np.log(y)))
            assert f.predict({}).multiple == pytest.approx(expected, rel=1e-12)
            continue
        X = np.column_stack([np.ones(f.n), peers[list(f.spec.x)].to_numpy(float)])
        beta = np.linalg.lstsq(X, np.log(y) if f.spec.log_y else y, rcond=None)[0]
        np.testing.assert_allclose(f.params.to_numpy(), beta, rtol=1e-9)


def test_higher_discount_gives_lower_fair_price(offline_result):
    sv = offline_result.specs[offline_result.chosen]
    prices = [sv.fair_price(sv.prediction.multiple, 185.0, d) for d in np.linspace(0, 0.9, 10)]
    assert all(a > b for a, b in itertools.pairwise(prices))
    sens = offline_result.sensitivity.to_numpy()
    assert (np.diff(sens, axis=1) < 0).all() and (np.diff(sens, axis=0) > 0).all()


def test_implied_growth_is_shown_only_under_a_significant_slope(offline_result):
    """On the bundled data no growth slope is significant: every implied growth is withheld
    with the reason, never an extrapolated number like 8,136 %."""
    for _, r in offline_result.valuation.iterrows():
        p = offline_result.fits[r["spec"]].growth_p
        assert np.isnan(r["implied_growth"])
        if r["kind_of_method"] == "baseline":
            assert r["implied_growth_note"] == "n/a: no regression"
            continue
        assert p >= 0.10  # the premise: the peers do not price growth significantly
        assert r["implied_growth_note"] == f"n/a: slope not significant (HC3 p = {p:.2f})"


def test_implied_growth_reproduces_each_price_under_a_significant_slope(offline_result):
    g = np.linspace(0.1, 1.5, 12)
    table = pd.DataFrame({rg.GROWTH: g, "ev_to_revenue_ltm": 5 + 20 * g + np.tile([0.3, -0.3], 6), "include": True},
                         index=[f"P{i}" for i in range(12)])
    f = rg.fit(table, rg.SPECS["ev_revenue"])
    from comps import bridge
    from comps import valuation as val

    t = offline_result.target
    sv = val.value_spec(f, t, offline_result.specs[offline_result.chosen].discount, bridge.terms(t),
                        levels=(0.9,), bootstrap_draws=np.array([]))
    rows = val.price_rows(sv, t, 0.9, weak_slope_p=0.10)
    x = target_inputs(t)
    for r in rows:
        m = f.predict({**x, rg.GROWTH: r["implied_growth"]}, ()).multiple
        assert sv.fair_price(m, r["price_usd"], trading=r["kind"] == "trading") == pytest.approx(r["price_usd"], rel=1e-9)
        # by hand: (M/(1-D) - a) / b with M the price's EV/Revenue
        m_und = (r["price_usd"] * SHARES - net_cash(r["price_usd"], r["kind"])) / REV / (1 - sv.discount.discount)
        assert r["implied_growth"] == pytest.approx((m_und - f.params["const"]) / f.params[rg.GROWTH], rel=1e-9)


def test_influence_matches_an_explicit_refit(offline_result):
    res = offline_result
    for spec in ("log_ev_revenue", res.chosen):
        inf = res.influence[res.influence["spec"] == spec].set_index("dropped")
        ticker = inf.index[0]
        f = rg.fit_method(res.peers.drop(index=ticker), res.fits[spec].spec)
        m = f.predict(target_inputs(res.target), ()).multiple
        d = inf.loc[ticker, "discount"]
        base = REV if f.spec.base == "revenue_ltm_usd" else REV * 0.39
        # the break-even price: (M·(1 − D)·base + cash) / (shares − primary × (1 − spread))
        expected = (m * (1 - d) * base + CASH) / (SHARES - PRIMARY * (1 - SPREAD))
        assert inf.loc[ticker, "fair_price_usd"] == pytest.approx(expected, rel=1e-9)


def test_warnings_cover_extrapolation_staleness_and_the_ev_assumption(offline_result):
    text = "\n".join(offline_result.warnings)
    assert "EV bridge: pre-offering debt not sourced: counted as 0" in text and "stale:" in text
    g = offline_result.target.revenue_growth
    for f in offline_result.fits.values():
        if f.spec.kind == "baseline":
            assert f"{f.spec.label}:" not in text
            continue
        lo, hi = f.x_range()
        assert (f"extrapolation: {f.spec.label}:" in text) == (not lo <= g <= hi)
        assert (f"weak fit: {f.spec.label}:" in text) == (f.pvalues[f.spec.growth] >= 0.10)


def test_a_significant_growth_slope_draws_no_weak_fit_warning(offline_result):
    g = np.linspace(0.1, 1.5, 12)
    noise = np.tile([0.3, -0.3], 6)
    table = pd.DataFrame({rg.GROWTH: g, "ev_to_revenue_ltm": 5 + 20 * g + noise, "include": True},
                         index=[f"P{i}" for i in range(12)])
    strong = rg.fit(table, rg.SPECS["ev_revenue"])
    assert strong.pvalues[rg.GROWTH] < 1e-6
    weak = rg.fit(table.assign(ev_to_revenue_ltm=5 + np.tile([3.0, -3.0, -3.0, 3.0], 3)), rg.SPECS["ev_revenue"])
    assert weak.pvalues[rg.GROWTH] > 0.10
    cfg = offline_result.config
    warnings = collect_warnings(offline_result.peers, {"strong": strong, "weak": weak}, {}, offline_result.target,
                                offline_result.as_of, stale_days=cfg.stale_days, small_n=cfg.small_n_warning,
                                weak_slope_p=cfg.weak_slope_p)
    weak_lines = [w for w in warnings if w.startswith("weak fit")]
    assert len(weak_lines) == 1 and f"HC3 p = {weak.pvalues[rg.GROWTH]:.2f}" in weak_lines[0]


def test_every_output_file_is_written_the_entry_points_on_top(offline_result):
    out = offline_result.config.out_dir
    names = {p.relative_to(out).as_posix() for p in offline_result.written}
    expected = {f"tables/{stem}.{ext}" for stem in tables(offline_result) for ext in ("csv", "md")}
    expected |= {f"charts/{stem}.{ext}" for stem in CHARTS for ext in ("png", "svg")}
    expected |= {"summary.md", "report.html", "manifest.json", "README.md", "comps.xlsx"}
    assert names == expected
    for p in offline_result.written:
        assert p.stat().st_size > 0
    assert (out / "charts" / "scatter_growth_multiple.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["README.md", "comps.xlsx", "manifest.json",
                                                                    "report.html", "summary.md"]


def _hashes(*dirs: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for d in dirs if d.exists()
            for p in sorted(d.rglob("*")) if p.is_file()}


def test_cli_build_writes_outputs_and_is_reproducible(project, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["build", "--offline", "--out", "out1"]) == 0
    assert main(["build", "--offline", "--out", "out2"]) == 0
    out = capsys.readouterr().out
    assert "$25.8B" in out and "42.4×" in out
    one, two = _hashes(project / "out1"), _hashes(project / "out2")
    for (a, ha), (b, hb) in zip(sorted(one.items()), sorted(two.items()), strict=True):
        assert Path(a).name == Path(b).name
        if not a.endswith("manifest.json"):  # tables, charts (fixed metadata) and report.html
            assert ha == hb, a
    m1, m2 = (json.loads((project / d / "manifest.json").read_text()) for d in ("out1", "out2"))
    m1.pop("created_at"), m2.pop("created_at")
    m1["settings"].pop("out_dir"), m2["settings"].pop("out_dir")
    assert m1 == m2
    assert set(m1["inputs"]) >= {"peers", "target", "snapshot 2026-05-13.csv"}


def test_bad_input_exits_2_and_writes_nothing(project, capsys):
    peers = project / "data" / "peers.csv"
    peers.write_text(peers.read_text() + "NVDA,Duplicate,accelerators,true,core,\nAMD,AMD,x,sometimes,core,\n")
    before = _hashes(project / "data")
    assert main(["build", "--offline", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert "duplicate ticker NVDA" in err and "include must be true or false" in err and "peers.csv:" in err
    assert not (project / "out").exists()
    assert _hashes(project / "data") == before


def test_bad_settings_and_options_exit_2(project, capsys):
    (project / "comps.toml").write_text('[build]\nheadline_level = 1.5\nbogus = 1\n[concentration]\nmethod = "x"\n')
    assert main(["build", "--offline", "--as-of", "2026-13-01"]) == 2
    err = capsys.readouterr().err
    for part in ("build.headline_level", "build.bogus", "concentration.method", "--as-of"):
        assert part in err


def test_peers_add_and_remove_keep_comments_and_order(project, capsys):
    peers = project / "data" / "peers.csv"
    original = peers.read_text()
    assert main(["peers", "add", "qcom", "--segment", "accelerators", "--name", "Qualcomm"]) == 0
    assert peers.read_text() == original + "QCOM,Qualcomm,accelerators,true,core,\n"
    assert main(["peers", "add", "QCOM", "--segment", "x"]) == 2
    assert main(["peers", "remove", "QCOM"]) == 0
    assert peers.read_text() == original
    assert main(["peers", "validate"]) == 0
    assert main(["peers", "add", "../x", "--segment", "x"]) == 2


def test_version_help_and_python_dash_m():
    assert main(["--version"]) == 0
    done = subprocess.run([sys.executable, "-m", "comps", "--help"], capture_output=True, text=True, check=True)
    assert "build" in done.stdout and "peers" in done.stdout
    for cmd in (["build", "--help"], ["peers", "add", "--help"]):
        assert subprocess.run([sys.executable, "-m", "comps", *cmd], capture_output=True, check=False).returncode == 0


def test_markdown_formats_follow_the_units_in_column_names():
    import pandas as pd

    from comps.report.tables import to_markdown

    md = to_markdown(pd.DataFrame({"fair_multiple_discounted": [30.1], "fair_price_usd": [-19.2],
                                   "market_cap_usd": [25.56e9], "p_peer_below_price": [0.95], "discount": [0.137],
                                   "premium_to_fair": [-0.111], "estimate": [21.0147], "n": [13]}))
    for cell in ("30.1×", "-$19.20", "$25.6B", "95.0%", "13.7%", "-11%", "21.015", " 13 |"):
        assert cell in md, cell
    assert "'-" not in md and "2101" not in md


def test_concentration_discount_uses_sourced_peer_disclosures(offline_result):
    import math

    ccs = offline_result.peer_cc
    assert ccs["NVDA"] == pytest.approx(0.22**2 + 0.14**2)  # FY2026 10-K (the latest before 2026-05-13): 22 %, 14 %
    assert ccs["CRWV"] == pytest.approx(0.67**2)
    assert ccs["ANET"] == pytest.approx(0.26**2 + 0.16**2)  # FY2025 10-K: Microsoft 26 %, Meta 16 %
    assert ccs["CRDO"] == pytest.approx(0.39**2 + 0.15**2)  # FY2024 10-K: 39 %, 15 %
    merged = 0.86**2  # MBZUAI and G42 under common control: one customer (ASC 280-10-50-42)
    for sv in offline_result.specs.values():
        d = sv.discount
        # the mean over every fitted peer, a non-discloser counted at 0.05 (the middle of [0, 0.10])
        ref = sum(ccs.get(t, 0.05) for t in sv.fit.tickers) / sv.fit.n
        assert set(d.ref_tickers) == {"NVDA", "CRWV", "ANET", "CRDO"} & set(sv.fit.tickers)
        assert d.cc_ref == pytest.approx(ref) and d.cc_target == pytest.approx(merged)
        assert d.discount == pytest.approx(1 - math.exp(-(0.02 / 0.06) * (merged - ref)))
        assert d.cc_target_separate == pytest.approx(0.62**2 + 0.24**2)
        assert d.discount_separate == pytest.approx(1 - math.exp(-(0.02 / 0.06) * (0.62**2 + 0.24**2 - ref)))


def test_interval_table_converts_multiples_to_ev_and_break_even_prices(offline_result):
    from comps.valuation import interval_rows

    for sv in offline_result.specs.values():
        rows = {(r["interval"], r["level"]): r for r in interval_rows(sv)}
        kind = "prediction" if sv.fit.spec.kind == "regression" else "peer distribution"
        for level in (0.8, 0.95):
            r = rows[(kind, level)]
            iv = sv.prediction.interval(level)
            assert r["multiple_high"] == pytest.approx(iv.pi_high * (1 - sv.discount.discount))
            assert r["ev_high_usd"] == pytest.approx(r["multiple_high"] * sv.base_usd)
            assert r["price_high_usd"] == pytest.approx((r["ev_high_usd"] + CASH) / (SHARES - PRIMARY * (1 - SPREAD)))
        assert rows[(kind, 0.95)]["price_high_usd"] > rows[(kind, 0.8)]["price_high_usd"]
        assert rows[("bootstrap of the fair multiple", 0.9)]["draws"] >= 1900


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["peers", "list"]])
def test_light_commands_import_no_heavy_libraries(args):
    code = (f"import sys; from comps.cli import main; main({args!r}); "
            "heavy = {'pandas', 'numpy', 'statsmodels', 'matplotlib', 'seaborn', 'yfinance', 'scipy'}; "
            "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_past_ipo_is_valued_at_its_own_pricing_date_against_its_own_peers(tmp_path):
    """CoreWeave's file names its pricing date and its point-in-time peers: the build values it
    against the 2025-03-27 layer, never against 2026 peers, and no Cerebras figure leaks in."""
    from comps.config import BuildConfig
    from comps.pipeline import build

    root = Path(__file__).resolve().parents[1]
    r = build(BuildConfig(target_path=root / "data/targets/coreweave.toml", concentration_path=root / "data/concentration.csv",
                          out_dir=tmp_path / "out", offline=True, charts=False))
    assert r.as_of.isoformat() == "2025-03-27" and r.config.snapshot_dir.as_posix().endswith("data/backtest/coreweave/snapshots")
    assert {p.name for p in r.snapshots.files} == {"2025-03-27.csv"}
    assert all(r_["date"] is None or r_["date"] <= r.as_of for r_ in r.snapshots.rows)
    shares, rev, rev_prior = 464_779_526, 1920e6, 228.9e6
    priced = r.headline.set_index("price_point").loc["Priced"]
    cash = -7_926_340_000 + 36_590_000 * 40  # pre-IPO debt (no cash sourced) and the primary shares at $40, gross
    assert priced["market_cap_usd"] == pytest.approx(40 * shares)
    assert priced["ev_to_revenue_ltm"] == pytest.approx((40 * shares - cash) / rev)
    assert r.target.revenue_growth == pytest.approx(rev / rev_prior - 1)
    assert "CRWV" not in r.peers.index and not any(w.startswith("price date:") for w in r.warnings)
    assert not r.checklist["signal"].str.startswith("walk away").any()  # no band in the file
    assert any("target has no gross_margin" in w for w in r.warnings)


def test_an_as_of_with_no_snapshot_layer_names_it_and_how_to_make_one(project, capsys):
    assert main(["build", "--offline", "--as-of", "2025-01-02", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert "no snapshot layer on or before the as-of date 2025-01-02 (the oldest is 2026-05-13.csv)" in err
    assert "comps figures add TICKER market_cap VALUE --date 2025-01-02" in err and not (project / "out").exists()
