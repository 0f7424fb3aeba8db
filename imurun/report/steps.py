"""Per-step CSV of a library run: the analysis' steps and, with a watch, speed and lengths.

``imurun export RUN --steps-csv OUT``. One row per step (running and walking), in time order:
the columns of ``imurun analyze --steps-csv`` (the step keys of ``imurun.analysis/1``), then
:data:`SPEED_COLUMNS` from the attached watch's speed (:mod:`imurun.signal.pace`), empty when
the run has no watch file with speed or the watch did not cover the step. Empty = unknown.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np

from imurun.errors import FileFormatError, SignalError, UsageError
from imurun.signal.pace import StepSpeed, step_speed_of
from imurun.signal.results import STEP_FLOAT_FIELDS, StepTable
from imurun.store._files import atomic_write_bytes

if TYPE_CHECKING:
    from imurun.store.library import Library, RunRecord

__all__ = ["SPEED_COLUMNS", "STEPS_CSV_COLUMNS", "StepsExport", "export_steps_csv",
           "steps_csv"]

#: Per-step columns from a watch's speed.
SPEED_COLUMNS: Final = ("speed_mps", "step_length_m", "stride_length_m", "vertical_ratio_pct")
#: Columns of the per-step CSV, in order.
STEPS_CSV_COLUMNS: Final = ("ic_s", "to_s", "side", "activity", *STEP_FLOAT_FIELDS[2:],
                            "segment", "saturated", *SPEED_COLUMNS)


@dataclass(frozen=True)
class StepsExport:
    path: Path
    rows: int
    with_speed: int  # rows with a speed from the watch
    watch: bool  # the run has a watch file with speed


def steps_csv(steps: StepTable, sp: StepSpeed | None = None) -> str:
    """The CSV text of ``steps`` (``sp``: their speeds, aligned with them)."""
    rows = steps.to_records()
    speed = StepSpeed.unknown(len(rows)) if sp is None else sp
    if len(speed) != len(rows):
        raise ValueError(f"{len(speed)} step speeds for {len(rows)} steps")
    cols = {name: getattr(speed, name).tolist() for name in SPEED_COLUMNS}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STEPS_CSV_COLUMNS)
    for i, r in enumerate(rows):
        r.update({name: None if not np.isfinite(v[i]) else v[i] for name, v in cols.items()})
        w.writerow(["" if r[c] is None else (f"{r[c]:.6g}" if isinstance(r[c], float) else r[c])
                    for c in STEPS_CSV_COLUMNS])
    return buf.getvalue()


def export_steps_csv(lib: Library, run: RunRecord | str, out: str | os.PathLike[str]) -> StepsExport:
    """Write the per-step CSV of library run ``run`` (analysed) to ``out``.

    ``run``: a :class:`~imurun.store.library.RunRecord` or its id, as ``imurun export`` takes it
    (:meth:`~imurun.store.library.Library.resolve_run`).
    """
    from imurun.store.attach import speed_track
    from imurun.store.library import ANALYSIS

    run = lib.resolve_run(run)
    doc = lib.analysis(run) if run.analysis_version is not None else None
    if doc is None:
        raise UsageError(f"run {run.short_id} is not analysed yet: no steps to export")
    try:  # (a kept analysis without its steps is not one of no steps)
        if "steps" not in doc:
            raise SignalError("missing key 'steps'")
        steps = StepTable.from_records(doc["steps"])
    except SignalError as e:
        raise FileFormatError(str(run.directory / ANALYSIS),
                              f"not an imurun analysis ({e})") from e
    track = speed_track(lib, run.id)
    sp = step_speed_of(steps, track) if track is not None else None
    target = Path(out)
    if target.is_dir():
        raise UsageError(f"{target} is a directory; give the CSV file's name")
    atomic_write_bytes(target, steps_csv(steps, sp).encode("utf-8"))
    n_speed = 0 if sp is None else int(np.isfinite(sp.speed_mps).sum())
    return StepsExport(target, len(steps), n_speed, sp is not None)
