"""Golden vectors of the imurun wire protocol (SPEC.md), generated from the Python codec.

``python -m firmware_protocol.vectors.generate`` rewrites ``v1/*.json``;
``python -m firmware_protocol.vectors.generate --check`` exits 1 if a committed file differs.

Generation is deterministic (one seeded ``numpy.random.default_rng`` per file, no clock, no
environment), so regenerating reproduces the committed files byte for byte and a diff in review
means the wire format changed. Every value is produced by ``firmware_protocol`` itself; the C
reference (``firmware_protocol/c``) and any other implementation must reproduce the bytes, and
decoders the stated outcomes. The files and their fields are described in ``README.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import struct
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from firmware_protocol import messages as m
from firmware_protocol.codec import (
    Dropped,
    Encoder,
    Lost,
    PacketDecoder,
    ParseEvent,
    Rebooted,
    Received,
    StreamDecoder,
)
from firmware_protocol.crc import crc16_ccitt_false, crc32
from firmware_protocol.errors import RunFormatError
from firmware_protocol.frame import Frame, FrameFlags, cobs_encode
from firmware_protocol.runfile import (
    MAX_BLOCK_SAMPLES,
    SYNC,
    BlockType,
    RunHeader,
    RunWriter,
    encode_block,
    encode_samples_block,
    encode_samples_packed,
    read_run,
)

PROTOCOL_VERSION: Final = 1
HERE: Final = Path(__file__).resolve().parent
OUT_DIR: Final = HERE / f"v{PROTOCOL_VERSION}"
GENERATOR: Final = "firmware_protocol/vectors/generate.py"

Json = dict[str, Any]

#: The twelve host -> sensor request types (everything else is sensor -> host).
REQUEST_TYPES: Final = frozenset({
    m.MessageType.DEVICE_INFO_REQUEST, m.MessageType.TIME_SYNC_REQUEST,
    m.MessageType.STATUS_REQUEST, m.MessageType.CATALOGUE_REQUEST, m.MessageType.RUN_READ,
    m.MessageType.RUN_ERASE, m.MessageType.CONFIG_GET, m.MessageType.CONFIG_SET,
    m.MessageType.STREAM_START, m.MessageType.STREAM_STOP, m.MessageType.RECORD_START,
    m.MessageType.RECORD_STOP,
})


# --------------------------------------------------------------------------- shared helpers
def counts_hex(counts: npt.ArrayLike) -> str:
    """``(n, 6)`` int16 counts as little-endian bytes in hex (row-major: acc xyz, gyr xyz)."""
    return np.ascontiguousarray(counts, dtype="<i2").tobytes().hex()


def counts_from_hex(text: str) -> npt.NDArray[np.int16]:
    """Inverse of :func:`counts_hex`."""
    return np.frombuffer(bytes.fromhex(text), dtype="<i2").reshape(-1, m.SAMPLE_CHANNELS).astype(np.int16)


def drop_kind(reason: str) -> str:
    """Short, stable class of a decoder's ``Dropped.reason`` (the wording may change, not this)."""
    if reason.startswith("type 0x"):
        return "malformed"
    for needle, kind in (("shorter than the", "short"), ("declared payload length", "too_long"),
                         ("but its header declares", "length"), ("CRC mismatch", "crc"),
                         ("version 0", "version"), ("invalid COBS", "cobs"),
                         ("no delimiter within", "overflow"),
                         ("reassembled message exceeds", "too_large")):
        if needle in reason:
            return kind
    raise ValueError(f"unclassified drop reason: {reason!r}")


def damage_kind(reason: str) -> str:
    """Short, stable class of a stored-run ``DamagedRegion.reason``."""
    if reason.startswith("block type 0x"):
        return "payload"
    for needle, kind in (("outside any valid block", "outside"),
                         ("truncated block header", "truncated_head"),
                         ("declared length", "length"), ("past the end", "truncated"),
                         ("block CRC mismatch", "crc")):
        if needle in reason:
            return kind
    raise ValueError(f"unclassified damage reason: {reason!r}")


def header_error_kind(reason: str) -> str:
    """Short class of the :class:`RunFormatError` that makes a whole run unreadable."""
    for needle, kind in (("bad magic", "magic"), ("header truncated", "truncated"),
                         ("shorter than its", "truncated"), ("header length", "header_len"),
                         ("header CRC", "crc"),
                         ("format version 0", "version")):
        if needle in reason:
            return kind
    raise ValueError(f"unclassified header error: {reason!r}")


def event_record(ev: ParseEvent) -> Json:
    """A decoder event as a JSON record (the payload of a message is its canonical encoding)."""
    if isinstance(ev, Received):
        msg = ev.message
        return {"event": "received", "type": m.message_type(msg), "message": type(msg).__name__,
                "seq": ev.seq, "boot_id": ev.boot_id, "version": ev.version,
                "n_frames": ev.n_frames, "payload": msg.payload().hex()}
    if isinstance(ev, Dropped):
        return {"event": "dropped", "kind": drop_kind(ev.reason), "offset": ev.offset,
                "n_bytes": ev.n_bytes}
    if isinstance(ev, Lost):
        return {"event": "lost", "n_frames": ev.n_frames, "seq": ev.seq, "boot_id": ev.boot_id}
    if isinstance(ev, Rebooted):
        return {"event": "rebooted", "old_boot_id": ev.old_boot_id, "new_boot_id": ev.new_boot_id}
    raise TypeError(f"unknown event {ev!r}")


def decode_stream_records(data: bytes) -> list[Json]:
    return [event_record(e) for e in StreamDecoder().feed(data)]


def decode_packet_records(packets: Sequence[bytes]) -> list[Json]:
    dec = PacketDecoder()
    return [event_record(e) for p in packets for e in dec.feed(p)]


# --------------------------------------------------------------------------- message <-> fields
def message_fields(msg: m.AnyMessage) -> Json:
    """JSON fields of a message (inverse: :func:`message_from_fields`)."""
    if isinstance(msg, m.DeviceInfo):
        return {"device_id": msg.device_id, "firmware": list(msg.firmware),
                "protocol_version": msg.protocol_version, "sample_rate_hz": msg.sample_rate_hz,
                "acc_range_g": msg.acc_range_g, "gyr_range_dps": msg.gyr_range_dps,
                "acc_lsb_ms2": msg.acc_lsb_ms2, "gyr_lsb_rads": msg.gyr_lsb_rads,
                "mounting_hint": int(msg.mounting_hint), "name": msg.name}
    if isinstance(msg, m.SampleBatch):
        return {"device_time_us": msg.device_time_us, "sample_counter": msg.sample_counter,
                "n": msg.n, "counts": counts_hex(msg.counts)}
    if isinstance(msg, m.Catalogue):
        return {"runs": [{"run_id": r.run_id, "start_unix_ms": r.start_unix_ms, "size": r.size,
                          "crc32": r.crc32} for r in msg.runs]}
    if isinstance(msg, m.RunChunk):
        return {"run_id": msg.run_id, "offset": msg.offset, "crc32": msg.crc32,
                "data": msg.data.hex()}
    if isinstance(msg, m.ConfigSet | m.ConfigValue):
        return {"key": msg.key, "value": msg.value.hex()}
    if isinstance(msg, m.UnknownMessage):
        return {"type": msg.type, "data": msg.data.hex()}
    out: Json = {}
    for f in dataclasses.fields(msg):
        value = getattr(msg, f.name)
        out[f.name] = value if isinstance(value, str) else int(value)
    return out


def message_from_fields(cls_name: str, fields: Json) -> m.AnyMessage:
    """Rebuild a message from :func:`message_fields` output."""
    cls = getattr(m, cls_name)
    f = dict(fields)
    if cls is m.DeviceInfo:
        f["firmware"] = tuple(f["firmware"])
    elif cls is m.SampleBatch:
        f["counts"] = counts_from_hex(f["counts"])
        del f["n"]
    elif cls is m.Catalogue:
        f["runs"] = tuple(m.RunEntry(**r) for r in f["runs"])
    elif cls is m.RunChunk:
        f["data"] = bytes.fromhex(f["data"])
    elif cls in (m.ConfigSet, m.ConfigValue):
        f["value"] = bytes.fromhex(f["value"])
    elif cls is m.UnknownMessage:
        f["data"] = bytes.fromhex(f["data"])
    msg: m.AnyMessage = cls(**f)
    return msg


# --------------------------------------------------------------------------- synthetic signals
# Scale factors travel as float32: use values a float32 holds exactly, so a decoded message
# equals the one encoded (a few vectors deliberately use other values to test the rounding).
ACC_LSB_MS2: Final = float(np.float32(9.80665 * 16 / 32768))  # +-16 g
GYR_LSB_RADS: Final = float(np.float32(math.radians(2000) / 32768))  # +-2000 dps
FS_HZ: Final = 200


