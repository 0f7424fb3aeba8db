"""imurun: open firmware companion and signal library for a sacrum-worn running sensor."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("imurun")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
