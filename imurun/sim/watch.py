"""What a GPS watch on the simulated runner's wrist would have recorded: a FIT activity.

For trying ``imurun attach`` (step and stride length, pace) without a watch: one record per
second with the runner's true speed averaged over that second, as a watch reports it, the
distance (its running sum) and a constant heart rate. Written with ``fit-tool``, as
:mod:`imurun.report.fit` writes its exports. Real watches' GPS speed lags and wanders; this one
does not, so it shows the step-length arithmetic, not a watch's accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imurun import __version__

#: The watch's serial number in its file_id (any constant: it names the simulated watch)
WATCH_SERIAL = 0x5157A7C4


def per_second_speed(speed_mps: npt.ArrayLike, fs_hz: float) -> npt.NDArray[np.float64]:
    """Per-second speeds of a watch from ``speed_mps`` sampled at ``fs_hz`` from 0 s.

    Record ``i`` is the mean over [i - 0.5, i + 0.5) s; the first, over its second half.
    """
    v = np.asarray(speed_mps, dtype=np.float64)
    fs = int(round(fs_hz))
    if fs <= 0 or abs(fs - fs_hz) > 1e-9:
        raise ValueError(f"the truth's sample rate must be a whole number of Hz, got {fs_hz}")
    n = len(v) // fs
    if n == 0:
        return np.zeros(0)
    half = fs // 2
    padded = np.concatenate([np.full(half, v[0]), v])
    return padded[: n * fs].reshape(n, fs).mean(axis=1)


def write_watch_fit(path: str | os.PathLike[str], start_unix_s: float,
                    speeds_mps: npt.ArrayLike, *, heart_rate_bpm: float = 150.0,
                    cadence_spm: float | None = None) -> Path:
    """Write a FIT activity of one record per second from ``start_unix_s`` (whole seconds).

    Record ``i`` holds ``speeds_mps[i]`` and the distance run before it.
    """
    from fit_tool import FitFileBuilder
    from fit_tool.profile.messages.file_id_message import FileIdMessage
    from fit_tool.profile.messages.record_message import RecordMessage
    from fit_tool.profile.messages.session_message import SessionMessage
    from fit_tool.profile.profile_type import FileType, Manufacturer, Sport

    v = np.asarray(speeds_mps, dtype=np.float64)
    if v.ndim != 1 or not len(v) or not np.all(np.isfinite(v)) or np.any(v < 0):
        raise ValueError("speeds must be a non-empty list of finite speeds >= 0 m/s")
    t0_ms = int(round(start_unix_s)) * 1000
    b = FitFileBuilder(auto_define=True)
    fid = FileIdMessage()
    fid.type = FileType.ACTIVITY
    fid.manufacturer = Manufacturer.DEVELOPMENT
    fid.product = 0
    fid.serial_number = WATCH_SERIAL
    fid.time_created = t0_ms
    fid.product_name = f"imurun {__version__} simulated watch"
    b.add(fid)
    dist = np.concatenate([[0.0], np.cumsum(v)[:-1]])
    for i, (vi, di) in enumerate(zip(v, dist, strict=True)):
        r = RecordMessage()
        r.timestamp = t0_ms + i * 1000
        r.enhanced_speed = float(vi)
        r.distance = float(di)
        r.heart_rate = int(round(heart_rate_bpm))
        if cadence_spm is not None:
            strides = cadence_spm / 2.0  # FIT running cadence counts strides per minute
            r.cadence = int(strides)
            r.fractional_cadence = strides - int(strides)
        b.add(r)
    s = SessionMessage()
    s.timestamp = t0_ms + (len(v) - 1) * 1000
    s.start_time = t0_ms
    s.total_elapsed_time = float(len(v) - 1)
    s.total_timer_time = float(len(v) - 1)
    s.total_distance = float(dist[-1])
    s.sport = Sport.RUNNING
    b.add(s)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(b.build().to_bytes())
    return out


def truth_watch_fit(path: str | os.PathLike[str], truth_npz: str | os.PathLike[str],
                    start_unix_s: float) -> Path:
    """The watch file of a simulated run from its ground truth (``FLASH/truth/*.npz``)."""
    from imurun.sim.source import load_truth

    tr = load_truth(Path(truth_npz))
    return write_watch_fit(path, start_unix_s,
                           per_second_speed(tr["speed_mps"], float(tr["meta"]["fs_hz"])))