def running_counts(rng: np.random.Generator, n: int, phase: float = 0.0) -> npt.NDArray[np.int16]:
    """``(n, 6)`` int16 counts resembling sacrum IMU data while running (2.9 steps/s)."""
    t = (np.arange(n) / FS_HZ)[:, None]
    f = 1.45  # stride frequency, Hz
    harm = np.array([[1, 2, 2, 1, 2, 1]])
    amp = np.array([[900, 1600, 2500, 4000, 2600, 1800]])
    base = np.array([[150, -2048, 300, 0, 0, 0]])
    x = base + amp * np.sin(2 * np.pi * f * harm * t + phase + np.arange(6)[None, :])
    x = x + 0.4 * amp * np.sin(2 * np.pi * 3 * f * t + 1.3 * np.arange(6)[None, :])
    x = x + rng.normal(0, 6, size=(n, 6))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def random_walk(rng: np.random.Generator, n: int, step: float) -> npt.NDArray[np.int16]:
    return np.clip(np.cumsum(np.round(rng.normal(0, step, n))), -32768, 32767).astype(np.int16)


def smooth(rng: np.random.Generator, n: int, amp: float, period: float) -> npt.NDArray[np.int16]:
    t = np.arange(n)
    return np.round(amp * np.sin(2 * np.pi * t / period + rng.uniform(0, 6.28))).astype(np.int16)


def _doc(category: str, description: str, vectors: list[Json]) -> Json:
    return {"protocol_version": PROTOCOL_VERSION, "category": category,
            "generator": GENERATOR, "description": description, "vectors": vectors}


# --------------------------------------------------------------------------- crc, cobs
def crc_vectors() -> Json:
    rng = np.random.default_rng(1001)
    cases: list[tuple[str, bytes]] = [
        ("check_string", b"123456789"), ("empty", b""), ("one_zero", b"\x00"),
        ("ff_x32", b"\xff" * 32), ("frame_header_only", bytes(Frame(0x01, b""))[:9]),
    ]
    cases += [(f"random_{k}", rng.integers(0, 256, k, dtype=np.uint8).tobytes())
              for k in (1, 7, 64, 255, 1035)]
    return _doc("crc", "CRC-16/CCITT-FALSE (frames) and CRC-32/zlib (runs) of data.",
                [{"name": name, "data": d.hex(), "crc16": f"{crc16_ccitt_false(d):04x}",
                  "crc32": f"{crc32(d):08x}"} for name, d in cases])


def cobs_vectors() -> Json:
    rng = np.random.default_rng(1002)

    def nonzero(k: int) -> bytes:
        return rng.integers(1, 256, k, dtype=np.uint8).tobytes()

    enc: list[tuple[str, bytes]] = [
        ("spec_example", bytes.fromhex("11220033")), ("empty", b""), ("one_zero", b"\x00"),
        ("two_zeros", b"\x00\x00"), ("all_zero_300", bytes(300)), ("one_byte", b"\x42"),
        ("nonzero_253", nonzero(253)), ("nonzero_254", nonzero(254)),
        ("nonzero_255", nonzero(255)), ("nonzero_256", nonzero(256)),
        ("nonzero_508", nonzero(508)), ("nonzero_509", nonzero(509)),
        ("nonzero_254_then_zero", nonzero(254) + b"\x00"),
        ("zero_then_nonzero_254", b"\x00" + nonzero(254)),
        ("nonzero_253_zero_nonzero_2", nonzero(253) + b"\x00" + nonzero(2)),
        ("trailing_zero", b"\x11\x22\x00"),
        ("max_frame_no_zeros", nonzero(1035)),
        ("max_frame_random", rng.integers(0, 256, 1035, dtype=np.uint8).tobytes()),
    ]
    vectors: list[Json] = [{"name": n, "data": d.hex(), "encoded": cobs_encode(d).hex()}
                           for n, d in enc]
    for name, d in enc:
        assert len(cobs_encode(d)) <= len(d) + len(d) // 254 + 1, name
    # Decoding accepts some non-canonical forms (same as the Python decoder) and rejects others.
    from firmware_protocol.frame import cobs_decode

    dec_ok = [("noncanonical_trailing_01_after_full_group", b"\xff" + nonzero(254) + b"\x01"),
              ("single_code_01", b"\x01")]
    vectors += [{"name": n, "encoded": e.hex(), "decoded": cobs_decode(e).hex()} for n, e in dec_ok]
    dec_bad = [("code_past_end", bytes.fromhex("0511")), ("code_past_end_by_one", b"\x03\x11"),
               ("full_group_short_by_one", b"\xff" + nonzero(253)),
               ("zero_code_byte", b"\x02\x11\x00\x01")]
    for n, e in dec_bad:
        try:
            cobs_decode(e)
        except ValueError:
            vectors.append({"name": n, "encoded": e.hex(), "error": "cobs"})
        else:  # pragma: no cover - generator self-check
            raise AssertionError(f"{n} decoded")
    return _doc("cobs", "COBS encodings (no delimiter). 'encoded' from 'data' is canonical; "
                "vectors with 'decoded' or 'error' are decoder cases.", vectors)


# --------------------------------------------------------------------------- frames, messages
def _frame_record(name: str, frame: Frame) -> Json:
    return {"name": name, "version": frame.version, "type": frame.type, "flags": int(frame.flags),
            "seq": frame.seq, "boot_id": frame.boot_id, "payload": frame.payload.hex(),
            "frame": bytes(frame).hex(), "stream": frame.encode_stream().hex()}


CRC_ZERO_CASES: Final[dict[str, Callable[[int], bool]]] = {
    "crc_low_byte_zero": lambda c: c & 0xFF == 0 and c != 0,
    "crc_high_byte_zero": lambda c: c >> 8 == 0 and c != 0,
    "crc_zero": lambda c: c == 0,
}


def crc_zero_frame(want: Callable[[int], bool], seq: int) -> Frame:
    """The TIME_SYNC_REQUEST of ``seq`` with the smallest host time whose CRC-16 is ``want``ed."""
    for t in range(1 << 20):
        f = Frame(m.MessageType.TIME_SYNC_REQUEST, struct.pack("<Q", t), seq=seq)
        if want(int.from_bytes(bytes(f)[-2:], "little")):
            return f
    raise AssertionError("no such frame")


def frame_vectors() -> Json:
    rng = np.random.default_rng(1003)
    rnd = rng.integers(0, 256, 1024, dtype=np.uint8).tobytes()
    frames = [
        ("empty_payload", Frame(0x01, b"")),
        ("one_byte", Frame(0x7E, b"\x40", seq=1, boot_id=7)),
        ("max_payload_random", Frame(0x23, rnd, seq=300, boot_id=2)),
        ("max_payload_all_zero", Frame(0x23, bytes(1024), seq=0, boot_id=0)),
        ("max_payload_no_zeros", Frame(0x23, b"\xff" * 1024, seq=0xFFFF, boot_id=0xFFFF)),
        ("seq_65535", Frame(0x13, b"", seq=65535, boot_id=3)),
        ("seq_0_after_wrap", Frame(0x13, b"", seq=0, boot_id=3)),
        ("boot_65535", Frame(0x50, bytes(13), seq=9, boot_id=65535)),
        ("flag_more", Frame(0x21, b"\x01\x02", seq=4, flags=FrameFlags.MORE)),
        ("reserved_flag_bits", Frame(0x14, bytes(22), seq=5, flags=FrameFlags(0xFE))),
        ("version_2", Frame(0x01, b"", version=2)),
        ("version_255", Frame(0x01, b"", version=255)),
        ("unknown_type", Frame(0x99, b"future", seq=77)),
        ("all_zero_header_fields", Frame(0x00, b"", seq=0, boot_id=0)),
        # The CRC is computed over the frame before COBS and is itself COBS-encoded: a stream
        # encoder that escapes the header and payload but sends the CRC bytes as they are (or
        # computes the CRC after encoding) breaks only on frames like these.
        *((name, crc_zero_frame(want, seq)) for seq, (name, want) in enumerate(
            CRC_ZERO_CASES.items())),
    ]
    return _doc("frames", "Single frames: header + payload + CRC-16, and their COBS stream form "
                "(COBS(frame) 00).", [_frame_record(n, f) for n, f in frames])


