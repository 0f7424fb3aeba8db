"""Motion for the virtual sensor: generate, quantise to counts, and keep the truth beside it.

Truth files (``<tag>.npz``, NumPy compressed) hold the exact per-step events and metrics, the
pelvis-angle series, the activity labels, the counts the sensor produced (so a test can compare
what arrived with what was sent) and a JSON description of the profile, script and mounting.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imurun.sim.firmware import SensorConfig, to_counts
from imurun.sim.motion import (
    Motion,
    MotionPlan,
    Mounting,
    NoiseModel,
    RunnerProfile,
    plan_motion,
    script_default,
)

_STEP_FIELDS = ("ic_s", "to_s", "side", "contact_s", "flight_s", "step_s", "step_length_m",
                "vertical_oscillation_m", "braking_mps", "impact_g", "pelvic_tilt_range_deg",
                "pelvic_drop_deg", "pelvic_rotation_range_deg")
_SERIES = ("tilt_deg", "obliquity_deg", "rotation_deg", "heading_deg", "speed_mps", "height_m")


def save_truth(path: str | os.PathLike[str], motion: Motion, counts: npt.NDArray[np.int16],
               **extra: Any) -> None:
    """Write the ground truth of ``motion``'s first ``len(counts)`` samples to ``path`` (``.npz``).

    Written atomically (a temporary file, then renamed); :func:`load_truth` reads it back.
    """
    path = Path(path)
    tr = motion.truth
    n = len(counts)
    arrays: dict[str, npt.NDArray[Any]] = {f: np.asarray(getattr(tr, f)) for f in _STEP_FIELDS}
    keep = tr.ic_s < n / motion.fs_hz
    arrays = {k: v[keep] for k, v in arrays.items()}
    arrays["step_activity"] = np.asarray(tr.activity)[keep].astype("U4")
    for f in _SERIES:
        arrays[f] = np.asarray(getattr(tr, f))[:n]
    arrays["activity_labels"] = np.asarray(tr.activity_labels)[:n].astype("U5")
    arrays["counts"] = counts
    arrays["r_sb"] = motion.mounting.r_sb
    meta = {
        "fs_hz": motion.fs_hz,
        "profile": dataclasses.asdict(tr.profile),
        "script": [dataclasses.asdict(p) for p in tr.script],
        "mounting": motion.mounting.label,
        "generator_version": motion.version,
        **extra,
    }
    arrays["meta_json"] = np.asarray(json.dumps(meta, sort_keys=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, allow_pickle=False, **arrays)
    tmp.replace(path)


def load_truth(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The arrays of a truth file of :func:`save_truth`, and its ``"meta"`` as plain data."""
    with np.load(path, allow_pickle=False) as z:
        out: dict[str, Any] = {k: z[k] for k in z.files}
    out["meta"] = json.loads(str(out.pop("meta_json")))
    return out


class SeededSource:
    """A :data:`MotionSource` drawing run ``k`` from ``default_rng([seed, k])``.

    Called, it generates a whole run at once (a recorded run). :meth:`stream` hands out the
    next run piece by piece instead, for a live stream: the same samples, bit for bit, without
    making the first ones wait for the last (:class:`LazyStream`).
    """

    def __init__(self, seed: int, cfg: SensorConfig, truth_dir: str | os.PathLike[str], *,
                 profile: RunnerProfile | None = None, mounting: str = "upright",
                 noise: NoiseModel | None = None) -> None:
        self.seed = seed
        self.cfg = cfg
        self.truth_dir = Path(truth_dir)
        self.profile = profile
        self.mounting = mounting
        self.noise = noise
        self._counter = itertools.count()

    def _plan(self, seconds: float) -> tuple[int, MotionPlan]:
        k = next(self._counter)
        rng = np.random.default_rng([self.seed, k])
        m_rng = np.random.default_rng([self.seed, k, 1])
        mount = {"upright": Mounting.upright, "upside_down": Mounting.upside_down}.get(self.mounting)
        mnt = mount() if mount is not None else Mounting.random(m_rng)
        script = script_default(max(seconds / 60.0, 1.0), rng)
        return k, plan_motion(script, self.profile, float(self.cfg.sample_rate_hz), mounting=mnt,
                              noise=self.noise, rng=rng)

    def _n(self, seconds: float) -> int:
        return int(round(seconds * self.cfg.sample_rate_hz))

    def _save(self, plan: MotionPlan, seconds: float, tag: str, k: int) -> npt.NDArray[np.int16]:
        motion = plan.motion()
        counts = to_counts(motion.acc_ms2, motion.gyr_rads, self.cfg)[: self._n(seconds)]
        save_truth(self.truth_dir / f"{tag}.npz", motion, counts, seed=self.seed, index=k, tag=tag)
        return counts

    def __call__(self, seconds: float, tag: str) -> npt.NDArray[np.int16]:
        k, plan = self._plan(seconds)
        return self._save(plan, seconds, tag, k)

    def stream(self, seconds: float, tag: str) -> LazyStream:
        """The next run as a live stream: samples on demand, the truth file written aside."""
        k, plan = self._plan(seconds)
        return LazyStream(plan, self.cfg, min(self._n(seconds), plan.n),
                          lambda: self._save(plan, seconds, tag, k))


