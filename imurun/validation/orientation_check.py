"""Pelvis orientation on the real lower-back recordings, cross-checked against imufusion.

Real recordings have no orientation reference. This compares :func:`pelvis_orientation` with an
established AHRS run on the same body-frame signals: x-io's ``imufusion`` (Fusion, a revised
Madgwick filter in C; MIT), installed only with the ``dev`` extra and never used by the library.
Neither estimate is ground truth: the check shows that both see the same pelvis motion, and how
far apart their references are (imufusion averages the direction of the instantaneous
acceleration, ``pelvis_orientation`` the stride-mean specific force).

Per trial: the first :data:`SKIP_S` of every segment of at least :data:`MIN_SEGMENT_S` are skipped
(imufusion's start-up), then the difference (this − imufusion) of tilt and obliquity gives its
standard deviation (*dynamic agreement*: how well the two follow the same motion) and its mean
(*offset* between the two references).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imurun.consts import G_MS2
from imurun.signal.orientation import _angles, pelvis_orientation
from imurun.validation.datasets import DatasetNotFoundError, Trial, load_dataset

FloatArray = npt.NDArray[np.float64]

#: Data sets with a lower-back gyroscope.
DATASETS = ("mobgap_lab", "voisard_ipol")
#: imufusion settings (its documented defaults for a body-worn sensor, 10° rejection).
GAIN = 0.5
ACCELERATION_REJECTION_DEG = 10.0
#: Skipped at the start of each segment (imufusion converges), s.
SKIP_S = 5.0
#: Shorter segments are not compared, s.
MIN_SEGMENT_S = 10.0


class ImufusionMissing(RuntimeError):
    """``imufusion`` is not installed (``pip install -e .[dev]``)."""


@dataclass(frozen=True)
class TrialAgreement:
    """Tilt and obliquity of one trial against imufusion, degrees."""

    dataset: str
    trial_id: str
    n_samples: int
    tilt_sd_deg: float
    obliquity_sd_deg: float
    tilt_offset_deg: float
    obliquity_offset_deg: float


def _imufusion() -> Any:
    try:
        import imufusion
    except ImportError as e:
        raise ImufusionMissing(f"imufusion is not installed ({e}); pip install -e '.[dev]'") from e
    return imufusion


def imufusion_quaternions(acc_ms2: FloatArray, gyr_rads: FloatArray, fs_hz: float, *,
                          gain: float = GAIN,
                          rejection_deg: float = ACCELERATION_REJECTION_DEG) -> FloatArray:
    """Imufusion's AHRS (NWU, no magnetometer) on body-frame signals: ``(n, 4)`` w, x, y, z.

    Also the peer run by ``benchmarks/orientation.py``.
    """
    imufusion = _imufusion()
    ahrs = imufusion.Ahrs()
    st = imufusion.AhrsSettings()
    st.convention = imufusion.CONVENTION_NWU
    st.gain = gain
    st.gyroscope_range = 2000.0
    st.acceleration_rejection = rejection_deg
    st.magnetic_rejection = 10.0
    st.rejection_timeout = int(5 * fs_hz)
    st.sample_rate = fs_hz
    ahrs.set_settings(st)
    q = np.empty((acc_ms2.shape[0], 4))
    gyr_dps, acc_g = np.degrees(gyr_rads), acc_ms2 / G_MS2
    update, get = ahrs.update_no_magnetometer, ahrs.get_quaternion
    for i in range(acc_ms2.shape[0]):  # its Python API takes one sample per call
        update(gyr_dps[i], acc_g[i])
        q[i] = get()
    return q


def imufusion_tilt_obliquity(acc_ms2: FloatArray, gyr_rads: FloatArray, fs_hz: float,
                             ) -> tuple[FloatArray, FloatArray]:
    """Tilt and obliquity (degrees) of imufusion's AHRS on body-frame signals."""
    _, obl, tilt = _angles(imufusion_quaternions(acc_ms2, gyr_rads, fs_hz),
                           np.array([1.0, 0.0, 0.0, 0.0]))
    return np.degrees(tilt), np.degrees(obl)


