"""Every supported file -> :class:`Recording`, with the format sniffed from its first bytes.

* imurun session files (raw link bytes, replayed through the live decoder and ingest);
* stored-run files synced off the sensor (``IMRN``);
* generic CSV: header ``time_s,acc_x,acc_y,acc_z[,gyr_x,gyr_y,gyr_z]`` (docs/formats.md), or
  any delimited text whose header names a time column and accelerometer (and gyroscope)
  axes in another way (loggers such as Shimmer; :mod:`imurun.ingest.columns`), or named
  explicitly with ``columns``;
* Xsens MT Manager text exports (tab-separated, ``//`` comment lines or an
  ``Acquisition frequency: N Hz`` line, columns ``PacketCounter``, optional ``SampleTimeFine``,
  ``Acc_X..Z`` in m/s², ``Gyr_X..Z`` in rad/s);
* Sensor Logger exports (a folder, its zip, or one of its files: :mod:`imurun.ingest.sensorlogger`);
* phyphox exports (a zip, its folder, or one of its sets' CSV files: :mod:`imurun.ingest.phyphox`).

Units are checked against gravity and the pelvis: a file whose acceleration is plainly in the
other unit than declared, or whose angular rate is (beyond any pelvis in rad/s; too slow for a
walking or running pelvis in deg/s), is refused with a message that says which option fixes it.
"""

from __future__ import annotations

import csv
import datetime
import io
import os
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from firmware_protocol.errors import RunFormatError
from firmware_protocol.runfile import MAGIC as RUN_MAGIC
from firmware_protocol.runfile import read_run
from imurun.consts import DEG2RAD, G_MS2
from imurun.errors import FileFormatError, IngestError, MissingFileError, UsageError
from imurun.ingest.builder import RecordingBuilder, recording_from_run
from imurun.ingest.columns import ACC, GYR, TIME, ColumnError, ColumnMap, map_columns
from imurun.ingest.export import EPOCH_S
from imurun.ingest.recording import Recording, RecordingMeta

AccUnit = Literal["m/s2", "g"]
GyrUnit = Literal["rad/s", "deg/s"]
TimeUnit = Literal["s", "ms", "us", "ns"]
_TIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_ACC_UNITS: tuple[AccUnit, ...] = ("m/s2", "g")
_GYR_UNITS: tuple[GyrUnit, ...] = ("rad/s", "deg/s")
_TIME_UNITS: tuple[TimeUnit, ...] = ("s", "ms", "us", "ns")
#: Sample rates a body-worn IMU records at (Hz): a time unit must give one to be inferred from
#: the data, and a file whose time (in its stated or given unit) gives another is refused.
_PLAUSIBLE_FS = (5.0, 5000.0)
FileKind = Literal["session", "stored-run", "csv", "xsens", "sensorlogger", "phyphox"]

#: Largest plausible angular rate of a pelvis, rad/s (~1150 deg/s). Beyond it, deg/s is likely.
_MAX_PLAUSIBLE_GYR_RADS = 20.0
#: Smallest plausible peak angular rate of a pelvis that walks or runs, rad/s (20 deg/s; the
#: lower-back sensors of the walking data sets peak at 45 deg/s and more). Below it in a moving
#: recording declared in deg/s, the numbers are rad/s (they peak at 1 to 10).
_MIN_MOVING_GYR_RADS = 20.0 * DEG2RAD
#: A recording is of a walking or running body when |a| departs from its median by more than
#: this in 1 % of its samples, m/s² (standing, even fidgeting, stays well under 1).
_MOVING_ACC_MS2 = 2.5
#: Beyond what any IMU measures: the widest range of MEMS accelerometers (±400 g) and
#: gyroscopes (±4000 deg/s). A text file's value beyond it is a damaged number (a digit or an
#: exponent changed), not a sample, and is refused naming its line.
_MAX_SENSOR_ACC_MS2 = 400.0 * G_MS2
_MAX_SENSOR_GYR_RADS = 4000.0 * DEG2RAD
#: Largest magnitude of a time column read as a time, in its unit (ns since the epoch are about
#: 1.7e18): beyond it, the value is no time, and differences of such values overflow float64.
_MAX_TIME_VALUE = 1e19
#: The "robust peak" of an angular rate: this quantile of |ω| over all axes and samples.
_PEAK_QUANTILE = 0.999
#: Samples the unit checks look at, evenly spread over the recording: plenty for a median or
#: the robust peak, and cheap on an hour of data.
_UNIT_CHECK_SAMPLES = 20_000


