"""Wire-format benchmarks on a realistic one-hour, 200 Hz run from the virtual sensor.

* Stored-run size: bytes per 6-axis sample of the packed format (goal <= 6, raw samples are 12),
  and the worst case (full-range white noise, where blocks fall back to raw).
* Stored-run decode throughput of :func:`firmware_protocol.runfile.read_run` (vectorised) beside
  a straightforward per-sample decoder of the same bytes (``struct`` for headers and samples, a
  Python loop per value for the bit unpacking), measured in the same process, in alternation
  (CPU time, best of 5 each). The baseline is timed on the first 10 minutes of the file and
  both are reported in MB/s of file bytes.
* Live stream: decoding one hour of COBS-framed SAMPLE_BATCH frames with ``StreamDecoder``, and
  the sample payloads alone with ``numpy.frombuffer`` vs ``struct.unpack_from`` per sample.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import numpy as np

from firmware_protocol.codec import Encoder, StreamDecoder
from firmware_protocol.messages import SampleBatch
from firmware_protocol.runfile import (
    BLOCK_HEAD,
    PACKED_HEAD,
    SAMPLE_HEAD,
    SUB,
    SYNC,
    BlockType,
    RunHeader,
    RunWriter,
    read_run,
)
from imurun.sim.firmware import SensorConfig
from imurun.sim.source import motion_source

FS = 200
HOUR_S = 3600.0


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def interleaved_best(fns: list[Callable[[], object]], repeat: int) -> list[float]:
    """Best CPU time of each of ``fns``, timed in alternation (one call of each per round).

    A ratio of two such times is what it is for the code, not for when each happened to run:
    timed one after the other (best of 5, then best of 3), this machine's slower minutes fell on
    one side and the stored-run decode ratio read anywhere from 39x to 60x within minutes.
    """
    best = [math.inf] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            t0 = time.process_time()
            fn()
            best[i] = min(best[i], time.process_time() - t0)
    return best


def baseline_decode_run(data: bytes) -> list[tuple[int, ...]]:
    """A straightforward decoder: walk blocks with struct, extract every value with a shift."""
    pos = struct.unpack_from("<H", data, 6)[0]
    out: list[tuple[int, ...]] = []
    while pos + BLOCK_HEAD.size <= len(data):
        sync, btype, _flags, length, _crc = BLOCK_HEAD.unpack_from(data, pos)
        if sync != SYNC:
            break
        p = pos + BLOCK_HEAD.size
        if btype == BlockType.SAMPLES_RAW:
            _i, _t, n = SAMPLE_HEAD.unpack_from(data, p)
            for k in range(n):
                out.append(struct.unpack_from("<6h", data, p + SAMPLE_HEAD.size + 12 * k))
        elif btype == BlockType.SAMPLES_PACKED:
            _i, _t, n, *first, orders = PACKED_HEAD.unpack_from(data, p)
            n_sub = -(-(n - 1) // SUB)
            wpos = p + PACKED_HEAD.size
            widths = data[wpos:wpos + 6 * n_sub]
            bitpos = (wpos + 6 * n_sub) * 8
            chans = []
            for c in range(6):
                res = []
                for s in range(n_sub):
                    w = widths[c * n_sub + s]
                    mask = (1 << w) - 1
                    for _j in range(SUB):
                        q = bitpos >> 3
                        v = (int.from_bytes(data[q:q + 3], "little") >> (bitpos & 7)) & mask
                        bitpos += w
                        res.append((v >> 1) ^ -(v & 1))
                res = res[: n - 1]
                if orders >> c & 1:
                    acc = 0
                    for j in range(len(res)):
                        acc = (acc + res[j] + 32768) % 65536 - 32768
                        res[j] = acc
                x = [first[c]]
                for d in res:
                    x.append((x[-1] + d + 32768) % 65536 - 32768)
                chans.append(x)
            out.extend(zip(*chans, strict=True))
        pos = p + length
    return out


def one_hour_counts(tmp: Path) -> np.ndarray:
    src = motion_source(2026, SensorConfig(), tmp / "truth")
    return src(HOUR_S, "bench-hour")


def run(counts: np.ndarray | None = None) -> dict[str, Any]:
    with TemporaryDirectory() as d:
        t0 = time.perf_counter()
        if counts is None:
            counts = one_hour_counts(Path(d))
        gen_s = time.perf_counter() - t0
    cfg = SensorConfig()
    header = RunHeader(cfg.device_id, 1, 1, FS, 0, 0, cfg.acc_range_g, cfg.gyr_range_dps,
                       cfg.acc_lsb_ms2, cfg.gyr_lsb_rads)
    t0 = time.perf_counter()
    w = RunWriter(header)
    blob = w.start() + w.samples(counts, 0) + w.end()
    enc_s = time.perf_counter() - t0
    n = len(counts)
    rng = np.random.default_rng(0)
    noise = rng.integers(-32768, 32768, size=(FS * 60, 6)).astype(np.int16)
    wn = RunWriter(header)
    worst = wn.start() + wn.samples(noise, 0) + wn.end()

    decoded = read_run(blob)
    assert np.array_equal(decoded.counts, counts), "vectorised decode is not lossless"
    # Baseline on the first 10 minutes of the same encoding (blocks are independent).
    ten = FS * 600
    w10 = RunWriter(header)
    blob10 = w10.start() + w10.samples(counts[:ten], 0) + w10.end()
    assert np.array_equal(np.asarray(baseline_decode_run(blob10), np.int16), counts[:ten])
    # CPU time, the two decoders in alternation: the ratio compares like with like
    dec_s, base_s = interleaved_best([lambda: read_run(blob), lambda: baseline_decode_run(blob10)],
                                     repeat=5)
    vec_mbps = len(blob) / dec_s / 1e6
    base_mbps = len(blob10) / base_s / 1e6

    # Live stream of 10-sample batches, one hour.
    enc = Encoder(boot_id=1)
    frames = b"".join(enc.stream_bytes(SampleBatch(k * 50_000, k * 10, counts[k * 10:k * 10 + 10]))
                      for k in range(n // 10))
    stream_s = best_of(lambda: StreamDecoder().feed(frames), repeat=1)
    payload = counts.tobytes()
    # a decoded copy (np.frombuffer alone is a zero-copy view and takes no measurable time)
    np_s = best_of(lambda: np.frombuffer(payload, "<i2").reshape(-1, 6).copy())
    st_s = best_of(lambda: [struct.unpack_from("<6h", payload, 12 * i) for i in range(n)], repeat=1)
    return {
        "signal": "virtual sensor, seed 2026, one hour at 200 Hz (720,000 six-axis samples)",
        "generation_s": round(gen_s, 3),
        "stored_run": {
            "bytes": len(blob),
            "bytes_per_sample": round(len(blob) / n, 3),
            "goal_bytes_per_sample": 6.0,
            "raw_bytes_per_sample": 12.0,
            "compression_ratio_vs_raw": round(12 * n / len(blob), 3),
            "worst_case_bytes_per_sample": round(len(worst) / len(noise), 3),
            "encode_s": round(enc_s, 3),
        },
        "stored_run_decode": {
            "vectorised_s": round(dec_s, 4),
            "vectorised_MBps": round(vec_mbps, 2),
            "vectorised_samples_per_s": round(n / dec_s),
            "baseline_per_sample_MBps": round(base_mbps, 4),
            "baseline_measured_on": "first 10 minutes of the same run",
            "timing": "CPU time, best of 5, the two decoders in alternation",
            "speedup": round(vec_mbps / base_mbps, 1),
            "goal_speedup": 50,
        },
        "live_stream_decode": {
            "bytes": len(frames),
            "stream_decoder_s": round(stream_s, 3),
            "stream_decoder_MBps": round(len(frames) / stream_s / 1e6, 2),
            "realtime_factor": round(HOUR_S / stream_s),
            "payload_numpy_s": round(np_s, 5),
            "payload_struct_per_sample_s": round(st_s, 3),
            "payload_speedup": round(st_s / np_s, 1),
        },
    }
