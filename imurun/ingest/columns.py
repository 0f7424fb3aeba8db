"""Which CSV columns hold time, acceleration and angular rate, from their header names.

imurun's own CSV names them ``time_s, acc_x..z, gyr_x..z``. Loggers name them otherwise
(Shimmer: ``Accel_LN_X``, ``Gyro_Y``, ``System_Timestamp_Plot_Zeroed`` in ms; others
``AccX``, ``accelerometer_x (g)``, ``timestamp_ms``...). :func:`map_columns` reads such a
header: names are split into lower-case words (at punctuation, spaces and camel case), a
column is a sensor axis when one word starts with ``acc`` or ``gyr`` and an axis letter
follows (as its own word or as the end of that word), or is a short name of its own (``ax``,
``ay``, ``az``; ``gx``... or ``wx``... for the gyroscope), and the time column is a word
``time``/``timestamp``/``t``. Unit words in a name (``g``, ``ms2``, ``deg``, ``dps``, ``rad``,
``ms``, ``us``, ``ns``, ``s``) are reported as hints. An explicit mapping overrides any of this.

Pure functions over strings: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Canonical column names (imurun CSV).
TIME = "time"
ACC = ("acc_x", "acc_y", "acc_z")
GYR = ("gyr_x", "gyr_y", "gyr_z")
KEYS = (TIME, *ACC, *GYR)

_TIME_WORDS = {"time", "timestamp", "t", "times", "timestamps"}
_ACC_UNITS = {"g": "g", "ms2": "m/s2", "mps2": "m/s2", "m": "m/s2"}
_GYR_UNITS = {"deg": "deg/s", "dps": "deg/s", "degs": "deg/s", "degrees": "deg/s",
              "rad": "rad/s", "rads": "rad/s", "radians": "rad/s"}
_TIME_UNITS = {"ms": "ms", "millis": "ms", "milliseconds": "ms", "msec": "ms",
               "us": "us", "micros": "us", "microseconds": "us", "usec": "us",
               "ns": "ns", "nanos": "ns", "nanoseconds": "ns", "nsec": "ns",
               "s": "s", "sec": "s", "secs": "s", "seconds": "s"}


class ColumnError(ValueError):
    """The header does not name the needed columns (the message says what is missing)."""


@dataclass(frozen=True)
class ColumnMap:
    """Index of each found column in the header, and the units its name states."""

    index: dict[str, int]
    acc_unit: str | None = None
    gyr_unit: str | None = None
    time_unit: str | None = None

    @property
    def has_gyr(self) -> bool:
        return all(k in self.index for k in GYR)

    def names(self, header: Sequence[str]) -> dict[str, str]:
        """``{canonical key: header name}`` (for messages and metadata)."""
        return {k: header[i] for k, i in self.index.items()}


def words(name: str) -> list[str]:
    """``"Accel_LN_X (m/s^2)"`` -> ``["accel", "ln", "x", "m", "s", "2"]``; ``AccX`` -> ``["acc", "x"]``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.strip())
    return [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]


#: One-letter sensor names before an axis letter, a word of their own (``ax``, ``gy``, ``wz``):
#: ``a`` acceleration, ``g`` gyroscope, ``w`` (omega) angular rate.
_SHORT = {"acc": "a", "gyr": "gw"}
_STEMS = {"acc": ("acc", "accel", "accl", "accelerometer", "acceleration", "accelerations"),
          "gyr": ("gyr", "gyro", "gyroscope", "gyros")}


def _axis(ws: list[str], prefix: str) -> tuple[str, tuple[str, ...]] | None:
    """``(axis, other words)`` when a sensor word (``acc...``/``gyr...``) is followed by an axis.

    The axis is its own word (``accel x``) or glued to the sensor word (``accx``, ``gyrox``).
    """
    stems = _STEMS[prefix]
    for i, w in enumerate(ws):
        if not w.startswith(prefix):
            continue
        if w in stems:
            rest = ws[i + 1:]
            for j, r in enumerate(rest):
                if r in ("x", "y", "z"):
                    return r, tuple(ws[:i] + rest[:j] + rest[j + 1:])
        elif w[-1] in "xyz" and w[:-1] in stems:
            return w[-1], tuple(ws[:i] + ws[i + 1:])
    for i, w in enumerate(ws):  # the short names many loggers use: ax, ay, az / gx or wx...
        if len(w) == 2 and w[1] in "xyz" and w[0] in _SHORT[prefix]:
            return w[1], tuple(ws[:i] + ws[i + 1:])
    return None


