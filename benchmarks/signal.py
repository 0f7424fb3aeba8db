"""Signal-core benchmark: the full ``imurun.analyze`` pipeline on one hour at 200 Hz.

``run()``: one hour (720,000 six-axis samples) of the virtual sensor (``script_default(60)``,
default noise, a random mounting), analysed end to end from the sensor-frame ``Recording``
(mounting and orientation estimated, events, activity, per-step metrics, summary, indicators).
Reported, as medians over ``repeats`` runs after a warm-up:

* **CPU time** (``time.process_time``: this process, every thread) of the whole analysis and
  of each stage. This is the cost on one core, and what the goal is stated in: other jobs on
  a shared machine inflate it far less than the wall time (BLAS helper threads would count,
  which is why the pipeline keeps its products on the calling thread).
* **Wall time**, whole and per stage (separate runs), with the load average for context.
* The **real-time factor** (recording duration / analysis time) for both, the
  accelerometer-only path, and the peak memory of one run traced with ``tracemalloc`` (NumPy
  reports its buffers to it) against the raw data size (the Recording's float64 arrays
  ``t_s``, ``acc_ms2``, ``gyr_rads``: 56 bytes per sample).

Goals (issue 4): <= 1 s on one core (>= 3,600x real time), peak <= 10x the raw size.

``peers()``: the same hour through scikit-digital-health's lumbar gait pipeline and GaitPy
(optional ``bench`` extra; see PEERS.md), in the same run: in this process when they are
installed here, else in the benchmark environment ``IMURUN_BENCH_PYTHON`` that ``make bench``
builds (``.venv-bench``), on the same arrays.
Each peer computes less than imurun (no toe-off for running, no per-step oscillation, braking or
pelvis). A peer that is not installed is reported with the reason.
"""

from __future__ import annotations

import os
import platform
import time
import tracemalloc
from typing import Any, Literal

import numpy as np

from imurun.analysis import analyze_timed
from imurun.ingest.recording import Recording
from imurun.sim.motion import Motion, Mounting, NoiseModel, generate, script_default

FS = 200.0
SEED = 2024


def _hour(minutes: float = 60.0) -> Motion:
    rng = np.random.default_rng(SEED)
    return generate(script_default(minutes, rng), None, FS,
                    mounting=Mounting.random(np.random.default_rng([SEED, 1])),
                    noise=NoiseModel(), rng=rng)


def _threads() -> dict[str, str]:
    return {k: os.environ.get(k, "unset") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                     "MKL_NUM_THREADS")}


def _timed(rec: Recording, clock: Literal["wall", "cpu"],
           ) -> tuple[Any, float, float, dict[str, float]]:
    """One analysis: result, total wall and CPU seconds, seconds per stage on ``clock``."""
    w0, c0 = time.perf_counter(), time.process_time()
    res, stages = analyze_timed(rec, clock=clock)
    return res, time.perf_counter() - w0, time.process_time() - c0, stages


def _median(x: list[float], nd: int = 3) -> float:
    return round(float(np.median(x)), nd)


