"""One verb for a whole run: ``imurun.analyze(source, **params) -> RunAnalysis``.

The pipeline (each stage a pure function of :mod:`imurun.signal`; ``docs/metrics.md`` defines
every number):

1. **Clean-up** (:func:`imurun.signal.cleanup.prepare`): very short gaps bridged, non-uniform
   segments resampled, saturation marked. Nothing is filtered across a gap.
2. **Mounting** (:func:`imurun.signal.mounting.estimate_mounting`): sensor frame -> sacrum body
   frame (x forward, y left, z up), unless given.
3. **Steps and activity**: the running detector finds candidate steps everywhere
   (:func:`imurun.signal.events.detect_running_events`); each is labelled run / walk / other
   by its flight phase and step time (:func:`imurun.signal.activity.classify_steps`); the
   running steps are kept, and walking is looked for with the walking detector everywhere
   outside running (walks: at least two consecutive steps of walking cadence). Samples
   outside steps are standing or other movement.
4. **Pelvis orientation** (:func:`imurun.signal.orientation.pelvis_orientation`, gyroscope
   needed): tilt, obliquity, rotation; the acceleration is rotated into the heading frame
   (vertical z, forward along the direction of travel).
5. **Per-step metrics** (:mod:`imurun.signal.metrics`, :mod:`imurun.signal.orientation`):
   contact/flight/step time, vertical oscillation, braking, impact, peak force, stiffness
   (with ``mass_kg``), pelvic tilt and rotation ranges and pelvic drop. Running steps only.
6. **Summary** (:func:`imurun.signal.summary.summarise`) and **form indicators**
   (:func:`imurun.signal.indicators.form_indicators`).

Accelerometer-only input runs the same pipeline without stage 4: timing, oscillation, braking
and impact are computed in the body frame; the pelvic metrics are ``null`` and
:attr:`RunAnalysis.unavailable` says why.
"""

from __future__ import annotations

import math
import numbers
import os
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from imurun import __version__
from imurun._timetext import time_text
from imurun.consts import BF_FORWARD, BF_LEFT, BF_UP, DEG2RAD, G_MS2
from imurun.errors import FileFormatError, MissingFileError, SignalError, UsageError
from imurun.ingest.files import (
    MAX_PLAUSIBLE_GYR_RADS,
    AccUnit,
    GyrUnit,
    TimeUnit,
    gravity_missing,
    load_recording,
    median_acc_norm,
    plausible_fs,
    robust_gyr_peak,
)
from imurun.ingest.recording import GAP_CAUSE_WORDS, GapCause, Recording
from imurun.signal import activity as act
from imurun.signal._segments import unmeasured_axes
from imurun.signal.activity import ActivitySettings
from imurun.signal.cleanup import CleanupSettings, PreparedSignal, prepare
from imurun.signal.events import (
    RunningSettings,
    StepEvents,
    WalkingSettings,
    detect_running_events,
    detect_walking_events,
)
from imurun.signal.indicators import IndicatorSettings, form_indicators
from imurun.signal.metrics import MetricSettings, running_step_metrics, vertical_stiffness_kn_m
from imurun.signal.mounting import (
    Mounting,
    MountingError,
    MountingSettings,
    estimate_mounting,
    rotate_rows,
)
from imurun.signal.orientation import (
    OrientationSettings,
    PelvisAngles,
    pelvic_step_metrics,
    pelvis_orientation,
)
from imurun.signal.results import (
    ActivityBouts,
    DataQuality,
    MountingReport,
    RunAnalysis,
    RunSummary,
    SourceInfo,
    StepTable,
    TimeBreakdown,
    Unavailable,
)
from imurun.signal.summary import SummarySettings, impact_reason, side_reasons, summarise

FloatArray = npt.NDArray[np.float64]

__all__ = ["AnalysisSettings", "RunAnalysis", "analyze", "analyze_timed", "format_report",
           "load_analysis", "write_analysis_json", "write_steps_csv"]

_PELVIC = ("pelvic_tilt_range_deg", "pelvic_drop_deg", "pelvic_rotation_range_deg")
#: The lowest sample rate of the data sets the step detection was validated on (walking at
#: 100 Hz; running at 500 Hz): below it, a note says event times are less precise.
_VALIDATED_FS_HZ = 100.0


@dataclass(frozen=True)
class AnalysisSettings:
    """Every tunable of :func:`analyze`, one settings object per stage.

    The defaults are the product; see each class for what its fields do.
    """

    cleanup: CleanupSettings = field(default_factory=CleanupSettings)
    mounting: MountingSettings = field(default_factory=MountingSettings)
    orientation: OrientationSettings = field(default_factory=OrientationSettings)
    running: RunningSettings = field(default_factory=RunningSettings)
    walking: WalkingSettings = field(default_factory=WalkingSettings)
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    metrics: MetricSettings = field(default_factory=MetricSettings)
    summary: SummarySettings = field(default_factory=SummarySettings)
    indicators: IndicatorSettings = field(default_factory=IndicatorSettings)


