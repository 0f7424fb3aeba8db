"""Messages of protocol v1 (SPEC.md §3): layouts, round trips, fragmentation, versioning."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_support import (
    any_message,
    example_messages,
    feed_packets,
    feed_stream,
    frag_flags,
    message_strategies,
    random_chunks,
    received,
    stream_four_ways,
)

from firmware_protocol import messages as m
from firmware_protocol.codec import (
    MAX_MESSAGE_SIZE,
    DecoderStats,
    Dropped,
    Encoder,
    PacketDecoder,
    Received,
    StreamDecoder,
    messages,
)
from firmware_protocol.errors import MessageError
from firmware_protocol.frame import MAX_FRAME_PAYLOAD, OVERHEAD, Frame

STRATEGIES = message_strategies()
EXAMPLES = example_messages()


def _id(cls: type) -> str:
    return cls.__name__


def test_every_message_type_has_a_strategy_and_an_example() -> None:
    assert set(STRATEGIES) == set(m.MESSAGE_CLASSES.values())
    assert {type(x) for x in EXAMPLES} == set(m.MESSAGE_CLASSES.values())
    assert {int(t) for t in m.MessageType} == set(m.MESSAGE_CLASSES)


# --------------------------------------------------------------------------- wire layouts
def test_device_info_layout() -> None:
    info = m.DeviceInfo(0x1122334455667788, (4, 5, 6), 1, 200, 16, 2000, 0.5, 0.25,
                        m.MountingHint.SACRUM_BELT, "ab")
    p = info.payload()
    assert p[0:8] == (0x1122334455667788).to_bytes(8, "little")
    assert p[8:11] == bytes([4, 5, 6])
    assert p[11] == 1
    assert p[12:14] == (200).to_bytes(2, "little")
    assert p[14] == 16
    assert p[15:17] == (2000).to_bytes(2, "little")
    assert p[17:21] == struct.pack("<f", 0.5)
    assert p[21:25] == struct.pack("<f", 0.25)
    assert p[25] == 2
    assert p[26] == 2
    assert p[27:] == b"ab"


def test_sample_batch_layout_and_live_size() -> None:
    counts = np.arange(60, dtype=np.int16).reshape(10, 6) - 30
    b = m.SampleBatch(0x0102030405060708, 0xA0B0C0D0, counts)
    p = b.payload()
    assert len(p) == 134  # SPEC §3.2: 10 samples, 134 payload bytes, 145 with the frame
    assert len(bytes(Frame(m.MessageType.SAMPLE_BATCH, p))) == 145
    assert p[:14] == struct.pack("<QIH", 0x0102030405060708, 0xA0B0C0D0, 10)
    assert p[14:26] == struct.pack("<6h", *counts[0].tolist())


@pytest.mark.parametrize(("msg", "raw"), [
    (m.TimeSyncRequest(1), b"\x01" + bytes(7)),
    (m.TimeSync(1, 2), b"\x01" + bytes(7) + b"\x02" + bytes(7)),
    (m.Status(100, 0x0102, 3, 4, 1, 0x0506, 7),
     bytes([100, 2, 1, 3, 0, 0, 0, 4, 0, 0, 0, 1, 6, 5, 7]) + bytes(7)),
    (m.Catalogue((m.RunEntry(1, 2, 3, 4),)),
     b"\x01\x00" + struct.pack("<IQII", 1, 2, 3, 4)),
    (m.RunRead(1, 2, 3), struct.pack("<III", 1, 2, 3)),
    (m.RunChunk(1, 2, 3, b"xy"), struct.pack("<III", 1, 2, 3) + b"xy"),
    (m.RunErase(1, 2), struct.pack("<II", 1, 2)),
    (m.RunErased(9), struct.pack("<I", 9)),
    (m.ConfigGet(4), b"\x04"),
    (m.ConfigSet(1, b"\xc8\x00"), b"\x01\xc8\x00"),
    (m.ConfigValue(1, b"\xc8\x00"), b"\x01\xc8\x00"),
    (m.Event(6, 7, 8), b"\x06" + struct.pack("<QI", 7, 8)),
    (m.Ack(0x40), b"\x40"),
    (m.Error(3, 0x22, "é"), b"\x03\x00\x22\xc3\xa9"),
    (m.StreamStart(), b""),
], ids=lambda x: type(x).__name__ if not isinstance(x, bytes) else "")
def test_payload_layouts(msg: m.AnyMessage, raw: bytes) -> None:
    assert msg.payload() == raw
    assert m.decode_message(m.message_type(msg), raw) == msg


def test_run_chunk_crc() -> None:
    c = m.RunChunk.make(1, 0, b"123456789")
    assert c.crc32 == 0xCBF43926
    assert c.intact
    assert not m.RunChunk(1, 0, 0, b"123456789").intact


def test_scale_converts_counts_to_si_at_float32_precision() -> None:
    s = m.Scale(float(np.float32(9.80665 / 2048)), float(np.float32(0.001)))
    counts = np.array([[2048, -2048, 0, 1000, -1000, 1]], np.int16)
    acc, gyr = s.to_si(counts)
    assert acc.dtype == np.float64
    assert acc.shape == gyr.shape == (1, 3)
    np.testing.assert_array_equal(acc[0], [2048 * np.float64(np.float32(9.80665 / 2048)),
                                           -2048 * np.float64(np.float32(9.80665 / 2048)), 0])
    with pytest.raises(MessageError):
        s.to_si(np.zeros((3, 5), np.int16))


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_scale_rejects_non_positive_or_non_finite(bad: float) -> None:
    with pytest.raises(MessageError):
        m.Scale(bad, 1.0)


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("cls", list(STRATEGIES), ids=_id)
@settings(max_examples=40)
@given(data=st.data())
def test_payload_round_trip(cls: type, data: st.DataObject) -> None:
    msg = data.draw(STRATEGIES[cls])
    assert m.decode_message(cls.TYPE, msg.payload()) == msg


@settings(max_examples=40)
@given(st.lists(any_message(), min_size=1, max_size=8), st.integers(0, 65535),
       st.integers(0, 65535), st.integers(0, 2**32 - 1))
def test_round_trip_through_both_links(msgs: list, boot: int, seq: int, seed: int) -> None:
    enc = Encoder(boot, seq)
    data = b"".join(enc.stream_bytes(x) for x in msgs)
    for events, stats, _ in (feed_stream([data]), feed_stream(random_chunks(data, seed))):
        assert received(events) == msgs
        assert stats.frames_lost == stats.frames_corrupt == stats.messages_malformed == 0
    enc = Encoder(boot, seq)
    events, _ = feed_packets([p for x in msgs for p in enc.packets(x, 185)])
    assert received(events) == msgs


EXTREMES = [
    m.DeviceInfo(2**64 - 1, (255, 255, 255), 255, 65535, 255, 65535, float(np.float32(3e38)),
                 float(np.float32(1e-45)), 255, "x" * 32),
    m.DeviceInfo(0, (0, 0, 0), 0, 1, 1, 1, 1.0, 1.0, 0, ""),
    m.DeviceInfo(1, (1, 0, 0), 1, 200, 16, 2000, 1.0, 1.0, 1, "🏃" * 8),
    m.DeviceInfo(1, (1, 0, 0), 1, 200, 16, 2000, 1.0, 1.0, 1, "Läufer-ü"),
    m.SampleBatch(2**63 - 1, 2**32 - 1, np.full((5, 6), -32768, np.int16)),  # SPEC §3.2 max
    m.SampleBatch(0, 0, np.full((5, 6), 32767, np.int16)),
    m.SampleBatch(0, 0, np.zeros((0, 6), np.int16)),
    m.SampleBatch(5, 6, np.tile(np.array([-32768, 32767, -1, 0, 1, -32768], np.int16), (1000, 1))),
    m.TimeSync(2**64 - 1, 2**64 - 1),
    m.Status(100, 65535, 2**32 - 1, 2**32 - 1, 255, 65535, 2**64 - 1),
    m.Status(0, 0, 0, 0, 0, 0, 0),
    m.Catalogue(()),
    m.Catalogue(tuple(m.RunEntry(2**32 - 1, 2**64 - 1, 2**32 - 1, 2**32 - 1) for _ in range(3))),
    m.RunChunk(2**32 - 1, 2**32 - 1, 2**32 - 1, b""),
    m.RunRead(2**32 - 1, 2**32 - 1, 2**32 - 1),
    m.ConfigSet(255, bytes(range(64))),
    m.ConfigValue(0, b""),
    m.Event(255, 2**64 - 1, 2**32 - 1),
    m.Error(65535, 255, "e" * 200),
    m.Error(0, 0, ""),
    m.Error(1, 2, "ü" * 100),
]


@pytest.mark.parametrize("msg", EXTREMES, ids=lambda x: type(x).__name__)
def test_extreme_values_round_trip(msg: m.AnyMessage) -> None:
    assert m.decode_message(m.message_type(msg), msg.payload()) == msg
    data = Encoder(65535, 65535).stream_bytes(msg)
    assert messages(StreamDecoder().feed(data)) == [msg]


@pytest.mark.parametrize(("cls", "args"), [
    (m.Status, (101, 0, 0, 0, 0, 0, 0)),
    (m.TimeSync, (-1, 0)),
    (m.TimeSync, (2**64, 0)),
    (m.Event, (256, 0, 0)),
    (m.RunErased, (2**32,)),
    (m.ConfigSet, (1, bytes(65))),
    (m.Error, (1, 2, "x" * 201)),
    (m.DeviceInfo, (0, (1, 0, 0), 1, 0, 16, 2000, 1.0, 1.0, 0, "")),
    (m.DeviceInfo, (0, (1, 0, 0), 1, 200, 16, 2000, 1.0, 1.0, 0, "x" * 33)),
    (m.DeviceInfo, (0, (1, 0), 1, 200, 16, 2000, 1.0, 1.0, 0, "")),
    (m.SampleBatch, (0, 0, np.zeros((3, 5), np.int16))),
    (m.SampleBatch, (2**63, 0, np.zeros((1, 6), np.int16))),  # SPEC §3.2: >= 2**63 invalid
])
def test_out_of_range_values_are_rejected(cls: type, args: tuple) -> None:
    with pytest.raises(MessageError):
        cls(*args)


@pytest.mark.parametrize(("mtype", "payload"), [
    (m.MessageType.STATUS, bytes([101]) + bytes(21)),  # battery 101 %
    (m.MessageType.DEVICE_INFO, bytes(12) + b"\x00\x00" + bytes(13)),  # sample rate 0
    (m.MessageType.DEVICE_INFO, bytes(17) + struct.pack("<f", -1.0) + bytes(6)),
    (m.MessageType.DEVICE_INFO, bytes(26) + b"\x21" + b"x" * 33),  # name of 33 bytes
    (m.MessageType.DEVICE_INFO, bytes(12) + b"\xc8\x00\x10\xd0\x07" + struct.pack("<ff", 1, 1)
     + b"\x00\x02\xff\xfe"),  # name is not UTF-8
])
def test_wire_values_out_of_range_are_malformed(mtype: int, payload: bytes) -> None:
    with pytest.raises(MessageError):
        m.decode_message(mtype, payload)
    events, stats = feed_packets([bytes(Frame(mtype, payload, 0)),
                                  bytes(Frame(m.MessageType.ACK, b"\x01", 1))])
    assert [type(e) for e in events] == [Dropped, Received]
    assert stats.messages_malformed == 1


# --------------------------------------------------------------------------- fragmentation
@settings(max_examples=60)
@given(any_message(max_batch=120, max_runs=60, max_chunk=3000), st.integers(20, 247))
def test_ble_packets_of_any_mtu(msg: m.AnyMessage, max_packet: int) -> None:
    enc = Encoder(boot_id=1, seq=65500)
    packets = enc.packets(msg, max_packet)
    assert all(OVERHEAD <= len(p) <= max_packet for p in packets)
    assert len(packets) == max(1, -(-len(msg.payload()) // (max_packet - OVERHEAD)))
    events, stats = feed_packets(packets)
    assert events == [Received(msg, (65500 + len(packets) - 1) % 65536, 1, 1, len(packets))]
    assert stats.frames_lost == 0


def test_catalogue_of_1000_runs() -> None:
    cat = m.Catalogue(tuple(m.RunEntry(i, 1_700_000_000_000 + i * 3_600_000, 100_000 + i,
                                       (i * 2654435761) % 2**32) for i in range(1000)))
    assert len(cat.payload()) == 2 + 1000 * 20
    stream = Encoder(boot_id=3).stream_bytes(cat)
    for name, (events, _stats) in stream_four_ways(stream).items():
        assert events == [Received(cat, 19, 3, 1, 20)], name
    for max_packet in (20, 23, 185, 247):
        enc = Encoder(boot_id=3)
        packets = enc.packets(cat, max_packet)
        events, _ = feed_packets(packets)
        assert messages(events) == [cat]
        assert events[0].n_frames == len(packets)


def test_largest_message_passes_and_one_byte_more_is_refused() -> None:
    biggest = m.RunChunk.make(1, 0, bytes(i % 253 for i in range(MAX_MESSAGE_SIZE - 12)))
    assert len(biggest.payload()) == MAX_MESSAGE_SIZE
    assert messages(StreamDecoder().feed(Encoder().stream_bytes(biggest))) == [biggest]
    assert messages(feed_packets(Encoder().packets(biggest, 247))[0]) == [biggest]
    too_big = m.RunChunk.make(1, 0, bytes(MAX_MESSAGE_SIZE - 11))
    with pytest.raises(MessageError):
        Encoder().frames(too_big)
    largest_batch = m.SampleBatch(0, 0, np.ones(((MAX_MESSAGE_SIZE - 14) // 12, 6), np.int16))
    assert messages(StreamDecoder().feed(Encoder().stream_bytes(largest_batch))) == [largest_batch]


@pytest.mark.parametrize("tail", [0, 1, 4])
def test_receiver_drops_fragments_beyond_the_bound(tail: int) -> None:
    """The fragment that passes the bound drops the message; the rest of it is skipped too."""
    payload = bytes(MAX_FRAME_PAYLOAD)
    n = MAX_MESSAGE_SIZE // MAX_FRAME_PAYLOAD + 1 + tail
    frames = [Frame(0x23, payload, i, 0, frag_flags(i, n)) for i in range(n)]
    frames.append(Frame(m.MessageType.ACK, b"\x07", n, 0))
    events, stats = feed_packets(bytes(f) for f in frames)
    assert [type(e) for e in events] == [Dropped, Received]
    assert "exceeds" in events[0].reason
    assert messages(events) == [m.Ack(7)]
    assert stats == DecoderStats(bytes_in=stats.bytes_in, frames_ok=n + 1, messages=1,
                                 messages_malformed=1, fragments_discarded=n)


def test_encoder_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="max_payload"):
        Encoder().frames(m.Ack(1), max_payload=0)
    with pytest.raises(ValueError, match="max_payload"):
        Encoder().frames(m.Ack(1), max_payload=MAX_FRAME_PAYLOAD + 1)
    with pytest.raises(ValueError, match="overhead"):
        Encoder().packets(m.Ack(1), OVERHEAD)
    enc = Encoder(seq=65535)
    assert [f.seq for f in enc.frames(m.StreamStart())] == [65535]
    assert enc.seq == 0


# --------------------------------------------------------------------------- versioning
@pytest.mark.parametrize("mtype", [0x00, 0x03, 0x24, 0x60, 0x99, 0xFF])
def test_unknown_types_are_counted_and_skipped(mtype: int) -> None:
    enc = Encoder()
    data = (enc.stream_bytes(m.Ack(1)) + enc.stream_bytes(m.UnknownMessage(mtype, b"future"))
            + enc.stream_bytes(m.Ack(2)))
    for name, (events, stats) in stream_four_ways(data).items():
        assert messages(events) == [m.Ack(1), m.UnknownMessage(mtype, b"future"), m.Ack(2)], name
        assert (stats.messages, stats.messages_unknown, stats.messages_malformed) == (3, 1, 0)


def test_unknown_type_fragmented() -> None:
    unknown = m.UnknownMessage(0x99, bytes(range(256)) * 10)
    events, stats = feed_packets(Encoder().packets(unknown, 64))
    assert messages(events) == [unknown]
    assert stats.messages_unknown == 1


# Types whose last field runs to the end of the payload cannot carry trailing fields.
REST_OF_PAYLOAD = (m.RunChunk, m.Error, m.ConfigSet, m.ConfigValue)


@pytest.mark.parametrize("msg", [x for x in EXAMPLES if not isinstance(x, REST_OF_PAYLOAD)],
                         ids=lambda x: type(x).__name__)
@pytest.mark.parametrize("extra", [b"\x00", b"\xff" * 7, bytes(range(200))], ids=len)
def test_trailing_bytes_are_ignored(msg: m.AnyMessage, extra: bytes) -> None:
    assert m.decode_message(m.message_type(msg), msg.payload() + extra) == msg
    frame = Frame(m.message_type(msg), msg.payload() + extra, 0, 0, version=2)
    events, stats = feed_packets([bytes(frame)])
    assert events == [Received(msg, 0, 0, 2)]


def test_rest_of_payload_fields_are_capped() -> None:
    value = bytes(range(64))
    assert m.decode_message(m.MessageType.CONFIG_SET, b"\x04" + value) == m.ConfigSet(4, value)
    with pytest.raises(MessageError, match="exceeds 64"):  # SPEC §3: longer is malformed
        m.decode_message(m.MessageType.CONFIG_SET, b"\x04" + value + b"more")
    text = "t" * 200
    assert m.decode_message(m.MessageType.ERROR, b"\x01\x00\x22" + text.encode() + b"more") == \
        m.Error(1, 0x22, text)


def _required(msg: m.AnyMessage) -> int:
    """Bytes below which ``msg``'s payload is too short for its type."""
    return {m.RunChunk: 12, m.Error: 3, m.ConfigSet: 1, m.ConfigValue: 1}.get(
        type(msg), len(msg.payload()))