def _message_cases(rng: np.random.Generator) -> list[tuple[str, m.AnyMessage, int, int]]:
    """(name, message, first seq, boot_id) for every message type, both directions."""
    extremes = np.tile(np.array([-32768, 32767, -1, 0, 1, -32767], np.int16), (5, 1))
    cat3 = tuple(m.RunEntry(i + 1, 1_700_000_000_000 + i * 3_600_000, 50_000 + 97 * i,
                            int(rng.integers(0, 2**32))) for i in range(3))
    cat60 = tuple(m.RunEntry(i, 1_700_000_000_000 + i * 86_400_000, int(rng.integers(96, 2**31)),
                             int(rng.integers(0, 2**32))) for i in range(60))
    chunk = rng.integers(0, 256, 1012, dtype=np.uint8).tobytes()
    long_name = "imurun-" + "x" * 25  # 32 bytes
    uni_name = "Läufer-Ø 🏃"
    dev: dict[str, Any] = dict(device_id=0x1A2B3C4D5E6F7081, firmware=(1, 4, 2), protocol_version=1,
               sample_rate_hz=200, acc_range_g=16, gyr_range_dps=2000, acc_lsb_ms2=ACC_LSB_MS2,
               gyr_lsb_rads=GYR_LSB_RADS, mounting_hint=m.MountingHint.SACRUM_CLIP)
    cases: list[tuple[str, m.AnyMessage, int, int]] = [
        # sensor -> host
        ("device_info", m.DeviceInfo(**dev, name="imurun-7081"), 0, 1),
        ("device_info_unicode_name", m.DeviceInfo(**dev, name=uni_name), 1, 1),
        ("device_info_empty_name", m.DeviceInfo(**dev, name=""), 2, 1),
        ("device_info_max_name", m.DeviceInfo(**{**dev, "device_id": 2**64 - 1}, name=long_name),
         3, 1),
        ("device_info_min_values_scale_rounded",
         m.DeviceInfo(0, (0, 0, 0), 0, 1, 1, 1, 1e-6, 9.80665 / 2048, 0, "a"), 4, 1),
        ("sample_batch_live_10", m.SampleBatch(1_000_000, 200, running_counts(rng, 10)), 10, 1),
        ("sample_batch_empty", m.SampleBatch(0, 0, np.zeros((0, 6), np.int16)), 11, 1),
        ("sample_batch_int16_extremes", m.SampleBatch(2**63 - 1, 2**32 - 1, extremes), 12, 1),
        ("sample_batch_84_fits_one_frame", m.SampleBatch(5_000, 1, running_counts(rng, 84)), 13, 1),
        ("sample_batch_85_fragmented", m.SampleBatch(5_000, 1, running_counts(rng, 85)), 14, 1),
        ("time_sync", m.TimeSync(1_732_000_000_123_456, 98_765_432), 20, 1),
        ("time_sync_max", m.TimeSync(2**64 - 1, 2**64 - 1), 21, 1),
        ("status", m.Status(87, 3987, 1_234_567, 15_000_000, m.RecordingState.RECORDING, 4,
                            123_456_789), 30, 1),
        ("status_extremes", m.Status(100, 65535, 2**32 - 1, 0, m.RecordingState.SYNCING, 65535,
                                     2**64 - 1), 31, 1),
        ("catalogue_empty", m.Catalogue(()), 40, 1),
        ("catalogue_3", m.Catalogue(cat3), 41, 1),
        ("catalogue_60_fragmented", m.Catalogue(cat60), 42, 1),
        ("run_chunk", m.RunChunk.make(7, 4096, b"IMRN\x01\x00"), 50, 1),
        ("run_chunk_empty", m.RunChunk.make(7, 0, b""), 51, 1),
        ("run_chunk_1012_max_one_frame", m.RunChunk.make(0xFFFFFFFF, 0xFFFFF000, chunk), 52, 1),
        ("run_erased", m.RunErased(7), 60, 1),
        ("config_value_sample_rate", m.ConfigValue(m.ConfigKey.SAMPLE_RATE_HZ,
                                                   struct.pack("<H", 200)), 70, 1),
        ("config_value_acc_range", m.ConfigValue(m.ConfigKey.ACC_RANGE_G, b"\x10"), 71, 1),
        ("config_value_gyr_range", m.ConfigValue(m.ConfigKey.GYR_RANGE_DPS,
                                                 struct.pack("<H", 2000)), 72, 1),
        ("config_value_device_name", m.ConfigValue(m.ConfigKey.DEVICE_NAME,
                                                   uni_name.encode()), 73, 1),
        ("config_value_auto_record", m.ConfigValue(m.ConfigKey.AUTO_RECORD, b"\x01"), 74, 1),
        ("config_value_rtc", m.ConfigValue(m.ConfigKey.RTC_UNIX_MS,
                                           struct.pack("<Q", 1_732_000_000_000)), 75, 1),
        ("config_value_empty", m.ConfigValue(99, b""), 76, 1),
        ("config_value_64_bytes", m.ConfigValue(200, bytes(range(1, 65))), 77, 1),
    ]
    cases += [(f"event_{c.name.lower()}", m.Event(c, 1_000_000 * c, 10 * c), 80 + c, 1)
              for c in m.EventCode]
    cases += [("event_max", m.Event(255, 2**64 - 1, 2**32 - 1), 90, 1)]
    cases += [(f"ack_{t.name.lower()}", m.Ack(t), 100 + i, 1) for i, t in enumerate(
        (m.MessageType.STREAM_START, m.MessageType.STREAM_STOP, m.MessageType.RECORD_START,
         m.MessageType.RECORD_STOP))]
    cases += [(f"error_{c.name.lower()}", m.Error(c, m.MessageType.RUN_READ, c.name.lower()),
               110 + c, 1) for c in m.ErrorCode]
    cases += [("error_empty_text", m.Error(2, 0x31, ""), 120, 1),
              ("error_unicode_text", m.Error(8, 0x31, "Gerät: ungültiger Wert °/s ✗"), 121, 1),
              ("error_text_200_bytes", m.Error(65535, 255, "é" * 100), 122, 1)]
    # host -> sensor (hosts send boot_id 0)
    cases += [
        ("device_info_request", m.DeviceInfoRequest(), 0, 0),
        ("time_sync_request", m.TimeSyncRequest(1_732_000_000_123_456), 1, 0),
        ("time_sync_request_max", m.TimeSyncRequest(2**64 - 1), 2, 0),
        ("status_request", m.StatusRequest(), 3, 0),
        ("catalogue_request", m.CatalogueRequest(), 4, 0),
        ("run_read", m.RunRead(7, 1012, 4096), 5, 0),
        ("run_read_max", m.RunRead(2**32 - 1, 2**32 - 1, 2**32 - 1), 6, 0),
        ("run_erase", m.RunErase(7, 0xCBF43926), 7, 0),
        ("config_get", m.ConfigGet(m.ConfigKey.SAMPLE_RATE_HZ), 8, 0),
        ("config_set_sample_rate", m.ConfigSet(m.ConfigKey.SAMPLE_RATE_HZ,
                                               struct.pack("<H", 400)), 9, 0),
        ("config_set_device_name", m.ConfigSet(m.ConfigKey.DEVICE_NAME, uni_name.encode()), 10, 0),
        ("config_set_rtc", m.ConfigSet(m.ConfigKey.RTC_UNIX_MS,
                                       struct.pack("<Q", 1_732_000_000_000)), 11, 0),
        ("config_set_empty_value", m.ConfigSet(7, b""), 12, 0),
        ("config_set_64_bytes", m.ConfigSet(255, bytes(range(64))), 13, 0),
        ("stream_start", m.StreamStart(), 14, 0),
        ("stream_stop", m.StreamStop(), 15, 0),
        ("record_start", m.RecordStart(), 16, 0),
        ("record_stop", m.RecordStop(), 65535, 0),
    ]
    return cases


def message_vectors() -> Json:
    rng = np.random.default_rng(1004)
    out = []
    for name, msg, seq, boot in _message_cases(rng):
        frames = Encoder(boot_id=boot, seq=seq).frames(msg)
        mtype = m.message_type(msg)
        out.append({"name": name, "type": mtype, "message": type(msg).__name__,
                    "direction": "host_to_sensor" if mtype in REQUEST_TYPES else "sensor_to_host",
                    "fields": message_fields(msg), "payload": msg.payload().hex(),
                    "seq": seq, "boot_id": boot, "max_payload": 1024,
                    "frames": [bytes(f).hex() for f in frames],
                    "stream": b"".join(f.encode_stream() for f in frames).hex()})
    types = {v["type"] for v in out}
    assert types == {int(t) for t in m.MessageType}, "every message type needs a vector"
    return _doc("messages", "Every message type, both directions: fields, payload, frames "
                "(fragmented above 1024 bytes) from 'seq' on, and the COBS stream form.", out)


def fragment_vectors() -> Json:
    rng = np.random.default_rng(1005)
    body = rng.integers(0, 256, 2500, dtype=np.uint8).tobytes()
    cases: list[tuple[str, m.AnyMessage, int, int, int]] = [
        ("three_frames_1024", m.UnknownMessage(0x23, body), 1024, 10, 1),
        ("exactly_1024_one_frame", m.UnknownMessage(0x23, body[:1024]), 1024, 0, 1),
        ("1025_two_frames", m.UnknownMessage(0x23, body[:1025]), 1024, 0, 1),
        ("2048_two_full_frames", m.UnknownMessage(0x23, body[:2048]), 1024, 0, 1),
        ("empty_body_one_empty_frame", m.CatalogueRequest(), 1024, 0, 0),
        ("seq_wraps_65534_to_1", m.UnknownMessage(0x99, body[:40]), 10, 65534, 4),
        ("ble_mtu23_run_read", m.RunRead(7, 1012, 4096), 9, 0, 0),
        ("ble_mtu23_config_set_65", m.ConfigSet(4, bytes(range(1, 65))), 9, 100, 0),
        ("ble_mtu185_catalogue", m.Catalogue(tuple(
            m.RunEntry(i, 1_700_000_000_000 + i, 1000 + i, i * 7919) for i in range(20))), 171,
         7, 3),
        ("max_payload_1", m.UnknownMessage(0x99, b"\x00\x01\x00\x02\x00"), 1, 0, 0),
    ]
    out = []
    for name, msg, maxp, seq, boot in cases:
        frames = Encoder(boot_id=boot, seq=seq).frames(msg, maxp)
        out.append({"name": name, "type": m.message_type(msg), "body": msg.payload().hex(),
                    "max_payload": maxp, "seq": seq, "boot_id": boot,
                    "frames": [bytes(f).hex() for f in frames],
                    "stream": b"".join(f.encode_stream() for f in frames).hex()})
    return _doc("fragments", "Fragmentation by the continuation rule: 'body' cut into frames of "
                "at most 'max_payload' bytes, MORE on all but the last, CONT on all but the first, consecutive seq from "
                "'seq' (wrapping).", out)


