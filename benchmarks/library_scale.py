"""A coach's library: the weekly summary, a report's baseline and the run list from the index.

``run()`` builds a library of ``athletes`` x ``weeks`` x 4 runs (tiny stored-run files; each
run's analysis as large as a 30-minute run's: a summary with its per-minute series, 3,000
steps, the indicators) and times, as minima over ``repeats`` calls:

* ``weekly_summary`` of the last week, from the index (the indicators kept with the summary)
  and, as the baseline, from an index made before it kept them (every counted run's
  ``analysis.json`` read, as the summary did before, and as it does once after an upgrade);
* ``athlete_baseline`` (with indicators) of one athlete at the end, the same two ways;
* listing every run with the values ``imurun runs`` prints, from the index's columns and, as
  the baseline, from each run's parsed summary (as the list did before);
* indexing every run as a rebuild of the index does (``store check --repair``, or opening a
  library whose index was lost), each run's analysis.json read once and its steps made column
  by column, and, as the baseline, as the rebuild did before (the file read and checked twice,
  a function call per step value); both in one transaction, into emptied tables, rolled back.
  The same for one long run (``long_steps``: a 1-hour run has ~10,000 steps), and the whole
  ``check(repair=True)`` of the library (every run file hashed too), reported alone.

The ratios (baseline / index, baseline / rebuild) are reported, never asserted; they grow with
the size of the runs. The real scale (30 athletes x 1 year, 20-90 minute runs) is in the review
notes.

Run: ``python -m benchmarks.library_scale`` (prints JSON).
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from firmware_protocol.runfile import RunHeader, RunWriter
from imurun.report.history import athlete_baseline
from imurun.report.weekly import IsoWeek, weekly_summary
from imurun.sim.firmware import SensorConfig
from imurun.store import library
from imurun.store._files import read_json
from imurun.store.library import ANALYSIS, CheckReport, Library
from imurun.store.schema import STEP_COLUMNS

DAY_S = 86_400
T0 = 1_763_337_600  # Monday 2025-11-17 00:00 UTC


def _best(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def _run_file(path: Path, device_id: int, run_id: int, start_unix_s: int) -> Path:
    cfg = SensorConfig(device_id=device_id)
    h = RunHeader(device_id, run_id, 1, cfg.sample_rate_hz, start_unix_s * 1000, 0,
                  cfg.acc_range_g, cfg.gyr_range_dps, cfg.acc_lsb_ms2, cfg.gyr_lsb_rads)
    w = RunWriter(h)
    counts = np.zeros((400, 6), dtype=np.int16)
    counts[:, 2] = run_id  # every file its own bytes
    path.write_bytes(w.start() + w.time_anchor(0, start_unix_s * 1000) + w.samples(counts, 0)
                     + w.end())
    return path


def _analysis(rng: np.random.Generator, n_steps: int, minutes: int) -> dict[str, Any]:
    steps = [{"ic_s": 0.35 * i, "to_s": 0.35 * i + 0.25, "side": "LR"[i % 2], "activity": "run",
              "contact_s": float(rng.normal(0.25, 0.01)), "flight_s": 0.1, "step_s": 0.35,
              "vertical_oscillation_m": float(rng.normal(0.07, 0.003)),
              "braking_mps": float(rng.normal(0.3, 0.02)), "impact_g": float(rng.normal(2.5, 0.1)),
              "pelvic_tilt_range_deg": 6.0, "pelvic_drop_deg": float(rng.normal(5.0, 0.3)),
              "pelvic_rotation_range_deg": 10.0} for i in range(n_steps)]
    per_minute = {k: [float(x) for x in rng.normal(v, v / 50, minutes)] for k, v in (
        ("cadence_spm", 170.0), ("contact_ms", 250.0), ("vertical_oscillation_cm", 7.0),
        ("braking_mps", 0.3), ("pelvic_drop_stance_left_deg", 5.5),
        ("pelvic_drop_stance_right_deg", 6.0), ("impact_g", 2.5), ("step_time_cv_pct", 2.0))}
    summary = {"n_steps": n_steps, "running_s": 0.35 * n_steps, "cadence_spm": 170.0,
               "contact_ms": float(rng.normal(250, 5)), "contact_balance_left_pct": 50.5,
               "vertical_oscillation_cm": 7.0, "braking_mps": 0.3, "pelvic_tilt_range_deg": 6.0,
               "pelvic_drop_stance_left_deg": 5.5, "pelvic_drop_stance_right_deg": 6.0,
               "pelvic_rotation_range_deg": 10.0, "per_minute": per_minute,
               "quality": {"time": [{"reason": "running", "seconds": 0.35 * n_steps}],
                           "frames_lost": 0}}
    indicators: list[dict[str, Any]] = [{"key": k, "title": k, "level": "not_raised", "value": 1.0, "unit": "",
                   "evidence": [], "message": ""}
                  for k in ("overstriding", "pelvic_drop_left", "pelvic_drop_right",
                            "anterior_tilt", "asymmetry", "form_drift")]
    return {"schema": "imurun.analysis/1", "imurun_version": "bench",
            "parameters": {"mass_kg": None}, "summary": summary, "indicators": indicators,
            "steps": steps}


def _listing(lib: Library, *, parse: bool) -> list[str]:
    keys = ("n_steps", "cadence_spm", "contact_ms", "vertical_oscillation_cm")
    out = []
    for r in lib.runs():
        s: Any = r.summary if parse else r.summary_values
        out.append(" ".join(f"{(s or {}).get(k) or 0:.1f}" for k in keys))
    return out


def _step_value_before(step: Mapping[str, Any], col: str) -> Any:
    v = step.get(col)
    if col in ("side", "activity"):
        return None if v is None else str(v)
    return library._num(v)


def _step_rows_before(run_id: str, steps: Sequence[Mapping[str, Any]]) -> Iterable[tuple[Any, ...]]:
    """A run's step rows as the index made them before ``_step_rows``: a call per value."""
    return ((run_id, i, *(_step_value_before(s, c) for c in STEP_COLUMNS))
            for i, s in enumerate(steps))


