"""Files from phones and generic loggers, written in the layouts their apps document.

Each test builds its file from ``recordings/clean-run.imrs`` (a minute of standing, walking and
running from the virtual sensor), converted to the app's columns, units and conventions, and
checks that imurun reads it to the same samples, or refuses it with a message that names the
problem and the fix. Layouts:

* phyphox CSV export: ``"Time (s)","Acceleration x (m/s^2)",...`` ('Acceleration with g') or
  ``"Linear Acceleration x (m/s^2)"`` ('Linear Acceleration', gravity removed).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pytest

from imurun.analysis import analyze
from imurun.errors import FileFormatError, SignalError
from imurun.ingest.files import load_recording
from imurun.ingest.recording import Recording

REPO = Path(__file__).resolve().parents[1]
CLEAN = REPO / "recordings" / "clean-run.imrs"


@cache
def _clean() -> Recording:
    return load_recording(CLEAN)


def _signals() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(t_s, acc_ms2, gyr_rads, gravity_ms2)`` of the clean run; gravity a 1-s moving mean."""
    rec = _clean()
    assert rec.gyr_rads is not None
    k = int(rec.fs_hz)
    grav = np.column_stack([np.convolve(rec.acc_ms2[:, j], np.ones(k) / k, mode="same")
                            for j in range(3)])
    return rec.t_s - rec.t_s[0], rec.acc_ms2.copy(), rec.gyr_rads.copy(), grav


def _phyphox(path: Path, t: np.ndarray, acc: np.ndarray, *, linear: bool = False) -> Path:
    name = "Linear Acceleration" if linear else "Acceleration"
    head = ",".join(f'"{h}"' for h in ["Time (s)", *(f"{name} {a} (m/s^2)" for a in "xyz"),
                                       "Absolute acceleration (m/s^2)"])
    absolute = np.linalg.norm(acc, axis=1)
    rows = np.column_stack([t, acc, absolute])
    path.write_text(head + "\n" + "\n".join(",".join(f"{v:.9E}" for v in r) for r in rows)
                    + "\n", encoding="utf-8")
    return path


def test_phyphox_acceleration_with_g_is_read_as_it_is(tmp_path: Path) -> None:
    t, acc, _, _ = _signals()
    rec = load_recording(_phyphox(tmp_path / "Raw Data.csv", t, acc))
    np.testing.assert_allclose(rec.acc_ms2, acc, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(rec.t_s, t, atol=1e-8)
    assert rec.gyr_rads is None


def test_linear_acceleration_is_refused_naming_what_to_export(tmp_path: Path) -> None:
    t, acc, _, grav = _signals()
    p = _phyphox(tmp_path / "Raw Data.csv", t, acc - grav, linear=True)
    # before: read as it was, and analysed to "walking 0.8 min (93 steps)", no running, the
    # sensor's "up" taken as +y: a wrong result without a word
    with pytest.raises(FileFormatError, match=r"holds no gravity .*linear acceleration "
                                              r".*'Acceleration with g'") as e:
        load_recording(p)
    assert "\n" not in str(e.value)


def test_acceleration_of_zeros_is_refused(tmp_path: Path) -> None:
    t = np.arange(2000) / 200.0
    p = tmp_path / "z.csv"
    p.write_text("time_s,acc_x,acc_y,acc_z\n"
                 + "\n".join(f"{v:.3f},0,0,0" for v in t) + "\n", encoding="utf-8")
    # before: "standing 0.2 min", the mounting assumed upright
    with pytest.raises(FileFormatError, match="holds no gravity"):
        load_recording(p)


def test_analyze_refuses_a_recording_of_linear_acceleration() -> None:
    t, acc, gyr, grav = _signals()
    with pytest.raises(SignalError, match=r"holds no gravity .*add the gravity vector back"):
        analyze(Recording.from_arrays(t, acc - grav, gyr))
