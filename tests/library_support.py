"""Small real inputs for library tests: stored-run files and ``imurun.analysis/1`` results."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_protocol.messages import Event, EventCode
from firmware_protocol.runfile import RunHeader, RunWriter
from imurun.sim.firmware import SensorConfig, to_counts

if TYPE_CHECKING:
    from imurun.store.library import Library, RunRecord

DEVICE_A = 0x1D0C_5E75_0000_00A1
DEVICE_B = 0x1D0C_5E75_0000_00B2
T0_MS = 1_795_158_000_000  # 2026-11-20T07:00:00Z
#: the bundled stored run (60 s, sensor 1d0c5e7500000001)
STORED_RUN = Path(__file__).resolve().parents[1] / "recordings" / "stored-run.imrn"


def import_stored_run(lib: Library) -> RunRecord:
    """Ana (58 kg) with the bundled stored run's sensor, and that run imported and analysed."""
    from imurun.workflows import import_path

    lib.add_athlete("Ana", mass_kg=58)
    lib.bind_sensor("1d0c5e7500000001", "Ana")
    import_path(lib, STORED_RUN)
    return lib.run("latest")


def run_bytes(device_id: int = DEVICE_A, run_id: int = 1, start_unix_ms: int = T0_MS,
              seconds: float = 20.0, seed: int = 0) -> bytes:
    """A stored run as the firmware writes it: header, time anchor, events, samples, END."""
    cfg = SensorConfig(device_id=device_id)
    fs = cfg.sample_rate_hz
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    acc = np.zeros((n, 3))
    acc[:, 2] = 9.81 + 6.0 * np.sin(2 * np.pi * 2.8 * t)
    acc += rng.normal(0, 0.2, (n, 3))
    gyr = rng.normal(0, 0.05, (n, 3))
    counts = to_counts(acc, gyr, cfg)
    h = RunHeader(device_id, run_id, 1, fs, start_unix_ms, 1_000_000, cfg.acc_range_g,
                  cfg.gyr_range_dps, cfg.acc_lsb_ms2, cfg.gyr_lsb_rads)
    w = RunWriter(h)
    t_end = 1_000_000 + int(n * 1e6 / fs)
    return b"".join([w.start(), w.time_anchor(1_000_000, start_unix_ms),
                     w.event(Event(EventCode.RECORDING_STARTED, 1_000_000, run_id)),
                     w.samples(counts, 1_000_000),
                     w.event(Event(EventCode.RECORDING_STOPPED, t_end, run_id)), w.end()])


def write_run(directory: Path, device_id: int = DEVICE_A, run_id: int = 1, **kw: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / f"run-{device_id:x}-{run_id}.imrn"
    p.write_bytes(run_bytes(device_id, run_id, **kw))
    return p


def analysis_json(n_steps: int = 40, seed: int = 0, cadence_spm: float = 172.0) -> dict[str, Any]:
    """An ``imurun.analysis/1`` result with plausible, seed-dependent values."""
    rng = np.random.default_rng(seed)
    step_s = 60.0 / cadence_spm
    steps: list[dict[str, Any]] = []
    for i in range(n_steps):
        contact = 0.24 + rng.normal(0, 0.01)
        steps.append({
            "ic_s": round(1.0 + i * step_s, 4), "to_s": round(1.0 + i * step_s + contact, 4),
            "side": "L" if i % 2 == 0 else "R", "activity": "run",
            "contact_s": round(contact, 4), "flight_s": round(step_s - contact, 4),
            "step_s": round(step_s, 4),
            "vertical_oscillation_m": round(0.08 + rng.normal(0, 0.003), 4),
            "braking_mps": round(0.3 + rng.normal(0, 0.02), 3),
            "impact_g": round(2.5 + rng.normal(0, 0.1), 3),
            "pelvic_tilt_range_deg": round(6.0 + rng.normal(0, 0.3), 2),
            "pelvic_drop_deg": round(4.0 + (0.8 if i % 2 else 0.0) + rng.normal(0, 0.2), 2),
            "pelvic_rotation_range_deg": round(9.0 + rng.normal(0, 0.4), 2),
        })
    steps.append({**steps[-1], "ic_s": steps[-1]["ic_s"] + step_s, "side": None,
                  "activity": "walk", "pelvic_drop_deg": None})
    summary = {
        "n_steps": n_steps, "running_s": round(n_steps * step_s, 2), "cadence_spm": cadence_spm,
        "contact_ms": 240.0, "flight_ms": round(step_s * 1000 - 240.0, 1),
        "contact_balance_left_pct": 50.4, "vertical_oscillation_cm": 8.0, "braking_mps": 0.3,
        "impact_g": 2.5, "pelvic_tilt_range_deg": 6.0, "pelvic_drop_stance_left_deg": 4.8,
        "pelvic_drop_stance_right_deg": 4.0, "pelvic_rotation_range_deg": 9.0,
        "extra_metric_from_the_future": 1.5,
    }
    return {"schema": "imurun.analysis/1", "imurun_version": "0.1.0", "params": {},
            "steps": steps, "summary": summary}


def flip_sample_bit(data: bytes) -> bytes:
    """``data`` with one bit flipped in a sample block: the size stays, its block CRC fails."""
    b = bytearray(data)
    b[len(b) // 2] ^= 0x10
    return bytes(b)


def damaged_copy(src: Path, dest: Path) -> Path:
    """Write ``src``'s bytes with :func:`flip_sample_bit` to the new file ``dest``; return it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(flip_sample_bit(src.read_bytes()))
    return dest