def analyze(
    source: Recording | str | os.PathLike[str],
    *,
    mass_kg: float | None = None,
    acc_unit: AccUnit | None = None,
    gyr_unit: GyrUnit | None = None,
    columns: Mapping[str, str] | None = None,
    time_unit: TimeUnit | None = None,
    mounting: Mounting | npt.ArrayLike | None = None,
    baseline: RunSummary | RunAnalysis | str | os.PathLike[str] | None = None,
    settings: AnalysisSettings | None = None,
) -> RunAnalysis:
    """Analyse one run: every step, the run summary and the form indicators.

    Args:
        source: a :class:`~imurun.ingest.recording.Recording`, or the path of any supported
            file (session ``.imrs``, stored run ``.imrn``, CSV, Xsens text export, Sensor
            Logger export folder, zip or JSON, phyphox export folder or zip): see
            :func:`imurun.load_recording`.
        mass_kg: body mass; enables vertical stiffness (kN/m). ``None``: stiffness is null.
        acc_unit: unit of the acceleration in a CSV or Xsens file (``"g"``); default m/s².
            Not allowed with a :class:`Recording` (it is already in SI units).
        gyr_unit: unit of the angular rate in a CSV or Xsens file (``"deg/s"``); default
            rad/s. Not allowed with a :class:`Recording`.
        columns: for a CSV whose header imurun cannot read by itself: canonical key
            (``time``, ``acc_x``... ``gyr_z``) -> column name.
        time_unit: unit of a CSV's time column (``"s"``, ``"ms"``, ``"us"``, ``"ns"``) when
            its name does not say it.
        mounting: the sensor-to-body rotation when known: a
            :class:`~imurun.signal.mounting.Mounting` or the ``(3, 3)`` matrix ``r_sb``
            (``v_bf = r_sb @ v_sf``). ``None`` (default): estimated from the signals.
        baseline: the runner's own reference run (a :class:`RunSummary`, a
            :class:`RunAnalysis`, or the path of a saved analysis JSON); indicators are then
            also compared with it.
        settings: :class:`AnalysisSettings` (defaults when ``None``).

    Returns:
        :class:`~imurun.signal.results.RunAnalysis` (``.to_json()`` for the exchange format).

    Raises:
        FileFormatError: the file, or the baseline, cannot be read (the error names it).
        UsageError: contradictory arguments, or a source that is neither a Recording nor a
            path.
        SignalError: arrays are inconsistent, or a Recording's rate or units are plainly not
            what it holds (times in ms, acceleration in g, angular rate in deg/s).

    """
    cfg = AnalysisSettings() if settings is None else settings
    # The arguments first: a wrong one is said before a long file is read.
    if not isinstance(cfg, AnalysisSettings):
        raise UsageError(f"settings must be an imurun.AnalysisSettings, got "
                         f"{type(cfg).__name__}; change a field with dataclasses.replace")
    if mass_kg is not None and not (isinstance(mass_kg, numbers.Real) and not isinstance(
            mass_kg, bool) and math.isfinite(mass_kg) and 20.0 <= mass_kg <= 250.0):
        shown = mass_kg if isinstance(mass_kg, numbers.Real) else repr(mass_kg)
        raise UsageError(f"mass_kg must be a body mass in kg (20..250), got {shown}")
    if mass_kg is not None:
        mass_kg = float(mass_kg)  # a NumPy float32 would keep the stiffness in float32
    if isinstance(source, Recording):
        if acc_unit is not None or gyr_unit is not None or columns or time_unit is not None:
            raise UsageError("acc_unit / gyr_unit / columns / time_unit apply to files; a "
                             "Recording is already SI")
        _check_si(source)
        rec = source
    elif not isinstance(source, str | os.PathLike):
        raise UsageError(f"source must be a Recording or the path of a file, got "
                         f"{type(source).__name__}; arrays become a Recording with "
                         "imurun.Recording.from_arrays(t_s, acc_ms2, gyr_rads)")
    else:
        rec = load_recording(source, acc_unit=acc_unit, gyr_unit=gyr_unit, columns=columns,
                             time_unit=time_unit)
    return _prepare_pipeline(rec, cfg, mass_kg, mounting, baseline, acc_unit, gyr_unit).run()


def _check_si(rec: Recording) -> None:
    """Refuse a recording whose rate or units plainly are not what a :class:`Recording` holds.

    The same limits and measures as for files (:mod:`imurun.ingest.files`): a rate no
    body-worn IMU records at (times in ms, mostly), acceleration in g (median |a| near 1 where
    gravity alone is 9.8 m/s²), angular rate in deg/s (a pelvis never turns at 20 rad/s),
    linear acceleration (gravity removed: nothing then says which way is up).
    Without this, such arrays were analysed as they were and gave a run without running, or
    wrong metrics.
    """
    if not plausible_fs(rec.fs_hz):
        raise SignalError(f"a sample rate of {rec.fs_hz:.6g} Hz is not plausible for a body-worn "
                          "IMU: t_s must be in seconds (from_arrays infers the rate from it)")
    why = gravity_missing(rec.acc_ms2, rec.fs_hz)
    if why is not None:
        raise SignalError(f"{why}: acc_ms2 must be the accelerometer's own reading, gravity "
                          "included (add the gravity vector back to linear acceleration)")
    check_si_units(rec.acc_ms2, rec.gyr_rads, "a Recording holds")


def check_si_units(acc_ms2: FloatArray, gyr_rads: FloatArray | None, holder: str) -> None:
    """:class:`SignalError` when samples plainly are not in m/s² and rad/s.

    Acceleration in g (median |a| near 1 where gravity alone is 9.8 m/s²) or angular rate in
    deg/s (a pelvis never turns at 20 rad/s), measured as for files; ``holder`` names what
    takes SI units in the message (e.g. ``"a Recording holds"``).
    """
    mag = median_acc_norm(acc_ms2)
    if 0.5 < mag < 2.0:
        raise SignalError(f"acceleration looks like it is in g (median |a| = {mag:.2f}); "
                          f"{holder} m/s²: multiply it by {G_MS2} (imurun.consts.G_MS2)")
    if gyr_rads is not None:
        peak = robust_gyr_peak(gyr_rads)
        if peak > MAX_PLAUSIBLE_GYR_RADS:
            raise SignalError(f"angular rate looks like it is in deg/s (99.9th percentile of |ω| "
                              f"{peak:.0f}); {holder} rad/s: convert it with numpy.radians")


def analyze_timed(source: Recording, *, clock: Literal["wall", "cpu"] = "wall",
                  **kwargs: Any) -> tuple[RunAnalysis, dict[str, float]]:
    """:func:`analyze` of a :class:`Recording`, plus the seconds spent in each stage.

    For benchmarks (``benchmarks/signal.py``); stages: ``cleanup``, ``mounting``,
    ``events_activity``, ``orientation``, ``step_metrics``, ``timeline``,
    ``summary_indicators``. ``clock="wall"``: elapsed time; ``"cpu"``: CPU time of this
    process (:func:`time.process_time`, every thread included, so it does not depend on
    other processes sharing the machine but counts BLAS helper threads).
    """
    if clock not in ("wall", "cpu"):
        raise UsageError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    cfg = kwargs.pop("settings", None) or AnalysisSettings()
    pipe = _prepare_pipeline(source, cfg, kwargs.pop("mass_kg", None),
                             kwargs.pop("mounting", None), kwargs.pop("baseline", None), None,
                             None)
    if kwargs:
        raise UsageError(f"unknown arguments: {', '.join(kwargs)}")
    result = pipe.run()
    return result, dict(pipe.timings_s if clock == "wall" else pipe.cpu_timings_s)


