"""Regression: an ERROR whose text was not valid UTF-8 was dropped as malformed.

``Error.from_payload`` decodes the text leniently (``errors="replace"``) so that a garbled
message text still delivers the error code. But each bad byte becomes U+FFFD, three bytes in
UTF-8, and the constructor then refused the text as longer than 200 bytes: 66 bad bytes
decoded, 67 dropped the whole message (and with it the error code the host needed). The same
happened when a >200-byte text was cut at 200 inside a multi-byte character. The decoded text
is now clipped to 200 UTF-8 bytes.
"""

from __future__ import annotations

import pytest

from firmware_protocol.codec import PacketDecoder, Received
from firmware_protocol.frame import Frame
from firmware_protocol.messages import MAX_TEXT_BYTES, Error, MessageType


@pytest.mark.parametrize("text", [b"\xff" * 67, b"\xff" * 200, b"a" * 199 + "\u00e9".encode()])
def test_garbled_error_text_still_delivers_the_error(text: bytes) -> None:
    dec = PacketDecoder()
    events = dec.feed(bytes(Frame(MessageType.ERROR, b"\x04\x00\x22" + text)))
    assert len(events) == 1
    assert isinstance(events[0], Received)
    msg = events[0].message
    assert isinstance(msg, Error)
    assert (msg.code, msg.request_type) == (4, 0x22)
    assert len(msg.text.encode("utf-8")) <= MAX_TEXT_BYTES
    assert dec.stats.messages_malformed == 0
