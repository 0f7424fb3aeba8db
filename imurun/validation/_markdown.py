"""Markdown pieces shared by the generated sections of ``docs/validation.md``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ms", "pct", "table"]


def ms(x: float, digits: int = 1) -> str:
    """Seconds as milliseconds, ``–`` when unknown."""
    return "–" if not np.isfinite(x) else f"{x * 1e3:.{digits}f}"


def pct(x: float, digits: int = 1) -> str:
    """A fraction as a percentage (no sign), ``–`` when unknown."""
    return "–" if not np.isfinite(x) else f"{x * 100:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A markdown table."""
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)