def _prepare_pipeline(rec: Recording, cfg: AnalysisSettings, mass_kg: float | None,
                      mounting: Mounting | npt.ArrayLike | None,
                      baseline: RunSummary | RunAnalysis | str | os.PathLike[str] | None,
                      acc_unit: str | None, gyr_unit: str | None) -> _Pipeline:
    base, base_tilt = _baseline(baseline)
    params: dict[str, Any] = {
        "settings": asdict(cfg), "mass_kg": mass_kg, "acc_unit": acc_unit,
        "gyr_unit": gyr_unit, "mounting_given": mounting is not None,
        "baseline_given": base is not None,
    }
    return _Pipeline(rec, cfg, mass_kg, mounting, base, params, base_tilt)


def _baseline(b: RunSummary | RunAnalysis | str | os.PathLike[str] | None,
              ) -> tuple[RunSummary | None, float]:
    """The baseline's summary, and its anterior tilt relative to standing (NaN when unknown).

    The anterior tilt is not a summary field: it comes from the ``anterior_tilt`` indicator of a
    baseline analysis (a bare :class:`RunSummary` does not have it).
    """
    if b is None or isinstance(b, RunSummary):
        return b, math.nan
    if not isinstance(b, RunAnalysis):
        if not isinstance(b, str | os.PathLike):
            raise UsageError(f"baseline must be a RunAnalysis, a RunSummary or the path of a "
                             f"saved analysis, got {type(b).__name__}")
        try:
            b = load_analysis(b)
        except FileFormatError as e:
            kind = MissingFileError if isinstance(e, MissingFileError) else FileFormatError
            raise kind(e.path, f"cannot be the baseline: {e.reason}") from e
    tilt = math.nan
    for ind in b.indicators:
        if ind.key == "anterior_tilt" and ind.metric == "pelvic_anterior_tilt_deg":
            tilt = float(ind.value)
    return b.summary, tilt


def load_analysis(path: str | os.PathLike[str]) -> RunAnalysis:
    """Read an analysis JSON (``imurun analyze --json``, schema ``imurun.analysis/1``).

    Raises:
        MissingFileError: the file does not exist (a :class:`FileFormatError` that is also a
            :class:`FileNotFoundError`, as for :func:`imurun.load_recording`).
        FileFormatError: naming the file, when it cannot be read or is not such a document.

    """
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError as e:
        raise MissingFileError(str(path), f"cannot read: {e.strerror or e}") from e
    except OSError as e:
        raise FileFormatError(str(path), f"cannot read: {e.strerror or e}") from e
    try:
        return RunAnalysis.from_json(text)
    except SignalError as e:  # says what is wrong ("not valid JSON: ...", "... schema ...")
        reason = str(e) if str(e).startswith("not ") else f"not an imurun analysis ({e})"
        raise FileFormatError(str(path), reason) from e
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise FileFormatError(str(path), f"not an imurun analysis (missing or bad {e})") from e


def _write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically (temp file + rename); the error names the path."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.write_text(text, encoding="utf-8", newline="")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as e:
        raise FileFormatError(str(path), f"cannot write: {e.strerror or e}") from e


def write_analysis_json(result: RunAnalysis, path: str | os.PathLike[str]) -> None:
    """Write ``result`` as its exchange JSON (what :func:`load_analysis` reads back)."""
    _write_text(path, result.to_json(indent=1) + "\n")