@pytest.mark.parametrize("msg", [x for x in EXAMPLES if _required(x) > 0],
                         ids=lambda x: type(x).__name__)
def test_too_short_payloads_are_dropped_and_decoding_continues(msg: m.AnyMessage) -> None:
    mtype = m.message_type(msg)
    short = list(range(_required(msg)))
    enc_frames = []
    seq = 0
    for k in short:
        enc_frames.append(Frame(mtype, msg.payload()[:k], seq))
        enc_frames.append(Frame(m.MessageType.ACK, bytes([k % 256]), seq + 1))
        seq += 2
    data = b"".join(f.encode_stream() for f in enc_frames)
    expected_acks = [m.Ack(k % 256) for k in short]
    for name, (events, stats) in stream_four_ways(data).items():
        assert messages(events) == expected_acks, name
        dropped = [e for e in events if isinstance(e, Dropped)]
        assert len(dropped) == len(short)
        assert all(f"0x{mtype:02X}" in d.reason for d in dropped)
        assert stats.messages_malformed == len(short)
        assert stats.frames_corrupt == 0
    events, stats = feed_packets(bytes(f) for f in enc_frames)
    assert messages(events) == expected_acks
    assert stats.messages_malformed == len(short)


def test_frames_of_version_2_and_255_decode() -> None:
    for version in (2, 255):
        enc = Encoder(boot_id=4, version=version)
        msgs = EXAMPLES
        data = b"".join(enc.stream_bytes(x) for x in msgs)
        events = StreamDecoder().feed(data)
        assert messages(events) == msgs
        assert {e.version for e in events if isinstance(e, Received)} == {version}


def test_error_text_that_is_not_utf8_is_still_an_error_message() -> None:
    for bad in (b"\xff" * 10, b"\xff" * 100, b"\xff" * 200, b"a" * 199 + "é".encode()):
        msg = m.decode_message(m.MessageType.ERROR, b"\x03\x00\x22" + bad)
        assert isinstance(msg, m.Error)
        assert (msg.code, msg.request_type) == (3, 0x22)
        assert len(msg.text.encode()) <= m.MAX_TEXT_BYTES


def test_packet_decoder_offsets_accumulate() -> None:
    dec = PacketDecoder()
    first = dec.feed(b"junk")
    assert [(type(e), e.offset, e.n_bytes) for e in first] == [(Dropped, 0, 4)]
    assert "shorter" in first[0].reason
    second = dec.feed(b"x" * 20)
    assert [(type(e), e.offset, e.n_bytes) for e in second] == [(Dropped, 4, 20)]
    assert dec.stats.frames_corrupt == 2
