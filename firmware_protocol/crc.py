"""The two checksums of the wire contract, from the standard library.

* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor) guards each frame.
  Check value over ``b"123456789"``: 0x29B1.
* CRC-32 (ISO-HDLC, as in zlib/PNG) guards stored-run blocks, run chunks and whole runs.
  Check value over ``b"123456789"``: 0xCBF43926.
"""

from __future__ import annotations

import binascii
import zlib


def crc16_ccitt_false(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of ``data``; pass a previous result as ``crc`` to continue."""
    return binascii.crc_hqx(data, crc)


def crc32(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32 (zlib) of ``data``; pass a previous result as ``crc`` to continue."""
    return zlib.crc32(data, crc) & 0xFFFFFFFF