class _Pipeline:
    """The stages of :func:`analyze` on one recording (state = intermediate arrays)."""

    def __init__(self, rec: Recording, cfg: AnalysisSettings, mass_kg: float | None,
                 mounting: Mounting | npt.ArrayLike | None, base: RunSummary | None,
                 params: dict[str, Any], base_anterior_tilt_deg: float = math.nan) -> None:
        self.rec = rec
        self.cfg = cfg
        self.mass_kg = mass_kg
        self.mounting_arg = mounting
        self.base = base
        self.base_anterior_tilt_deg = base_anterior_tilt_deg  # of a baseline analysis
        self.params = params
        self.notes: list[str] = list(rec.meta.notes)
        self.unavailable: dict[str, str] = {}
        self.gyro_missing = ""  # why a gyroscope the recording has is not used
        self.timings_s: dict[str, float] = {}
        self.cpu_timings_s: dict[str, float] = {}
        self._t_last = 0.0
        self._cpu_last = 0.0

    # ------------------------------------------------------------------ stages
    def _lap(self, stage: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.timings_s[stage] = self.timings_s.get(stage, 0.0) + now - self._t_last
        self.cpu_timings_s[stage] = self.cpu_timings_s.get(stage, 0.0) + cpu - self._cpu_last
        self._t_last, self._cpu_last = now, cpu

    def run(self) -> RunAnalysis:
        self.timings_s = {}
        self.cpu_timings_s = {}
        self._t_last, self._cpu_last = time.perf_counter(), time.process_time()
        prep = self._complete_gyroscope(prepare(self.rec, self.cfg.cleanup))
        self.prep = prep
        fs = prep.fs_hz
        segs = prep.segments
        self._lap("cleanup")
        mnt = self._mounting(prep)
        bf_acc = _rotate(prep.sf_acc_ms2, mnt.r_sb)
        bf_gyr = None if prep.sf_gyr_rads is None else _rotate(prep.sf_gyr_rads, mnt.r_sb)
        self._lap("mounting")
        steps_idx = self._steps(bf_acc, bf_gyr, prep)
        self._lap("events_activity")
        angles = self._orientation(prep, mnt)
        self._lap("orientation")
        hf_acc = bf_acc if angles is None else _heading_frame(bf_acc, angles)
        steps = self._metrics(steps_idx, hf_acc, angles, prep)
        self._lap("step_metrics")
        still = act.still_mask(prep.sf_acc_ms2, fs, segs, self.cfg.activity)
        labels = act.sample_labels(prep.n_samples, segs, still, steps_idx.start_index,
                                   steps_idx.stop_index, steps_idx.code)
        paused = [(g.start_s, g.end_s) for g in self.rec.gaps if g.cause == GapCause.PAUSED]
        bouts = act.timeline(prep.t_s, fs, labels, paused)
        self._lap("timeline")
        quality = self._quality(prep, mnt, bouts)
        t0 = float(prep.t_s[0]) if prep.n_samples else math.nan
        summary = summarise(steps, quality, t_start_s=t0, settings=self.cfg.summary)
        for name, reason in side_reasons(steps, self.cfg.summary).items():
            self.unavailable.setdefault(name, reason)
        if (why := impact_reason(summary)) is not None:
            self.unavailable.setdefault("impact_g", why)
        tilt, tilt_reason = self._anterior_tilt(angles, mnt, labels)
        indicators = form_indicators(summary, baseline=self.base, anterior_tilt_deg=tilt,
                                     anterior_tilt_reason=tilt_reason,
                                     baseline_anterior_tilt_deg=self.base_anterior_tilt_deg,
                                     settings=self.cfg.indicators)
        if summary.n_steps == 0:
            self.notes.append("no running found: running metrics are null")
        src_fs = self.rec.fs_hz
        if src_fs < 0.95 * _VALIDATED_FS_HZ:  # (a phone's "100 Hz" measures 99.6)
            k = self.prep.interpolated
            how = (f"interpolated to {src_fs * k:.3g} Hz for the analysis (docs/metrics.md), "
                   if k > 1 else "")
            self.notes.append(f"sampled at {src_fs:.3g} Hz, below the rates the step detection "
                              f"was validated at ({_VALIDATED_FS_HZ:g} Hz and up, "
                              f"docs/validation.md): {how}step times, and contact and flight "
                              f"times with them, are less precise (a sample is "
                              f"{1000.0 / src_fs:.0f} ms)")
        m = self.rec.meta
        src = SourceInfo(m.source, m.source_format, m.device_id, m.firmware_version,
                         m.start_unix_s, t0,
                         float(prep.t_s[-1]) + 1.0 / fs if prep.n_samples else math.nan)
        result = RunAnalysis(
            steps=steps, summary=summary, indicators=indicators, activity=bouts,
            unavailable=tuple(Unavailable(k, v) for k, v in self.unavailable.items()),
            source=src, parameters=self.params, version=__version__,
            notes=tuple(dict.fromkeys(self.notes)),
        )
        self._lap("summary_indicators")
        return result

    def _complete_gyroscope(self, prep: PreparedSignal) -> PreparedSignal:
        """``prep`` without its gyroscope when an axis of it was not measured (all NaN).

        Orientation integrates all three angular rates, so a gyroscope missing an axis gives
        no pelvic angles: the run is analysed as accelerometer-only input, saying why.
        """
        gyr = prep.sf_gyr_rads
        if gyr is None or not prep.n_samples:
            return prep
        axes = unmeasured_axes(gyr)
        if not axes:
            return prep
        self.gyro_missing = f"its {axes} not measured (all NaN)"
        return replace(prep, sf_gyr_rads=None)

    def _mounting(self, prep: PreparedSignal) -> Mounting:
        if self.mounting_arg is not None:
            given = self.mounting_arg
            if isinstance(given, Mounting):
                self.mount_method = "given"
                return given
            self.mount_method = "given"
            return Mounting.from_matrix(np.asarray(given, dtype=np.float64))
        try:
            mnt = estimate_mounting(prep.sf_acc_ms2, prep.fs_hz, gyr_rads=prep.sf_gyr_rads,
                                    segments=prep.segments, settings=self.cfg.mounting)
            self.mount_method = "estimated"
            return mnt
        except MountingError as e:
            window_s = self.cfg.mounting.window_s
            longest_s = max((b - a for a, b in prep.segments), default=0) / prep.fs_hz
            short = (f": the longest stretch without a gap is {longest_s:.1f} s, shorter than the "
                     f"{window_s:g}-s windows it is estimated over" if longest_s < window_s
                     else "")
            self.notes.append(f"mounting not estimated ({e.reason}{short}); sensor axes taken "
                              "as body axes (x forward, y left, z up)")
            self.mount_method = "assumed upright"
            return Mounting.identity()

    def _steps(self, bf_acc: FloatArray, bf_gyr: FloatArray | None,
               prep: PreparedSignal) -> _Steps:
        fs = prep.fs_hz
        segs = prep.segments
        if not segs:
            return _Steps.empty()
        ev = detect_running_events(bf_acc, fs, bf_gyr, segments=segs, t_s=prep.t_s,
                                   settings=self.cfg.running)
        code = act.classify_steps(ev.ic_s, ev.to_s, ev.segment, ev.flight, self.cfg.activity)
        run = code == act.RUN
        walk_ranges = _walking_ranges(ev, code, segs, fs)
        if walk_ranges:
            wev = detect_walking_events(bf_acc, fs, bf_gyr, segments=walk_ranges, t_s=prep.t_s,
                                        settings=self.cfg.walking)
            wev = wev.select(_walking_bouts(wev, self.cfg.activity, fs))
            # walking events carry the index of their bout range: map it to the segment
            starts = np.array([a for a, _ in segs])
            w_seg = np.searchsorted(starts, np.array([walk_ranges[k][0] for k in
                                                      wev.segment.tolist()], dtype=np.int64),
                                    side="right") - 1
        else:
            wev = None
            w_seg = np.zeros(0, dtype=np.int64)
        parts = [(ev.ic_index[run], ev.to_index[run], ev.side[run], ev.segment[run],
                  np.full(int(run.sum()), act.RUN, np.int8))]
        if wev is not None and len(wev):
            parts.append((wev.ic_index, wev.to_index, wev.side,
                          w_seg.astype(np.int64), np.full(len(wev), act.WALK, np.int8)))
        ic = np.concatenate([p[0] for p in parts])
        to = np.concatenate([p[1] for p in parts])
        side = np.concatenate([p[2] for p in parts]).astype(np.int8)
        seg = np.concatenate([p[3] for p in parts]).astype(np.int64)
        cd = np.concatenate([p[4] for p in parts]).astype(np.int8)
        key = np.where(np.isfinite(ic), ic, to)
        order = np.argsort(key, kind="stable")
        ic, to, side, seg, cd = ic[order], to[order], side[order], seg[order], cd[order]
        # end of each step: the next IC of the same segment, if it follows closely enough
        end = np.full(ic.size, np.nan)
        if ic.size > 1:
            gap_max = self.cfg.activity.max_step_gap_s * fs
            nxt = ic[1:]
            with np.errstate(invalid="ignore"):
                ok = (seg[1:] == seg[:-1]) & (nxt - ic[:-1] <= gap_max) & (nxt > ic[:-1])
            end[:-1] = np.where(ok, nxt, np.nan)
        ic_s, to_s, end_s = self._times(np.stack([ic, to, end]), prep)
        return _Steps(ic, to, end, side, seg, cd, ic_s, to_s, end_s, fs)

    def _times(self, idx: FloatArray, prep: PreparedSignal) -> FloatArray:
        """Times of fractional sample indices (any shape; NaN stays NaN).

        ``np.interp(idx, arange(n), t_s)`` without its ``arange`` and binary searches: on an
        integer grid the interval of ``x`` is ``floor(x)`` and the slope ``t[j + 1] - t[j]``,
        so the same formula gives the same values.
        """
        out = np.full(idx.shape, np.nan)
        t = prep.t_s
        n = t.shape[0]
        ok = np.isfinite(idx)
        if not ok.any() or n == 0:
            return out
        x = idx[ok]
        j = np.clip(np.floor(x), 0, max(n - 2, 0)).astype(np.intp)
        if n > 1:
            inner = (t[j + 1] - t[j]) * (x - j) + t[j]
        else:
            inner = np.full(x.shape, t[0])
        out[ok] = np.where(x <= 0, t[0], np.where(x >= n - 1, t[n - 1], inner))
        return out

    def _orientation(self, prep: PreparedSignal, mnt: Mounting) -> PelvisAngles | None:
        if prep.sf_gyr_rads is None:
            reason = ("accelerometer-only input: pelvic angles need a gyroscope"
                      if not self.gyro_missing else
                      f"gyroscope not used, {self.gyro_missing}: pelvic angles need all three "
                      "of its axes")
            for name in _PELVIC + ("pelvic_drop_stance_left_deg", "pelvic_drop_stance_right_deg"):
                self.unavailable[name] = reason
            what = (f"gyroscope not used, {self.gyro_missing}" if self.gyro_missing
                    else "no gyroscope")
            self.notes.append(f"{what}: oscillation, braking and impact are computed in the "
                              "body frame (the pelvis taken at its mean running posture)")
            return None
        if not prep.segments:
            return None
        return pelvis_orientation(prep.sf_acc_ms2, prep.sf_gyr_rads, prep.fs_hz, mnt,
                                  segments=prep.segments, settings=self.cfg.orientation)

    def _metrics(self, s: _Steps, hf_acc: FloatArray, angles: PelvisAngles | None,
                 prep: PreparedSignal) -> StepTable:
        k = s.ic.size
        run = s.code == act.RUN
        nan = np.full(k, np.nan)
        step_s = s.end_s - s.ic_s
        # walking: the stance time (TO comes after the next IC: double support, no flight)
        contact = s.to_s - s.ic_s
        with np.errstate(invalid="ignore"):
            flight = np.where(run & (s.end_s >= s.to_s), s.end_s - s.to_s, np.nan)
        vo, brk, imp, pf = nan.copy(), nan.copy(), nan.copy(), nan.copy()
        sat = np.zeros(k, dtype=bool)
        if run.any():
            km = running_step_metrics(hf_acc, prep.fs_hz, s.ic[run], s.to[run], s.end[run],
                                      segments=prep.segments, saturated=prep.acc_saturated,
                                      settings=self.cfg.metrics)
            vo[run], brk[run], imp[run], pf[run] = (km.vertical_oscillation_m, km.braking_mps,
                                                    km.impact_g, km.peak_force_bw)
            sat[run] = km.saturated
            filled = _touches(prep.bridged, s.ic[run], s.to[run])
            if filled.any():
                idx = np.flatnonzero(run)[filled]
                imp[idx] = np.nan
                pf[idx] = np.nan
                self.notes.append(f"{int(filled.sum())} running step(s) have interpolated "
                                  "samples (a bridged gap) in their stance: impact and peak "
                                  "force withheld for them")
        n_acc = prep.acc_saturated_samples
        n_gyr = prep.saturated_samples - n_acc  # the gyroscope alone
        if n_acc:
            self.notes.append(f"{n_acc} samples with the acceleration clipped at the sensor's "
                              "full scale: impact withheld for the steps concerned (the "
                              "summary counts them as at least the limit)")
        if n_gyr:
            self.notes.append(f"{n_gyr} samples with the angular rate clipped at the "
                              "gyroscope's full scale: pelvic angles are less accurate there")
        stiff = nan.copy()
        if self.mass_kg is not None:
            stiff[run] = vertical_stiffness_kn_m(contact[run], flight[run], self.mass_kg)
        else:
            self.unavailable["vertical_stiffness_kn_m"] = ("body mass unknown: pass mass_kg "
                                                           "(CLI --mass-kg)")
        tilt, drop, rot = nan.copy(), nan.copy(), nan.copy()
        if angles is not None and run.any():
            pel = pelvic_step_metrics(angles, prep.t_s, s.ic_s[run], s.end_s[run], s.to_s[run],
                                      s.side[run])
            tilt[run], drop[run], rot[run] = (pel.tilt_range_deg, pel.drop_deg,
                                              pel.rotation_range_deg)
        if not np.isfinite(brk).any() and run.any():
            self.unavailable.setdefault("braking_mps", "no forward acceleration axis")
        return StepTable(
            ic_s=s.ic_s, to_s=s.to_s, side=s.side,
            activity=np.where(run, "run", "walk"), contact_s=contact, flight_s=flight,
            step_s=step_s, vertical_oscillation_m=vo, braking_mps=brk, impact_g=imp,
            peak_force_bw=pf, vertical_stiffness_kn_m=stiff, pelvic_tilt_range_deg=tilt,
            pelvic_drop_deg=drop, pelvic_rotation_range_deg=rot, segment=s.seg, saturated=sat)

    def _anterior_tilt(self, angles: PelvisAngles | None, mnt: Mounting,
                       labels: npt.NDArray[np.int8]) -> tuple[float, str]:
        if angles is None:
            return math.nan, "accelerometer-only input: pelvic angles need a gyroscope"
        if mnt.reference != "standing":
            return math.nan, ("absolute anterior tilt needs a few seconds of standing still "
                              "before or after the run")
        running = (labels == act.RUN) & np.isfinite(angles.tilt_deg)
        if not running.any():
            return math.nan, "no running"
        # the selection is a copy of its own: partitioned in place (no second full copy)
        return float(np.median(angles.tilt_deg[running], overwrite_input=True)), ""

    def _quality(self, prep: PreparedSignal, mnt: Mounting, bouts: ActivityBouts) -> DataQuality:
        rec = self.rec
        causes: Counter[str] = Counter()
        secs: dict[str, float] = {}
        for g in rec.gaps:
            causes[str(g.cause)] += 1
            secs[str(g.cause)] = secs.get(str(g.cause), 0.0) + g.duration_s
        fs = prep.fs_hz
        short_s = float(sum((b - a) / fs for a, b in prep.short_segments))
        # a paused recording (a phone app's pause button) lost nothing: its own line, only when
        # there is one, so that every other recording's breakdown stays as it was
        paused_s = bouts.seconds("paused")
        gap_s = max(bouts.seconds("gap") - short_s, 0.0)
        time = (
            TimeBreakdown("running", bouts.seconds("run"), "analysed: running metrics"),
            TimeBreakdown("walking", bouts.seconds("walk"), "analysed as walking (timing only)"),
            TimeBreakdown("standing", bouts.seconds("stand"), "not analysed: standing still"),
            TimeBreakdown("other", bouts.seconds("other"),
                          "not analysed: movement without regular steps"),
            TimeBreakdown("gap", gap_s, "not analysed: no samples (lost data)"),
            TimeBreakdown("short_segment", short_s,
                          "not analysed: samples between gaps too short to filter"),
        ) + ((TimeBreakdown("paused", paused_s, "not recorded: the recording was paused"),)
             if paused_s > 0 else ())
        q = getattr(mnt, "quality", None)
        report = MountingReport(
            r_bs=mnt.r_sb, method=self.mount_method,
            description=f"reference {mnt.reference}; up = sensor {mnt.up_axis_sf}, forward = "
                        f"sensor {mnt.forward_axis_sf}; {mnt.method}",
            quality=float(q.forward_consistency) if q is not None else math.nan)
        return DataQuality(
            duration_s=rec.duration_s, n_samples=rec.n_samples, fs_hz=rec.fs_hz,
            has_gyroscope=prep.sf_gyr_rads is not None, n_segments=len(rec.segments), n_gaps=len(rec.gaps),
            gap_s=float(sum(g.duration_s for g in rec.gaps)),
            gaps_by_cause=tuple((c, n, secs[c]) for c, n in sorted(causes.items())),
            frames_lost=rec.stats.frames_lost, frames_corrupt=rec.stats.frames_corrupt,
            samples_missing=rec.stats.samples_missing, reboots=rec.stats.reboots,
            disconnects=rec.stats.disconnects, bridged_gaps=prep.bridged_gaps,
            bridged_samples=prep.bridged_samples,
            resampled_segments=prep.resampled_segments,
            saturated_samples=prep.saturated_samples, mounting=report, time=time,
            notes=tuple(dict.fromkeys(self.notes)), analysed_fs_hz=prep.fs_hz)


@dataclass(frozen=True, eq=False)
class _Steps:
    """Steps of the merged table as fractional sample indices and times (internal)."""

    ic: FloatArray
    to: FloatArray
    end: FloatArray
    side: npt.NDArray[np.int8]
    seg: npt.NDArray[np.int64]
    code: npt.NDArray[np.int8]
    ic_s: FloatArray
    to_s: FloatArray
    end_s: FloatArray
    fs_hz: float

    @classmethod
    def empty(cls) -> _Steps:
        z = np.zeros(0)
        return cls(z, z, z, np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int8),
                   z, z, z, 1.0)

    @property
    def start_index(self) -> FloatArray:
        return np.where(np.isfinite(self.ic), self.ic, self.to)

    @property
    def stop_index(self) -> FloatArray:
        """Where each step's samples end (the next IC, or a typical step after the IC)."""
        run = self.code == act.RUN
        dur = self.end - self.ic
        out = self.end.copy()
        for m in (run, ~run):
            d = dur[m & np.isfinite(dur)]
            typ = float(np.median(d)) if d.size else 0.35 * self.fs_hz
            fill = m & ~np.isfinite(out)
            out[fill] = np.where(np.isfinite(self.ic[fill]), self.ic[fill] + typ, self.to[fill])
        return out