def run(minutes: float = 60.0, repeats: int = 5) -> dict[str, Any]:
    t0 = time.perf_counter()
    m = _hour(minutes)
    gen_s = time.perf_counter() - t0
    rec = Recording.from_arrays(m.t_s, m.acc_ms2, m.gyr_rads, fs_hz=m.fs_hz)
    rec_acc = Recording.from_arrays(m.t_s, m.acc_ms2, None, fs_hz=m.fs_hz)
    raw_bytes = rec.t_s.nbytes + rec.acc_ms2.nbytes + (0 if rec.gyr_rads is None
                                                       else rec.gyr_rads.nbytes)
    load_before = os.getloadavg()
    analyze_timed(rec)  # warm-up (imports, filter design caches)
    cpu_runs = [_timed(rec, "cpu") for _ in range(repeats)]
    wall_runs = [_timed(rec, "wall") for _ in range(repeats)]
    acc_runs = [_timed(rec_acc, "cpu") for _ in range(repeats)]
    tracemalloc.start()
    tracemalloc.reset_peak()
    analyze_timed(rec)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    res = cpu_runs[-1][0]
    cpu_all = [r[2] for r in cpu_runs]
    wall_all = [r[1] for r in cpu_runs + wall_runs]
    cpu_med, wall_med = float(np.median(cpu_all)), float(np.median(wall_all))
    stages = list(cpu_runs[0][3])
    return {
        "samples": int(rec.n_samples),
        "duration_s": round(rec.duration_s, 1),
        "running_steps": int(res.summary.n_steps),
        "walking_steps": int(res.summary.n_walking_steps),
        "generation_s": round(gen_s, 2),
        "repeats": repeats,
        "analyze_cpu_s_median": round(cpu_med, 3),
        "analyze_cpu_s_all": [round(c, 3) for c in cpu_all],
        "analyze_wall_s_median": round(wall_med, 3),
        "analyze_wall_s_all": [round(w, 3) for w in wall_all],
        "realtime_factor_cpu": round(rec.duration_s / cpu_med),
        "realtime_factor_wall": round(rec.duration_s / wall_med),
        "stages_cpu_s_median": {k: _median([r[3][k] for r in cpu_runs], 4) for k in stages},
        "stages_wall_s_median": {k: _median([r[3][k] for r in wall_runs], 4) for k in stages},
        "accelerometer_only_cpu_s_median": _median([r[2] for r in acc_runs]),
        "accelerometer_only_wall_s_median": _median([r[1] for r in acc_runs]),
        "goal_s": 1.0,
        "goal_met": cpu_med <= 1.0,
        "raw_bytes": int(raw_bytes),
        "peak_traced_bytes": int(peak),
        "peak_over_raw": round(peak / raw_bytes, 2),
        "memory_goal_met": peak <= 10 * raw_bytes,
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "cpu_count": os.cpu_count(),
        "threads_env": _threads(),
        "cpu": platform.processor() or platform.machine(),
        "peers": (p := peers(m)),
        "speedup_vs_peers": {
            name: {"wall": round(p[name]["wall_s"] / wall_med, 1),
                   "cpu": round(p[name]["cpu_s"] / cpu_med, 1)}
            for name in ("skdh", "gaitpy") if "wall_s" in p.get(name, {})},
        "imurun_median_contact_s": round(float(res.summary.contact_ms) / 1e3, 3),
    }


# ---------------------------------------------------------------------------- peers
def peers(m: Motion | None = None) -> dict[str, Any]:
    """scikit-digital-health and GaitPy on the same hour.

    In this process when they are importable; otherwise in ``IMURUN_BENCH_PYTHON`` (the
    benchmark environment ``make bench`` builds, ``.venv-bench``: the peers pin older
    libraries), which gets the very same arrays through a temporary ``.npz``.
    """
    if m is None:
        m = _hour()
    acc_g = m.mounting.bf_from_sf(m.acc_ms2) / 9.80665
    gyr = m.mounting.bf_from_sf(m.gyr_rads)
    t_unix = 1.7e9 + m.t_s
    tr = m.truth
    run = tr.activity == "run"
    out: dict[str, Any] = {"truth": {"steps": int(tr.n_steps), "running_steps": int(run.sum()),
                                     "median_contact_s": round(float(np.median(tr.contact_s[run])),
                                                               3)}}
    python = os.environ.get("IMURUN_BENCH_PYTHON")
    if python and not (_importable("skdh") and _importable("gaitpy")):
        out.update(_peers_subprocess(python, t_unix, acc_g, gyr, m.fs_hz))
        return out
    out["skdh"] = _skdh(t_unix, acc_g, gyr, m.fs_hz)
    out["gaitpy"] = _gaitpy(t_unix, acc_g, m.fs_hz)
    return out


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _peers_subprocess(python: str, t_unix: np.ndarray, acc_g: np.ndarray, gyr: np.ndarray,
                      fs: float) -> dict[str, Any]:
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.json"
        np.savez(src, t_unix=t_unix, acc_g=acc_g, gyr=gyr, fs=fs)
        proc = subprocess.run([python, "-m", "benchmarks.signal", "--peers", str(src), str(dst)],
                              cwd=root, capture_output=True, text=True, timeout=1800,
                              check=False)
        if proc.returncode != 0 or not dst.exists():
            why = f"peer subprocess ({python}) failed: {proc.stderr.strip()[-400:]}"
            return {"skdh": {"skipped": why}, "gaitpy": {"skipped": why}}
        res: dict[str, Any] = json.loads(dst.read_text())
    for name in ("skdh", "gaitpy"):
        if isinstance(res.get(name), dict):
            res[name]["where"] = f"subprocess {python}"
    return res


def _peers_main(src: str, dst: str) -> None:
    """Entry point of the peer subprocess: time both peers on the arrays in ``src``."""
    import json
    from pathlib import Path

    d = np.load(src)
    fs = float(d["fs"])
    res = {"skdh": _skdh(d["t_unix"], d["acc_g"], d["gyr"], fs),
           "gaitpy": _gaitpy(d["t_unix"], d["acc_g"], fs),
           "numpy": np.__version__}
    Path(dst).write_text(json.dumps(res))


