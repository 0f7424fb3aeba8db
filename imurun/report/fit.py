"""FIT activity export: a run's running dynamics in the fields watches and their tools read.

One ``record`` per second of the run that has running steps (or watch data). Each record carries
the mean over the running steps whose initial contact lies within ±1.5 s of its time (a 3 s
centred window, about eight steps, both sides):

* native fields: ``stance_time`` (ms), ``stance_time_percent`` (a foot's contact as a share of
  its stride, two steps, %, as Garmin's running dynamics report it),
  ``stance_time_balance`` (% of stance on the left: left mean / (left mean + right mean)),
  ``vertical_oscillation`` (mm), ``cadence`` (strides/min, with ``fractional_cadence``), and,
  when a watch file is attached, ``speed``, ``distance``, ``heart_rate``, ``step_length``
  (mean of the steps' lengths, each the watch's speed at the step times its step time, mm:
  :mod:`imurun.signal.pace`) and ``vertical_ratio`` (mean vertical oscillation / mean step
  length, %, Garmin's definition);
* developer fields (application imurun): ``pelvic_drop`` (deg), ``pelvic_tilt_range`` (deg),
  ``pelvic_rotation_range`` (deg), ``braking`` (m/s), ``impact`` (g).

Then a lap, a session and an activity message with the run's averages. Written with
``fit-tool`` (BSD-3-Clause); the tests read the file back with Garmin's official SDK.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from imurun import __version__
from imurun.errors import UsageError
from imurun.store._files import atomic_write_bytes

if TYPE_CHECKING:
    from imurun.store.library import Library, RunRecord

#: imurun's FIT developer application id (a fixed random UUID).
APPLICATION_ID = bytes.fromhex("6e1f0c8a3b5d4e27a9d2c4f1b0e7a356")
WINDOW_S = 1.5  # half-width of the window a record averages over

#: (field number, name, units, source step key): the developer fields, float32.
DEV_FIELDS: tuple[tuple[int, str, str, str], ...] = (
    (0, "pelvic_drop", "deg", "pelvic_drop_deg"),
    (1, "pelvic_tilt_range", "deg", "pelvic_tilt_range_deg"),
    (2, "pelvic_rotation_range", "deg", "pelvic_rotation_range_deg"),
    (3, "braking", "m/s", "braking_mps"),
    (4, "impact", "g", "impact_g"),
)


@dataclass(frozen=True)
class FitExport:
    path: Path
    records: int
    size: int
    kind: str  # what the records hold


def _col(steps: list[dict[str, Any]], key: str) -> npt.NDArray[np.float64]:
    return np.array([np.nan if s.get(key) is None else float(s[key]) for s in steps], dtype=np.float64)


def _mean(v: npt.NDArray[np.float64]) -> float | None:
    v = v[~np.isnan(v)]
    return float(v.mean()) if len(v) else None


def per_second_dynamics(steps: list[dict[str, Any]], t_s: npt.NDArray[np.float64],
                        extra: Mapping[str, npt.NDArray[np.float64]] | None = None,
                        ) -> list[dict[str, float | None]]:
    """The record values at each time of ``t_s`` (run time base) from the running steps.

    ``extra``: more per-step columns (aligned with ``steps``) to average the same way.
    """
    keep = [k for k, s in enumerate(steps) if s.get("activity") == "run" and s.get("ic_s") is not None]
    run = [steps[k] for k in keep]
    ic = _col(run, "ic_s")
    cols = {k: _col(run, k) for k in ("contact_s", "step_s", "vertical_oscillation_m",
                                       *(src for *_, src in DEV_FIELDS))}
    for name, values in (extra or {}).items():
        cols[name] = np.asarray(values, dtype=np.float64)[keep]
    side = np.array([s.get("side") for s in run], dtype=object)
    out = []
    lo = np.searchsorted(ic, t_s - WINDOW_S, side="left")
    hi = np.searchsorted(ic, t_s + WINDOW_S, side="left")
    for a, b in zip(lo, hi, strict=True):
        sl = slice(int(a), int(b))
        rec: dict[str, float | None] = {k: _mean(v[sl]) for k, v in cols.items()}
        contact = cols["contact_s"][sl]
        left = _mean(contact[side[sl] == "L"])
        right = _mean(contact[side[sl] == "R"])
        rec["balance_left_pct"] = None if left is None or right is None else 100 * left / (left + right)
        rec["n_steps"] = float(b - a)
        out.append(rec)
    return out


def export_fit(lib: Library, run: RunRecord | str, out: str | os.PathLike[str]) -> FitExport:
    """Write ``run`` (analysed, with its attached watch data if any) as a FIT activity file.

    ``run``: a :class:`~imurun.store.library.RunRecord` or its id, as ``imurun export`` takes it
    (:meth:`~imurun.store.library.Library.resolve_run`).
    """
    from imurun.store.attach import watch_samples

    run = lib.resolve_run(run)
    analysis = lib.analysis(run)
    if analysis is None:
        raise UsageError(f"run {run.short_id} is not analysed yet: nothing to export")
    if run.start_unix_s is None:
        raise UsageError(f"run {run.short_id} has no wall-clock start time; a FIT file needs one")
    watch = {float(w["t_s"]): w for w in watch_samples(lib, run.id)}  # type: ignore[arg-type]
    data = fit_bytes(analysis, run.start_unix_s, run.duration_s or 0.0, watch, run.device_id)
    target = Path(out)
    if target.is_dir():
        raise UsageError(f"{target} is a directory; give the FIT file's name")
    atomic_write_bytes(target, data.data)
    kind = "running dynamics" + (" + watch speed, distance, heart rate" if watch else "")
    return FitExport(target, data.records, len(data.data), kind)


@dataclass(frozen=True)
class _Encoded:
    data: bytes
    records: int


def fit_bytes(analysis: dict[str, Any], start_unix_s: float, duration_s: float,
              watch: dict[float, dict[str, Any]], device_id: str | None = None) -> _Encoded:
    """Encode a FIT activity (see the module docstring) from an ``imurun.analysis/1`` result."""
    from fit_tool import FitFileBuilder
    from fit_tool.base_type import BaseType
    from fit_tool.developer_field import DeveloperField
    from fit_tool.profile.messages.activity_message import ActivityMessage
    from fit_tool.profile.messages.developer_data_id_message import DeveloperDataIdMessage
    from fit_tool.profile.messages.event_message import EventMessage
    from fit_tool.profile.messages.field_description_message import FieldDescriptionMessage
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.lap_message import LapMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.profile_type import (
        Event,
        EventType,
        FileType,
        Manufacturer,
        Sport,
        SubSport,
    )

    from imurun.signal.pace import SpeedTrack, step_speed, vertical_ratio_pct

    steps = list(analysis.get("steps") or [])
    t0_ms = int(round(start_unix_s)) * 1000  # FIT timestamps are whole seconds
    offset = start_unix_s - round(start_unix_s)
    t_s = np.arange(0.0, np.floor(duration_s) + 1.0)
    speeds = sorted((float(t), float(w["speed_mps"])) for t, w in watch.items()
                    if w.get("speed_mps") is not None)
    extra: dict[str, npt.NDArray[np.float64]] = {}
    if speeds and steps:
        track = SpeedTrack(np.array([t for t, _ in speeds]), np.array([v for _, v in speeds]))
        sp = step_speed(_col(steps, "ic_s"), _col(steps, "step_s"),
                        _col(steps, "vertical_oscillation_m"), track)
        extra["step_length_m"] = sp.step_length_m
    # record k is at round(start) + k s: run time k - offset
    dyn = per_second_dynamics(steps, t_s - offset, extra)

    b = FitFileBuilder(auto_define=True)
    fid = FileIdMessage()
    fid.type = FileType.ACTIVITY
    fid.manufacturer = Manufacturer.DEVELOPMENT
    fid.product = 0
    fid.serial_number = int(device_id, 16) & 0xFFFFFFFF if device_id else 0
    fid.time_created = t0_ms
    fid.product_name = f"imurun {__version__}"
    b.add(fid)
    dd = DeveloperDataIdMessage()
    dd.developer_data_index = 0
    dd.application_id = list(APPLICATION_ID)
    dd.application_version = 1
    b.add(dd)
    for num, name, units, _src in DEV_FIELDS:
        fd = FieldDescriptionMessage()
        fd.developer_data_index = 0
        fd.field_definition_number = num
        fd.fit_base_type_id = BaseType.FLOAT32
        fd.field_name = name
        fd.units = units
        b.add(fd)
    start = EventMessage()
    start.timestamp = t0_ms
    start.event = Event.TIMER
    start.event_type = EventType.START
    b.add(start)

    n = 0
    for t, d in zip(t_s, dyn, strict=True):
        w = watch.get(float(t))
        if not d["n_steps"] and w is None:
            continue
        r = RecordMessage()
        r.timestamp = t0_ms + int(t) * 1000
        if d["contact_s"] is not None:
            r.stance_time = d["contact_s"] * 1000.0
            if d["step_s"]:
                r.stance_time_percent = 100.0 * d["contact_s"] / (2.0 * d["step_s"])
        if d["balance_left_pct"] is not None:
            r.stance_time_balance = d["balance_left_pct"]
        if d["vertical_oscillation_m"] is not None:
            r.vertical_oscillation = d["vertical_oscillation_m"] * 1000.0
        if d["step_s"]:
            strides_per_min = 30.0 / d["step_s"]
            r.cadence = int(strides_per_min)
            r.fractional_cadence = strides_per_min - int(strides_per_min)
        step_m = d.get("step_length_m")
        if step_m is not None and step_m > 0:
            r.step_length = step_m * 1000.0
            if d["vertical_oscillation_m"] is not None:
                r.vertical_ratio = float(vertical_ratio_pct(d["vertical_oscillation_m"], step_m))
        if w is not None:
            if w.get("speed_mps") is not None:
                r.enhanced_speed = w["speed_mps"]
            if w.get("distance_m") is not None:
                r.distance = w["distance_m"]
            if w.get("heart_rate_bpm") is not None:
                r.heart_rate = int(round(w["heart_rate_bpm"]))
        devs = []
        for num, name, units, src in DEV_FIELDS:
            v = d[src]
            if v is not None:
                f = DeveloperField(field_id=num, name=name, base_type=BaseType.FLOAT32,
                                   units=units, developer_data_index=0, size=4)
                f.set_value(0, float(v))
                devs.append(f)
        r.developer_fields = devs
        b.add(r)
        n += 1
    if n == 0:
        raise UsageError("the run has no running steps: nothing to write")

    t_end_ms = t0_ms + int(np.floor(duration_s)) * 1000
    stop = EventMessage()
    stop.timestamp = t_end_ms
    stop.event = Event.TIMER
    stop.event_type = EventType.STOP_ALL
    b.add(stop)
    s = analysis.get("summary") or {}
    distances = [w["distance_m"] for w in watch.values() if w.get("distance_m") is not None]
    for msg in (LapMessage(), SessionMessage()):
        msg.timestamp = t_end_ms
        msg.start_time = t0_ms
        msg.total_elapsed_time = duration_s
        msg.total_timer_time = duration_s
        msg.sport = Sport.RUNNING
        msg.sub_sport = SubSport.GENERIC
        if distances:
            msg.total_distance = max(distances)
        if isinstance(s.get("cadence_spm"), int | float):
            msg.avg_running_cadence = int(s["cadence_spm"] / 2)
        if isinstance(s.get("contact_ms"), int | float):
            msg.avg_stance_time = s["contact_ms"]
        if isinstance(s.get("vertical_oscillation_cm"), int | float):
            msg.avg_vertical_oscillation = s["vertical_oscillation_cm"] * 10.0
        if isinstance(msg, SessionMessage):
            msg.first_lap_index = 0
            msg.num_laps = 1
        b.add(msg)
    act = ActivityMessage()
    act.timestamp = t_end_ms
    act.total_timer_time = duration_s
    act.num_sessions = 1
    b.add(act)
    return _Encoded(b.build_bytes(), n)