def _touches(mask: npt.NDArray[np.bool_], start: FloatArray, stop: FloatArray,
             ) -> npt.NDArray[np.bool_]:
    """Whether any sample of ``mask`` lies in ``[floor(start), ceil(stop)]`` (NaN: no)."""
    out = np.zeros(start.shape, dtype=bool)
    if not mask.any():
        return out
    c = np.concatenate(([0], np.cumsum(mask)))
    ok = np.isfinite(start) & np.isfinite(stop)
    a = np.clip(np.floor(start[ok]).astype(np.intp), 0, mask.size)
    b = np.clip(np.ceil(stop[ok]).astype(np.intp) + 1, 0, mask.size)
    out[ok] = c[b] - c[a] > 0
    return out


def _walking_ranges(ev: StepEvents, code: npt.NDArray[np.int8],
                    segs: tuple[tuple[int, int], ...], fs: float) -> list[tuple[int, int]]:
    """Sample ranges where walking is looked for: every stretch of a segment outside running.

    Running covers each running step from its IC to the next IC when that step runs too, else
    to its toe-off (the walk that follows starts there). The running detector cannot be trusted
    to find walking steps (a walking step's vertical force has two humps, which it can take
    for two steps), so everything else is handed to the walking detector and
    :func:`_walking_bouts` keeps what walks.
    """
    k = code.size
    run = np.flatnonzero(code == act.RUN)
    ic, to, seg = ev.ic_index, ev.to_index, ev.segment
    a = np.where(np.isfinite(ic[run]), ic[run], to[run])
    nxt = np.minimum(run + 1, max(k - 1, 0))
    nxt_runs = (run + 1 < k) & (seg[nxt] == seg[run]) & (code[nxt] == act.RUN)
    b = np.where(nxt_runs, ic[nxt], to[run])
    b = np.where(~np.isfinite(b) & np.isfinite(a), a + 0.4 * fs, b)  # no toe-off: cut stance
    ok = np.isfinite(a) & np.isfinite(b)
    a, b, s_run = a[ok], b[ok], seg[run][ok]  # in time order, segment by segment
    out: list[tuple[int, int]] = []
    for j, (a_seg, b_seg) in enumerate(segs):
        lo, hi = np.searchsorted(s_run, [j, j + 1])
        if lo == hi:
            out.append((a_seg, b_seg))
            continue
        aj, bj = a[lo:hi], b[lo:hi]
        reach = np.maximum.accumulate(bj)  # end of running so far
        free = aj[1:] > reach[:-1]  # a stretch without running before the next running step
        starts = np.r_[a_seg, reach[:-1][free], reach[-1]]
        stops = np.r_[aj[0], aj[1:][free], b_seg]
        out += [(max(int(np.ceil(x)), a_seg), min(int(np.floor(y)), b_seg))
                for x, y in zip(starts.tolist(), stops.tolist(), strict=True)]
    return [(a, b) for a, b in out if b - a > 1]


