"""phyphox exports written as the app writes them (its ``DataExport``), from samples we choose.

Not real user data: the samples are those of ``recordings/clean-run.imrs`` (the virtual
sensor), laid out as phyphox lays out an export:

* one CSV per export set, a header of quoted names, every number as Java's ``0.000000000E0``
  (``9.810000000E0``, ``-1.230000000E-2``) with the flavour's separator and decimal mark; the
  sets of a new multi-sensor experiment are ``Accelerometer``, ``Gyroscope``,
  ``Linear Acceleration``; the 'Acceleration with g' experiment's one is ``Raw Data`` (with an
  ``Absolute acceleration`` column);
* ``meta/device.csv`` (``"property","value"``) and ``meta/time.csv``
  (``"event","experiment time","system time","system time text"``: experiment time in the same
  number format, system time in Unix s with 3 decimals, text ``yyyy-MM-dd HH:mm:ss.SSS UTC+01:00``).

The experiment time stands still while the experiment is paused: samples taken after a pause
carry the wall-clock time since the first START less the pauses before them.
"""

from __future__ import annotations

import datetime
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: phyphox's five CSV flavours: (separator, decimal mark).
FLAVOURS = [(",", "."), ("\t", "."), (";", "."), ("\t", ","), (";", ",")]
T0_UNIX_S = 1_732_003_200.125  # 2024-11-19T08:00:00.125Z


def number(v: float, decimal: str = ".") -> str:
    """``v`` as Java's ``DecimalFormat("0.000000000E0")`` writes it."""
    if not np.isfinite(v):
        return "NaN"
    mantissa, exp = f"{v:.9E}".split("E")
    return f"{mantissa}E{int(exp)}".replace(".", decimal)


@dataclass
class Export:
    """What to write: wall-clock times from the first START, and pauses ``(at_s, for_s)``."""

    t_acc: np.ndarray
    acc: np.ndarray
    t_gyr: np.ndarray | None = None
    gyr: np.ndarray | None = None
    pauses: list[tuple[float, float]] = field(default_factory=list)
    linear: bool = False  # the set is 'Linear Acceleration' (gravity removed)
    raw_data: bool = False  # the 'Acceleration with g' experiment: one set, "Raw Data"
    sep: str = ","
    decimal: str = "."
    start_unix_s: float = T0_UNIX_S

    def experiment_time(self, wall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(experiment times, kept) of samples at ``wall``: none while paused."""
        exp = wall.astype(np.float64).copy()
        kept = np.ones(len(wall), dtype=bool)
        for at, dur in self.pauses:
            kept &= ~((wall >= at) & (wall < at + dur))
            exp[wall >= at + dur] -= dur
        return exp, kept

    def events(self) -> list[tuple[str, float, float]]:
        """(event, experiment time, system time) rows of ``meta/time.csv``."""
        rows = [("START", 0.0, self.start_unix_s)]
        paused = 0.0
        for at, dur in self.pauses:
            rows.append(("PAUSE", at - paused, self.start_unix_s + at))
            rows.append(("START", at - paused, self.start_unix_s + at + dur))
            paused += dur
        return rows

    def _set(self, names: list[str], t: np.ndarray, cols: np.ndarray) -> str:
        exp, kept = self.experiment_time(t)
        head = self.sep.join(f'"{n}"' for n in names)
        rows = np.column_stack([exp[kept], cols[kept]])
        return head + "\n" + "".join(self.sep.join(number(v, self.decimal) for v in r) + "\n"
                                     for r in rows)

    def files(self) -> dict[str, str]:
        """``{name inside the export: text}``."""
        out: dict[str, str] = {}
        if self.raw_data:
            names = ["Time (s)", *(f"Acceleration {a} (m/s^2)" for a in "xyz"),
                     "Absolute acceleration (m/s^2)"]
            out["Raw Data.csv"] = self._set(names, self.t_acc, np.column_stack(
                [self.acc, np.linalg.norm(self.acc, axis=1)]))
        else:
            what = "Linear Acceleration" if self.linear else "Acceleration"
            names = ["Time (s)", *(f"{what} {a} (m/s^2)" for a in "xyz")]
            set_name = "Linear Acceleration" if self.linear else "Accelerometer"
            out[f"{set_name}.csv"] = self._set(names, self.t_acc, self.acc)
        if self.gyr is not None:
            assert self.t_gyr is not None
            names = ["Time (s)", *(f"Gyroscope {a} (rad/s)" for a in "xyz")]
            out["Gyroscope.csv"] = self._set(names, self.t_gyr, self.gyr)
        s = self.sep
        out["meta/device.csv"] = (f'"property"{s}"value"\n"version"{s}"1.2.0"\n'
                                  f'"build"{s}"1020009"\n"deviceModel"{s}"Pixel 6a"\n'
                                  f'"accelerometer Name"{s}"LSM6DSR Accelerometer"\n')
        zone = datetime.timezone(datetime.timedelta(hours=1))
        lines = [f'"event"{s}"experiment time"{s}"system time"{s}"system time text"']
        for event, exp, unix_s in self.events():
            when = datetime.datetime.fromtimestamp(unix_s, zone)
            text = when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d} UTC+01:00"
            lines.append(f'"{event}"{s}{number(exp, self.decimal)}{s}'
                         f'{f"{unix_s:.3f}".replace(".", self.decimal)}{s}"{text}"')
        out["meta/time.csv"] = "\n".join(lines) + "\n"
        return out

    def write_zip(self, path: Path) -> Path:
        """The zip phyphox shares (sets at its root, then ``meta/``)."""
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in self.files().items():
                z.writestr(name, text.encode("utf-8"))
        return path

    def write_folder(self, path: Path) -> Path:
        """The zip unpacked into ``path``."""
        for name, text in self.files().items():
            f = path / name
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text, encoding="utf-8")
        return path