# --------------------------------------------------------------------------- sample blocks
def sample_vectors() -> Json:
    rng = np.random.default_rng(1006)
    out: list[Json] = []

    def add(name: str, counts: npt.ArrayLike, *, first: int = 0, t_us: int = 0,
            mode: str = "auto", expect_type: BlockType | None = None,
            expect_orders: int | None = None) -> None:
        c = np.asarray(counts, np.int16)
        block = encode_samples_block(c, first, t_us, packed=mode == "auto")
        packed = encode_samples_packed(c, first, t_us)
        btype = BlockType(block[4])
        orders = packed[26]
        if expect_type is not None:
            assert btype == expect_type, (name, btype)
        if expect_orders is not None:
            assert orders == expect_orders, (name, bin(orders))
        out.append({"name": name, "first_sample_index": first, "device_time_us": t_us,
                    "n": int(c.shape[0]), "mode": mode, "counts": counts_hex(c),
                    "block_type": btype.name, "orders": orders, "packed_payload": packed.hex(),
                    "raw_size": 14 + 12 * int(c.shape[0]), "block": block.hex()})

    for n in (1, 2, 31, 32, 33, 256, 1024):
        add(f"running_n{n}", running_counts(rng, n), first=1000 * n, t_us=5_000 * 1000 * n,
            expect_type=BlockType.SAMPLES_RAW if n == 1 else None)
    mixed = np.stack([smooth(rng, 256, 3000, 97), smooth(rng, 256, 5000, 150),
                      smooth(rng, 256, 8000, 201), random_walk(rng, 256, 40),
                      random_walk(rng, 256, 90), random_walk(rng, 256, 200)], axis=1)
    add("order2_smooth_order1_random_walk", mixed, expect_orders=0b000111,
        expect_type=BlockType.SAMPLES_PACKED)
    add("all_zero_block", np.zeros((256, 6), np.int16), expect_orders=0,
        expect_type=BlockType.SAMPLES_PACKED)
    zero_ch = running_counts(rng, 256)
    zero_ch[:, 2] = 0
    zero_ch[:, 4] = -1234
    add("all_zero_and_constant_channels", zero_ch, expect_type=BlockType.SAMPLES_PACKED)
    ramp = (np.arange(33, dtype=np.int64)[:, None] * np.array([[1, 5, 100, -7, 1000, 3]])
            ).astype(np.int16)
    add("linear_ramp_n33_tie_prefers_order1", ramp, expect_orders=0)
    ramp256 = (np.arange(256, dtype=np.int64)[:, None] * np.array([[1, 5, 100, -7, 300, 3]])
               ).astype(np.int16)
    add("linear_ramp_wrapping_n256_order2", ramp256, expect_orders=0b111111)
    add("white_noise_raw_fallback_n256", rng.integers(-32768, 32768, (256, 6)),
        expect_type=BlockType.SAMPLES_RAW)
    add("white_noise_raw_fallback_n1024", rng.integers(-32768, 32768, (1024, 6)),
        expect_type=BlockType.SAMPLES_RAW)
    alt = np.where((np.arange(64) % 2 == 0)[:, None], np.int16(-32768), np.int16(32767))
    add("int16_extremes_alternating", np.repeat(alt, 6, axis=1),
        expect_type=BlockType.SAMPLES_PACKED)
    add("int16_extremes_random", rng.choice(np.array([-32768, -32767, -1, 0, 1, 32767], np.int16),
                                            size=(100, 6)))
    add("forced_raw_mode", running_counts(rng, 64), mode="raw", expect_type=BlockType.SAMPLES_RAW)
    # the largest valid values: a block time >= 2**63 is invalid (SPEC §5.2), encoders refuse it
    add("index_and_time_maxima", running_counts(rng, 40), first=2**32 - 1, t_us=2**63 - 1)
    add("time_largest_readable", running_counts(rng, 40), first=7, t_us=2**63 - 1)
    add("width_16_one_subblock", np.array([[0] * 6, [32767] * 6, [-32768] * 6] * 11, np.int16))
    return _doc("samples", "Stored-run sample blocks: 'block' is runfile.encode_samples_block "
                "(packed unless longer than raw, or raw when mode is 'raw'); 'packed_payload' "
                "is the SAMPLES_PACKED payload even when the raw fallback was chosen.", out)


# --------------------------------------------------------------------------- runs
def header_fields(h: RunHeader) -> Json:
    return {"format_version": h.format_version, "device_id": h.device_id, "run_id": h.run_id,
            "boot_id": h.boot_id, "sample_rate_hz": h.sample_rate_hz,
            "start_unix_ms": h.start_unix_ms, "start_device_time_us": h.start_device_time_us,
            "acc_range_g": h.acc_range_g, "mounting_hint": h.mounting_hint,
            "gyr_range_dps": h.gyr_range_dps, "acc_lsb_ms2": h.acc_lsb_ms2,
            "gyr_lsb_rads": h.gyr_lsb_rads, "acc_offset_ms2": list(h.acc_offset_ms2),
            "acc_gain": list(h.acc_gain), "gyr_offset_rads": list(h.gyr_offset_rads),
            "firmware": list(h.firmware)}


def header_from_fields(f: Json) -> RunHeader:
    g = dict(f)
    for k in ("acc_offset_ms2", "acc_gain", "gyr_offset_rads", "firmware"):
        g[k] = tuple(g[k])
    return RunHeader(**g)


def write_run(header: RunHeader, packed: bool, ops: Sequence[Json],
              block_samples: int = MAX_BLOCK_SAMPLES) -> tuple[bytes, list[bytes]]:
    """Replay ``ops`` through :class:`RunWriter`; one sample op = one batch.

    A batch is cut into blocks of ``block_samples`` (one block with the default), the last one
    flushed.

    Returns the file and its pieces (header, then one entry per op).
    """
    w = RunWriter(header, block_samples=block_samples, packed=packed)
    pieces = [w.start()]
    for op in ops:
        kind = op["op"]
        if kind == "samples":
            pieces.append(w.samples(counts_from_hex(op["counts"]), op["device_time_us"]) + w.flush())
        elif kind == "event":
            pieces.append(w.event(m.Event(op["code"], op["device_time_us"], op["value"])))
        elif kind == "time":
            pieces.append(w.time_anchor(op["device_time_us"], op["unix_ms"]))
        elif kind == "lost":
            pieces.append(w.lost(op["n"]))
        elif kind == "end":
            pieces.append(w.end())
        else:
            raise ValueError(f"unknown op {kind!r}")
    return b"".join(pieces), pieces


def run_outcome(data: bytes) -> Json:
    """What :func:`read_run` makes of a file, as a JSON record."""
    try:
        run = read_run(data)
    except RunFormatError as e:
        return {"error": "RunFormatError", "kind": header_error_kind(e.reason)}
    counts = np.ascontiguousarray(run.counts, dtype="<i2")
    return {"header": header_fields(run.header), "n_samples": int(counts.shape[0]),
            "counts_sha256": hashlib.sha256(counts.tobytes()).hexdigest(),
            "sample_index_sha256": hashlib.sha256(
                np.ascontiguousarray(run.sample_index, "<i8").tobytes()).hexdigest(),
            "block_first_index": run.block_first_index.tolist(),
            "block_device_time_us": run.block_device_time_us.tolist(),
            "block_n": run.block_n.tolist(),
            "events": [[e.code, e.device_time_us, e.value] for e in run.events],
            "time_anchors": [list(a) for a in run.time_anchors],
            "lost": [list(x) for x in run.lost],
            "damaged": [{"offset": d.offset, "n_bytes": d.n_bytes, "kind": damage_kind(d.reason)}
                        for d in run.damaged],
            "blocks_ok": run.blocks_ok, "ended_cleanly": run.ended_cleanly,
            "n_bytes": run.n_bytes, "header_faults": header_fault_kinds(run.header),
            **({"rate_from_blocks_hz": run.rate_from_blocks_hz()}
               if run.header.sample_rate_hz == 0 else {})}


