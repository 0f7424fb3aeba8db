"""The imurun wire protocol: frames, messages, CRCs, stored-run blocks. Pure bytes.

The names a host or a firmware test needs are importable from here; each lives in its module
(``frame``, ``messages``, ``codec``, ``runfile``, ``crc``, ``errors``), and ``SPEC.md`` is the
contract. Decoding a byte stream::

    from firmware_protocol import Received, StreamDecoder

    dec = StreamDecoder()
    for ev in dec.feed(chunk):  # any chunking: bytes in, events out, never raises
        if isinstance(ev, Received):
            print(ev.message)
"""

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
    decode_stream,
)
from firmware_protocol.crc import crc16_ccitt_false, crc32
from firmware_protocol.errors import (
    FrameError,
    ImurunError,
    MessageError,
    ProtocolError,
    RunFormatError,
)
from firmware_protocol.frame import PROTOCOL_VERSION, Frame, FrameFlags, cobs_decode, cobs_encode
from firmware_protocol.messages import (
    AnyMessage,
    DeviceInfo,
    MessageType,
    SampleBatch,
    Scale,
    decode_message,
    message_type,
)
from firmware_protocol.runfile import RunHeader, RunWriter, StoredRun, read_run

__all__ = [
    "PROTOCOL_VERSION", "AnyMessage", "DecoderStats", "DeviceInfo", "Dropped", "Encoder", "Frame",
    "FrameError", "FrameFlags", "ImurunError", "Lost", "MessageError", "MessageType",
    "PacketDecoder", "ParseEvent", "ProtocolError", "Rebooted", "Received", "RunFormatError",
    "RunHeader", "RunWriter", "SampleBatch", "Scale", "StoredRun", "StreamDecoder", "cobs_decode",
    "cobs_encode", "crc16_ccitt_false", "crc32", "decode_message", "decode_stream",
    "message_type", "read_run",
]
