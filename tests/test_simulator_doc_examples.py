"""docs/simulator.md: its Python examples run as written (none pastes an output to compare).

The motion generator's example and the "From Python" one (the virtual sensor on a
pseudo-terminal, its paths relative to the working directory) run in a fresh process in an
empty folder, with nothing on stderr; each is also type-checked with ``mypy --strict``, as
docs/api.md's are (tests/test_api_guide.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "simulator.md"


def examples() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```py(?:thon)?\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2, "docs/simulator.md has another number of Python examples"
    return blocks


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
@pytest.mark.parametrize("k", range(2))
def test_example_runs_as_written(tmp_path: Path, k: int) -> None:
    code = examples()[k] + "\nprint('done')\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC"}
    res = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    assert res.stdout == "done\n"


@pytest.mark.slow
def test_examples_type_check_strictly(tmp_path: Path) -> None:
    files = []
    for k, code in enumerate(examples()):
        f = tmp_path / f"simulator_example_{k}.py"
        f.write_text(code, encoding="utf-8")
        files.append(str(f))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MYPYPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                          "--cache-dir", str(tmp_path / ".mypy_cache"), *files], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
