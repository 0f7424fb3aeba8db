"""Pelvis orientation: speed and accuracy on one hour at 200 Hz, beside peer AHRS filters.

``run()`` generates one hour of running at 200 Hz (720,000 six-axis samples; the virtual
sensor's ``script_default``, realistic noise with gyroscope bias, a random mounting) and times
:func:`imurun.signal.orientation.pelvis_orientation` on it (the generation is not timed). The
same signal goes, in the estimated body frame, through:

* gaitmap's numba-compiled Madgwick filter (``MadgwickAHRS``, its default beta 0.2 and a
  lower 0.05), timed warm: the first call compiles and is not counted;
* x-io's imufusion (revised Madgwick in C, one Python call per sample) with its recommended
  settings (gain 0.5, 10° acceleration rejection) and without rejection at gain 0.1.

Every method's tilt and obliquity come from its orientation with the same z-x-y convention;
rotation is its yaw minus the same 0.5 Hz heading low-pass. Errors are RMS against the truth
over the whole hour. Times are wall-clock minima over ``repeats`` runs (and CPU time), reported
with ratios; none is asserted.

Peers are optional (the ``bench`` extra). gaitmap 2.6 pins numpy < 2.1, so it lives in its own
environment: ``make bench`` builds ``.venv-bench`` and sets ``IMURUN_BENCH_PYTHON`` to it, and
the Madgwick runs there in a subprocess (same data via a temporary file; its timing is taken
inside that process). Without it the result says why it was skipped.

Run: ``python -m benchmarks.orientation`` (prints JSON).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from imurun.consts import RAD2DEG
from imurun.signal import orientation as ori
from imurun.signal.mounting import estimate_mounting
from imurun.sim import motion as sim

FS = 200.0
IDENT = np.array([1.0, 0.0, 0.0, 0.0])


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    """Minimum wall and CPU time of ``repeats`` calls, and the last result."""
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def _rms(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x**2)))


def _angles_from_quats(q_wb: np.ndarray, fs: float) -> dict[str, np.ndarray]:
    yaw, obl, tilt = ori._angles(q_wb, IDENT)
    yaw_u = np.unwrap(yaw)
    head = ori._heading(yaw_u, ori._heading_sos(ori.OrientationSettings(), fs))
    return {"tilt": tilt * RAD2DEG, "obliquity": obl * RAD2DEG, "rotation": (yaw_u - head) * RAD2DEG}


def _errors(est: dict[str, np.ndarray], truth: sim.Truth) -> dict[str, float]:
    return {
        "tilt_rms_deg": round(_rms(est["tilt"] - truth.tilt_deg), 3),
        "obliquity_rms_deg": round(_rms(est["obliquity"] - truth.obliquity_deg), 3),
        "rotation_rms_deg": round(_rms(est["rotation"] - truth.rotation_deg), 3),
    }


# ------------------------------------------------------------------------------- peers
def _gaitmap_quats(acc_bf: np.ndarray, gyr_bf: np.ndarray, fs: float, beta: float,
                   repeats: int) -> tuple[np.ndarray, float, float]:
    """Run gaitmap's MadgwickAHRS in this process: quaternions (w, x, y, z), wall, CPU time."""
    import pandas as pd
    from gaitmap.trajectory_reconstruction import MadgwickAHRS
    from scipy.spatial.transform import Rotation

    df = pd.DataFrame(np.column_stack([acc_bf, np.degrees(gyr_bf)]),
                      columns=["acc_x", "acc_y", "acc_z", "gyr_x", "gyr_y", "gyr_z"])
    init = Rotation.identity()
    MadgwickAHRS(beta=beta, initial_orientation=init).estimate(df.iloc[:2000], sampling_rate_hz=fs)  # compile
    wall, cpu, est = _time(lambda: MadgwickAHRS(beta=beta, initial_orientation=init).estimate(
        df, sampling_rate_hz=fs), repeats)
    xyzw = est.orientation_object_.as_quat()[1:]  # first row is the initial orientation
    return np.column_stack([xyzw[:, 3], xyzw[:, :3]]), wall, cpu


def _gaitmap(acc_bf: np.ndarray, gyr_bf: np.ndarray, fs: float, beta: float,
             repeats: int) -> tuple[np.ndarray | None, dict[str, Any]]:
    try:
        import gaitmap  # noqa: F401
    except ImportError as e:
        python = os.environ.get("IMURUN_BENCH_PYTHON")
        if not python:
            return None, {"skipped": f"gaitmap not importable here ({e}); set IMURUN_BENCH_PYTHON "
                          "to a Python with gaitmap (it pins numpy<2.1)"}
        return _gaitmap_subprocess(python, acc_bf, gyr_bf, fs, beta, repeats)
    q, wall, cpu = _gaitmap_quats(acc_bf, gyr_bf, fs, beta, repeats)
    return q, {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "where": "in process"}


def _gaitmap_subprocess(python: str, acc_bf: np.ndarray, gyr_bf: np.ndarray, fs: float, beta: float,
                        repeats: int) -> tuple[np.ndarray | None, dict[str, Any]]:
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, acc=acc_bf, gyr=gyr_bf, fs=fs, beta=beta, repeats=repeats)
        proc = subprocess.run([python, "-m", "benchmarks.orientation", "--gaitmap-peer", str(src),
                               str(dst)], cwd=root, capture_output=True, text=True, timeout=900,
                              check=False)
        if proc.returncode != 0:
            return None, {"skipped": f"gaitmap subprocess failed: {proc.stderr.strip()[-400:]}"}
        out = np.load(dst)
        return out["q"], {"wall_s": round(float(out["wall"]), 3), "cpu_s": round(float(out["cpu"]), 3),
                          "where": f"subprocess {python}", "numpy": str(out["numpy"])}