def _spread_sample(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Every k-th row of ``x`` (about :data:`_UNIT_CHECK_SAMPLES`), rows with a NaN left out."""
    x = x[::max(1, x.shape[0] // _UNIT_CHECK_SAMPLES)]
    return x[np.isfinite(x).all(axis=1)]


def median_acc_norm(acc: npt.NDArray[np.float64]) -> float:
    """Median of |a| over the samples (0 without any): about g at rest, whatever the unit says."""
    a = _spread_sample(acc)
    return float(np.sqrt(np.median(np.einsum("ij,ij->i", a, a)))) if len(a) else 0.0


def robust_gyr_peak(gyr: npt.NDArray[np.float64]) -> float:
    """The robust peak of an angular rate (:data:`_PEAK_QUANTILE` of |ω|); 0 without samples."""
    w = np.abs(_spread_sample(gyr)).reshape(-1)
    if not w.size:
        return 0.0
    k = int(_PEAK_QUANTILE * (w.size - 1))
    return float(np.partition(w, k)[k])


#: Window over which acceleration is averaged to measure gravity, s: long enough to average out
#: strides (0.7 s and shorter), short enough that a sacrum's orientation barely changes.
_GRAVITY_WINDOW_S = 2.0
#: At most this many windows are averaged (spread evenly over the recording).
_GRAVITY_WINDOWS = 300
#: With gravity, the window average of a is about as large as |a| (ratio near 1 in every data
#: set, 0.86 over 10 s of running); linear acceleration averages to almost nothing (0.04).
_MIN_GRAVITY_RATIO = 0.3


def gravity_missing(acc: npt.NDArray[np.float64], fs_hz: float, acc_unit: str = "m/s2",
                    ) -> str | None:
    """Why ``acc`` plainly holds no gravity (linear acceleration), or ``None`` when it may.

    Gravity is the part of the accelerometer's signal that does not average out: the median
    over :data:`_GRAVITY_WINDOW_S` windows of |mean a| is about |a| (9.8 m/s², 1 g) with it and a
    small fraction of |a| without. A recording whose |a| is far below both 1 g and 9.8 m/s² in
    the declared unit (0.5 m/s², 0.05 g: a still body, gravity removed) holds none either.
    An axis that is NaN throughout was not measured and is left out; rows with another NaN are.
    """
    # magnitude: over evenly spread rows; gravity: over at most _GRAVITY_WINDOWS windows spread
    # evenly over the recording (an hour has 1,800: the median needs no more, and taking every
    # row of a long recording cost 65 ms of its ~1 s analysis)
    stride = max(1, len(acc) // _UNIT_CHECK_SAMPLES)
    measured: npt.NDArray[np.bool_] = np.asarray(np.isfinite(acc[::stride]).any(axis=0))
    for j in np.flatnonzero(~measured):  # (an axis NaN in every spread row: look at all of it)
        measured[j] = bool(np.isfinite(acc[:, j]).any())
    a = acc if measured.all() else acc[:, measured]
    rows = a[::stride]
    rows = rows[np.isfinite(rows).all(axis=1)]
    if not rows.size:
        return None  # (nothing to judge by)
    mag = float(np.median(np.linalg.norm(rows, axis=1)))
    n = max(1, int(round(_GRAVITY_WINDOW_S * fs_hz)))
    k = a.shape[0] // n
    win = a[: k * n].reshape(k, n, a.shape[1])
    if k > _GRAVITY_WINDOWS:
        win = win[np.linspace(0, k - 1, _GRAVITY_WINDOWS).round().astype(np.intp)]
    win = win[np.isfinite(win).all(axis=(1, 2))]  # windows with a NaN row are left out
    if len(win):
        means = win.mean(axis=1)
    else:  # shorter than one window, or NaN in every window: the finite rows as one
        finite = a[np.isfinite(a).all(axis=1)]
        means = finite.mean(axis=0, keepdims=True)
    grav = float(np.median(np.linalg.norm(means, axis=1)))
    unit = "g" if acc_unit == "g" else "m/s²"
    floor = 0.05 if acc_unit == "g" else 0.5
    if mag < floor or grav < _MIN_GRAVITY_RATIO * mag:
        return (f"the acceleration holds no gravity (averaged over {_GRAVITY_WINDOW_S:g} s it is "
                f"{grav:.2g} {unit}, its magnitude {mag:.2g} {unit}; with gravity both are about "
                "9.8 m/s²): it looks like linear acceleration (gravity removed), and imurun needs "
                "gravity to find which way is up")
    return None


def plausible_fs(fs_hz: float) -> bool:
    """Whether ``fs_hz`` is a rate a body-worn IMU records at."""
    return _PLAUSIBLE_FS[0] <= fs_hz <= _PLAUSIBLE_FS[1]


#: Largest plausible angular rate of a pelvis, rad/s (public name of the unit checks' limit).
MAX_PLAUSIBLE_GYR_RADS = _MAX_PLAUSIBLE_GYR_RADS


def _phone_export(p: str) -> FileKind | None:
    """The phone app whose export (folder or zip) ``p`` is, if any.

    phyphox first: Sensor Logger's check looks at ``Accelerometer.csv``'s header, a name
    phyphox gives a set too.
    """
    from imurun.ingest import phyphox, sensorlogger

    if phyphox.is_export(p):
        return "phyphox"
    if sensorlogger.is_export(p):
        return "sensorlogger"
    return None


def sniff(path: str | os.PathLike[str]) -> FileKind:
    """Which supported format ``path`` holds; :class:`FileFormatError` if none."""
    from imurun.ingest import phyphox, sensorlogger

    p = str(path)
    if os.path.isdir(p):
        kind = _phone_export(p)
        if kind is not None:
            return kind
        raise FileFormatError(p, "cannot read a directory as a recording: give a file (a "
                                 "Sensor Logger export folder, which imurun reads whole, holds "
                                 "TotalAcceleration.csv or Accelerometer.csv; a phyphox export "
                                 "folder its CSV files and meta/time.csv)")
    head = _head(p)
    from imurun.transport.session import is_session

    if is_session(head):
        return "session"
    if head.startswith(RUN_MAGIC):
        return "stored-run"
    if head.startswith(b"PK\x03\x04"):
        if not zipfile.is_zipfile(p):
            raise FileFormatError(p, "a damaged or incomplete zip file (cut short in the "
                                     "download or copy?): get it again")
        kind = _phone_export(p)
        if kind is not None:
            return kind
        raise FileFormatError(p, "a zip file, but not a Sensor Logger export (no "
                                 "TotalAcceleration.csv or Accelerometer.csv in it) nor a phyphox "
                                 "one (no meta/time.csv beside a CSV of acceleration): unzip it "
                                 "and give the recording inside (a bundle from `imurun share` is "
                                 "read by `imurun import`)")
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if sensorlogger.is_sensor_csv_header(first) or sensorlogger.is_json_head(text):
        return "sensorlogger"
    if phyphox.is_set_header(first) and phyphox.is_export(p):  # (alone: a generic CSV)
        return "phyphox"
    if first.startswith("//") or first.lower().startswith("acquisition frequency") or (
            "PacketCounter" in first and "Acc_X" in text):
        return "xsens"
    if "time_s" in first.lower() and "acc_x" in first.lower():  # header names: any case
        return "csv"
    if _csv_header(text.splitlines()) is not None:
        return "csv"
    if not head:
        raise FileFormatError(p, "empty file")
    if _looks_delimited(text):
        raise FileFormatError(p, "not a supported format: a CSV whose header does not say which "
                                 "columns hold time and acceleration; name them with --columns "
                                 "time=NAME,acc_x=NAME,acc_y=NAME,acc_z=NAME (and --time-unit)")
    raise FileFormatError(p, "not a supported format (session, stored run, CSV with a "
                             "time_s,acc_x,... header, Xsens MT Manager text export, phyphox "
                             "export zip or folder, or Sensor Logger export folder or zip; "
                             "docs/formats.md)")


def _looks_delimited(text: str) -> bool:
    """A header line of 4+ names over rows of numbers (a CSV of samples, columns unnamed)."""
    lines = [ln for ln in text.splitlines() if ln.strip()][:3]
    if len(lines) < 2 or "\x00" in text:
        return False
    delim = max((",", ";", "\t"), key=lines[0].count)
    head = lines[0].split(delim)
    row = lines[1].split(delim)
    return len(head) >= 4 and len(row) == len(head) and all(_is_number(c) for c in row)


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+([eE][+-]?\d+)?$")


def _header_line(lines: Sequence[str]) -> tuple[int, str | None]:
    """(index of the header line, the delimiter a spreadsheet's ``sep=`` line names, if any).

    Blank lines and ``#`` comment lines (a logger's notes) before the header, and a ``sep=X``
    line (Excel's hint) with blank lines around it, are skipped. The index is ``len(lines)``
    when there is no header.
    """
    i = 0
    sep: str | None = None
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    raw = lines[i].strip(" \r\n") if i < len(lines) else ""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':  # "sep=\t", as some loggers quote it
        raw = raw[1:-1]
    if raw.lower().startswith("sep="):
        hint = raw[4:]
        sep = hint if len(hint) == 1 else None
        i += 1
        while i < len(lines) and not lines[i].strip():
            i += 1
    return i, sep


def _delimiter(line: str, sep: str | None) -> str:
    return sep if sep is not None else max((",", ";", "\t"), key=line.count)


def _csv_header(lines: list[str]) -> tuple[int, str, list[str]] | None:
    """``(line index, delimiter, names)`` of a delimited header naming time and acc axes."""
    i, sep = _header_line(lines)
    if i >= len(lines):
        return None
    line = lines[i]
    delim = _delimiter(line, sep)
    names = [h.strip().strip('"') for h in next(csv.reader([line], delimiter=delim))]
    if len(names) < 4:
        return None
    try:
        map_columns(names)
    except ColumnError:
        return None
    return i, delim, names


def load_recording(path: str | os.PathLike[str], *, acc_unit: AccUnit | None = None,
                   gyr_unit: GyrUnit | None = None, columns: Mapping[str, str] | None = None,
                   time_unit: TimeUnit | None = None) -> Recording:
    """Load any supported file.

    ``acc_unit``/``gyr_unit`` apply to CSV and Xsens text files; ``columns`` (canonical key ->
    header name, see :func:`imurun.ingest.columns.map_columns`) and ``time_unit`` to CSV files.
    Given for a session or stored run (SI already), they are refused (:class:`FileFormatError`);
    a value that is not one of the units is a :class:`~imurun.errors.UsageError`.
    """
    p = str(path)
    for name, value, allowed in (("acc_unit", acc_unit, _ACC_UNITS),
                                 ("gyr_unit", gyr_unit, _GYR_UNITS),
                                 ("time_unit", time_unit, _TIME_UNITS)):
        if value is not None and value not in allowed:
            raise UsageError(f"{name} must be one of {', '.join(map(repr, allowed))}, "
                             f"got {value!r}")
    if columns:
        _refuse_columns(p)
        return load_csv(p, acc_unit=acc_unit, gyr_unit=gyr_unit, columns=columns,
                        time_unit=time_unit)
    kind = sniff(p)
    if kind in ("session", "stored-run") and (acc_unit or gyr_unit or time_unit):  # SI
        given = [f"{n} (--{n.replace('_', '-')})" for n, v in (
            ("acc_unit", acc_unit), ("gyr_unit", gyr_unit), ("time_unit", time_unit)) if v]
        files = "CSV files" if not (acc_unit or gyr_unit) else "CSV and Xsens files"
        raise FileFormatError(p, f"{' and '.join(given)} appl{'ies' if len(given) == 1 else 'y'}"
                                 f" to {files} only: a {kind} file is in SI units already")
    if kind == "session":
        return load_session(p)
    if kind == "sensorlogger":
        if acc_unit or gyr_unit or time_unit:
            raise FileFormatError(p, "--acc-unit, --gyr-unit and --time-unit do not apply to a "
                                     "Sensor Logger export: its units are known")
        from imurun.ingest.sensorlogger import load_sensor_logger

        return load_sensor_logger(p)
    if kind == "phyphox":
        if acc_unit or gyr_unit or time_unit:
            raise FileFormatError(p, "--acc-unit, --gyr-unit and --time-unit do not apply to a "
                                     "phyphox export: its units are known")
        from imurun.ingest.phyphox import load_phyphox

        return load_phyphox(p)
    if kind == "stored-run":
        try:
            return recording_from_run(read_run(Path(p).read_bytes()), source=p)
        except RunFormatError as e:
            raise FileFormatError(p, e.reason) from e
        except IngestError as e:  # (its text may already start with the file's name)
            raise FileFormatError(p, str(e).removeprefix(f"{p}: ")) from e
    if kind == "csv":
        return load_csv(p, acc_unit=acc_unit, gyr_unit=gyr_unit, time_unit=time_unit)
    if time_unit is not None:
        raise FileFormatError(p, "--time-unit applies to CSV files only")
    return load_xsens(p, acc_unit=acc_unit or "m/s2", gyr_unit=gyr_unit or "rad/s")


def _head(p: str) -> bytes:
    """The first 4 KiB of file ``p`` (what tells the formats apart); a clear error if unreadable."""
    try:
        with open(p, "rb") as fh:
            return fh.read(4096)
    except FileNotFoundError as e:
        raise MissingFileError(p, f"cannot read: {e.strerror or e}") from e
    except OSError as e:
        raise FileFormatError(p, f"cannot read: {e.strerror or e}") from e


def _refuse_columns(p: str) -> None:
    """Refuse what ``--columns`` cannot apply to, saying what it is.

    A missing file, a folder, or a file that names its own channels (a sensor's session or
    stored run, a zip) was read as a CSV: "cannot read as UTF-8 text".
    """
    if os.path.isdir(p):
        raise FileFormatError(p, "--columns names the columns of a CSV file, not of a directory "
                                 "(a phone's export folder is read without it)")
    head = _head(p)
    from imurun.transport.session import is_session

    if head.startswith(b"PK\x03\x04"):
        raise FileFormatError(p, "--columns applies to CSV files only, not to a zip file (a "
                                 "phone's export zip is read without it)")
    kind = "session" if is_session(head) else "stored-run" if head.startswith(RUN_MAGIC) else None
    if kind is not None:
        raise FileFormatError(p, f"--columns applies to CSV files only: a {kind} file names its "
                                 "own channels (leave --columns out)")


def load_session(path: str | os.PathLike[str]) -> Recording:
    """Replay a session file through the live decoder and ingest (flat out)."""
    from imurun.device.client import SensorClient
    from imurun.device.stream import replay_blocking
    from imurun.transport.session import ReplayTransport, read_session

    p = str(path)
    sf = read_session(p)
    builder = RecordingBuilder(source=p, source_format="session")
    client = SensorClient(ReplayTransport(sf, speed=None))
    replay_blocking(client, builder)  # also from inside a running event loop (Jupyter)
    builder.notes += sf.notes
    try:
        return builder.build()
    except IngestError as e:
        raise FileFormatError(p, str(e)) from e


#: What to do about a file without gravity (the apps' names for acceleration with gravity).
_GRAVITY_FIX = ("export the accelerometer with gravity (phyphox: 'Acceleration with g', not "
                "'Linear Acceleration'; Sensor Logger: the whole export folder or zip, whose "
                "Gravity.csv or TotalAcceleration.csv imurun adds)")


def _check_units(p: str, acc: npt.NDArray[np.float64], gyr: npt.NDArray[np.float64] | None,
                 acc_unit: str, gyr_unit: str, fs_hz: float) -> None:
    why = gravity_missing(acc, fs_hz, acc_unit)
    if why is not None:
        raise FileFormatError(p, f"{why}: {_GRAVITY_FIX}")
    mag = median_acc_norm(acc)
    if acc_unit == "m/s2" and 0.5 < mag < 2.0:
        raise FileFormatError(p, f"acceleration looks like it is in g (median |a| = {mag:.2f}); "
                                 "pass --acc-unit g")
    if acc_unit == "g" and 5.0 < mag < 20.0:
        raise FileFormatError(p, f"acceleration looks like it is in m/s² (median |a| = {mag:.2f}); "
                                 "drop --acc-unit g")
    if gyr is None or not len(gyr):
        return
    peak = robust_gyr_peak(gyr)
    if gyr_unit == "rad/s" and peak > _MAX_PLAUSIBLE_GYR_RADS:
        raise FileFormatError(p, f"angular rate looks like it is in deg/s (99.9th percentile "
                                 f"{peak:.0f}); pass --gyr-unit deg/s")
    # The reverse (rad/s declared as deg/s) shows only while the body moves: standing, both
    # units give small numbers, so a recording without walking or running is never refused.
    if gyr_unit == "deg/s" and peak * DEG2RAD < _MIN_MOVING_GYR_RADS:
        norm = np.linalg.norm(acc, axis=1) * (G_MS2 if acc_unit == "g" else 1.0)
        moving = float(np.quantile(np.abs(norm - np.median(norm)), 0.99))
        if moving > _MOVING_ACC_MS2:
            raise FileFormatError(p, f"angular rate looks like it is in rad/s (99.9th percentile "
                                     f"{peak:.2g} deg/s while the accelerometer shows walking or "
                                     f"running, where a pelvis turns faster than "
                                     f"{_MIN_MOVING_GYR_RADS / DEG2RAD:.0f} deg/s); pass "
                                     "--gyr-unit rad/s")


def _check_increasing(p: str, t: npt.NDArray[np.float64],
                      time: tuple[str, npt.NDArray[np.float64]] | None, lines: list[int], *,
                      row: str = "line") -> None:
    """Refuse a time column that repeats or goes back, naming the first line that does.

    ``row`` is what ``lines`` count: lines of a file, or records of a JSON array.

    Both are refused, exact duplicate rows too: which of two samples with one time stamp is
    right is not ours to guess, and a time that goes back means rows out of order or two
    recordings in one file.
    """
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size == 0:
        return
    j = int(bad[0]) + 1
    name, raw = time if time is not None else ("time", t)
    now, before = f"{float(raw[j]):.15g}", f"{float(raw[j - 1]):.15g}"
    how = (f"the same as {row} {lines[j - 1]}" if t[j] == t[j - 1]
           else f"less than {before} on {row} {lines[j - 1]}")
    more = f" ({bad.size} rows in all do not follow the one before)" if bad.size > 1 else ""
    raise FileFormatError(p, f"time column is not increasing: {row} {lines[j]} has {name} "
                             f"{now}, {how}{more}")


def _check_finite(p: str, t: npt.NDArray[np.float64], acc: npt.NDArray[np.float64],
                  gyr: npt.NDArray[np.float64] | None, *, lines: list[int], time: str,
                  row: str = "line") -> None:
    """Refuse rows holding NaN or infinite values, and times too large to be one, by line.

    ``t`` is the time column as read (in its unit), ``time`` its name; ``lines[k]`` the line
    (``row``) of row ``k``.
    """
    finite = np.isfinite(t) & np.isfinite(acc).all(axis=1)
    if gyr is not None:
        finite &= np.isfinite(gyr).all(axis=1)
    if not finite.all():
        first = lines[int(np.argmin(finite))]
        raise FileFormatError(p, f"{int((~finite).sum())} row(s) hold NaN or infinite values "
                                 f"(the first on {row} {first}): delete those rows, and imurun "
                                 "marks a gap where samples are missing")
    huge = np.flatnonzero(np.abs(t) >= _MAX_TIME_VALUE)
    if huge.size:
        j = int(huge[0])
        raise FileFormatError(p, f"{row} {lines[j]}: {time} {float(t[j]):.6g} is no time (beyond "
                                 f"{_MAX_TIME_VALUE:.0e} in any unit): a damaged number? correct "
                                 "it, or delete the line and imurun marks a gap")


def _check_range(p: str, acc: npt.NDArray[np.float64] | None,
                 gyr: npt.NDArray[np.float64] | None, acc_unit: str, gyr_unit: str, *,
                 lines: list[int], row: str = "line") -> None:
    """Refuse a value beyond what any IMU measures (a damaged number), naming its line.

    Values are in their declared units; the limits are :data:`_MAX_SENSOR_ACC_MS2` and
    :data:`_MAX_SENSOR_GYR_RADS`.
    """
    checks = []
    if acc is not None:
        scale = G_MS2 if acc_unit == "g" else 1.0
        checks.append(("acceleration", acc, _MAX_SENSOR_ACC_MS2 / scale,
                       "g" if acc_unit == "g" else "m/s²", "±400 g"))
    if gyr is not None:
        scale = DEG2RAD if gyr_unit == "deg/s" else 1.0
        checks.append(("angular rate", gyr, _MAX_SENSOR_GYR_RADS / scale,
                       "deg/s" if gyr_unit == "deg/s" else "rad/s", "±4000 deg/s"))
    for what, x, limit, unit, widest in checks:
        beyond = np.abs(x) > limit
        if not beyond.any():
            continue
        rows = np.flatnonzero(beyond.any(axis=1))
        j = int(rows[0])
        k = int(np.argmax(beyond[j]))
        more = f" ({rows.size} rows in all)" if rows.size > 1 else ""
        raise FileFormatError(p, f"{row} {lines[j]}: {what} {'xyz'[k]} {float(x[j, k]):.6g} "
                                 f"{unit} is beyond what any IMU measures ({widest}){more}: a "
                                 "damaged number? correct it, or delete the line and imurun "
                                 "marks a gap")


def _to_si(acc: npt.NDArray[np.float64], gyr: npt.NDArray[np.float64] | None, acc_unit: str,
           gyr_unit: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    if acc_unit == "g":
        acc = acc * G_MS2
    if gyr is not None and gyr_unit == "deg/s":
        gyr = gyr * DEG2RAD
    return acc, gyr


def load_csv(path: str | os.PathLike[str], *, acc_unit: AccUnit | None = None,
             gyr_unit: GyrUnit | None = None, columns: Mapping[str, str] | None = None,
             time_unit: TimeUnit | None = None) -> Recording:
    """Delimited text with a header (docs/formats.md). Accelerometer-only files are valid.

    Columns are found from the header names (:func:`~imurun.ingest.columns.map_columns`) or
    named in ``columns``. Units: the arguments, else what the column names (or a units row
    under the header) say, else m/s², rad/s and, for time, seconds unless only milli- or
    microseconds give a plausible sample rate.
    """
    p = str(path)
    try:
        text = Path(p).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        line = e.object[:e.start].count(b"\n") + 1
        raise FileFormatError(p, f"cannot read as UTF-8 text: line {line} holds the byte "
                                 f"0x{e.object[e.start]:02x}, which UTF-8 does not allow there "
                                 "(a file saved in another encoding): save it as UTF-8") from e
    except FileNotFoundError as e:
        raise MissingFileError(p, f"cannot read: {e.strerror or e}") from e
    except OSError as e:
        raise FileFormatError(p, f"cannot read: {e.strerror or e}") from e
    lines = text.split("\n")  # (read_text made every line end in "\n"): line k is lines[k - 1]
    if not any(ln.strip() for ln in lines):
        raise FileFormatError(p, "empty file")
    i, sep = _header_line(lines)
    if i >= len(lines):
        raise FileFormatError(p, "no column header")
    delim = _delimiter(lines[i], sep)
    header = [h.strip().strip('"') for h in next(csv.reader([lines[i]], delimiter=delim))]
    start_comment = _start_comment(p, lines[:i])
    try:
        cmap = map_columns(header, columns)
    except ColumnError as e:
        raise FileFormatError(p, f"CSV header: {e}") from e
    body = _numbered(lines, i + 1)
    keys = [TIME, *ACC, *(GYR if cmap.has_gyr else ())]
    cols = [cmap.index[k] for k in keys]
    # rows under the header without a number in any column used (Shimmer: "CAL", then the
    # units) are skipped; a units row gives unit hints. A row with numbers is data, even if its
    # time is not one (a date and time, or a number with a decimal comma).
    unit_rows: list[list[str]] = []
    # a spreadsheet's in a decimal-comma locale (";" or tab between the columns): read as points
    decimal_comma = delim != "," and any(
        _DECIMAL_COMMA.match(_cell(ln, delim, j).strip().strip('"'))
        for _, ln in body[:4] for j in cols)
    if decimal_comma:
        body = [(n, ln.replace(",", ".")) for n, ln in body]
    while body and len(unit_rows) < 2 and not any(
            _is_number(_cell(body[0][1], delim, j)) for j in cols):
        cell = _cell(body[0][1], delim, cmap.index[TIME])
        if _DECIMAL_COMMA.match(cell.strip().strip('"')):
            raise FileFormatError(p, f"line {body[0][0]}, column {cmap.index[TIME] + 1} "
                                     f"({header[cmap.index[TIME]]}) holds {cell.strip()!r}, a "
                                     "number with a decimal comma, in a file whose columns are "
                                     "also separated by commas: export it with a decimal point "
                                     "or with ';' between the columns")
        unit_rows.append(next(csv.reader([body[0][1]], delimiter=delim)))
        body = body[1:]
    if not body:  # (np.loadtxt would warn, then return nothing)
        raise FileFormatError(p, "no samples after the header")
    hint_acc, hint_gyr, hint_time = _unit_row_hints(unit_rows, cmap)
    acc_u = acc_unit or cmap.acc_unit or hint_acc or "m/s2"
    gyr_u = gyr_unit or cmap.gyr_unit or hint_gyr or "rad/s"
    body, cut_note = _without_cut_last_line(body, delim, cols)
    first_time = _cell(body[0][1], delim, cmap.index[TIME]).strip().strip('"')
    dates = not _is_number(first_time) and _iso_seconds(first_time) is not None
    if dates and time_unit is not None:
        raise FileFormatError(p, f"time column {header[cmap.index[TIME]]} holds dates and times "
                                 f"({first_time!r}): --time-unit does not apply to it")
    try:
        data = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=delim,
                          usecols=cols, ndmin=2, dtype=np.float64, quotechar='"',
                          converters={cmap.index[TIME]: _iso_time} if dates else None)
    except ValueError as e:
        raise FileFormatError(p, "CSV values are not all numbers: "
                                 + _bad_value(body, delim, cols, header, e,
                                              dates=cmap.index[TIME] if dates else None)) from e
    _check_finite(p, data[:, 0], data[:, 1:4], data[:, 4:7] if cmap.has_gyr else None,
                  lines=[n for n, _ in body], time=header[cmap.index[TIME]])
    t_unit = "s" if dates else (time_unit or cmap.time_unit or hint_time
                                          or _infer_time_unit(p, data[:, 0]))
    t = data[:, 0] * _TIME_SCALE[t_unit]
    start: float | None = None
    epoch = not dates and _EPOCH_S[0] < float(t[0]) < _EPOCH_S[1]
    if dates or epoch:  # a wall clock: times from the first row on, its start known apart
        start = float(t[0])
        t = _from_first(body, delim, cmap.index[TIME], data[:, 0]) * _TIME_SCALE[t_unit]
    notes: tuple[str, ...] = ("decimal commas read as decimal points",) if decimal_comma else ()
    if cut_note:
        notes += (cut_note,)
    canonical = {TIME: "time_s", **{k: k for k in ACC + GYR}}
    if any(header[cmap.index[k]].lower() != canonical[k] for k in keys):
        names = cmap.names(header)
        notes += ("columns: " + ", ".join(f"{k}={names[k]}" for k in keys)
                 + ("; time from ISO 8601 dates and times" if dates else f"; time in {t_unit}")
                 + f", acceleration in {acc_u}"
                 + (f", angular rate in {gyr_u}" if cmap.has_gyr else ""),)
    if dates and datetime.datetime.fromisoformat(first_time).tzinfo is None:
        start = None  # (a local time of an unknown zone)
    if start is None and start_comment is not None:  # (a time column of dates wins)
        start = start_comment
    return _from_columns(p, "csv", t, data[:, 1:4], data[:, 4:7] if cmap.has_gyr else None,
                         acc_u, gyr_u, None, notes, lines=[n for n, _ in body],
                         time=(header[cmap.index[TIME]], data[:, 0]), time_unit=t_unit,
                         start_unix_s=start)


#: Times (s) read as Unix times, 1973 to 2096: a file's time column in this range is a wall
#: clock, not time since a logger started (which would have run for three years).
_EPOCH_S = EPOCH_S

_START_COMMENT = re.compile(r"^\s*#\s*start_unix_s\s*[:=]\s*(\S*)", re.IGNORECASE)


def _start_comment(p: str, before_header: list[str]) -> float | None:
    """The start a ``# start_unix_s: S`` comment line before the header gives (``write_csv``).

    :func:`imurun.ingest.export.write_csv` writes it for a recording whose start is known, so
    that its CSV keeps the start. ``None`` without such a line; a value that is not a Unix time
    of 1973 to 2096 is refused, naming its line.
    """
    for k, line in enumerate(before_header):
        m = _START_COMMENT.match(line)
        if m is None:
            continue
        value = m.group(1)
        if not (_is_number(value) and _EPOCH_S[0] < float(value) < _EPOCH_S[1]):
            raise FileFormatError(p, f"line {k + 1}: start_unix_s {value!r} is not a Unix time "
                                     "in seconds of a date from 1973 to 2096 (the wall clock of "
                                     "time_s 0): correct it, or delete the line if the start is "
                                     "unknown")
        return float(value)
    return None


def _from_first(body: list[tuple[int, str]], delim: str, j: int,
                raw: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """The time column ``raw`` (column ``j`` of ``body``) less its first value, exactly.

    Unix times in µs or ns (16 to 19 digits) are beyond float64's 53 bits: read as integers
    here, their differences keep every digit (as floats, ns since the epoch are 256 ns apart).
    """
    if abs(float(raw[0])) < 2.0**53:
        return raw - raw[0]
    try:
        ints = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=delim,
                          usecols=[j], ndmin=1, dtype=np.int64, quotechar='"')
    except ValueError:  # (not integers: the floats are all there is)
        return raw - raw[0]
    return (ints - ints[0]).astype(np.float64)


def _iso_seconds(text: str) -> float | None:
    """Seconds since the Unix epoch of an ISO 8601 date and time; ``None`` if it is not one.

    ``2024-11-19T08:00:00.010``, with ``T`` or a space, with or without ``Z`` or ``+01:00``. A
    time without a zone is taken as UTC: only differences between the rows are used.
    """
    if len(text) < 10 or text[4:5] != "-":  # (fromisoformat also takes "20241119")
        return None
    try:
        when = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp()


def _iso_time(text: str) -> float:
    """:func:`_iso_seconds` for :func:`numpy.loadtxt` (a ``ValueError`` when not a date)."""
    s = _iso_seconds(text.strip().strip('"'))
    if s is None:
        raise ValueError(f"not an ISO 8601 date and time: {text!r}")
    return s


def _numbered(lines: list[str], start: int) -> list[tuple[int, str]]:
    """``(1-based line number, text)`` of the data lines from ``lines[start]`` on.

    Blank lines and ``#`` comment lines are left out here, as :func:`numpy.loadtxt` would skip
    them, so that data row ``k`` is on line ``body[k][0]`` of the file.
    """
    return [(k + 1, ln) for k, ln in enumerate(lines[start:], start)
            if ln.split("#", 1)[0].strip()]


def _split(line: str, delim: str | None) -> list[str]:
    if delim is None:
        return line.split()
    return next(csv.reader([line], delimiter=delim), [])


def _without_cut_last_line(body: list[tuple[int, str]], delim: str | None, cols: list[int],
                           ) -> tuple[list[tuple[int, str]], str | None]:
    """``body`` without its last line when that line was cut short, and the note saying so.

    A logger that stops while writing (power lost, app killed) leaves a last line with fewer
    fields than the lines before it; refusing the file for it would lose every sample before.
    Only the last line, only with fewer fields than the one before and too few for the columns
    used; a short line anywhere else is still an error. A number cut short with its field count
    intact (``9.`` for ``9.81``) cannot be told from a value.
    """
    if len(body) < 3:  # (two samples at least must be left, or the line is the error to say)
        return body, None
    (n, last), (_, before) = body[-1], body[-2]
    got = len(_split(last.split("#", 1)[0], delim))
    if got > max(cols) or got >= len(_split(before.split("#", 1)[0], delim)):
        return body, None
    return body[:-1], (f"the last line ({n}) is cut short ({got} field(s)): left out, the "
                       "samples before it are read (the logger stopped while writing it?)")


def _bad_value(body: list[tuple[int, str]], delim: str | None, cols: list[int],
               header: list[str], err: ValueError, *, dates: int | None = None) -> str:
    """Where the first value that is not a number is, as a person finds it in the file.

    Lines and columns count from 1, lines over the whole file (comments and header included).
    Only called once loading has failed, so a loop over the rows costs nothing in normal use.
    """
    for n, line in body:
        cells = _split(line.split("#", 1)[0], delim)
        for j in cols:
            if j >= len(cells):
                return (f"line {n} has {len(cells)} field(s), so no {header[j]} value "
                        f"(column {j + 1})")
            cell = cells[j].strip()
            if j == dates:  # the time column of a file whose times are dates and times
                if _iso_seconds(cell.strip('"')) is None:
                    return (f"line {n}, column {j + 1} ({header[j]}) holds {cell!r}, not an "
                            "ISO 8601 date and time like the rows before it")
                continue
            if not (cell.isascii() and "_" not in cell and _is_number(cell)):  # as numpy reads
                return f"line {n}, column {j + 1} ({header[j]}) holds {cell!r}"
    # not found (numpy refused what it alone refuses): its reason, without its row number,
    # which counts from 0 or 1 depending on the reason
    return re.sub(r" at row \d+.*", "", str(err))


def _cell(line: str, delim: str, j: int) -> str:
    cells = next(csv.reader([line], delimiter=delim), [])
    return cells[j] if j < len(cells) else ""


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _unit_row_hints(rows: list[list[str]], cmap: ColumnMap,
                    ) -> tuple[AccUnit | None, GyrUnit | None, TimeUnit | None]:
    acc: AccUnit | None = None
    gyr: GyrUnit | None = None
    tu: TimeUnit | None = None
    for row in rows:
        a, g, t = (_row_cell(row, cmap.index.get(k, -1)) for k in (ACC[0], GYR[0], TIME))
        if a in ("g", "(g)"):
            acc = "g"
        elif "m/s" in a or "m/(s" in a:
            acc = "m/s2"
        if "deg" in g or "dps" in g or "°" in g:
            gyr = "deg/s"
        elif "rad" in g:
            gyr = "rad/s"
        if t in ("ms", "(ms)", "milliseconds"):
            tu = "ms"
        elif t in ("us", "µs", "(us)", "microseconds"):
            tu = "us"
        elif t in ("ns", "(ns)", "nanoseconds"):
            tu = "ns"
        elif t in ("s", "(s)", "seconds", "sec"):
            tu = "s"
    return acc, gyr, tu


def _row_cell(row: list[str], j: int) -> str:
    return row[j].strip().lower() if 0 <= j < len(row) else ""


def _check_rate(p: str, t: npt.NDArray[np.float64], fs: float | None,
                time: tuple[str, npt.NDArray[np.float64]] | None, time_unit: str | None) -> None:
    """Refuse a sample rate no body-worn IMU records at (a wrong time unit, mostly).

    ``t`` is strictly increasing, in seconds; ``time_unit`` is the unit the time column was
    read in (CSV), ``None`` when the rate comes from the file itself (Xsens).
    """
    step_s = float(np.median(np.diff(t)))
    rate = fs if fs is not None else 1.0 / step_s
    if plausible_fs(rate):
        return
    lo, hi = _PLAUSIBLE_FS
    if time_unit is None or time is None:
        raise FileFormatError(p, f"a sample rate of {rate:.6g} Hz is not plausible for a "
                                 f"body-worn IMU ({lo:g} to {hi:g} Hz)")
    raw_step = step_s / _TIME_SCALE[time_unit]
    fits = [u for u in _plausible_time_units(raw_step) if u != time_unit]
    advice = (f"pass --time-unit {fits[0]} ({1.0 / (raw_step * _TIME_SCALE[fits[0]]):.6g} Hz)"
              if fits else "check the time column, or pass --time-unit s, ms, us or ns")
    raise FileFormatError(p, f"time column {time[0]} read in {time_unit} gives {rate:.6g} Hz, "
                             f"not a plausible sample rate ({lo:g} to {hi:g} Hz); {advice}")


def _plausible_time_units(raw_step: float) -> list[TimeUnit]:
    """The time units (s, ms, us, ns in that order) in which ``raw_step`` gives a plausible rate."""
    return [u for u in _TIME_UNITS if plausible_fs(1.0 / (raw_step * _TIME_SCALE[u]))]


def _infer_time_unit(p: str, t: npt.NDArray[np.float64]) -> TimeUnit:
    """Seconds unless only ms, µs or ns give a plausible sample rate."""
    dt = np.diff(t)
    dt = dt[np.isfinite(dt) & (dt > 0)]
    if dt.size == 0:
        return "s"
    step = float(np.median(dt))
    plausible = _plausible_time_units(step)
    if "s" in plausible or not plausible:
        if not plausible:
            raise FileFormatError(p, f"cannot tell the unit of the time column (median step "
                                     f"{step:g}); pass --time-unit s, ms, us or ns")
        return "s"
    return plausible[0]


_FREQ = re.compile(r"(?:acquisition frequency|update rate|sample ?rate|output rate)\s*[:=]\s*"
                   r"([0-9.]+)\s*hz", re.IGNORECASE)


def load_xsens(path: str | os.PathLike[str], *, acc_unit: AccUnit = "m/s2",
               gyr_unit: GyrUnit = "rad/s") -> Recording:
    """Xsens MT Manager text export; time from ``SampleTimeFine`` or ``PacketCounter``."""
    p = str(path)
    try:
        lines = Path(p).read_text(encoding="utf-8-sig", errors="strict").split("\n")
    except (OSError, UnicodeDecodeError) as e:
        raise FileFormatError(p, f"cannot read as text: {e}") from e
    fs = None
    i = 0
    while i < len(lines) and (lines[i].startswith("//") or _FREQ.search(lines[i]) or not lines[i].strip()):
        m = _FREQ.search(lines[i])
        if m:
            fs = float(m.group(1))
        i += 1
    if i >= len(lines):
        raise FileFormatError(p, "no column header found")
    if fs is not None and not plausible_fs(fs):
        lo, hi = _PLAUSIBLE_FS
        raise FileFormatError(p, f"the sample rate line says {fs:g} Hz, not a plausible rate for "
                                 f"a body-worn IMU ({lo:g} to {hi:g} Hz)")
    sep = "\t" if "\t" in lines[i] else ("," if "," in lines[i] else None)
    header = [h.strip() for h in (lines[i].split(sep) if sep else lines[i].split())]
    need = ["Acc_X", "Acc_Y", "Acc_Z"]
    if not all(c in header for c in need):
        raise FileFormatError(p, "Xsens export without Acc_X, Acc_Y, Acc_Z columns")
    has_gyr = all(c in header for c in ("Gyr_X", "Gyr_Y", "Gyr_Z"))
    want = need + (["Gyr_X", "Gyr_Y", "Gyr_Z"] if has_gyr else [])
    time_col = "SampleTimeFine" if "SampleTimeFine" in header else (
        "PacketCounter" if "PacketCounter" in header else None)
    body = _numbered(lines, i + 1)
    if not body:  # (np.loadtxt would warn, then return nothing)
        raise FileFormatError(p, "no samples after the column header")
    if time_col == "SampleTimeFine" and sep is not None and "PacketCounter" in header:
        first = body[0][1].split(sep)
        j = header.index("SampleTimeFine")
        if j >= len(first) or not first[j].strip():  # exported with the column left empty
            time_col = "PacketCounter"
    cols = [header.index(c) for c in want] + ([header.index(time_col)] if time_col else [])
    body, cut_note = _without_cut_last_line(body, sep, cols)
    try:
        data = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=sep,
                          usecols=cols, ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise FileFormatError(p, "Xsens values are not all numbers: "
                                 + _bad_value(body, sep, cols, header, e)) from e
    if data.shape[0] == 0:
        raise FileFormatError(p, "no samples")
    _check_finite(p, data[:, -1] if time_col else np.zeros(len(data)), data[:, 0:3],
                  data[:, 3:6] if has_gyr else None, lines=[n for n, _ in body],
                  time=time_col or "time")
    if time_col == "SampleTimeFine":
        ticks = np.unwrap(data[:, -1], period=2.0**32)
        t = (ticks - ticks[0]) * 1e-4
    elif time_col == "PacketCounter":
        if fs is None:
            raise FileFormatError(p, "no sample rate line and no SampleTimeFine column")
        counter = np.unwrap(data[:, -1], period=65536.0)
        t = (counter - counter[0]) / fs
    else:
        if fs is None:
            raise FileFormatError(p, "no sample rate and no time column")
        t = np.arange(data.shape[0]) / fs
    acc = data[:, 0:3]
    gyr = data[:, 3:6] if has_gyr else None
    return _from_columns(p, "xsens", t, acc, gyr, acc_unit, gyr_unit, fs,
                         (cut_note,) if cut_note else (), lines=[n for n, _ in body],
                         time=(time_col, data[:, -1]) if time_col else None)


def _from_columns(p: str, fmt: str, t: npt.NDArray[np.float64], acc: npt.NDArray[np.float64],
                  gyr: npt.NDArray[np.float64] | None, acc_unit: str, gyr_unit: str,
                  fs: float | None, notes: tuple[str, ...] = (), *, lines: list[int],
                  time: tuple[str, npt.NDArray[np.float64]] | None = None,
                  time_unit: str | None = None, start_unix_s: float | None = None,
                  lines_of: str | None = None, row: str = "line") -> Recording:
    """Checks common to the text formats, then the recording.

    ``lines[k]`` is the file line of row ``k``, a line of ``lines_of`` (the file of an export
    the rows come from, named in the messages that name a line; default ``p``); ``row`` says
    what ``lines`` count (``"record"``: the records of a JSON array); ``time`` the name and
    values of the time column as the file has them (for messages), ``None`` when there is none;
    ``time_unit`` the unit it was read in when the file's time is a column of a chosen unit
    (CSV); ``start_unix_s`` the wall clock of ``t[0]`` when the file says it.
    """
    if len(t) < 2:
        raise FileFormatError(p, "fewer than two samples")
    where = lines_of or p
    _check_finite(where, t, acc, gyr, lines=lines, time=time[0] if time else "time", row=row)
    _check_increasing(where, t, time, lines, row=row)
    _check_rate(p, t, fs, time, time_unit)
    _check_range(where, acc, None, acc_unit, gyr_unit, lines=lines, row=row)
    _check_units(p, acc, gyr, acc_unit, gyr_unit,
                 fs if fs is not None else 1.0 / float(np.median(np.diff(t))))
    _check_range(where, None, gyr, acc_unit, gyr_unit, lines=lines, row=row)
    acc, gyr = _to_si(acc, gyr, acc_unit, gyr_unit)
    meta = RecordingMeta(source=p, source_format=fmt, notes=notes, start_unix_s=start_unix_s)
    try:
        return Recording.from_arrays(t, acc, gyr, fs_hz=fs, meta=meta)
    except IngestError as e:
        raise FileFormatError(p, str(e)) from e
