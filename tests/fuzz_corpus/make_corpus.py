"""Generate the fuzz corpus: small, interesting inputs for the three decoders.

Run from the repository root (``.venv/bin/python tests/fuzz_corpus/make_corpus.py``); the
output is deterministic and ``tests/test_protocol_fuzz.py`` checks that the committed files match
it, so edit this script rather than the files. Three kinds of seed, told apart by their name:

* ``stream-*.bin``: a COBS byte stream for ``StreamDecoder``;
* ``packets-*.bin``: BLE notifications for ``PacketDecoder``, each stored as a little-endian
  ``u16`` length followed by the packet;
* ``run-*.imrn``: a stored-run file for ``read_run``.

Each seed is valid, nearly valid, or damaged in one named way, so a mutation fuzzer starting
from them reaches deep states (reassembly, resynchronisation, packed decoding) quickly.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

from firmware_protocol import messages as m
from firmware_protocol.codec import Encoder
from firmware_protocol.crc import crc16_ccitt_false, crc32
from firmware_protocol.frame import MAX_ENCODED_FRAME, Frame, FrameFlags, cobs_encode
from firmware_protocol.runfile import (
    SYNC,
    BlockType,
    RunHeader,
    RunWriter,
    encode_block,
    encode_samples_block,
)

HERE = Path(__file__).resolve().parent
SUFFIXES = (".bin", ".imrn")


def pack_packets(packets: list[bytes]) -> bytes:
    return b"".join(len(p).to_bytes(2, "little") + p for p in packets)


def unpack_packets(data: bytes) -> list[bytes]:
    """Inverse of :func:`pack_packets`; a cut-off last record yields what is there."""
    out, pos = [], 0
    while pos + 2 <= len(data):
        n = int.from_bytes(data[pos:pos + 2], "little")
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    return out


def _messages() -> list[m.AnyMessage]:
    rng = np.random.default_rng(7)
    return [
        m.DeviceInfo(0x1234, (1, 0, 2), 1, 200, 16, 2000, 0.0048828125, 0.0009765625, 1,
                     "imurun-1234"),
        m.SampleBatch(5_000_000, 1000, rng.integers(-2000, 2000, (10, 6), dtype=np.int16)),
        m.TimeSync(1_700_000_000_000_000, 5_000_123),
        m.Status(80, 3950, 4096, 1 << 20, 2, 1, 5_000_200),
        m.Catalogue((m.RunEntry(1, 1_700_000_000_000, 5000, 0xAABBCCDD),)),
        m.RunChunk.make(1, 0, bytes(range(100))),
        m.ConfigValue(m.ConfigKey.SAMPLE_RATE_HZ, b"\xc8\x00"),
        m.Event(m.EventCode.BUTTON, 5_000_300, 1),
        m.Ack(m.MessageType.STREAM_START),
        m.Error(m.ErrorCode.BUSY, m.MessageType.RUN_READ, "busy"),
    ]


def _streams() -> dict[str, bytes]:
    msgs = _messages()
    enc = Encoder(boot_id=3)
    every = b"".join(enc.stream_bytes(x) for x in msgs)
    wrap = Encoder(boot_id=3, seq=65533)
    cat = m.Catalogue(tuple(m.RunEntry(i, i * 1000, i * 10, i) for i in range(120)))
    frames = [f.encode_stream() for f in Encoder(boot_id=1).frames(cat, max_payload=300)]
    good = Frame(m.MessageType.ACK, b"\x40", 0, 3)
    bad_crc = bytearray(bytes(good))
    bad_crc[-1] ^= 0xFF
    v0 = bytearray(bytes(good)[:-2])
    v0[0] = 0  # version 0 with a correct CRC: only the version check rejects it
    v0 += crc16_ccitt_false(v0).to_bytes(2, "little")
    rng = np.random.default_rng(11)
    junk = rng.integers(1, 256, 200, dtype=np.uint8).tobytes()
    junk0 = rng.integers(0, 256, 200, dtype=np.uint8).tobytes()
    short = [Frame(t, b"", i, 3).encode_stream() for i, t in enumerate(m.MESSAGE_CLASSES)]
    reboot = Encoder(boot_id=4).stream_bytes(m.Event(m.EventCode.BOOT, 0, 0))
    return {
        "stream-every-message.bin": every,
        "stream-seq-wrap.bin": b"".join(wrap.stream_bytes(x) for x in msgs[:6]),
        "stream-fragmented-catalogue.bin": b"".join(frames),
        "stream-fragment-lost.bin": b"".join(frames[:2] + frames[3:]),
        "stream-fragment-type-change.bin": frames[0] + Frame(0x7E, b"\x01", 1, 1).encode_stream(),
        "stream-reboot-mid-message.bin": b"".join(frames[:2]) + reboot,
        "stream-max-frame.bin": Frame(0x23, b"\xff" * 1024, 9, 9, FrameFlags(0xFE),
                                      255).encode_stream(),
        "stream-version-2.bin": b"".join(Encoder(boot_id=3, version=2).stream_bytes(x)
                                         for x in msgs[:4]),
        "stream-unknown-types.bin": b"".join(Frame(t, b"future", i, 3).encode_stream()
                                             for i, t in enumerate((0x00, 0x03, 0x99, 0xFF))),
        "stream-too-short-payloads.bin": b"".join(short),
        "stream-trailing-bytes.bin": Frame(0x12, bytes(16) + b"new-field", 0, 3).encode_stream(),
        "stream-bad-crc.bin": cobs_encode(bytes(bad_crc)) + b"\x00" + good.encode_stream(),
        "stream-version-0.bin": cobs_encode(bytes(v0)) + b"\x00" + good.encode_stream(),
        "stream-truncated-frame.bin": good.encode_stream()[:-4] + b"\x00" + good.encode_stream(),
        "stream-invalid-cobs.bin": b"\x05\x11\x00\x02\x00" + good.encode_stream(),
        "stream-empty-frames.bin": b"\x00\x00\x00" + good.encode_stream() + b"\x00\x00",
        "stream-overflow.bin": b"\x00" + b"\x01" * (MAX_ENCODED_FRAME + 1) + b"\x00"
        + good.encode_stream(),
        "stream-exactly-max-run.bin": b"\x00" + b"\x01" * MAX_ENCODED_FRAME + b"\x00"
        + good.encode_stream(),
        "stream-garbage-no-zero.bin": junk + b"\x00" + every[:200] + junk + b"\x00",
        "stream-garbage-with-zeros.bin": junk0 + b"\x00" + every + junk0,
        "stream-undelimited-tail.bin": good.encode_stream() + b"\x07\x01\x02",
        "stream-error-text-not-utf8.bin": Frame(0x7F, b"\x04\x00\x22" + b"\xff" * 80, 0,
                                                3).encode_stream(),
    }


def _packet_sets() -> dict[str, bytes]:
    msgs = _messages()
    enc = Encoder(boot_id=5, seq=65530)
    mtu20 = [p for x in msgs for p in enc.packets(x, 20)]
    enc = Encoder(boot_id=5)
    mtu185 = [p for x in msgs for p in enc.packets(x, 185)]
    rng = np.random.default_rng(13)
    noisy = []
    for p in mtu185:
        noisy.append(rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes())
        noisy.append(p)
    lost = mtu20[:7] + mtu20[9:]  # two middle fragments of the SAMPLE_BATCH
    return {
        "packets-mtu20.bin": pack_packets(mtu20),
        "packets-mtu185.bin": pack_packets(mtu185),
        "packets-with-garbage.bin": pack_packets(noisy),
        "packets-lost-fragments.bin": pack_packets(lost),
        "packets-empty-and-oversize.bin": pack_packets([b"", bytes(11), bytes(1036),
                                                        bytes(Frame(0x7E, b"\x01", 0, 5))]),
    }


def _header() -> RunHeader:
    return RunHeader(0x1234, 7, 3, 200, 1_700_000_000_000, 1_000_000, 16, 2000, 0.0048828125,
                     0.0009765625, firmware=(1, 0, 2), mounting_hint=1)


def _runs() -> dict[str, bytes]:
    rng = np.random.default_rng(17)
    t = np.arange(300)[:, None]
    smooth = (3000 * np.sin(t / 20 + np.arange(6))).astype(np.int16)
    noise = rng.integers(-32768, 32768, (80, 6), dtype=np.int16)
    ramp = (np.arange(100)[:, None] * np.array([1, -2, 3, 50, -7, 0])).astype(np.int16)

    w = RunWriter(_header(), block_samples=64)
    full = b"".join([w.start(), w.event(m.Event(4, 1_000_000, 0)),
                     w.time_anchor(1_000_000, 1_700_000_000_000), w.samples(smooth, 1_000_000),
                     w.lost(20), w.samples(noise, 2_600_000), w.event(m.Event(5, 3_000_000, 0)),
                     w.end()])
    head = bytes(_header())
    blocks_start = len(head)
    second = full.index(SYNC, blocks_start + 1)
    third = full.index(SYNC, second + 1)  # the first sample block
    damaged = bytearray(full)
    damaged[third + 20] ^= 0xFF
    planted = m.Event(1, int.from_bytes(SYNC + b"\x01\x00\x0a\x00", "little"),
                      int.from_bytes(SYNC, "little"))
    w2 = RunWriter(_header(), block_samples=32)
    planted_run = b"".join([w2.start(), w2.samples(ramp[:40], 1_000_000), w2.event(planted),
                            w2.samples(ramp[40:], 1_200_000), w2.end()])
    future = bytearray(head[:92])
    future[6:8] = (100).to_bytes(2, "little")
    future += b"NEW!"
    future += crc32(bytes(future)).to_bytes(4, "little")
    bad_head = bytearray(full[:400])
    bad_head[47] ^= 0x80  # sign of acc_lsb_ms2
    return {
        "run-full.imrn": full,
        "run-header-only.imrn": head,
        "run-raw-only.imrn": head + encode_samples_block(noise[:33], 0, 0)
        + encode_samples_block(smooth[:1], 33, 1, packed=False),
        "run-packed-ramps.imrn": head + encode_samples_block(ramp, 0, 0),
        "run-one-sample-blocks.imrn": head + b"".join(
            encode_samples_block(smooth[i:i + 1], i, i * 5000) for i in range(8)),
        "run-damaged-block.imrn": bytes(damaged),
        "run-truncated.imrn": full[:len(full) * 2 // 3],
        "run-planted-sync.imrn": planted_run,
        "run-unknown-block.imrn": head + encode_block(0x77, b"future") + encode_samples_block(
            smooth[:40], 0, 0),
        "run-future-header.imrn": bytes(future) + encode_samples_block(smooth[:50], 0, 0),
        "run-bad-header.imrn": bytes(bad_head),
        # the encoders refuse a block time >= 2**63 (SPEC §5.2): write one by hand
        "run-time-beyond-int64.imrn": head + _block_with_time(
            encode_samples_block(smooth[:10], 0, 0), 2**64 - 1),
        "run-bad-widths.imrn": head + encode_block(
            BlockType.SAMPLES_PACKED,
            struct.pack("<IQH6hB", 0, 0, 33, *[0] * 6, 0) + bytes([17] * 6) + bytes(400)),
    }


def _block_with_time(block: bytes, device_time_us: int) -> bytes:
    """``block`` (a sample block) with its device time replaced and its CRC-32 recomputed."""
    payload = block[12:16] + device_time_us.to_bytes(8, "little") + block[24:]
    return encode_block(block[4], payload)


def build_corpus() -> dict[str, bytes]:
    """Every corpus file, name -> bytes."""
    return {**_streams(), **_packet_sets(), **_runs()}


def main(out_dir: Path = HERE) -> int:
    corpus = build_corpus()
    for old in out_dir.iterdir():
        if old.suffix in SUFFIXES and old.name not in corpus:
            old.unlink()
    for name, data in sorted(corpus.items()):
        (out_dir / name).write_bytes(data)
    print(f"wrote {len(corpus)} files to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
