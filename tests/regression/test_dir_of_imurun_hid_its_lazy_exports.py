"""Regression: ``dir(imurun)`` did not list ``analyze``, ``Recording``... (imported lazily).

The top-level names are loaded on first use (PEP 562 ``__getattr__``), but the module had no
``__dir__``, so ``dir(imurun)`` and a notebook's or an editor's completion of ``imurun.`` showed
none of the documented API until it had been used. ``imurun.sim`` already listed its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dir_lists_every_export_before_any_is_used() -> None:
    code = "import imurun, json; print(json.dumps([sorted(imurun.__all__), dir(imurun)]))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    exports, listed = json.loads(out)
    assert "analyze" in exports
    assert set(exports) <= set(listed)
