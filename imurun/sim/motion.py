"""Motion generator of the virtual sensor: sacral kinematics, ideal IMU readings and exact truth.

One verb, :func:`generate`, turns a script of :class:`Phase` (run / walk / stand, speeds, turns)
and a :class:`RunnerProfile` into a :class:`Motion`: accelerometer and gyroscope samples in the
sensor frame plus a :class:`Truth` recorded from the same closed-form model. The model is
described in ``docs/simulator.md`` ("Motion model").

Frames (right-handed, SI units inside)
--------------------------------------
* World W (``wf_``): x forward along the initial heading, y left, z up; gravity is ``-g z``.
* Body B (``bf_``, the sacrum): x forward, y left, z up in the *standing reference posture*.
* Sensor S (``sf_``): fixed to B by :class:`Mounting`; ``v_bf = r_sb @ v_sf`` (the columns of
  ``r_sb`` are the sensor axes in body coordinates), so a reading is ``v_sf = r_sb.T @ v_bf``.

The IMU sits at the sacrum point whose motion the truth describes (zero lever arm): the
accelerometer reads the specific force ``acc_sf = r_sb.T @ r_wb.T @ (a_wf + g z)`` and the
gyroscope the angular velocity of B, ``gyr_sf = r_sb.T @ omega_bf``.

Orientation and pelvic angles
-----------------------------
``r_wb = Rz(heading + rotation) @ Rx(obliquity) @ Ry(tilt)`` (intrinsic z-x-y; helpers in
:mod:`imurun.sim.rotations`). Angles are relative to the standing reference posture (all zero
when standing still, apart from postural sway):

* tilt (about body y): + = anterior tilt, the sacrum's z axis leans forward. While running its
  mean is ``RunnerProfile.tilt_offset_deg`` (more anterior than standing), not 0.
* obliquity (about body x): + = left hip up. It includes the lean into turns.
* rotation (about z): + = pelvis faces left. Mean 0 (``rotation_offset_deg`` shifts it).
* heading: the smooth direction of travel from the script's turns, kept separate from rotation.

Per-step truth definitions (all computed on the truth series sampled at ``fs_hz``; a step's
samples are those with ``ic_s <= t < ic_s + step_s``, its stance samples ``ic_s <= t < to_s``;
a value "at IC" is the series linearly interpolated at ``ic_s``):

* ``vertical_oscillation_m``: max - min sacral height over the step.
* ``braking_mps``: speed at IC minus the minimum speed over the stance (IC included, so >= 0).
* ``impact_g``: maximum vertical (world z) specific force over the stance, in g.
* ``pelvic_tilt_range_deg``, ``pelvic_rotation_range_deg``: max - min over the step.
* ``pelvic_drop_deg``: how far the swing-side hip drops during stance relative to its level at
  IC, i.e. ``max(obliquity - obliquity_at_IC)`` over the stance for a left stance (the right hip
  drops, obliquity rises) and ``max(obliquity_at_IC - obliquity)`` for a right stance, the value
  at IC included (so >= 0).
* ``contact_s = to_s - ic_s``; ``step_s`` = IC to the next IC; ``flight_s = step_s - contact_s``
  (negative when walking: minus the double-support time; 0 for a walking step followed by a
  running contact). A walking foot's ground reaction force starts at its ``ic_s`` and ends at
  its ``to_s`` (docs/simulator.md, "Walking step").
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import numpy.typing as npt

from imurun import __version__
from imurun.consts import DEG2RAD, G_MS2, RAD2DEG
from imurun.errors import UsageError
from imurun.sim import _gait
from imurun.sim.rotations import (
    bf_from_wf,
    bf_rate_from_angle_rates,
    r_wb_from_angles,
    rot_x,
    rot_y,
)

FloatArray = npt.NDArray[np.float64]
PhaseKind = Literal["run", "walk", "stand"]

__all__ = [
    "Mounting",
    "Motion",
    "NoiseModel",
    "Phase",
    "RunnerProfile",
    "SensorErrors",
    "Truth",
    "MotionPlan",
    "generate",
    "plan_motion",
    "script_default",
]

_ACTIVITY_NAMES = np.array(["stand", "walk", "run"])
_SMOOTHSTEP_PEAK = 1.875  # max slope of the quintic smoothstep used for turns
#: Peak heading rate a phase may ask for (a brisk 180-degree pivot takes about 2 s).
MAX_TURN_RATE_DPS = 180.0
#: Peak centripetal acceleration a phase may ask for (a lean of about 31 degrees).
MAX_CENTRIPETAL_MS2 = 6.0


_T = TypeVar("_T", bound=np.generic)


def _frozen(a: npt.NDArray[_T]) -> npt.NDArray[_T]:
    """Read-only array; copied only when ``a`` is a view (callers pass arrays they own)."""
    arr = a.copy() if a.base is not None or not a.flags.c_contiguous else a
    arr.setflags(write=False)
    return arr


# ============================================================================ inputs
@dataclass(frozen=True)
class Phase:
    """One stretch of a script.

    ``speed_mps=None`` takes the profile's default for the kind (``ref_speed_mps`` when running,
    ``walk_speed_mps`` when walking, 0 when standing). ``turn_deg`` (+ = to the left) is spread
    over ``turn_s`` seconds centred in the phase (the whole phase when ``None``); :func:`generate`
    refuses turns faster than ``MAX_TURN_RATE_DPS`` or with a centripetal acceleration above
    ``MAX_CENTRIPETAL_MS2``. Speed changes between phases are smooth (see
    ``RunnerProfile.speed_change_mps2``).
    """

    kind: PhaseKind
    duration_s: float
    speed_mps: float | None = None
    turn_deg: float = 0.0
    turn_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("run", "walk", "stand"):
            raise UsageError(f"Phase.kind must be 'run', 'walk' or 'stand', got {self.kind!r}")
        if not self.duration_s > 0.0:
            raise UsageError(f"Phase.duration_s must be > 0, got {self.duration_s}")
        limits = {"run": (1.5, 8.0), "walk": (0.4, 2.5), "stand": (0.0, 0.0)}[self.kind]
        if self.speed_mps is not None and not limits[0] <= self.speed_mps <= limits[1]:
            raise UsageError(
                f"{self.kind} speed must be within {limits[0]}..{limits[1]} m/s, got {self.speed_mps}"
            )
        if self.turn_s is not None and not self.turn_s > 0.0:
            raise UsageError(f"Phase.turn_s must be > 0 or None, got {self.turn_s}")
        if abs(self.turn_deg) > 720.0:
            raise UsageError(f"Phase.turn_deg must be within +-720, got {self.turn_deg}")


@dataclass(frozen=True)
class RunnerProfile:
    """Who is running. Amplitudes are per step; ``*_cv`` are step-to-step coefficients of variation.

    Running timing follows the speed ``v`` at each contact:
    ``cadence = cadence_spm (v/ref_speed_mps)^cadence_speed_exponent`` and
    ``contact = contact_s (v/ref_speed_mps)^contact_speed_exponent``. Drops are named by the
    *stance* side: ``drop_left_stance_deg`` is how far the right (swing) hip drops while the
    left foot is on the ground. ``mass_kg`` and ``leg_length_m`` describe the runner for
    downstream force and stiffness estimates; the kinematics do not depend on them.
    """

    mass_kg: float = 70.0
    leg_length_m: float = 0.90
    # running timing
    ref_speed_mps: float = 3.3
    cadence_spm: float = 170.0
    cadence_speed_exponent: float = 0.2
    contact_s: float = 0.25
    contact_speed_exponent: float = -0.7
    contact_balance_left: float = 0.505  # share of contact time on the left (GCT balance)
    run_min_speed_mps: float = 2.0  # slower steps of a run phase are walked
    # running translation
    impact_g: float = 2.2  # amplitude of the impact transient after IC (g, scaled with speed)
    impact_s: float = 0.05
    braking_mps: float = 0.25  # target speed loss IC -> min at ref speed (scaled with speed)
    braking_spike_g: float = 0.8  # forward deceleration spike at IC (g)
    run_sway_m: float = 0.03  # peak-to-peak mediolateral sway
    # running pelvis
    tilt_range_deg: float = 6.0
    tilt_offset_deg: float = 3.0
    drop_left_stance_deg: float = 5.5
    drop_right_stance_deg: float = 6.5
    obliquity_ic_fraction: float = 0.2  # level at IC, as a fraction of the drop, on the other side
    drop_peak_fraction: float = 0.45  # of contact, where the drop peaks
    rotation_range_deg: float = 10.0
    rotation_offset_deg: float = 0.0
    # variability
    step_time_cv: float = 0.015
    contact_cv: float = 0.02
    amplitude_cv: float = 0.08
    # walking
    walk_speed_mps: float = 1.4
    walk_cadence_spm: float = 112.0
    walk_cadence_speed_exponent: float = 0.4
    walk_double_support_fraction: float = 0.24  # of a step (voisard_ipol: 23.7 %)
    walk_vertical_oscillation_m: float = 0.04
    walk_braking_mps: float = 0.2  # speed lost after IC (both feet's braking and propulsion)
    walk_impact_g: float = 0.29  # heel-strike transient of each foot's force (body weights)
    walk_impact_s: float = 0.09
    walk_sway_m: float = 0.04
    walk_tilt_range_deg: float = 3.0
    walk_tilt_offset_deg: float = 1.0
    walk_drop_deg: float = 4.0
    walk_rotation_range_deg: float = 8.0
    # standing, transitions, turns
    stand_sway_deg: float = 0.2
    speed_change_mps2: float = 0.5
    turn_lean_fraction: float = 1.0  # of the centripetal lean atan(v * yaw_rate / g)

    def __post_init__(self) -> None:
        positive = (
            "mass_kg", "leg_length_m", "ref_speed_mps", "cadence_spm", "contact_s", "impact_s",
            "walk_speed_mps", "walk_cadence_spm", "walk_impact_s", "speed_change_mps2",
            "run_min_speed_mps",
        )
        for name in positive:
            if not getattr(self, name) > 0.0:
                raise UsageError(f"RunnerProfile.{name} must be > 0, got {getattr(self, name)}")
        non_negative = (
            "impact_g", "braking_mps", "braking_spike_g", "run_sway_m", "tilt_range_deg",
            "drop_left_stance_deg", "drop_right_stance_deg", "rotation_range_deg", "step_time_cv",
            "contact_cv", "amplitude_cv", "walk_vertical_oscillation_m", "walk_braking_mps",
            "walk_impact_g", "walk_sway_m", "walk_tilt_range_deg", "walk_drop_deg",
            "walk_rotation_range_deg", "stand_sway_deg", "turn_lean_fraction",
            "walk_double_support_fraction",
        )
        for name in non_negative:
            if not getattr(self, name) >= 0.0:
                raise UsageError(f"RunnerProfile.{name} must be >= 0, got {getattr(self, name)}")
        ranges = {
            "contact_balance_left": (0.4, 0.6),
            "obliquity_ic_fraction": (0.0, 0.45),
            "drop_peak_fraction": (0.1, 0.9),
            "walk_double_support_fraction": (0.18, 0.3),
            "walk_impact_s": (0.02, 0.2),
            "step_time_cv": (0.0, 0.05),
            "contact_cv": (0.0, 0.05),
            "amplitude_cv": (0.0, 0.3),
        }
        for name, (lo, hi) in ranges.items():
            if not lo <= getattr(self, name) <= hi:
                raise UsageError(f"RunnerProfile.{name} must be within {lo}..{hi}, got {getattr(self, name)}")

    def default_speed_mps(self, kind: PhaseKind) -> float:
        """Speed a :class:`Phase` of this kind gets when it names none."""
        return {"run": self.ref_speed_mps, "walk": self.walk_speed_mps, "stand": 0.0}[kind]


@dataclass(frozen=True)
class NoiseModel:
    """Sensor errors drawn once per run (biases, scale factors) plus white noise per sample.

    White-noise densities are per sqrt(Hz); the per-sample standard deviation is
    ``density * sqrt(fs_hz / 2)`` (bandwidth up to Nyquist). Defaults are of the order of a
    consumer MEMS IMU datasheet. ``NoiseModel.clean()`` gives exact signals.
    """

    acc_density_ms2_rthz: float = 1.0e-3  # ~100 ug/sqrt(Hz)
    gyr_density_rads_rthz: float = 1.0e-4  # ~5.7 mdps/sqrt(Hz)
    acc_bias_sigma_ms2: float = 0.15  # ~15 mg per axis
    gyr_bias_sigma_rads: float = 0.005  # ~0.3 deg/s per axis
    acc_scale_sigma: float = 0.005
    gyr_scale_sigma: float = 0.005

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            if not getattr(self, name) >= 0.0:
                raise UsageError(f"NoiseModel.{name} must be >= 0, got {getattr(self, name)}")

    @classmethod
    def clean(cls) -> NoiseModel:
        """No noise, no bias, no scale error: the readings are the exact model values."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)

    @property
    def is_clean(self) -> bool:
        return all(getattr(self, name) == 0.0 for name in self.__dataclass_fields__)


