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

The JSON export (README, "File Handling > JSON") is one array of records, one per sample:
``{"sensor": "Accelerometer", "time": "...", "seconds_elapsed": "...", "z": ..., "y": ...,
"x": ...}``, the same sensors and values. It documents no metadata: a ``"sensor": "Metadata"``
record is used when there is one; without it, acceleration that needs ``Gravity`` is refused.

The sensors are sampled apart: gravity and the gyroscope are interpolated linearly onto the
accelerometer's times; accelerometer samples with no neighbour of theirs within 1.5 of their
periods are left out (a gap). Exact repeats of a row (same time, same values), which the app's
documentation says some phones report, are dropped; other repeated or backward times are
refused as in any CSV.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
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
        return is_sensor_csv_header(acc.first_line())
    except FileFormatError:
        return True  # (unreadable: said when it is loaded)


def _metadata(text: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(text)))
    if len(rows) < 2:
        return {}
    return {k.strip().lower(): v.strip().lower() for k, v in zip(rows[0], rows[1], strict=False)}


#: A sensor's samples as read: columns time, seconds_elapsed, x, y, z, and the line of the
#: file (CSV) or the position in the array (JSON, from 1) of each row.
Rows = tuple[FloatArray, npt.NDArray[np.int64]]
_COLUMNS = ("time", "seconds_elapsed", "x", "y", "z")


@dataclass(frozen=True)
class _Export:
    """An export's sensors, however they were stored."""

    where: str
    sensors: dict[str, Callable[[], Rows]]  # "TotalAcceleration", "Accelerometer", ...
    metadata: dict[str, str] | None  # None: no metadata in the export
    json: bool = False

    def label(self, name: str) -> str:
        """How messages name a sensor's samples: its file, or its records in the JSON array."""
        return f"{name} records" if self.json else f"{name}.csv"

    def row(self) -> str:
        return "record" if self.json else "line"


def _csv_rows(where: str, text: str) -> Rows:
    """A sensor file's columns (``time,seconds_elapsed,z,y,x``) and the line of each row."""
    from imurun.ingest.files import _bad_value, _numbered

    lines = text.split("\n")
    header = [h.strip().strip('"') for h in next(csv.reader([lines[0]]))] if lines else []
    low = [h.lower() for h in header]
    if not (tuple(low[:2]) == HEAD and {"x", "y", "z"} <= set(low)):
        raise FileFormatError(where, f"not a Sensor Logger sensor file (header {lines[0][:80]!r}, "
                                     "expected time,seconds_elapsed,z,y,x)")
    body = _numbered(lines, 1)
    if len(body) < 2:
        raise FileFormatError(where, "fewer than two samples")
    cols = [low.index(c) for c in _COLUMNS]
    try:
        data = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=",",
                          usecols=cols, ndmin=2, dtype=np.float64, quotechar='"')
    except ValueError as e:
        raise FileFormatError(where, "values are not all numbers: "
                                     + _bad_value(body, ",", cols, header, e)) from e
    return data, np.array([n for n, _ in body], dtype=np.int64)


def _sensor(ex: _Export, name: str,
            ) -> tuple[FloatArray, FloatArray, float | None, list[str], npt.NDArray[np.int64]]:
    """``(t_s, xyz, start_unix_s, notes, lines)`` of one sensor, exact repeated rows dropped.

    ``lines[k]`` is the line of the file (the record of the JSON array) row ``k`` comes from.
    """
    from imurun.ingest.files import _check_increasing

    where = f"{ex.where}: {ex.label(name)}"
    data, line_no = ex.sensors[name]()
    if len(data) < 2:
        raise FileFormatError(where, "fewer than two samples")
    repeat = np.r_[False, (np.diff(data, axis=0) == 0).all(axis=1)]
    notes = [f"{ex.label(name)}: {int(repeat.sum())} repeated row(s) (same time, same values) "
             "dropped"] if repeat.any() else []
    data, line_no = data[~repeat], line_no[~repeat]
    t = data[:, 1]
    if not np.isfinite(data).all():
        first = int(line_no[int(np.argmin(np.isfinite(data).all(axis=1)))])
        raise FileFormatError(where, f"rows hold NaN or infinite values (the first on "
                                     f"{ex.row()} {first})")
    _check_increasing(where, t, ("seconds_elapsed", t), [int(n) for n in line_no],
                      row=ex.row())
    start = float(data[0, 0]) * 1e-9 - float(t[0])  # the wall clock of seconds_elapsed == 0
    return t, data[:, 2:5], start if start > 1e8 else None, notes, line_no


