"""phyphox (the phone app of RWTH Aachen University) exports -> :class:`Recording`.

"Export data" in one of phyphox's CSV flavours gives a zip: one CSV per export set of the
experiment, and a ``meta/`` folder (the app's ``DataExport``):

* a set's CSV: a header of quoted column names, then one row per sample, every number written
  as ``0.000000000E0`` with the flavour's separator (comma, tab or semicolon) and decimal mark
  (point, or comma with tab or semicolon); a column shorter than the others is padded with
  ``NaN`` at its end. The sets read here, by their columns: ``"Time (s)"``, the experiment time,
  with ``"Acceleration x (m/s^2)"`` ... (acceleration with gravity: 'Acceleration with g',
  ``Raw Data.csv``; a new multi-sensor experiment's ``Accelerometer.csv``),
  ``"Linear Acceleration x (m/s^2)"`` ... (gravity removed: refused by the gravity check of
  :func:`imurun.ingest.files.gravity_missing`) and ``"Gyroscope x (rad/s)"`` ...
  (``Gyroscope.csv``);
* ``meta/time.csv``: ``"event","experiment time","system time","system time text"``, one row
  per START and PAUSE of the experiment: the experiment time (s) at the event and the phone's
  clock then (Unix s, to the ms). The experiment time stands still while paused, so a pause is
  no hole in ``Time (s)``: each sample's wall clock is that of the last START before it plus
  the experiment time since, and a pause becomes a gap;
* ``meta/device.csv``: ``"property","value"`` (model, sensor names), not needed here.

The gyroscope, sampled apart, is interpolated onto the accelerometer's wall-clock times as for
Sensor Logger (:func:`imurun.ingest.phone.onto`): never across a pause. A lone CSV of a set,
without the ``meta/`` folder beside it, is read as a generic CSV (no start, no pauses).
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from imurun.errors import FileFormatError
from imurun.ingest.phone import TextReader, export_files, onto, pack_files
from imurun.ingest.recording import GapCause, Recording

FloatArray = npt.NDArray[np.float64]

TIME_FILE = "meta/time.csv"
DEVICE_FILE = "meta/device.csv"
_TIME_COLUMN = "time (s)"
#: Column name patterns (lower case) of the sets read, by what they hold.
_AXES = {"acc": re.compile(r"^acceleration ([xyz]) \(m/s\^2\)$"),
         "linear": re.compile(r"^linear acceleration ([xyz]) \(m/s\^2\)$"),
         "gyr": re.compile(r"^gyroscope ([xyz]) \(rad/s\)$")}


def _split_header(line: str) -> tuple[str, list[str]]:
    """``(separator, names)`` of a header line: phyphox quotes every name."""
    delim = max((",", ";", "\t"), key=line.count)
    names = [n.strip().strip('"').strip() for n in next(csv.reader([line], delimiter=delim), [])]
    return delim, names


def _columns(names: list[str]) -> dict[str, list[int]]:
    """``{"acc"|"linear"|"gyr": [x, y, z column]}`` of the complete axis sets in ``names``."""
    low = [n.lower() for n in names]
    out: dict[str, list[int]] = {}
    for kind, pattern in _AXES.items():
        axes = {m.group(1): j for j, n in enumerate(low) if (m := pattern.match(n))}
        if len(axes) == 3:
            out[kind] = [axes["x"], axes["y"], axes["z"]]
    return out


def is_set_header(line: str) -> bool:
    """Whether ``line`` heads a phyphox set read here (``"Time (s)"``, then sensor axes)."""
    _, names = _split_header(line.strip())
    return bool(names) and names[0].lower() == _TIME_COLUMN and bool(_columns(names))


def _accept(key: str) -> bool:
    if key in (TIME_FILE, DEVICE_FILE):
        return True
    return "/" not in key and key.lower().endswith(".csv")


def _reader(path: str) -> tuple[str, dict[str, TextReader]] | None:
    """The export ``path`` is or belongs to: its sets read here and its meta files.

    An export has a ``meta/`` file and at least one set of acceleration or angular rate.
    """
    found = export_files(path, _accept)
    if found is None:
        return None
    where, files = found
    if not ({TIME_FILE, DEVICE_FILE} & set(files)):
        return None
    sets = {}
    for k, read in files.items():
        if k in (TIME_FILE, DEVICE_FILE):
            continue
        try:
            first = read.first_line()
        except FileFormatError:
            sets[k] = read  # (unreadable: said when it is loaded)
            continue
        if is_set_header(first):
            sets[k] = read
    if not sets:
        return None
    return where, {**sets, **{k: files[k] for k in (TIME_FILE, DEVICE_FILE) if k in files}}


def is_export(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a phyphox export (folder or zip with ``meta/``), or a set of one."""
    return _reader(str(path)) is not None


@dataclass(frozen=True)
class _Set:
    """One set's samples: experiment time, its columns, the file line of each row."""

    name: str
    t: FloatArray
    columns: dict[str, FloatArray]  # kind -> (n, 3)
    lines: npt.NDArray[np.int64]
    notes: tuple[str, ...]


