"""The analysis of one fixed synthetic session, pinned: speed work must not change the results.

A seeded virtual-sensor session (4 minutes: standing, walking, running with a turnaround and
pace changes, a random mounting, realistic noise, one gap, so two segments) is analysed with
and without its gyroscope, and the whole ``imurun.analysis/1`` JSON is compared with the
stored expectation in ``pins/analysis_pin.json.gz``: every string, count and null exactly,
every number to ``RTOL`` / ``ATOL`` (float round-off, and the float32 per-sample arithmetic of
the orientation, whose last bits may differ between CPUs; any change of a method shows as
far larger differences).

The gait events are the one stage pinned by input instead of by output: they are being
improved on their own (``imurun/signal/events.py``), so the events the detectors found when
the pin was made are stored with it and fed to the pipeline in place of the detectors'. What
is pinned is everything else: clean-up, mounting, orientation, heading frame, per-step metrics,
activity timeline, summary and indicators, given those events.

The expectation changes only on purpose. Regenerate it (after a deliberate change of the
results, with the code that should be pinned) with::

    .venv/bin/python tests/test_pipeline_pin.py --regenerate
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import imurun.analysis as analysis
from imurun.ingest.recording import Recording
from imurun.signal.events import RunningSettings, StepEvents, WalkingSettings
from imurun.sim.motion import Mounting, NoiseModel, generate, script_default

PIN = Path(__file__).parent / "pins" / "analysis_pin.json.gz"
SEED = 4411
#: Relative and absolute tolerance for every number (SI units, degrees, percent).
RTOL = 2e-6
ATOL = 2e-6
#: Not results: the settings echo (events settings evolve on their own) and the version.
SKIP_KEYS = frozenset({"parameters", "imurun_version"})
EVENT_FIELDS = ("ic_s", "to_s", "side", "side_evidence", "segment", "ic_index", "to_index",
                "flight")


def _recording(gyro: bool) -> Recording:
    rng = np.random.default_rng(SEED)
    m = generate(script_default(4.0, rng), None, 200.0,
                 mounting=Mounting.random(np.random.default_rng([SEED, 1])),
                 noise=NoiseModel(), rng=rng)
    keep = (m.t_s < 100.0) | (m.t_s >= 100.5)  # a gap: two segments
    return Recording.from_arrays(m.t_s[keep], m.acc_ms2[keep],
                                 m.gyr_rads[keep] if gyro else None, fs_hz=m.fs_hz)


def _events_to_json(ev: StepEvents) -> dict[str, Any]:
    return {f: [None if isinstance(v, float) and not math.isfinite(v) else v
                for v in getattr(ev, f).tolist()] for f in EVENT_FIELDS}


def _events_from_json(d: dict[str, Any], gait: str, fs_hz: float) -> StepEvents:
    def arr(name: str, dtype: Any) -> Any:
        return np.array([np.nan if v is None else v for v in d[name]], dtype=dtype)

    return StepEvents(
        ic_s=arr("ic_s", np.float64), to_s=arr("to_s", np.float64), side=arr("side", np.int8),
        side_evidence=arr("side_evidence", np.float64), segment=arr("segment", np.int64),
        ic_index=arr("ic_index", np.float64), to_index=arr("to_index", np.float64),
        flight=arr("flight", bool), fs_hz=fs_hz, gait=gait,
        settings=RunningSettings() if gait == "running" else WalkingSettings())


def _analyse(rec: Recording, events: dict[str, Any] | None,
             monkeypatch: pytest.MonkeyPatch | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Analysis JSON of ``rec``; with ``events`` the detectors are replaced by the stored ones.

    Also returns the events the pipeline used (as stored in the pin).
    """
    used: dict[str, Any] = {}

    def wrap(name: str, gait: str) -> Any:
        detector = getattr(analysis, name)

        def detect(*args: Any, **kwargs: Any) -> StepEvents:
            if events is None:
                ev = detector(*args, **kwargs)
            else:
                ev = _events_from_json(events[gait], gait, rec.fs_hz)
            used[gait] = _events_to_json(ev)
            return ev

        return detect

    names = (("detect_running_events", "running"), ("detect_walking_events", "walking"))
    if monkeypatch is None:  # regenerating: record what the real detectors find
        saved = {name: getattr(analysis, name) for name, _ in names}
        try:
            for name, gait in names:
                setattr(analysis, name, wrap(name, gait))
            out = json.loads(analysis.analyze(rec).to_json())
        finally:
            for name, fn in saved.items():
                setattr(analysis, name, fn)
    else:
        for name, gait in names:
            monkeypatch.setattr(analysis, name, wrap(name, gait))
        out = json.loads(analysis.analyze(rec).to_json())
    return out, used


def _compare(got: Any, want: Any, path: str, errors: list[str]) -> None:
    if len(errors) > 20:
        return
    if isinstance(want, dict):
        keys = set(want) - SKIP_KEYS
        if not isinstance(got, dict) or set(got) - SKIP_KEYS != keys:
            errors.append(f"{path}: keys {sorted(set(got) - SKIP_KEYS)} != {sorted(keys)}")
            return
        for k in sorted(keys):
            _compare(got[k], want[k], f"{path}.{k}", errors)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            errors.append(f"{path}: length {len(got)} != {len(want)}")
            return
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{path}[{i}]", errors)
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        if not abs(got - want) <= ATOL + RTOL * abs(want):
            errors.append(f"{path}: {got!r} != {want!r}")
    elif got != want:
        errors.append(f"{path}: {got!r} != {want!r}")


@pytest.fixture(scope="module")
def pin() -> dict[str, Any]:
    with gzip.open(PIN, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


@pytest.mark.parametrize("case", ["gyroscope", "accelerometer_only"])
def test_analysis_matches_the_pin(pin: dict[str, Any], case: str,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    want = pin[case]
    got, used = _analyse(_recording(gyro=case == "gyroscope"), want["events"], monkeypatch)
    assert set(used) == set(want["events"]), "the pipeline called other detectors than pinned"
    errors: list[str] = []
    _compare(got, want["analysis"], case, errors)
    assert not errors, "\n".join(errors)


def test_the_pin_exercises_the_pipeline(pin: dict[str, Any]) -> None:
    a = pin["gyroscope"]["analysis"]
    kinds = {s["activity"] for s in a["steps"]}
    assert kinds == {"run", "walk"}
    assert a["summary"]["n_steps"] > 300
    q = a["summary"]["quality"]
    assert q["n_segments"] == 2
    assert q["mounting"]["method"] == "estimated"
    assert {t["reason"] for t in q["time"] if t["seconds"] > 0} >= {"running", "walking",
                                                                      "standing"}
    assert a["summary"]["pelvic_tilt_range_deg"] is not None
    assert pin["accelerometer_only"]["analysis"]["summary"]["pelvic_tilt_range_deg"] is None


def regenerate() -> None:
    out = {}
    for case, gyro in (("gyroscope", True), ("accelerometer_only", False)):
        res, used = _analyse(_recording(gyro), None, None)
        out[case] = {"events": used, "analysis": res}
    PIN.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(PIN, "wb", mtime=0) as fh:  # mtime 0: the same bytes for the same pin
        fh.write(json.dumps(out, sort_keys=True).encode("utf-8"))
    print(f"wrote {PIN} ({PIN.stat().st_size} bytes)")


if __name__ == "__main__":
    if "--regenerate" in sys.argv:
        regenerate()
    else:
        print(__doc__)
