"""Result types of a run analysis: frozen dataclasses of arrays plus metadata, and their JSON.

* :class:`StepTable`: one row per detected step (running and walking), SI units.
* :class:`RunSummary`: the run in numbers (medians, spread, per side, per minute, drift, data
  quality), in the units a runner reads (ms, cm, steps/min, degrees).
* :class:`Indicator`: one form indicator (value, threshold, evidence, level, baseline).
* :class:`RunAnalysis`: all of the above plus the activity timeline, what could not be
  computed and why, the library version and the parameters used.

``RunAnalysis.to_json()`` / ``RunAnalysis.from_json()`` write and read the stable exchange format
``"schema": "imurun.analysis/1"`` documented in ``docs/analysis-json.md``. Unknown values are
``null`` in JSON and NaN (or ``None``) in Python. Readers ignore keys they do not know, so the
format can grow without a new schema version; removing or renaming a key needs
``imurun.analysis/2``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from imurun.errors import SignalError, UnknownNameError
from imurun.signal.side import Side

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "ACTIVITIES",
    "METRIC_NAMES",
    "SCHEMA",
    "ActivityBouts",
    "DataQuality",
    "Drift",
    "Evidence",
    "Indicator",
    "MetricSpread",
    "MountingReport",
    "PerMinute",
    "RunAnalysis",
    "RunSummary",
    "SourceInfo",
    "StepTable",
    "TimeBreakdown",
    "Unavailable",
]

#: Schema identifier written into every JSON document.
SCHEMA: Final = "imurun.analysis/1"
#: Activity labels, in code order (``ActivityBouts.activity`` holds indices into this tuple).
#: ``"gap"``: no samples (lost data); ``"paused"``: no samples because the recording was paused
#: (a phone app's pause button), nothing lost. New labels are only ever appended.
ACTIVITIES: Final = ("run", "walk", "stand", "other", "gap", "paused")
#: Step activities (a subset of :data:`ACTIVITIES`).
STEP_ACTIVITIES: Final = ("run", "walk")


def _frozen_array(a: npt.ArrayLike, dtype: Any, name: str, n: int | None = None) -> Any:
    arr = np.array(a, dtype=dtype, copy=True)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        want = "(n,)" if n is None else f"({n},)"
        raise SignalError(f"{name} must have shape {want}, got {arr.shape}")
    arr.setflags(write=False)
    return arr


class _Refrozen:
    """Unpickling rebuilds the object through ``__init__``, so its arrays are read-only again.

    (Pickle restores a dataclass' ``__dict__`` without calling ``__post_init__``, and NumPy
    arrays come back writable: a result sent back from a process pool could be changed.)
    """

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), tuple(getattr(self, f.name) for f in fields(self))  # type: ignore[arg-type]


def _num(x: Any) -> float | int | None:
    """A JSON number, ``None`` for NaN/None."""
    if x is None:
        return None
    if isinstance(x, bool | np.bool_):
        raise TypeError("booleans are not numbers here")
    if isinstance(x, int | np.integer):
        return int(x)
    v = float(x)
    return None if not math.isfinite(v) else v


def _flt(x: Any) -> float:
    """JSON ``null`` -> NaN."""
    return math.nan if x is None else float(x)


def _opt(x: Any) -> float | None:
    return None if x is None else float(x)


def _require(d: Mapping[str, Any], keys: Iterable[str], where: str = "") -> None:
    """Refuse a document that lacks one of ``keys`` (``where``: their path, ``"summary."``).

    For the keys a reader must not take as 0, false or empty when they are missing (a file
    edited by hand, a faulty writer): that would be a wrong number. ``null`` is a value.
    """
    missing = [k for k in keys if k not in d]
    if missing:
        names = ", ".join(f"'{where}{k}'" for k in missing)
        raise SignalError(f"missing key{'s' if len(missing) > 1 else ''} {names}")


# ============================================================================ steps
#: Float columns of :class:`StepTable`, in JSON order (``side`` and ``activity`` come after
#: ``to_s``). Units are in the names.
STEP_FLOAT_FIELDS: Final = (
    "ic_s", "to_s", "contact_s", "flight_s", "step_s", "vertical_oscillation_m", "braking_mps",
    "impact_g", "peak_force_bw", "vertical_stiffness_kn_m", "pelvic_tilt_range_deg",
    "pelvic_drop_deg", "pelvic_rotation_range_deg",
)

#: The keys of a step a reader requires: what makes it a step (a missing value of it is
#: ``null``, unknown, as written).
_STEP_KEYS: Final = ("ic_s", "activity")


@dataclass(frozen=True, eq=False)
class StepTable(_Refrozen):
    """One row per step (IC of one foot to the next IC of the other), in time order.

    Times are in the input's own time base (s). NaN = not measured (definitions and validity in
    ``docs/metrics.md``). Walking steps carry their timing (``to_s`` and ``contact_s``, the
    stance time, where the toe-off was found; a walking foot leaves the ground after the other
    one lands, so ``flight_s`` is NaN) and no running metrics.

    Attributes:
        ic_s / to_s: initial contact and toe-off, s.
        side: :class:`imurun.signal.events.Side` code of the foot in contact (-1 unknown).
        activity: ``"run"`` or ``"walk"``.
        contact_s / flight_s / step_s: contact time, flight time (TO to the next IC) and step
            time (IC to the next IC), s.
        vertical_oscillation_m: range of the sacrum's height over the step, m.
        braking_mps: forward speed lost from IC to its minimum in stance, m/s (>= 0).
        impact_g: peak vertical specific force in stance, g.
        peak_force_bw: estimated peak vertical ground reaction force, body weights.
        vertical_stiffness_kn_m: Morin et al. (2005) vertical stiffness, kN/m (needs mass).
        pelvic_tilt_range_deg / pelvic_rotation_range_deg: max - min from this IC to the next.
        pelvic_drop_deg: how far the swing-side hip drops in stance relative to IC, degrees.
        segment: index of the contiguous stretch of samples the step lies in.
        saturated: the accelerometer clipped during the step's stance (impact is then NaN).

    """

    ic_s: FloatArray
    to_s: FloatArray
    side: npt.NDArray[np.int8]
    activity: npt.NDArray[np.str_]
    contact_s: FloatArray
    flight_s: FloatArray
    step_s: FloatArray
    vertical_oscillation_m: FloatArray
    braking_mps: FloatArray
    impact_g: FloatArray
    peak_force_bw: FloatArray
    vertical_stiffness_kn_m: FloatArray
    pelvic_tilt_range_deg: FloatArray
    pelvic_drop_deg: FloatArray
    pelvic_rotation_range_deg: FloatArray
    segment: IntArray
    saturated: BoolArray

    def __post_init__(self) -> None:
        n = np.asarray(self.ic_s).shape[0] if np.ndim(self.ic_s) == 1 else -1
        for name in STEP_FLOAT_FIELDS:
            object.__setattr__(self, name, _frozen_array(getattr(self, name), np.float64, name, n))
        object.__setattr__(self, "side", _frozen_array(self.side, np.int8, "side", n))
        object.__setattr__(self, "activity", _frozen_array(self.activity, "<U4", "activity", n))
        object.__setattr__(self, "segment", _frozen_array(self.segment, np.int64, "segment", n))
        object.__setattr__(self, "saturated", _frozen_array(self.saturated, np.bool_, "saturated", n))
        bad = set(np.unique(self.activity).tolist()) - set(STEP_ACTIVITIES)
        if bad:
            raise SignalError(f"StepTable.activity must be 'run' or 'walk', got {sorted(bad)}")

    def __len__(self) -> int:
        return int(self.ic_s.shape[0])

    @property
    def is_running(self) -> BoolArray:
        """Per step, whether it is a running step (``activity == "run"``), as a bool array."""
        return np.asarray(self.activity == "run")

    @classmethod
    def empty(cls) -> StepTable:
        """A table of no steps (every column of length 0)."""
        z = np.zeros(0)
        return cls(**{f: z for f in STEP_FLOAT_FIELDS}, side=np.zeros(0, np.int8),
                   activity=np.zeros(0, "<U4"), segment=np.zeros(0, np.int64),
                   saturated=np.zeros(0, bool))

    def select(self, mask: npt.ArrayLike) -> StepTable:
        """The rows where ``mask`` is true (or the given indices)."""
        m = np.asarray(mask)
        return StepTable(**{f.name: getattr(self, f.name)[m] for f in fields(self)})

    def to_records(self) -> list[dict[str, Any]]:
        """The steps as JSON-ready objects (``side`` ``"L"``/``"R"``/``None``)."""
        cols = {name: getattr(self, name).tolist() for name in STEP_FLOAT_FIELDS}
        side = [None if s < 0 else ("L" if s == Side.LEFT else "R") for s in self.side.tolist()]
        act = self.activity.tolist()
        seg = self.segment.tolist()
        sat = self.saturated.tolist()
        out = []
        for i in range(len(self)):
            rec: dict[str, Any] = {"ic_s": _num(cols["ic_s"][i]), "to_s": _num(cols["to_s"][i]),
                                   "side": side[i], "activity": act[i]}
            for name in STEP_FLOAT_FIELDS[2:]:
                rec[name] = _num(cols[name][i])
            rec["segment"] = seg[i]
            rec["saturated"] = sat[i]
            out.append(rec)
        return out

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]]) -> StepTable:
        """Read :meth:`to_records`'s objects back (``None`` of a value is NaN)."""
        if not records:
            return cls.empty()
        for i, r in enumerate(records):
            _require(r, _STEP_KEYS, f"steps[{i}].")
        side_code = {"L": Side.LEFT, "R": Side.RIGHT, None: Side.UNKNOWN}
        kw: dict[str, Any] = {name: [_flt(r.get(name)) for r in records]
                              for name in STEP_FLOAT_FIELDS}
        sides = [r.get("side") for r in records]
        bad = next((i for i, x in enumerate(sides) if not isinstance(x, str | None)
                    or x not in side_code), None)
        if bad is not None:
            raise SignalError(f"steps[{bad}].side must be 'L', 'R' or null, got "
                              f"{sides[bad]!r}")
        kw["side"] = [int(side_code[x]) for x in sides]
        kw["activity"] = [str(r["activity"]) for r in records]
        kw["segment"] = [int(r.get("segment", 0)) for r in records]
        kw["saturated"] = [bool(r.get("saturated", False)) for r in records]
        return cls(**kw)