@dataclass(frozen=True, eq=False)
class SensorErrors:
    """The errors one run actually got (sensor frame): reading = (1 + scale) * true + bias + noise."""

    acc_bias_ms2: FloatArray
    gyr_bias_rads: FloatArray
    acc_scale: FloatArray
    gyr_scale: FloatArray


_SIGNED_PERMUTATIONS: tuple[FloatArray, ...] = tuple(
    m
    for perm in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
    for signs in np.ndindex(2, 2, 2)
    if np.linalg.det(m := np.eye(3)[list(perm)] * (1.0 - 2.0 * np.array(signs))[:, None]) > 0
)


@dataclass(frozen=True, eq=False)
class Mounting:
    """How the sensor sits on the sacrum: ``v_bf = r_sb @ v_sf``, ``v_sf = r_sb.T @ v_bf``.

    The columns of ``r_sb`` are the sensor's x, y, z axes expressed in the body frame.
    """

    r_sb: FloatArray
    label: str = "custom"

    def __post_init__(self) -> None:
        r = np.array(self.r_sb, dtype=np.float64)
        if r.shape != (3, 3):
            raise UsageError(f"Mounting.r_sb must be 3x3, got shape {r.shape}")
        if not np.allclose(r.T @ r, np.eye(3), atol=1e-9) or np.linalg.det(r) < 0:
            raise UsageError("Mounting.r_sb must be a proper rotation (orthonormal, det +1)")
        r.setflags(write=False)
        object.__setattr__(self, "r_sb", r)

    @classmethod
    def upright(cls) -> Mounting:
        """Sensor axes = body axes."""
        return cls(np.eye(3), "upright")

    @classmethod
    def upside_down(cls) -> Mounting:
        """Turned 180 deg about the forward axis: sensor y points right, z down."""
        return cls(np.diag([1.0, -1.0, -1.0]), "upside_down")

    @classmethod
    def random(cls, rng: np.random.Generator, max_tilt_deg: float = 30.0) -> Mounting:
        """Random placement: 90-degree steps (upside-down included), then a tilt.

        One of the 24 axis-aligned orientations, tilted about the body's y and x axes by up to
        ``max_tilt_deg`` each.
        """
        base = _SIGNED_PERMUTATIONS[int(rng.integers(len(_SIGNED_PERMUTATIONS)))]
        ty, tx = rng.uniform(-max_tilt_deg, max_tilt_deg, size=2) * DEG2RAD
        r = rot_y(ty) @ rot_x(tx) @ base
        label = f"random(base={base.astype(int).tolist()}, tilt_y={ty * RAD2DEG:.1f}, tilt_x={tx * RAD2DEG:.1f})"
        return cls(r, label)

    def sf_from_bf(self, v_bf: npt.ArrayLike) -> FloatArray:
        """Body-frame vectors ``(n, 3)`` into sensor coordinates."""
        return np.einsum("nj,jk->nk", np.asarray(v_bf, dtype=np.float64), self.r_sb)

    def bf_from_sf(self, v_sf: npt.ArrayLike) -> FloatArray:
        """Sensor-frame vectors ``(n, 3)`` into body coordinates."""
        return np.einsum("nj,kj->nk", np.asarray(v_sf, dtype=np.float64), self.r_sb)


