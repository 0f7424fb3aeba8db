"""A plain description of a :class:`Recording` (what ``imurun info`` prints)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import numpy as np

from imurun.ingest.recording import Recording


def describe(rec: Recording) -> dict[str, Any]:
    m, s = rec.meta, rec.stats
    causes = Counter(str(g.cause) for g in rec.gaps)
    gap_s = sum(g.duration_s for g in rec.gaps)
    start = (dt.datetime.fromtimestamp(m.start_unix_s, dt.UTC).isoformat(timespec="seconds")
             if m.start_unix_s and m.start_unix_s > 1e9 else None)
    acc_norm = np.linalg.norm(rec.acc_ms2, axis=1) if rec.n_samples else np.zeros(0)
    d: dict[str, Any] = {
        "source": m.source, "format": m.source_format, "device_id": m.device_id,
        "firmware": m.firmware_version, "start_utc": start, "samples": rec.n_samples,
        "sample_rate_hz": round(rec.fs_hz, 4), "duration_s": round(rec.duration_s, 3),
        "gyroscope": rec.has_gyro, "segments": len(rec.segments),
        "gaps": {k: v for k, v in sorted(causes.items())}, "gap_s": round(gap_s, 3),
        "samples_missing": s.samples_missing, "frames_ok": s.frames_ok,
        "frames_corrupt": s.frames_corrupt, "frames_lost": s.frames_lost,
        "blocks_damaged": s.blocks_damaged, "reboots": s.reboots,
        "disconnects": s.disconnects, "notes": list(m.notes),
        "acc_norm_median_ms2": round(float(np.median(acc_norm)), 3) if acc_norm.size else None,
    }
    lines = [
        f"{m.source} ({m.source_format})",
        f"  device      {m.device_id or 'unknown'}" + (f", firmware {m.firmware_version}" if m.firmware_version else ""),
        f"  start       {start or 'unknown'}",
        f"  samples     {rec.n_samples} at {rec.fs_hz:.3f} Hz, {rec.duration_s:.1f} s, "
        + ("accelerometer + gyroscope" if rec.has_gyro else "accelerometer only"),
        f"  gaps        {len(rec.gaps)} ({gap_s:.2f} s"
        + (f", {s.samples_missing} samples missing)" if s.samples_missing else ")")
        + (": " + ", ".join(f"{v} {k}" for k, v in sorted(causes.items())) if causes else ""),
    ]
    if s.frames_ok or s.frames_corrupt or s.frames_lost:
        lines.append(f"  link        {s.frames_ok} frames ok, {s.frames_corrupt} corrupt, "
                     f"{s.frames_lost} missing from the sequence, {s.reboots} reboots, {s.disconnects} disconnects")
    if s.blocks_ok or s.blocks_damaged:
        lines.append(f"  blocks      {s.blocks_ok} ok, {s.blocks_damaged} damaged")
    lines += [f"  note        {n}" for n in m.notes]
    d["lines"] = lines
    return d
