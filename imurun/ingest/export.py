"""Write a :class:`Recording` as the generic CSV that :func:`load_csv` reads back."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import numpy as np

from imurun.errors import FileFormatError
from imurun.ingest.recording import Recording

#: Unix times (s) taken as dates, 1973 to 2096; the CSV reader takes a time column in this
#: range for a wall clock.
EPOCH_S = (1e8, 4e9)

#: The comment line before the header that gives the wall clock of ``time_s`` 0 (Unix seconds,
#: as Python's ``repr`` writes a float, so that it reads back to the same number), followed by
#: the same instant in ISO 8601 for a person: ``# start_unix_s: 1732003200.01 (2024-11-19T08:00:00.010000Z)``.
START_COMMENT = "# start_unix_s: {start!r} ({iso})"


def start_comment(start_unix_s: float) -> str:
    """The :data:`START_COMMENT` line of ``start_unix_s``."""
    when = datetime.datetime.fromtimestamp(start_unix_s, datetime.UTC)
    return START_COMMENT.format(start=float(start_unix_s),
                                iso=when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


#: How :func:`write_csv` writes a time: fixed-point to the ns, so that a time reads back within
#: 0.5 ns however long the run (9 significant digits were 10 µs apart at 1000 s).
TIME_FORMAT = "%.9f"
#: How :func:`write_csv` writes a value: 9 significant digits (a relative 5e-10).
VALUE_FORMAT = "%.9g"


def write_csv(rec: Recording, path: str | os.PathLike[str], *,
              start_unix_s: float | None = None) -> None:
    """``time_s,acc_x..z[,gyr_x..z]`` in s, m/s², rad/s; written atomically.

    Times are written to the ns (:data:`TIME_FORMAT`), values with 9 significant digits
    (:data:`VALUE_FORMAT`).

    The recording's start (``start_unix_s`` when given, else ``rec.meta.start_unix_s``), when
    known, is written as a comment line before the header (:data:`START_COMMENT`), which
    :func:`~imurun.ingest.files.load_csv` reads back as the recording's start.
    """
    path = Path(path)
    cols = [rec.t_s[:, None], rec.acc_ms2]
    header = "time_s,acc_x,acc_y,acc_z"
    if rec.gyr_rads is not None:
        cols.append(rec.gyr_rads)
        header += ",gyr_x,gyr_y,gyr_z"
    start = rec.meta.start_unix_s if start_unix_s is None else start_unix_s
    if start is not None and EPOCH_S[0] < start < EPOCH_S[1]:  # (a relative clock is no date)
        header = start_comment(start) + "\n" + header
    data = np.hstack(cols)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(tmp, data, delimiter=",", header=header, comments="",
                   fmt=[TIME_FORMAT] + [VALUE_FORMAT] * (data.shape[1] - 1))
        os.replace(tmp, path)
    except OSError as e:
        raise FileFormatError(str(path), f"cannot write: {e.strerror or e}") from e