# ============================================================================ outputs
@dataclass(frozen=True, eq=False)
class Truth:
    """Exact ground truth of one generated run (definitions in the module docstring).

    Per-step arrays have one entry per step (``side`` 0 = left stance, 1 = right stance;
    ``activity`` "run" / "walk"). Series are sampled at ``fs_hz`` on the same grid as the
    :class:`Motion` signals.
    """

    fs_hz: float
    # ---- per step
    ic_s: FloatArray
    to_s: FloatArray
    side: npt.NDArray[np.int8]
    activity: npt.NDArray[np.str_]
    contact_s: FloatArray
    flight_s: FloatArray
    step_s: FloatArray
    step_length_m: FloatArray
    vertical_oscillation_m: FloatArray
    braking_mps: FloatArray
    impact_g: FloatArray
    pelvic_tilt_range_deg: FloatArray
    pelvic_drop_deg: FloatArray
    pelvic_rotation_range_deg: FloatArray
    # ---- series
    tilt_deg: FloatArray
    obliquity_deg: FloatArray
    rotation_deg: FloatArray
    heading_deg: FloatArray
    speed_mps: FloatArray  # along the path (excludes sway)
    distance_m: FloatArray  # along the path since t = 0
    height_m: FloatArray  # sacral height relative to its height at contacts / standing
    lateral_m: FloatArray  # sway, left of the path
    wf_vel_mps: FloatArray  # (n, 3) sacral velocity in W
    wf_acc_ms2: FloatArray  # (n, 3) sacral acceleration in W (gravity not included)
    bf_acc_ms2: FloatArray  # (n, 3) exact specific force in B (what an ideal IMU reads)
    bf_gyr_rads: FloatArray  # (n, 3) exact angular velocity of B in B
    activity_labels: npt.NDArray[np.str_]  # "stand" / "walk" / "run" per sample
    step_index: npt.NDArray[np.int32]  # step each sample belongs to, -1 outside steps
    # ---- phases and context
    phase_start_s: FloatArray
    phase_end_s: FloatArray
    script: tuple[Phase, ...]
    profile: RunnerProfile
    mounting: Mounting

    @property
    def n_steps(self) -> int:
        return int(self.ic_s.size)

    @property
    def r_sb(self) -> FloatArray:
        return self.mounting.r_sb

    def r_wb(self) -> FloatArray:
        """Orientation of B in W per sample, ``(n, 3, 3)``."""
        return r_wb_from_angles(
            (self.heading_deg + self.rotation_deg) * DEG2RAD,
            self.obliquity_deg * DEG2RAD,
            self.tilt_deg * DEG2RAD,
        )