def _files_export(path: str) -> _Export | None:
    found = _reader(path)
    if found is None:
        return None
    where, files = found

    def rows(stem: str) -> Callable[[], Rows]:
        return lambda: _csv_rows(f"{where}: {stem}.csv", files[stem]())

    sensors = {stem: rows(stem) for stem in files if stem != "Metadata"}
    meta = _metadata(files["Metadata"]()) if "Metadata" in files else None
    return _Export(where, sensors, meta)


def is_json_head(text: str) -> bool:
    """Whether ``text`` (a file's first bytes) starts a JSON export: an array of sensor records."""
    t = text.lstrip("\ufeff \t\r\n")
    return t.startswith("[") and re.match(r'\[\s*\{\s*"sensor"\s*:', t) is not None


def is_json(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file holding a Sensor Logger JSON export."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return is_json_head(head.decode("utf-8", errors="replace"))


def _json_export(p: str) -> _Export:
    """The JSON export: an array of records, each ``{"sensor": ..., "time": ..., ...}``."""
    try:
        raw = json.loads(Path(p).read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as e:
        raise FileFormatError(p, "not UTF-8 text") from e
    except json.JSONDecodeError as e:
        raise FileFormatError(p, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}): "
                                 "a Sensor Logger JSON export cut short? export it again") from e
    except OSError as e:
        raise FileFormatError(p, f"cannot read: {e.strerror or e}") from e
    if not isinstance(raw, list):
        raise FileFormatError(p, "not a Sensor Logger JSON export (not an array of records)")
    groups: dict[str, list[tuple[int, dict[str, object]]]] = {}
    meta: dict[str, str] | None = None
    for k, rec in enumerate(raw, start=1):
        if not isinstance(rec, dict):
            raise FileFormatError(p, f"record {k} is not an object with a \"sensor\"")
        sensor = rec.get("sensor")
        if sensor == "Metadata":
            meta = {str(a).strip().lower(): str(b).strip().lower() for a, b in rec.items()}
        elif sensor in _FILES:
            groups.setdefault(str(sensor), []).append((k, rec))

    def rows(name: str) -> Callable[[], Rows]:
        def read() -> Rows:
            recs = groups[name]
            cols = []
            for c in _COLUMNS:
                values = [r.get(c) for _, r in recs]
                if None in values:  # (numpy would read it as NaN)
                    k = recs[values.index(None)][0]
                    raise FileFormatError(p, f"record {k} ({name}) has no {c!r}")
                try:
                    cols.append(np.array(values, dtype=np.float64))
                except (TypeError, ValueError) as e:
                    k, v = next((k, r.get(c)) for k, r in recs if not _number(r.get(c)))
                    what = f"has no {c!r}" if v is None else f"holds {c} {v!r}, not a number"
                    raise FileFormatError(p, f"record {k} ({name}) {what}") from e
            return np.column_stack(cols), np.array([k for k, _ in recs], dtype=np.int64)
        return read

    return _Export(p, {name: rows(name) for name in groups}, meta, json=True)


