"""Sensor Logger (the phone app by Kelvin Choi) exports -> :class:`Recording`.

The app exports a recording as a folder (or a zip of it) with one CSV per sensor, each headed
``time,seconds_elapsed,z,y,x``: ``time`` in ns since the Unix epoch, ``seconds_elapsed`` from
the start of the recording, the axes in the phone's frame. The files read here (the app's
documentation, "awesome-sensor-logger", ``UNITS.md``, ``COORDINATES.md``, ``CROSSPLATFORM.md``):

* ``TotalAcceleration.csv`` (Android): acceleration with gravity, m/s²;
* ``Accelerometer.csv``: acceleration *without* gravity (user acceleration), m/s², and
  ``Gravity.csv``, the gravity vector, m/s²: their sum is what an accelerometer measures;
* ``Gyroscope.csv``: angular rate, rad/s (optional);
* ``Metadata.csv``: one row under a header; ``platform`` (``ios``/``android``) and
  ``standardisation``. On iOS, unless "Standardise Units & Frames" was on, acceleration and
  gravity have the opposite sign of Android's on all three axes (a reflection: read as they
  are, left and right would swap between the accelerometer and the gyroscope).

The sensors are sampled apart: gravity and the gyroscope are interpolated linearly onto the
accelerometer's times; accelerometer samples with no neighbour of theirs within 1.5 of their
periods are left out (a gap). Exact repeats of a row (same time, same values), which the app's
documentation says some phones report, are dropped; other repeated or backward times are
refused as in any CSV.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imurun.errors import FileFormatError
from imurun.ingest.phone import TextReader, export_files, onto, pack_files
from imurun.ingest.recording import Recording

FloatArray = npt.NDArray[np.float64]

#: The first two columns of every sensor file of an export.
HEAD = ("time", "seconds_elapsed")
_FILES = ("TotalAcceleration", "Accelerometer", "Gravity", "Gyroscope", "Metadata")


def is_sensor_csv_header(line: str) -> bool:
    """Whether ``line`` heads one sensor file of an export (``time,seconds_elapsed,z,y,x``)."""
    names = [n.strip().strip('"').lower() for n in line.strip().split(",")]
    return tuple(names[:2]) == HEAD and {"x", "y", "z"} <= set(names)


def _reader(path: str) -> tuple[str, dict[str, TextReader]] | None:
    """``(where, {file stem: read its text})`` of the export ``path`` is, or belongs to.

    ``path`` is the export's folder, a zip of it, or one of its sensor files (its folder is
    read). ``None`` when no export file is found there.
    """
    found = export_files(path, lambda k: "/" not in k and k.lower().endswith(".csv")
                         and Path(k).stem in _FILES)
    if found is None:
        return None
    where, files = found
    return where, {Path(k).stem: read for k, read in files.items()}


def is_export(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a Sensor Logger export's folder or zip holding an accelerometer file."""
    r = _reader(str(path))
    if r is None:
        return False
    acc = next((r[1][s] for s in ("TotalAcceleration", "Accelerometer") if s in r[1]), None)
    if acc is None:
        return False
    try:  # (phyphox names a set Accelerometer.csv too)
        return is_sensor_csv_header(acc().split("\n", 1)[0])
    except FileFormatError:
        return True  # (unreadable: said when it is loaded)


def _metadata(text: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        return {}
    return {k.strip().lower(): v.strip().lower() for k, v in zip(rows[0], rows[1], strict=False)}


def _sensor(p: str, name: str, text: str) -> tuple[FloatArray, FloatArray, float | None, list[str]]:
    """``(t_s, xyz, start_unix_s, notes)`` of one sensor file, exact repeated rows dropped."""
    from imurun.ingest.files import _bad_value, _check_increasing, _numbered

    where = f"{p}: {name}.csv"
    lines = text.split("\n")
    header = [h.strip().strip('"') for h in next(csv.reader([lines[0]]))] if lines else []
    low = [h.lower() for h in header]
    if not (tuple(low[:2]) == HEAD and {"x", "y", "z"} <= set(low)):
        raise FileFormatError(where, f"not a Sensor Logger sensor file (header {lines[0][:80]!r}, "
                                     "expected time,seconds_elapsed,z,y,x)")
    body = _numbered(lines, 1)
    if len(body) < 2:
        raise FileFormatError(where, "fewer than two samples")
    cols = [low.index(c) for c in ("time", "seconds_elapsed", "x", "y", "z")]
    try:
        data = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=",",
                          usecols=cols, ndmin=2, dtype=np.float64, quotechar='"')
    except ValueError as e:
        raise FileFormatError(where, "values are not all numbers: "
                                     + _bad_value(body, ",", cols, header, e)) from e
    line_no = np.array([n for n, _ in body])
    repeat = np.r_[False, (np.diff(data, axis=0) == 0).all(axis=1)]
    notes = [f"{name}.csv: {int(repeat.sum())} repeated row(s) (same time, same values) "
             "dropped"] if repeat.any() else []
    data, line_no = data[~repeat], line_no[~repeat]
    t = data[:, 1]
    if not np.isfinite(data).all():
        first = int(line_no[int(np.argmin(np.isfinite(data).all(axis=1)))])
        raise FileFormatError(where, f"rows hold NaN or infinite values (the first on line "
                                     f"{first})")
    _check_increasing(where, t, ("seconds_elapsed", t), [int(n) for n in line_no])
    start = float(data[0, 0]) * 1e-9 - float(t[0])  # the wall clock of seconds_elapsed == 0
    return t, data[:, 2:5], start if start > 1e8 else None, notes


