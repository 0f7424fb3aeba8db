"""Regression: an over-long undelimited run was reported with a chunking-dependent size.

``StreamDecoder`` drops a run of more than ``MAX_ENCODED_FRAME`` bytes without a 0x00. Its
``Dropped`` event used to say ``n_bytes = len(buffer) + len(rest of this chunk)``: 3000 when the
run arrived in one ``feed`` call, 1041 when it arrived byte by byte. A decoder's output must not
depend on how the stream is cut (STYLE habit 5), so the event now always reports the
``MAX_ENCODED_FRAME + 1`` bytes that proved the overflow, at the run's start offset.
"""

from __future__ import annotations

from firmware_protocol.codec import Dropped, Received, StreamDecoder
from firmware_protocol.frame import MAX_ENCODED_FRAME, Frame
from firmware_protocol.messages import Ack


def _feed(chunks: list[bytes]) -> list[object]:
    dec = StreamDecoder()
    out: list[object] = []
    for c in chunks:
        out.extend(dec.feed(c))
        assert dec.pending_bytes <= MAX_ENCODED_FRAME
    return out


def test_overflow_event_is_the_same_however_the_stream_is_cut() -> None:
    frame = Frame(0x7E, b"\x01").encode_stream()
    data = b"\x00" + b"\x01" * 3000 + b"\x00" + frame
    whole = _feed([data])
    bytewise = _feed([data[i:i + 1] for i in range(len(data))])
    halves = _feed([data[:2000], data[2000:]])
    expected = [Dropped(f"no delimiter within {MAX_ENCODED_FRAME} bytes", 1,
                        MAX_ENCODED_FRAME + 1),
                Received(Ack(1), 0, 0, 1)]
    assert whole == bytewise == halves == expected