def header_fault_kinds(h: RunHeader) -> list[str]:
    """Short, stable names of what a firmware must never write but the header holds (§5.1)."""
    kinds = {"sample_rate_hz": "rate_zero", "acc_lsb_ms2": "acc_scale", "gyr_lsb_rads": "gyr_scale"}
    return [kinds[f] for f in h.faulty_fields]


def _base_header(run_id: int) -> RunHeader:
    return RunHeader(device_id=0x1A2B3C4D5E6F7081, run_id=run_id, boot_id=42,
                     sample_rate_hz=FS_HZ, start_unix_ms=1_732_000_000_000,
                     start_device_time_us=12_000_000, acc_range_g=16, gyr_range_dps=2000,
                     acc_lsb_ms2=ACC_LSB_MS2, gyr_lsb_rads=GYR_LSB_RADS,
                     acc_offset_ms2=(0.0123, -0.045, 0.2), acc_gain=(1.0021, 0.9987, 1.0003),
                     gyr_offset_rads=(0.0011, -0.0007, 0.00031), firmware=(1, 4, 2),
                     mounting_hint=1)  # calibration values are rounded to float32 on the wire


def _run_specs(rng: np.random.Generator) -> list[tuple[str, RunHeader, bool, list[Json]]]:
    def samples(n: int, t_us: int, phase: float = 0.0) -> Json:
        return {"op": "samples", "device_time_us": t_us,
                "counts": counts_hex(running_counts(rng, n, phase))}

    t0 = 12_000_000
    basic: list[Json] = [{"op": "event", "code": 4, "device_time_us": t0, "value": 0},
                         {"op": "time", "device_time_us": t0, "unix_ms": 1_732_000_000_000}]
    basic += [samples(256, t0 + k * 256 * 5000, k) for k in range(4)]
    basic += [{"op": "event", "code": 1, "device_time_us": t0 + 1024 * 5000, "value": 1},
              samples(100, t0 + 1024 * 5000, 4.0),
              {"op": "event", "code": 5, "device_time_us": t0 + 1124 * 5000, "value": 0},
              {"op": "end"}]
    power_loss: list[Json] = [samples(256, t0), {"op": "lost", "n": 37},
                              samples(256, t0 + 293 * 5000, 1.0),
                              {"op": "event", "code": 2, "device_time_us": t0 + 549 * 5000,
                               "value": 3400}]
    raw_only: list[Json] = [samples(64, t0), samples(1, t0 + 64 * 5000), {"op": "end"}]
    mixed: list[Json] = [samples(1, t0), samples(1024, t0 + 5000),
                         {"op": "samples", "device_time_us": t0 + 1025 * 5000,
                          "counts": counts_hex(rng.integers(-32768, 32768, (33, 6)))},
                         {"op": "samples", "device_time_us": t0 + 1058 * 5000,
                          "counts": counts_hex(np.zeros((256, 6), np.int16))},
                         {"op": "time", "device_time_us": t0 + 2**40, "unix_ms": 2**64 - 1},
                         {"op": "end"}]
    return [("basic", _base_header(1), True, basic),
            ("power_loss_with_lost_samples", _base_header(2), True, power_loss),
            ("raw_only", _base_header(3), False, raw_only),
            ("mixed_sizes_and_fallback", _base_header(4), True, mixed),
            ("empty_run_end_only", _base_header(5), True, [{"op": "end"}]),
            ("header_only", _base_header(6), True, [])]


def _batch_specs(rng: np.random.Generator) -> list[tuple[str, RunHeader, int, list[Json]]]:
    """Runs whose 'samples' ops each span several blocks.

    Later blocks are timed by §5.2's rule (sample_time_us: k·10⁶/fs rounded half up), at rates
    where that rounding matters.
    """
    t0 = 12_000_000

    def samples(n: int, t_us: int, phase: float = 0.0) -> Json:
        return {"op": "samples", "device_time_us": t_us,
                "counts": counts_hex(running_counts(rng, n, phase))}

    def header(run_id: int, fs: int) -> RunHeader:
        return dataclasses.replace(_base_header(run_id), sample_rate_hz=fs)

    return [
        # 128 Hz: 7812.5 µs per sample, so a block 101 samples in starts on a half microsecond
        ("batch_spans_blocks_128hz_half_up", header(7, 128), 101,
         [samples(400, t0), samples(150, t0 + 4_000_000, 1.0), {"op": "end"}]),
        # 200 Hz, 256-sample blocks: the virtual sensor's layout
        ("batch_spans_blocks_200hz", header(8, 200), 256, [samples(1000, t0), {"op": "end"}]),
        # 3 Hz: a period of 333,333.33 µs
        ("batch_spans_blocks_3hz", header(9, 3), 7, [samples(30, t0), {"op": "end"}]),
    ]


def run_vectors() -> Json:
    rng = np.random.default_rng(1007)
    out = []
    specs: list[tuple[str, RunHeader, bool, list[Json], int | None]] = [
        (n, h, p, ops, None) for n, h, p, ops in _run_specs(rng)]
    specs += [(n, h, True, ops, per) for n, h, per, ops in _batch_specs(np.random.default_rng(1010))]
    for name, header, packed, ops, per in specs:
        data, _ = write_run(header, packed, ops, MAX_BLOCK_SAMPLES if per is None else per)
        outcome = run_outcome(data)
        assert not outcome["damaged"], name
        out.append({"name": name, "header": header_fields(header), "packed": packed, "ops": ops,
                    **({} if per is None else {"block_samples": per}),
                    "file": data.hex(), "size": len(data), "crc32": f"{crc32(data):08x}",
                    "expect": outcome})
    return _doc("runs", "Whole stored-run files written by RunWriter from 'ops' (one 'samples' "
                "op = one block whose first sample index continues the run; with "
                "'block_samples', one batch cut into blocks of that many samples, a block k "
                "samples into the batch timed device_time_us + k*10^6/sample_rate_hz rounded "
                "half up, SPEC §5.2), the whole-file CRC-32 the catalogue lists, and what "
                "read_run decodes.", out)


def _with_crc(block: bytes) -> bytes:
    """Recompute a block's CRC-32 after editing it (a block that is wrong but intact).

    The CRC sits at bytes 8..11, before the payload, and covers bytes 4..7 then the payload.
    """
    return block[:8] + crc32(block[12:], crc32(block[4:8])).to_bytes(4, "little") + block[12:]


