"""Shared helpers for the wire-protocol tests: message strategies and the four feeding modes.

Every decoder is fed the same input four ways (STYLE habit 5): whole, one byte at a time,
seeded random chunks, and with garbage around the frames. The helpers here return the events
*and* the decoder's stats so a test can demand that all of them agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from firmware_protocol import messages as m
from firmware_protocol.codec import (
    DecoderStats,
    Dropped,
    PacketDecoder,
    ParseEvent,
    Received,
    StreamDecoder,
)
from firmware_protocol.frame import Frame, FrameFlags

CHUNK_SEEDS = (0, 1, 2, 3, 4, 5, 6, 7)

U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFF_FFFF)
U64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)
U63 = st.integers(0, 2**63 - 1)  # SAMPLE_BATCH.device_time_us (SPEC §3.2)
#: Positive finite float32 values (the scale factors travel as f32, so only these round-trip).
POS_F32 = st.floats(min_value=0.0, exclude_min=True, allow_nan=False, allow_infinity=False,
                    width=32)


def utf8_at_most(max_bytes: int) -> st.SearchStrategy[str]:
    """Unicode text whose UTF-8 encoding fits ``max_bytes``, with the edge cases always tried."""
    def clip(s: str) -> str:
        return s.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")

    edges = ["", "x" * max_bytes, "é" * (max_bytes // 2), "🏃" * (max_bytes // 4),
             "a" + "€" * ((max_bytes - 1) // 3)]
    return st.one_of(st.sampled_from(edges), st.text(max_size=max_bytes).map(clip))


def counts_arrays(max_n: int, min_n: int = 0) -> st.SearchStrategy[np.ndarray]:
    """``(n, 6)`` int16 sample counts, extremes included (hypothesis favours the bounds)."""
    return hnp.arrays(np.int16, st.tuples(st.integers(min_n, max_n), st.just(6)),
                      elements=st.integers(-32768, 32767))


def _catalogue(max_runs: int) -> st.SearchStrategy[m.Catalogue]:
    entry = st.builds(m.RunEntry, U32, U64, U32, U32)
    return st.lists(entry, max_size=max_runs).map(lambda rs: m.Catalogue(tuple(rs)))


def message_strategies(max_batch: int = 40, max_runs: int = 20,
                       max_chunk: int = 600) -> dict[type, st.SearchStrategy]:
    """One strategy per message class of protocol v1, generating only valid field values."""
    return {
        m.DeviceInfoRequest: st.just(m.DeviceInfoRequest()),
        m.DeviceInfo: st.builds(
            m.DeviceInfo, U64, st.tuples(U8, U8, U8), U8, st.integers(1, 0xFFFF),
            st.integers(1, 0xFF), st.integers(1, 0xFFFF), POS_F32, POS_F32, U8,
            utf8_at_most(m.MAX_NAME_BYTES)),
        m.SampleBatch: st.builds(m.SampleBatch, U63, U32, counts_arrays(max_batch)),
        m.TimeSyncRequest: st.builds(m.TimeSyncRequest, U64),
        m.TimeSync: st.builds(m.TimeSync, U64, U64),
        m.StatusRequest: st.just(m.StatusRequest()),
        m.Status: st.builds(m.Status, st.integers(0, 100), U16, U32, U32, U8, U16, U64),
        m.CatalogueRequest: st.just(m.CatalogueRequest()),
        m.Catalogue: _catalogue(max_runs),
        m.RunRead: st.builds(m.RunRead, U32, U32, U32),
        m.RunChunk: st.builds(m.RunChunk, U32, U32, U32, st.binary(max_size=max_chunk)),
        m.RunErase: st.builds(m.RunErase, U32, U32),
        m.RunErased: st.builds(m.RunErased, U32),
        m.ConfigGet: st.builds(m.ConfigGet, U8),
        m.ConfigSet: st.builds(m.ConfigSet, U8, st.binary(max_size=64)),
        m.ConfigValue: st.builds(m.ConfigValue, U8, st.binary(max_size=64)),
        m.StreamStart: st.just(m.StreamStart()),
        m.StreamStop: st.just(m.StreamStop()),
        m.RecordStart: st.just(m.RecordStart()),
        m.RecordStop: st.just(m.RecordStop()),
        m.Event: st.builds(m.Event, U8, U64, U32),
        m.Ack: st.builds(m.Ack, U8),
        m.Error: st.builds(m.Error, U16, U8, utf8_at_most(m.MAX_TEXT_BYTES)),
    }


def any_message(**kw: int) -> st.SearchStrategy:
    return st.one_of(*message_strategies(**kw).values())


def example_messages() -> list[m.AnyMessage]:
    """One fixed, non-trivial instance of every message type (for table-driven tests)."""
    rng = np.random.default_rng(1234)
    return [
        m.DeviceInfoRequest(),
        m.DeviceInfo(0x0123_4567_89AB_CDEF, (1, 2, 3), 1, 200, 16, 2000, 0.00048828125,
                     float(np.float32(0.00106526865)), m.MountingHint.SACRUM_CLIP,
                     "imurun-CDEF"),
        m.SampleBatch(123_456_789, 4000, rng.integers(-32768, 32768, (10, 6), dtype=np.int16)),
        m.TimeSyncRequest(2**64 - 1),
        m.TimeSync(1_700_000_000_000_000, 42),
        m.StatusRequest(),
        m.Status(87, 4012, 1 << 20, 7 << 20, m.RecordingState.RECORDING, 3, 99),
        m.CatalogueRequest(),
        m.Catalogue((m.RunEntry(1, 1_700_000_000_000, 12345, 0xDEADBEEF),
                     m.RunEntry(2, 1_700_000_100_000, 999, 0x01020304))),
        m.RunRead(7, 0, 4096),
        m.RunChunk.make(7, 1012, bytes(range(256)) * 2),
        m.RunErase(7, 0xCAFEF00D),
        m.RunErased(7),
        m.ConfigGet(m.ConfigKey.SAMPLE_RATE_HZ),
        m.ConfigSet(m.ConfigKey.DEVICE_NAME, b"imurun-test"),
        m.ConfigValue(m.ConfigKey.SAMPLE_RATE_HZ, (200).to_bytes(2, "little")),
        m.StreamStart(),
        m.StreamStop(),
        m.RecordStart(),
        m.RecordStop(),
        m.Event(m.EventCode.BUTTON, 5_000_000, 1),
        m.Ack(m.MessageType.STREAM_START),
        m.Error(m.ErrorCode.UNKNOWN_RUN, m.MessageType.RUN_READ, "no run 9 ✗"),
    ]


# --------------------------------------------------------------------------- feeding
def random_chunks(data: bytes, seed: int, max_chunk: int = 97) -> list[bytes]:
    """Cut ``data`` at seeded random points; empty chunks are included on purpose."""
    rng = np.random.default_rng(seed)
    out, pos = [], 0
    while pos < len(data):
        n = int(rng.integers(0, max_chunk + 1))
        out.append(data[pos:pos + n])
        pos += n
    return out


def feed_stream(chunks: Iterable[bytes]) -> tuple[list[ParseEvent], DecoderStats, StreamDecoder]:
    dec = StreamDecoder()
    events: list[ParseEvent] = []
    for c in chunks:
        events.extend(dec.feed(c))
    return events, replace(dec.stats), dec


def stream_four_ways(data: bytes) -> dict[str, tuple[list[ParseEvent], DecoderStats]]:
    """The whole stream, one byte at a time and several seeded chunkings."""
    runs = {"whole": feed_stream([data])[:2],
            "bytewise": feed_stream(data[i:i + 1] for i in range(len(data)))[:2]}
    for seed in CHUNK_SEEDS:
        runs[f"seed{seed}"] = feed_stream(random_chunks(data, seed))[:2]
    return runs


def feed_packets(packets: Iterable[bytes]) -> tuple[list[ParseEvent], DecoderStats]:
    dec = PacketDecoder()
    events: list[ParseEvent] = []
    for p in packets:
        events.extend(dec.feed(p))
    return events, replace(dec.stats)


def received(events: Iterable[ParseEvent]) -> list[m.AnyMessage]:
    return [e.message for e in events if isinstance(e, Received)]


def kinds(events: Iterable[ParseEvent]) -> list[str]:
    return [type(e).__name__ for e in events]


def without_dropped(events: Iterable[ParseEvent]) -> list[ParseEvent]:
    return [e for e in events if not isinstance(e, Dropped)]


def stream_of(frames: Sequence[Frame]) -> tuple[bytes, list[int]]:
    """COBS stream of ``frames`` and the stream offset where each frame starts."""
    parts = [f.encode_stream() for f in frames]
    offsets = np.concatenate(([0], np.cumsum([len(p) for p in parts]))).tolist()
    return b"".join(parts), offsets[:-1]


def garbage(rng: np.random.Generator, n: int, *, zeros: bool) -> bytes:
    """``n`` random bytes; without zeros they cannot contain a COBS delimiter."""
    lo = 0 if zeros else 1
    return rng.integers(lo, 256, n, dtype=np.uint8).tobytes()


def frag_flags(i: int, n: int) -> FrameFlags:
    """Flags of fragment ``i`` of ``n`` under the continuation rule (SPEC §2)."""
    flags = FrameFlags.NONE
    if i < n - 1:
        flags |= FrameFlags.MORE
    if i > 0:
        flags |= FrameFlags.CONT
    return flags
