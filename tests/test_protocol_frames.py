"""Frames, CRCs, COBS and the two incremental decoders (SPEC.md §2, §4).

The decoders are tested four ways (STYLE habit 5): whole input, one byte at a time, seeded
random chunks, and with garbage before/between/after the frames. Every way must report the same
messages, the same Lost/Rebooted/Dropped events and the same counters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_support import (
    U16,
    example_messages,
    feed_packets,
    feed_stream,
    frag_flags,
    garbage,
    kinds,
    received,
    stream_four_ways,
    stream_of,
    without_dropped,
)

from firmware_protocol import messages as m
from firmware_protocol.codec import (
    DecoderStats,
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
from firmware_protocol.errors import FrameError, ProtocolError
from firmware_protocol.frame import (
    HEADER_SIZE,
    MAX_ENCODED_FRAME,
    MAX_FRAME_PAYLOAD,
    OVERHEAD,
    Frame,
    FrameFlags,
    cobs_decode,
    cobs_encode,
    seq_distance,
)


# --------------------------------------------------------------------------- CRC and COBS
def test_crc_check_values() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert crc32(b"123456789") == 0xCBF43926


def test_crcs_continue_across_pieces() -> None:
    assert crc16_ccitt_false(b"56789", crc16_ccitt_false(b"1234")) == 0x29B1
    assert crc32(b"56789", crc32(b"1234")) == 0xCBF43926


def test_cobs_spec_example() -> None:
    assert cobs_encode(bytes.fromhex("11220033")) == bytes.fromhex("0311220233")
    assert cobs_decode(bytes.fromhex("0311220233")) == bytes.fromhex("11220033")


@settings(max_examples=200)
@given(st.binary(max_size=1100))
def test_cobs_round_trip_and_overhead(data: bytes) -> None:
    enc = cobs_encode(data)
    assert 0 not in enc
    assert len(enc) <= len(data) + len(data) // 254 + 1
    assert cobs_decode(enc) == data


@pytest.mark.parametrize("bad", [b"\x05\x11", b"\x03\x11\x00", b"\x02"])
def test_invalid_cobs_is_a_frame_error(bad: bytes) -> None:
    with pytest.raises(FrameError):
        cobs_decode(bad)


# --------------------------------------------------------------------------- frames
def test_frame_layout_matches_the_spec_table() -> None:
    f = Frame(0x7E, b"\x40", seq=0x0102, boot_id=0x0304, flags=FrameFlags.MORE)
    body = bytes([1, 0x7E, 0x01, 0x02, 0x01, 0x04, 0x03, 0x01, 0x00, 0x40])
    assert bytes(f) == body + crc16_ccitt_false(body).to_bytes(2, "little")
    assert len(bytes(f)) == OVERHEAD + 1
    assert f.encode_stream() == cobs_encode(bytes(f)) + b"\x00"


@settings(max_examples=200)
@given(st.integers(0, 255), st.binary(max_size=MAX_FRAME_PAYLOAD), U16, U16,
       st.integers(0, 255), st.integers(1, 255))
def test_frame_round_trip(mtype: int, payload: bytes, seq: int, boot: int, flags: int,
                          version: int) -> None:
    f = Frame(mtype, payload, seq, boot, FrameFlags(flags), version)
    raw = bytes(f)
    assert len(raw) == OVERHEAD + len(payload)
    assert Frame.from_bytes(raw) == f
    assert Frame.from_bytes(memoryview(bytearray(raw))) == f


def _with_crc(body: bytes) -> bytes:
    return body + crc16_ccitt_false(body).to_bytes(2, "little")


@pytest.mark.parametrize(("raw", "why"), [
    (b"", "shorter"),
    (bytes(OVERHEAD - 1), "shorter"),
    (_with_crc(bytes([1, 2, 0, 0, 0, 0, 0, 0x01, 0x04]) + bytes(1025)), "exceeds"),
    (_with_crc(bytes([1, 2, 0, 0, 0, 0, 0, 3, 0]) + b"ab"), "declares"),
    (_with_crc(bytes([1, 2, 0, 0, 0, 0, 0, 1, 0]) + b"abc"), "declares"),
    (bytes([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]), "CRC"),
    (_with_crc(bytes([0, 2, 0, 0, 0, 0, 0, 0, 0])), "version 0"),
])
def test_frame_rejections(raw: bytes, why: str) -> None:
    with pytest.raises(FrameError, match=why) as ei:
        Frame.from_bytes(raw)
    assert isinstance(ei.value, ProtocolError)
    assert isinstance(ei.value, ValueError)


def test_every_single_bit_flip_is_caught() -> None:
    raw = bytes(Frame(0x10, bytes(range(40)), 5, 6))
    for i in range(len(raw) * 8):
        bad = bytearray(raw)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(FrameError):
            Frame.from_bytes(bytes(bad))


def test_worst_case_frame_fits_the_stream_bound() -> None:
    # No zero anywhere except the unavoidable low byte of length 1024: most COBS overhead.
    # Flags: every reserved bit set, CONT and MORE clear (a whole message).
    f = Frame(0xFF, b"\xff" * MAX_FRAME_PAYLOAD, 0xFFFF, 0xFFFF, FrameFlags(0xFC), 0xFF)
    enc = f.encode_stream()
    assert len(enc) - 1 <= MAX_ENCODED_FRAME
    expected = [Received(m.UnknownMessage(0xFF, b"\xff" * 1024), 0xFFFF, 0xFFFF, 0xFF, 1)]
    assert StreamDecoder().feed(enc) == expected
    assert feed_stream(enc[i:i + 1] for i in range(len(enc)))[0] == expected


def test_seq_distance() -> None:
    assert seq_distance(5, 6) == 0
    assert seq_distance(65535, 0) == 0
    assert seq_distance(65534, 1) == 2
    assert seq_distance(10, 10) == 65535  # a repeat reads as a full wrap (SPEC formula)


# --------------------------------------------------------------------------- a scripted session
@dataclass
class Session:
    """Frames as the sender emitted them, which of them arrive, and the events they must give.

    ``expected`` holds events, with ``("dropped", i)`` standing for a Dropped event of arriving
    frame ``i`` (its offset depends on the link) and ``("malformed", i)`` for one whose frame was
    whole but its message malformed (the event then names the frame's type).
    """

    frames: list[Frame] = field(default_factory=list)
    expected: list[ParseEvent | tuple[str, int]] = field(default_factory=list)
    stats: DecoderStats = field(default_factory=DecoderStats)

    def send(self, frames: list[Frame], *events: ParseEvent | str) -> None:
        for e in events:
            if e in ("dropped", "malformed"):
                self.expected.append((str(e), len(self.frames) + len(frames) - 1))
            else:
                self.expected.append(e)
        self.frames.extend(frames)


def build_session() -> Session:
    """Wrap, loss, fragments discarded three ways, malformed, unknown, reboot, version 2."""
    s = Session()
    enc = Encoder(boot_id=7, seq=65533)
    ack = m.Ack(0x40)
    s.send(enc.frames(ack), Received(ack, 65533, 7, 1))
    chunk = m.RunChunk.make(1, 0, bytes(range(200)))  # 212 bytes -> 3 fragments across the wrap
    s.send(enc.frames(chunk, max_payload=100), Received(chunk, 0, 7, 1, 3))
    ev = m.Event(1, 10, 0)
    s.send(enc.frames(ev), Received(ev, 1, 7, 1))
    enc.frames(m.Ack(1))  # seq 2 and 3 are sent but never arrive
    enc.frames(m.Ack(2))
    ts = m.TimeSync(1, 2)
    s.send(enc.frames(ts), Lost(2, 4, 7), Received(ts, 4, 7, 1))
    cat = m.Catalogue(tuple(m.RunEntry(i, i, i, i) for i in range(10)))  # 202 bytes
    s.send(enc.frames(cat, max_payload=80)[:2])  # seq 5, 6 arrive; 7 (the last) is lost
    enc.seq = 8
    st_ = m.Status(50, 3900, 1, 2, 0, 0, 3)
    s.send(enc.frames(st_), Lost(1, 8, 7), Received(st_, 8, 7, 1))
    s.send([Frame(m.MessageType.ACK, b"", 9, 7)], "malformed")  # too short
    s.send([Frame(0x99, b"xyz", 10, 7)], Received(m.UnknownMessage(0x99, b"xyz"), 10, 7, 1))
    enc.seq = 11
    s.send(enc.frames(cat, max_payload=80)[:2])  # seq 11, 12, then the sensor restarts
    enc2 = Encoder(boot_id=8, seq=0)
    boot = m.Event(m.EventCode.BOOT, 0, 0)
    s.send(enc2.frames(boot), Rebooted(7, 8), Received(boot, 0, 8, 1))
    s.send([Frame(m.MessageType.RUN_CHUNK, b"\x00" * 20, 1, 8, FrameFlags.MORE)])
    ack2 = m.Ack(0x41)
    s.send([Frame(m.MessageType.ACK, b"\x41", 2, 8)], Received(ack2, 2, 8, 1))  # type change
    enc3 = Encoder(boot_id=8, seq=3, version=2)
    batch = m.SampleBatch(1000, 0, np.arange(60, dtype=np.int16).reshape(10, 6))
    s.send(enc3.frames(batch), Received(batch, 3, 8, 2))
    ack3 = m.Ack(0x42)
    s.send([Frame(m.MessageType.ACK, b"\x42", 4, 8, FrameFlags(0xFC))],  # reserved bits set
           Received(ack3, 4, 8, 1))
    s.stats = DecoderStats(frames_ok=len(s.frames), frames_lost=3, messages=10,
                           messages_unknown=1, messages_malformed=1, fragments_discarded=5,
                           reboots=1)
    return s


def _resolve(s: Session, offsets: list[int], sizes: list[int]) -> list[ParseEvent]:
    out: list[ParseEvent] = []
    for e in s.expected:
        if isinstance(e, tuple):
            kind, i = e
            out.append(Dropped("", offsets[i], sizes[i],
                               s.frames[i].type if kind == "malformed" else None))
        else:
            out.append(e)
    return out


def _blank_reasons(events: list[ParseEvent]) -> list[ParseEvent]:
    return [replace(e, reason="") if isinstance(e, Dropped) else e for e in events]


def test_session_stream_four_ways() -> None:
    s = build_session()
    data, offsets = stream_of(s.frames)
    sizes = [len(f.encode_stream()) for f in s.frames]
    expected = _resolve(s, offsets, sizes)
    runs = stream_four_ways(data)
    whole_events, whole_stats = runs["whole"]
    assert _blank_reasons(whole_events) == expected
    assert "0x7E" in next(e for e in whole_events if isinstance(e, Dropped)).reason
    assert whole_stats == replace(s.stats, bytes_in=len(data))
    for name, (events, stats) in runs.items():
        assert events == whole_events, name
        assert stats == whole_stats, name


def test_session_packets_every_way() -> None:
    s = build_session()
    packets = [bytes(f) for f in s.frames]
    offsets = np.concatenate(([0], np.cumsum([len(p) for p in packets]))).tolist()
    expected = _resolve(s, offsets, [len(p) for p in packets])
    events, stats = feed_packets(packets)
    assert _blank_reasons(events) == expected
    assert stats == replace(s.stats, bytes_in=sum(map(len, packets)))
    # The same frames through one decoder instance per call pattern: bytearray and memoryview.
    events2, stats2 = feed_packets(memoryview(bytearray(p)) for p in packets)
    assert (events2, stats2) == (events, stats)


@pytest.mark.parametrize("zeros", [False, True], ids=["garbage-no-zero", "garbage-with-zeros"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_session_stream_with_garbage(zeros: bool, seed: int) -> None:
    """Delimited garbage before, between and after frames costs nothing but Dropped events."""
    rng = np.random.default_rng(seed)
    s = build_session()
    clean = feed_stream([stream_of(s.frames)[0]])
    parts, n_pieces = [], 0
    for f in [*s.frames, None]:
        if rng.random() < 0.7:
            # Lengths up to 3x the stream decoder's bound so overflow is exercised too.
            g = garbage(rng, int(rng.choice([1, 5, 40, 300, 1040, 1041, 3000])), zeros=zeros)
            parts.append(g + b"\x00")
            n_pieces += sum(1 for piece in g.split(b"\x00") if piece)
        if f is not None:
            parts.append(f.encode_stream())
    data = b"".join(parts)
    runs = stream_four_ways(data)
    events, stats = runs["whole"]
    assert without_dropped(events) == without_dropped(clean[0])
    assert received(events) == received(clean[0])
    assert sum(isinstance(e, Dropped) for e in events) == 1 + n_pieces
    assert stats == replace(clean[1], bytes_in=len(data), frames_corrupt=n_pieces)
    for name, run in runs.items():
        assert run == runs["whole"], name


def test_undelimited_trailing_bytes_wait_quietly() -> None:
    frame = Frame(0x7E, b"\x01").encode_stream()
    dec = StreamDecoder()
    assert dec.feed(frame + b"\x05\x06\x07") == [Received(m.Ack(1), 0, 0, 1)]
    assert dec.pending_bytes == 3
    assert kinds(dec.feed(b"\x00")) == ["Dropped"]
    assert dec.pending_bytes == 0


def test_empty_frames_and_leading_flush_are_ignored() -> None:
    one = Frame(0x7E, b"\x01", 0).encode_stream()
    two = Frame(0x7E, b"\x02", 1).encode_stream()
    events, stats, _ = feed_stream([b"\x00\x00" + one + b"\x00\x00\x00" + two])
    assert events == [Received(m.Ack(1), 0, 0, 1), Received(m.Ack(2), 1, 0, 1)]
    assert stats.frames_corrupt == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_session_packets_with_garbage_packets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = build_session()
    clean = feed_packets(bytes(f) for f in s.frames)
    packets, n_bad = [], 0
    for f in [*s.frames, None]:
        for _ in range(int(rng.integers(0, 3))):
            packets.append(garbage(rng, int(rng.integers(0, 300)), zeros=True))
            n_bad += 1
        if f is not None:
            packets.append(bytes(f))
    events, stats = feed_packets(packets)
    assert without_dropped(events) == without_dropped(clean[0])
    assert sum(isinstance(e, Dropped) for e in events) == 1 + n_bad
    assert stats == replace(clean[1], bytes_in=sum(map(len, packets)), frames_corrupt=n_bad)


def test_packet_decoder_four_ways() -> None:
    """BLE keeps boundaries, so the ways are: big packets, the smallest packets (one 9-byte
    fragment at a time), seeded random packet sizes per message, and garbage packets around."""
    msgs = example_messages()

    def packets(size_of: Callable[[int], int]) -> list[bytes]:
        enc = Encoder(boot_id=2, seq=65000)
        return [p for i, x in enumerate(msgs) for p in enc.packets(x, size_of(i))]

    ways = {"mtu247": packets(lambda i: 247), "mtu20": packets(lambda i: 20)}
    for seed in (0, 1, 2, 3):
        sizes = np.random.default_rng(seed).integers(20, 248, len(msgs))
        ways[f"seed{seed}"] = packets(lambda i, sizes=sizes: int(sizes[i]))
    rng = np.random.default_rng(9)
    noisy: list[bytes] = []
    for p in ways["mtu20"]:
        if rng.random() < 0.3:
            noisy.append(garbage(rng, int(rng.integers(0, 260)), zeros=True))
        noisy.append(p)
    noisy.append(b"")
    ways["garbage"] = noisy
    for name, pk in ways.items():
        events, stats = feed_packets(pk)
        assert received(events) == msgs, name
        assert (stats.frames_lost, stats.reboots, stats.fragments_discarded) == (0, 0, 0), name
        assert stats.frames_ok == len(pk) - stats.frames_corrupt, name
    assert feed_packets(noisy)[1].frames_corrupt == len(noisy) - len(ways["mtu20"])


# --------------------------------------------------------------------------- sequence tracking
@settings(max_examples=100)
@given(U16, st.integers(1, 65535), U16)
def test_loss_is_counted_across_any_gap_and_wrap(start: int, gap: int, boot: int) -> None:
    first = Frame(0x7E, b"\x01", start, boot)
    second = Frame(0x7E, b"\x02", (start + gap) % 65536, boot)
    for events, stats in (feed_packets([bytes(first), bytes(second)]),
                          feed_stream([first.encode_stream() + second.encode_stream()])[:2]):
        missing = gap - 1
        assert [e for e in events if isinstance(e, Lost)] == (
            [Lost(missing, second.seq, boot)] if missing else [])
        assert stats.frames_lost == missing
        assert received(events) == [m.Ack(1), m.Ack(2)]


def test_seq_wrap_is_not_loss() -> None:
    enc = Encoder(boot_id=3, seq=65530)
    msgs = [m.Ack(i) for i in range(12)]
    data = b"".join(enc.stream_bytes(x) for x in msgs)
    events, stats, _ = feed_stream([data])
    assert kinds(events) == ["Received"] * 12
    assert [e.seq for e in events if isinstance(e, Received)] == [
        65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 3, 4, 5]
    assert stats.frames_lost == 0


def test_reboot_restarts_sequence_tracking() -> None:
    a = Encoder(boot_id=1, seq=100)
    b = Encoder(boot_id=2, seq=0)
    packets = [*a.packets(m.Ack(1), 64), *b.packets(m.Ack(2), 64), *b.packets(m.Ack(3), 64)]
    events, stats = feed_packets(packets)
    assert events == [Received(m.Ack(1), 100, 1, 1), Rebooted(1, 2), Received(m.Ack(2), 0, 2, 1),
                      Received(m.Ack(3), 1, 2, 1)]
    assert (stats.reboots, stats.frames_lost) == (1, 0)


def _fragments(n: int, *, seq: int = 0, boot: int = 0, mtype: int = 0x23) -> list[Frame]:
    body = m.RunChunk.make(1, 0, bytes(range(256)) * 2).payload()
    size = -(-len(body) // n)
    parts = [body[i:i + size] for i in range(0, len(body), size)]
    return [Frame(mtype, p, (seq + i) % 65536, boot, frag_flags(i, len(parts)))
            for i, p in enumerate(parts)]


@pytest.mark.parametrize("interruption", ["seq-gap", "reboot", "type-change"])
def test_partial_message_is_discarded(interruption: str) -> None:
    frags = _fragments(4, seq=10, boot=5)
    after = {"seq-gap": Frame(0x7E, b"\x09", 13, 5),          # frame 13 skipped
             "reboot": Frame(0x7E, b"\x09", 0, 6),
             "type-change": Frame(0x7E, b"\x09", 12, 5)}[interruption]
    events, stats = feed_packets([bytes(f) for f in frags[:2]] + [bytes(after)])
    assert received(events) == [m.Ack(9)]
    assert stats.fragments_discarded == 2
    assert stats.messages == 1
    # The decoder is not stuck: a complete message decodes right after.
    whole = _fragments(4, seq=(after.seq + 1) % 65536, boot=after.boot_id)
    dec = PacketDecoder()
    for f in [*frags[:2], after]:
        dec.feed(bytes(f))
    out = [e for f in whole for e in dec.feed(bytes(f))]
    assert received(out) == [m.RunChunk.make(1, 0, bytes(range(256)) * 2)]


def test_fragment_header_fields_and_version_2() -> None:
    enc = Encoder(boot_id=9, seq=65534, version=2)
    msg = m.RunChunk.make(3, 0, bytes(3000))
    frames = enc.frames(msg)
    assert [f.seq for f in frames] == [65534, 65535, 0]
    assert [f.flags for f in frames] == [FrameFlags.MORE, FrameFlags.MORE | FrameFlags.CONT,
                                         FrameFlags.CONT]
    assert all(f.version == 2 and f.type == 0x23 for f in frames)
    data = b"".join(f.encode_stream() for f in frames)
    events, stats, _ = feed_stream([data])
    assert events == [Received(msg, 0, 9, 2, 3)]
    assert stats.frames_lost == 0


def test_header_size_constant() -> None:
    assert (HEADER_SIZE, OVERHEAD, MAX_FRAME_PAYLOAD, MAX_ENCODED_FRAME) == (9, 11, 1024, 1040)
