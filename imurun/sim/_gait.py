"""Kinematic building blocks of the motion generator (private; see docs/simulator.md).

Everything here is closed-form: accelerations, velocities and positions of the sacrum come from
the same analytic expressions, so the accelerometer and the truth cannot disagree. Loops run
over steps (about 3 per second), never over samples.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from scipy.interpolate import PchipInterpolator

from imurun.consts import DEG2RAD, G_MS2

if TYPE_CHECKING:
    from imurun.sim.motion import Phase, RunnerProfile

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]
BoolArray = npt.NDArray[np.bool_]

STAND, WALK, RUN = 0, 1, 2  # activity codes used internally
_PI = np.pi
#: Below this target speed no steps are taken (gait initiation / termination).
MIN_STEP_SPEED_MPS = 0.3
#: Stand knots are kept this far from the first and last contact of a bout.
_STAND_MARGIN_S = 0.3


# --------------------------------------------------------------------------- shape functions
def smoothstep(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quintic smoothstep S(x) = 10x^3 - 15x^4 + 6x^5 on [0, 1] and its two derivatives."""
    x = np.clip(x, 0.0, 1.0)
    s = x * x * x * (10.0 + x * (-15.0 + 6.0 * x))
    ds = 30.0 * x * x * (1.0 - x) ** 2
    dds = 60.0 * x * (1.0 - x) * (1.0 - 2.0 * x)
    return s, ds, dds


