"""Every supported file -> :class:`Recording`, with the format sniffed from its first bytes.

* imurun session files (raw link bytes, replayed through the live decoder and ingest);
* stored-run files synced off the sensor (``IMRN``);
* generic CSV: header ``time_s,acc_x,acc_y,acc_z[,gyr_x,gyr_y,gyr_z]`` (docs/formats.md);
* Xsens MT Manager text exports (tab-separated, ``//`` comment lines or an
  ``Acquisition frequency: N Hz`` line, columns ``PacketCounter``, optional ``SampleTimeFine``,
  ``Acc_X..Z`` in m/s², ``Gyr_X..Z`` in rad/s).

Units are checked against gravity: a file whose acceleration is plainly in the other unit than
declared is refused with a message that says which option fixes it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import re
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from firmware_protocol.errors import RunFormatError
from firmware_protocol.runfile import MAGIC as RUN_MAGIC
from firmware_protocol.runfile import read_run
from imurun.consts import DEG2RAD, G_MS2
from imurun.errors import FileFormatError, IngestError
from imurun.ingest.builder import RecordingBuilder, recording_from_run
from imurun.ingest.recording import Recording, RecordingMeta

AccUnit = Literal["m/s2", "g"]
GyrUnit = Literal["rad/s", "deg/s"]
FileKind = Literal["session", "stored-run", "csv", "xsens"]

_CSV_REQUIRED = ("time_s", "acc_x", "acc_y", "acc_z")
_CSV_GYRO = ("gyr_x", "gyr_y", "gyr_z")
#: Largest plausible angular rate of a pelvis, rad/s (~1150 deg/s). Beyond it, deg/s is likely.
_MAX_PLAUSIBLE_GYR_RADS = 20.0


def sniff(path: str | os.PathLike[str]) -> FileKind:
    """Which supported format ``path`` holds; :class:`FileFormatError` if none."""
    p = str(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(4096)
    except OSError as e:
        raise FileFormatError(p, f"cannot read: {e.strerror or e}") from e
    from imurun.transport.session import is_session

    if is_session(head):
        return "session"
    if head.startswith(RUN_MAGIC):
        return "stored-run"
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.startswith("//") or first.lower().startswith("acquisition frequency") or (
            "PacketCounter" in first and "Acc_X" in text):
        return "xsens"
    if "time_s" in first.lower() and "acc_x" in first.lower():  # header names: any case
        return "csv"
    if not head:
        raise FileFormatError(p, "empty file")
    raise FileFormatError(p, "not a supported format (session, stored run, CSV with a "
                             "time_s,acc_x,... header, or Xsens MT Manager text export)")


def load_recording(path: str | os.PathLike[str], *, acc_unit: AccUnit | None = None,
                   gyr_unit: GyrUnit | None = None) -> Recording:
    """Load any supported file. ``acc_unit``/``gyr_unit`` apply to CSV and Xsens text files."""
    p = str(path)
    kind = sniff(p)
    if kind == "session":
        return load_session(p)
    if kind == "stored-run":
        try:
            return recording_from_run(read_run(Path(p).read_bytes()), source=p)
        except RunFormatError as e:
            raise FileFormatError(p, e.reason) from e
        except IngestError as e:
            raise FileFormatError(p, str(e)) from e
    if kind == "csv":
        return load_csv(p, acc_unit=acc_unit or "m/s2", gyr_unit=gyr_unit or "rad/s")
    return load_xsens(p, acc_unit=acc_unit or "m/s2", gyr_unit=gyr_unit or "rad/s")


def load_session(path: str | os.PathLike[str]) -> Recording:
    """Replay a session file through the live decoder and ingest (flat out)."""
    from imurun.device.client import SensorClient
    from imurun.device.stream import replay
    from imurun.transport.session import ReplayTransport, read_session

    p = str(path)
    sf = read_session(p)
    builder = RecordingBuilder(source=p, source_format="session")
    client = SensorClient(ReplayTransport(sf, speed=None))
    asyncio.run(replay(client, builder))
    if sf.damaged:
        builder.notes.append(f"{sf.damaged} damaged region(s) of the session file skipped")
    if sf.truncated:
        builder.notes.append("session file ends in a truncated record (writer was interrupted)")
    try:
        return builder.build()
    except IngestError as e:
        raise FileFormatError(p, str(e)) from e


def _check_units(p: str, acc: npt.NDArray[np.float64], gyr: npt.NDArray[np.float64] | None,
                 acc_unit: str, gyr_unit: str) -> None:
    mag = float(np.median(np.linalg.norm(acc, axis=1))) if len(acc) else 0.0
    if acc_unit == "m/s2" and 0.5 < mag < 2.0:
        raise FileFormatError(p, f"acceleration looks like it is in g (median |a| = {mag:.2f}); "
                                 "pass --acc-unit g")
    if acc_unit == "g" and 5.0 < mag < 20.0:
        raise FileFormatError(p, f"acceleration looks like it is in m/s² (median |a| = {mag:.2f}); "
                                 "drop --acc-unit g")
    if gyr is not None and gyr_unit == "rad/s" and len(gyr):
        peak = float(np.quantile(np.abs(gyr), 0.999))
        if peak > _MAX_PLAUSIBLE_GYR_RADS:
            raise FileFormatError(p, f"angular rate looks like it is in deg/s (99.9th percentile "
                                     f"{peak:.0f}); pass --gyr-unit deg/s")


def _to_si(acc: npt.NDArray[np.float64], gyr: npt.NDArray[np.float64] | None, acc_unit: str,
           gyr_unit: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]:
    if acc_unit == "g":
        acc = acc * G_MS2
    if gyr is not None and gyr_unit == "deg/s":
        gyr = gyr * DEG2RAD
    return acc, gyr


def load_csv(path: str | os.PathLike[str], *, acc_unit: AccUnit = "m/s2",
             gyr_unit: GyrUnit = "rad/s") -> Recording:
    """Generic CSV (docs/formats.md). Accelerometer-only files are valid."""
    p = str(path)
    try:
        text = Path(p).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise FileFormatError(p, f"cannot read as UTF-8 text: {e}") from e
    lines = text.splitlines()
    if not lines:
        raise FileFormatError(p, "empty file")
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    missing = [c for c in _CSV_REQUIRED if c not in header]
    if missing:
        raise FileFormatError(p, f"CSV header lacks {', '.join(missing)} (expected "
                                 "time_s,acc_x,acc_y,acc_z[,gyr_x,gyr_y,gyr_z])")
    has_gyr = all(c in header for c in _CSV_GYRO)
    if any(c in header for c in _CSV_GYRO) and not has_gyr:
        raise FileFormatError(p, "CSV has some but not all of gyr_x, gyr_y, gyr_z")
    cols = [header.index(c) for c in _CSV_REQUIRED + (_CSV_GYRO if has_gyr else ())]
    if not any(ln.strip() for ln in lines[1:]):  # (np.loadtxt would warn, then return nothing)
        raise FileFormatError(p, "no samples after the header")
    try:
        data = np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",", usecols=cols,
                          ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise FileFormatError(p, f"CSV values are not all numbers: {e}") from e
    return _from_columns(p, "csv", data[:, 0], data[:, 1:4], data[:, 4:7] if has_gyr else None,
                         acc_unit, gyr_unit, None)


_FREQ = re.compile(r"(?:acquisition frequency|update rate|sample ?rate|output rate)\s*[:=]\s*"
                   r"([0-9.]+)\s*hz", re.IGNORECASE)


def load_xsens(path: str | os.PathLike[str], *, acc_unit: AccUnit = "m/s2",
               gyr_unit: GyrUnit = "rad/s") -> Recording:
    """Xsens MT Manager text export; time from ``SampleTimeFine`` or ``PacketCounter``."""
    p = str(path)
    try:
        lines = Path(p).read_text(encoding="utf-8-sig", errors="strict").splitlines()
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
    sep = "\t" if "\t" in lines[i] else ("," if "," in lines[i] else None)
    header = [h.strip() for h in (lines[i].split(sep) if sep else lines[i].split())]
    need = ["Acc_X", "Acc_Y", "Acc_Z"]
    if not all(c in header for c in need):
        raise FileFormatError(p, "Xsens export without Acc_X, Acc_Y, Acc_Z columns")
    has_gyr = all(c in header for c in ("Gyr_X", "Gyr_Y", "Gyr_Z"))
    want = need + (["Gyr_X", "Gyr_Y", "Gyr_Z"] if has_gyr else [])
    time_col = "SampleTimeFine" if "SampleTimeFine" in header else (
        "PacketCounter" if "PacketCounter" in header else None)
    body = [ln for ln in lines[i + 1:] if ln.strip()]
    if not body:  # (np.loadtxt would warn, then return nothing)
        raise FileFormatError(p, "no samples after the column header")
    if time_col == "SampleTimeFine" and sep is not None and "PacketCounter" in header:
        first = body[0].split(sep)
        j = header.index("SampleTimeFine")
        if j >= len(first) or not first[j].strip():  # exported with the column left empty
            time_col = "PacketCounter"
    cols = [header.index(c) for c in want] + ([header.index(time_col)] if time_col else [])
    try:
        data = np.loadtxt(io.StringIO("\n".join(body)), delimiter=sep, usecols=cols, ndmin=2,
                          dtype=np.float64)
    except ValueError as e:
        raise FileFormatError(p, f"Xsens values are not all numbers: {e}") from e
    if data.shape[0] == 0:
        raise FileFormatError(p, "no samples")
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
    return _from_columns(p, "xsens", t, acc, gyr, acc_unit, gyr_unit, fs)


def _from_columns(p: str, fmt: str, t: npt.NDArray[np.float64], acc: npt.NDArray[np.float64],
                  gyr: npt.NDArray[np.float64] | None, acc_unit: str, gyr_unit: str,
                  fs: float | None) -> Recording:
    if len(t) < 2:
        raise FileFormatError(p, "fewer than two samples")
    finite = np.isfinite(t) & np.isfinite(acc).all(axis=1)
    if gyr is not None:
        finite &= np.isfinite(gyr).all(axis=1)
    if not finite.all():
        raise FileFormatError(p, f"{int((~finite).sum())} row(s) hold NaN or infinite values")
    _check_units(p, acc, gyr, acc_unit, gyr_unit)
    acc, gyr = _to_si(acc, gyr, acc_unit, gyr_unit)
    order = np.argsort(t, kind="stable")
    if not np.array_equal(order, np.arange(len(t))):
        raise FileFormatError(p, "time column is not increasing")
    meta = RecordingMeta(source=p, source_format=fmt)
    try:
        return Recording.from_arrays(t, acc, gyr, fs_hz=fs, meta=meta)
    except IngestError as e:
        raise FileFormatError(p, str(e)) from e