def _walking_bouts(wev: StepEvents, cfg: act.ActivitySettings, fs: float,
                   ) -> npt.NDArray[np.bool_]:
    """Which walking-detector steps belong to a walk.

    A walk is at least ``cfg.min_walk_bout_steps`` consecutive steps of one range whose step
    times are within ``cfg.walk_step_s``: a peak or two in fidgeting, or a shuffle, is not a
    walk. (The last step of a walk has no step time of its own; the interval before it counts.)
    """
    k = len(wev)
    if k == 0:
        return np.zeros(0, dtype=bool)
    ic = wev.ic_index
    same = wev.segment[1:] == wev.segment[:-1]
    st = np.diff(ic) / fs
    lo, hi = cfg.walk_step_s
    with np.errstate(invalid="ignore"):
        regular = same & (st >= lo) & (st <= hi)
    member = np.r_[regular, False] | np.r_[False, regular]
    keep = np.zeros(k, dtype=bool)
    # runs of members joined by regular intervals
    start = 0
    for i in range(1, k + 1):  # one pass over the walking steps (a few per second of walking)
        if i == k or not regular[i - 1]:
            if member[start] and i - start >= cfg.min_walk_bout_steps:
                keep[start:i] = True
            start = i
    return keep


def _rotate(v: FloatArray, r: FloatArray) -> FloatArray:
    """``(n, 3)`` vectors rotated by ``r`` (``r @ v`` per row), each axis contiguous.

    An axis that was not measured (an all-NaN column) makes NaN exactly the output axes that
    depend on it. The result is column-major (:func:`rotate_rows` with ``columns=True``): the
    stages after this one work on single axes.
    """
    measured = np.isfinite(v[0]) | np.isfinite(v[-1]) if v.shape[0] else np.ones(3, bool)
    missing = [j for j in range(3) if not (measured[j] or np.any(np.isfinite(v[:, j])))]
    if not missing:
        return rotate_rows(r, v, columns=True)
    out = rotate_rows(r, np.nan_to_num(v, nan=0.0), columns=True)
    for k in range(3):
        if any(abs(r[k, j]) > 1e-12 for j in missing):
            out[:, k] = np.nan
    return out