def load_sensor_logger(path: str | os.PathLike[str]) -> Recording:
    """Read a Sensor Logger export (its folder, its zip, or one of its sensor files)."""
    from imurun.ingest.files import _from_columns

    p = str(path)
    found = _reader(p)
    if found is None:
        raise FileFormatError(p, "no Sensor Logger export here (TotalAcceleration.csv, or "
                                 "Accelerometer.csv and Gravity.csv)")
    where, files = found
    meta = _metadata(files["Metadata"]()) if "Metadata" in files else {}
    notes: list[str] = []
    if "TotalAcceleration" in files:
        used = ["TotalAcceleration"]
        t, acc, start, n = _sensor(where, "TotalAcceleration", files["TotalAcceleration"]())
        notes += n
    elif "Accelerometer" in files and "Gravity" in files:
        used = ["Accelerometer", "Gravity"]
        t, user, start, n = _sensor(where, "Accelerometer", files["Accelerometer"]())
        tg, grav, _, ng = _sensor(where, "Gravity", files["Gravity"]())
        notes += n + ng
        g, ok = onto(t, tg, grav)
        t, acc = t[ok], user[ok] + g[ok]
    elif "Accelerometer" in files:
        raise FileFormatError(where, "Sensor Logger's Accelerometer.csv holds no gravity (it is "
                                     "the phone's acceleration without it), and the export has no "
                                     "Gravity.csv or TotalAcceleration.csv: imurun needs gravity "
                                     "to find which way is up; record again with Gravity (or, on "
                                     "Android, Total Acceleration) switched on")
    else:
        raise FileFormatError(where, "the Sensor Logger export has no accelerometer file "
                                     "(TotalAcceleration.csv, or Accelerometer.csv and "
                                     "Gravity.csv)")
    platform = meta.get("platform")
    if used != ["TotalAcceleration"]:  # (TotalAcceleration.csv is Android's alone)
        if platform not in ("ios", "android"):
            raise FileFormatError(where, "Metadata.csv, which says whether the phone was an "
                                         "iPhone (whose accelerations have the opposite sign), is "
                                         "missing or names no platform: put the export's "
                                         "Metadata.csv back beside its other files")
        if platform == "ios" and meta.get("standardisation") != "true":
            acc = -acc
            notes.append("iOS accelerations turned to Android's sign (Metadata.csv: platform "
                         "ios, standardisation off)")
    gyr = None
    if "Gyroscope" in files:
        used.append("Gyroscope")
        tw, w, _, nw = _sensor(where, "Gyroscope", files["Gyroscope"]())
        notes += nw
        gyr, ok = onto(t, tw, w)
        t, acc, gyr = t[ok], acc[ok], gyr[ok]
    if len(used) > 1:
        notes.insert(0, f"Sensor Logger export: {', '.join(f'{u}.csv' for u in used)}; "
                        f"{' and '.join(f'{u}.csv' for u in used[1:])} interpolated onto "
                        f"{used[0]}.csv's times")
    else:
        notes.insert(0, f"Sensor Logger export: {used[0]}.csv (no Gyroscope.csv)")
    return _from_columns(p, "sensorlogger", t, acc, gyr, "m/s2", "rad/s", None, tuple(notes),
                         lines=list(range(2, len(t) + 2)), time=("seconds_elapsed", t),
                         time_unit="s", start_unix_s=start)


def pack(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """The export ``path`` belongs to, as one zip of the files read here, in ``out_dir``.

    The same export gives the same bytes (:func:`~imurun.ingest.phone.pack_files`), named after
    the export's folder (or zip).
    """
    found = _reader(str(path))
    if found is None:
        raise FileFormatError(str(path), "no Sensor Logger export here")
    where, files = found
    return pack_files(where, {f"{stem}.csv": read for stem, read in files.items()}, out_dir)