def _skdh(t_unix: np.ndarray, acc_g: np.ndarray, gyr: np.ndarray, fs: float) -> dict[str, Any]:
    try:
        import skdh
    except ImportError as e:
        return {"skipped": f"scikit-digital-health not installed ({e}); pip install "
                           "'imurun[bench]' or see PEERS.md"}
    try:
        # skdh expects the sensor's own axes: x vertical (as its lumbar devices are worn)
        acc_sk = np.ascontiguousarray(acc_g[:, [2, 1, 0]])
        t0, c0 = time.perf_counter(), time.process_time()
        gait = skdh.gait.GaitLumbar()
        res = gait.predict(time=t_unix, accel=acc_sk, fs=fs, height=1.75)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stance = np.asarray(res.get("stance time", []), dtype=np.float64)
        return {"version": getattr(skdh, "__version__", "?"), "wall_s": round(wall, 2),
                "cpu_s": round(cpu, 2),
                "initial_contacts": int(np.size(res.get("IC Timestamp", []))),
                "median_stance_s": round(float(np.nanmedian(stance)), 3) if stance.size
                else None}
    except Exception as e:  # noqa: BLE001 - a peer failing is a result, not a crash
        return {"error": f"{type(e).__name__}: {e}"}


def _gaitpy_shims() -> None:
    """Make GaitPy 1.6.1 (2020) run on current pandas, without changing its maths.

    ``scipy.integrate.cumtrapz`` is the renamed ``cumulative_trapezoid``; ``DataFrame.append``
    (removed in pandas 2) becomes ``pandas.concat``; its 50 Hz resampling
    used ``Resampler.fillna("nearest")`` (removed) and converted a millisecond-resolution index
    to integers as if it were in nanoseconds (pandas 2 keeps the resolution: timestamps would
    be divided by 10^6 once too often); the replacement does the same nearest-sample resampling
    on a nanosecond index.
    """
    import gaitpy.util as gu
    import pandas as pd
    import scipy.integrate

    if not hasattr(scipy.integrate, "cumtrapz"):  # renamed in SciPy 1.6, removed in 1.14
        scipy.integrate.cumtrapz = scipy.integrate.cumulative_trapezoid
    if not hasattr(pd.DataFrame, "append"):
        def append(self: Any, other: Any, ignore_index: bool = False, **_: Any) -> Any:
            return pd.concat([self, other], ignore_index=ignore_index)

        pd.DataFrame.append = append

    def resample(y_accel: Any, timestamps: Any, new_fs: str) -> tuple[Any, Any]:
        ts = pd.DatetimeIndex(np.asarray(timestamps).astype("datetime64[ms]")).as_unit("ns")
        data = pd.DataFrame({"y": np.asarray(y_accel)}, index=ts)
        out = pd.DataFrame(data["y"].resample(new_fs).nearest())
        idx = out.index.as_unit("ns")
        out.reset_index(drop=True, inplace=True)
        return out, idx

    gu._resample_data = resample


def _gaitpy(t_unix: np.ndarray, acc_g: np.ndarray, fs: float) -> dict[str, Any]:
    try:
        import pandas as pd
        from gaitpy.gait import Gaitpy
    except ImportError as e:
        return {"skipped": f"GaitPy not installed ({e}); it pins pandas 0.20 / numpy 1.13 and "
                           "installs only with --no-deps (PEERS.md)"}
    try:
        _gaitpy_shims()
        # GaitPy wants the vertical axis pointing down (negative mean), in g, time in ms
        df = pd.DataFrame({"timestamps": np.round(t_unix * 1e3).astype(np.int64),
                           "y": -acc_g[:, 2]})
        t0, c0 = time.perf_counter(), time.process_time()
        gp = Gaitpy(df, fs, v_acc_col_name="y", ts_col_name="timestamps", v_acc_units="g",
                    ts_units="ms", flip=False)
        feats = gp.extract_features(subject_height=175, subject_height_units="centimeters",
                                    sensor_height_ratio=0.53)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        n = None if feats is None else int(len(feats))
        return {"version": "1.6.1 (with the shims in benchmarks/signal.py)",
                "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "gait_cycles": n,
                "note": "whole recording passed as one gait bout (its classifier does not load "
                        "in current scikit-learn)"}
    except Exception as e:  # noqa: BLE001 - a peer failing is a result, not a crash
        return {"error": f"{type(e).__name__}: {e}"}


if __name__ == "__main__":
    import json
    import sys
    from pathlib import Path

    if len(sys.argv) == 4 and sys.argv[1] == "--peers":
        _peers_main(sys.argv[2], sys.argv[3])
        sys.exit(0)
    result = run()
    text = json.dumps(result, indent=2)
    print(text)
    if "--save" in sys.argv:  # e.g. from a venv with the peers installed (PEERS.md)
        out = Path(__file__).parent / "results" / "signal.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
        print(f"saved to {out}")
