"""A user's script type-checks against the installed package (``mypy --strict``).

The package ships ``py.typed``; the Makefile installs it in editable mode ``compat`` (a path in
a ``.pth`` file) because setuptools' default editable install is an import hook that type
checkers cannot see: there, ``mypy`` said "Cannot find implementation or library stub for module
named 'imurun'". The script is the example of docs/workflows.md, checked from a directory outside
the repository, so that only the installed package can be found.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _api_example() -> str:
    text = (DOCS / "workflows.md").read_text(encoding="utf-8")
    m = re.search(r"The same from Python.*?```python\n(.*?)```", text, flags=re.S)
    assert m is not None, "docs/workflows.md lost its Python example"
    return m.group(1)


@pytest.mark.slow
def test_the_documented_api_example_type_checks_strictly(tmp_path: Path) -> None:
    (tmp_path / "api.py").write_text(_api_example(), encoding="utf-8")
    # and a mistake that only the package's own types can reveal: it must be reported
    (tmp_path / "wrong.py").write_text(
        "import imurun\n\nresult = imurun.analyze('x.imrs')\n"
        "cadence: str = result.summary.cadence_spm\n", encoding="utf-8")
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")  # not the project's
    env = {k: v for k, v in os.environ.items() if k not in ("MYPYPATH", "PYTHONPATH")}
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini",
         "--cache-dir", str(tmp_path / "cache"), "api.py", "wrong.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    out = res.stdout + res.stderr
    assert "Cannot find implementation or library stub" not in out, out
    assert [ln for ln in out.splitlines() if ln.startswith("api.py")] == [], out
    assert re.search(r'wrong\.py:4: error: Incompatible types in assignment \(expression has '
                     r'type "float", variable has type "str"\)', out), out
    assert "Found 1 error in 1 file (checked 2 source files)" in out, out