class LazyStream:
    """A live stream's samples, evaluated piece by piece as they are asked for.

    Pieces are ``chunk_samples`` long and evaluated from the run's :class:`MotionPlan`, so
    asking for samples costs time proportional to them, not to the stream's length. The truth
    file (which needs the whole run) is written by a background thread started here;
    :meth:`wait` returns once it is on disk.
    """

    def __init__(self, plan: MotionPlan, cfg: SensorConfig, n: int,
                 write_truth: Callable[[], object], chunk_samples: int = 2000) -> None:
        self.plan = plan
        self.cfg = cfg
        self.n = n
        self.chunk_samples = chunk_samples
        self._cached: tuple[int, npt.NDArray[np.int16]] | None = None
        self._error: BaseException | None = None

        def truth() -> None:
            try:
                write_truth()
            except BaseException as e:  # noqa: BLE001 - handed to whoever waits for it
                self._error = e

        # not a daemon: a simulator that exits still leaves the truth of its last stream
        self._thread = threading.Thread(target=truth, name="imurun-sim-truth")
        self._thread.start()

    def __len__(self) -> int:
        return self.n

    def _chunk(self, i: int) -> npt.NDArray[np.int16]:
        if self._cached is None or self._cached[0] != i:
            a = i * self.chunk_samples
            acc, gyr = self.plan.signals(a, min(a + self.chunk_samples, self.n))
            self._cached = (i, to_counts(acc, gyr, self.cfg))
        return self._cached[1]

    def counts(self, a: int, b: int) -> npt.NDArray[np.int16]:
        """Counts of samples ``a..b`` (clipped to the stream), as the whole run would give them."""
        a, b = max(a, 0), min(b, self.n)
        if b <= a:
            return np.zeros((0, 6), dtype=np.int16)
        c = self.chunk_samples
        parts = [self._chunk(i)[max(a - i * c, 0):b - i * c] for i in range(a // c, (b - 1) // c + 1)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def steps(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                             npt.NDArray[np.float64]]:
        """Initial contact, step duration (s) and step length (m) of every step of the run.

        Known from the plan: the truth file holds the same values (those that start in the
        stream).
        """
        return self.plan.plan.ic, self.plan.plan.step, self.plan.params.length

    def track(self, a: int, b: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.str_]]:
        """Speed (m/s) and activity label of samples ``a..b``, as the truth file will hold them."""
        return self.plan.track(a, min(b, self.n))

    def wait(self, timeout_s: float | None = None) -> None:
        """Return once the truth file is written (raise what writing it raised)."""
        self._thread.join(timeout_s)
        if self._error is not None:
            raise self._error


def motion_source(seed: int, cfg: SensorConfig, truth_dir: Path, *,
                  profile: RunnerProfile | None = None, mounting: str = "upright",
                  noise: NoiseModel | None = None) -> SeededSource:
    """A :data:`MotionSource` drawing run ``k`` from ``default_rng([seed, k])``.

    ``mounting`` is "upright", "upside_down" or "random" (a new random mounting per run).
    """
    return SeededSource(seed, cfg, truth_dir, profile=profile, mounting=mounting, noise=noise)
