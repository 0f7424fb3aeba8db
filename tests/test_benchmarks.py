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


def _suite_new() -> dict[str, Any]:
    return {"value": 2}


def test_merge_replaces_one_suite_and_keeps_the_others(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path)
    before = {"utc": "FULL-RUN", "imurun_version": "0.0.1", "python": "3.11", "machine": "m",
              "cpu_count": 2, "results": {"old": {"ratio": 58.9, "nested": {"x": [1, 2.5]}},
                                          "new": {"value": 1}}}
    (tmp_path / "latest.json").write_text(json.dumps(before, indent=2, sort_keys=True) + "\n")
    monkeypatch.setattr(bench_run, "SUITES", [("old", __name__, "_suite_missing"),
                                              ("new", __name__, "_suite_new")])
    assert bench_run.main(["--merge", "new"]) == 0
    after = json.loads((tmp_path / "latest.json").read_text())
    assert after["utc"] == "FULL-RUN"
    assert after["results"]["old"] == before["results"]["old"]
    assert after["results"]["new"]["value"] == 2
    assert after["results"]["new"]["measured"]["how"] == "python -m benchmarks.run --merge new"
    md = (tmp_path / "latest.md").read_text()
    assert md.index("## old") < md.index("## new")  # the suites' order, not the keys' order
    assert "Measured separately on" in md
    assert "## old" in md
    # an unknown name or --merge without a name is refused, and nothing is written
    stamp = (tmp_path / "latest.json").stat().st_mtime_ns
    assert bench_run.main(["--merge", "nope"]) == 2
    assert bench_run.main(["--merge"]) == 2
    assert (tmp_path / "latest.json").stat().st_mtime_ns == stamp


def test_the_live_measurements_are_a_suite_of_make_bench(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``benchmarks/live.py`` (what docs/metrics.md quotes of the live settings) was not in
    ``make bench``: ``--merge live`` was refused as an unknown suite. Registered, it runs as the
    others do (here a stand-in for its several minutes of work: nothing is timed)."""
    from importlib import import_module

    import benchmarks.live

    (entry,) = [s for s in bench_run.SUITES if s[0] == "live"]
    assert getattr(import_module(entry[1]), entry[2]) is benchmarks.live.run
    calls: list[Any] = []

    def stand_in(parts: list[str] | None = None) -> dict[str, Any]:
        calls.append(parts)
        return {"equality": {"rows": []}}

    monkeypatch.setattr(benchmarks.live, "run", stand_in)
    monkeypatch.setattr(bench_run, "RESULTS", tmp_path)
    before = {"utc": "FULL-RUN", "imurun_version": "0.0.1", "python": "3.11", "machine": "m",
              "cpu_count": 2, "results": {"signal": {"ratio": 3.0}}}
    (tmp_path / "latest.json").write_text(json.dumps(before) + "\n")
    assert bench_run.main(["--merge", "live"]) == 0
    assert calls == [None]  # all three parts: the function's default
    after = json.loads((tmp_path / "latest.json").read_text())["results"]
    assert after["signal"] == {"ratio": 3.0}
    assert after["live"]["equality"] == {"rows": []}
    assert after["live"]["measured"]["how"] == "python -m benchmarks.run --merge live"
    md = (tmp_path / "latest.md").read_text()
    assert md.index("## signal") < md.index("## live")  # last of the suites
