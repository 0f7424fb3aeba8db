"""imurun: open firmware companion and signal library for a sacrum-worn running sensor.

``imurun.analyze(source, **params) -> RunAnalysis`` analyses a run (see :mod:`imurun.analysis`);
it is imported on first use, so ``import imurun`` stays light.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:
    __version__ = version("imurun")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

if TYPE_CHECKING:
    from imurun.analysis import AnalysisSettings, analyze
    from imurun.signal.results import RunAnalysis

__all__ = ["AnalysisSettings", "RunAnalysis", "__version__", "analyze"]

_LAZY = {"analyze": "imurun.analysis", "AnalysisSettings": "imurun.analysis",
         "RunAnalysis": "imurun.signal.results"}


def __getattr__(name: str) -> Any:
    """Lazy exports (PEP 562): the signal core loads NumPy/SciPy only when it is used."""
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imurun' has no attribute {name!r}")
