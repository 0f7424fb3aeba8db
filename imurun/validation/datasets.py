"""Loaders for the public recordings used to validate the event detectors.

Every loader returns :class:`Trial` objects: signals in SI units (m/s², rad/s) in the sacrum
**body frame** (x forward, y left, z up; see :mod:`imurun.consts`), reference events in seconds
on the same time base as the samples (``t = index / fs_hz``), and the metadata needed to report
results per condition.

The data are read from ``$IMURUN_SHARED_DATA`` (default ``<repo>/../shared/data``), never copied
into the repository. A missing folder raises :class:`DatasetNotFoundError`.

What each loader does to the raw files is written in its docstring; nothing else is done. In
particular, the axis mapping from each sensor frame to the body frame was checked against the
data (gravity for "up", the braking dip of the forward acceleration after each reference initial
contact for "forward", the sensor's right-handedness for "left"), and the body frame is then
*levelled*: rotated by the smallest rotation that brings the trial's mean specific force onto +z.
That stands in for the sensor-to-body alignment another module provides in production.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_protocol.errors import ImurunError
from imurun.consts import DEG2RAD, G_MS2
from imurun.signal.events import Side

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int8]

__all__ = [
    "DATASETS",
    "Condition",
    "DatasetNotFoundError",
    "MOBGAP_REFERENCES",
    "Subject",
    "Trial",
    "level_to_gravity",
    "load_alcantara2022",
    "load_dataset",
    "load_mobgap_lab",
    "load_voisard_ipol",
    "shared_data_root",
]

#: Threshold on vertical ground reaction force that defines contact in the alcantara2022
#: reference, in body weights.
ALCANTARA_CONTACT_BW = 0.05
#: vGRF contact intervals shorter than this are filter ringing during flight, not contacts.
ALCANTARA_MIN_CONTACT_S = 0.03
#: voisard_ipol: gaps in the packet counter up to this many samples are filled by linear
#: interpolation; longer gaps split the trial into segments.
VOISARD_MAX_FILL_SAMPLES = 10
#: Walking reference initial contacts (and toe-offs) closer than this are one event (s). No
#: walking step is this short; such pairs are a reference artefact (the same INDIP contact
#: listed by two adjacent micro walking bouts, or both feet labelled at a standing start or a
#: stop).
MERGE_REFERENCE_IC_S = 0.1
#: The reference systems (``Standards.<name>``) of mobgap_lab, with what each is.
MOBGAP_REFERENCES: dict[str, str] = {
    "INDIP": "INDIP (foot IMUs + pressure insoles)",
    "Stereophoto": "Stereophoto (optical motion capture)",
}


class DatasetNotFoundError(ImurunError, FileNotFoundError):
    """The shared data folder (or one data set inside it) is not where it should be."""

    def __init__(self, path: Path, hint: str = "") -> None:
        self.path = path
        msg = f"data set folder not found: {path}"
        if hint:
            msg += f" ({hint})"
        super().__init__(msg)


@dataclass(frozen=True)
class Subject:
    """Who was measured (fields are ``None`` when the source does not say)."""

    subject_id: str
    sex: str | None = None
    age_y: float | None = None
    height_m: float | None = None
    mass_kg: float | None = None


@dataclass(frozen=True)
class Condition:
    """Experimental condition of a trial, used to group results."""

    label: str
    speed_ms: float | None = None
    slope_pct: float | None = None
    foot_strike: str | None = None


@dataclass(frozen=True)
class Trial:
    """One recording with its reference events.

    ``bf_acc_ms2`` has shape ``(n, 3)`` in the body frame; an axis the sensor did not measure is
    all-NaN (alcantara2022 has no mediolateral axis). ``segments`` are ``[start, stop)`` sample
    ranges of uniformly spaced samples; detectors must not filter across their boundaries.
    Reference events are in seconds (``index / fs_hz``); ``ref_*_side`` holds :class:`Side`
    codes. ``eval_windows_s`` are the intervals inside which the reference is complete:
    detections and references outside them are not scored. ``turn_windows_s`` mark turns
    (results are also reported for straight walking only).
    """

    dataset: str
    trial_id: str
    gait: str
    fs_hz: float
    bf_acc_ms2: FloatArray
    bf_gyr_rads: FloatArray | None
    segments: tuple[tuple[int, int], ...]
    ref_ic_s: FloatArray
    ref_ic_side: IntArray
    ref_to_s: FloatArray
    ref_to_side: IntArray
    eval_windows_s: tuple[tuple[float, float], ...]
    condition: Condition
    subject: Subject
    reference: str
    ref_vgrf_bw: FloatArray | None = None
    turn_windows_s: tuple[tuple[float, float], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        n = self.bf_acc_ms2.shape[0]
        if self.bf_acc_ms2.shape != (n, 3):
            raise ValueError(f"bf_acc_ms2 must have shape (n, 3), got {self.bf_acc_ms2.shape}")
        if self.bf_gyr_rads is not None and self.bf_gyr_rads.shape != (n, 3):
            raise ValueError(f"bf_gyr_rads must have shape ({n}, 3), got {self.bf_gyr_rads.shape}")
        if self.ref_ic_s.shape != self.ref_ic_side.shape:
            raise ValueError("ref_ic_s and ref_ic_side differ in length")
        if self.ref_to_s.shape != self.ref_to_side.shape:
            raise ValueError("ref_to_s and ref_to_side differ in length")
        for arr in (self.bf_acc_ms2, self.bf_gyr_rads, self.ref_ic_s, self.ref_ic_side,
                    self.ref_to_s, self.ref_to_side, self.ref_vgrf_bw):
            if arr is not None:
                arr.setflags(write=False)

    @property
    def n_samples(self) -> int:
        return int(self.bf_acc_ms2.shape[0])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs_hz


def shared_data_root() -> Path:
    """Folder of the shared data: ``$IMURUN_SHARED_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("IMURUN_SHARED_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return (Path(__file__).parents[2] / ".." / "shared" / "data").resolve()


def _dataset_dir(name: str, root: Path | None) -> Path:
    base = shared_data_root() if root is None else Path(root)
    path = base / name
    if not path.is_dir():
        raise DatasetNotFoundError(path, "set IMURUN_SHARED_DATA to the shared data folder")
    return path


def level_to_gravity(bf_acc_ms2: FloatArray, bf_gyr_rads: FloatArray | None = None,
                     ) -> tuple[FloatArray, FloatArray | None]:
    """Rotate both signals by the smallest rotation that maps the mean of ``bf_acc_ms2`` to +z.

    NaN axes are treated as zero for the mean and stay NaN afterwards only if the rotation does
    not mix them into other axes; callers with a missing axis should not level.
    """
    mean = np.nanmean(bf_acc_ms2, axis=0)
    u = mean / np.linalg.norm(mean)
    z = np.array([0.0, 0.0, 1.0])
    v = np.cross(u, z)
    s = float(np.linalg.norm(v))
    c = float(u @ z)
    if s < 1e-12:
        r = np.eye(3)
    else:
        vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
        r = np.eye(3) + vx + vx @ vx * ((1.0 - c) / s**2)
    acc = bf_acc_ms2 @ r.T
    gyr = None if bf_gyr_rads is None else bf_gyr_rads @ r.T
    return acc, gyr


# --------------------------------------------------------------------------------------------
# alcantara2022: running, sacral accelerometer (vertical + anteroposterior), force treadmill
# --------------------------------------------------------------------------------------------

def _threshold_intervals(x: FloatArray, level: float, min_len: int) -> tuple[FloatArray, FloatArray]:
    """Fractional sample indices of up/down crossings of ``level``; short intervals dropped.

    Crossings are linearly interpolated between samples. An interval that is open at either
    end of ``x`` has no crossing there (NaN).
    """
    above = x > level
    edges = np.diff(above.astype(np.int8))
    up = np.flatnonzero(edges == 1)
    dn = np.flatnonzero(edges == -1)
    starts = up + 1
    stops = dn + 1
    if above[0]:
        starts = np.r_[0, starts]
    if above[-1]:
        stops = np.r_[stops, x.size]
    # short intervals are ringing during flight, unless cut by the window edge (partial contact)
    keep = ((stops - starts) >= min_len) | (starts == 0) | (stops == x.size)
    starts, stops = starts[keep], stops[keep]

    def frac(i: npt.NDArray[np.intp]) -> FloatArray:
        # crossing between samples i-1 and i
        x0, x1 = x[i - 1], x[i]
        return (i - 1) + (level - x0) / (x1 - x0)

    ic = np.full(starts.size, np.nan)
    ok = starts > 0
    ic[ok] = frac(starts[ok])
    to = np.full(stops.size, np.nan)
    ok = stops < x.size
    to[ok] = frac(stops[ok])
    return ic, to


def _num(v: str | None) -> float | None:
    """A number from a CSV cell; ``None`` for an empty, ``NA`` or non-numeric cell."""
    try:
        x = float(v) if v is not None else float("nan")
    except ValueError:
        return None
    return x if np.isfinite(x) else None


def _alcantara_label(speed: float | None, slope: float | None) -> str:
    sp = "? m/s" if speed is None else f"{speed:g} m/s"
    sl = "? %" if slope is None else f"{slope:+g} %"
    return f"{sp}, {sl}"


def load_alcantara2022(root: Path | None = None) -> list[Trial]:
    """Running trials of Alcantara et al. 2022 (PeerJ 10:e12752), one runner, 21 trials.

    Accelerometer columns 0–2479 are vertical (body +z), 2480–4959 anteroposterior (body +x),
    in g at 500 Hz; converted to m/s². The source signals are already low-pass filtered and
    clipped at 0 by the authors; they are passed on unchanged. There is no mediolateral axis:
    ``bf_acc_ms2[:, 1]`` is NaN. The axes are the sensor's, not levelled (a levelling rotation
    would mix the missing axis in).

    Reference: contact = vGRF > :data:`ALCANTARA_CONTACT_BW` (0.05 BW), crossings interpolated
    linearly between samples, intervals shorter than :data:`ALCANTARA_MIN_CONTACT_S` dropped
    (filter ringing during flight) unless cut by the window edge. The vGRF is used as published (the README notes a lag of
    about 2 samples, 4 ms, which is not corrected). No side information.
    """
    folder = _dataset_dir("alcantara2022", root)
    fs = 500.0
    acc_g = np.loadtxt(folder / "Accelerometer_one_sub.csv", delimiter=",", ndmin=2)
    grf = np.loadtxt(folder / "GRF_one_sub.csv", delimiter=",", ndmin=2)
    with open(folder / "Sub_Info_one_sub.csv", newline="") as fh:
        info = list(csv.DictReader(fh))
    n = grf.shape[1]  # 2480 samples (4.96 s) in the published file
    if acc_g.shape[1] != 2 * n or not (len(info) == acc_g.shape[0] == grf.shape[0]):
        raise ValueError(f"unexpected alcantara2022 shapes: acc {acc_g.shape}, grf {grf.shape}, "
                         f"info rows {len(info)}")
    trials = []
    min_len = int(round(ALCANTARA_MIN_CONTACT_S * fs))
    for i, row in enumerate(info):
        acc = np.full((n, 3), np.nan)
        acc[:, 2] = acc_g[i, :n] * G_MS2
        acc[:, 0] = acc_g[i, n:] * G_MS2
        ic, to = _threshold_intervals(grf[i], ALCANTARA_CONTACT_BW, min_len)
        ic, to = ic[np.isfinite(ic)] / fs, to[np.isfinite(to)] / fs
        shares = {k: _num(row.get(k)) for k in ("RFS", "MFS", "FFS")}
        known = {k: v for k, v in shares.items() if v is not None}
        strike = max(known, key=lambda k: known[k]) if known else None
        speed = _num(row.get("Speed"))
        slope = _num(row.get("Slope"))
        height = _num(row.get("Height"))
        trials.append(Trial(
            dataset="alcantara2022",
            trial_id=f"row{i:02d}",
            gait="running",
            fs_hz=fs,
            bf_acc_ms2=acc,
            bf_gyr_rads=None,
            segments=((0, n),),
            ref_ic_s=ic,
            ref_ic_side=np.full(ic.size, Side.UNKNOWN, dtype=np.int8),
            ref_to_s=to,
            ref_to_side=np.full(to.size, Side.UNKNOWN, dtype=np.int8),
            eval_windows_s=((0.0, n / fs),),
            condition=Condition(label=_alcantara_label(speed, slope), speed_ms=speed,
                                slope_pct=slope, foot_strike=strike),
            subject=Subject(subject_id=f"alcantara-{row.get('Sub', '?')}", sex=row.get("Sex"),
                            height_m=None if height is None else height / 100.0,
                            mass_kg=_num(row.get("Mass"))),
            reference=f"force treadmill vGRF > {ALCANTARA_CONTACT_BW:g} BW",
            ref_vgrf_bw=grf[i].copy(),
            notes=("acc low-pass filtered and clipped at 0 by the source",),
        ))
    return trials


# --------------------------------------------------------------------------------------------
# mobgap_lab: walking, McRoberts MM+ lower back, INDIP reference
# --------------------------------------------------------------------------------------------

def merge_close_events(t_s: FloatArray, side: IntArray, min_gap_s: float,
                       ) -> tuple[FloatArray, IntArray, int]:
    """Merge sorted events closer than ``min_gap_s`` into the first of them.

    The merged event keeps its side when all merged sides agree, else the side is unknown.
    Returns ``(t_s, side, n_merged)``.
    """
    t = np.asarray(t_s, dtype=np.float64)
    sd = np.asarray(side, dtype=np.int8)
    if t.size < 2:
        return t, sd, 0
    new = np.r_[True, np.diff(t) >= min_gap_s]
    group = np.cumsum(new) - 1
    keep = np.flatnonzero(new)
    out_side = sd[keep].copy()
    first_side = out_side[group]
    disagree = np.zeros(keep.size, dtype=bool)
    np.logical_or.at(disagree, group, sd != first_side)
    out_side[disagree] = Side.UNKNOWN
    return t[keep], out_side, int(t.size - keep.size)


@dataclass(frozen=True)
class _WalkingReference:
    """Reference events of a walking trial, sorted; initial contacts merged (see below)."""

    ic_s: FloatArray
    ic_side: IntArray
    to_s: FloatArray
    to_side: IntArray
    n_merged: int
    n_merged_to: int = 0

    @classmethod
    def of(cls, ic: Sequence[FloatArray], ic_side: Sequence[IntArray], to: Sequence[FloatArray],
           to_side: Sequence[IntArray]) -> _WalkingReference:
        """From per-bout or per-foot parts, sorted; contacts closer than the merge gap merged."""
        ic_a = np.concatenate([np.zeros(0), *ic])
        ic_sa = np.concatenate([np.zeros(0, np.int8), *ic_side]).astype(np.int8)
        to_a = np.concatenate([np.zeros(0), *to])
        to_sa = np.concatenate([np.zeros(0, np.int8), *to_side]).astype(np.int8)
        oi, ot = np.argsort(ic_a, kind="stable"), np.argsort(to_a, kind="stable")
        ic_m, ic_sm, n = merge_close_events(ic_a[oi], ic_sa[oi], MERGE_REFERENCE_IC_S)
        to_m, to_sm, n_to = merge_close_events(to_a[ot], to_sa[ot], MERGE_REFERENCE_IC_S)
        return cls(ic_m, ic_sm, to_m, to_sm, n, n_to)

    @property
    def note(self) -> str:
        return (f"{self.n_merged} reference initial contacts and {self.n_merged_to} toe-offs "
                f"merged (closer than {MERGE_REFERENCE_IC_S} s to another)")


def _side_codes(labels: object) -> IntArray:
    arr = np.atleast_1d(np.asarray(labels, dtype=object))
    out = np.full(arr.size, Side.UNKNOWN, dtype=np.int8)
    for k, lab in enumerate(arr):
        s = str(lab).strip().lower()
        if s.startswith("l"):
            out[k] = Side.LEFT
        elif s.startswith("r"):
            out[k] = Side.RIGHT
    return out


def _field(obj: object, *path: str) -> Any:
    """``obj.a.b...`` of a loaded MATLAB struct, or ``None`` when a level is missing."""
    for name in path:
        if obj is None or name not in getattr(obj, "_fieldnames", ()):
            return None
        obj = getattr(obj, name)
    return obj


def _finite_segments(x: FloatArray) -> tuple[tuple[int, int], ...]:
    """``[start, stop)`` runs of rows of ``x`` that are finite in every column."""
    ok = np.isfinite(x).all(axis=1)
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    return tuple((int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True))


def _mobgap_events(values: object, labels: object) -> tuple[FloatArray, IntArray]:
    """Finite event times with their side codes (unknown when the labels do not pair up)."""
    e = np.atleast_1d(np.asarray(values if values is not None else [], dtype=np.float64))
    e = e.reshape(-1)
    s = _side_codes(labels) if labels is not None else np.zeros(0, np.int8)
    if s.size != e.size:
        s = np.full(e.size, Side.UNKNOWN, dtype=np.int8)
    ok = np.isfinite(e)
    return e[ok], s[ok]


def _mobgap_trial(tr: object, trial_id: str, condition: Condition, subject: Subject,
                  standard: str = "INDIP") -> Trial | None:
    """One mobgap trial; ``None`` without a lower-back accelerometer or ``standard``'s bouts."""
    lb = _field(tr, "SU", "LowerBack")
    acc = _field(lb, "Acc")
    wbs_raw = _field(tr, "Standards", standard, "MicroWB")
    if acc is None or wbs_raw is None:
        return None
    fs_field = _field(lb, "Fs")
    if fs_field is None:
        return None
    fs = float(fs_field.Acc if hasattr(fs_field, "Acc") else fs_field)
    sf_acc = np.asarray(acc, dtype=np.float64).reshape(-1, 3)
    if float(np.nanmedian(np.linalg.norm(sf_acc, axis=1))) < 3.0:
        sf_acc = sf_acc * G_MS2  # stored in g
    bf_acc = np.column_stack([sf_acc[:, 2], -sf_acc[:, 1], sf_acc[:, 0]])
    gyr = _field(lb, "Gyr")
    bf_gyr: FloatArray | None = None
    if gyr is not None:
        sf_gyr = np.asarray(gyr, dtype=np.float64).reshape(-1, 3) * DEG2RAD
        if sf_gyr.shape == sf_acc.shape:
            bf_gyr = np.column_stack([sf_gyr[:, 2], -sf_gyr[:, 1], sf_gyr[:, 0]])
    both = bf_acc if bf_gyr is None else np.hstack([bf_acc, bf_gyr])
    segments = _finite_segments(both)
    if not segments:
        return None
    bf_acc, bf_gyr_l = level_to_gravity(bf_acc, bf_gyr)
    ic, ic_side, to, to_side, windows = [], [], [], [], []
    turns: list[tuple[float, float]] = []
    one = 1.0 / fs  # the reference's times are MATLAB (1-based) sample times: see the docstring
    for wb in np.atleast_1d(np.asarray(wbs_raw, dtype=object)).reshape(-1):
        start, end = _field(wb, "Start"), _field(wb, "End")
        if start is None or end is None or not np.isfinite([float(start), float(end)]).all():
            continue
        e, s = _mobgap_events(_field(wb, "InitialContact_Event"),
                              _field(wb, "InitialContact_LeftRight"))
        ic.append(e - one)
        ic_side.append(s)
        e, s = _mobgap_events(_field(wb, "FinalContact_Event"),
                              _field(wb, "FinalContact_LeftRight"))
        to.append(e - one)
        to_side.append(s)
        windows.append((float(start) - one, float(end)))
        t0, t1 = (np.asarray(_field(wb, name) if _field(wb, name) is not None else [],
                             dtype=np.float64).reshape(-1) for name in ("Turn_Start", "Turn_End"))
        if t0.size == t1.size:
            turns.extend((float(x) - one, float(y)) for x, y in zip(t0, t1, strict=True)
                         if np.isfinite(x) and np.isfinite(y))
    if not windows:
        return None
    ref = _WalkingReference.of(ic, ic_side, to, to_side)
    return Trial(
        dataset="mobgap_lab",
        trial_id=trial_id,
        gait="walking",
        fs_hz=fs,
        bf_acc_ms2=bf_acc,
        bf_gyr_rads=bf_gyr_l,
        segments=segments,
        ref_ic_s=ref.ic_s,
        ref_ic_side=ref.ic_side,
        ref_to_s=ref.to_s,
        ref_to_side=ref.to_side,
        eval_windows_s=tuple(windows),
        condition=condition,
        subject=subject,
        reference=MOBGAP_REFERENCES[standard],
        turn_windows_s=tuple(turns),
        notes=(ref.note,),
    )


def load_mobgap_lab(root: Path | None = None, *, reference: str = "INDIP") -> list[Trial]:
    """Lab walking trials of the Mobilise-D example data (mobgap ``example_data/data/lab``).

    Lower-back McRoberts MM+ at 100 Hz. The files hold acceleration in **g** (the mean norm of
    every trial is 0.98–1.0 g) and angular rate in deg/s; converted to m/s² and rad/s. Sensor
    axes: x up, y right, z forward (checked: mean specific force on +x; the forward signal dips
    after every INDIP initial contact, the braking of loading response). Body frame
    ``[z, -y, x]``, then levelled to gravity.

    Reference: INDIP ``MicroWB`` initial and final contacts with their left/right labels (NaN
    events dropped; initial contacts closer than :data:`MERGE_REFERENCE_IC_S` merged, since
    adjacent micro walking bouts can list the same contact). Evaluation windows are the micro
    walking bouts ``[Start, End]``; turns are the INDIP ``Turn_Start``/``Turn_End`` intervals.

    Time base: the reference's times, times the sampling rate, are the 1-based sample indices
    of MATLAB, where the Mobilise-D reference was made; mobgap's loader of this very data
    (``mobgap.data``, ``_mobilised_matlab_loader``, the note on 1-based indexing) documents it and
    moves every event and interval start one sample earlier, interval ends (inclusive in MATLAB)
    staying where they are. So do we: sample ``i`` of the signal is at ``i / fs``, and a
    reference time ``t`` is the signal's ``t - 1 / fs``.

    ``reference="Stereophoto"`` gives the same trials with the lab's optical reference instead
    (``Standards.Stereophoto.MicroWB``: stereophotogrammetry, 100 Hz; its micro walking bouts
    are its own, starting and ending elsewhere than INDIP's). Its bouts have the same fields and
    are read by the same rules: NaN events dropped, close contacts merged, the same side codes, and the same time
    base. mobgap's loader applies the one-sample shift to every reference system alike, and
    the data agree: the Stereophoto times are on the same 1/100 s grid, each bout's ``Start``
    is its first initial contact as with INDIP, and outside turns the healthy participant's
    INDIP and Stereophoto contacts differ by a median within one sample (the number is in
    ``docs/validation.md``), where a different time base would show as a constant offset. Its
    bouts also list final contacts; they are loaded as toe-offs like INDIP's. Trials without
    that reference are skipped, as trials without INDIP bouts are.
    """
    if reference not in MOBGAP_REFERENCES:
        raise ValueError(f"unknown mobgap_lab reference {reference!r}; known: "
                         f"{sorted(MOBGAP_REFERENCES)}")
    import scipy.io as sio

    folder = _dataset_dir("mobgap_lab", root)
    trials = []
    for data_file in sorted(folder.glob("*/*/data.mat")):
        cohort = data_file.parents[1].name
        pid = data_file.parent.name
        mat = sio.loadmat(data_file, squeeze_me=True, struct_as_record=False)
        subject = Subject(subject_id=f"{cohort}/{pid}")
        info_file = data_file.parent / "infoForAlgo.mat"
        if info_file.exists():
            info = sio.loadmat(info_file, squeeze_me=True, struct_as_record=False)["infoForAlgo"]
            tm_info = info.TimeMeasure1
            subject = Subject(subject_id=f"{cohort}/{pid}",
                              height_m=float(tm_info.Height) / 100.0,
                              mass_kg=float(tm_info.Weight))
        tm = mat["data"].TimeMeasure1
        for test in tm._fieldnames:
            test_struct = getattr(tm, test)
            for trial_name in test_struct._fieldnames:
                trial = _mobgap_trial(getattr(test_struct, trial_name),
                                      f"{cohort}/{pid}/{test}/{trial_name}",
                                      Condition(label=f"{cohort} {test}"), subject, reference)
                if trial is not None:
                    trials.append(trial)
    if not trials:
        raise DatasetNotFoundError(folder, f"no */*/data.mat with {reference} bouts inside")
    return trials


# --------------------------------------------------------------------------------------------
# voisard_ipol: walking, Xsens MTw at L5 + both feet
# --------------------------------------------------------------------------------------------

def _read_xsens_txt(path: Path) -> tuple[float, FloatArray]:
    """Read an Xsens MT Manager text export: ``(fs_hz, array)`` with the header columns."""
    with open(path) as fh:
        first = fh.readline()
        header = fh.readline().split()
    if "frequency" not in first.lower():
        raise ValueError(f"{path}: first line is not 'Acquisition frequency: ...'")
    fs = float(first.split(":")[1].split()[0])
    data = np.loadtxt(path, skiprows=2, ndmin=2)
    expected = ["PacketCounter", "Acc_X", "Acc_Y", "Acc_Z", "Gyr_X", "Gyr_Y", "Gyr_Z"]
    if header[:7] != expected:
        raise ValueError(f"{path}: unexpected columns {header[:7]}")
    return fs, data


def _fill_packet_gaps(counter: FloatArray, values: FloatArray, max_fill: int,
                      ) -> tuple[FloatArray, tuple[tuple[int, int], ...], int]:
    """Place rows on the uniform packet-counter grid starting at counter 0.

    Gaps of up to ``max_fill`` missing packets are filled by linear interpolation; longer gaps
    stay NaN and split the grid into segments. Returns ``(grid_values, segments, n_filled)``.
    Samples before the first packet are NaN and not part of any segment.
    """
    idx = np.round(counter).astype(np.int64)
    if np.any(np.diff(idx) <= 0):
        raise ValueError("packet counter is not strictly increasing")
    n = int(idx[-1]) + 1
    grid = np.full((n, values.shape[1]), np.nan)
    grid[idx] = values
    steps = np.diff(idx)
    fill = (steps > 1) & (steps <= max_fill + 1)
    n_filled = 0
    for a, b in zip(idx[:-1][fill], idx[1:][fill], strict=True):
        w = (np.arange(a + 1, b) - a) / (b - a)
        grid[a + 1:b] = grid[a] + w[:, None] * (grid[b] - grid[a])
        n_filled += int(b - a - 1)
    breaks = np.flatnonzero(steps > max_fill + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    stops = np.r_[idx[breaks] + 1, idx[-1] + 1]
    segments = tuple((int(a), int(b)) for a, b in zip(starts, stops, strict=True))
    return grid, segments, n_filled


def load_voisard_ipol(root: Path | None = None) -> list[Trial]:
    """Walking trials of the Voisard et al. IPOL gait data set (L5 Xsens MTw, 100 Hz).

    Only trials with both ``S-T_lb.txt`` and ``S-T.json`` are loaded. Sensor axes at L5: x up
    (along the spine), y left, z backward (checked: mean specific force mostly on +x; the +z
    signal rises after every reference initial contact, i.e. braking shows on a backward axis;
    right-handed ⇒ y left). Body frame ``[-z, y, x]``, then levelled to gravity.

    The wireless sensors drop packets; event indices in the JSON refer to the packet counter
    (checked against the foot sensors). Samples are therefore placed on the packet-counter grid;
    gaps of up to :data:`VOISARD_MAX_FILL_SAMPLES` are filled by linear interpolation (the count
    is in ``notes``), longer ones split the trial into segments.

    Reference: ``LeftFootEvents``/``RightFootEvents`` are ``[toe-off, initial contact]`` sample
    pairs from the foot sensors (initial contacts closer than :data:`MERGE_REFERENCE_IC_S`
    merged). Evaluation window: ``TrialBoundaries`` (U-turn included);
    the turn window is ``UTurnBoundaries``.
    """
    folder = _dataset_dir("voisard_ipol", root)
    trials = []
    for meta_file in sorted(folder.glob("*.json"), key=_voisard_key):
        lb_file = folder / f"{meta_file.stem}_lb.txt"
        if not lb_file.exists():
            continue
        meta = json.loads(meta_file.read_text())
        fs, data = _read_xsens_txt(lb_file)
        grid, segments, n_filled = _fill_packet_gaps(data[:, 0], data[:, 1:7],
                                                     VOISARD_MAX_FILL_SAMPLES)
        sf_acc, sf_gyr = grid[:, 0:3], grid[:, 3:6]
        bf_acc = np.column_stack([-sf_acc[:, 2], sf_acc[:, 1], sf_acc[:, 0]])
        bf_gyr = np.column_stack([-sf_gyr[:, 2], sf_gyr[:, 1], sf_gyr[:, 0]])
        bf_acc_l, bf_gyr_l = level_to_gravity(bf_acc, bf_gyr)
        ics, ic_sides, tos, to_sides = [], [], [], []
        for key, side in (("LeftFootEvents", Side.LEFT), ("RightFootEvents", Side.RIGHT)):
            pairs = np.asarray(meta.get(key, []), dtype=np.float64).reshape(-1, 2)
            tos.append(pairs[:, 0] / fs)
            ics.append(pairs[:, 1] / fs)
            to_sides.append(np.full(pairs.shape[0], side, dtype=np.int8))
            ic_sides.append(np.full(pairs.shape[0], side, dtype=np.int8))
        ref = _WalkingReference.of(ics, ic_sides, tos, to_sides)
        # without TrialBoundaries the whole recording is scored
        lo, hi = meta.get("TrialBoundaries") or (0, grid.shape[0] - 1)
        uturn = meta.get("UTurnBoundaries")
        height = meta.get("Height")
        weight = meta.get("Weight")
        age = meta.get("Age")
        trials.append(Trial(
            dataset="voisard_ipol",
            trial_id=meta_file.stem,
            gait="walking",
            fs_hz=fs,
            bf_acc_ms2=bf_acc_l,
            bf_gyr_rads=bf_gyr_l,
            segments=segments,
            ref_ic_s=ref.ic_s,
            ref_ic_side=ref.ic_side,
            ref_to_s=ref.to_s,
            ref_to_side=ref.to_side,
            eval_windows_s=((lo / fs, hi / fs),),
            condition=Condition(label="10 m walk + U-turn"),
            subject=Subject(subject_id=f"voisard-{meta.get('Subject')}", sex=meta.get("Gender"),
                            age_y=None if age is None else float(age),
                            height_m=None if height is None else float(height) / 100.0,
                            mass_kg=None if weight is None else float(weight)),
            reference="foot-mounted IMUs, events checked by hand",
            turn_windows_s=((float(uturn[0]) / fs, float(uturn[1]) / fs),) if uturn else (),
            notes=(f"{n_filled} samples filled by interpolation over packet-counter gaps",
                   ref.note),
        ))
    if not trials:
        raise DatasetNotFoundError(folder, "no S-T.json + S-T_lb.txt pairs inside")
    return trials


def voisard_foot_tilt_signature(root: Path | None = None, standing_s: float = 2.0,
                                ) -> dict[str, float]:
    """Per trial: left minus right foot sensor's lateral (y) gravity component while standing.

    A check of the reference's left/right labels that does not use the sacrum: the unit
    specific force of each foot sensor over the first ``standing_s`` of its file (the subject
    stands still) has a y component that differs between the feet in a consistent way when
    each sensor is on its labelled foot. Returns ``{trial_id: lf_y - rf_y}`` for trials with
    both foot files.
    """
    folder = _dataset_dir("voisard_ipol", root)
    out: dict[str, float] = {}
    for meta_file in sorted(folder.glob("*.json"), key=_voisard_key):
        feet = [folder / f"{meta_file.stem}_{f}.txt" for f in ("lf", "rf")]
        if not all(f.exists() for f in feet):
            continue
        ys = []
        for f in feet:
            fs, data = _read_xsens_txt(f)
            a = data[: int(standing_s * fs), 1:4].mean(axis=0)
            ys.append(float(a[1] / np.linalg.norm(a)))
        out[meta_file.stem] = ys[0] - ys[1]
    return out


def _voisard_key(p: Path) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in p.stem.split("-"))
    except ValueError:
        return (1 << 30,)


#: Loader of every data set, by name.
DATASETS: dict[str, Callable[[Path | None], list[Trial]]] = {
    "alcantara2022": load_alcantara2022,
    "mobgap_lab": load_mobgap_lab,
    "voisard_ipol": load_voisard_ipol,
}


def load_dataset(name: str, root: Path | None = None) -> list[Trial]:
    """Load one data set by name (a key of :data:`DATASETS`)."""
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r}; known: {sorted(DATASETS)}") from None
    return loader(root)


def iter_trials(names: Sequence[str] | None = None, root: Path | None = None) -> Iterator[Trial]:
    """Yield the trials of several data sets in turn."""
    for name in names or tuple(DATASETS):
        yield from load_dataset(name, root)