def trial_agreement(trial: Trial) -> TrialAgreement | None:
    """Agreement on one trial (``None`` without a gyroscope or a long enough segment)."""
    if trial.bf_gyr_rads is None:
        return None
    pa = pelvis_orientation(trial.bf_acc_ms2, trial.bf_gyr_rads, trial.fs_hz, np.eye(3),
                            segments=trial.segments)
    skip = int(SKIP_S * trial.fs_hz)
    d_t, d_o = [], []
    for a, b in trial.segments:
        if b - a < MIN_SEGMENT_S * trial.fs_hz:
            continue
        t_ref, o_ref = imufusion_tilt_obliquity(trial.bf_acc_ms2[a:b], trial.bf_gyr_rads[a:b],
                                                trial.fs_hz)
        d_t.append((pa.tilt_deg[a:b] - t_ref)[skip:])
        d_o.append((pa.obliquity_deg[a:b] - o_ref)[skip:])
    if not d_t:
        return None
    dt, do = np.concatenate(d_t), np.concatenate(d_o)
    return TrialAgreement(dataset=trial.dataset, trial_id=trial.trial_id, n_samples=int(dt.size),
                          tilt_sd_deg=float(np.std(dt)), obliquity_sd_deg=float(np.std(do)),
                          tilt_offset_deg=float(np.mean(dt)),
                          obliquity_offset_deg=float(np.mean(do)))


def run_agreement(names: Sequence[str] = DATASETS, *, root: Path | None = None,
                  skip_missing: bool = True) -> list[TrialAgreement]:
    """Every trial of the named data sets (absent data sets skipped when ``skip_missing``).

    Raises :class:`ImufusionMissing` when imufusion is not installed.
    """
    _imufusion()
    rows: list[TrialAgreement] = []
    for name in names:
        try:
            trials = load_dataset(name, root)
        except DatasetNotFoundError:
            if skip_missing:
                continue
            raise
        for trial in trials:
            row = trial_agreement(trial)
            if row is not None:
                rows.append(row)
    return rows


def orientation_section(root: Path | None = None) -> str:
    """Markdown section of ``docs/validation.md`` (``make validate``)."""
    lines = ["# Orientation on real recordings: cross-check against imufusion", ""]
    add = lines.append
    add("Real recordings have no orientation reference. `pelvis_orientation` is compared with "
        f"x-io's imufusion (revised Madgwick AHRS, gain {GAIN:g}, "
        f"{ACCELERATION_REJECTION_DEG:g}° acceleration rejection; used only here and in the "
        "tests, never by the library) on the same body-frame signals of the lower-back walking "
        f"recordings. The first {SKIP_S:g} s of every segment of at least {MIN_SEGMENT_S:g} s are "
        "skipped (imufusion's start-up). Per trial, the difference (imurun − imufusion) gives "
        "the *dynamic agreement* (its standard deviation: do both follow the same motion?) and "
        "the *offset* (its mean: the two references differ by design, imufusion averaging the "
        "direction of the instantaneous acceleration and imurun the stride-mean specific "
        "force). Neither is ground truth; accuracy against exact truth is in the synthetic "
        "sections and `make bench`.")
    add("")
    try:
        rows = run_agreement(root=root)
    except ImufusionMissing as e:
        add(f"*Not run: {e}.*")
        add("")
        return "\n".join(lines)
    if not rows:
        add("*Not run: no lower-back recording with a gyroscope found.*")
        add("")
        return "\n".join(lines)
    add("| data set | trials | samples | tilt dynamic median ° | tilt dynamic 90th pct ° "
        "| obliquity dynamic median ° | obliquity dynamic 90th pct ° | tilt offset median ° "
        "| obliquity offset median ° |")
    add("|---|---|---|---|---|---|---|---|---|")
    for name in sorted({r.dataset for r in rows}):
        sel = [r for r in rows if r.dataset == name]
        ts = np.array([r.tilt_sd_deg for r in sel])
        os_ = np.array([r.obliquity_sd_deg for r in sel])
        to = np.array([r.tilt_offset_deg for r in sel])
        oo = np.array([r.obliquity_offset_deg for r in sel])
        add(f"| {name} | {len(sel)} | {sum(r.n_samples for r in sel)} | {np.median(ts):.2f} "
            f"| {np.percentile(ts, 90):.2f} | {np.median(os_):.2f} | {np.percentile(os_, 90):.2f} "
            f"| {np.median(to):+.2f} | {np.median(oo):+.2f} |")
    add("")
    add("`tests/test_orientation.py::test_real_walking_agrees_with_imufusion` asserts bounds on "
        "these figures over both data sets.")
    add("")
    return "\n".join(lines)