# ============================================================================ summary parts
@dataclass(frozen=True)
class MetricSpread:
    """Distribution of one summary metric over the running steps, in the summary's unit."""

    name: str
    unit: str
    n: int
    median: float
    p25: float
    p75: float
    left_median: float
    right_median: float

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "n": self.n, "median": _num(self.median),
                "p25": _num(self.p25), "p75": _num(self.p75),
                "left_median": _num(self.left_median), "right_median": _num(self.right_median)}

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> MetricSpread:
        return cls(name, str(d.get("unit", "")), int(d.get("n", 0)), _flt(d.get("median")),
                   _flt(d.get("p25")), _flt(d.get("p75")), _flt(d.get("left_median")),
                   _flt(d.get("right_median")))


@dataclass(frozen=True, eq=False)
class PerMinute(_Refrozen):
    """Medians of the running steps per minute of elapsed time (NaN where no running step).

    ``minute_start_s`` is in the input's time base; ``values`` has one array per name in
    ``names`` (the summary metric names, summary units).
    """

    minute_start_s: FloatArray
    n_steps: IntArray
    names: tuple[str, ...]
    values: tuple[FloatArray, ...]

    def __post_init__(self) -> None:
        n = np.asarray(self.minute_start_s).shape[0]
        object.__setattr__(self, "minute_start_s",
                           _frozen_array(self.minute_start_s, np.float64, "minute_start_s", n))
        object.__setattr__(self, "n_steps", _frozen_array(self.n_steps, np.int64, "n_steps", n))
        if len(self.names) != len(self.values):
            raise SignalError("PerMinute.names and values differ in length")
        object.__setattr__(self, "values", tuple(
            _frozen_array(v, np.float64, nm, n) for nm, v in zip(self.names, self.values, strict=True)))

    def series(self, name: str) -> FloatArray:
        """One metric's value per minute (aligned with :attr:`minute_start_s`), in its unit.

        ``name`` is a summary metric (``"cadence_spm"``, ``"contact_ms"``...: :attr:`names`).

        Raises:
            UnknownNameError: ``name`` is not one of :attr:`names` (a ``KeyError`` and a
                ``ValueError``).

        """
        if name not in self.names:
            raise UnknownNameError("per-minute metric", name, self.names)
        return self.values[self.names.index(name)]

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"minute_start_s": [_num(x) for x in self.minute_start_s.tolist()],
                             "n_steps": self.n_steps.tolist()}
        for nm, v in zip(self.names, self.values, strict=True):
            d[nm] = [_num(x) for x in v.tolist()]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PerMinute:
        names = tuple(k for k in d if k not in ("minute_start_s", "n_steps"))
        return cls(np.array([_flt(x) for x in d.get("minute_start_s", [])]),
                   np.array(d.get("n_steps", []), dtype=np.int64), names,
                   tuple(np.array([_flt(x) for x in d[k]]) for k in names))