def _read_set(where: str, name: str, text: str) -> _Set:
    """A set's CSV: decimal commas read as points, ``NaN`` padding at its end dropped."""
    from imurun.ingest.files import _bad_value, _check_increasing, _numbered

    here = f"{where}: {name}"
    lines = text.split("\n")
    delim, names = _split_header(lines[0] if lines else "")
    kinds = _columns(names)
    body = _numbered(lines, 1)
    if delim != ",":  # (the decimal-comma flavours separate columns with tab or ';')
        body = [(n, ln.replace(",", ".")) for n, ln in body]
    if len(body) < 2:
        raise FileFormatError(here, "fewer than two samples")
    cols = [0] + [j for k in kinds for j in kinds[k]]
    try:
        data = np.loadtxt(io.StringIO("\n".join(ln for _, ln in body)), delimiter=delim,
                          usecols=cols, ndmin=2, dtype=np.float64, quotechar='"')
    except ValueError as e:
        raise FileFormatError(here, "values are not all numbers: "
                                    + _bad_value(body, delim, cols, names, e)) from e
    line_no = np.array([n for n, _ in body], dtype=np.int64)
    finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(data).all(axis=1))
    notes: tuple[str, ...] = ()
    if not finite.all():
        last = len(finite) - int(np.argmax(finite[::-1]))  # rows after the last complete one
        if finite.any() and finite[:last].all():  # phyphox pads a shorter column at the end
            notes = (f"{name}: {len(finite) - last} row(s) at its end without all values "
                     "(phyphox pads a shorter column with NaN) left out",)
            data, line_no = data[:last], line_no[:last]
        else:
            first = int(line_no[int(np.argmin(finite))])
            raise FileFormatError(here, f"{int((~finite).sum())} row(s) hold NaN or infinite "
                                        f"values (the first on line {first}), not only at the "
                                        "end where phyphox pads a shorter column: export the "
                                        "experiment again, or delete those rows")
    t = data[:, 0]
    _check_increasing(here, t, (names[0], t), [int(n) for n in line_no])
    columns = {k: data[:, 1 + 3 * i: 4 + 3 * i] for i, k in enumerate(kinds)}
    return _Set(name, t, columns, line_no, notes)


@dataclass(frozen=True)
class _Clock:
    """The STARTs of an experiment: experiment time and wall clock (Unix s) of each."""

    exp_s: FloatArray
    unix_s: FloatArray
    pauses_s: tuple[float, ...]  # how long each pause lasted
    paused_at_s: tuple[float, ...] = ()  # when each pause began, s from the first START

    def wall(self, t: FloatArray) -> FloatArray:
        """Seconds from the first START of samples at experiment times ``t``."""
        i = np.clip(np.searchsorted(self.exp_s, t, side="right") - 1, 0, len(self.exp_s) - 1)
        return (self.unix_s[i] - self.unix_s[0]) + (t - self.exp_s[i])


def _read_time(where: str, text: str) -> _Clock:
    """``meta/time.csv``: START and PAUSE events, in order, each a system time after the last."""
    here = f"{where}: {TIME_FILE}"
    lines = text.split("\n")
    delim, names = _split_header(lines[0] if lines else "")
    low = [n.lower() for n in names]
    if low[:3] != ["event", "experiment time", "system time"]:
        raise FileFormatError(here, f"not phyphox's time file (header {lines[0][:80]!r}, "
                                    "expected \"event\",\"experiment time\",\"system time\",...)")
    events: list[tuple[str, float, float, int]] = []
    for k, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = next(csv.reader([line], delimiter=delim), [])
        if len(cells) < 3:
            raise FileFormatError(here, f"line {k} has {len(cells)} field(s), not an event, "
                                        "its experiment time and its system time")
        event = cells[0].strip().upper()
        try:
            exp_s, unix_s = (float(c.strip().replace(",", ".")) for c in cells[1:3])
        except ValueError as e:
            raise FileFormatError(here, f"line {k}: {cells[1]!r}, {cells[2]!r} are not an "
                                        "experiment time and a system time in seconds") from e
        if event not in ("START", "PAUSE"):
            raise FileFormatError(here, f"line {k}: unknown event {cells[0]!r} (START or PAUSE)")
        if not (np.isfinite(exp_s) and 1e8 < unix_s < 4e9):
            raise FileFormatError(here, f"line {k}: system time {cells[2]!r} is not a Unix time "
                                        "of a date from 1973 to 2096")
        if events:
            before, exp_before, unix_before, _ = events[-1]
            if event == before:
                raise FileFormatError(here, f"line {k}: two {event} events in a row")
            if unix_s < unix_before or exp_s < exp_before:
                raise FileFormatError(here, f"line {k}: the {event} is before the {before} of "
                                            f"line {events[-1][3]} (the phone's clock was set "
                                            "back while the experiment ran?)")
        elif event != "START":
            raise FileFormatError(here, f"line {k}: the first event is {event}, not START")
        events.append((event, exp_s, unix_s, k))
    if not events:
        raise FileFormatError(here, "no START event: when the recording started is unknown")
    starts = [(e, u) for ev, e, u, _ in events if ev == "START"]
    paused = [i for i in range(len(events) - 1) if events[i][0] == "PAUSE"]
    pauses = tuple(round(events[i + 1][2] - events[i][2], 3) for i in paused)
    paused_at = tuple(events[i][2] - events[0][2] for i in paused)
    return _Clock(np.array([e for e, _ in starts]), np.array([u for _, u in starts]), pauses,
                  paused_at)