def _unit_hint(ws: Sequence[str], table: Mapping[str, str]) -> str | None:
    joined = "".join(ws)
    if "ms2" in joined or "mps2" in joined or ("m" in ws and "s" in ws):
        return table.get("ms2")
    for w in ws:
        if w in table:
            return table[w]
    return None


def map_columns(header: Sequence[str], explicit: Mapping[str, str] | None = None) -> ColumnMap:
    """Find the time, accelerometer and (optional) gyroscope columns of ``header``.

    ``explicit`` maps canonical keys (``time``, ``acc_x``... ``gyr_z``) to header names and
    wins over the names' own meaning. Raises :class:`ColumnError` saying what is missing.
    """
    names = [h.strip() for h in header]
    lower = [h.lower() for h in names]
    index: dict[str, int] = {}
    for key, col in (explicit or {}).items():
        if key not in KEYS:
            raise ColumnError(f"unknown column key {key!r} (one of {', '.join(KEYS)})")
        if col.strip().lower() not in lower:
            raise ColumnError(f"no column named {col!r} (columns: {', '.join(names)})")
        index[key] = lower.index(col.strip().lower())
    # imurun's own names first
    for key, canon in ((TIME, "time_s"), *((k, k) for k in ACC + GYR)):
        if key not in index and canon in lower:
            index[key] = lower.index(canon)
    time_unit = "s" if index.get(TIME) == (lower.index("time_s") if "time_s" in lower else -1) \
        else None
    acc_unit = gyr_unit = None
    # sets of axis columns, grouped by their other words (Shimmer: LN and WR accelerometers)
    sets: dict[tuple[str, str], dict[str, int]] = {}
    hints: dict[tuple[str, str], str | None] = {}
    for i, n in enumerate(names):
        ws = words(n)
        for prefix, table in (("acc", _ACC_UNITS), ("gyr", _GYR_UNITS)):
            found = _axis(ws, prefix)
            if found is None:
                continue
            axis, other = found
            group = (prefix, " ".join(w for w in other if w not in table and w not in
                                      ("m", "s", "2", "ms2", "cal", "calibrated")))
            sets.setdefault(group, {}).setdefault(axis, i)
            hints.setdefault(group, _unit_hint(other, table))
    for prefix, keys in (("acc", ACC), ("gyr", GYR)):
        if all(k in index for k in keys):
            continue
        complete = [g for g in sets if g[0] == prefix and len(sets[g]) == 3]
        partial = [g for g in sets if g[0] == prefix and len(sets[g]) < 3]
        if prefix == "gyr" and partial and not complete and not any(k in index for k in keys):
            listed = ", ".join(names[i] for g in partial for i in sets[g].values())
            raise ColumnError(f"some but not all of the gyroscope axes ({listed})")
        if complete:
            g = complete[0]
            for k in keys:
                index.setdefault(k, sets[g][k[-1]])
            if prefix == "acc":
                acc_unit = hints[g]
            else:
                gyr_unit = hints[g]
    if TIME not in index:
        for i, n in enumerate(names):
            ws = words(n)
            if any(w in _TIME_WORDS for w in ws) or (ws and ws[0].startswith("time")):
                index[TIME] = i
                time_unit = next((_TIME_UNITS[w] for w in ws if w in _TIME_UNITS), None)
                break
    if TIME not in index:
        raise ColumnError(f"no time column (columns: {', '.join(names)}); name one with "
                          "--columns time=NAME")
    missing = [k for k in ACC if k not in index]
    if missing:
        raise ColumnError(f"no complete accelerometer x, y, z columns (lacks "
                          f"{', '.join(missing)}; columns: {', '.join(names)}); name them with "
                          "--columns acc_x=NAME,...")
    some_gyr = [k for k in GYR if k in index]
    if some_gyr and len(some_gyr) < 3:
        raise ColumnError("some but not all of gyr_x, gyr_y, gyr_z")
    return ColumnMap(index=index, acc_unit=acc_unit, gyr_unit=gyr_unit, time_unit=time_unit)


def parse_mapping(text: str) -> dict[str, str]:
    """``"time=Timestamp,acc_x=AX,..."`` -> ``{"time": "Timestamp", "acc_x": "AX", ...}``."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, col = part.partition("=")
        key = key.strip().lower()
        if not sep or not col.strip():
            raise ColumnError(f"expected KEY=COLUMN, got {part.strip()!r}")
        if key == "time_s":
            key = TIME
        if key not in KEYS:
            raise ColumnError(f"unknown column key {key!r} (one of {', '.join(KEYS)})")
        out[key] = col.strip()
    return out
