"""The valuation methods and how they are judged.

- :mod:`~comps.regression.specs`: the methods (regressions and the peer-distribution baselines);
- :mod:`~comps.regression.fit`: least-squares fits, prediction intervals, leave-one-out, bootstrap;
- :mod:`~comps.regression.baseline`: the peer median, the no-regression baseline;
- :mod:`~comps.regression.leverage`: Cook's distance, DFBETAS, wild bootstrap, rank checks;
- :mod:`~comps.regression.selection`: leave-one-out scores and the choice of the headline method.
"""

from comps.regression.baseline import PeerDistribution
from comps.regression.fit import (
           FitResult,
           Interval,
           Prediction,
           capped_rms,
           fit,
           fit_all,
           fit_method,
)
from comps.regression.specs import BASELINE, GROWTH, SPEC_NAMES, SPECS, Spec

Method = FitResult | PeerDistribution  # what the valuation layer values with

__all__ = ["BASELINE", "GROWTH", "SPECS", "SPEC_NAMES", "FitResult", "Interval", "Method", "PeerDistribution",
           "Prediction", "Spec", "capped_rms", "fit", "fit_all", "fit_method"]