def hermite_slope(u: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Quintic H(u) = u - 6u^3 + 8u^4 - 3u^5: H(0)=H(1)=0, H'(0)=1, H'(1)=0, H''(0)=H''(1)=0."""
    u2 = u * u
    h = u - 6.0 * u2 * u + 8.0 * u2 * u2 - 3.0 * u2 * u2 * u
    dh = 1.0 - 18.0 * u2 + 32.0 * u2 * u - 15.0 * u2 * u2
    ddh = -36.0 * u + 96.0 * u2 - 60.0 * u2 * u
    return h, dh, ddh


class Ramps:
    """``f(t) = base + sum_j delta_j * S((t - start_j) / (stop_j - start_j))``, ramps disjoint."""

    def __init__(self, base: float, start: list[float], stop: list[float], delta: list[float]):
        order = np.argsort(np.asarray(start, dtype=np.float64), kind="stable")
        self.base = float(base)
        self.start = np.asarray(start, dtype=np.float64)[order]
        self.stop = np.asarray(stop, dtype=np.float64)[order]
        self.delta = np.asarray(delta, dtype=np.float64)[order]
        if np.any(self.stop <= self.start) or np.any(self.start[1:] < self.stop[:-1] - 1e-9):
            raise ValueError("ramps must have positive length and must not overlap")
        self.cum = np.concatenate([[0.0], np.cumsum(self.delta)])
        self._start_l = self.start.tolist()
        self._stop_l = self.stop.tolist()
        self._delta_l = self.delta.tolist()
        self._cum_l = self.cum.tolist()

    def __call__(self, t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Value, first and second time derivative at ``t``."""
        done = np.searchsorted(self.stop, t, side="right")
        f = self.base + self.cum[done]
        df = np.zeros_like(t)
        ddf = np.zeros_like(t)
        if self.start.size:
            i = np.searchsorted(self.start, t, side="right") - 1
            ic = np.clip(i, 0, self.start.size - 1)
            active = (i >= 0) & (i == done)
            if np.any(active):
                j = ic[active]
                length = self.stop[j] - self.start[j]
                s, ds, dds = smoothstep((t[active] - self.start[j]) / length)
                f[active] += self.delta[j] * s
                df[active] = self.delta[j] * ds / length
                ddf[active] = self.delta[j] * dds / length**2
        return f, df, ddf

    def at(self, t: float) -> float:
        """Scalar value (fast path for the per-step planning loop)."""
        done = bisect.bisect_right(self._stop_l, t)
        f = self.base + self._cum_l[done]
        i = bisect.bisect_right(self._start_l, t) - 1
        if i >= 0 and i == done:
            x = (t - self._start_l[i]) / (self._stop_l[i] - self._start_l[i])
            f += self._delta_l[i] * x * x * x * (10.0 + x * (-15.0 + 6.0 * x))
        return f


# --------------------------------------------------------------------------- stance kernel
class KernelBasis:
    """Trigonometric terms of :meth:`kernel` for times ``s`` of steps with spans ``tau``.

    Built once per set of samples and shared by the vertical, forward and lateral channels.
    """

    def __init__(self, s: FloatArray, tau: FloatArray, bump_s: FloatArray):
        self.s = s
        self.w1 = _PI / tau
        self.w2 = 2.0 * self.w1
        x = self.w1 * s
        self.s1, self.c1 = np.sin(x), np.cos(x)
        self.s2 = 2.0 * self.s1 * self.c1
        self.c2 = 1.0 - 2.0 * self.s1 * self.s1
        self.wi = 2.0 * _PI / bump_s
        self.bump_s = bump_s
        self.sb = np.minimum(s, bump_s)
        xb = self.wi * self.sb
        self.sin_b, self.cos_b = np.sin(xb), np.cos(xb)

    def kernel(
        self,
        v0: FloatArray,
        z0: FloatArray | float,
        amp: FloatArray,
        skew: FloatArray,
        bump: FloatArray | None,
        const: float,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Acceleration, velocity and position for ``0 <= s <= tau`` (closed-form integrals).

        ``a(s) = amp sin(pi s/tau) + skew sin(2 pi s/tau) + bump (1 - cos(2 pi s/bump_s))/2
        [s < bump_s] + const``, starting from velocity ``v0`` and position ``z0``.
        """
        s = self.s
        a = amp * self.s1 + skew * self.s2
        v = v0 + amp / self.w1 * (1.0 - self.c1) + skew / self.w2 * (1.0 - self.c2)
        z = z0 + v0 * s + amp / self.w1 * (s - self.s1 / self.w1) + skew / self.w2 * (s - self.s2 / self.w2)
        if const:
            a = a + const
            v = v + const * s
            z = z + 0.5 * const * s * s
        if bump is not None:
            sb = self.sb
            a = a + 0.5 * bump * (1.0 - self.cos_b)  # cos_b == 1 once s >= bump_s
            v = v + 0.5 * bump * (sb - self.sin_b / self.wi)
            z = z + 0.5 * bump * (
                0.5 * sb * sb + (self.cos_b - 1.0) / self.wi**2 + self.bump_s * (s - sb)
            )
        return a, v, z


def solve_stance(
    tau: FloatArray,
    v0: FloatArray,
    v1: FloatArray,
    dz: FloatArray,
    bump: FloatArray,
    bump_s: FloatArray,
    const: FloatArray | float,
) -> tuple[FloatArray, FloatArray]:
    """``(amp, skew)`` of :meth:`KernelBasis.kernel` reaching velocity ``v1`` and displacement ``dz``."""
    amp = (v1 - v0 - 0.5 * bump * bump_s - const * tau) * _PI / (2.0 * tau)
    rest = (
        dz
        - v0 * tau
        - amp * tau * tau / _PI
        - bump * (0.5 * bump_s * tau - 0.25 * bump_s * bump_s)
        - 0.5 * const * tau * tau
    )
    return amp, rest * 2.0 * _PI / (tau * tau)


# --------------------------------------------------------------------------- walking: foot forces
#: Vertical force of one foot over its stance, in body weights, as a function of
#: ``u = (time since its IC) / stance``: ``sum_n c_n sin(n pi u)`` for n = 1..5 (a Fourier
#: double hump, as in Alexander & Jayes 1978), plus a loading-response peak and the heel-strike
#: transient (``RunnerProfile.walk_impact_g`` over ``walk_impact_s``), both ``sin^2`` bumps.
#: Fitted once to the mean sacral vertical acceleration of voisard_ipol's straight walking (the
#: two feet's forces summed over a step; see docs/simulator.md, "Walking step").
WALK_VGRF_SINES: tuple[float, ...] = (1.024, -0.204, 0.254, -0.147, 0.032)
#: Loading-response peak: height (body weights), start and width (fractions of the stance).
WALK_LOADING_PEAK: tuple[float, float, float] = (0.606, 0.10, 0.26)
#: Anteroposterior force of one foot (+ forward) over its stance, shape only (scaled per step to
#: ``RunnerProfile.walk_braking_mps``): braking, then propulsion, no net impulse
#: (``c_1 = -(c_3/3 + c_5/5)``). Fitted to the same steps as ``WALK_VGRF_SINES``.
WALK_APGRF_SINES: tuple[float, ...] = (0.0198, -0.182, -0.030, -0.099, -0.049, -0.059)
#: Kinds of force carried into a walking step from before its IC (``StepParams.tail``).
TAIL_NONE, TAIL_FOOT, TAIL_STAND = 0, 1, 2

Integrals = tuple[FloatArray, FloatArray, FloatArray]


def _sines(sig: FloatArray, length: FloatArray | float,
           coefs: tuple[FloatArray | float, ...]) -> Integrals:
    """``f = sum_n coefs[n-1] sin(n pi sig / length)`` on ``[0, length]``, 0 after.

    Returned with its first and second integral from 0 (continued after ``length``).
    """
    sc = np.minimum(sig, length)
    th = _PI * sc / length
    s1, c1 = np.sin(th), np.cos(th)
    sn, cn = s1, c1
    after = sig - sc
    f = np.zeros_like(sig)
    f1 = np.zeros_like(sig)
    f2 = np.zeros_like(sig)
    for n, c in enumerate(coefs, 1):
        if n > 1:
            sn, cn = sn * c1 + cn * s1, cn * c1 - sn * s1
        if isinstance(c, float) and c == 0.0:
            continue
        k = length / (n * _PI)
        end = 2.0 * k if n % 2 else 0.0  # first integral at the end of the span
        f = f + c * sn
        f1 = f1 + c * k * (1.0 - cn)
        f2 = f2 + c * (k * (sc - k * sn) + after * end)
    return np.where(after > 0.0, 0.0, f), f1, f2


def _bump(sig: FloatArray, start: FloatArray | float, width: FloatArray | float) -> Integrals:
    """``sin^2(pi (sig - start) / width)`` on ``[start, start + width]``, 0 elsewhere; integrals."""
    x = np.clip(sig - start, 0.0, width)
    om = 2.0 * _PI / width
    cx = np.cos(om * x)
    f = 0.5 * (1.0 - cx)
    f1 = 0.5 * (x - np.sin(om * x) / om)
    f2 = 0.25 * x * x + 0.5 * (cx - 1.0) / (om * om) + 0.5 * width * np.maximum(sig - start - width, 0.0)
    return f, f1, f2


def _ramp(sig: FloatArray, start: FloatArray | float, width: FloatArray | float) -> Integrals:
    """Quintic smoothstep from 0 at ``start`` to 1 at ``start + width`` (1 after); integrals."""
    w = np.maximum(width, 1e-12)
    x = np.clip((sig - start) / w, 0.0, 1.0)
    y = np.maximum(sig - start - w, 0.0)
    x2 = x * x
    f = x2 * x * (10.0 + x * (-15.0 + 6.0 * x))
    f1 = w * x2 * x2 * (2.5 + x * (-3.0 + x)) + y
    f2 = w * w * x2 * x2 * x * (0.5 + x * (-0.5 + x / 7.0)) + 0.5 * w * y + 0.5 * y * y
    return f, f1, f2


def support(sig: FloatArray, stance: FloatArray | float, ramp: FloatArray | float,
            kappa: FloatArray | float, heel: float, heel_s: float) -> Integrals:
    """One foot's vertical force per unit amplitude (body weights) and its two integrals.

    ``kappa * Phi + (1 - kappa) * W`` over ``0 <= sig <= stance``: ``Phi`` is the walking force
    (``WALK_VGRF_SINES``, the loading peak and a heel-strike transient of height ``heel`` over
    ``heel_s``), ``W`` a plain weight handover (smoothstep up over ``ramp`` after IC, down over
    ``ramp`` before TO). ``kappa`` scales the bounce: with ``kappa = 0`` two overlapping feet
    carry exactly body weight.
    """
    h, u0, width = WALK_LOADING_PEAK
    parts = (
        (1.0, _sines(sig, stance, WALK_VGRF_SINES)),
        (heel, _bump(sig, 0.0, heel_s)),
        (h, _bump(sig, u0 * stance, width * stance)),
    )
    up = _ramp(sig, 0.0, ramp)
    down = _ramp(sig, stance - ramp, ramp)
    out = []
    for i in range(3):
        phi = sum(c * p[i] for c, p in parts)
        out.append(kappa * phi + (1.0 - kappa) * (up[i] - down[i]))
    return out[0], out[1], out[2]


def _shifted(fn: Integrals, at0: Integrals, s: FloatArray) -> Integrals:
    """Integrals of a force from ``sig0`` on (``at0`` = the force evaluated at ``sig0``)."""
    return fn[0], fn[1] - at0[1], fn[2] - at0[2] - s * at0[1]


# --------------------------------------------------------------------------- step plan
@dataclass(frozen=True)
class StepPlan:
    """One row per step (initial contact ``ic`` to the next one of the same bout)."""

    ic: FloatArray
    step: FloatArray  # s, IC to next IC
    contact: FloatArray  # s; walking contact > step (double support)
    is_run: BoolArray
    sign: FloatArray  # +1 left stance, -1 right stance
    v_ic: FloatArray  # path speed at IC (0 for the first step of a bout)
    v_end: FloatArray  # path speed at the end of the step (0 for the last step of a bout)
    v_nom: FloatArray  # target speed at IC, used to scale amplitudes
    first: BoolArray
    last: BoolArray
    noise: FloatArray  # (n, 8) standard normals for step-to-step variability


def phase_bounds(script: tuple[Phase, ...]) -> tuple[FloatArray, FloatArray]:
    dur = np.array([p.duration_s for p in script], dtype=np.float64)
    end = np.cumsum(dur)
    return end - dur, end


def speed_ramps(script: tuple[Phase, ...], speeds: list[float], accel_mps2: float) -> Ramps:
    """Target path speed: constant per phase, quintic changes at phase boundaries."""
    start_s, _ = phase_bounds(script)
    starts: list[float] = []
    stops: list[float] = []
    deltas: list[float] = []
    for i in range(1, len(script)):
        dv = speeds[i] - speeds[i - 1]
        if dv == 0.0:
            continue
        b = float(start_s[i])
        d_prev, d_next = script[i - 1].duration_s, script[i].duration_s
        length = max(abs(dv) / accel_mps2, 1.0)
        if script[i - 1].kind == "stand":  # start moving: ramp inside the moving phase
            length = min(length, 0.5 * d_next)
            a, z = b, b + length
        elif script[i].kind == "stand":  # stop: ramp at the end of the moving phase
            length = min(length, 0.5 * d_prev)
            a, z = b - length, b
        else:  # change of pace: centred on the boundary
            length = min(length, 0.5 * d_prev, 0.5 * d_next)
            a, z = b - 0.5 * length, b + 0.5 * length
        starts.append(a)
        stops.append(z)
        deltas.append(dv)
    return Ramps(speeds[0], starts, stops, deltas)


def heading_ramps(script: tuple[Phase, ...]) -> Ramps:
    """Smooth heading (rad): each phase's turn is centred in the phase."""
    start_s, end_s = phase_bounds(script)
    starts: list[float] = []
    stops: list[float] = []
    deltas: list[float] = []
    for p, a, z in zip(script, start_s, end_s, strict=True):
        if p.turn_deg == 0.0:
            continue
        length = p.duration_s if p.turn_s is None else min(p.turn_s, p.duration_s)
        mid = 0.5 * (a + z)
        starts.append(mid - 0.5 * length)
        stops.append(mid + 0.5 * length)
        deltas.append(p.turn_deg * DEG2RAD)
    return Ramps(0.0, starts, stops, deltas)


def bouts(script: tuple[Phase, ...]) -> list[tuple[float, float]]:
    """Maximal intervals of consecutive moving (walk/run) phases."""
    start_s, end_s = phase_bounds(script)
    out: list[tuple[float, float]] = []
    for p, a, z in zip(script, start_s, end_s, strict=True):
        if p.kind == "stand":
            continue
        if out and abs(out[-1][1] - a) < 1e-9:
            out[-1] = (out[-1][0], float(z))
        else:
            out.append((float(a), float(z)))
    return out


def walk_step_s(profile: RunnerProfile, v: FloatArray | float) -> FloatArray:
    """Walking step time at path speed ``v`` (before step-to-step variability)."""
    ratio = np.maximum(v, MIN_STEP_SPEED_MPS) / profile.walk_speed_mps
    cad = profile.walk_cadence_spm * ratio**profile.walk_cadence_speed_exponent
    return 60.0 / np.clip(cad, 60.0, 150.0)


def plan_steps(
    script: tuple[Phase, ...],
    profile: RunnerProfile,
    speed: Ramps,
    rng: np.random.Generator,
) -> StepPlan:
    """Lay steps bout by bout; cadence and contact follow the target speed at each contact."""
    start_s, _ = phase_bounds(script)
    starts = start_s.tolist()
    total = float(sum(p.duration_s for p in script))
    n_max = int(total / 0.2) + 16
    z = rng.standard_normal((n_max, 11))
    # The loop does scalar arithmetic on Python floats (the same doubles as z's, the same IEEE
    # operations: not a bit changes), one list per column: numpy scalars cost several times more.
    zl: list[list[float]] = z[:, (0, 1, 10)].tolist()  # the columns the loop reads
    ic_l: list[float] = []
    step_l: list[float] = []
    contact_l: list[float] = []
    run_l: list[bool] = []
    sign_l: list[float] = []
    v_l: list[float] = []
    first_l: list[bool] = []
    dsf = profile.walk_double_support_fraction
    cv_step, cv_contact = profile.step_time_cv, profile.contact_cv
    run_min, ref = profile.run_min_speed_mps, profile.ref_speed_mps
    cadence, cad_exp = profile.cadence_spm, profile.cadence_speed_exponent
    contact_s, contact_exp = profile.contact_s, profile.contact_speed_exponent
    bal_left = profile.contact_balance_left
    kinds = [p.kind for p in script]
    speed_at = speed.at
    j = 0
    for b0, b1 in bouts(script):
        grid = np.arange(b0, min(b1, b0 + 60.0), 0.005)  # speed-ups last < 60 s
        ok = np.flatnonzero(speed(grid)[0] >= MIN_STEP_SPEED_MPS)
        if ok.size == 0:
            continue
        t = float(grid[ok[0]])
        left = zl[j][2] < 0.0
        n_bout = 0
        while True:
            v = speed_at(t)
            if v < MIN_STEP_SPEED_MPS and n_bout:
                break
            run = kinds[bisect.bisect_right(starts, t) - 1] == "run" and v >= run_min
            zj = zl[j]
            if run:
                ratio = v / ref
                step = 60.0 / (cadence * ratio**cad_exp)
                step *= 1.0 + cv_step * zj[0]
                bal = bal_left if left else 1.0 - bal_left
                contact = contact_s * ratio**contact_exp
                contact = min(contact * 2.0 * bal * (1.0 + cv_contact * zj[1]), 0.92 * step)
            else:
                step = float(walk_step_s(profile, v))
                step *= 1.0 + cv_step * zj[0]
                contact = step * (1.0 + dsf)
            if t + step > b1 + 1e-9:
                break
            ic_l.append(t)
            step_l.append(step)
            contact_l.append(contact)
            run_l.append(run)
            sign_l.append(1.0 if left else -1.0)
            v_l.append(v)
            first_l.append(n_bout == 0)
            n_bout += 1
            j += 1
            t += step
            left = not left
        if not n_bout:
            continue
        # A bout starts and ends with a walking step: no flight into or out of standing.
        for i in (-n_bout, -1):
            if run_l[i]:
                run_l[i] = False
                contact_l[i] = step_l[i] * (1.0 + dsf)
        # A walking foot leaves the ground before a running contact: no double support into it.
        for i in range(len(run_l) - n_bout, len(run_l) - 1):
            if not run_l[i] and run_l[i + 1]:
                contact_l[i] = step_l[i]
    if not ic_l and any(p.kind != "stand" for p in script):
        raise ValueError("the script contains no step: every moving phase is too short or too slow")
    ic, step, contact, sign, v_nom = (
        np.array(x, dtype=np.float64) for x in (ic_l, step_l, contact_l, sign_l, v_l))
    is_run, first = np.array(run_l, dtype=bool), np.array(first_l, dtype=bool)
    # the last step of a bout is the one before the next bout's first
    last = np.append(first[1:], True) if first.size else first.copy()
    v_ic = np.where(first, 0.0, v_nom)
    v_end = np.where(last, 0.0, np.roll(v_ic, -1))
    return StepPlan(
        ic=ic,
        step=step,
        contact=contact,
        is_run=is_run,
        sign=sign,
        v_ic=v_ic,
        v_end=v_end,
        v_nom=v_nom,
        first=first,
        last=last,
        noise=z[: ic.size, 2:10],
    )


# --------------------------------------------------------------------------- per-step parameters
@dataclass(frozen=True)
class StepParams:
    """Closed-form coefficients of every step (see docs/simulator.md, "Motion model")."""

    tc: FloatArray  # kernel span: contact (run) or step (walk)
    tf: FloatArray  # flight (run), 0 (walk)
    # vertical
    w_ic: FloatArray
    vz_amp: FloatArray
    vz_skew: FloatArray
    vz_bump: FloatArray
    vz_bump_s: FloatArray
    # walking: each foot's force (see :func:`walking_forces`)
    stance: FloatArray  # the foot's force lasts this long after its IC (walking: contact)
    ramp: FloatArray  # weight handover at each end of the stance
    kappa: FloatArray  # bounce: 1 = the fitted force shape, 0 = a plain weight handover
    amp: FloatArray  # vertical force scale (body weights)
    fix: FloatArray  # height of the early bump keeping the sacrum level (:func:`walking_forces`)
    ap: FloatArray  # anteroposterior force scale
    tail: npt.NDArray[np.int8]  # force carried into the step: TAIL_NONE / TAIL_FOOT / TAIL_STAND
    heel: float
    heel_s: float
    # forward
    fw_amp: FloatArray
    fw_skew: FloatArray
    fw_bump: FloatArray
    fw_bump_s: FloatArray
    # lateral
    y_ic: FloatArray
    y_end: FloatArray
    vy_ic: FloatArray
    vy_end: FloatArray
    ly_amp: FloatArray
    ly_skew: FloatArray
    # path heading change during a running contact
    psi_ic: FloatArray
    dpsi: FloatArray
    # path speed at IC (walking: includes the speed peak after IC), distance at IC, step length
    v_ic: FloatArray
    dist_ic: FloatArray
    length: FloatArray


def _vertical_contacts(
    plan: StepPlan, tc: FloatArray, tf: FloatArray, bump: FloatArray, bump_s: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Vertical velocity at each IC and the half-sine amplitude of each running contact.

    Each running step lands back at the height of its own IC (level ground) after a ballistic
    flight; its IC velocity is the previous step's landing velocity. Given that velocity ``w``,
    contact impulse and travel fix the amplitude ``A`` and the take-off state:
    ``v_to = w + 2 A tc/pi + I_b - g tc``, ``z_to = w tc + A tc^2/pi + D_b - g tc^2/2`` and
    ``z_to + v_to tf - g tf^2/2 = 0``. The step-to-step map of ``w`` has gain
    ``-tc/(tc + 2 tf)``, so it settles on the symmetric spring-mass solution.
    Walking steps start at ``w`` and end at rest (vertical velocity 0).
    """
    g = G_MS2
    n = tc.size
    imp = 0.5 * bump * bump_s
    disp = bump * (0.5 * bump_s * tc - 0.25 * bump_s * bump_s)
    # Python floats in lists, not numpy scalars in arrays: the same doubles, faster per step
    w_ic = [0.0] * n
    amp = [0.0] * n
    w = 0.0
    for k, (run, first, t_c, t_f, i_b, d_b) in enumerate(
        zip(plan.is_run.tolist(), plan.first.tolist(), tc.tolist(), tf.tolist(), imp.tolist(),
            disp.tolist(), strict=True)
    ):
        if first:
            w = 0.0
        w_ic[k] = w
        if not run:
            w = 0.0
            continue
        rhs = w * (t_c + t_f) + d_b + t_f * i_b - 0.5 * g * (t_c * t_c + 2.0 * t_c * t_f + t_f * t_f)
        a = -rhs * _PI / (t_c * (t_c + 2.0 * t_f))
        amp[k] = a
        v_to = w + 2.0 * a * t_c / _PI + i_b - g * t_c
        w = v_to - g * t_f
    return np.array(w_ic, dtype=np.float64), np.array(amp, dtype=np.float64)


#: Range of the bounce factor ``kappa``: the feet's forces stay positive within it.
KAPPA_MIN, KAPPA_MAX = 0.1, 1.8


@dataclass(frozen=True)
class WalkingForces:
    """Per-step coefficients of the walking model (zeros on running steps)."""

    stance: FloatArray
    ramp: FloatArray
    kappa: FloatArray
    amp: FloatArray
    fix: FloatArray
    ap: FloatArray
    tail: npt.NDArray[np.int8]
    w_ic: FloatArray  # vertical velocity at IC (every step; running steps as given)
    v_ic: FloatArray  # path speed at IC (every step; steady walking: above the target speed)
    v_end: FloatArray  # path speed at the next IC
    ap_impulse: FloatArray  # speed the anteroposterior forces add over the step
    ap_travel: FloatArray  # distance they add over the step


def steady_walking(step_s: float, dsf: float, heel: float, heel_s: float,
                   n: int = 512) -> tuple[float, float]:
    """Vertical excursion (m) and speed lost after IC (m/s per unit anteroposterior scale).

    Of steady walking with identical steps of ``step_s`` and ``kappa = 1``.
    """
    g = G_MS2
    s = np.linspace(0.0, step_s, n)
    c, r = step_s * (1.0 + dsf), dsf * step_s
    t0 = np.full(n, step_s)
    a = step_s / float(support(np.array([c]), c, r, 1.0, heel, heel_s)[1][0])
    own = support(s, c, r, 1.0, heel, heel_s)
    tail = _shifted(support(t0 + s, c, r, 1.0, heel, heel_s), support(t0, c, r, 1.0, heel, heel_s), s)
    f2 = a * (own[2] + tail[2]) - 0.5 * s * s
    z = g * (f2 - s * f2[-1] / step_s)  # the IC velocity that brings the sacrum back level
    gown = _sines(s, c, WALK_APGRF_SINES)
    gtail = _shifted(_sines(t0 + s, c, WALK_APGRF_SINES), _sines(t0, c, WALK_APGRF_SINES), s)
    v = g * (gown[1] + gtail[1])
    return float(np.ptp(z)), float(-v.min())


def walking_forces(plan: StepPlan, profile: RunnerProfile, w_ic: FloatArray,
                   braking: FloatArray, walk_ratio: FloatArray, vo_var: FloatArray,
                   ) -> WalkingForces:
    """Both feet's ground reaction forces over every walking step, and what they do.

    Each walking foot pushes from its IC to its TO (``plan.contact``; longer than the step by
    the double support when the next step is a walking one). Over a step the sacrum feels the
    foot that has just landed plus the tail of the previous foot's stance (or, on the first step
    of a bout, the standing foot handing the body weight over): vertical acceleration
    ``g (F_prev + F_own - 1)``, forward ``g (G_prev + G_own)`` plus the half-sine of the planned
    speed change. The new foot's force is ``amp * support(...) + fix * sin^2(2 pi s/step)``, the
    second term over the first half of the step only. ``amp`` and ``fix`` are solved step by
    step so that the sacrum is back at its level at the next IC with the vertical velocity that
    steady walking at the target speed has there (0 before a running step or standing): no
    drift, and over a stride at a constant speed the vertical impulse is body weight times the
    stride time. ``kappa`` is sized so that steady walking rises and falls by
    ``walk_vertical_oscillation_m * walk_ratio`` (times ``vo_var``, the step's variation), the
    anteroposterior scale ``ap`` so that it loses ``braking`` after each IC.
    """
    g = G_MS2
    n = plan.ic.size
    walk = ~plan.is_run
    dsf = profile.walk_double_support_fraction
    heel, heel_s = profile.walk_impact_g, profile.walk_impact_s
    big_t = plan.step
    stance = plan.contact
    ramp = dsf * big_t
    carries = walk & (plan.contact > plan.step) & ~plan.last
    into = np.roll(carries, 1) & ~plan.first
    tail = np.where(walk & plan.first, TAIL_STAND,
                    np.where(walk & into, TAIL_FOOT, TAIL_NONE)).astype(np.int8)
    zeros = np.zeros(n)
    if not walk.any():
        return WalkingForces(stance, ramp, zeros, zeros, zeros, zeros, tail, w_ic, plan.v_ic,
                             plan.v_end, zeros, zeros)
    t_ref = 60.0 / profile.walk_cadence_spm
    vo_ref, drop_ref = steady_walking(t_ref, dsf, heel, heel_s)
    vo = profile.walk_vertical_oscillation_m * walk_ratio
    kappa = np.where(walk, np.clip(vo * vo_var / (vo_ref * (big_t / t_ref) ** 2), KAPPA_MIN,
                                   KAPPA_MAX), 0.0)
    t_next = np.roll(big_t, -1)
    # Steady walking at the target speed (no step-to-step variability): the vertical velocity at
    # IC that keeps the sacrum level. Each step ends on the next one's, so over a stride at a
    # constant speed the vertical impulse is exactly body weight times the stride time.
    t_nom = walk_step_s(profile, plan.v_nom)
    c_nom, r_nom = t_nom * (1.0 + dsf), dsf * t_nom
    k_nom = np.clip(vo / (vo_ref * (t_nom / t_ref) ** 2), KAPPA_MIN, KAPPA_MAX)
    a_nom = t_nom / support(c_nom, c_nom, r_nom, k_nom, heel, heel_s)[1]
    at_t = support(t_nom, c_nom, r_nom, k_nom, heel, heel_s)
    at_2t = support(2.0 * t_nom, c_nom, r_nom, k_nom, heel, heel_s)
    steady2 = at_2t[2] - t_nom * at_t[1]  # own head + the identical previous foot's tail
    w_steady = -(g / t_nom) * (a_nom * steady2 - 0.5 * t_nom * t_nom)
    # this step's own foot: its force over the step and what it carries into the next one
    own = support(big_t, stance, ramp, kappa, heel, heel_s)
    end = support(big_t + t_next, stance, ramp, kappa, heel, heel_s)
    q1 = end[1] - own[1]
    q2 = end[2] - own[2] - t_next * own[1]
    stand = _ramp(big_t, 0.0, ramp)
    s1 = big_t - stand[1]
    s2 = 0.5 * big_t * big_t - stand[2]
    amp_l = [0.0] * n
    fix_l = [0.0] * n
    w_l = w_ic.tolist()
    tail_l = tail.tolist()
    bt, o1, o2 = big_t.tolist(), own[1].tolist(), own[2].tolist()
    q1_l, q2_l, s1_l, s2_l, ws_l = q1.tolist(), q2.tolist(), s1.tolist(), s2.tolist(), w_steady.tolist()
    for k in np.flatnonzero(walk).tolist():
        kind = tail_l[k]
        if kind == TAIL_FOOT:
            w_l[k] = ws_l[k]
            imp, rise = amp_l[k - 1] * q1_l[k - 1], amp_l[k - 1] * q2_l[k - 1]
        elif kind == TAIL_STAND:
            imp, rise = s1_l[k], s2_l[k]
        else:
            imp = rise = 0.0
        w_end = ws_l[k + 1] if k + 1 < n and tail_l[k + 1] == TAIL_FOOT else 0.0
        t = bt[k]
        r1 = (w_end - w_l[k]) / g + t - imp  # impulse over the step, body weights x s
        r2 = 0.5 * t * t - w_l[k] * t / g - rise  # its moment about the next IC
        b1, b2 = 0.25 * t, 0.1875 * t * t  # of the early bump over the first half step
        det = o1[k] * b2 - o2[k] * b1
        amp_l[k] = (r1 * b2 - r2 * b1) / det
        fix_l[k] = (o1[k] * r2 - o2[k] * r1) / det
    # anteroposterior: braking then propulsion of each foot, no net impulse over a stance
    ap = np.where(walk, braking / (drop_ref * big_t / t_ref), 0.0)
    g_own = _sines(big_t, stance, WALK_APGRF_SINES)
    g_end = _sines(big_t + t_next, stance, WALK_APGRF_SINES)
    gq1 = ap * (g_end[1] - g_own[1])
    gq2 = ap * (g_end[2] - g_own[2] - t_next * g_own[1])
    from_prev = tail == TAIL_FOOT
    ap_impulse = g * (ap * g_own[1] + np.where(from_prev, np.roll(gq1, 1), 0.0))
    ap_travel = g * (ap * g_own[2] + np.where(from_prev, np.roll(gq2, 1), 0.0))
    # Braking and propulsion make the speed peak near IC: a step in steady walking starts this
    # much above the target speed so that its mean speed is the target (not on the first and
    # last step of a bout, nor after a running step, whose speeds the plan fixes).
    c_own = big_t * (1.0 + dsf)
    g_nom = _sines(big_t, c_own, WALK_APGRF_SINES)
    g_nom2 = _sines(2.0 * big_t, c_own, WALK_APGRF_SINES)
    mean_rise = g * ap * (g_nom2[2] - big_t * g_nom[1]) / big_t
    offset = np.where(from_prev, -mean_rise, 0.0)
    v_ic = plan.v_ic + offset
    v_end = np.where(plan.last, plan.v_end, np.roll(v_ic, -1))
    return WalkingForces(
        stance=stance, ramp=ramp, kappa=kappa, amp=np.array(amp_l), fix=np.array(fix_l), ap=ap,
        tail=tail, w_ic=np.array(w_l), v_ic=v_ic, v_end=v_end,
        ap_impulse=np.where(walk, ap_impulse, 0.0), ap_travel=np.where(walk, ap_travel, 0.0),
    )


def step_params(plan: StepPlan, profile: RunnerProfile, heading: Ramps) -> StepParams:
    g = G_MS2
    n = plan.ic.size
    run = plan.is_run
    zeros = np.zeros(n)
    tc = np.where(run, plan.contact, plan.step)
    tf = np.where(run, plan.step - plan.contact, 0.0)
    prev_run = np.roll(run, 1) & ~plan.first
    prev_tf = np.roll(tf, 1)
    speed_ratio = np.clip(plan.v_nom / profile.ref_speed_mps, 0.5, 1.5)
    walk_ratio = np.clip(plan.v_nom / profile.walk_speed_mps, 0.0, 1.4)
    var = 1.0 + profile.amplitude_cv * plan.noise
    # vertical: run = spring-mass half-sine + impact bump (Morin et al. 2005 without the bump)
    vz_bump = np.where(run, profile.impact_g * g * np.sqrt(speed_ratio) * var[:, 0], 0.0)
    vz_bump_s = np.full(n, profile.impact_s)
    w_ic, vz_amp = _vertical_contacts(plan, tc, tf, vz_bump, vz_bump_s)
    vz_skew = zeros
    # forward: speed change as a half-sine, braking as a full sine (+ a spike at IC when running)
    fw_bump = np.where(run, -profile.braking_spike_g * g * speed_ratio, 0.0)
    fw_bump_s = np.full(n, profile.impact_s)
    # The spike's speed loss is given back by a half-sine over the contact; the full-sine braking
    # term is sized so that speed at mid-contact is `braking` below speed at IC (constant pace).
    spike = -0.5 * fw_bump * fw_bump_s
    give_back = spike * _PI / (2.0 * tc)
    braking = np.where(
        run,
        profile.braking_mps * speed_ratio,
        profile.walk_braking_mps * np.minimum(walk_ratio, 1.0),
    ) * var[:, 2].clip(0.5, 1.5)
    braking = np.where(plan.first | plan.last, 0.0, braking)  # starting / stopping: no braking
    # walking: both feet's forces (vertical and anteroposterior), solved step by step
    wf = walking_forces(plan, profile, w_ic, braking, walk_ratio, var[:, 1])
    w_ic = wf.w_ic
    fw_amp = (wf.v_end - wf.v_ic - wf.ap_impulse) * _PI / (2.0 * tc) + give_back
    fw_skew = np.where(run, -np.maximum((braking - spike) * _PI / tc + give_back, 0.0), 0.0)
    # lateral sway: toward the stance side; velocity shared at each IC
    beta_des = np.where(
        run,
        profile.run_sway_m / (tf + 2.0 * tc / _PI),
        profile.walk_sway_m * walk_ratio / (0.625 * plan.step),
    ) * var[:, 3].clip(0.3, 2.0)
    beta_ic = np.where(plan.first, 0.0, 0.5 * (np.roll(beta_des, 1) + beta_des))
    beta_end = np.where(plan.last, 0.0, np.roll(beta_ic, -1))
    s = plan.sign
    y_ic = np.where(prev_run, 0.5 * s * beta_ic * prev_tf, 0.0)
    y_end = np.where(plan.last, 0.0, np.roll(y_ic, -1))
    vy_ic = s * beta_ic
    vy_end = -s * beta_end
    y_to = y_end - vy_end * tf
    ly_amp, ly_skew = solve_stance(tc, vy_ic, vy_end, y_to - y_ic, zeros, vz_bump_s, 0.0)
    # heading of the path: changes only during contact when running (ballistic flight)
    psi_ic = heading(plan.ic)[0]
    dpsi = heading(plan.ic + plan.step)[0] - psi_ic
    # step length (closed form)
    _, v_tau, x_tau = KernelBasis(tc, tc, fw_bump_s).kernel(
        wf.v_ic, 0.0, fw_amp, fw_skew, fw_bump, 0.0
    )
    length = x_tau + v_tau * tf + wf.ap_travel
    dist_ic = np.cumsum(length) - length
    return StepParams(
        tc=tc,
        tf=tf,
        w_ic=w_ic,
        vz_amp=vz_amp,
        vz_skew=vz_skew,
        vz_bump=vz_bump,
        vz_bump_s=vz_bump_s,
        stance=wf.stance,
        ramp=wf.ramp,
        kappa=wf.kappa,
        amp=wf.amp,
        fix=wf.fix,
        ap=wf.ap,
        tail=wf.tail,
        heel=profile.walk_impact_g,
        heel_s=profile.walk_impact_s,
        fw_amp=fw_amp,
        fw_skew=fw_skew,
        fw_bump=fw_bump,
        fw_bump_s=fw_bump_s,
        y_ic=y_ic,
        y_end=y_end,
        vy_ic=vy_ic,
        vy_end=vy_end,
        ly_amp=ly_amp,
        ly_skew=ly_skew,
        psi_ic=psi_ic,
        dpsi=dpsi,
        v_ic=wf.v_ic,
        dist_ic=dist_ic,
        length=length,
    )


# --------------------------------------------------------------------------- translation
@dataclass(frozen=True)
class Translation:
    """Per-sample path quantities (path frame: forward along the path heading, left, up)."""

    z: FloatArray
    vz: FloatArray
    az: FloatArray
    v: FloatArray  # path speed
    dv: FloatArray
    dist: FloatArray
    y: FloatArray
    vy: FloatArray
    ay: FloatArray
    psi: FloatArray  # path heading, rad
    dpsi: FloatArray
    ddpsi: FloatArray
    step_index: IntArray  # -1 outside steps
    activity: npt.NDArray[np.int8]


def translation(
    t: FloatArray,
    plan: StepPlan,
    p: StepParams,
    heading: tuple[FloatArray, FloatArray, FloatArray],
) -> Translation:
    """Evaluate every sample; ``heading`` is the smooth heading (rad) and its two derivatives."""
    n = t.size
    g = G_MS2
    # index of the last IC at or before each sample (t and ic are both sorted)
    starts = np.zeros(n + 1, dtype=np.intp)
    np.add.at(starts, np.searchsorted(t, plan.ic, side="left"), 1)
    k = np.cumsum(starts[:n]) - 1
    kc = np.maximum(k, 0)
    if plan.ic.size:
        inside = (k >= 0) & (t < plan.ic[kc] + plan.step[kc])
    else:
        inside = np.zeros(n, dtype=bool)
    step_index = np.where(inside, k, -1)
    z, vz, az, v, dv, y, vy, ay = (np.zeros(n) for _ in range(8))
    psi, dpsi, ddpsi = (x.copy() for x in heading)
    activity = np.zeros(n, dtype=np.int8)
    if plan.ic.size == 0:  # standing only
        return Translation(
            z=z, vz=vz, az=az, v=v, dv=dv, dist=np.zeros(n), y=y, vy=vy, ay=ay, psi=psi,
            dpsi=dpsi, ddpsi=ddpsi, step_index=np.full(n, -1, dtype=np.intp), activity=activity,
        )
    # distance while standing = distance at the end of the last completed step
    dist = np.where(k >= 0, p.dist_ic[kc] + p.length[kc], 0.0)

    idx = np.flatnonzero(inside)
    kk = k[idx]
    s = t[idx] - plan.ic[kk]
    run = plan.is_run[kk]
    activity[idx] = np.where(run, RUN, WALK)

    # ---- running samples: contact kernel, then ballistic flight
    ri, rk, rs = idx[run], kk[run], s[run]
    if ri.size:
        tau = p.tc[rk]
        sc = np.minimum(rs, tau)
        fl = rs - sc
        flying = fl > 0.0
        basis = KernelBasis(sc, tau, p.vz_bump_s[rk])
        a_, v_, z_ = basis.kernel(p.w_ic[rk], 0.0, p.vz_amp[rk], p.vz_skew[rk], p.vz_bump[rk], -g)
        z[ri] = z_ + fl * (v_ - 0.5 * g * fl)
        vz[ri] = v_ - g * fl
        az[ri] = np.where(flying, -g, a_)
        a_, v_, x_ = basis.kernel(
            plan.v_ic[rk], p.dist_ic[rk], p.fw_amp[rk], p.fw_skew[rk], p.fw_bump[rk], 0.0
        )
        v[ri] = v_
        dv[ri] = np.where(flying, 0.0, a_)
        dist[ri] = x_ + v_ * fl
        a_, v_, y_ = basis.kernel(p.vy_ic[rk], p.y_ic[rk], p.ly_amp[rk], p.ly_skew[rk], None, 0.0)
        y[ri] = y_ + v_ * fl
        vy[ri] = v_
        ay[ri] = np.where(flying, 0.0, a_)
        h, dh, ddh = smoothstep(sc / tau)
        turn = p.dpsi[rk]
        psi[ri] = p.psi_ic[rk] + turn * h
        dpsi[ri] = turn * dh / tau
        ddpsi[ri] = turn * ddh / (tau * tau)

    # ---- walking samples: the new foot's force plus the tail of the previous stance
    wi, wk, ws = idx[~run], kk[~run], s[~run]
    if wi.size:
        big_t = plan.step[wk]
        u = ws / big_t
        basis = KernelBasis(ws, big_t, big_t)
        h1, dh1, ddh1 = hermite_slope(u)
        h2, dh2, ddh2 = hermite_slope(1.0 - u)
        fz, fz1, fz2 = _walking_vertical(ws, wk, plan, p)
        w0 = p.w_ic[wk]
        z[wi] = w0 * ws + g * (fz2 - 0.5 * ws * ws)
        vz[wi] = w0 + g * (fz1 - ws)
        az[wi] = g * (fz - 1.0)
        # forward: the planned speed change as a half-sine, plus both feet's braking/propulsion
        a_, v_, x_ = basis.kernel(p.v_ic[wk], p.dist_ic[wk], p.fw_amp[wk], p.fw_skew[wk], None, 0.0)
        fx, fx1, fx2 = _walking_forward(ws, wk, plan, p)
        v[wi], dv[wi], dist[wi] = v_ + g * fx1, a_ + g * fx, x_ + g * fx2
        sm, dsm, ddsm = smoothstep(u)
        y0, y1, v0, v1 = p.y_ic[wk], p.y_end[wk], p.vy_ic[wk], p.vy_end[wk]
        y[wi] = y0 + (y1 - y0) * sm + big_t * (v0 * h1 - v1 * h2)
        vy[wi] = (y1 - y0) * dsm / big_t + v0 * dh1 + v1 * dh2
        ay[wi] = (y1 - y0) * ddsm / big_t**2 + (v0 * ddh1 - v1 * ddh2) / big_t
    return Translation(
        z=z, vz=vz, az=az, v=v, dv=dv, dist=dist, y=y, vy=vy, ay=ay, psi=psi, dpsi=dpsi,
        ddpsi=ddpsi, step_index=step_index, activity=activity,
    )


def _walking_vertical(s: FloatArray, k: IntArray, plan: StepPlan, p: StepParams) -> Integrals:
    """Sum of the feet's vertical forces (body weights) at ``s`` after the IC of steps ``k``.

    Returned with its first and second integral from IC.
    """
    args = (p.stance[k], p.ramp[k], p.kappa[k], p.heel, p.heel_s)
    own = support(s, *args)
    fix = _bump(s, 0.0, 0.5 * plan.step[k])
    amp, early = p.amp[k], p.fix[k]
    f, f1, f2 = (amp * own[i] + early * fix[i] for i in range(3))
    prev = np.flatnonzero(p.tail[k] == TAIL_FOOT)
    if prev.size:
        j, sj = k[prev] - 1, s[prev]
        t0 = plan.step[j]
        args = (p.stance[j], p.ramp[j], p.kappa[j], p.heel, p.heel_s)
        tail = _shifted(support(t0 + sj, *args), support(t0, *args), sj)
        f[prev] += p.amp[j] * tail[0]
        f1[prev] += p.amp[j] * tail[1]
        f2[prev] += p.amp[j] * tail[2]
    first = np.flatnonzero(p.tail[k] == TAIL_STAND)
    if first.size:
        sj = s[first]
        r = _ramp(sj, 0.0, p.ramp[k[first]])
        f[first] += 1.0 - r[0]
        f1[first] += sj - r[1]
        f2[first] += 0.5 * sj * sj - r[2]
    return f, f1, f2


def _walking_forward(s: FloatArray, k: IntArray, plan: StepPlan, p: StepParams) -> Integrals:
    """Sum of the feet's anteroposterior forces (body weights) and its integrals, as above."""
    own = _sines(s, p.stance[k], WALK_APGRF_SINES)
    scale = p.ap[k]
    f, f1, f2 = (scale * own[i] for i in range(3))
    prev = np.flatnonzero(p.tail[k] == TAIL_FOOT)
    if prev.size:
        j, sj = k[prev] - 1, s[prev]
        t0 = plan.step[j]
        tail = _shifted(_sines(t0 + sj, p.stance[j], WALK_APGRF_SINES),
                        _sines(t0, p.stance[j], WALK_APGRF_SINES), sj)
        f[prev] += p.ap[j] * tail[0]
        f1[prev] += p.ap[j] * tail[1]
        f2[prev] += p.ap[j] * tail[2]
    return f, f1, f2


# --------------------------------------------------------------------------- pelvic angles
@dataclass(frozen=True)
class Angles:
    """Pelvic angles (rad) and their time derivatives (rad/s); obliquity excludes lean."""

    tilt: FloatArray
    dtilt: FloatArray
    obliquity: FloatArray
    dobliquity: FloatArray
    rotation: FloatArray
    drotation: FloatArray


def _pchip(tk: FloatArray, yk: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    order = np.argsort(tk, kind="stable")
    tk, yk = tk[order], yk[order]
    keep = np.concatenate([[True], np.diff(tk) > 1e-6])
    interp = PchipInterpolator(tk[keep], yk[keep])
    return interp(t), interp.derivative()(t)


def pelvic_angles(
    t: FloatArray,
    total_s: float,
    plan: StepPlan,
    profile: RunnerProfile,
    rng: np.random.Generator,
) -> Angles:
    """Knot-based waveforms (monotone cubic interpolation, C1) through per-step extremes."""
    run = plan.is_run
    ic, step, contact = plan.ic, plan.step, plan.contact
    var = 1.0 + profile.amplitude_cv * plan.noise
    amp_w = np.clip(plan.v_nom / profile.walk_speed_mps, 0.15, 1.3)
    ds = step * profile.walk_double_support_fraction
    s = plan.sign
    # tilt: two cycles per stride; run: most posterior at mid-contact, most anterior at toe-off
    tilt_amp = np.where(run, profile.tilt_range_deg, profile.walk_tilt_range_deg * amp_w) * var[:, 4]
    tilt_off = np.where(run, profile.tilt_offset_deg, profile.walk_tilt_offset_deg * np.minimum(amp_w, 1.0))
    t_min = np.where(run, ic + 0.5 * contact, ic + ds + 0.5 * (step - ds))
    t_max = np.where(run, ic + contact, ic + ds)
    tilt_t = np.concatenate([t_min, t_max])
    tilt_y = np.concatenate([tilt_off - 0.5 * tilt_amp, tilt_off + 0.5 * tilt_amp])
    # obliquity: swing-side hip drops by `drop` from its level at IC, peak at a fraction of stance
    drop = np.where(
        run,
        np.where(s > 0, profile.drop_left_stance_deg, profile.drop_right_stance_deg),
        profile.walk_drop_deg * amp_w,
    ) * var[:, 5]
    eta = profile.obliquity_ic_fraction
    t_peak = np.where(run, ic + profile.drop_peak_fraction * contact, ic + 0.3 * step)
    obl_t = np.concatenate([ic, t_peak])
    obl_y = np.concatenate([-s * eta * drop, s * (1.0 - eta) * drop])
    # rotation: one cycle per stride, stance-side hip forward (pelvis faces away) at IC
    rot_amp = np.where(run, profile.rotation_range_deg, profile.walk_rotation_range_deg * amp_w) * var[:, 6]
    rot_t = ic
    rot_y = -s * 0.5 * rot_amp + np.where(run, profile.rotation_offset_deg, 0.0)
    # standing: knots at rest with small postural sway
    stand_t = _stand_knots(total_s, plan)
    sway = profile.stand_sway_deg
    sw = rng.standard_normal((stand_t.size, 3)) * np.array([sway, sway, 0.5 * sway])
    ends = np.array([-1.0, total_s + 1.0])

    def build(tk: FloatArray, yk: FloatArray, col: int) -> tuple[FloatArray, FloatArray]:
        x = np.concatenate([tk, stand_t, ends])
        val = np.concatenate([yk, sw[:, col], [0.0, 0.0]]) * DEG2RAD
        return _pchip(x, val, t)

    tilt, dtilt = build(tilt_t, tilt_y, 0)
    obl, dobl = build(obl_t, obl_y, 1)
    rot, drot = build(rot_t, rot_y, 2)
    return Angles(tilt=tilt, dtilt=dtilt, obliquity=obl, dobliquity=dobl, rotation=rot, drotation=drot)


def _stand_knots(total_s: float, plan: StepPlan) -> FloatArray:
    """Knot times inside the standing intervals, about every 1.5 s, clear of any step."""
    b_start = plan.ic[plan.first] - _STAND_MARGIN_S
    last_end = plan.ic[plan.last] + np.maximum(plan.step[plan.last], plan.contact[plan.last])
    b_end = last_end + _STAND_MARGIN_S
    gaps_a = np.concatenate([[0.0], b_end])
    gaps_b = np.concatenate([b_start, [total_s]])
    out: list[FloatArray] = []
    for a, b in zip(gaps_a.tolist(), gaps_b.tolist(), strict=True):
        if b - a <= 0.0:
            continue
        m = max(int(np.ceil((b - a) / 1.5)), 1)
        out.append(np.linspace(a, b, m + 1))  # edges included: flat from the first knot on
    return np.concatenate(out) if out else np.zeros(0)