def _imufusion(acc_bf: np.ndarray, gyr_bf: np.ndarray, fs: float, gain: float,
               rejection_deg: float) -> tuple[np.ndarray | None, dict[str, Any]]:
    from imurun.validation.orientation_check import imufusion_quaternions

    try:
        import imufusion  # noqa: F401 - imported before the clock starts
    except ImportError as e:
        return None, {"skipped": f"imufusion not installed ({e})"}

    def go() -> np.ndarray:
        return imufusion_quaternions(acc_bf, gyr_bf, fs, gain=gain, rejection_deg=rejection_deg)

    wall, cpu, q = _time(go, 1)
    return q, {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
               "settings": {"gain": gain, "acceleration_rejection_deg": rejection_deg}}


# ------------------------------------------------------------------------------- main
def run(minutes: float = 60.0, fs_hz: float = FS, seed: int = 7, repeats: int = 3) -> dict[str, Any]:
    """Time and score the orientation on ``minutes`` of synthetic running; see the module doc."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    mo = sim.generate(sim.script_default(minutes, rng), None, fs_hz,
                      mounting=sim.Mounting.random(rng), noise=sim.NoiseModel(), rng=rng)
    gen_s = time.perf_counter() - t0
    truth = mo.truth
    acc, gyr = np.asarray(mo.acc_ms2), np.asarray(mo.gyr_rads)
    mw, mc, mounting = _time(lambda: estimate_mounting(acc, fs_hz, gyr_rads=gyr), 1)

    ori.pelvis_orientation(acc[:20000], gyr[:20000], fs_hz, mounting)  # warm caches
    wall, cpu, pa = _time(lambda: ori.pelvis_orientation(acc, gyr, fs_hz, mounting), repeats)
    ours = {"tilt": pa.tilt_deg, "obliquity": pa.obliquity_deg, "rotation": pa.rotation_deg}
    end = truth.ic_s + truth.step_s
    steps = {
        "tilt_range_rmse_deg": _rms(ori.pelvic_tilt_range_deg(pa.tilt_deg, mo.t_s, truth.ic_s, end)
                                    - truth.pelvic_tilt_range_deg),
        "rotation_range_rmse_deg": _rms(ori.pelvic_rotation_range_deg(pa.rotation_deg, mo.t_s, truth.ic_s, end)
                                        - truth.pelvic_rotation_range_deg),
        "drop_rmse_deg": _rms(ori.pelvic_drop_deg(pa.obliquity_deg, mo.t_s, truth.ic_s, truth.to_s, truth.side)
                              - truth.pelvic_drop_deg),
    }
    n = acc.shape[0]
    result: dict[str, Any] = {
        "signal": {"minutes": minutes, "fs_hz": fs_hz, "samples": n, "steps": truth.n_steps,
                   "mounting": mo.mounting.label, "generation_s_not_timed": round(gen_s, 2)},
        "imurun": {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                   "x_realtime": round(n / fs_hz / wall), **_errors(ours, truth),
                   **{k: round(v, 3) for k, v in steps.items()},
                   "mounting_estimate_s": round(mw, 3),
                   "mounting_error_deg": round(float(np.degrees(np.arccos(np.clip(
                       (np.trace(mounting.r_sb @ mo.mounting.r_sb.T) - 1) / 2, -1, 1)))), 2)},
        "peers": {},
    }
    # peers see the same signal in the same (estimated) body frame
    acc_bf, gyr_bf = mounting.bf_from_sf(acc), mounting.bf_from_sf(gyr)
    peers: dict[str, tuple[np.ndarray | None, dict[str, Any]]] = {
        "gaitmap_madgwick_beta0.2": _gaitmap(acc_bf, gyr_bf, fs_hz, 0.2, repeats),
        "gaitmap_madgwick_beta0.05": _gaitmap(acc_bf, gyr_bf, fs_hz, 0.05, 1),
        "imufusion_recommended": _imufusion(acc_bf, gyr_bf, fs_hz, 0.5, 10.0),
        "imufusion_gain0.1_no_rejection": _imufusion(acc_bf, gyr_bf, fs_hz, 0.1, 0.0),
    }
    for name, (q, info) in peers.items():
        if q is not None:
            err = _errors(_angles_from_quats(q, fs_hz), truth)
            info.update(err)
            info["time_ratio_peer_over_imurun"] = round(info["wall_s"] / wall, 2)
            info["tilt_error_ratio_peer_over_imurun"] = round(
                err["tilt_rms_deg"] / max(result["imurun"]["tilt_rms_deg"], 1e-9), 1)
            info["obliquity_error_ratio_peer_over_imurun"] = round(
                err["obliquity_rms_deg"] / max(result["imurun"]["obliquity_rms_deg"], 1e-9), 1)
        result["peers"][name] = info
    return result


def _peer_main(src: str, dst: str) -> int:
    d = np.load(src)
    q, wall, cpu = _gaitmap_quats(d["acc"], d["gyr"], float(d["fs"]), float(d["beta"]), int(d["repeats"]))
    np.savez(dst, q=q, wall=wall, cpu=cpu, numpy=np.__version__)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--gaitmap-peer":
        sys.exit(_peer_main(sys.argv[2], sys.argv[3]))
    print(json.dumps(run(), indent=2))