def _mark_pauses(rec: Recording, clock: _Clock) -> Recording:
    """The gaps of ``rec`` that hold a pause of the experiment are :attr:`GapCause.PAUSED`.

    A pause is no lost data: its gap counts no missing samples, and the analysis and the
    weekly summary do not count it as time lost (the samples about one sample period either
    side of it, which phyphox did not take either, go with it).
    """
    if not clock.pauses_s:
        return rec
    # (the recording's times are the wall clock's seconds from the first START)
    windows = [(a, a + d) for a, d in zip(clock.paused_at_s, clock.pauses_s, strict=True)]
    period = 1.0 / rec.fs_hz if rec.fs_hz > 0 else 0.0
    gaps = []
    for g in rec.gaps:
        held = any(g.start_s <= a + period and g.end_s >= b - period for a, b in windows)
        gaps.append(replace(g, cause=GapCause.PAUSED, n_missing=0)
                    if held and g.cause == GapCause.SOURCE else g)
    stats = replace(rec.stats, samples_missing=sum(g.n_missing for g in gaps))
    return replace(rec, gaps=tuple(gaps), stats=stats)


def load_phyphox(path: str | os.PathLike[str]) -> Recording:
    """Read a phyphox export (its zip, its folder, or one of its sets' CSV files)."""
    from imurun.ingest.files import _from_columns

    p = str(path)
    found = _reader(p)
    if found is None:
        raise FileFormatError(p, "no phyphox export here (a zip or folder with meta/time.csv "
                                 "and a CSV headed \"Time (s)\",\"Acceleration x (m/s^2)\",...)")
    where, files = found
    if TIME_FILE not in files:
        raise FileFormatError(where, f"{TIME_FILE}, which says when the experiment started and "
                                     "when it was paused, is missing: put the export's meta "
                                     "folder back beside its CSV files (or give the zip phyphox "
                                     "exported)")
    clock = _read_time(where, files[TIME_FILE]())
    sets = [_read_set(where, k, files[k]()) for k in sorted(files)
            if k not in (TIME_FILE, DEVICE_FILE)]
    acc_set = next((s for s in sets if "acc" in s.columns), None)
    kind = "acc"
    if acc_set is None:  # gravity removed: refused by the gravity check, naming the fix
        acc_set, kind = next((s for s in sets if "linear" in s.columns), None), "linear"
    if acc_set is None:
        raise FileFormatError(where, "the phyphox export has no acceleration (a CSV with "
                                     "\"Acceleration x (m/s^2)\" columns): record with "
                                     "'Acceleration with g', or a new experiment with the "
                                     "Accelerometer (and Gyroscope) switched on")
    notes = [n for s in sets for n in s.notes]
    t = clock.wall(acc_set.t)
    acc = acc_set.columns[kind]
    lines = acc_set.lines
    gyr = None
    gyr_set = next((s for s in sets if "gyr" in s.columns), None)
    used = [acc_set.name]
    if gyr_set is acc_set:
        gyr = acc_set.columns["gyr"]
    elif gyr_set is not None:
        used.append(gyr_set.name)
        gyr, ok = onto(t, clock.wall(gyr_set.t), gyr_set.columns["gyr"])
        t, acc, gyr, lines = t[ok], acc[ok], gyr[ok], lines[ok]
    head = f"phyphox export: {', '.join(used)}"
    if gyr_set is not None and gyr_set is not acc_set:
        head += f"; {gyr_set.name} interpolated onto {acc_set.name}'s times"
    elif gyr_set is None:
        head += " (no gyroscope)"
    notes.insert(0, head)
    if clock.pauses_s:
        n = len(clock.pauses_s)
        notes.append(f"the measurement was paused {'once' if n == 1 else f'{n} times'} ("
                     + ", ".join(f"{d:.1f} s" for d in clock.pauses_s)
                     + "; from meta/time.csv): nothing recorded then, nothing lost")
    rec = _from_columns(p, "phyphox", t, acc, gyr, "m/s2", "rad/s", None, tuple(notes),
                        lines=[int(n) for n in lines], time=("Time (s)", t), time_unit="s",
                        start_unix_s=float(clock.unix_s[0]), lines_of=f"{where}: {acc_set.name}")
    return _mark_pauses(rec, clock)


def pack(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """The export ``path`` belongs to, as one zip of the files read here, in ``out_dir``."""
    found = _reader(str(path))
    if found is None:
        raise FileFormatError(str(path), "no phyphox export here")
    where, files = found
    return pack_files(where, files, out_dir)