#: Samples per chunk of the element-wise work in :func:`_heading_frame` (temporaries stay in
#: cache instead of being fresh full-length arrays).
_CHUNK = 32768


def _heading_frame(bf_acc: FloatArray, angles: PelvisAngles) -> FloatArray:
    """Body-frame vectors in the heading frame: ``Rz(rotation) Rx(obliquity) Ry(tilt) v``.

    z = world vertical, x = horizontal direction of travel (the heading), y = left. Samples
    without angles (outside the analysed segments) stay in the body frame. Column-major like
    :func:`_rotate` (each axis contiguous). Computed a chunk of samples at a time, with the same
    arithmetic for every sample as in one pass.
    """
    def trig(deg: FloatArray) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        # float32 trigonometry (vectorised, several times faster; 1e-7 rad is far below any
        # angle error that matters here); the products below promote it to float64 exactly
        a = np.multiply(deg, np.float32(DEG2RAD), dtype=np.float32)
        np.nan_to_num(a, copy=False, nan=0.0)
        return np.cos(a), np.sin(a)

    n = bf_acc.shape[0]
    out_t = np.empty((3, n))
    for i in range(0, n, _CHUNK):
        sl = slice(i, i + _CHUNK)
        x, y, z = bf_acc[sl, BF_FORWARD], bf_acc[sl, BF_LEFT], bf_acc[sl, BF_UP]
        x3, y3, z2 = out_t[BF_FORWARD, sl], out_t[BF_LEFT, sl], out_t[BF_UP, sl]
        c, s = trig(angles.tilt_deg[sl])
        x1 = c * x
        x1 += s * z  # Ry(tilt)
        z1 = c * z
        z1 -= s * x
        c, s = trig(angles.obliquity_deg[sl])
        y2 = np.multiply(c, y, out=y3)  # y3 is written last, from x1 and y2
        y2 -= s * z1  # Rx(obliquity)
        np.multiply(s, y, out=z2)
        z2 += c * z1
        c, s = trig(angles.rotation_deg[sl])
        np.multiply(c, x1, out=x3)
        x3 -= s * y2  # Rz(rotation)
        y2 *= c  # y3 = s x1 + c y2, in place
        y2 += s * x1
    return out_t.T


# ============================================================================ output
#: Columns of :func:`write_steps_csv`, in order (the JSON step keys).
STEPS_CSV_COLUMNS = ("ic_s", "to_s", "side", "activity", "contact_s", "flight_s", "step_s",
                     "vertical_oscillation_m", "braking_mps", "impact_g", "peak_force_bw",
                     "vertical_stiffness_kn_m", "pelvic_tilt_range_deg", "pelvic_drop_deg",
                     "pelvic_rotation_range_deg", "segment", "saturated")


def write_steps_csv(result: RunAnalysis, path: str | os.PathLike[str]) -> int:
    """Write one row per step (columns :data:`STEPS_CSV_COLUMNS`; empty = unknown).

    Returns the number of rows written.

    Raises:
        FileFormatError: the file cannot be written (the error names it).

    """
    import csv
    import io

    rows = result.steps.to_records()
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(STEPS_CSV_COLUMNS)
    for r in rows:
        w.writerow(["" if r[c] is None else (f"{r[c]:.6g}" if isinstance(r[c], float)
                                             else r[c]) for c in STEPS_CSV_COLUMNS])
    _write_text(path, buf.getvalue())
    return len(rows)


def _v(x: float, fmt: str, unit: str = "") -> str:
    return "–" if not math.isfinite(x) else f"{x:{fmt}}{unit}"


