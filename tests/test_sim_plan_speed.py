"""The stream's plan, made faster, is bit for bit what it was: no byte of a stream changes.

Preparing a simulated stream (``plan_motion``) costs CPU before its first frame, most of it in
two per-step loops: laying the steps (``_gait.plan_steps``) and the vertical state of each
contact (``_gait._vertical_contacts``). They now do their scalar arithmetic on Python floats in
lists instead of numpy scalars in arrays (the same doubles, the same IEEE operations). The
functions below are the loops as they were, kept as the reference: every field of every plan
must be equal bit for bit, and a stream planned with them must be the same bytes on the wire.
"""

from __future__ import annotations

import bisect
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.codec import Encoder
from imurun.consts import G_MS2
from imurun.sim import _gait
from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from imurun.sim.motion import Phase, RunnerProfile, plan_motion, script_default
from imurun.sim.source import motion_source

FloatArray = np.ndarray
CFG = SensorConfig()


def reference_plan_steps(
    script: tuple[Phase, ...],
    profile: RunnerProfile,
    speed: _gait.Ramps,
    rng: np.random.Generator,
) -> _gait.StepPlan:
    """Lay steps bout by bout; cadence and contact follow the target speed at each contact."""
    start_s, _ = _gait.phase_bounds(script)
    starts = start_s.tolist()
    total = float(sum(p.duration_s for p in script))
    n_max = int(total / 0.2) + 16
    z = rng.standard_normal((n_max, 11))
    cols: dict[str, list[float]] = {k: [] for k in ("ic", "step", "contact", "run", "sign", "v", "first", "last")}
    dsf = profile.walk_double_support_fraction
    j = 0
    for b0, b1 in _gait.bouts(script):
        grid = np.arange(b0, min(b1, b0 + 60.0), 0.005)  # speed-ups last < 60 s
        ok = np.flatnonzero(speed(grid)[0] >= _gait.MIN_STEP_SPEED_MPS)
        if ok.size == 0:
            continue
        t = float(grid[ok[0]])
        left = bool(z[j, 10] < 0.0)
        n_bout = 0
        while True:
            v = speed.at(t)
            if v < _gait.MIN_STEP_SPEED_MPS and n_bout:
                break
            kind = script[bisect.bisect_right(starts, t) - 1].kind
            run = kind == "run" and v >= profile.run_min_speed_mps
            zj = z[j]
            if run:
                ratio = v / profile.ref_speed_mps
                step = 60.0 / (profile.cadence_spm * ratio**profile.cadence_speed_exponent)
                step *= 1.0 + profile.step_time_cv * zj[0]
                bal = profile.contact_balance_left if left else 1.0 - profile.contact_balance_left
                contact = profile.contact_s * ratio**profile.contact_speed_exponent
                contact = min(contact * 2.0 * bal * (1.0 + profile.contact_cv * zj[1]), 0.92 * step)
            else:
                step = float(_gait.walk_step_s(profile, v))
                step *= 1.0 + profile.step_time_cv * zj[0]
                contact = step * (1.0 + dsf)
            if t + step > b1 + 1e-9:
                break
            for key, val in (("ic", t), ("step", step), ("contact", contact), ("run", run),
                             ("sign", 1.0 if left else -1.0), ("v", v), ("first", n_bout == 0),
                             ("last", False)):
                cols[key].append(float(val))
            n_bout += 1
            j += 1
            t += step
            left = not left
        if not n_bout:
            continue
        cols["last"][-1] = 1.0
        # A bout starts and ends with a walking step: no flight into or out of standing.
        for i in (-n_bout, -1):
            if cols["run"][i]:
                cols["run"][i] = 0.0
                cols["contact"][i] = cols["step"][i] * (1.0 + dsf)
        # A walking foot leaves the ground before a running contact: no double support into it.
        for i in range(-n_bout, -1):
            if not cols["run"][i] and cols["run"][i + 1]:
                cols["contact"][i] = cols["step"][i]
    if not cols["ic"] and any(p.kind != "stand" for p in script):
        raise ValueError("the script contains no step: every moving phase is too short or too slow")
    ic, step, contact, sign, v_nom = (
        np.array(cols[k], dtype=np.float64) for k in ("ic", "step", "contact", "sign", "v")
    )
    is_run, first, last = (np.array(cols[k], dtype=bool) for k in ("run", "first", "last"))
    v_ic = np.where(first, 0.0, v_nom)
    v_end = np.where(last, 0.0, np.roll(v_ic, -1))
    return _gait.StepPlan(
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


def reference_vertical_contacts(
    plan: _gait.StepPlan, tc: FloatArray, tf: FloatArray, bump: FloatArray, bump_s: FloatArray
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
    w_ic = np.zeros(n)
    amp = np.zeros(n)
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
        a = -rhs * np.pi / (t_c * (t_c + 2.0 * t_f))
        amp[k] = a
        v_to = w + 2.0 * a * t_c / np.pi + i_b - g * t_c
        w = v_to - g * t_f
    return w_ic, amp


SCRIPTS = {
    "1 min": lambda rng: script_default(1.0, rng),
    "12 min": lambda rng: script_default(12.0, rng),
    "60 min": lambda rng: script_default(60.0, rng),
    "walk, run, walk": lambda rng: (Phase("stand", 3.0), Phase("walk", 20.0, 1.3),
                                    Phase("run", 30.0, 3.6, 90.0), Phase("walk", 15.0, 1.5),
                                    Phase("stand", 2.0)),
}
PROFILES = {"default": RunnerProfile(),
            "fast, asymmetric": RunnerProfile(cadence_spm=182.0, contact_balance_left=0.53,
                                              step_time_cv=0.03, contact_cv=0.05)}


@pytest.mark.parametrize("profile", PROFILES, ids=str)
@pytest.mark.parametrize("script", SCRIPTS, ids=str)
def test_the_plan_is_bit_for_bit_the_reference_plan(script: str, profile: str) -> None:
    for seed in (0, 17):
        rng = np.random.default_rng([seed, 3])
        phases = SCRIPTS[script](rng)
        prof = PROFILES[profile]
        speeds = [prof.default_speed_mps(p.kind) if p.speed_mps is None else p.speed_mps
                  for p in phases]
        speed = _gait.speed_ramps(phases, speeds, prof.speed_change_mps2)
        new = _gait.plan_steps(phases, prof, speed, np.random.default_rng([seed, 4]))
        old = reference_plan_steps(phases, prof, speed, np.random.default_rng([seed, 4]))
        assert new.ic.size > 10
        for f in dataclasses.fields(_gait.StepPlan):
            a, b = getattr(new, f.name), getattr(old, f.name)
            assert a.dtype == b.dtype, f.name
            assert a.tobytes() == b.tobytes(), f.name
        tc = np.where(old.is_run, old.contact, old.step)
        tf = np.where(old.is_run, old.step - old.contact, 0.0)
        bump = np.abs(np.random.default_rng(seed).normal(0.5, 0.2, tc.size))
        bump_s = np.full(tc.size, 0.03)
        for got, want in zip(_gait._vertical_contacts(old, tc, tf, bump, bump_s),
                             reference_vertical_contacts(old, tc, tf, bump, bump_s), strict=True):
            assert got.dtype == want.dtype == np.float64
            assert got.tobytes() == want.tobytes()


def _wire(sensor: VirtualSensor) -> bytes:
    sensor.start_stream(0.0)
    enc = Encoder(boot_id=sensor.boot_id)
    out = bytearray()
    while sensor.stream is not None:
        out += b"".join(f.encode_stream() for m in sensor.stream_batches(None, max_batches=50)
                        for f in enc.frames(m))
    sensor.wait_truth()
    return bytes(out)


@pytest.mark.parametrize(("minutes", "mounting"), [(3.0, "upright"), (1.5, "random")])
def test_a_stream_is_the_same_bytes_as_with_the_reference_loops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, minutes: float, mounting: str) -> None:
    def stream(name: str) -> bytes:
        return _wire(VirtualSensor(CFG, Flash(tmp_path / name / "flash"),
                                   stream_seconds=minutes * 60.0,
                                   motion=motion_source(6, CFG, tmp_path / name, mounting=mounting)))

    now = stream("now")
    with monkeypatch.context() as m:
        m.setattr(_gait, "plan_steps", reference_plan_steps)
        m.setattr(_gait, "_vertical_contacts", reference_vertical_contacts)
        before = stream("before")
    assert len(now) > minutes * 60 * 200 * 12
    assert now == before


def test_plan_motion_uses_the_loops_under_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """The patching above reaches plan_motion (else the wire test would compare a thing with
    itself)."""
    called: list[str] = []

    def spy_steps(*args: object) -> _gait.StepPlan:
        called.append("plan_steps")
        return reference_plan_steps(*args)  # type: ignore[arg-type]

    def spy_contacts(*args: object) -> tuple[FloatArray, FloatArray]:
        called.append("_vertical_contacts")
        return reference_vertical_contacts(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(_gait, "plan_steps", spy_steps)
    monkeypatch.setattr(_gait, "_vertical_contacts", spy_contacts)
    plan_motion(script_default(1.0, np.random.default_rng(1)), rng=np.random.default_rng(2))
    assert called == ["plan_steps", "_vertical_contacts"]