def _number(v: object) -> bool:
    if isinstance(v, bool) or v is None:
        return False
    try:
        float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def load_sensor_logger(path: str | os.PathLike[str]) -> Recording:
    """Read a Sensor Logger export (its folder, its zip, one of its sensor files, or its JSON)."""
    from imurun.ingest.files import _from_columns

    p = str(path)
    ex = _json_export(p) if is_json(p) else _files_export(p)
    if ex is None:
        raise FileFormatError(p, "no Sensor Logger export here (TotalAcceleration.csv, or "
                                 "Accelerometer.csv and Gravity.csv)")
    where, files, lab = ex.where, ex.sensors, ex.label
    meta = ex.metadata or {}
    notes: list[str] = []
    if "TotalAcceleration" in files:
        used = ["TotalAcceleration"]
        t, acc, start, n, lines = _sensor(ex, "TotalAcceleration")
        notes += n
    elif "Accelerometer" in files and "Gravity" in files:
        used = ["Accelerometer", "Gravity"]
        t, user, start, n, lines = _sensor(ex, "Accelerometer")
        tg, grav, _, ng, _ = _sensor(ex, "Gravity")
        notes += n + ng
        g, ok = onto(t, tg, grav)
        with np.errstate(over="ignore"):  # (beyond float64: refused below, naming the line)
            t, acc, lines = t[ok], user[ok] + g[ok], lines[ok]
    elif "Accelerometer" in files:
        raise FileFormatError(where, f"Sensor Logger's {lab('Accelerometer')} "
                                     f"{'hold' if ex.json else 'holds'} no gravity (it is "
                                     "the phone's acceleration without it), and the export has "
                                     f"no {lab('Gravity')} or {lab('TotalAcceleration')}: imurun "
                                     "needs gravity to find which way is up; record again with "
                                     "Gravity (or, on Android, Total Acceleration) switched on")
    else:
        raise FileFormatError(where, "the Sensor Logger export has no accelerometer "
                                     f"({lab('TotalAcceleration')}, or {lab('Accelerometer')} "
                                     f"and {lab('Gravity')})")
    platform = meta.get("platform")
    if used != ["TotalAcceleration"]:  # (TotalAcceleration.csv is Android's alone)
        if platform not in ("ios", "android"):
            if ex.json:
                raise FileFormatError(where, "the JSON export holds no Metadata record saying "
                                             "whether the phone was an iPhone (whose "
                                             "accelerations have the opposite sign): export the "
                                             "recording as a zip (CSV) instead, whose "
                                             "Metadata.csv says it")
            raise FileFormatError(where, "Metadata.csv, which says whether the phone was an "
                                         "iPhone (whose accelerations have the opposite sign), is "
                                         "missing or names no platform: put the export's "
                                         "Metadata.csv back beside its other files")
        if platform == "ios" and meta.get("standardisation") != "true":
            acc = -acc
            notes.append("iOS accelerations turned to Android's sign ("
                         + ("the Metadata record" if ex.json else "Metadata.csv")
                         + ": platform ios, standardisation off)")
    gyr = None
    if "Gyroscope" in files:
        used.append("Gyroscope")
        tw, w, _, nw, _ = _sensor(ex, "Gyroscope")
        notes += nw
        gyr, ok = onto(t, tw, w)
        t, acc, gyr, lines = t[ok], acc[ok], gyr[ok], lines[ok]
    kind = "JSON export" if ex.json else "export"
    if len(used) > 1:
        notes.insert(0, f"Sensor Logger {kind}: {', '.join(lab(u) for u in used)}; "
                        f"{' and '.join(lab(u) for u in used[1:])} interpolated onto "
                        f"{lab(used[0])}'s times")
    else:
        notes.insert(0, f"Sensor Logger {kind}: {lab(used[0])} (no {lab('Gyroscope')})")
    return _from_columns(p, "sensorlogger", t, acc, gyr, "m/s2", "rad/s", None, tuple(notes),
                         lines=[int(n) for n in lines], time=("seconds_elapsed", t),
                         time_unit="s", start_unix_s=start,
                         lines_of=f"{where}: {lab(used[0])}", row=ex.row())


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