@dataclass(frozen=True)
class Drift:
    """First third vs last third of the running time (fatigue view), summary units."""

    name: str
    unit: str
    first_third: float
    last_third: float

    @property
    def change(self) -> float:
        """Last third minus first third, in the metric's :attr:`unit` (NaN when unknown)."""
        return self.last_third - self.first_third

    @property
    def change_pct(self) -> float:
        """:attr:`change` in % of the first third's magnitude (NaN when unknown or 0)."""
        if not (np.isfinite(self.first_third) and self.first_third != 0):
            return math.nan
        return 100.0 * self.change / abs(self.first_third)

    def to_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "first_third": _num(self.first_third),
                "last_third": _num(self.last_third), "change": _num(self.change),
                "change_pct": _num(self.change_pct)}

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> Drift:
        return cls(name, str(d.get("unit", "")), _flt(d.get("first_third")),
                   _flt(d.get("last_third")))


@dataclass(frozen=True)
class TimeBreakdown:
    """Seconds of the recording by what happened to them (``reason`` is a short key)."""

    reason: str
    seconds: float
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "seconds": _num(self.seconds),
                "description": self.description}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TimeBreakdown:
        return cls(str(d["reason"]), _flt(d.get("seconds")), str(d.get("description", "")))


@dataclass(frozen=True, eq=False)
class MountingReport(_Refrozen):
    """How the sensor sat on the sacrum, as estimated (or assumed) for this analysis.

    ``r_bs`` rotates sensor-frame vectors into the body frame (``v_bf = r_bs @ v_sf``).
    ``method`` says where it came from (``"estimated"``, ``"given"``, ``"assumed upright"``);
    ``quality`` is the estimator's own confidence measure when it gives one (NaN otherwise).
    """

    r_bs: FloatArray
    method: str
    description: str = ""
    quality: float = math.nan

    def __post_init__(self) -> None:
        r = np.array(self.r_bs, dtype=np.float64, copy=True)
        if r.shape != (3, 3):
            raise SignalError(f"MountingReport.r_bs must be 3x3, got {r.shape}")
        r.setflags(write=False)
        object.__setattr__(self, "r_bs", r)

    def to_dict(self) -> dict[str, Any]:
        return {"r_bs": [[_num(x) for x in row] for row in self.r_bs.tolist()],
                "method": self.method, "description": self.description,
                "quality": _num(self.quality)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MountingReport:
        return cls(np.array([[_flt(x) for x in row] for row in d["r_bs"]]), str(d["method"]),
                   str(d.get("description", "")), _flt(d.get("quality")))

#: The keys of ``summary.quality`` a reader requires: its counts, flag and lists, which a
#: missing key would make 0, false or empty (a missing number of seconds or hertz is unknown).
_QUALITY_KEYS: Final = (
    "n_samples", "has_gyroscope", "n_segments", "n_gaps", "gaps_by_cause", "frames_lost",
    "frames_corrupt", "samples_missing", "reboots", "disconnects", "bridged_gaps",
    "bridged_samples", "resampled_segments", "saturated_samples", "mounting", "time",
)


@dataclass(frozen=True, eq=False)
class DataQuality:
    """What the input was like and how much of it was analysed.

    ``gaps_by_cause`` holds ``(cause, count, seconds)``; ``time`` breaks the recording's wall
    duration down by what happened to each second (``"running"`` and ``"walking"`` were
    analysed; everything else was not, and the entry says why). ``fs_hz`` is the recording's
    rate, ``analysed_fs_hz`` the rate of the samples the analysis ran on: higher when the
    clean-up interpolated a slow recording (NaN in an analysis made before it said so).
    ``has_gyroscope``: whether the analysis used angular rates (``False`` for a gyroscope with
    an axis that was not measured, which :attr:`RunAnalysis.notes` names).
    """

    duration_s: float
    n_samples: int
    fs_hz: float
    has_gyroscope: bool
    n_segments: int
    n_gaps: int
    gap_s: float
    gaps_by_cause: tuple[tuple[str, int, float], ...]
    frames_lost: int
    frames_corrupt: int
    samples_missing: int
    reboots: int
    disconnects: int
    bridged_gaps: int
    bridged_samples: int
    resampled_segments: int
    saturated_samples: int
    mounting: MountingReport
    time: tuple[TimeBreakdown, ...]
    notes: tuple[str, ...] = ()
    analysed_fs_hz: float = math.nan

    def seconds(self, reason: str) -> float:
        """Seconds of the recording counted under ``reason``; 0 for a reason with no time.

        ``reason`` is a :attr:`time` entry's: ``"running"``, ``"walking"``, ``"standing"``,
        ``"other"``, ``"gap"``, ``"short_segment"``...
        """
        return float(sum(t.seconds for t in self.time if t.reason == reason))

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": _num(self.duration_s), "n_samples": self.n_samples,
            "fs_hz": _num(self.fs_hz), "analysed_fs_hz": _num(self.analysed_fs_hz),
            "has_gyroscope": self.has_gyroscope,
            "n_segments": self.n_segments, "n_gaps": self.n_gaps, "gap_s": _num(self.gap_s),
            "gaps_by_cause": [{"cause": c, "count": n, "seconds": _num(s)}
                              for c, n, s in self.gaps_by_cause],
            "frames_lost": self.frames_lost, "frames_corrupt": self.frames_corrupt,
            "samples_missing": self.samples_missing, "reboots": self.reboots,
            "disconnects": self.disconnects, "bridged_gaps": self.bridged_gaps,
            "bridged_samples": self.bridged_samples,
            "resampled_segments": self.resampled_segments,
            "saturated_samples": self.saturated_samples, "mounting": self.mounting.to_dict(),
            "time": [t.to_dict() for t in self.time], "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataQuality:
        _require(d, _QUALITY_KEYS, "summary.quality.")
        return cls(
            duration_s=_flt(d.get("duration_s")), n_samples=int(d.get("n_samples", 0)),
            fs_hz=_flt(d.get("fs_hz")), has_gyroscope=bool(d.get("has_gyroscope", False)),
            n_segments=int(d.get("n_segments", 0)), n_gaps=int(d.get("n_gaps", 0)),
            gap_s=_flt(d.get("gap_s")),
            gaps_by_cause=tuple((str(g["cause"]), int(g["count"]), _flt(g["seconds"]))
                                for g in d.get("gaps_by_cause", [])),
            frames_lost=int(d.get("frames_lost", 0)),
            frames_corrupt=int(d.get("frames_corrupt", 0)),
            samples_missing=int(d.get("samples_missing", 0)), reboots=int(d.get("reboots", 0)),
            disconnects=int(d.get("disconnects", 0)),
            bridged_gaps=int(d.get("bridged_gaps", 0)),
            bridged_samples=int(d.get("bridged_samples", 0)),
            resampled_segments=int(d.get("resampled_segments", 0)),
            saturated_samples=int(d.get("saturated_samples", 0)),
            mounting=MountingReport.from_dict(d["mounting"]),
            time=tuple(TimeBreakdown.from_dict(t) for t in d.get("time", [])),
            notes=tuple(str(x) for x in d.get("notes", [])),
            analysed_fs_hz=_flt(d.get("analysed_fs_hz")),
        )


# ============================================================================ summary
#: Headline fields of :class:`RunSummary` (JSON ``summary`` keys, in order) and their units.
SUMMARY_FIELDS: Final = (
    ("n_steps", "steps"), ("n_walking_steps", "steps"), ("running_s", "s"), ("walking_s", "s"),
    ("cadence_spm", "steps/min"), ("contact_ms", "ms"), ("flight_ms", "ms"),
    ("step_ms", "ms"), ("contact_balance_left_pct", "%"), ("vertical_oscillation_cm", "cm"),
    ("braking_mps", "m/s"), ("impact_g", "g"), ("peak_force_bw", "BW"),
    ("vertical_stiffness_kn_m", "kN/m"), ("pelvic_tilt_range_deg", "deg"),
    ("pelvic_drop_stance_left_deg", "deg"), ("pelvic_drop_stance_right_deg", "deg"),
    ("pelvic_rotation_range_deg", "deg"), ("step_time_cv_pct", "%"),
    ("side_known_pct", "%"), ("impact_clipped_pct", "%"), ("impact_at_least_g", "g"),
)

#: The keys of ``summary`` a reader requires: the step counts and the parts, which a missing
#: key would make 0 or empty (a missing headline value is unknown, as ``null``).
_SUMMARY_KEYS: Final = ("n_steps", "n_walking_steps", "spread", "per_minute", "drift", "quality")

#: The metric names an analysis can say are unavailable (:meth:`RunAnalysis.reason_unavailable`):
#: the :class:`RunSummary` fields, then the :class:`StepTable` columns not among them.
METRIC_NAMES: Final = tuple(dict.fromkeys([*(name for name, _ in SUMMARY_FIELDS),
                                           *STEP_FLOAT_FIELDS]))


@dataclass(frozen=True, eq=False)
class RunSummary:
    """The run in numbers. Medians over the running steps unless said otherwise.

    A value that could not be measured is NaN here (``null`` in the JSON);
    :meth:`RunAnalysis.reason_unavailable` says why.

    Attributes:
        n_steps: running steps (the steps that feed the running metrics).
        n_walking_steps: walking steps.
        running_s / walking_s: summed step times of running / walking steps, s.
        cadence_spm: 60 / median step time, steps per minute (both feet).
        contact_ms / flight_ms / step_ms: medians, ms.
        contact_balance_left_pct: left median contact / (left + right medians), %.
        vertical_oscillation_cm, braking_mps, impact_g, peak_force_bw,
        vertical_stiffness_kn_m, pelvic_tilt_range_deg, pelvic_rotation_range_deg: medians.
        pelvic_drop_stance_left_deg / _right_deg: median drop of the swing-side (right /
            left) hip during left / right stance.
        step_time_cv_pct: step-to-step variability: 100 x (robust SD / median) of step time
            within running bouts, each step against the running median of its own foot's steps
            (robust SD = 1.4826 x median absolute deviation).
        side_known_pct: share of running steps whose side is known, %.
        spread / per_minute / drift / quality: see their types.
        impact_clipped_pct: share of the running steps with an impact whose stance clipped
            the sensor, %. A clipped step's impact is *at least* the sensor's limit, above
            every unclipped step's: it counts in the impact medians as a value above all the
            others (right-censored), so a median stays exact while fewer than half of its
            steps clipped, and is NaN otherwise (NaN when no step has an impact).
        impact_at_least_g: when half or more of the steps clipped (``impact_g`` NaN), a lower
            bound of the median impact: the largest impact of an unclipped step (the limit
            is above it). NaN otherwise.

    """

    n_steps: int
    n_walking_steps: int
    running_s: float
    walking_s: float
    cadence_spm: float
    contact_ms: float
    flight_ms: float
    step_ms: float
    contact_balance_left_pct: float
    vertical_oscillation_cm: float
    braking_mps: float
    impact_g: float
    peak_force_bw: float
    vertical_stiffness_kn_m: float
    pelvic_tilt_range_deg: float
    pelvic_drop_stance_left_deg: float
    pelvic_drop_stance_right_deg: float
    pelvic_rotation_range_deg: float
    step_time_cv_pct: float
    side_known_pct: float
    spread: tuple[MetricSpread, ...]
    per_minute: PerMinute
    drift: tuple[Drift, ...]
    quality: DataQuality
    impact_clipped_pct: float = math.nan
    impact_at_least_g: float = math.nan

    def get_spread(self, name: str) -> MetricSpread:
        """The spread (median, quartiles, left/right medians) of metric ``name``, in its unit.

        Raises:
            UnknownNameError: no spread of that name (a ``KeyError``); the message lists them.

        """
        for s in self.spread:
            if s.name == name:
                return s
        raise UnknownNameError("spread of", name, tuple(s.name for s in self.spread))

    def get_drift(self, name: str) -> Drift:
        """The first-third / last-third drift of metric ``name``, in its unit.

        Raises:
            UnknownNameError: no drift of that name (a ``KeyError``); the message lists them.

        """
        for d in self.drift:
            if d.name == name:
                return d
        raise UnknownNameError("drift of", name, tuple(d.name for d in self.drift))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {name: _num(getattr(self, name)) for name, _ in SUMMARY_FIELDS}
        d["units"] = dict(SUMMARY_FIELDS)
        d["spread"] = {s.name: s.to_dict() for s in self.spread}
        d["per_minute"] = self.per_minute.to_dict()
        d["drift"] = {x.name: x.to_dict() for x in self.drift}
        d["quality"] = self.quality.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSummary:
        _require(d, _SUMMARY_KEYS, "summary.")
        kw: dict[str, Any] = {}
        for name, _ in SUMMARY_FIELDS:
            kw[name] = int(d.get(name) or 0) if name.startswith("n_") else _flt(d.get(name))
        kw["spread"] = tuple(MetricSpread.from_dict(k, v) for k, v in d.get("spread", {}).items())
        kw["per_minute"] = PerMinute.from_dict(d.get("per_minute", {}))
        kw["drift"] = tuple(Drift.from_dict(k, v) for k, v in d.get("drift", {}).items())
        kw["quality"] = DataQuality.from_dict(d["quality"])
        return cls(**kw)


# ============================================================================ indicators
@dataclass(frozen=True)
class Evidence:
    """A published source behind an indicator, and what it found (in our words)."""

    citation: str
    finding: str

    def to_dict(self) -> dict[str, str]:
        return {"citation": self.citation, "finding": self.finding}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        return cls(str(d["citation"]), str(d.get("finding", "")))


@dataclass(frozen=True)
class Indicator:
    """One form indicator. An indicator, never a diagnosis.

    Attributes:
        key: stable identifier (``"overstriding"``, ``"pelvic_drop_left"``, ...).
        title: short human title.
        metric: the summary metric the value comes from, or ``pelvic_anterior_tilt_deg`` (the
            median running tilt relative to standing, which the summary does not hold).
        value: the runner's value in ``unit`` (NaN when it cannot be computed).
        unit: unit of ``value`` and ``threshold``.
        threshold: the value beyond which the indicator is raised (NaN when the indicator is
            only judged against the runner's own baseline).
        direction: ``"above"`` or ``"below"``: which side of the threshold raises it.
        level: ``"not_raised"``, ``"raised"``, ``"strongly_raised"``, ``"info"`` (no threshold:
            tracked against the runner's own baseline) or ``"unknown"``.
        evidence: the published sources behind the indicator.
        message: plain-language explanation for the runner.
        baseline_value: the same metric in the runner's baseline (NaN without one).
        change_from_baseline: ``value - baseline_value``.
        reason: why the level is ``"unknown"`` (empty otherwise).

    """

    key: str
    title: str
    metric: str
    value: float
    unit: str
    threshold: float
    direction: str
    level: str
    evidence: tuple[Evidence, ...]
    message: str
    baseline_value: float = math.nan
    change_from_baseline: float = math.nan
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "metric": self.metric,
                "value": _num(self.value), "unit": self.unit, "threshold": _num(self.threshold),
                "direction": self.direction, "level": self.level,
                "evidence": [e.to_dict() for e in self.evidence], "message": self.message,
                "baseline_value": _num(self.baseline_value),
                "change_from_baseline": _num(self.change_from_baseline), "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Indicator:
        return cls(str(d["key"]), str(d.get("title", "")), str(d.get("metric", "")),
                   _flt(d.get("value")), str(d.get("unit", "")), _flt(d.get("threshold")),
                   str(d.get("direction", "")), str(d["level"]),
                   tuple(Evidence.from_dict(e) for e in d.get("evidence", [])),
                   str(d.get("message", "")), _flt(d.get("baseline_value")),
                   _flt(d.get("change_from_baseline")), str(d.get("reason", "")))


# ============================================================================ the whole
@dataclass(frozen=True, eq=False)
class ActivityBouts(_Refrozen):
    """The activity timeline: contiguous bouts, in time order, covering the recording.

    ``activity`` holds indices into :data:`ACTIVITIES` (``"gap"`` = no samples, ``"paused"`` =
    no samples because the recording was paused).
    """

    start_s: FloatArray
    end_s: FloatArray
    activity: npt.NDArray[np.int8]

    def __post_init__(self) -> None:
        n = np.asarray(self.start_s).shape[0]
        object.__setattr__(self, "start_s", _frozen_array(self.start_s, np.float64, "start_s", n))
        object.__setattr__(self, "end_s", _frozen_array(self.end_s, np.float64, "end_s", n))
        object.__setattr__(self, "activity", _frozen_array(self.activity, np.int8, "activity", n))

    def __len__(self) -> int:
        return int(self.start_s.shape[0])

    def seconds(self, label: str) -> float:
        """Seconds spent in activity ``label`` (one of :data:`ACTIVITIES`), bouts summed.

        Raises:
            UnknownNameError: ``label`` is not an activity (a ``ValueError`` and a ``KeyError``).

        """
        if label not in ACTIVITIES:
            raise UnknownNameError("activity", label, tuple(ACTIVITIES))
        m = self.activity == ACTIVITIES.index(label)
        return float(np.sum(self.end_s[m] - self.start_s[m]))

    def labels(self) -> list[str]:
        """The activity of each bout as its name (``"run"``, ``"walk"``, ``"stand"``...)."""
        return [ACTIVITIES[k] for k in self.activity.tolist()]

    def to_records(self) -> list[dict[str, Any]]:
        """The bouts as JSON-ready objects.

        ``start_s``, ``end_s`` (seconds, the recording's time base) and ``activity`` (its name).
        """
        return [{"start_s": _num(a), "end_s": _num(b), "activity": ACTIVITIES[k]}
                for a, b, k in zip(self.start_s.tolist(), self.end_s.tolist(),
                                   self.activity.tolist(), strict=True)]

    @classmethod
    def from_records(cls, recs: Sequence[Mapping[str, Any]]) -> ActivityBouts:
        """Read :meth:`to_records`'s objects; a name not in :data:`ACTIVITIES` is ``"other"``.

        A newer imurun may add names (as ``"paused"`` was added): its files stay readable here,
        their new bouts read as what this version can say of them (:meth:`RunAnalysis.from_dict`
        says so in a note).
        """
        other = ACTIVITIES.index("other")
        code = {name: k for k, name in enumerate(ACTIVITIES)}
        return cls(np.array([_flt(r["start_s"]) for r in recs]),
                   np.array([_flt(r["end_s"]) for r in recs]),
                   np.array([code.get(r["activity"], other) if isinstance(r["activity"], str)
                             else other for r in recs], dtype=np.int8))


def _unknown_activities(recs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The activity names of an activity timeline that this version does not know, once each."""
    names = (str(r.get("activity")) for r in recs)
    return list(dict.fromkeys(n for n in names if n not in ACTIVITIES))


def _unknown_activities_note(names: Sequence[str], made_by: str) -> str:
    """The note of an analysis whose activity timeline has names this version does not know."""
    quoted = ", ".join(f"'{n}'" for n in names)
    by = f" by imurun {made_by}" if made_by else ""
    return (f"the activity timeline of this analysis (made{by}) has {quoted}, which this imurun "
            "does not know: read as 'other' (samples, neither running, walking nor standing); "
            "a newer imurun reads it as meant")


@dataclass(frozen=True)
class Unavailable:
    """A metric that is ``null`` throughout, and why."""

    metric: str
    reason: str


@dataclass(frozen=True)
class SourceInfo:
    """Where the analysed samples came from."""

    path: str = ""
    source_format: str = ""
    device_id: str | None = None
    firmware_version: str | None = None
    start_unix_s: float | None = None
    t_start_s: float = math.nan
    t_end_s: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.source_format, "device_id": self.device_id,
                "firmware_version": self.firmware_version,
                "start_unix_s": _num(self.start_unix_s), "t_start_s": _num(self.t_start_s),
                "t_end_s": _num(self.t_end_s)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SourceInfo:
        return cls(str(d.get("path", "")), str(d.get("format", "")), d.get("device_id"),
                   d.get("firmware_version"), _opt(d.get("start_unix_s")),
                   _flt(d.get("t_start_s")), _flt(d.get("t_end_s")))


@dataclass(frozen=True, eq=False)
class RunAnalysis:
    """Everything :func:`imurun.analyze` found in one recording.

    ``parameters`` says how it was made: ``"settings"``, the
    :class:`imurun.analysis.AnalysisSettings` used as plain data (``dataclasses.asdict``), and
    ``"mass_kg"``, ``"acc_unit"``, ``"gyr_unit"``, ``"mounting_given"``, ``"baseline_given"``
    (``docs/analysis-json.md``); ``version`` is the imurun version that made it.
    """

    steps: StepTable
    summary: RunSummary
    indicators: tuple[Indicator, ...]
    activity: ActivityBouts
    unavailable: tuple[Unavailable, ...]
    source: SourceInfo
    parameters: Mapping[str, Any]
    version: str
    notes: tuple[str, ...] = field(default=())

    @property
    def running_steps(self) -> StepTable:
        """The running steps of :attr:`steps` (walking steps left out)."""
        return self.steps.select(self.steps.is_running)

    def indicator(self, key: str) -> Indicator:
        """The form indicator ``key`` (``"overstriding"``, ``"asymmetry"``...).

        Raises:
            UnknownNameError: no indicator of that key (a ``KeyError``); the message lists the
                keys of :attr:`indicators`.

        """
        for ind in self.indicators:
            if ind.key == key:
                return ind
        raise UnknownNameError("indicator", key, tuple(i.key for i in self.indicators))

    def reason_unavailable(self, metric: str) -> str | None:
        """Why ``metric`` is NaN throughout (``"body mass unknown: ..."``), else ``None``.

        ``metric`` is a :class:`RunSummary` field (``"cadence_spm"``, ``"contact_balance_left_pct"``)
        or a :class:`StepTable` column (``"pelvic_drop_deg"``); ``None`` means it is not listed
        in :attr:`unavailable` (it was measured).

        Raises:
            UnknownNameError: ``metric`` is not a metric name (``"cadence"`` for
                ``"cadence_spm"``; a ``KeyError`` and a ``ValueError``); the message lists them.

        """
        for u in self.unavailable:
            if u.metric == metric:
                return u.reason
        if metric not in METRIC_NAMES:  # (a name listed above, from a newer imurun, answered)
            raise UnknownNameError("metric", metric, METRIC_NAMES)
        return None

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """The JSON document as plain Python objects (``schema`` first)."""
        return {
            "schema": SCHEMA,
            "imurun_version": self.version,
            "source": self.source.to_dict(),
            "parameters": _plain(self.parameters),
            "summary": self.summary.to_dict(),
            "indicators": [i.to_dict() for i in self.indicators],
            "unavailable": {u.metric: u.reason for u in self.unavailable},
            "activity": self.activity.to_records(),
            "notes": list(self.notes),
            "steps": self.steps.to_records(),
        }

    def to_json(self, indent: int | None = None) -> str:
        """JSON text (``"schema": "imurun.analysis/1"``); NaN is written as ``null``."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunAnalysis:
        schema = d.get("schema")
        if schema != SCHEMA:
            raise SignalError(f"not an imurun analysis document: schema {schema!r}, "
                              f"expected {SCHEMA!r}")
        _require(d, ("summary", "indicators", "steps"))  # (the others may be absent)
        version = str(d.get("imurun_version", ""))
        bouts = d.get("activity", [])
        notes = [str(x) for x in d.get("notes", [])]
        unknown = _unknown_activities(bouts)
        if unknown:  # from a newer imurun: read, and said once
            notes = list(dict.fromkeys([*notes, _unknown_activities_note(unknown, version)]))
        return cls(
            steps=StepTable.from_records(d["steps"]),
            summary=RunSummary.from_dict(d["summary"]),
            indicators=tuple(Indicator.from_dict(i) for i in d["indicators"]),
            activity=ActivityBouts.from_records(bouts),
            unavailable=tuple(Unavailable(str(k), str(v))
                              for k, v in d.get("unavailable", {}).items()),
            source=SourceInfo.from_dict(d.get("source", {})),
            parameters=dict(d.get("parameters", {})),
            version=version,
            notes=tuple(notes),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> RunAnalysis:
        """Read a document written by :meth:`to_json` (any ``imurun.analysis/1`` writer)."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise SignalError(f"not valid JSON: {e}") from e
        except UnicodeDecodeError as e:  # (bytes: a recording or other binary file)
            raise SignalError(f"not valid JSON: not UTF-8 text (byte 0x{e.object[e.start]:02x} "
                              f"at offset {e.start}): a binary file?") from e
        if not isinstance(d, dict):
            raise SignalError("an imurun analysis document is a JSON object")
        return cls.from_dict(d)


def _plain(x: Any) -> Any:
    """Parameters as JSON-safe plain data (tuples -> lists, NaN -> None)."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, float | np.floating):
        return _num(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x