@dataclass(frozen=True, eq=False)
class Motion:
    """A generated recording: sensor-frame signals at ``fs_hz`` (t_s starts at 0) and its truth."""

    t_s: FloatArray
    acc_ms2: FloatArray  # (n, 3) specific force in S
    gyr_rads: FloatArray  # (n, 3) angular velocity in S
    truth: Truth
    fs_hz: float
    mounting: Mounting
    noise: NoiseModel
    sensor_errors: SensorErrors
    generation_s: float = 0.0
    version: str = field(default=__version__)

    @property
    def duration_s(self) -> float:
        return float(self.t_s.size / self.fs_hz)


# ============================================================================ scripts
def script_default(minutes: float, rng: np.random.Generator) -> tuple[Phase, ...]:
    """A realistic session of ``minutes`` (>= 1), randomised by ``rng``.

    Stand, walk warm-up, runs with pace changes and gentle curves, a 180-degree turnaround while
    running, a walking break with a turn, faster and slower running, cool-down walk, stand.
    """
    if not minutes >= 1.0:
        raise UsageError(f"script_default needs minutes >= 1, got {minutes}")
    total = float(minutes) * 60.0

    def u(a: float, b: float) -> float:
        return float(rng.uniform(a, b))

    easy, walk = u(2.9, 3.4), u(1.3, 1.5)
    side = 1.0 if rng.random() < 0.5 else -1.0
    if total < 8 * 60:
        stand = max(5.0, 0.05 * total)
        plan = [
            ("stand", stand, None, 0.0, None),
            ("walk", 0.12 * total, walk, side * u(10, 30), None),
            ("run", 0.25 * total, easy, -side * u(10, 40), None),
            ("run", 0.15 * total, easy + u(0.5, 0.8), 0.0, None),
            ("run", 0.15 * total, easy - 0.3, 180.0 * side, 5.0),
            ("run", 0.0, easy, side * u(0, 30), None),  # remainder
            ("walk", 0.10 * total, walk - 0.1, 0.0, None),
            ("stand", stand, None, 0.0, None),
        ]
    else:
        plan = [
            ("stand", u(20, 40), None, 0.0, None),
            ("walk", min(180.0, 0.08 * total), walk, side * u(20, 40), None),
            ("run", 0.20 * total, easy, -side * u(20, 60), None),
            ("run", 0.08 * total, easy + u(0.6, 0.9), side * u(0, 20), None),
            ("run", max(20.0, 0.02 * total), easy - 0.3, 180.0 * side, u(5, 7)),
            ("run", 0.10 * total, easy, 0.0, None),
            ("walk", max(45.0, 0.04 * total), walk, -180.0 * side, u(6, 8)),
            ("run", 0.0, easy + 0.1, side * u(20, 90), None),  # remainder
            ("run", 0.04 * total, easy + u(0.8, 1.1), 0.0, None),
            ("run", 0.05 * total, easy - 0.3, -side * u(10, 40), None),
            ("walk", min(150.0, 0.06 * total), walk - 0.1, 0.0, None),
            ("stand", u(20, 30), None, 0.0, None),
        ]
    rest = total - sum(p[1] for p in plan)
    phases = []
    for kind, dur, speed, turn, turn_s in plan:
        d = dur if dur > 0 else rest
        phases.append(Phase(kind, round(d, 3), speed, round(turn, 3), turn_s))  # type: ignore[arg-type]
    fix = total - sum(p.duration_s for p in phases)
    i = next(k for k, p in enumerate(plan) if p[1] == 0.0)
    phases[i] = Phase(phases[i].kind, phases[i].duration_s + fix, phases[i].speed_mps,
                      phases[i].turn_deg, phases[i].turn_s)
    return tuple(phases)


