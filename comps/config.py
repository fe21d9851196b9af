"""Build settings: defaults, an optional ``comps.toml``, then CLI options, into a frozen
:class:`BuildConfig`. Every setting is validated; all problems are reported together."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from comps.concentration import METHODS, ConcentrationConfig
from comps.errors import InputError, Problem
from comps.regression.specs import SPEC_NAMES


@dataclass(frozen=True)
class BuildConfig:
    """Everything one ``comps build`` needs. Paths are relative to the working directory.

    ``peers_path``, ``snapshot_dir`` and ``as_of`` left as None come from the target file's
    [analysis] table (a past IPO names its own point-in-time peers), else the defaults below;
    :meth:`resolved` fills them in."""

    peers_path: Path | None = None  # None: the target's [analysis] peers, else data/peers.csv
    target_path: Path = Path("data/targets/cerebras.toml")
    snapshot_dir: Path | None = None  # None: the target's [analysis] snapshots, else data/snapshots
    concentration_path: Path = Path("data/concentration.csv")
    out_dir: Path = Path("outputs")
    config_path: Path | None = None
    as_of: dt.date | None = None  # None: the target's [analysis] as_of, else the newest snapshot's date
    today: dt.date | None = None  # the live refresh's clock; None: the real date (tests replay a past day)
    offline: bool = False
    require_live: bool = False
    refresh: bool = False
    cache_dir: Path = Path(".cache/comps")
    cache_ttl_hours: float = 6.0
    stale_days: int = 30  # market data older than this (vs as-of) draws a warning
    lookahead_days: int | None = None  # market data dated up to this many days after the as-of date may stand in
    # for a missing figure, with a warning (None: stale_days; 0: strictly point in time, as the backtest is)
    specs: tuple[str, ...] = SPEC_NAMES
    spec: str = "auto"  # the headline spec; "auto" = lowest leave-one-out log error
    levels: tuple[float, ...] = (0.80, 0.90, 0.95)
    headline_level: float = 0.90
    min_peers: int = 5
    small_n_warning: int = 10
    weak_slope_p: float = 0.10  # a growth slope with an HC3 p-value at or above this draws a warning
    bootstrap_resamples: int = 2000
    wild_resamples: int = 1999  # wild-bootstrap resamples for the growth slope's p-value
    benchmark: str = "SMH"  # the sector ETF whose return rolls stale peers forward when nothing better exists
    calendar_lag_days: int = 45  # a target LTM ending this much before the peers' draws a warning
    targets_dir: Path = Path("data/targets")  # every target file; those with outcomes make the backtest
    outcomes_path: Path = Path("data/backtest/outcomes.csv")
    track_record: bool = True  # value the past IPOs known at the as-of date and report how the method did
    seed: int = 20260513
    influence_threshold: float = 0.10
    sensitivity_discounts: tuple[float, ...] = (0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35)
    sensitivity_growth_offsets: tuple[float, ...] = (-0.30, -0.20, -0.10, 0.0, 0.10, 0.20, 0.30)
    charts: bool = True
    concentration: ConcentrationConfig = field(default_factory=ConcentrationConfig)

    def replace(self, **changes: Any) -> BuildConfig:
        return dataclasses.replace(self, **changes)

    @property
    def lookahead(self) -> int:
        """Days after the as-of date that market data may be dated and still stand in."""
        return self.stale_days if self.lookahead_days is None else self.lookahead_days

    @property
    def live(self) -> bool:
        """Whether the build refreshes from Yahoo: not offline, and valued near today. A build
        dated more than ``stale_days`` before today (a past IPO at its pricing date) cannot use
        today's quotes, so it is valued from the snapshots alone."""
        clock = self.today or dt.date.today()
        return not self.offline and not (self.as_of is not None and (clock - self.as_of).days > self.stale_days)

    def resolved(self, analysis: Any) -> BuildConfig:
        """Paths and the as-of date filled in from a target's [analysis] table, then defaults."""
        return self.replace(peers_path=self.peers_path or analysis.peers or Path("data/peers.csv"),
                            snapshot_dir=self.snapshot_dir or analysis.snapshots or Path("data/snapshots"),
                            as_of=self.as_of or analysis.as_of)

    def settings(self) -> dict[str, Any]:
        """JSON-ready view of the settings, for the manifest."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, ConcentrationConfig):
                v = {k: (dict(x) if k == "citations" else x) for k, x in dataclasses.asdict(v).items()}
            elif isinstance(v, Path | dt.date):
                v = str(v)
            out[f.name] = v
        return out


_BUILD_KEYS = {
    "as_of": "date", "today": "date", "stale_days": "int", "lookahead_days": "int", "specs": "specs", "spec": "spec",
    "levels": "levels",
    "headline_level": "level", "min_peers": "int", "small_n_warning": "int", "weak_slope_p": "fraction",
    "bootstrap_resamples": "int", "wild_resamples": "int", "benchmark": "ticker", "calendar_lag_days": "int",
    "seed": "int", "influence_threshold": "fraction", "sensitivity_discounts": "fractions",
    "sensitivity_growth_offsets": "floats", "cache_ttl_hours": "float", "charts": "bool",
}
_CONC_KEYS = {
    "method": "method", "beta_bp_per_unit_cc": "float", "r_minus_g": "positive", "aggregate_related": "bool",
    "cap": "fraction", "tiers": "tiers",
}


def _coerce(kind: str, value: Any) -> Any:
    """Check ``value`` against ``kind``; return it (converted) or raise ValueError with the reason."""
    def number(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")  # noqa: TRY004 - collected as an input problem
        return float(v)

    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"expected a non-negative integer, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if kind == "float":
        return number(value)
    if kind == "positive":
        if (v := number(value)) <= 0:
            raise ValueError(f"must be positive, got {v:g}")
        return v
    if kind in ("fraction", "level"):
        v = number(value)
        if not 0.0 <= v <= 1.0 or (kind == "level" and v in (0.0, 1.0)):
            raise ValueError(f"must be a fraction in {'(0, 1)' if kind == 'level' else '[0, 1]'}, got {v:g}")
        return v
    if kind in ("levels", "fractions", "floats"):
        if not isinstance(value, list) or not value:
            raise ValueError(f"expected a non-empty list, got {value!r}")
        inner = {"levels": "level", "fractions": "fraction", "floats": "float"}[kind]
        return tuple(_coerce(inner, v) for v in value)
    if kind == "date":
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise ValueError(f"date must be YYYY-MM-DD, got {value!r}") from None
    if kind == "ticker":
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a ticker, got {value!r}")
        return value.strip().upper()
    if kind == "spec":
        if value != "auto" and value not in SPEC_NAMES:
            raise ValueError(f"must be auto or one of {', '.join(SPEC_NAMES)}; got {value!r}")
        return value
    if kind == "specs":
        if not isinstance(value, list) or not value:
            raise ValueError("expected a non-empty list of spec names")
        bad = [v for v in value if v not in SPEC_NAMES]
        if bad:
            raise ValueError(f"unknown spec(s) {bad}; known: {', '.join(SPEC_NAMES)}")
        return tuple(value)
    if kind == "method":
        if value not in METHODS:
            raise ValueError(f"must be one of {', '.join(METHODS)}; got {value!r}")
        return value
    if kind == "tiers":
        if not isinstance(value, list) or not all(isinstance(t, list) and len(t) == 2 for t in value):
            raise ValueError("expected [[top_share, discount], ...]")
        tiers = tuple((_coerce("fraction", a), _coerce("fraction", b)) for a, b in value)
        if any(b[0] < a[0] or b[1] < a[1] for a, b in itertools.pairwise(tiers)):
            raise ValueError("tiers must rise in both share and discount")
        return tiers
    raise AssertionError(kind)


def _apply(table: dict[str, Any], keys: dict[str, str], section: str, source: str,
           problems: list[Problem]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in keys:
            problems.append(Problem(source, f"unknown setting; known: {', '.join(keys)}", field=f"{section}.{key}"))
            continue
        try:
            out[key] = _coerce(keys[key], value)
        except ValueError as exc:
            problems.append(Problem(source, str(exc), field=f"{section}.{key}"))
    return out


def load_config(path: Path | None = None, **overrides: Any) -> BuildConfig:
    """Defaults, then the settings file (``path``, or ``comps.toml`` if present), then
    ``overrides`` (CLI options; None means "not given")."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    conc: dict[str, Any] = {}
    if path is None and Path("comps.toml").is_file():
        path = Path("comps.toml")
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(Problem(str(path), "settings file not found")) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(Problem(str(path), f"not valid TOML: {exc}")) from None
        for section in data:
            if section not in ("build", "concentration"):
                problems.append(Problem(str(path), "unknown section; expected [build] or [concentration]",
                                        field=section))
        values = _apply(data.get("build", {}), _BUILD_KEYS, "build", str(path), problems)
        conc = _apply(data.get("concentration", {}), _CONC_KEYS, "concentration", str(path), problems)
        values["config_path"] = Path(path)
    for key, value in overrides.items():
        if value is None:
            continue
        if key in _BUILD_KEYS:
            try:
                value = _coerce(_BUILD_KEYS[key], value)
            except ValueError as exc:
                problems.append(Problem("command line", str(exc), field=f"--{key.replace('_', '-')}"))
                continue
        values[key] = value
    as_of = values.get("as_of")
    if as_of is not None and as_of > dt.date.today():
        problems.append(Problem("command line" if overrides.get("as_of") else str(path), (
            f"as-of date {as_of} is after today ({dt.date.today()}): an analysis can only use figures already "
            "public"), field="--as-of" if overrides.get("as_of") else "build.as_of"))
    if problems:
        raise InputError(problems)
    cfg = BuildConfig(**values)
    if conc:
        cfg = cfg.replace(concentration=dataclasses.replace(cfg.concentration, **conc))
    if cfg.headline_level not in cfg.levels:
        cfg = cfg.replace(levels=tuple(sorted({*cfg.levels, cfg.headline_level})))
    return cfg
