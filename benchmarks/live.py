"""Live numbers: how soon they come, what they cost, and that they stay the batch numbers.

What ``docs/metrics.md`` ("Live metrics") says of the streaming settings and the live mounting
was measured with this script. Sessions: 10 virtual ones (speeds 2-6 m/s; upright,
upside-down and random mountings; no, normal and 3x sensor noise; standing or walking first, a
walk between two runs, a turn; four without gyroscope), the bundled ``stored-run.imrn`` and
``clean-run.imrs``, and, where ``IMURUN_SHARED_DATA`` holds them, the real trials of
alcantara2022 (running, 5 s at 500 Hz, body frame), mobgap_lab and voisard_ipol (walking, lower
back).

* ``equality``: for each ``(window_s, hop_s, margin_s)``, every segment streamed 10 samples at
  a time through :class:`~imurun.signal.streaming.StreamingEvents` (body frame) against one
  pass over the whole segment (the same code with a window longer than the segment): the
  segments whose steps (IC, TO, step time, running label, bounce) are all equal, and CPU time.
* ``live``: each virtual and bundled session, sensor frame, through
  :class:`~imurun.analysis_live.LiveAnalyzer` (a line every 5 s) with the earlier settings
  (a 4-s hop and margin, the mounting on 20 s, numbers from the first running step; on this
  code, which also adds the line a settling line announces), the current ones with numbers
  from the first running step (``min_steps=1``) and the current ones: the time
  from the start of running (the script's; the batch's first running step on the bundled
  ones) to the first line with numbers *when it is printed* (lines due before the mounting is
  known are printed once it is), the running steps that line rests on and how far its cadence
  and contact time are from those of the one-pass steps (below) of its span up to its time
  (the steps not final live yet included), the delay from a running step's IC to its emission, when the
  mounting is known and its angle to the true one (to the whole recording's estimate on the
  bundled ones), whether the running steps equal the batch's (``imurun.analyze`` with the live
  mounting), whether every "first numbers in ~N s" came true, and CPU per line.
* ``mounting_walking``: the real walking trials of at least 20 s, turned by a random placement:
  when the live gate takes the mounting and its angle to the whole trial's estimate, against
  the estimate on 20 s of samples.

``make bench`` runs all three as its suite ``live`` (``results.live`` in
``benchmarks/results/latest.json``); ``python -m benchmarks.run --merge live`` runs only them
and merges them into that file. ``python -m benchmarks.live [equality] [live]
[mounting_walking]`` prints the parts named as JSON and writes nothing. Several minutes.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import imurun
from imurun.analysis_live import LiveAnalyzer, LiveMetrics
from imurun.errors import ImurunError
from imurun.ingest.recording import Recording
from imurun.signal.mounting import MountingError, estimate_mounting
from imurun.signal.streaming import StreamingEvents, StreamingSettings, StreamSteps
from imurun.sim.motion import Mounting, NoiseModel, Phase, generate

REC = Path(__file__).resolve().parents[1] / "recordings"
FS = 200.0
FRAME = 10  # samples per SAMPLE_BATCH of the virtual sensor

CONFIGS = [(16.0, 4.0, 4.0), (16.0, 2.0, 2.0), (16.0, 1.0, 1.0), (16.0, 1.0, 2.0),
           (16.0, 1.0, 2.5), (16.0, 0.5, 3.0), (16.0, 1.0, 3.0), (16.0, 2.0, 3.0),
           (8.0, 1.0, 3.0)]
VARIANTS: dict[str, tuple[StreamingSettings, float]] = {
    "before: hop 4 s, margin 4 s, mounting at 20 s, numbers from the first step":
        (StreamingSettings(hop_s=4.0, margin_s=4.0, min_steps=1), 0.0),
    "hop 2 s, margin 3 s, mounting at 20 s": (StreamingSettings(hop_s=2.0, margin_s=3.0), 0.0),
    "hop 2 s, margin 3 s, mounting after 12 s of locomotion, numbers from the first step":
        (StreamingSettings(hop_s=2.0, margin_s=3.0, min_steps=1), 12.0),
    "hop 2 s, margin 3 s, mounting after 12 s of locomotion":
        (StreamingSettings(hop_s=2.0, margin_s=3.0), 12.0),
    "hop 2 s, margin 3 s, mounting after 8 s of locomotion":
        (StreamingSettings(hop_s=2.0, margin_s=3.0), 8.0),
}


@dataclass
class Session:
    name: str
    fs_hz: float
    sf_acc: np.ndarray
    sf_gyr: np.ndarray | None
    run_start_s: float
    r_sb: np.ndarray  # the true mounting, or the whole recording's estimate


def _noise(k: float) -> NoiseModel:
    n = NoiseModel()
    if k == 0:
        return NoiseModel.clean()
    return NoiseModel(n.acc_density_ms2_rthz * k, n.gyr_density_rads_rthz * k,
                      n.acc_bias_sigma_ms2 * k, n.gyr_bias_sigma_rads * k,
                      n.acc_scale_sigma * k, n.gyr_scale_sigma * k)


def sessions() -> list[Session]:
    """The virtual and bundled sessions (sensor frame)."""
    specs: list[tuple[str, tuple[Phase, ...], str, float, bool]] = [
        ("stand 6 s, run 3.3 m/s", (Phase("stand", 6.0), Phase("run", 60.0, 3.3)), "up", 1, True),
        ("stand 6 s, run 2.5 m/s", (Phase("stand", 6.0), Phase("run", 60.0, 2.5)), "rnd", 1,
         True),
        ("walk 6 s, run 4.2 m/s", (Phase("walk", 6.0), Phase("run", 60.0, 4.2)), "down", 1, True),
        ("run 5 m/s, acc only", (Phase("run", 60.0, 5.0),), "rnd", 1, False),
        ("stand, walk, run, 3x noise", (Phase("stand", 3.0), Phase("walk", 5.0),
                                        Phase("run", 50.0, 3.0)), "rnd", 3, True),
        ("run, walk, run, acc only", (Phase("stand", 6.0), Phase("run", 30.0),
                                      Phase("walk", 10.0), Phase("run", 30.0)), "rnd", 1, False),
        ("run 2 m/s, no noise", (Phase("stand", 2.0), Phase("run", 50.0, 2.0)), "up", 0, True),
        ("walk 10 s, run with a turn", (Phase("walk", 10.0),
                                        Phase("run", 40.0, 3.5, turn_deg=180.0)), "rnd", 1, True),
        ("stand 1 s, run 6 m/s", (Phase("stand", 1.0), Phase("run", 40.0, 6.0)), "rnd", 1, True),
        ("stand 12 s, run, acc only", (Phase("stand", 12.0), Phase("run", 40.0, 3.0)), "rnd", 1,
         False),
    ]
    out = []
    for k, (name, script, placement, noise, gyro) in enumerate(specs):
        mnt = {"up": Mounting.upright(), "down": Mounting.upside_down(),
               "rnd": Mounting.random(np.random.default_rng(2000 + k))}[placement]
        m = generate(script, None, FS, mounting=mnt, noise=_noise(noise),
                     rng=np.random.default_rng(1000 + k))
        start = 0.0
        for p in script:
            if p.kind == "run":
                break
            start += p.duration_s
        out.append(Session(name, FS, np.asarray(m.acc_ms2),
                           np.asarray(m.gyr_rads) if gyro else None, start, mnt.r_sb))
    for name in ("stored-run.imrn", "clean-run.imrs"):
        rec = imurun.load_recording(REC / name)
        steps = imurun.analyze(rec).steps
        run = steps.ic_s[(steps.activity == "run") & np.isfinite(steps.ic_s)]
        acc = np.asarray(rec.acc_ms2)
        gyr = None if rec.gyr_rads is None else np.asarray(rec.gyr_rads)
        whole = estimate_mounting(acc, rec.fs_hz, gyr_rads=gyr)
        out.append(Session(name, rec.fs_hz, acc, gyr, float(run[0]), whole.r_sb))
    return out


def _real(names: tuple[str, ...]) -> list[Any]:
    from imurun.validation.datasets import load_dataset

    trials: list[Any] = []
    for n in names:
        try:
            trials += load_dataset(n)
        except (ImurunError, OSError):
            pass
    return trials


def _angle_deg(r1: np.ndarray, r2: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip((np.trace(r1 @ r2.T) - 1) / 2, -1, 1))))


# ------------------------------------------------------------------------------- equality
def _stream(acc: np.ndarray, gyr: np.ndarray | None, fs: float,
            settings: StreamingSettings) -> StreamSteps:
    se = StreamingEvents(fs, settings)
    parts = [se.update(acc[a:a + FRAME], None if gyr is None else gyr[a:a + FRAME])
             for a in range(0, acc.shape[0], FRAME)]
    parts.append(se.flush())
    return StreamSteps.concat(parts)


def _same(a: StreamSteps, b: StreamSteps) -> bool:
    if len(a) != len(b):
        return False
    for f in ("ic_index", "to_index", "step_s", "vertical_oscillation_m"):
        x, y = getattr(a, f), getattr(b, f)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            return False
        d = np.abs(x - y)[np.isfinite(x)]
        if d.size and d.max() > 1e-6:
            return False
    return bool(np.array_equal(a.running, b.running))


def equality() -> dict[str, Any]:
    segs: list[tuple[str, float, np.ndarray, np.ndarray | None]] = []
    for s in sessions():
        segs.append((s.name, s.fs_hz, s.sf_acc @ s.r_sb.T,
                     None if s.sf_gyr is None else s.sf_gyr @ s.r_sb.T))
    for t in _real(("alcantara2022", "mobgap_lab", "voisard_ipol")):
        for a, b in t.segments:
            if b - a > 1:
                segs.append((f"{t.dataset}:{t.trial_id}", t.fs_hz, t.bf_acc_ms2[a:b],
                             None if t.bf_gyr_rads is None else t.bf_gyr_rads[a:b]))
    refs = []
    for _, fs, acc, gyr in segs:
        big = acc.shape[0] / fs + 10.0
        refs.append(_stream(acc, gyr, fs, StreamingSettings(window_s=3 * big, hop_s=big,
                                                            margin_s=big)))
    out: dict[str, Any] = {"segments": len(segs), "steps": sum(len(r) for r in refs),
                           "configs": []}
    for window_s, hop_s, margin_s in CONFIGS:
        st = StreamingSettings(window_s=window_s, hop_s=hop_s, margin_s=margin_s)
        t0 = time.process_time()
        differ = [name for (name, fs, acc, gyr), ref in zip(segs, refs, strict=True)
                  if not _same(_stream(acc, gyr, fs, st), ref)]
        out["configs"].append({"window_s": window_s, "hop_s": hop_s, "margin_s": margin_s,
                               "segments_equal": len(segs) - len(differ), "differ": differ,
                               "cpu_s": round(time.process_time() - t0, 2)})
    return out


# ----------------------------------------------------------------------------------- live
def _live(s: Session, settings: StreamingSettings, early_s: float) -> dict[str, Any]:
    reports: list[tuple[float, LiveMetrics]] = []
    emitted: list[tuple[float, StreamSteps]] = []
    la = LiveAnalyzer(s.fs_hz, lambda m: reports.append((la.n_seen / s.fs_hz, m)),
                      settings=settings, mounting_early_s=early_s,
                      on_steps=lambda st: emitted.append((la.n_seen / s.fs_hz, st)))
    known_s = float("nan")
    cpu = 0.0
    for a in range(0, s.sf_acc.shape[0], FRAME):
        t0 = time.process_time()
        la.add(s.sf_acc[a:a + FRAME], None if s.sf_gyr is None else s.sf_gyr[a:a + FRAME])
        cpu += time.process_time() - t0
        if np.isnan(known_s) and la.mounting is not None:
            known_s = la.n_seen / s.fs_hz
    la.flush()
    assert la.mounting is not None
    first, first_m = next(((printed, m) for printed, m in reports if m.n_steps),
                          (float("nan"), None))
    kept = True  # every "first numbers in ~N s" came true: the first line from then has them
    for _, m in reports:
        if m.n_steps == 0 and np.isfinite(m.settling_s):
            nxt = next((r for _, r in reports if r.t_s >= m.t_s + m.settling_s - 1e-6), None)
            kept &= nxt is None or nxt.n_steps > 0
    steps = StreamSteps.concat([st for _, st in emitted])
    delay = np.concatenate([t - st.ic_s[st.running] for t, st in emitted] or [np.zeros(0)])
    n = s.sf_acc.shape[0]
    rec = Recording.from_arrays(np.arange(n) / s.fs_hz, s.sf_acc, s.sf_gyr, fs_hz=s.fs_hz)
    batch = imurun.analyze(rec, mounting=la.mounting).steps
    b_run = (batch.activity == "run") & np.isfinite(batch.ic_s)
    b_ic = batch.ic_s[b_run]
    live_ic = steps.ic_s[steps.running]
    # the first line against the one-pass steps of its span up to its time (also those not
    # final live yet)
    d_cad = d_contact = float("nan")
    if first_m is not None:
        span = settings.rolling_s + settings.margin_s + settings.hop_s
        m = b_run & (batch.ic_s >= first_m.t_s - span) & (batch.ic_s <= first_m.t_s)
        d_cad = first_m.cadence_spm - 60.0 / float(np.nanmedian(batch.step_s[m]))
        d_contact = first_m.contact_ms - 1e3 * float(np.nanmedian(batch.contact_s[m]))
    return {"session": s.name,
            "first_numbers_after_running_starts_s": round(first - s.run_start_s, 2),
            "first_line_steps": 0 if first_m is None else first_m.n_steps,
            "first_line_cadence_minus_one_pass_spm": round(d_cad, 1),
            "first_line_contact_minus_one_pass_ms": round(d_contact, 1),
            "mounting_known_s": known_s,
            "mounting_angle_deg": round(_angle_deg(la.mounting.r_sb, s.r_sb), 2),
            "step_delay_median_s": round(float(np.median(delay)), 2),
            "steps_equal_batch": bool(live_ic.size == b_ic.size
                                      and np.allclose(live_ic, b_ic, rtol=0, atol=1e-6)),
            "settling_lines_kept_their_word": bool(kept),
            "cpu_ms_per_line": round(1e3 * cpu / max(len(reports), 1), 1),
            "ic_s": live_ic.tolist(), "contact_s": (steps.to_s - steps.ic_s)[steps.running]
            .tolist(), "bounce_m": steps.vertical_oscillation_m[steps.running].tolist()}


def live() -> dict[str, Any]:
    ss = sessions()
    out: dict[str, Any] = {}
    for name, (settings, early_s) in VARIANTS.items():
        rows = [_live(s, settings, early_s) for s in ss]
        first = np.array([r["first_numbers_after_running_starts_s"] for r in rows])
        out[name] = {
            "first_numbers_after_running_starts_s": {"median": float(np.median(first)),
                                                     "max": float(first.max())},
            "first_line_steps": {"min": min(r["first_line_steps"] for r in rows),
                                 "median": float(np.median([r["first_line_steps"]
                                                            for r in rows]))},
            "first_line_minus_one_pass": {
                k: {"median": round(float(np.median(np.abs(x))), 1),
                    "max": round(float(np.max(np.abs(x))), 1)}
                for k, x in (("cadence_spm", [r["first_line_cadence_minus_one_pass_spm"]
                                              for r in rows]),
                             ("contact_ms", [r["first_line_contact_minus_one_pass_ms"]
                                             for r in rows]))},
            "step_delay_median_s": float(np.median([r["step_delay_median_s"] for r in rows])),
            "mounting_angle_deg_max": max(r["mounting_angle_deg"] for r in rows),
            "steps_equal_batch": sum(r["steps_equal_batch"] for r in rows),
            "settling_lines_kept_their_word": sum(r["settling_lines_kept_their_word"]
                                                  for r in rows),
            "sessions": len(rows),
            "cpu_ms_per_line_median": float(np.median([r["cpu_ms_per_line"] for r in rows])),
            "rows": rows}
    # the early mountings against the one on 20 s: same steps, contact times and bounces?
    ref = out["hop 2 s, margin 3 s, mounting at 20 s"]["rows"]
    for res in out.values():
        dc, db, unmatched = [], [], 0
        for r, r20 in zip(res["rows"], ref, strict=True):
            a, b = np.array(r["ic_s"]), np.array(r20["ic_s"])
            if a.size == 0 or b.size == 0:
                continue
            j = np.abs(a[:, None] - b[None, :]).argmin(axis=1)
            ok = np.abs(a - b[j]) <= 0.011
            unmatched += int(np.count_nonzero(~ok))
            dc += list(np.abs(np.array(r["contact_s"]) - np.array(r20["contact_s"])[j])[ok])
            d = np.abs(np.array(r["bounce_m"]) - np.array(r20["bounce_m"])[j])[ok]
            db += list(d[np.isfinite(d)])
        res["against_mounting_at_20_s"] = {"unmatched_steps": unmatched,
                                           "contact_ms_max": round(1e3 * max(dc), 2),
                                           "bounce_mm_max": round(1e3 * max(db), 2)}
    for res in out.values():
        for r in res["rows"]:
            del r["ic_s"], r["contact_s"], r["bounce_m"]
    return out


# ------------------------------------------------------------------------ mounting_walking
def _gated(acc: np.ndarray, gyr: np.ndarray | None, fs: float, early_s: float,
           ) -> tuple[np.ndarray, float] | None:
    """The live schedule itself: when :class:`LiveAnalyzer` (``mounting_early_s=early_s``,
    ``0``: only at 20 s) takes the mounting, and which; ``None`` when it has none by 20 s."""
    la = LiveAnalyzer(fs, lambda m: None, mounting_early_s=early_s)
    for a in range(0, min(acc.shape[0], int(20.0 * fs)), FRAME):
        la.add(acc[a:a + FRAME], None if gyr is None else gyr[a:a + FRAME])
        if la.mounting is not None:
            return (la.mounting.r_sb, la.n_seen / fs) if la.mounting.quality else None
    return None


def mounting_walking() -> dict[str, Any]:
    rng = np.random.default_rng(5)
    rows = []
    for t in _real(("mobgap_lab", "voisard_ipol")):
        a, b = t.segments[0]
        if b - a < 20 * t.fs_hz:
            continue
        r = Mounting.random(rng).r_sb
        acc = t.bf_acc_ms2[a:b] @ r  # sensor frame: v_sf = r.T v_bf
        gyr = None if t.bf_gyr_rads is None else t.bf_gyr_rads[a:b] @ r
        try:
            whole = estimate_mounting(acc, t.fs_hz, gyr_rads=gyr).r_sb
        except MountingError:
            continue
        early, late = _gated(acc, gyr, t.fs_hz, 12.0), _gated(acc, gyr, t.fs_hz, 0.0)
        if early is None or late is None:
            continue
        rows.append((early[1], _angle_deg(early[0], whole), _angle_deg(late[0], whole)))
    x = np.array(rows)
    e = x[x[:, 0] < 20.0]
    return {"trials": len(rows), "taken_before_20_s": len(e),
            "taken_at_s": {f"{w:g}": int(np.count_nonzero(x[:, 0] == w))
                           for w in np.unique(x[:, 0])},
            "early_angle_deg": {"median": round(float(np.median(e[:, 1])), 2),
                                "max": round(float(e[:, 1].max()), 2)},
            "same_trials_20_s_angle_deg": {"median": round(float(np.median(e[:, 2])), 2),
                                           "max": round(float(e[:, 2].max()), 2)},
            "early_minus_20_s_max_deg": round(float((e[:, 1] - e[:, 2]).max()), 2)}


def run(parts: list[str] | None = None) -> dict[str, Any]:
    todo = parts or ["equality", "live", "mounting_walking"]
    fns = {"equality": equality, "live": live, "mounting_walking": mounting_walking}
    return {p: fns[p]() for p in todo}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1:]), indent=1))
