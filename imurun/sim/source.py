"""Motion for the virtual sensor: generate, quantise to counts, and keep the truth beside it.

Truth files (``<tag>.npz``, NumPy compressed) hold the exact per-step events and metrics, the
pelvis-angle series, the activity labels, the counts the sensor produced (so a test can compare
what arrived with what was sent) and a JSON description of the profile, script and mounting.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from imurun.sim.firmware import MotionSource, SensorConfig, to_counts
from imurun.sim.motion import Motion, Mounting, NoiseModel, RunnerProfile, generate, script_default

_STEP_FIELDS = ("ic_s", "to_s", "side", "contact_s", "flight_s", "step_s", "step_length_m",
                "vertical_oscillation_m", "braking_mps", "impact_g", "pelvic_tilt_range_deg",
                "pelvic_drop_deg", "pelvic_rotation_range_deg")
_SERIES = ("tilt_deg", "obliquity_deg", "rotation_deg", "heading_deg", "speed_mps", "height_m")


def save_truth(path: Path, motion: Motion, counts: npt.NDArray[np.int16], **extra: Any) -> None:
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


def load_truth(path: str | Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as z:
        out: dict[str, Any] = {k: z[k] for k in z.files}
    out["meta"] = json.loads(str(out.pop("meta_json")))
    return out


def motion_source(seed: int, cfg: SensorConfig, truth_dir: Path, *,
                  profile: RunnerProfile | None = None, mounting: str = "upright",
                  noise: NoiseModel | None = None) -> MotionSource:
    """A :data:`MotionSource` drawing run ``k`` from ``default_rng([seed, k])``.

    ``mounting`` is "upright", "upside_down" or "random" (a new random mounting per run).
    """
    counter = itertools.count()

    def make(seconds: float, tag: str) -> npt.NDArray[np.int16]:
        k = next(counter)
        rng = np.random.default_rng([seed, k])
        m_rng = np.random.default_rng([seed, k, 1])
        mount = {"upright": Mounting.upright, "upside_down": Mounting.upside_down}.get(mounting)
        mnt = mount() if mount is not None else Mounting.random(m_rng)
        script = script_default(max(seconds / 60.0, 1.0), rng)
        motion = generate(script, profile, float(cfg.sample_rate_hz), mounting=mnt,
                          noise=noise, rng=rng)
        counts = to_counts(motion.acc_ms2, motion.gyr_rads, cfg)[: int(round(seconds * cfg.sample_rate_hz))]
        save_truth(truth_dir / f"{tag}.npz", motion, counts, seed=seed, index=k, tag=tag)
        return counts

    return make