# ============================================================================ generation
def generate(
    script: tuple[Phase, ...] | list[Phase],
    profile: RunnerProfile | None = None,
    fs_hz: float = 200.0,
    *,
    mounting: Mounting | None = None,
    noise: NoiseModel | None = None,
    rng: np.random.Generator,
) -> Motion:
    """Generate sensor signals and truth for ``script``.

    Deterministic given ``rng``'s seed. The motion (truth) does not depend on ``noise`` or
    ``mounting``: the same seed gives the same run whatever the sensor's errors or placement.
    Defaults: ``RunnerProfile()``, ``Mounting.upright()``, ``NoiseModel()``.
    """
    t_start = time.perf_counter()
    return plan_motion(script, profile, fs_hz, mounting=mounting, noise=noise, rng=rng).motion(t_start)


def plan_motion(
    script: tuple[Phase, ...] | list[Phase],
    profile: RunnerProfile | None = None,
    fs_hz: float = 200.0,
    *,
    mounting: Mounting | None = None,
    noise: NoiseModel | None = None,
    rng: np.random.Generator,
) -> MotionPlan:
    """Everything :func:`generate` draws from ``rng``, drawn in the same order; no sample yet.

    ``plan_motion(...).signals(a, b)`` gives samples ``a..b`` of the sensor signals, equal bit
    for bit to ``generate(...)``'s (every per-sample quantity is a function of the sample's
    time and of the plan only), so a live stream can be produced piece by piece as it is sent.
    """
    profile = RunnerProfile() if profile is None else profile
    mounting = Mounting.upright() if mounting is None else mounting
    noise = NoiseModel() if noise is None else noise
    script = tuple(script)
    if not script or not all(isinstance(p, Phase) for p in script):
        raise UsageError("script must be a non-empty sequence of Phase")
    if not 20.0 <= fs_hz <= 5000.0:
        raise UsageError(f"fs_hz must be within 20..5000 Hz, got {fs_hz}")
    speeds = [profile.default_speed_mps(p.kind) if p.speed_mps is None else p.speed_mps for p in script]
    for i, (p, v) in enumerate(zip(script, speeds, strict=True)):
        if p.kind == "run" and v < profile.run_min_speed_mps:
            raise UsageError(f"run speed {v} m/s is below profile.run_min_speed_mps")
        if p.turn_deg:
            span = p.duration_s if p.turn_s is None else min(p.turn_s, p.duration_s)
            rate_dps = _SMOOTHSTEP_PEAK * abs(p.turn_deg) / span
            if rate_dps > MAX_TURN_RATE_DPS or v * rate_dps * DEG2RAD > MAX_CENTRIPETAL_MS2:
                raise UsageError(
                    f"phase {i}: turning {p.turn_deg} deg in {span:g} s at {v:g} m/s peaks at "
                    f"{rate_dps:.0f} deg/s and {v * rate_dps * DEG2RAD:.1f} m/s^2; limits are "
                    f"{MAX_TURN_RATE_DPS:g} deg/s and {MAX_CENTRIPETAL_MS2:g} m/s^2"
                )
    motion_rng, sway_rng, noise_rng = rng.spawn(3)

    total_s = float(sum(p.duration_s for p in script))
    n = int(round(total_s * fs_hz))
    speed = _gait.speed_ramps(script, speeds, profile.speed_change_mps2)
    heading = _gait.heading_ramps(script)
    try:
        plan = _gait.plan_steps(script, profile, speed, motion_rng)
    except ValueError as e:
        raise UsageError(str(e)) from e
    params = _gait.step_params(plan, profile, heading)
    errors, acc_white, gyr_white = _draw_noise(noise, n, noise_rng)
    # the postural sway is drawn where the pelvic angles are evaluated, each time from a copy of
    # this generator: every piece sees the same draws
    return MotionPlan(script, profile, float(fs_hz), mounting, noise, n, total_s, speed, heading,
                      plan, params, copy.deepcopy(sway_rng), errors, acc_white, gyr_white)