def corrupt_run_vectors() -> Json:
    rng = np.random.default_rng(1008)
    specs = _run_specs(np.random.default_rng(1007))
    _, header, packed, ops = specs[0]
    data, pieces = write_run(header, packed, ops)
    starts = np.cumsum([0] + [len(p) for p in pieces]).tolist()
    hdr = pieces[0]
    # pieces: 0 header, 1 event, 2 time, 3..6 samples, 7 event, 8 samples, 9 event, 10 end
    s2 = starts[4]

    def flip(buf: bytes, pos: int, mask: int = 0x10) -> bytes:
        b = bytearray(buf)
        b[pos] ^= mask
        return bytes(b)

    def splice(at: int, insert: bytes, cut: int = 0) -> bytes:
        return data[:at] + insert + data[at + cut:]

    garbage = rng.integers(1, 256, 37, dtype=np.uint8).tobytes().replace(SYNC[:1], b"\x00")
    fake = SYNC + bytes([0x02, 0x00]) + (30).to_bytes(2, "little") + bytes(30) + b"\xde\xad\xbe\xef"
    bad_packed = bytearray(pieces[5])
    bad_packed[12 + 27] = 17  # first width above 16 (payload at 12, widths at 27)
    long_len = bytearray(pieces[4])
    long_len[6:8] = (20000).to_bytes(2, "little")
    raw_mismatch = encode_block(BlockType.SAMPLES_RAW,
                                struct.pack("<IQH", 0, 0, 5) + bytes(12 * 4))
    short_event = encode_block(BlockType.EVENT, bytes(12))
    unknown = encode_block(0x7A, b"future block type")
    zero_scale = hdr[:44] + bytes(4) + hdr[48:92]
    zero_scale += crc32(zero_scale).to_bytes(4, "little")
    zero_rate = hdr[:22] + bytes(2) + hdr[24:92]
    zero_rate += crc32(zero_rate).to_bytes(4, "little")
    future_hdr = hdr[:92] + b"\x01\x02\x03\x04"
    future_hdr = future_hdr[:6] + (100).to_bytes(2, "little") + future_hdr[8:]
    future_hdr += crc32(future_hdr).to_bytes(4, "little")
    version_0 = hdr[:4] + bytes(2) + hdr[6:92]
    version_0 += crc32(version_0).to_bytes(4, "little")
    cases: list[tuple[str, str, bytes]] = [
        ("crc_flip_in_middle_sample_block", "one bit flipped in the 2nd sample block's payload",
         flip(data, s2 + 40)),
        ("crc_flip_in_block_crc", "one bit flipped in a block's CRC-32",
         flip(data, s2 + 11, 0x01)),  # the CRC-32 is bytes 8..11 of a block
        ("sync_word_damaged", "the 2nd sample block's sync word damaged",
         flip(data, s2, 0xFF)),
        ("length_over_maximum", "a block declares 20000 payload bytes",
         data[:starts[3]] + bytes(long_len) + data[starts[4]:]),
        ("garbage_between_blocks", "37 bytes of junk between two blocks",
         splice(s2, garbage)),
        ("false_sync_in_garbage", "junk holding a sync word with a bad CRC between two blocks",
         splice(s2, b"\x11\x22" + fake + b"\x33")),
        ("erased_flash_tail", "0xFF bytes after the END block (erased flash)",
         data + b"\xff" * 300),
        ("truncated_mid_block", "the file cut in the middle of the last sample block",
         data[:starts[8] + 100]),
        ("truncated_in_block_header", "the file cut 5 bytes into a block",
         data[:starts[9] + 5]),
        ("truncated_power_loss_no_end", "the file cut exactly before the END block",
         data[:starts[10]]),
        ("intact_block_bad_packed_width", "a packed block with a width of 17 and a valid CRC",
         data[:starts[5]] + _with_crc(bytes(bad_packed)) + data[starts[6]:]),
        ("intact_raw_block_count_mismatch", "a raw block declaring 5 samples holding 4",
         splice(s2, raw_mismatch)),
        ("intact_event_block_too_short", "an EVENT block of 12 bytes", splice(s2, short_event)),
        ("intact_end_block_too_short", "an END block of 3 bytes (not a clean end)",
         data[:starts[10]] + encode_block(BlockType.END, bytes(3))),
        ("unknown_block_type_skipped", "a block of unknown type 0x7A (skipped, still intact)",
         splice(s2, unknown)),
        ("future_header_len_100", "a longer header (header_len 100) from a newer format",
         future_hdr + data[len(hdr):]),
        ("bad_magic", "magic 'IMRX'", b"IMRX" + data[4:]),
        ("header_zero_scale_valid_crc", "acc_lsb_ms2 = 0 in a header whose CRC matches: the "
         "blocks are read, the fault reported (a host cannot give SI units)",
         zero_scale + data[len(hdr):]),
        ("header_zero_rate_valid_crc", "sample_rate_hz = 0 in a header whose CRC matches: the "
         "blocks are read, the rate recovered from their device times",
         zero_rate + data[len(hdr):]),
        ("header_zero_rate_one_sample_block", "sample_rate_hz = 0 and a single sample block: "
         "no rate to recover", zero_rate + data[len(hdr):starts[4]]),
        ("header_crc_mismatch", "one bit flipped in the header", flip(data, 30)),
        ("header_format_version_0", "format_version 0 in a header whose CRC matches",
         version_0 + data[len(hdr):]),
        ("truncated_header", "a 50-byte file", data[:50]),
        ("empty_file", "no bytes at all", b""),
    ]
    out = []
    for name, what, blob in cases:
        out.append({"name": name, "description": what, "base": "runs.json:basic",
                    "file": blob.hex(), "expect": run_outcome(blob)})
    return _doc("runs_corrupt", "Damaged stored runs and what read_run reports: damaged regions "
                "(offset, n_bytes, kind) and what survives; or the header error.", out)


# --------------------------------------------------------------------------- decoders
def _stream(*parts: bytes) -> bytes:
    return b"".join(parts)


def _raw_frame(version: int, mtype: int, flags: int, seq: int, boot: int, payload: bytes,
               length: int | None = None) -> bytes:
    """Frame bytes with arbitrary header values and a correct CRC (for invalid-but-intact cases)."""
    head = struct.pack("<BBBHHH", version, mtype, flags, seq, boot,
                       len(payload) if length is None else length)
    body = head + payload
    return body + crc16_ccitt_false(body).to_bytes(2, "little")


def _cobs(frame: bytes) -> bytes:
    return cobs_encode(frame) + b"\x00"