def _variability_reason(result: RunAnalysis) -> str:
    """Why a run has no step time variability, in the words of docs/metrics.md."""
    why = result.reason_unavailable("step_time_cv_pct")
    if why:
        return why
    if result.summary.n_steps == 0:
        return "no running in this recording"
    settings = result.parameters.get("settings", {})
    summary = settings.get("summary", {}) if isinstance(settings, dict) else {}
    w = summary.get("variability_window_steps") if isinstance(summary, dict) else None
    w = w if isinstance(w, int) else SummarySettings().variability_window_steps
    return (f"too few running steps in a row: it needs bouts of at least {2 * w} (each foot's "
            f"step time against its median over {w} steps)")


def format_report(result: RunAnalysis) -> str:
    """A readable text summary of a run (what ``imurun analyze`` prints)."""
    s = result.summary
    q = s.quality
    lines = [f"{result.source.path or 'recording'} ({result.source.source_format or 'arrays'}), "
             f"{time_text(q.duration_s)}, {q.fs_hz:.0f} Hz, "
             + ("accelerometer + gyroscope" if q.has_gyroscope else "accelerometer only")]
    t = {x.reason: x.seconds for x in q.time}
    no_data = t.get("gap", 0.0) + t.get("short_segment", 0.0)

    def spent(reason: str) -> str:  # "37 s", "12.5 min"; a zero in the recording's unit
        return time_text(t.get(reason, 0.0), like=q.duration_s)

    lines.append(f"  running {spent('running')} ({s.n_steps} steps), walking "
                 f"{spent('walking')} ({s.n_walking_steps} steps), standing "
                 f"{spent('standing')}, other {spent('other')}"
                 + (f", not analysed (gaps) {time_text(no_data, like=q.duration_s)}"
                    if no_data > 0 else "")
                 + (f", paused {spent('paused')}" if t.get("paused", 0.0) > 0 else ""))
    mnt = q.mounting
    lines.append(f"  mounting    {mnt.method}: " + mnt.description.split("; ", 1)[-1]
                 if mnt.description else f"  mounting    {mnt.method}")
    if q.n_gaps:
        causes = ", ".join(f"{n} {GAP_CAUSE_WORDS.get(c, c)}" for c, n, _ in q.gaps_by_cause)
        line = f"  gaps        {q.n_gaps} ({q.gap_s:.2f} s): {causes}"
        if q.bridged_gaps and math.isfinite(q.fs_hz) and q.fs_hz > 0:
            # else "38 gaps" reads as lost time beside a "not analysed" of 0.1 s
            short = "the short one" if q.bridged_gaps == 1 else f"{q.bridged_gaps} short ones"
            line += f"; {short} ({q.bridged_samples / q.fs_hz:.2f} s) filled in and analysed"
        lines.append(line)
    lines.append("")
    lines.append("  running (median [25th-75th percentile]; left / right)")

    def row(label: str, name: str, fmt: str, unit: str) -> None:
        sp = s.get_spread(name)
        head = float(getattr(s, name, sp.median))
        if not math.isfinite(head):
            why = result.reason_unavailable(name) or "not measured"
            lines.append(f"    {label:<22} –  ({why})")
            return
        lines.append(f"    {label:<22} {_v(head, fmt)} {unit}  [{_v(sp.p25, fmt)}-"
                     f"{_v(sp.p75, fmt)}]  L {_v(sp.left_median, fmt)} / R "
                     f"{_v(sp.right_median, fmt)}")

    row("cadence", "cadence_spm", ".0f", "steps/min")
    row("contact time", "contact_ms", ".0f", "ms")
    row("flight time", "flight_ms", ".0f", "ms")
    if math.isfinite(s.contact_balance_left_pct):
        lines.append(f"    {'contact balance':<22} {_v(s.contact_balance_left_pct, '.1f')} % left")
    else:
        why = result.reason_unavailable("contact_balance_left_pct") or "not measured"
        lines.append(f"    {'contact balance':<22} –  ({why})")
    row("vertical oscillation", "vertical_oscillation_cm", ".1f", "cm")
    row("braking", "braking_mps", ".2f", "m/s")
    row("impact", "impact_g", ".2f", "g")
    if math.isfinite(s.impact_g) and s.impact_clipped_pct > 0:
        lines[-1] += (f"  ({_v(s.impact_clipped_pct, '.0f')} % of the steps clipped the sensor: "
                      "counted as at least its limit)")
    row("peak vertical force", "peak_force_bw", ".2f", "BW")
    row("vertical stiffness", "vertical_stiffness_kn_m", ".1f", "kN/m")
    row("pelvic tilt range", "pelvic_tilt_range_deg", ".1f", "deg")
    row("pelvic rotation range", "pelvic_rotation_range_deg", ".1f", "deg")
    if math.isfinite(s.pelvic_drop_stance_left_deg) or math.isfinite(
            s.pelvic_drop_stance_right_deg):
        lines.append(f"    {'pelvic drop':<22} {_v(s.pelvic_drop_stance_left_deg, '.1f')} deg in "
                     f"left stance / {_v(s.pelvic_drop_stance_right_deg, '.1f')} deg in right "
                     "stance")
    else:
        why = result.reason_unavailable("pelvic_drop_deg") or "not measured"
        lines.append(f"    {'pelvic drop':<22} –  ({why})")
    if math.isfinite(s.step_time_cv_pct):
        lines.append(f"    {'step time variability':<22} {s.step_time_cv_pct:.1f} %")
    else:  # (it was a bare "– %")
        lines.append(f"    {'step time variability':<22} –  ({_variability_reason(result)})")
    drift = [d for d in s.drift if math.isfinite(d.change) and d.name in (
        "cadence_spm", "contact_ms", "vertical_oscillation_cm", "braking_mps", "pelvic_drop_deg")]
    if drift:
        lines.append("")
        lines.append("  first third -> last third of the running")
        for d in drift:
            lines.append(f"    {d.name:<26} {d.first_third:8.2f} -> {d.last_third:8.2f} "
                         f"{d.unit} ({d.change_pct:+.1f} %)")
    lines.append("")
    lines.append("  form indicators (not a medical assessment)")
    for ind in result.indicators:
        lines.append(f"    {ind.title:<36} {ind.level.replace('_', ' ')}")
    for ind in result.indicators:
        if ind.level in ("raised", "strongly_raised"):
            lines.append("")
            lines.append(f"  {ind.title}: {ind.message}")
    for n in result.notes:
        lines.append(f"  note: {n}")
    return "\n".join(lines)