@dataclass(frozen=True, eq=False)
class _Samples:
    """Per-sample quantities of samples ``a..b`` (what the signals and the truth are made of)."""

    t: FloatArray
    tr: _gait.Translation
    ang: _gait.Angles
    psi_b: FloatArray
    obl: FloatArray
    wf_acc: FloatArray
    wf_vel: FloatArray
    bf_acc: FloatArray
    bf_gyr: FloatArray
    acc_sf: FloatArray
    gyr_sf: FloatArray


@dataclass(frozen=True, eq=False)
class MotionPlan:
    """A run planned by :func:`plan_motion`: steps, ramps and every random draw, no samples."""

    script: tuple[Phase, ...]
    profile: RunnerProfile
    fs_hz: float
    mounting: Mounting
    noise: NoiseModel
    n: int  # samples in the run
    total_s: float
    speed: _gait.Ramps
    heading: _gait.Ramps
    plan: _gait.StepPlan
    params: _gait.StepParams
    sway_rng: np.random.Generator  # never drawn from: each evaluation draws from a copy
    errors: SensorErrors
    acc_white: FloatArray | None  # unit white noise per sample, (n, 3); None when clean
    gyr_white: FloatArray | None

    def signals(self, a: int, b: int) -> tuple[FloatArray, FloatArray]:
        """Accelerometer and gyroscope readings of samples ``a..b`` (sensor frame, SI)."""
        a, b = max(int(a), 0), min(int(b), self.n)
        s = self._evaluate(a, max(a, b))
        return s.acc_sf, s.gyr_sf

    def track(self, a: int, b: int) -> tuple[FloatArray, npt.NDArray[np.str_]]:
        """Speed along the path (m/s) and activity label of samples ``a..b``.

        Equal bit for bit to the truth's ``speed_mps`` and ``activity_labels`` there, at the
        cost of the path alone (no orientation, no signals).
        """
        a, b = max(int(a), 0), min(int(b), self.n)
        t = np.arange(a, max(a, b), dtype=np.float64) / self.fs_hz
        tr = _gait.translation(t, self.plan, self.params, self.heading(t))
        return tr.v, _ACTIVITY_NAMES[tr.activity]

    def _evaluate(self, a: int, b: int) -> _Samples:
        fs_hz, profile = self.fs_hz, self.profile
        t = np.arange(a, b, dtype=np.float64) / fs_hz
        psi_b, dpsi_b, ddpsi_b = self.heading(t)
        tr = _gait.translation(t, self.plan, self.params, (psi_b, dpsi_b, ddpsi_b))
        ang = _gait.pelvic_angles(t, self.total_s, self.plan, profile, copy.deepcopy(self.sway_rng))

        # lean into turns, from the smooth target speed and heading
        g = G_MS2
        v_t, dv_t, _ = self.speed(t)
        x = v_t * dpsi_b / g
        lean = -profile.turn_lean_fraction * np.arctan(x)
        dlean = -profile.turn_lean_fraction * (dv_t * dpsi_b + v_t * ddpsi_b) / g / (1.0 + x * x)
        yaw = psi_b + ang.rotation
        dyaw = dpsi_b + ang.drotation
        obl = ang.obliquity + lean
        dobl = ang.dobliquity + dlean

        # translation in W (path frame rotated by the path heading)
        cp, sp = np.cos(tr.psi), np.sin(tr.psi)
        a_fwd = tr.dv - 2.0 * tr.vy * tr.dpsi - tr.y * tr.ddpsi
        a_lat = tr.v * tr.dpsi + tr.ay - tr.y * tr.dpsi**2
        wf_acc = np.stack([a_fwd * cp - a_lat * sp, a_fwd * sp + a_lat * cp, tr.az], axis=-1)
        v_fwd = tr.v - tr.y * tr.dpsi
        wf_vel = np.stack([v_fwd * cp - tr.vy * sp, v_fwd * sp + tr.vy * cp, tr.vz], axis=-1)

        f_wf = wf_acc.copy()
        f_wf[:, 2] += g
        bf_acc = bf_from_wf(f_wf, yaw, obl, ang.tilt)
        bf_gyr = bf_rate_from_angle_rates(obl, ang.tilt, dyaw, dobl, ang.dtilt)
        acc_sf = self.mounting.sf_from_bf(bf_acc)
        gyr_sf = self.mounting.sf_from_bf(bf_gyr)
        acc_sf, gyr_sf = self._apply_noise(acc_sf, gyr_sf, a, b)
        return _Samples(t, tr, ang, psi_b, obl, wf_acc, wf_vel, bf_acc, bf_gyr, acc_sf, gyr_sf)

    def _apply_noise(self, acc: FloatArray, gyr: FloatArray, a: int, b: int,
                     ) -> tuple[FloatArray, FloatArray]:
        noise, e = self.noise, self.errors
        if self.acc_white is None or self.gyr_white is None:
            return acc, gyr
        root_bw = np.sqrt(0.5 * self.fs_hz)
        acc_out = acc * (1.0 + e.acc_scale) + e.acc_bias_ms2
        acc_out += self.acc_white[a:b] * (noise.acc_density_ms2_rthz * root_bw)
        gyr_out = gyr * (1.0 + e.gyr_scale) + e.gyr_bias_rads
        gyr_out += self.gyr_white[a:b] * (noise.gyr_density_rads_rthz * root_bw)
        return acc_out, gyr_out

    def motion(self, t_start: float | None = None) -> Motion:
        """The whole run with its truth, as :func:`generate` returns it."""
        t_start = time.perf_counter() if t_start is None else t_start
        plan, profile, script = self.plan, self.profile, self.script
        s = self._evaluate(0, self.n)
        t, tr, ang = s.t, s.tr, s.ang
        tilt_deg = ang.tilt * RAD2DEG
        obl_deg = s.obl * RAD2DEG
        rot_deg = ang.rotation * RAD2DEG
        metrics = _step_metrics(t, plan, tilt_deg, obl_deg, rot_deg, tr.z, tr.v, s.wf_acc[:, 2])
        start_s, end_s = _gait.phase_bounds(script)
        truth = Truth(
            fs_hz=self.fs_hz,
            ic_s=_frozen(plan.ic),
            to_s=_frozen(plan.ic + plan.contact),
            side=_frozen(np.where(plan.sign > 0, 0, 1).astype(np.int8)),
            activity=_frozen(np.where(plan.is_run, "run", "walk")),
            contact_s=_frozen(plan.contact),
            flight_s=_frozen(plan.step - plan.contact),
            step_s=_frozen(plan.step),
            step_length_m=_frozen(self.params.length),
            vertical_oscillation_m=_frozen(metrics["vo"]),
            braking_mps=_frozen(metrics["braking"]),
            impact_g=_frozen(metrics["impact"]),
            pelvic_tilt_range_deg=_frozen(metrics["tilt"]),
            pelvic_drop_deg=_frozen(metrics["drop"]),
            pelvic_rotation_range_deg=_frozen(metrics["rotation"]),
            tilt_deg=_frozen(tilt_deg),
            obliquity_deg=_frozen(obl_deg),
            rotation_deg=_frozen(rot_deg),
            heading_deg=_frozen(s.psi_b * RAD2DEG),
            speed_mps=_frozen(tr.v),
            distance_m=_frozen(tr.dist),
            height_m=_frozen(tr.z),
            lateral_m=_frozen(tr.y),
            wf_vel_mps=_frozen(s.wf_vel),
            wf_acc_ms2=_frozen(s.wf_acc),
            bf_acc_ms2=_frozen(s.bf_acc),
            bf_gyr_rads=_frozen(s.bf_gyr),
            activity_labels=_frozen(_ACTIVITY_NAMES[tr.activity]),
            step_index=_frozen(tr.step_index.astype(np.int32)),
            phase_start_s=_frozen(start_s),
            phase_end_s=_frozen(end_s),
            script=script,
            profile=profile,
            mounting=self.mounting,
        )
        return Motion(
            t_s=_frozen(t),
            acc_ms2=_frozen(s.acc_sf),
            gyr_rads=_frozen(s.gyr_sf),
            truth=truth,
            fs_hz=self.fs_hz,
            mounting=self.mounting,
            noise=self.noise,
            sensor_errors=self.errors,
            generation_s=time.perf_counter() - t_start,
        )