def stream_decode_vectors() -> Json:
    rng = np.random.default_rng(1009)
    host = Encoder(boot_id=0, seq=0)
    requests: list[m.AnyMessage] = [
        m.DeviceInfoRequest(), m.TimeSyncRequest(123_456_789), m.StatusRequest(),
        m.CatalogueRequest(), m.RunRead(7, 0, 1 << 20), m.RunErase(7, 0xCBF43926),
        m.ConfigGet(1), m.ConfigSet(4, "Läufer".encode()), m.StreamStart(), m.StreamStop(),
        m.RecordStart(), m.RecordStop()]
    all_req = b"\x00" + b"".join(host.stream_bytes(q) for q in requests)

    def enc(seq: int, msg: m.AnyMessage, boot: int = 0, maxp: int = 1024) -> bytes:
        return b"".join(f.encode_stream() for f in Encoder(boot_id=boot, seq=seq).frames(msg, maxp))

    good = enc(1, m.RunRead(1, 2, 3))
    good2 = enc(2, m.ConfigGet(5))
    frame3 = bytes(Frame(0x22, m.RunRead(9, 9, 9).payload(), seq=3))
    bad_crc = _cobs(frame3[:12] + bytes([frame3[12] ^ 0x01]) + frame3[13:])
    junk = rng.integers(1, 256, 23, dtype=np.uint8).tobytes()
    junk_with_zeros = b"\x00".join(rng.integers(1, 256, k, dtype=np.uint8).tobytes()
                                   for k in (5, 0, 17, 3, 1, 30))
    frags = Encoder(boot_id=0, seq=20).frames(m.ConfigSet(4, bytes(range(1, 65))), 9)
    # 65 full fragments (66560 bytes > 65536) and a last 1-byte one; Encoder refuses to build it.
    too_large = [Frame(0x23, bytes(1024), seq=i,
                       flags=FrameFlags.MORE | (FrameFlags.CONT if i else FrameFlags.NONE))
                 for i in range(65)]
    too_large.append(Frame(0x23, b"\x01", seq=65, flags=FrameFlags.CONT))
    # exactly MAX_MESSAGE_SIZE (64 full fragments): the largest message, received
    largest = [Frame(0x99, bytes([i]) * 1024, seq=i,
                     flags=(FrameFlags.MORE if i < 63 else FrameFlags.NONE)
                     | (FrameFlags.CONT if i else FrameFlags.NONE))
               for i in range(64)]
    sensor = Encoder(boot_id=5, seq=100)
    boot1 = Encoder(boot_id=1).frames(m.UnknownMessage(0x21, bytes(30)), 16)
    biggest = enc(0, m.UnknownMessage(0x99, b"\xff" * 1024))
    assert len(biggest) == 1041, len(biggest)  # 1040 encoded bytes + delimiter
    cases: list[tuple[str, bytes, bool]] = [
        ("all_requests_after_flush", all_req, True),
        ("empty_stream", b"", True),
        ("only_delimiters", b"\x00" * 5, True),
        ("empty_frames_between_frames", _stream(good, b"\x00\x00", good2), True),
        ("bad_crc_between_good_frames", _stream(good, bad_crc, enc(4, m.ConfigGet(6))), True),
        ("truncated_frame_cobs", _stream(good, good2[:-6] + b"\x00", enc(3, m.StatusRequest())),
         True),
        ("truncated_frame_length", _stream(_cobs(frame3[:-3]), good), True),
        ("short_frame", _stream(_cobs(b"\x01\x22\x00\x00"), good), True),
        ("length_field_larger_than_data",
         _stream(_cobs(_raw_frame(1, 0x22, 0, 1, 0, bytes(12), length=20)), good2), True),
        ("length_field_over_1024",
         _stream(_cobs(_raw_frame(1, 0x22, 0, 1, 0, bytes(12), length=1500)), good2), True),
        ("length_field_0xffff_empty",
         _stream(_cobs(_raw_frame(1, 0x01, 0, 1, 0, b"", length=0xFFFF)), good2), True),
        ("version_0", _stream(_cobs(_raw_frame(0, 0x01, 0, 1, 0, b"")), good2), True),
        ("version_2_accepted", _stream(_cobs(_raw_frame(2, 0x22, 0, 1, 0,
                                                        m.RunRead(1, 2, 3).payload()))), True),
        ("garbage_between_frames", _stream(good, junk, b"\x00", good2), True),
        ("garbage_with_zeros_between_frames", _stream(good, junk_with_zeros, b"\x00", good2),
         True),
        ("garbage_before_without_delimiter", _stream(junk, good, good2), True),
        ("garbage_after_last_frame", _stream(good, good2, junk), True),
        ("bad_cobs_code_past_end", _stream(good, b"\x09\x01\x22\x00", good2), True),
        ("overflow_1500_bytes_then_frame",
         _stream(rng.integers(1, 256, 1500, dtype=np.uint8).tobytes(), b"\x00", good), True),
        ("overflow_without_delimiter_at_end",
         _stream(good, rng.integers(1, 256, 1100, dtype=np.uint8).tobytes()), True),
        ("max_size_encoded_frame_1040", biggest, True),
        ("run_of_1040_nonzero_is_not_overflow",
         _stream(b"\x05" * 1040, b"\x00", good), True),
        ("run_of_1041_nonzero_is_overflow",
         _stream(b"\x05" * 1041, b"\x00", good), True),
        ("seq_gap_counts_lost", _stream(enc(10, m.StatusRequest()), enc(14, m.StatusRequest())),
         True),
        ("seq_wrap_65535_to_0", _stream(enc(65535, m.StatusRequest()),
                                        enc(0, m.StatusRequest())), True),
        ("reboot_new_boot_id", _stream(enc(500, m.Event(6, 1, 0), boot=3),
                                       enc(0, m.Event(6, 2, 0), boot=4)), True),
        ("repeated_seq_is_a_duplicate",
         _stream(enc(7, m.StatusRequest()), enc(7, m.StatusRequest())), True),
        ("fragmented_request_mtu23", enc(30, m.RunRead(7, 1012, 4096), maxp=9), True),
        ("fragmented_config_set_8_frames", b"".join(f.encode_stream() for f in frags), True),
        ("fragment_interrupted_by_other_type",
         _stream(frags[0].encode_stream(), frags[1].encode_stream(),
                 Frame(0x13, b"", seq=22).encode_stream(), enc(23, m.ConfigGet(1))), True),
        ("fragment_interrupted_by_seq_gap",
         _stream(frags[0].encode_stream(), frags[2].encode_stream(), frags[3].encode_stream(),
                 enc(40, m.ConfigGet(1))), True),
        ("fragment_tail_after_seq_gap_discarded",
         _stream(frags[0].encode_stream(), *(f.encode_stream() for f in frags[2:])), True),
        ("fragment_interrupted_by_reboot",
         _stream(boot1[0].encode_stream(), enc(0, m.Catalogue(()), boot=2)), True),
        ("reassembly_of_exactly_64k_received",
         _stream(*(f.encode_stream() for f in largest)), True),
        ("reassembly_over_64k_dropped",
         _stream(*(f.encode_stream() for f in too_large), enc(66, m.ConfigGet(1))), True),
        ("malformed_requests",
         _stream(_cobs(_raw_frame(1, 0x22, 0, 1, 0, bytes(5))),
                 _cobs(_raw_frame(1, 0x30, 0, 2, 0, b"")),
                 _cobs(_raw_frame(1, 0x11, 0, 3, 0, bytes(7))),
                 _cobs(_raw_frame(1, 0x25, 0, 4, 0, bytes(7))),
                 _cobs(_raw_frame(1, 0x31, 0, 5, 0, b""))), True),
        ("requests_with_trailing_bytes",
         _stream(_cobs(_raw_frame(1, 0x11, 0, 1, 0, bytes(range(1, 13)))),
                 _cobs(_raw_frame(1, 0x31, 0, 2, 0, b"\x04" + bytes(range(1, 71)))),
                 _cobs(_raw_frame(1, 0x13, 0, 3, 0, b"\x01\x02\x03")),
                 _cobs(_raw_frame(1, 0x22, 0, 4, 0, bytes(range(16))))), True),
        ("unknown_type_received_as_unknown", enc(0, m.UnknownMessage(0x99, b"future")), True),
        # SPEC §2: flag bits 2-7 are ignored on receipt, on whole messages and on fragments.
        ("reserved_flag_bits_ignored",
         _stream(_cobs(_raw_frame(1, 0x30, 0xFC, 0, 0, b"\x02")),
                 _cobs(_raw_frame(1, 0x31, 0xFD, 1, 0, b"\x01\xc8")),
                 _cobs(_raw_frame(1, 0x31, 0xFE, 2, 0, b"\x00"))), True),
        # 0xFE is CONT plus reserved bits: with no message begun, an orphan (discarded).
        ("orphan_cont_with_reserved_bits", _cobs(_raw_frame(1, 0x30, 0xFE, 0, 0, b"\x02")), True),
        ("sensor_to_host_messages",
         _stream(sensor.stream_bytes(m.Ack(0x40)),
                 sensor.stream_bytes(m.SampleBatch(10, 0, running_counts(rng, 10))),
                 sensor.stream_bytes(m.Catalogue(tuple(m.RunEntry(i, i, i, i) for i in range(60)))),
                 sensor.stream_bytes(m.Error(6, 0x42, "busy"))), True),
        ("stream_ends_mid_frame", _stream(good, good2[:-1]), True),
        # Sequence numbers (SPEC §2, loss): a gap across the wrap, a backward jump (loss, never
        # reordering), and a repeat of an older seq (only the immediately preceding one is a
        # duplicate).
        ("seq_gap_across_wrap", _stream(enc(65534, m.StatusRequest()), enc(1, m.StatusRequest())),
         True),
        ("seq_backward_jump_counts_lost",
         _stream(enc(10, m.StatusRequest()), enc(5, m.StatusRequest())), True),
        ("repeat_of_an_older_seq_is_not_a_duplicate",
         _stream(enc(7, m.StatusRequest()), enc(8, m.ConfigGet(1)), enc(7, m.StatusRequest())),
         True),
        ("duplicate_fragment_ignored",
         _stream(frags[0].encode_stream(), frags[0].encode_stream(),
                 *(f.encode_stream() for f in frags[1:])), True),
        # CONFIG_SET values are at most 64 bytes (SPEC §3): 65 is malformed, whole or fragmented
        ("config_set_value_65_bytes_malformed",
         _stream(_cobs(_raw_frame(1, 0x31, 0, 1, 0, b"\x04" + bytes(range(1, 66)))), good2),
         True),
        ("config_set_value_65_bytes_fragmented_malformed",
         _stream(*(f.encode_stream() for f in Encoder(seq=1).frames(
             m.UnknownMessage(0x31, b"\x04" + bytes(range(1, 66))), 9)),
             enc(9, m.ConfigGet(5))), True),
        ("frames_whose_crc_holds_zero_bytes",
         _stream(*(crc_zero_frame(want, seq).encode_stream()
                   for seq, want in enumerate(CRC_ZERO_CASES.values()))), True),
    ]
    out = [{"name": name, "stream": data.hex(), "c_receiver": c_ok,
            "events": decode_stream_records(data)} for name, data, c_ok in cases]
    return _doc("stream_decode", "COBS byte streams (serial, files) and the events "
                "StreamDecoder reports when fed the whole stream at once. 'c_receiver': the "
                "firmware-side C receiver reproduces the outcome (it decodes requests only).", out)


def packet_decode_vectors() -> Json:
    def frame(mtype: int, payload: bytes, seq: int = 0, boot: int = 0) -> bytes:
        return _raw_frame(1, mtype, 0, seq, boot, payload)

    dev = m.DeviceInfo(1, (1, 0, 0), 1, 200, 16, 2000, ACC_LSB_MS2, GYR_LSB_RADS, 1, "x").payload()
    status = m.Status(50, 3900, 0, 0, 0, 0, 0).payload()
    nan = struct.pack("<f", float("nan"))
    host_mtu23 = [bytes(f) for f in Encoder(seq=5).frames(m.RunRead(7, 1012, 4096), 9)]
    ok = bytes(Frame(0x13, b"", seq=9))
    one_each: list[m.AnyMessage] = [m.DeviceInfoRequest(), m.TimeSyncRequest(1),
                                    m.RunRead(1, 2, 3), m.ConfigSet(1, b"\xc8\x00")]
    cases: list[tuple[str, list[bytes], bool]] = [
        ("each_request_one_packet",
         [bytes(f) for i, q in enumerate(one_each) for f in Encoder(seq=i).frames(q)], True),
        ("fragmented_ble_mtu23", host_mtu23, True),
        ("empty_packet", [b"", ok], True),
        ("short_packet", [b"\x01\x13\x00", ok], True),
        ("bad_crc", [ok[:-1] + bytes([ok[-1] ^ 0x80]), ok], True),
        ("trailing_byte_length_mismatch", [ok + b"\x00", ok], True),
        ("version_0", [_raw_frame(0, 0x13, 0, 0, 0, b""), ok], True),
        ("seq_gap", [bytes(Frame(0x13, b"", seq=1)), bytes(Frame(0x13, b"", seq=5))], True),
        # sensor -> host payloads that are malformed: hosts drop them (the C firmware code does
        # not decode sensor -> host messages, hence c_receiver false)
        ("status_battery_over_100", [frame(0x14, b"\x65" + status[1:])], False),
        ("device_info_name_len_33", [frame(0x02, dev[:26] + b"\x21" + b"a" * 33)], False),
        ("device_info_name_invalid_utf8", [frame(0x02, dev[:26] + b"\x02\xc3\x28")], False),
        ("device_info_zero_acc_scale", [frame(0x02, dev[:17] + bytes(4) + dev[21:])], False),
        ("device_info_nan_gyr_scale", [frame(0x02, dev[:21] + nan + dev[25:])], False),
        ("device_info_zero_sample_rate", [frame(0x02, dev[:12] + bytes(2) + dev[14:])], False),
        ("device_info_zero_acc_range", [frame(0x02, dev[:14] + bytes(1) + dev[15:])], False),
        ("device_info_zero_gyr_range", [frame(0x02, dev[:15] + bytes(2) + dev[17:])], False),
        ("sample_batch_n_exceeds_data", [frame(0x10, struct.pack("<QIH", 0, 0, 3) + bytes(24))],
         False),
        ("sample_batch_device_time_2_63", [frame(0x10, struct.pack("<QIH", 2**63, 0, 1)
                                                 + bytes(12))], False),
        ("catalogue_count_exceeds_entries", [frame(0x21, b"\x02\x00" + bytes(20))], False),
        ("event_12_bytes", [frame(0x50, bytes(12))], False),
        ("ack_empty", [frame(0x7E, b"")], False),
        ("error_2_bytes", [frame(0x7F, b"\x01\x00")], False),
        ("run_chunk_11_bytes", [frame(0x23, bytes(11))], False),
        ("time_sync_15_bytes", [frame(0x12, bytes(15))], False),
        ("status_with_trailing_fields", [frame(0x14, status + b"\xaa\xbb\xcc\xdd")], False),
        ("error_invalid_utf8_text_replaced", [frame(0x7F, b"\x02\x00\x22" + b"ok\xff")], False),
        # ERROR is decoded leniently (SPEC §3.5): text beyond 200 bytes is cut; after invalid
        # bytes become U+FFFD (3 bytes each) the text is clipped again to 200 bytes
        ("error_text_over_200_bytes_cut", [frame(0x7F, b"\x09\x00\x22" + b"e" * 250)], False),
        ("error_text_invalid_utf8_clipped_to_200",
         [frame(0x7F, b"\x09\x00\x22" + b"\xff" * 200)], False),
        # BLE delivers a notification twice (a retransmission the stack did not filter): ignored
        ("duplicate_packet_ignored", [ok, ok, bytes(Frame(0x13, b"", seq=10))], True),
    ]
    out = [{"name": name, "packets": [p.hex() for p in pk], "c_receiver": c_ok,
            "events": decode_packet_records(pk)} for name, pk, c_ok in cases]
    return _doc("packet_decode", "BLE: one frame per packet (no COBS), and the events "
                "PacketDecoder reports. 'c_receiver' as in stream_decode.json.", out)


