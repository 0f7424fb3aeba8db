"""The benchmarks still run (``make bench`` times them; nothing here asserts a time).

The benchmarks reach into library internals to time "the path before" against today's; a
rename there broke ``library_scale`` silently (its error was recorded in the results and
``make bench`` exited 0). These run the cheap ones at a tiny size, and check that a broken suite
makes ``make bench`` fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import library_scale
from benchmarks import run as bench_run


def test_library_scale_runs_at_a_tiny_size() -> None:
    res = library_scale.run(athletes=1, weeks=2, n_steps=40, repeats=1, long_steps=200)
    assert res["runs"] == 8
    for what in ("weekly", "baseline", "list", "reindex"):
        assert res[f"{what}_speedup"] > 0
    assert res["long_run"]["steps"] == 200


def _suite_ok() -> dict[str, Any]:
    return {"value": 1}


def _suite_broken() -> dict[str, Any]:
    raise AttributeError("module 'x' has no attribute 'y'")


def test_a_broken_suite_is_recorded_and_fails_make_bench(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path)
    monkeypatch.setattr(bench_run, "SUITES", [
        ("ok", __name__, "_suite_ok"), ("broken", __name__, "_suite_broken")])
    assert bench_run.main([]) == 1
    out = json.loads((tmp_path / "latest.json").read_text())["results"]
    assert out["ok"]["value"] == 1  # the others still ran and were written
    assert out["broken"]["error"] == "AttributeError: module 'x' has no attribute 'y'"
    assert "FAILED: broken" in capsys.readouterr().err
    monkeypatch.setattr(bench_run, "SUITES", [("ok", __name__, "_suite_ok")])
    assert bench_run.main([]) == 0
