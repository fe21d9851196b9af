"""comps: comparable-company relative valuation of IPOs.

Load peers and a target, fit growth-vs-multiple regressions across peers, position the IPO's
price points on them with prediction intervals and a customer-concentration discount, and
write tables, charts and a report::

    from comps import BuildConfig, build
    result = build(BuildConfig(offline=True), write=False)
    result.headline          # one row per price point on the chosen spec

Heavy dependencies load on first use of the names below, so importing comps is instant.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "build": "comps.pipeline", "BuildResult": "comps.result", "load_inputs": "comps.pipeline",
    "BuildConfig": "comps.config", "load_config": "comps.config",
    "load_peers": "comps.universe", "Peer": "comps.universe",
    "load_target": "comps.target", "Target": "comps.target",
    "compute_peer_table": "comps.metrics",
    "fit": "comps.regression", "fit_all": "comps.regression", "FitResult": "comps.regression",
    "SPECS": "comps.regression",
    "ConcentrationConfig": "comps.concentration", "concentration_discount": "comps.concentration",
    "CompsError": "comps.errors", "InputError": "comps.errors", "ModelError": "comps.errors",
    "SourceError": "comps.errors",
}
__all__ = ["__version__", *_EXPORTS]  # noqa: PLE0604 - the keys of _EXPORTS are strings


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'comps' has no attribute {name!r}")