def sensor_answers(packets: Sequence[bytes]) -> list[Json]:
    """What a sensor answers to ``packets`` received in order (SPEC §2, versioning).

    A request it decodes is served; a message of a type that is no request gets ERROR 1 naming
    it; a malformed request, or one too long to reassemble, ERROR 2 (a malformed or oversized
    message of another type ERROR 1); damage below the message layer gets nothing.
    """
    dec = PacketDecoder()
    out: list[Json] = []
    for ev in (e for p in packets for e in dec.feed(p)):
        if isinstance(ev, Received):
            t = m.message_type(ev.message)
            out.append({"answer": "serve", "type": t} if t in REQUEST_TYPES
                       else {"answer": "error", "code": 1, "request_type": t})
        elif isinstance(ev, Dropped) and ev.msg_type is not None:
            out.append({"answer": "error", "code": 2 if ev.msg_type in REQUEST_TYPES else 1,
                        "request_type": ev.msg_type})
    return out


def answer_vectors() -> Json:
    def frame(mtype: int, payload: bytes, seq: int, flags: int = 0, version: int = 1) -> bytes:
        return _raw_frame(version, mtype, flags, seq, 0, payload)

    def frags(msg: m.AnyMessage, maxp: int, seq: int) -> list[bytes]:
        return [bytes(f) for f in Encoder(seq=seq).frames(msg, maxp)]

    requests: list[m.AnyMessage] = [
        m.DeviceInfoRequest(), m.TimeSyncRequest(1), m.StatusRequest(), m.CatalogueRequest(),
        m.RunRead(7, 0, 4096), m.RunErase(7, 0xCBF43926), m.ConfigGet(1),
        m.ConfigSet(6, struct.pack("<Q", 1_732_000_000_000)), m.StreamStart(), m.StreamStop(),
        m.RecordStart(), m.RecordStop()]
    enc = Encoder(seq=0)
    status = bytes(m.StatusRequest().payload())
    dev = m.DeviceInfo(1, (1, 0, 0), 1, 200, 16, 2000, ACC_LSB_MS2, GYR_LSB_RADS, 1, "x").payload()
    # a CONFIG_SET of 67,585 bytes: past MAX_MESSAGE_SIZE at its 65th fragment, then 2 orphans
    huge = [Frame(0x31, (b"\x04" if i == 0 else b"") + bytes(1024 - (i == 0)), seq=i,
                  flags=(FrameFlags.MORE if i < 65 else FrameFlags.NONE)
                  | (FrameFlags.CONT if i else FrameFlags.NONE)) for i in range(66)]
    huge.append(Frame(0x31, b"\x01", seq=66, flags=FrameFlags.CONT))
    huge_unknown = [dataclasses.replace(f, type=0x99) for f in huge]
    read_mtu23 = frags(m.RunRead(7, 1012, 4096), 9, 30)
    cases: list[tuple[str, list[bytes]]] = [
        ("every_request_served", [bytes(f) for q in requests for f in enc.frames(q)]),
        ("sensor_to_host_types_are_unknown_requests",
         [frame(0x02, dev, 1), frame(0x7E, b"\x40", 2), frame(0x7F, b"\x01\x00\x22", 3),
          frame(0x10, struct.pack("<QIH", 0, 0, 0), 4),
          frame(0x14, b"\x65" + bytes(21), 5)]),  # a STATUS the host would drop: still ERROR 1
        ("unknown_types", [frame(t, b"", i) for i, t in enumerate((0x00, 0x03, 0x24, 0x44, 0x99,
                                                                    0xFF))]),
        ("malformed_requests_bad_request",
         [frame(0x11, bytes(7), 1), frame(0x22, bytes(11), 2), frame(0x25, bytes(7), 3),
          frame(0x30, b"", 4), frame(0x31, b"", 5), frame(0x31, b"\x04" + bytes(65), 6)]),
        ("requests_with_trailing_bytes_served",
         [frame(0x01, b"\x01", 1), frame(0x22, bytes(20), 2), frame(0x30, b"\x01\x02\x03", 3)]),
        ("config_set_value_64_served_65_bad_request",
         [frame(0x31, b"\x04" + bytes(64), 1), frame(0x31, b"\x04" + bytes(65), 2)]),
        ("fragmented_request_answered_once", read_mtu23),
        ("oversized_request_answered_once_then_next_served",
         [*(bytes(f) for f in huge), frame(0x13, status, 67)]),
        ("oversized_unknown_type_answered_once",
         [*(bytes(f) for f in huge_unknown), frame(0x13, status, 67)]),
        ("damage_gets_no_answer",
         [frame(0x13, status, 1)[:-1] + b"\x00", frame(0x13, status, 2)[:5],
          frame(0x13, status, 3, version=0), frame(0x30, b"\x01", 4, flags=FrameFlags.CONT),
          frame(0x13, status, 5), frame(0x13, status, 5), frame(0x13, status, 6)]),
        ("lost_fragment_leaves_the_request_unanswered",
         [read_mtu23[0], frame(0x13, status, 32)]),
        ("reserved_flag_bits_ignored", [frame(0x30, b"\x02", 1, flags=0xFC)]),
    ]
    out = [{"name": name, "packets": [p.hex() for p in pk], "answers": sensor_answers(pk)}
           for name, pk in cases]
    return _doc("answers", "What the sensor answers (SPEC §2, versioning) to frames it receives "
                "in order, one per packet (over serial: after COBS decoding), with a receive "
                "buffer of MAX_MESSAGE_SIZE: 'serve' a decoded request (its answer depends on "
                "the sensor's state), or ERROR 'code' naming 'request_type'; damage gets none.",
                out)


# --------------------------------------------------------------------------- driver
BUILDERS: Final[dict[str, Callable[[], Json]]] = {
    "crc.json": crc_vectors,
    "cobs.json": cobs_vectors,
    "frames.json": frame_vectors,
    "messages.json": message_vectors,
    "fragments.json": fragment_vectors,
    "samples.json": sample_vectors,
    "runs.json": run_vectors,
    "runs_corrupt.json": corrupt_run_vectors,
    "stream_decode.json": stream_decode_vectors,
    "packet_decode.json": packet_decode_vectors,
    "answers.json": answer_vectors,
}


def render(doc: Json) -> str:
    """The exact text of a vector file (stable key order, one trailing newline)."""
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """File name -> text for every vector file of this protocol version."""
    return {name: render(builder()) for name, builder in BUILDERS.items()}


def load(name: str) -> Json:
    """A committed vector file, parsed."""
    doc: Json = json.loads((OUT_DIR / name).read_text(encoding="utf-8"))
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="compare with the committed files instead of writing them")
    args = ap.parse_args(argv)
    files = build_all()
    if args.check:
        stale = [n for n, text in files.items()
                 if not (OUT_DIR / n).exists()
                 or (OUT_DIR / n).read_text(encoding="utf-8") != text]
        for n in stale:
            print(f"{OUT_DIR / n}: differs from a fresh generation", file=sys.stderr)
        return 1 if stale else 0
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for n, text in files.items():
        (OUT_DIR / n).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
