"""Gait events from a sacrum-worn IMU: initial contact (IC), toe-off (TO) and stance side.

Inputs are **body-frame** signals (x forward, y left, z up; see :mod:`imurun.consts`), time on
axis 0, shape ``(n, 3)``: specific force ``bf_acc_ms2`` in m/s² *with* gravity (a sensor at rest
reads +9.81 on z) and, when available, angular rate ``bf_gyr_rads`` in rad/s. A column that is
entirely NaN is an axis the sensor does not measure. Every detector works segment by segment
(``segments``: ``[start, stop)`` sample ranges of uniformly spaced samples, e.g. the segments of
an :class:`imurun.ingest.recording.Recording`); nothing is filtered across a segment boundary.
Inputs are never modified.

Three verbs:

* :func:`detect_running_events` — IC, TO and side for running (:class:`RunningSettings`).
* :func:`detect_walking_events` — IC, TO and side for walking (:class:`WalkingSettings`).
* :func:`assign_sides` — left/right for given initial contacts (:class:`SideSettings`), used by
  both detectors.

Results are :class:`StepEvents`: one row per step (IC of one foot up to the next IC of the
other), times in seconds, NaN where an event falls outside the segment (partial steps at the
edges are kept so that nothing that was measured is lost).

Method (running; each choice is explained in the docstring of :class:`RunningSettings`):

1. **Stance cores**: the vertical specific force, low-passed at 8 Hz, exceeds body weight
   (1 g) once in every stance and never in flight: on average the vertical ground reaction
   force equals body weight, and the sacrum's vertical acceleration follows vGRF / body mass
   (Newton's second law; the basis of the sacral contact-time methods reviewed by Kiernan,
   Dunn Siino & Hawkins 2023, Sensors 23:5022, and of Patoz et al. 2022, Sensors 22:784).
2. **Contacts**: the vertical specific force, clipped at 0 g (the ground only pushes) and
   low-passed at 30 Hz, above 0.3 g. Steps are split at the smoothed minimum between cores
   (mid-flight). In each step the contact is the last upward crossing of the level before the
   signal first reaches body weight up to the first downward crossing after it last does, so
   bumps during flight (the pelvis is not the centre of mass) that stay below body weight are
   ignored. Where the signal never drops below the level between two steps (no flight), TO
   and the next IC are both placed at the minimum between them (``flight`` is ``False``).
   Contacts cut by the segment start or end are kept with the missing event as NaN.
3. **IC = onset of the braking impulse** when the forward axis is measured: the steepest fall
   of the forward acceleration within 40 ms before to 20 ms after the vertical signal first
   reaches body weight marks the braking impulse of foot contact (the anteroposterior-
   acceleration IC markers of Auvinet et al. 2002, Gait Posture 16:124, and Zijlstra & Hof
   2003, Gait Posture 18:1); its tangent, extended back to the forward level just before
   contact, gives the time the braking force started: no latency constant. Without the
   forward axis, the loading rise of the vertical signal before body weight, extended down
   to zero force.
4. **TO from the spring-mass model** (Morin et al. 2005, J Appl Biomech 21:167): with a
   half-sine vertical force over the contact and a mean force of body weight over the step
   (``Fmax / BW = pi T / (2 tc)``), the force falls through body weight at
   ``e = tc (1 - asin(2 tc / (pi T)) / pi)`` after IC. IC, the step time ``T`` (IC to next
   IC) and the measured body-weight crossing ``e`` give ``tc``; this is the effective-timing
   reconstruction of Patoz et al. 2021 (Front Bioeng Biotechnol 9:687951) anchored on the
   measured IC instead of a second effective time. Measured pulses are wider at the base than
   a half-sine (Patoz et al. report contact times from effective timings 35 ms short), so
   ``tc`` is scaled by ``to_pulse_width`` (1.05, fitted on alcantara2022; the virtual sensor's
   force model needs 1.04). The body-weight crossing used is the first after the step's force
   centroid, where the force is a clean falling ramp: near toe-off the sacrum also moves
   relative to the centre of mass (a bump that grows uphill and made every threshold rule
   late uphill, early downhill). TO is never placed after the signal reads free fall
   (< 0.05 g) nor after the next IC.
5. **Side** from the reversal of the pelvis' lateral velocity during each step
   (:func:`assign_sides`).

Method (walking): steps are the peaks of the magnitude of the specific force (the vertical
component when an axis is missing) smoothed with a Gaussian, which is (up to sign and scale)
the first-derivative-of-Gaussian continuous wavelet transform of the integrated signal, the
operation McCamley et al. 2012 (Gait Posture 36:316) apply to the vertical acceleration to
find initial contacts; the magnitude does not depend on how the trunk leans in a turn. Each IC
is placed midway between the steepest rise of that signal (loading response) and the peak of
the forward acceleration (Zijlstra & Hof 2003) before the step peak. The TO of a step's foot
comes after the other foot's IC: after the loading peak the lightly smoothed signal dips and
rises again as the trailing foot pushes off, and TO is the steepest point of that rise, McCamley
et al.'s final-contact marker (see :class:`WalkingSettings`).

Related sacral methods (papers, no code used): Lee, Mellifont & Burkett 2010 (J Sci Med Sport
13:270) time stride, step and stance from one sacral sensor; Auvinet et al. 2002, Reenalda et
al. 2016 (J Biomech 49:3362) and Benson et al. 2019 (Sensors 19:1483) mark IC/TO on features of
the trunk or pelvis acceleration. Kiernan, Dunn Siino & Hawkins 2023 compared them on 74
runners: best sacral IC biases −30 (Auvinet) and +29 ms (Reenalda), limits of agreement near
±120 ms; best foot identification 81.9 % (Lee). The differences here: the
vertical signal is read as a force (body-weight and contact levels, not peak picking), IC is
the onset of the braking impulse, TO comes from a force model anchored where the signal is
still a force rather than from where it reaches a threshold, and the side uses the
gravity-corrected lateral velocity change with an alternation-aware decoder. Results: ``docs/validation.md``
(``make validate``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

from imurun.consts import BF_FORWARD, BF_LEFT, BF_UP, G_MS2
from imurun.errors import SignalError
from imurun.signal._segments import (
    as_signal,
    bandpass,
    check_fs,
    crossings,
    finite_column,
    highpass,
    interp_index,
    lowpass,
    min_filter_length,
    normalise_segments,
    refine_extremum,
    require_finite,
    runs,
    segment_argmin,
    window_argext,
)
from imurun.signal.side import Side

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
IntpArray = npt.NDArray[np.intp]
SideArray = npt.NDArray[np.int8]

__all__ = [
    "RunningSettings",
    "Side",
    "SideSettings",
    "StepEvents",
    "WalkingSettings",
    "assign_sides",
    "detect_running_events",
    "detect_walking_events",
]


@dataclass(frozen=True)
class SideSettings:
    """Left/right assignment (:func:`assign_sides`).

    Physics: during a left step (left IC to right IC) the pelvis' lateral velocity turns from
    leftward to rightward, because the ground pushes the body back toward the midline over the
    stance foot; so the mean lateral acceleration over the step points right (−y). The sensor's
    y axis also sees gravity when the pelvis rolls (obliquity φ): ``a_y = a_lat + g sin φ``.
    With a gyroscope, φ is the integral of the roll rate (band-limited to the gait) and the
    term is removed; without, the uncorrected lateral acceleration is used. Validated on
    walking (mobgap_lab, voisard_ipol); no running data set with a lateral axis was available.
    Without a lateral axis the side is unknown: the gyroscope alone is not used, because its
    cues were not consistent across the validation data (the roll rate after a left IC was
    positive in 91 % of voisard_ipol steps but in 38 % of mobgap_lab steps).

    Alternation: feet alternate, so the sides of a segment are decoded together as the most
    likely left/right sequence (a two-state Viterbi pass) instead of step by step: one weak or
    contrary step is outvoted by its neighbours, while an irregular step time (a missed or
    extra step) lets the sequence repeat a side.

    Attributes:
        highpass_hz: removes posture and alignment offsets from the lateral signals.
        lowpass_hz: removes impacts before averaging.
        roll_correction: subtract ``g sin φ`` when a gyroscope is given.
        use_alternation: decode the sequence (``False``: each step on its own evidence).
        alternation_p: probability that a regular step is on the other foot.
        evidence_clip: evidence is scaled by its median magnitude and clipped to ± this, so
            no single step dominates.
        min_step_ratio / max_step_ratio: step times outside these multiples of the median are
            irregular (alternation not assumed across them).

    """

    highpass_hz: float = 0.3
    lowpass_hz: float = 10.0
    roll_correction: bool = True
    use_alternation: bool = True
    alternation_p: float = 0.9
    evidence_clip: float = 3.0
    min_step_ratio: float = 0.6
    max_step_ratio: float = 1.6


@dataclass(frozen=True)
class RunningSettings:
    """Running detector (:func:`detect_running_events`). The defaults are the product.

    Attributes:
        lowpass_hz: cutoff of the zero-phase Butterworth low-pass (order 2, run forward and
            backward) applied before thresholding; 30 Hz keeps the contact edges and removes
            impact ringing; raw and pre-filtered signals then look alike.
        stance_lowpass_hz: cutoff used to find stance cores (one smooth hump per stance).
        stance_level_g: a stance core is where the smoothed vertical specific force exceeds
            this many g (body weight: vGRF averages 1 BW over a stride). The body-weight
            crossing at the end of the stance also anchors the toe-off model.
        contact_level_g: contact = vertical specific force above this many g: it finds the
            contacts, decides whether a step had a flight phase, and gives TO where the
            toe-off model cannot be applied (``to_method="level"`` uses it for every step).
        ic_use_braking: refine IC with the forward axis when it is measured.
        ic_braking_window_s: search window for the steepest forward-acceleration fall,
            relative to the first sample at body weight.
        ic_baseline_s: the forward level before contact is the highest forward acceleration
            within this long before the steepest fall (longer than the impact's rise, which
            takes 5–20 ms, shorter than a flight phase).
        ic_braking_latency_s: constant subtracted from the braking-onset IC (0: the onset
            itself; kept for sensitivity checks).
        to_method: ``"spring_mass"`` (default): TO from the sine-wave vertical force of the
            spring-mass model, anchored on IC, the step time and the body-weight crossing at
            the end of the stance; ``"level"``: the downward crossing of ``contact_level_g``.
        to_pulse_width: measured contact pulses are wider at the base than a half-sine with
            the same body-weight crossing; the model's contact time is multiplied by this.
            1.05 was fitted on alcantara2022 (a leave-one-condition-out check refits it; see
            ``docs/validation.md``); the virtual sensor's own force pulse needs 1.04.
        to_free_fall_g: toe-off is never placed after the vertical specific force has fallen
            below this many g after the stance (the sensor then reads free fall: flight).
        to_step_impulse: the model's force averages body weight over the step only in steady,
            symmetric running; with this on, each step's time is weighted by the step's own
            share of the vertical impulse of the two strides around it (measured), so that a
            step with a short contact and a long flight is not given the impulse of an average
            one (:func:`impulse_weighted_step_s`). False: the step time as measured (Morin et
            al. 2005 as published).
        min_step_s: stance cores starting closer than this are one stance.
        max_contact_s: a contact is never longer than this (s). Running contacts last
            0.1–0.4 s and a walking stance under 1 s; when the signal does not leave contact
            level within it (the runner stopped and stood, or the sensor lay still), the step
            has no TO and is not joined to the next one across the pause.
        min_segment_s: shorter segments give no events.

    """

    lowpass_hz: float = 30.0
    stance_lowpass_hz: float = 8.0
    stance_level_g: float = 1.0
    contact_level_g: float = 0.3
    ic_use_braking: bool = True
    ic_braking_window_s: tuple[float, float] = (-0.04, 0.02)
    ic_baseline_s: float = 0.03
    ic_braking_latency_s: float = 0.0
    to_method: str = "spring_mass"
    to_pulse_width: float = 1.05
    to_free_fall_g: float = 0.05
    to_step_impulse: bool = True
    min_step_s: float = 0.1
    max_contact_s: float = 1.0
    min_segment_s: float = 0.5
    sides: SideSettings = field(default_factory=SideSettings)

    def __post_init__(self) -> None:
        if self.max_contact_s <= self.min_step_s:
            raise SignalError(f"max_contact_s must be > min_step_s, got {self.max_contact_s}")
        if not 0 < self.contact_level_g < self.stance_level_g:
            raise SignalError("need 0 < contact_level_g < stance_level_g, got "
                              f"{self.contact_level_g} and {self.stance_level_g}")
        if self.ic_braking_window_s[0] >= self.ic_braking_window_s[1]:
            raise SignalError(f"empty ic_braking_window_s {self.ic_braking_window_s}")
        if self.to_method not in ("spring_mass", "level"):
            raise SignalError(f"to_method must be 'spring_mass' or 'level', got {self.to_method!r}")
        if not 0.5 <= self.to_pulse_width <= 2.0:
            raise SignalError(f"to_pulse_width must be within 0.5..2, got {self.to_pulse_width}")
        if not 0 <= self.to_free_fall_g < self.contact_level_g:
            raise SignalError("need 0 <= to_free_fall_g < contact_level_g, got "
                              f"{self.to_free_fall_g}")
        if self.ic_baseline_s <= 0:
            raise SignalError(f"ic_baseline_s must be > 0, got {self.ic_baseline_s}")


@dataclass(frozen=True)
class WalkingSettings:
    """Walking detector (:func:`detect_walking_events`).

    Attributes:
        smooth_sigma_s: standard deviation of the Gaussian applied to the vertical
            acceleration (the wavelet scale of McCamley et al. 2012, expressed in seconds).
        min_step_s: peaks closer than this are one step (170 steps/min).
        min_prominence_ms2: a step peak must stand out by this much (m/s²).
        lowpass_hz: low-pass before the IC search.
        ic_search_s: IC is searched in this interval before each peak.
        use_forward: when the forward axis is measured, IC is a weighted mean of the
            steepest vertical rise (loading) and the forward-acceleration peak (Zijlstra & Hof
            2003). Otherwise the steepest vertical rise alone.
        ic_rise_weight: weight of the vertical rise in that mean (the forward peak gets the
            rest). The two references disagree on it: the foot-sensor events of voisard_ipol
            sit on the forward peak, the INDIP events of mobgap_lab nearer the vertical rise;
            0.5 is the compromise, and a leave-one-subject-out refit is in
            ``docs/validation.md``.
        ic_offset_s: constant added to every walking IC (0: none; a constant fitted on one
            reference does not carry over to the other, see ``docs/validation.md``).
        min_segment_s: shorter segments give no events.
        closing_prominence_ms2: the step that ends a walk (the trailing foot set down beside
            the other) loads the trunk little. After the last step of a walk (no step within
            ``closing_gap`` step times), a peak of at least this prominence 0.5–1.5 step
            times later is taken as the closing step. 0 turns this off.
        closing_gap: a step with no next step within this many of its step times ends a walk.
        closing_ic_window: the IC markers of such a closing step are searched over the
            closing window up to its peak (from 0.5 step times after the last step), not only
            ``ic_search_s`` before the peak: a foot set down gently beside the other takes its
            weight slowly, so its weak peak can come later after the contact than a full
            step's. A steeper rise earlier in the window (the end of the last step's
            mid-stance dip) is taken for it. ``False``: the ``ic_search_s`` window, as for
            every other step.
        initiation_prominence: gait initiation loads the stance leg when the leading foot
            lifts off, before any contact: a trunk peak one swing time (less than a step time)
            before the first real step. The first peak of a walk (see ``closing_gap``) whose
            next step comes sooner than ``initiation_step_ratio`` of the walk's step time and
            whose prominence is less than this fraction of the walk's steps is that weight
            transfer, not a step. 0 turns this off.
        initiation_step_ratio: see ``initiation_prominence``; 0.9 lies between a swing time
            (about 0.8 of a step time in walking) and a step time (a walk's true first step
            is usually longer than the next ones).
        estimate_to: estimate each walking step's toe-off (see ``to_sigma_s``); ``False``
            leaves TO NaN.
        to_sigma_s: the toe-off of a step's foot comes after the other foot's IC (double
            support). The trunk shows it on the magnitude of the specific force, smoothed with
            a Gaussian of this standard deviation (s): after the loading peak that follows the
            other foot's IC (within ``to_loading_s`` of it) the signal dips (within
            ``to_dip_s``) and rises again to a small peak (within ``to_push_s``) as the
            trailing foot pushes off; TO is the steepest point of that rise, the final-contact
            marker of McCamley et al. 2012 (the maximum of the once more differentiated step
            signal), taken once per step. No fitted offset. NaN when the dip or the rise is
            missing, for the last step of a walk (no next IC within ``to_max_step_s``), and
            when the marker would fall after the foot's own next IC. The smoothing and the
            windows were chosen on the two walking references (``docs/validation.md``).
        to_loading_s / to_dip_s / to_push_s: the search windows above (s).
        to_max_step_s: no TO is looked for across a longer step (s).
        use_magnitude: when all three axes are measured, steps and the loading rise are found
            on the magnitude of the specific force instead of its vertical component. The
            magnitude does not depend on the trunk's orientation: the body frame is levelled
            once, and in turns the trunk leans and rolls, which mixes the horizontal
            accelerations into the fixed "vertical" axis and weakens the step peaks there. With
            one axis missing, the vertical component is used.

    """

    smooth_sigma_s: float = 0.06
    min_step_s: float = 0.35
    min_prominence_ms2: float = 0.5
    lowpass_hz: float = 20.0
    ic_search_s: float = 0.25
    use_forward: bool = True
    ic_rise_weight: float = 0.5
    ic_offset_s: float = 0.0
    min_segment_s: float = 1.0
    closing_prominence_ms2: float = 0.1
    closing_gap: float = 2.5
    closing_ic_window: bool = True
    initiation_prominence: float = 0.5
    initiation_step_ratio: float = 0.9
    use_magnitude: bool = True
    estimate_to: bool = True
    to_sigma_s: float = 0.02
    to_loading_s: float = 0.25
    to_dip_s: float = 0.3
    to_push_s: float = 0.2
    to_max_step_s: float = 1.5
    sides: SideSettings = field(default_factory=SideSettings)

    def __post_init__(self) -> None:
        if not 0.0 < self.to_sigma_s <= 0.1:
            raise SignalError(f"to_sigma_s must be within (0, 0.1] s, got {self.to_sigma_s}")
        for name in ("to_loading_s", "to_dip_s", "to_push_s", "to_max_step_s"):
            if not getattr(self, name) > 0:
                raise SignalError(f"{name} must be > 0 s, got {getattr(self, name)}")
        if not 0.0 <= self.ic_rise_weight <= 1.0:
            raise SignalError(f"ic_rise_weight must be within 0..1, got {self.ic_rise_weight}")
        if not 0.0 <= self.closing_prominence_ms2 <= self.min_prominence_ms2:
            raise SignalError("closing_prominence_ms2 must be within 0..min_prominence_ms2, got "
                              f"{self.closing_prominence_ms2}")
        if self.closing_gap <= 1.5:
            raise SignalError(f"closing_gap must be > 1.5, got {self.closing_gap}")
        if not 0.0 <= self.initiation_prominence < 1.0:
            raise SignalError("initiation_prominence must be within 0..1, got "
                              f"{self.initiation_prominence}")
        if not 0.0 < self.initiation_step_ratio <= 1.5:
            raise SignalError("initiation_step_ratio must be within 0..1.5, got "
                              f"{self.initiation_step_ratio}")


def _version() -> str:
    from imurun import __version__

    return __version__


@dataclass(frozen=True)
class StepEvents:
    """One row per step, in time order.

    Attributes:
        ic_s: initial contact, s (NaN for a step cut by the start of its segment).
        to_s: toe-off of the same foot, s (NaN when cut by the segment end or, in walking,
            not found). In walking it comes after the next IC (double support).
        side: :class:`Side` code of the foot in contact (``-1`` when unknown).
        side_evidence: signed lateral velocity change over the step, m/s (positive = left);
            NaN when it cannot be computed.
        segment: index of the segment the step belongs to.
        ic_index / to_index: the same events as fractional sample indices.
        flight: ``True`` when the signal left contact before the next IC (running); a running
            step without flight has ``to_s`` equal to the next ``ic_s``. Always ``False`` in
            walking.
        fs_hz, gait, settings, version: how the result was made.

    """

    ic_s: FloatArray
    to_s: FloatArray
    side: SideArray
    side_evidence: FloatArray
    segment: IntArray
    ic_index: FloatArray
    to_index: FloatArray
    flight: npt.NDArray[np.bool_]
    fs_hz: float
    gait: str
    settings: RunningSettings | WalkingSettings
    version: str = field(default_factory=_version)

    def __post_init__(self) -> None:
        n = self.ic_s.shape[0]
        for name in ("to_s", "side", "side_evidence", "segment", "ic_index", "to_index", "flight"):
            arr = getattr(self, name)
            if arr.shape != (n,):
                raise SignalError(f"StepEvents.{name} must have shape ({n},), got {arr.shape}")
        for name in ("ic_s", "to_s", "side", "side_evidence", "segment", "ic_index", "to_index",
                     "flight"):
            getattr(self, name).setflags(write=False)

    def select(self, keep: npt.ArrayLike) -> StepEvents:
        """The steps where ``keep`` (a boolean mask or indices) selects them, in order."""
        k = np.asarray(keep)
        return replace(self, **{name: getattr(self, name)[k] for name in
                                ("ic_s", "to_s", "side", "side_evidence", "segment", "ic_index",
                                 "to_index", "flight")})

    def __len__(self) -> int:
        return int(self.ic_s.shape[0])

    @property
    def n_steps(self) -> int:
        return len(self)

    @property
    def contact_time_s(self) -> FloatArray:
        """Ground contact time per step, s (NaN where IC or TO is missing)."""
        return self.to_s - self.ic_s

    @property
    def step_time_s(self) -> FloatArray:
        """Time from this IC to the next IC in the same segment, s (NaN for the last one)."""
        out = np.full(len(self), np.nan)
        if len(self) > 1:
            same = self.segment[1:] == self.segment[:-1]
            out[:-1] = np.where(same, self.ic_s[1:] - self.ic_s[:-1], np.nan)
        return out

    @property
    def flight_time_s(self) -> FloatArray:
        """Time from this TO to the next IC in the same segment, s.

        In walking it is negative: minus the double support.
        """
        out = np.full(len(self), np.nan)
        if len(self) > 1:
            same = self.segment[1:] == self.segment[:-1]
            out[:-1] = np.where(same, self.ic_s[1:] - self.to_s[:-1], np.nan)
        return out

    def parameters(self) -> dict[str, Any]:
        """The settings used, as plain data (for saving next to the result)."""
        return {"gait": self.gait, "fs_hz": self.fs_hz, "version": self.version,
                "settings": asdict(self.settings)}


# ----------------------------------------------------------------------------------------------
# running
# ----------------------------------------------------------------------------------------------

def detect_running_events(
    bf_acc_ms2: npt.ArrayLike,
    fs_hz: float,
    bf_gyr_rads: npt.ArrayLike | None = None,
    *,
    segments: Iterable[Any] | None = None,
    t_s: npt.ArrayLike | None = None,
    settings: RunningSettings | None = None,
) -> StepEvents:
    """Initial contact, toe-off and side of every running step.

    Args:
        bf_acc_ms2: ``(n, 3)`` body-frame specific force, m/s², gravity included. The vertical
            axis (z) is required; the forward axis (x) refines IC; the lateral axis (y) gives
            the side. An all-NaN column is an axis that was not measured.
        fs_hz: sample rate, Hz.
        bf_gyr_rads: optional ``(n, 3)`` body-frame angular rate, rad/s (improves the side).
        segments: ``[start, stop)`` sample ranges of contiguous samples (pairs or objects with
            ``start``/``stop``); default one segment over everything.
        t_s: optional ``(n,)`` time of each sample; event times are interpolated on it.
            Default ``index / fs_hz``.
        settings: :class:`RunningSettings` (defaults when ``None``).

    Returns:
        :class:`StepEvents` with ``gait="running"``.

    Raises:
        SignalError: wrong shapes, a non-positive rate, non-finite samples inside a segment,
            or no vertical axis.

    """
    cfg = RunningSettings() if settings is None else settings
    fs = check_fs(fs_hz)
    acc = as_signal(bf_acc_ms2, "bf_acc_ms2")
    n = acc.shape[0]
    gyr = None if bf_gyr_rads is None else as_signal(bf_gyr_rads, "bf_gyr_rads", n)
    if not finite_column(acc, BF_UP):
        raise SignalError("bf_acc_ms2 has no vertical (z) axis: running events need it")
    segs = normalise_segments(segments, n)
    has_fwd = cfg.ic_use_braking and finite_column(acc, BF_FORWARD)

    ic_parts: list[FloatArray] = []
    to_parts: list[FloatArray] = []
    fl_parts: list[npt.NDArray[np.bool_]] = []
    sg_parts: list[IntArray] = []
    min_len = max(int(np.ceil(cfg.min_segment_s * fs)), min_filter_length() + 1)
    for k, (a, b) in enumerate(segs):
        if b - a < min_len:
            continue
        v = acc[a:b, BF_UP]
        require_finite(v, "bf_acc_ms2[:, z]", (a, b))
        fwd = None
        if has_fwd:
            fwd = acc[a:b, BF_FORWARD]
            require_finite(fwd, "bf_acc_ms2[:, x]", (a, b))
        ic, to, flight = _running_segment(v, fwd, fs, cfg)
        ic_parts.append(ic + a)
        to_parts.append(to + a)
        fl_parts.append(flight)
        sg_parts.append(np.full(ic.size, k, dtype=np.int64))
    return _finish(ic_parts, to_parts, fl_parts, sg_parts, acc, gyr, fs, segs, t_s, cfg,
                   "running")


def _running_segment(v: FloatArray, fwd: FloatArray | None, fs: float, cfg: RunningSettings,
                     ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
    """Events of one segment as fractional indices relative to its start."""
    n = v.size
    level = cfg.contact_level_g * G_MS2
    stance = cfg.stance_level_g * G_MS2
    # the vertical specific force read as a ground force: clipped at 0 g (the ground only
    # pushes; a raw sensor's negative readings in flight are pelvis motion, not force), so
    # raw and clipped recordings give the same events
    force = np.maximum(v, 0.0)
    vf = lowpass(force, fs, cfg.lowpass_hz)
    vs = lowpass(force, fs, cfg.stance_lowpass_hz)

    # 1. stance cores: smoothed vertical specific force above body weight
    c_start, c_stop = runs(vs > stance)
    if c_start.size > 1:  # cores that start too close together are one stance
        keep = np.r_[True, np.diff(c_start) >= cfg.min_step_s * fs]
        c_stop = np.maximum.reduceat(c_stop, np.flatnonzero(keep))
        c_start = c_start[keep]
    nc = c_start.size
    if nc == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool)
    # step boundaries: the smoothed minimum between consecutive cores (mid-flight), and the
    # segment ends
    bound = np.empty(nc + 1, dtype=np.intp)
    bound[0], bound[-1] = 0, n
    bound[1:-1] = segment_argmin(vs, c_stop[:-1], c_start[1:])

    # 2. contact-level crossings around the part of each step where vf reaches body weight
    up, dn = crossings(vf, level)
    hi_idx = np.flatnonzero(vf >= stance)
    k0 = np.searchsorted(hi_idx, bound[:-1], side="left")
    k1 = np.searchsorted(hi_idx, bound[1:], side="left") - 1
    has_hi = (k0 <= k1) & (k0 < hi_idx.size)
    first_hi = np.where(has_hi, hi_idx[np.minimum(k0, hi_idx.size - 1)], -1)
    last_hi = np.where(has_hi, hi_idx[np.clip(k1, 0, max(hi_idx.size - 1, 0))], -1)
    ic = np.full(nc, np.nan)
    to = np.full(nc, np.nan)
    longest = cfg.max_contact_s * fs
    ju = np.searchsorted(up, first_hi.astype(np.float64), side="right") - 1
    ok = has_hi & (ju >= 0)
    ok[ok] = (up[ju[ok]] >= bound[:-1][ok]) & (first_hi[ok] - up[ju[ok]] <= longest)
    ic[ok] = up[ju[ok]]
    jd = np.searchsorted(dn, last_hi.astype(np.float64), side="left")
    ok = has_hi & (jd < dn.size)
    ok[ok] = (dn[jd[ok]] < bound[1:][ok]) & (dn[jd[ok]] - first_hi[ok] <= longest)
    to[ok] = dn[jd[ok]]
    # no flight between step j and j + 1 (the signal stays above the level): TO_j and IC_j+1
    # both at the minimum of vf around the boundary, unless contact lasts too long for a step
    # (a pause: the step before it has no TO, the one after it no IC)
    flight = np.ones(nc, dtype=bool)
    j = np.flatnonzero(np.isnan(to[:-1]) & np.isnan(ic[1:]))
    lo = np.maximum(last_hi[j], c_stop[j])  # between the two cores: sorted, disjoint ranges
    hi = np.minimum(first_hi[j + 1], c_start[j + 1])
    ok = (hi > lo) & has_hi[j] & has_hi[j + 1] & (first_hi[j + 1] - first_hi[j] <= longest)
    j = j[ok]
    m = segment_argmin(vf, lo[ok], hi[ok]).astype(np.float64)  # first minimum, as np.argmin
    to[j] = m
    ic[j + 1] = m
    flight[j] = False

    # 3. a contact cut by the segment end before its core formed: IC only ...
    anchor = first_hi.astype(np.float64)
    if np.isfinite(to[-1]) and vf[-1] > level and up.size and up[-1] > to[-1]:
        late = hi_idx[hi_idx > up[-1]]
        ic = np.r_[ic, up[-1]]
        to = np.r_[to, np.nan]
        flight = np.r_[flight, True]
        anchor = np.r_[anchor, float(late[0]) if late.size else np.nan]
    # ... and one cut by the segment start before its core formed: TO only
    if (np.isfinite(ic[0]) and vf[0] > level and dn.size and dn[0] < ic[0]
            and vf[:int(dn[0]) + 1].max() >= stance):
        ic = np.r_[np.nan, ic]
        to = np.r_[dn[0], to]
        flight = np.r_[True, flight]
        anchor = np.r_[np.nan, anchor]

    # a core with neither event (e.g. a flat signal hovering at 1 g) is not a step
    keep = np.isfinite(ic) | np.isfinite(to)
    ic, to, flight, anchor = ic[keep], to[keep], flight[keep], anchor[keep]

    # 4. IC on the braking impact of the forward acceleration
    if fwd is not None and ic.size:
        ff = lowpass(fwd, fs, cfg.lowpass_hz)
        dff = np.gradient(ff)
        good = np.flatnonzero(np.isfinite(ic) & np.isfinite(anchor))
        w0 = int(round(cfg.ic_braking_window_s[0] * fs))
        w1 = int(round(cfg.ic_braking_window_s[1] * fs))
        nb = max(int(round(cfg.ic_baseline_s * fs)), 1)
        starts = anchor[good].astype(np.intp) + w0
        inside = (starts >= 1) & (starts + (w1 - w0) < n - 1)
        pos = window_argext(dff, starts[inside], w1 - w0 + 1, mode="min")
        ic[good[inside]] = _braking_onset(ff, dff, pos, nb) - cfg.ic_braking_latency_s * fs
    elif ic.size:
        # vertical axis only: the loading rise before body weight, extended down to zero force
        # (not where the step follows one without flight: the force never reached zero there)
        dvf = np.gradient(vf)
        after_flight = np.r_[True, flight[:-1]]
        good = np.flatnonzero(np.isfinite(ic) & np.isfinite(anchor) & after_flight)
        w0 = int(round(cfg.ic_braking_window_s[0] * fs))
        starts = anchor[good].astype(np.intp) + w0
        inside = starts >= 1
        sel = good[inside]
        pos = window_argext(dvf, starts[inside], -w0 + 1, mode="max")
        slope = dvf[pos]
        with np.errstate(divide="ignore", invalid="ignore"):
            back = np.where(slope > 0, vf[pos] / slope, 0.0)
        ic[sel] = pos - np.clip(back, 0.0, float(-w0))

    # 5. TO from the spring-mass model, anchored on the body-weight crossing
    if cfg.to_method == "spring_mass" and ic.size:
        to = _spring_mass_to(vf, ic, to, flight, cfg)
    return ic, to, flight


def _braking_onset(ff: FloatArray, dff: FloatArray, pos: IntpArray, nb: int) -> FloatArray:
    """Onset of the braking fall that is steepest at ``pos`` (fractional indices).

    The tangent at ``pos`` extended back to the forward level before contact (the highest
    value within ``nb`` samples before ``pos``); kept within ``[pos - nb, pos]``.
    """
    if pos.size == 0:
        return np.zeros(0)
    base_at = window_argext(ff, np.maximum(pos - nb, 0), nb + 1, mode="max", stop=pos + 1)
    drop = ff[base_at] - ff[pos]
    slope = -dff[pos]
    with np.errstate(divide="ignore", invalid="ignore"):
        back = np.where(slope > 0, drop / slope, 0.0)
    return pos - np.clip(back, 0.0, float(nb))


def _next_after(events: FloatArray, t: FloatArray) -> FloatArray:
    """For each ``t``, the first of the sorted ``events`` after it (NaN when none or ``t`` NaN)."""
    out = np.full(t.shape, np.nan)
    if events.size == 0:
        return out
    fin = np.isfinite(t)
    j = np.searchsorted(events, t[fin], side="right")
    hit = j < events.size
    vals = np.full(j.shape, np.nan)
    vals[hit] = events[j[hit]]
    out[fin] = vals
    return out


#: The sine-wave force model: with F(t) = Fmax sin(pi t / tc) over the contact and the mean force
#: over a step equal to body weight (Fmax / BW = pi T / (2 tc), Morin et al. 2005), F falls
#: through body weight at e = tc (1 - asin(2 tc / (pi T)) / pi) after IC. Tabulated as
#: e / T against u = tc / T (monotonic for 0 <= u <= 1) and inverted by interpolation.
_SM_U = np.linspace(0.0, 1.0, 2001)
_SM_E = _SM_U * (1.0 - np.arcsin(np.minimum(2.0 * _SM_U / np.pi, 1.0)) / np.pi)


def spring_mass_contact_s(bw_fall_s: npt.ArrayLike, step_s: npt.ArrayLike,
                          pulse_width: float = 1.0) -> FloatArray:
    """Contact time of the spring-mass model from when the force falls through body weight.

    Morin et al. 2005's half-sine vertical force over a contact ``tc``, with a mean of body
    weight over the step ``T``, falls through body weight ``e = tc (1 - asin(2 tc / (pi T)) /
    pi)`` after IC; this inverts that for ``tc`` from ``e`` (``bw_fall_s``) and ``T``
    (``step_s``), then scales it by ``pulse_width``. NaN where no contact gives that ``e``.
    """
    e = np.asarray(bw_fall_s, dtype=np.float64)
    step = np.asarray(step_s, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = e / step
    ok = np.isfinite(frac) & (frac > 0) & (frac < _SM_E[-1]) & (step > 0)
    tc = np.interp(np.where(ok, frac, 0.0), _SM_E, _SM_U) * step * pulse_width
    return np.where(ok, tc, np.nan)


def impulse_weighted_step_s(impulse: FloatArray, ic: FloatArray, step: FloatArray) -> FloatArray:
    """Step times weighted by each step's share of the measured vertical impulse.

    Over a whole stride of steady running the vertical force averages body weight, but one
    step need not: in asymmetric running the step with the short contact and the long flight
    carries less than body weight times its step time, the other foot's step more (the
    vertical speed at landing alternates). The spring-mass inversion needs the step's own
    impulse; it is measured as the step's share of the two strides centred on it (steps ``k-1``, ``k``, ``k+1`` weighted 1/2, 1, 1/2, which is
    independent of the sensor's gain), or of the one stride there is at the end of a stretch
    of steps. ``impulse`` is any quantity proportional to the step's vertical impulse (e.g.
    the sum of its specific-force samples); steps with no neighbour that follows on without
    a gap keep their measured time.
    """
    j = np.asarray(impulse, dtype=np.float64)
    if j.size < 2:
        return np.array(step, dtype=np.float64)
    # neighbours that follow on without a gap (the last step of a stretch borrows its
    # predecessor's time as its own, so its end is not its successor's IC)
    joined = np.abs(ic[1:] - (ic[:-1] + step[:-1])) <= 1e-9 * np.maximum(1.0, np.abs(ic[1:]))
    prev_ok = np.r_[False, joined]
    next_ok = np.r_[joined, False]
    j_prev = np.where(prev_ok, np.r_[0.0, j[:-1]], 0.0)
    t_prev = np.where(prev_ok, np.r_[0.0, step[:-1]], 0.0)
    j_next = np.where(next_ok, np.r_[j[1:], 0.0], 0.0)
    t_next = np.where(next_ok, np.r_[step[1:], 0.0], 0.0)
    w = np.where(prev_ok & next_ok, 0.5, 1.0)
    time_sum = step + w * (t_prev + t_next)
    imp_sum = j + w * (j_prev + j_next)
    ok = (prev_ok | next_ok) & (j > 0) & (imp_sum > 0) & np.isfinite(imp_sum)
    with np.errstate(divide="ignore", invalid="ignore"):
        weighted = j * time_sum / imp_sum
    return np.where(ok, weighted, step)


def _spring_mass_to(vf: FloatArray, ic: FloatArray, to_level: FloatArray,
                    flight: npt.NDArray[np.bool_], cfg: RunningSettings) -> FloatArray:
    """Toe-off of every step with flight from the spring-mass model (fractional indices).

    Inputs of the model: the step's IC, its step time and the time the vertical specific force
    falls through body weight at the end of its stance. The body-weight crossing used is the first one after the centroid of the step's vertical
    force: a bump of the pelvis around toe-off (stronger uphill) that climbs back above body
    weight cannot then be taken for the end of the stance, nor the dip after a downhill
    impact peak for it. The step time is the time to the next IC (the previous step's for the
    last step). Steps where the model does not apply keep ``to_level``.
    """
    n = vf.size
    g = G_MS2
    nxt = np.r_[ic[1:], np.nan]
    step = nxt - ic
    step = np.where(np.isfinite(step), step, np.r_[np.nan, step[:-1]])
    ok = flight & np.isfinite(ic) & np.isfinite(to_level) & np.isfinite(step) & (step > 0)
    out = to_level.copy()
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    a = np.clip(np.ceil(ic[idx]).astype(np.intp), 0, n)
    b = np.clip(np.floor(ic[idx] + step[idx]).astype(np.intp) + 1, 0, n)
    w = np.maximum(vf, 0.0)
    # prefix sums written in place behind their leading zero (no full-length copies)
    cw = np.empty(n + 1)
    cw[0] = 0.0
    np.cumsum(w, out=cw[1:])
    wi = np.arange(n, dtype=np.float64)  # the sample index (exact in float64)
    wi *= w
    cwi = np.empty(n + 1)
    cwi[0] = 0.0
    np.cumsum(wi, out=cwi[1:])
    mass = cw[b] - cw[a]
    with np.errstate(divide="ignore", invalid="ignore"):
        centroid = np.where(mass > 0, (cwi[b] - cwi[a]) / mass, np.nan)
    _, dn_bw = crossings(vf, cfg.stance_level_g * g)
    t_bw = _next_after(dn_bw, centroid)
    has = np.isfinite(t_bw)
    end = ic[idx] + step[idx]
    model_step = (impulse_weighted_step_s(mass, ic[idx], step[idx]) if cfg.to_step_impulse
                  else step[idx])
    tc = spring_mass_contact_s(t_bw - ic[idx], model_step, cfg.to_pulse_width)
    valid = has & (t_bw < end) & np.isfinite(tc)
    to_m = ic[idx] + tc
    # never after the sensor reads free fall, never after the next IC
    _, dn_ff = crossings(vf, cfg.to_free_fall_g * g)
    free_fall = _next_after(dn_ff, t_bw)
    to_m = np.where(np.isfinite(free_fall), np.minimum(to_m, free_fall), to_m)
    to_m = np.where(np.isfinite(nxt[idx]), np.minimum(to_m, nxt[idx]), to_m)
    out[idx[valid]] = to_m[valid]
    return out


# ----------------------------------------------------------------------------------------------
# walking
# ----------------------------------------------------------------------------------------------

def detect_walking_events(
    bf_acc_ms2: npt.ArrayLike,
    fs_hz: float,
    bf_gyr_rads: npt.ArrayLike | None = None,
    *,
    segments: Iterable[Any] | None = None,
    t_s: npt.ArrayLike | None = None,
    settings: WalkingSettings | None = None,
) -> StepEvents:
    """Initial contacts, toe-offs and sides of walking steps.

    Arguments as :func:`detect_running_events`; ``settings`` is a :class:`WalkingSettings`.
    """
    cfg = WalkingSettings() if settings is None else settings
    fs = check_fs(fs_hz)
    acc = as_signal(bf_acc_ms2, "bf_acc_ms2")
    n = acc.shape[0]
    gyr = None if bf_gyr_rads is None else as_signal(bf_gyr_rads, "bf_gyr_rads", n)
    if not finite_column(acc, BF_UP):
        raise SignalError("bf_acc_ms2 has no vertical (z) axis: walking events need it")
    segs = normalise_segments(segments, n)
    use_magnitude = cfg.use_magnitude and all(finite_column(acc, c) for c in range(3))
    ic_parts: list[FloatArray] = []
    to_parts: list[FloatArray] = []
    sg_parts: list[IntArray] = []
    min_len = max(int(np.ceil(cfg.min_segment_s * fs)), min_filter_length() + 1)
    for k, (a, b) in enumerate(segs):
        if b - a < min_len:
            continue
        v = acc[a:b, BF_UP]
        require_finite(v, "bf_acc_ms2[:, z]", (a, b))
        if use_magnitude:
            require_finite(acc[a:b], "bf_acc_ms2", (a, b))
            # |specific force| does not depend on the trunk's orientation (see WalkingSettings)
            v = np.sqrt(np.einsum("ij,ij->i", acc[a:b], acc[a:b]))
        vs = gaussian_filter1d(v - v.mean(), cfg.smooth_sigma_s * fs, mode="nearest")
        dist = max(int(cfg.min_step_s * fs), 1)
        peaks, props = find_peaks(vs, distance=dist, prominence=cfg.min_prominence_ms2)
        if cfg.initiation_prominence > 0:
            peaks = _without_initiation_peaks(peaks, props["prominences"], cfg)
        w = max(int(round(cfg.ic_search_s * fs)), 1)
        starts = peaks - w
        if cfg.closing_prominence_ms2 > 0 and peaks.size >= 2:
            weak, _ = find_peaks(vs, distance=dist, prominence=cfg.closing_prominence_ms2)
            added, opened = _closing_steps(vs, peaks, weak, dist, cfg.closing_gap)
            peaks = np.union1d(peaks, added)
            starts = peaks - w
            if cfg.closing_ic_window and added.size:
                # a closing step's IC: anywhere in its window before its peak
                starts[np.searchsorted(peaks, added)] = opened
        starts = np.maximum(starts, 0)
        length = int((peaks - starts).max()) + 1 if peaks.size else w + 1
        dv = np.gradient(lowpass(v, fs, cfg.lowpass_hz))
        # loading: steepest rise of the step signal before the step peak (both
        # markers are placed between samples by a parabola through the extremum)
        ic = refine_extremum(dv, window_argext(dv, starts, length, mode="max", stop=peaks + 1))
        if cfg.use_forward and finite_column(acc[a:b], BF_FORWARD):
            fwd = acc[a:b, BF_FORWARD]
            require_finite(fwd, "bf_acc_ms2[:, x]", (a, b))
            # Zijlstra & Hof 2003: forward acceleration peaks at heel strike
            fl = lowpass(fwd, fs, cfg.lowpass_hz)
            kf = refine_extremum(fl, window_argext(fl, starts, length, mode="max",
                                                   stop=peaks + 1))
            ic = cfg.ic_rise_weight * ic + (1.0 - cfg.ic_rise_weight) * kf
        ic = ic + cfg.ic_offset_s * fs
        ic = ic[(ic > 0) & (ic < b - a - 1)]
        ic = np.unique(ic)
        to = _walking_to(v, ic, fs, cfg) if cfg.estimate_to else np.full(ic.size, np.nan)
        ic_parts.append(ic + a)
        to_parts.append(to + a)
        sg_parts.append(np.full(ic.size, k, dtype=np.int64))
    fl_parts = [np.zeros(p.size, dtype=bool) for p in ic_parts]
    return _finish(ic_parts, to_parts, fl_parts, sg_parts, acc, gyr, fs, segs, t_s, cfg,
                   "walking")


def _walking_to(v: FloatArray, ic: FloatArray, fs: float, cfg: WalkingSettings) -> FloatArray:
    """Toe-off of each step's foot (fractional indices into ``v``; NaN when not found).

    ``v`` is one segment's step signal (the magnitude of the specific force, or its vertical
    component), ``ic`` its sorted initial contacts. The TO of step ``k`` is looked for after
    ``ic[k + 1]``, the other foot's contact: the highest local maximum of the smoothed signal
    within ``to_loading_s`` (loading), the first local minimum after it within ``to_dip_s``,
    the first local maximum after that within ``to_push_s`` (push-off), and TO = the steepest
    rise between the two (McCamley et al. 2012's final contact).
    """
    out = np.full(ic.size, np.nan)
    if ic.size < 2:
        return out
    s = gaussian_filter1d(v, cfg.to_sigma_s * fs, mode="nearest")
    ds = np.gradient(s)
    mx, _ = find_peaks(s)
    mn, _ = find_peaks(-s)
    if mx.size < 2 or mn.size == 0:
        return out
    nxt = ic[1:]
    own_next = np.r_[ic[2:], np.inf]  # the foot of step k lands again at ic[k + 2]
    # loading peak: the highest local maximum in (ic[k + 1], ic[k + 1] + to_loading_s)
    lo = np.searchsorted(mx, nxt, side="right")
    hi = np.searchsorted(mx, nxt + cfg.to_loading_s * fs, side="left")
    width = int(max(int((hi - lo).max()), 1))
    cand = lo[:, None] + np.arange(width)[None, :]
    valid = cand < hi[:, None]
    height = np.where(valid, s[mx[np.minimum(cand, mx.size - 1)]], -np.inf)
    load = mx[np.minimum(lo + np.argmax(height, axis=1), mx.size - 1)]
    # the dip after it, then the push-off peak after the dip
    j = np.minimum(np.searchsorted(mn, load, side="right"), mn.size - 1)
    dip = mn[j]
    m = np.minimum(np.searchsorted(mx, dip, side="right"), mx.size - 1)
    push = mx[m]
    ok = ((hi > lo) & (nxt - ic[:-1] <= cfg.to_max_step_s * fs) & (dip > load)
          & (dip - load < cfg.to_dip_s * fs) & (push > dip) & (push - dip < cfg.to_push_s * fs))
    if not ok.any():
        return out
    d, p = dip[ok], push[ok]
    rise = refine_extremum(ds, window_argext(ds, d, int((p - d).max()) + 1, mode="max",
                                             stop=p + 1))
    to = np.full(nxt.size, np.nan)
    to[ok] = rise
    out[:-1] = np.where(to < own_next, to, np.nan)
    return out


def _without_initiation_peaks(peaks: IntpArray, prominence: FloatArray,
                              cfg: WalkingSettings) -> IntpArray:
    """Drop the gait-initiation peak at the start of each walk in ``peaks``.

    A walk starts at the first peak, or at a peak more than ``closing_gap`` of its next step
    time after the previous one. Its first peak is dropped when the next three steps continue
    the walk, the first step interval is shorter than ``initiation_step_ratio`` of their median
    and its prominence is less than ``initiation_prominence`` of the next four peaks' median.
    """
    n = peaks.size
    if n < 5:
        return peaks
    step = np.diff(peaks).astype(np.float64)
    starts = np.r_[0, 1 + np.flatnonzero(step[:-1] > cfg.closing_gap * step[1:])]
    starts = starts[starts + 4 < n]
    if starts.size == 0:
        return peaks
    nxt = step[starts[:, None] + np.arange(1, 4)]  # the walk's next three step intervals
    continued = np.all(nxt[:, 1:] <= cfg.closing_gap * nxt[:, :-1], axis=1) & (
        nxt[:, 0] <= cfg.closing_gap * step[starts])
    prom = prominence[starts[:, None] + np.arange(1, 5)]
    weak = prominence[starts] < cfg.initiation_prominence * np.median(prom, axis=1)
    early = step[starts] < cfg.initiation_step_ratio * np.median(nxt, axis=1)
    drop = starts[continued & weak & early]
    return np.delete(peaks, drop) if drop.size else peaks


def _closing_steps(vs: FloatArray, peaks: IntpArray, weak: IntpArray, dist: int,
                   gap: float) -> tuple[IntpArray, IntpArray]:
    """The closing step of every walk that ends in ``peaks``: ``(added peaks, window starts)``.

    A walk ends at a step whose next step is more than ``gap`` of its own step time away (or
    absent). Its closing step is the highest of the ``weak`` (low-prominence) peaks 0.5–1.5
    step times later, at least ``dist`` samples before the next step; the window opens 0.5
    step times after the walk's last step (both returned as sorted sample indices).
    """
    none = np.zeros(0, dtype=np.intp)
    step = np.diff(peaks)
    own = np.r_[step[0], step]  # step time ending at each peak (the first: the next one)
    nxt = np.r_[peaks[1:], np.iinfo(np.int64).max // 2]
    ends = np.flatnonzero(nxt - peaks > gap * own)
    if ends.size == 0 or weak.size == 0:
        return none, none
    p, t = peaks[ends], own[ends]
    opens = np.ceil(p + 0.5 * t).astype(np.intp)
    lo = np.searchsorted(weak, opens, side="left")
    hi = np.searchsorted(weak, np.minimum(p + 1.5 * t, nxt[ends] - dist), side="right")
    # one walk end per few seconds of signal: a short loop
    found = [(int(weak[a + np.argmax(vs[weak[a:b]])]), int(o))
             for a, b, o in zip(lo.tolist(), hi.tolist(), opens.tolist(), strict=True) if b > a]
    if not found:
        return none, none
    added = np.asarray([f[0] for f in found], dtype=np.intp)
    opened = np.asarray([f[1] for f in found], dtype=np.intp)
    return added, opened


# ----------------------------------------------------------------------------------------------
# sides
# ----------------------------------------------------------------------------------------------

def assign_sides(
    bf_acc_ms2: npt.ArrayLike,
    fs_hz: float,
    ic_index: npt.ArrayLike,
    step_segment: npt.ArrayLike,
    bf_gyr_rads: npt.ArrayLike | None = None,
    *,
    segments: Iterable[Any] | None = None,
    settings: SideSettings | None = None,
) -> tuple[SideArray, FloatArray]:
    """Left/right of each step from the lateral velocity change of the pelvis.

    Args:
        bf_acc_ms2: ``(n, 3)`` body-frame specific force, m/s²; the lateral axis (y) is needed.
        fs_hz: sample rate, Hz.
        ic_index: ``(k,)`` fractional sample index of each step's IC, sorted (NaN allowed).
        step_segment: ``(k,)`` index into ``segments`` of each step.
        bf_gyr_rads: optional ``(n, 3)`` angular rate, rad/s: its roll axis (x) removes the
            gravity seen by the lateral axis when the pelvis rolls.
        segments: as in :func:`detect_running_events`.
        settings: :class:`SideSettings`.

    Returns:
        ``(side, evidence)``: :class:`Side` codes (``UNKNOWN`` without a lateral axis or where
        the step cannot be measured) and the evidence, the lateral velocity change over the
        step with its sign flipped (m/s, positive = left step).

    """
    cfg = SideSettings() if settings is None else settings
    fs = check_fs(fs_hz)
    acc = as_signal(bf_acc_ms2, "bf_acc_ms2")
    n = acc.shape[0]
    gyr = None if bf_gyr_rads is None else as_signal(bf_gyr_rads, "bf_gyr_rads", n)
    ic = np.asarray(ic_index, dtype=np.float64).reshape(-1)
    seg_of = np.asarray(step_segment, dtype=np.int64).reshape(-1)
    if seg_of.shape != ic.shape:
        raise SignalError(f"step_segment must have shape {ic.shape}, got {seg_of.shape}")
    segs = normalise_segments(segments, n)
    side = np.full(ic.size, Side.UNKNOWN, dtype=np.int8)
    evidence = np.full(ic.size, np.nan)
    if ic.size == 0 or not finite_column(acc, BF_LEFT):
        return side, evidence
    use_gyr = (gyr is not None and cfg.roll_correction and finite_column(gyr, BF_FORWARD))
    for k, (a, b) in enumerate(segs):
        sel = np.flatnonzero((seg_of == k) & np.isfinite(ic))
        if sel.size == 0 or b - a <= min_filter_length():
            continue
        lat = acc[a:b, BF_LEFT]
        require_finite(lat, "bf_acc_ms2[:, y]", (a, b))
        if use_gyr:
            assert gyr is not None
            roll = gyr[a:b, BF_FORWARD]
            require_finite(roll, "bf_gyr_rads[:, x]", (a, b))
            roll = bandpass(roll, fs, cfg.highpass_hz, cfg.lowpass_hz)
            angle = np.cumsum(roll)
            angle /= fs
            phi = highpass(angle, fs, cfg.highpass_hz)
            grav = np.sin(phi)
            grav *= G_MS2
            lat = lat - grav
        lat = bandpass(lat, fs, cfg.highpass_hz, cfg.lowpass_hz)
        vel = np.empty(b - a + 1)  # vel[i] = velocity at sample i
        vel[0] = 0.0
        np.cumsum(lat, out=vel[1:])
        vel[1:] /= fs
        t0 = ic[sel] - a
        t1 = np.r_[t0[1:], np.nan]
        steps = np.diff(t0)
        med = float(np.median(steps)) if steps.size else np.nan
        last = np.isnan(t1)
        if np.isfinite(med):
            t1[last] = t0[last] + med
        t1 = np.minimum(t1, b - a - 1)
        ok = np.isfinite(t1) & (t1 > t0) & (t0 >= 0)
        e = np.full(sel.size, np.nan)
        e[ok] = -(interp_index(t1[ok], vel) - interp_index(t0[ok], vel))
        evidence[sel] = e
        side[sel] = _decide(e, t0, cfg)
    return side, evidence


def _decide(e: FloatArray, t0: FloatArray, cfg: SideSettings) -> SideArray:
    """Sides from evidence; with ``use_alternation``, the most likely L/R sequence.

    Two-state Viterbi over the steps of one segment. Emission: the evidence, scaled by its
    median magnitude and clipped, is taken as the log-likelihood ratio of left vs right.
    Transition: the next step is on the other foot with probability ``alternation_p`` when the
    step time is regular (within ``[min_step_ratio, max_step_ratio]`` × the median), and 0.5
    otherwise (a missed or extra step may have broken the alternation). A loop over steps, two
    states each: clearer than a vectorised form and as fast for a few thousand steps.
    """
    per_step = np.where(e > 0, Side.LEFT, Side.RIGHT).astype(np.int8)
    finite = np.isfinite(e)
    per_step[~finite] = Side.UNKNOWN
    if not cfg.use_alternation or e.size < 2 or not finite.any():
        return per_step
    scale = float(np.nanmedian(np.abs(e))) or 1.0
    llr = np.where(finite, np.clip(e / scale, -cfg.evidence_clip, cfg.evidence_clip), 0.0)
    steps = np.diff(t0)
    med = float(np.median(steps))
    regular = (steps >= cfg.min_step_ratio * med) & (steps <= cfg.max_step_ratio * med)
    p_alt = np.where(regular, cfg.alternation_p, 0.5)
    # log P(other foot) - log P(same foot) per transition; emissions +-llr/2
    gain = (np.log(p_alt) - np.log1p(-p_alt)).tolist()
    half = (0.5 * llr).tolist()
    # state 0 = left, 1 = right; scores are log-probabilities up to a common constant.
    # Plain floats: for two states this loop is faster than any array form. Each state keeps
    # its score or takes the other's plus the gain, whichever is higher (the first on a tie).
    s_left, s_right = half[0], -half[0]
    from_other = bytearray(e.size)  # bit 0: left came from right; bit 1: right came from left
    k = 0
    for g, h in zip(gain, half[1:], strict=True):
        k += 1
        left_swap = s_right + g
        right_swap = s_left + g
        if left_swap > s_left:
            if right_swap > s_right:
                from_other[k] = 3
                s_left, s_right = left_swap + h, right_swap - h
            else:
                from_other[k] = 1
                s_left, s_right = left_swap + h, s_right - h
        elif right_swap > s_right:
            from_other[k] = 2
            s_left, s_right = s_left + h, right_swap - h
        else:
            s_left, s_right = s_left + h, s_right - h
    cur = 0 if s_left >= s_right else 1
    path = bytearray(e.size)
    path[-1] = cur
    for k in range(e.size - 1, 0, -1):
        if from_other[k] >> cur & 1:
            cur ^= 1
        path[k - 1] = cur
    state = np.frombuffer(bytes(path), dtype=np.int8)
    return np.where(state == 0, Side.LEFT, Side.RIGHT).astype(np.int8)


# ----------------------------------------------------------------------------------------------
# assembly
# ----------------------------------------------------------------------------------------------

def _finish(ic_parts: list[FloatArray], to_parts: list[FloatArray],
            fl_parts: list[npt.NDArray[np.bool_]], sg_parts: list[IntArray],
            acc: FloatArray, gyr: FloatArray | None, fs: float,
            segs: tuple[tuple[int, int], ...], t_s: npt.ArrayLike | None,
            cfg: RunningSettings | WalkingSettings, gait: str) -> StepEvents:
    ic_idx = np.concatenate(ic_parts) if ic_parts else np.zeros(0)
    to_idx = np.concatenate(to_parts) if to_parts else np.zeros(0)
    flight = np.concatenate(fl_parts) if fl_parts else np.zeros(0, dtype=bool)
    seg = np.concatenate(sg_parts) if sg_parts else np.zeros(0, dtype=np.int64)
    side, evidence = assign_sides(acc, fs, ic_idx, seg, gyr, segments=segs, settings=cfg.sides)
    n = acc.shape[0]
    if t_s is None:
        ic_s, to_s = ic_idx / fs, to_idx / fs
    else:
        t = np.asarray(t_s, dtype=np.float64)
        if t.shape != (n,):
            raise SignalError(f"t_s must have shape ({n},), got {t.shape}")
        ic_s = np.where(np.isfinite(ic_idx), interp_index(ic_idx, t), np.nan)
        to_s = np.where(np.isfinite(to_idx), interp_index(to_idx, t), np.nan)
    return StepEvents(ic_s=ic_s, to_s=to_s, side=side, side_evidence=evidence, segment=seg,
                      ic_index=ic_idx, to_index=to_idx, flight=flight, fs_hz=fs, gait=gait,
                      settings=cfg)