def _draw_noise(noise: NoiseModel, n: int, rng: np.random.Generator,
                ) -> tuple[SensorErrors, FloatArray | None, FloatArray | None]:
    """The run's biases and scale errors, then unit white noise for every sample (acc, gyr)."""
    if noise.is_clean:
        zero = _frozen(np.zeros(3))
        return SensorErrors(zero, zero, zero, zero), None, None
    acc_bias = rng.normal(0.0, noise.acc_bias_sigma_ms2, 3)
    gyr_bias = rng.normal(0.0, noise.gyr_bias_sigma_rads, 3)
    acc_scale = rng.normal(0.0, noise.acc_scale_sigma, 3)
    gyr_scale = rng.normal(0.0, noise.gyr_scale_sigma, 3)
    acc_white = _frozen(rng.standard_normal((n, 3)))
    gyr_white = _frozen(rng.standard_normal((n, 3)))
    errors = SensorErrors(
        _frozen(acc_bias), _frozen(gyr_bias), _frozen(acc_scale), _frozen(gyr_scale)
    )
    return errors, acc_white, gyr_white


def _segment_reduce(
    x: FloatArray, i0: npt.NDArray[np.intp], i1: npt.NDArray[np.intp], how: Literal["max", "min"]
) -> FloatArray:
    """Max / min of ``x[i0[k]:i1[k]]`` for ordered ranges (``i0[k] <= i1[k] <= i0[k+1]``).

    Empty ranges give -inf (max) or +inf (min).
    """
    ufunc = np.maximum if how == "max" else np.minimum
    fill = -np.inf if how == "max" else np.inf
    if i0.size == 0:
        return np.zeros(0)
    padded = np.append(x, fill)  # reduceat needs every index < len
    edges = np.empty(2 * i0.size, dtype=np.intp)
    edges[0::2], edges[1::2] = i0, i1
    out = ufunc.reduceat(padded, edges)[0::2]
    return np.where(i1 > i0, out, fill)


