"""Write a :class:`Recording` as the generic CSV that :func:`load_csv` reads back."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from imurun.errors import FileFormatError
from imurun.ingest.recording import Recording


def write_csv(rec: Recording, path: Path) -> None:
    """``time_s,acc_x..z[,gyr_x..z]`` in s, m/s², rad/s; written atomically."""
    cols = [rec.t_s[:, None], rec.acc_ms2]
    header = "time_s,acc_x,acc_y,acc_z"
    if rec.gyr_rads is not None:
        cols.append(rec.gyr_rads)
        header += ",gyr_x,gyr_y,gyr_z"
    data = np.hstack(cols)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savetxt(tmp, data, delimiter=",", header=header, comments="", fmt="%.9g")
        os.replace(tmp, path)
    except OSError as e:
        raise FileFormatError(str(path), f"cannot write: {e.strerror or e}") from e