def _reindex_before(lib: Library, d: Path, meta: Mapping[str, Any], report: CheckReport) -> None:
    """A run indexed as the rebuild did before: its analysis read and checked for damage, then
    read and checked again to be indexed, its steps made a call per value."""
    library._read_analysis(d / ANALYSIS)
    with mock.patch.object(library, "_step_rows", _step_rows_before):
        lib._index_run(d, meta)


def _index_all(lib: Library, index: Callable[[Library, Path, Mapping[str, Any], CheckReport], None]
               ) -> float:
    """Seconds ``index`` takes over every run of ``lib``, as a rebuild: into emptied tables, in
    one transaction (rolled back)."""
    runs = [(r.directory, read_json(r.directory / library.RUN_META)) for r in lib.runs()]
    lib.db.execute("BEGIN IMMEDIATE")
    try:
        for table in ("steps", "run_summaries"):
            lib.db.execute(f"DELETE FROM {table}")
        t0 = time.perf_counter()
        for d, meta in runs:
            index(lib, d, meta, CheckReport())
        return time.perf_counter() - t0
    finally:
        lib.db.execute("ROLLBACK")


def _rebuild_timings(lib: Library, repeats: int) -> dict[str, float]:
    new = min(_index_all(lib, Library._reindex_run) for _ in range(repeats))
    old = min(_index_all(lib, _reindex_before) for _ in range(repeats))
    return {"new_s": new, "before_s": old}


def long_run(n_steps: int = 10_000, repeats: int = 5) -> dict[str, Any]:
    """Indexing one long run's analysis as a rebuild does, now and as before (ms, ratio)."""
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d, Library.open(Path(d) / "home") as lib:
        f = _run_file(Path(d) / "long.imrn", 0x1D0C_5E75_0000_B0FF, 1, T0)
        lib.set_analysis(lib.add_file(f).run.id, _analysis(rng, n_steps, n_steps * 35 // 6000))
        t = _rebuild_timings(lib, repeats)
    return {"steps": n_steps, "index_ms": round(t["new_s"] * 1000, 1),
            "index_before_ms": round(t["before_s"] * 1000, 1),
            "speedup": round(t["before_s"] / t["new_s"], 2)}


def run(athletes: int = 6, weeks: int = 6, n_steps: int = 3000, repeats: int = 3,
        long_steps: int = 10_000) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as d, Library.open(Path(d) / "home") as lib:
        t0 = time.perf_counter()
        files = Path(d) / "in"
        files.mkdir()
        first = ""
        for a in range(athletes):
            ath = lib.add_athlete(f"Runner {a}")
            first = first or ath.id
            device = 0x1D0C_5E75_0000_B000 + a
            lib.bind_sensor(device, ath.id)
            for k in range(weeks * 4):
                start = T0 + (k // 4) * 7 * DAY_S + (0, 2, 4, 6)[k % 4] * DAY_S + 7 * 3600
                f = _run_file(files / f"{device:x}-{k}.imrn", device, k + 1, start)
                run_ = lib.add_file(f).run
                lib.set_analysis(run_.id, _analysis(rng, n_steps, 30))
        build_s = time.perf_counter() - t0
        week = IsoWeek.of(_day(T0, weeks - 1))
        end = T0 + weeks * 7 * DAY_S
        n_runs = len(lib.runs())

        def weekly() -> None:
            weekly_summary(lib, week)

        def baseline() -> None:
            athlete_baseline(lib, first, end)

        res: dict[str, Any] = {"runs": n_runs, "steps_per_run": n_steps,
                               "build_s": round(build_s, 2)}
        res["weekly_index_s"] = _best(weekly, repeats)
        res["baseline_index_s"] = _best(baseline, repeats)
        res["list_columns_s"] = _best(lambda: _listing(lib, parse=False), repeats)
        res["list_parsed_s"] = _best(lambda: _listing(lib, parse=True), repeats)
        assert _listing(lib, parse=False) == _listing(lib, parse=True)

        def older(fn: Callable[[], None]) -> Callable[[], None]:
            def call() -> None:  # an index made before it kept them (it keeps them once read)
                lib.db.execute("UPDATE run_summaries SET indicators_json = NULL")
                fn()
            return call

        res["weekly_files_s"] = _best(older(weekly), repeats)
        res["baseline_files_s"] = _best(older(baseline), repeats)
        t = _rebuild_timings(lib, repeats)
        res["reindex_s"], res["reindex_before_s"] = t["new_s"], t["before_s"]

        def repair() -> None:
            lib.db.execute("DELETE FROM runs")  # (its steps and summaries go with it)
            assert lib.check(repair=True).index_rebuilt

        res["check_repair_s"] = _best(repair, 1)
        assert len(lib.runs()) == n_runs
    for what, new, old in (("weekly", "weekly_index_s", "weekly_files_s"),
                           ("baseline", "baseline_index_s", "baseline_files_s"),
                           ("list", "list_columns_s", "list_parsed_s"),
                           ("reindex", "reindex_s", "reindex_before_s")):
        res[f"{what}_speedup"] = round(res[old] / res[new], 2)
    res["long_run"] = long_run(long_steps, repeats)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}


def _day(t0: int, week: int) -> Any:
    import datetime as dt

    return dt.datetime.fromtimestamp(t0 + week * 7 * DAY_S + 3 * DAY_S, dt.UTC).date()


if __name__ == "__main__":
    print(json.dumps(run(), indent=2))
