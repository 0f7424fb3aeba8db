"""imurun: open firmware companion and signal library for a sacrum-worn running sensor.

``imurun.analyze(source, **params) -> RunAnalysis`` analyses a run (see :mod:`imurun.analysis`);
``imurun.load_recording(path, ...)`` reads any supported file into a ``Recording``, and
``imurun.Recording.from_arrays(t_s, acc_ms2, gyr_rads)`` makes one of your own arrays. They are
imported on first use, so ``import imurun`` stays light. ``imurun.write_analysis_json`` and
``imurun.load_analysis`` save and read back a ``RunAnalysis`` (``docs/analysis-json.md``);
``docs/api.md`` is the guide to the Python API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from imurun.analysis import AnalysisSettings, analyze, load_analysis, write_analysis_json
    from imurun.ingest.files import load_recording
    from imurun.ingest.recording import Recording
    from imurun.signal.results import RunAnalysis

    __version__: str

__all__ = ["AnalysisSettings", "Recording", "RunAnalysis", "__version__", "analyze",
           "load_analysis", "load_recording", "write_analysis_json"]

_LAZY = {"analyze": "imurun.analysis", "AnalysisSettings": "imurun.analysis",
         "load_analysis": "imurun.analysis", "write_analysis_json": "imurun.analysis",
         "RunAnalysis": "imurun.signal.results", "Recording": "imurun.ingest.recording",
         "load_recording": "imurun.ingest.files"}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("imurun")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    """Lazy exports (PEP 562).

    The signal core loads NumPy/SciPy only when it is used, and the version only when it is
    asked for (importlib.metadata is slow to import).
    """
    if name == "__version__":
        globals()["__version__"] = v = _version()
        return v
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'imurun' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The lazy exports too (``dir(imurun)``, a notebook's tab completion)."""
    return sorted({*globals(), *__all__})
