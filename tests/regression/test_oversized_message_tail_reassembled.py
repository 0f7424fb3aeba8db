"""Regression: the tail of a message dropped for exceeding MAX_MESSAGE_SIZE became a message.

``FrameAssembler`` drops a fragmented message once its reassembled size passes
``MAX_MESSAGE_SIZE`` (64 KiB). It used to forget the message entirely at that point, so the
fragments still to come (MORE set, same type, consecutive seq) started a *new* partial message,
and the last one completed it: a 70,000-byte RUN_CHUNK came out as a bogus 4-frame RUN_CHUNK
built from its last 3,440 bytes. The rest of an oversized message is now skipped (and counted
as discarded fragments) until its last fragment, a seq gap, a reboot or a type change.
"""

from __future__ import annotations

from firmware_protocol.codec import MAX_MESSAGE_SIZE, Dropped, PacketDecoder, Received
from firmware_protocol.frame import MAX_FRAME_PAYLOAD, Frame, FrameFlags
from firmware_protocol.messages import Ack, MessageType


def _oversized(n_bytes: int, seq: int = 0) -> list[Frame]:
    body = bytes(i % 251 for i in range(n_bytes))
    parts = [body[i:i + MAX_FRAME_PAYLOAD] for i in range(0, n_bytes, MAX_FRAME_PAYLOAD)]
    return [Frame(MessageType.RUN_CHUNK, p, seq + i, 0,
                  (FrameFlags.MORE if i < len(parts) - 1 else FrameFlags.NONE)
                  | (FrameFlags.CONT if i else FrameFlags.NONE))
            for i, p in enumerate(parts)]


def test_tail_of_an_oversized_message_is_not_a_message() -> None:
    frames = _oversized(70_000)
    assert len(frames) == 69
    dec = PacketDecoder()
    events = [e for f in frames for e in dec.feed(bytes(f))]
    events += dec.feed(bytes(Frame(MessageType.ACK, b"\x22", 69, 0)))
    assert len([e for e in events if isinstance(e, Dropped)]) == 1
    assert [e for e in events if isinstance(e, Received)] == [Received(Ack(0x22), 69, 0, 1)]
    assert dec.stats.messages_malformed == 1
    assert dec.stats.fragments_discarded == 69
    assert dec.stats.frames_lost == 0


def test_skipping_stops_at_a_seq_gap() -> None:
    frames = _oversized(MAX_MESSAGE_SIZE + 2 * MAX_FRAME_PAYLOAD)  # 66 frames, 65th overflows
    dec = PacketDecoder()
    for f in frames[:65]:
        dec.feed(bytes(f))
    # Frame 65 is lost; the next frame is a new, complete 2-fragment message.
    ack = [Frame(MessageType.ACK, b"\x01", 66, 0, FrameFlags.MORE),
           Frame(MessageType.ACK, b"", 67, 0, FrameFlags.CONT)]
    events = [e for f in ack for e in dec.feed(bytes(f))]
    assert [e for e in events if isinstance(e, Received)] == [Received(Ack(1), 67, 0, 1, 2)]