def _step_metrics(
    t: FloatArray,
    plan: _gait.StepPlan,
    tilt_deg: FloatArray,
    obl_deg: FloatArray,
    rot_deg: FloatArray,
    height_m: FloatArray,
    speed_mps: FloatArray,
    wf_acc_z: FloatArray,
) -> dict[str, FloatArray]:
    i0 = np.searchsorted(t, plan.ic, side="left")
    i_end = np.maximum(np.searchsorted(t, plan.ic + plan.step, side="left"), i0 + 1)
    i_to = np.maximum(np.searchsorted(t, plan.ic + plan.contact, side="left"), i0 + 1)

    # a walking stance outlasts its step: split it at the step's end so both parts stay ordered
    i_mid = np.minimum(i_to, i_end)
    i_over = np.maximum(i_to, i_end)

    def step_range(x: FloatArray) -> FloatArray:
        return _segment_reduce(x, i0, i_end, "max") - _segment_reduce(x, i0, i_end, "min")

    def stance(x: FloatArray, how: Literal["max", "min"]) -> FloatArray:
        a = _segment_reduce(x, i0, i_mid, how)
        b = _segment_reduce(x, i_end, i_over, how)
        return np.maximum(a, b) if how == "max" else np.minimum(a, b)

    # the value at IC belongs to the stance: speed lost and hip drop are never negative
    obl_ic = np.interp(plan.ic, t, obl_deg)
    up = np.maximum(stance(obl_deg, "max") - obl_ic, 0.0)
    down = np.maximum(obl_ic - stance(obl_deg, "min"), 0.0)
    speed_ic = np.interp(plan.ic, t, speed_mps)
    return {
        "vo": step_range(height_m),
        "braking": np.maximum(speed_ic - stance(speed_mps, "min"), 0.0),
        "impact": (stance(wf_acc_z, "max") + G_MS2) / G_MS2,
        "tilt": step_range(tilt_deg),
        "rotation": step_range(rot_deg),
        "drop": np.where(plan.sign > 0, up, down),
    }
