"""The stored-run format (SPEC.md §5): header, blocks, packed samples, damage, truncation.

``read_run`` takes a whole file, so the four ways of STYLE habit 5 become: the writer fed whole,
one sample at a time and in seeded random chunks must produce the same bytes; and the reader
must return the same run with garbage (with and without planted sync words) before, between
and after the blocks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from protocol_support import POS_F32, U16, U32, U64, counts_arrays

from firmware_protocol import messages as m
from firmware_protocol.crc import crc32
from firmware_protocol.errors import RunFormatError
from firmware_protocol.runfile import (
    BLOCK_OVERHEAD,
    HEADER_SIZE,
    MAX_BLOCK_PAYLOAD,
    MAX_BLOCK_SAMPLES,
    PACKED_HEAD,
    SYNC,
    BlockType,
    RunHeader,
    RunWriter,
    StoredRun,
    encode_block,
    encode_samples_block,
    encode_samples_packed,
    encode_samples_raw,
    read_run,
)

RATE_HZ = 200
PERIOD_US = 1_000_000 // RATE_HZ
T0_US = 1_000_000
BLOCK_SIZES = [1, 2, 31, 32, 33, 255, 256, 1024]


def header(**kw: object) -> RunHeader:
    base: dict[str, object] = dict(
        device_id=0xABCDEF0123456789, run_id=42, boot_id=7, sample_rate_hz=RATE_HZ,
        start_unix_ms=1_700_000_000_000, start_device_time_us=T0_US, acc_range_g=16,
        gyr_range_dps=2000, acc_lsb_ms2=float(np.float32(9.80665 / 2048)),
        gyr_lsb_rads=float(np.float32(np.pi / 180 / 16.4)),
        acc_offset_ms2=(0.125, -0.25, 0.5), acc_gain=(1.0, 0.5, 2.0),
        gyr_offset_rads=(0.0, 0.0078125, -0.0078125), firmware=(1, 2, 3), mounting_hint=1)
    base.update(kw)
    return RunHeader(**base)  # type: ignore[arg-type]


def noise(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(-32768, 32768, (n, 6), dtype=np.int16)


def smooth(n: int, seed: int) -> np.ndarray:
    """Slow sines plus a little noise: what running looks like to the packer."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None] / RATE_HZ
    f = rng.uniform(0.5, 3.0, 6)
    amp = rng.uniform(500, 8000, 6)
    x = amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 6, 6)) + rng.normal(0, 3, (n, 6))
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def write(counts: np.ndarray, *, block_samples: int = 256, chunks: list[int] | None = None,
          end: bool = True, packed: bool = True) -> bytes:
    w = RunWriter(header(), block_samples=block_samples, packed=packed)
    out = [w.start()]
    pos = 0
    for n in chunks if chunks is not None else [len(counts)]:
        out.append(w.samples(counts[pos:pos + n], T0_US + pos * PERIOD_US))
        pos += n
    assert pos == len(counts)
    out.append(w.end() if end else w.flush())
    return b"".join(out)


@dataclass(frozen=True)
class Block:
    offset: int
    type: int
    payload: bytes

    @property
    def end(self) -> int:
        return self.offset + BLOCK_OVERHEAD + len(self.payload)


def blocks(data: bytes) -> list[Block]:
    """Walk an undamaged file block by block (an independent, strict parser)."""
    out, pos = [], HEADER_SIZE
    while pos < len(data):
        sync, btype, flags, length, crc = struct.unpack_from("<4sBBHI", data, pos)
        assert sync == SYNC
        assert flags == 0
        payload = data[pos + 12:pos + 12 + length]
        assert crc == crc32(data[pos + 4:pos + 8] + payload)
        out.append(Block(pos, btype, payload))
        pos += BLOCK_OVERHEAD + length
    assert pos == len(data)
    return out


def sample_blocks(data: bytes) -> list[Block]:
    return [b for b in blocks(data)
            if b.type in (BlockType.SAMPLES_RAW, BlockType.SAMPLES_PACKED)]


def assert_same_run(a: StoredRun, b: StoredRun) -> None:
    np.testing.assert_array_equal(a.counts, b.counts)
    np.testing.assert_array_equal(a.sample_index, b.sample_index)
    np.testing.assert_array_equal(a.block_first_index, b.block_first_index)
    np.testing.assert_array_equal(a.block_device_time_us, b.block_device_time_us)
    np.testing.assert_array_equal(a.block_n, b.block_n)
    assert (a.header, a.events, a.time_anchors, a.lost, a.ended_cleanly) == (
        b.header, b.events, b.time_anchors, b.lost, b.ended_cleanly)


# --------------------------------------------------------------------------- header
def test_header_layout() -> None:
    h = header()
    raw = bytes(h)
    assert len(raw) == HEADER_SIZE == 96
    assert raw[:4] == b"IMRN"
    assert struct.unpack_from("<HH", raw, 4) == (1, 96)
    assert struct.unpack_from("<QIHHQQ", raw, 8) == (
        h.device_id, 42, 7, RATE_HZ, 1_700_000_000_000, T0_US)
    assert struct.unpack_from("<BBH", raw, 40) == (16, 1, 2000)
    assert struct.unpack_from("<ff", raw, 44) == (h.acc_lsb_ms2, h.gyr_lsb_rads)
    assert struct.unpack_from("<3f", raw, 52) == h.acc_offset_ms2
    assert struct.unpack_from("<3f", raw, 64) == h.acc_gain
    assert struct.unpack_from("<3f", raw, 76) == h.gyr_offset_rads
    assert raw[88:92] == bytes([1, 2, 3, 0])
    assert int.from_bytes(raw[92:], "little") == crc32(raw[:92])


@settings(max_examples=50)
@given(U64, U32, U16, st.integers(1, 65535), U64, U64, st.integers(0, 255), U16, POS_F32,
       POS_F32, st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)))
def test_header_round_trip(dev: int, run: int, boot: int, rate: int, unix: int, t0: int,
                           arange: int, grange: int, alsb: float, glsb: float,
                           fw: tuple[int, int, int]) -> None:
    h = RunHeader(dev, run, boot, rate, unix, t0, arange, grange, alsb, glsb, firmware=fw)
    assert RunHeader.from_bytes(bytes(h)) == h
    run_ = read_run(bytes(h))
    assert run_.header == h
    assert run_.counts.shape == (0, 6)
    assert not run_.ended_cleanly


def test_every_header_byte_flip_is_a_run_format_error() -> None:
    data = write(smooth(40, 0), block_samples=16)
    for i in range(HEADER_SIZE):
        for mask in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[i] ^= mask
            with pytest.raises(RunFormatError):
                read_run(bytes(bad))


@pytest.mark.parametrize("cut", [0, 1, 4, 7, 8, 50, 95])
def test_truncated_header_is_a_run_format_error(cut: int) -> None:
    with pytest.raises(RunFormatError):
        read_run(write(smooth(10, 0))[:cut])


def test_header_len_outside_the_file_or_below_96() -> None:
    raw = bytearray(bytes(header()))
    for hlen in (0, 95, 97, 1000, 65535):
        raw[6:8] = hlen.to_bytes(2, "little")
        with pytest.raises(RunFormatError):
            read_run(bytes(raw))


def test_longer_future_header_is_skipped_to_header_len() -> None:
    h = header()
    body = bytearray(bytes(h)[:92])
    body[4:6] = (2).to_bytes(2, "little")  # format version 2
    body[6:8] = (104).to_bytes(2, "little")
    body += b"NEWFIELD"  # appended by a later version
    future = bytes(body) + crc32(body).to_bytes(4, "little")
    counts = smooth(300, 1)
    blocks_ = write(counts)[HEADER_SIZE:]
    run = read_run(future + blocks_)
    np.testing.assert_array_equal(run.counts, counts)
    assert run.header.format_version == 2
    assert run.damaged == ()


# --------------------------------------------------------------------------- lossless round trip
def _check_block_choice(data: bytes) -> None:
    """Every sample block uses the smaller coding; packed only when not longer than raw."""
    run = read_run(data)
    start = 0
    for b in sample_blocks(data):
        n = struct.unpack_from("<H", b.payload, 12)[0]
        c = run.counts[start:start + n]
        start += n
        raw = encode_samples_raw(c, 0, 0)
        pk = encode_samples_packed(c, 0, 0)
        if b.type == BlockType.SAMPLES_PACKED:
            assert len(b.payload) == len(pk) <= len(raw)
        else:
            assert len(b.payload) == len(raw) < len(pk)


@pytest.mark.parametrize("block_samples", BLOCK_SIZES)
@pytest.mark.parametrize("kind", ["noise", "smooth"])
def test_lossless_for_every_block_size(block_samples: int, kind: str) -> None:
    n = 3 * block_samples + 7 if block_samples < 256 else 2 * block_samples + 5
    counts = (noise if kind == "noise" else smooth)(n, block_samples)
    data = write(counts, block_samples=block_samples)
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, counts)
    np.testing.assert_array_equal(run.sample_index, np.arange(n))
    assert run.ended_cleanly
    assert run.damaged == ()
    types = [b.type for b in sample_blocks(data)]
    assert len(types) == -(-n // block_samples)
    if kind == "noise":
        assert set(types) == {BlockType.SAMPLES_RAW}  # full-range noise: raw fallback
    elif block_samples >= 31:
        # Every full block packs; only a short tail may fall back to raw.
        assert set(types[:-1]) == {BlockType.SAMPLES_PACKED}
    _check_block_choice(data)
    assert np.all(run.block_device_time_us == T0_US + run.block_first_index * PERIOD_US)


@settings(max_examples=40)
@given(st.integers(0, 2500), st.sampled_from(["noise", "smooth", "constant", "extremes"]),
       st.sampled_from(BLOCK_SIZES), st.integers(0, 2**32 - 1))
def test_lossless_random_counts(n: int, kind: str, block_samples: int, seed: int) -> None:
    if block_samples < 31:
        n = min(n, 200)  # thousands of one-sample blocks add time, not coverage
    if kind == "noise":
        counts = noise(n, seed)
    elif kind == "smooth":
        counts = smooth(n, seed)
    elif kind == "constant":
        counts = np.full((n, 6), seed % 65536 - 32768, np.int16)
    else:  # alternating int16 extremes: every difference wraps
        counts = np.where((np.arange(n) % 2 == 0)[:, None], -32768, 32767).astype(np.int16)
        counts = np.repeat(counts, 6, axis=1)
    data = write(counts, block_samples=block_samples)
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, counts)
    np.testing.assert_array_equal(run.sample_index, np.arange(n))
    _check_block_choice(data)


def _check_packed_block(counts: np.ndarray, first: int, t_us: int) -> None:
    payload = encode_samples_packed(counts, first, t_us)
    n = len(counts)
    n_sub = -(-(n - 1) // 32)
    widths = np.frombuffer(payload, np.uint8, 6 * n_sub, PACKED_HEAD.size)
    assert len(payload) == PACKED_HEAD.size + 6 * n_sub + 4 * int(widths.sum())
    data = bytes(header()) + encode_block(BlockType.SAMPLES_PACKED, payload)
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, counts)
    assert run.block_first_index.tolist() == [first]
    assert run.block_device_time_us.tolist() == [t_us]
    assert run.damaged == ()


@settings(max_examples=60)
@given(counts_arrays(70, min_n=1), U32, st.integers(0, 2**63 - 1))
def test_packed_block_round_trip(counts: np.ndarray, first: int, t_us: int) -> None:
    _check_packed_block(counts, first, t_us)


@settings(max_examples=60)
@given(st.integers(1, MAX_BLOCK_SAMPLES), st.integers(0, 16), st.integers(0, 2**32 - 1))
def test_packed_block_round_trip_every_width(n: int, bits: int, seed: int) -> None:
    """Random walks whose steps need ``bits`` bits: every bit width 0..16 gets packed."""
    rng = np.random.default_rng(seed)
    half = (1 << bits) >> 1
    steps = rng.integers(-half, half + 1, (n, 6)) if bits else np.zeros((n, 6), np.int64)
    counts = (np.cumsum(steps, axis=0) + rng.integers(-32768, 32768, 6)).astype(np.int16)
    _check_packed_block(counts, seed, seed * 5000)


def test_bits_past_the_last_value_of_a_block_are_ignored() -> None:
    """The zero padding of a channel's last sub-block is not data: set bits there change nothing.

    The decoder sums residuals over whole sub-blocks and keeps the first n - 1; a writer (or a
    damaged flash page with a rewritten CRC) that leaves ones in the padding must not leak in.
    """
    counts = np.array([[0, 1, 2, 3, 4, 5], [1, 0, 5, -3, 4, 100]], np.int16)
    payload = bytearray(encode_samples_packed(counts, 0, 0))
    # n = 2: one sub-block per channel, holding one value of width <= 8 in the low bits of its
    # first byte; every other bit of the sub-block is padding.
    widths = payload[PACKED_HEAD.size:PACKED_HEAD.size + 6]
    assert 0 < max(widths) <= 8
    off = PACKED_HEAD.size + 6
    for w in widths:
        if w:
            payload[off] |= 0xFF << w & 0xFF
            payload[off + 1:off + 4 * w] = b"\xff" * (4 * w - 1)
        off += 4 * w
    assert off == len(payload)
    data = bytes(header()) + encode_block(BlockType.SAMPLES_PACKED, bytes(payload))
    run = read_run(data)
    assert run.damaged == ()
    np.testing.assert_array_equal(run.counts, counts)


def test_order_2_is_chosen_on_ramps_and_order_1_on_random_walks() -> None:
    rng = np.random.default_rng(5)
    n = 256
    i = np.arange(n)
    ramps = np.stack([3 * i - 400, -7 * i, 100 * i - 12800], axis=1)
    walks = np.cumsum(rng.integers(-20, 21, (n, 3)), axis=0)
    counts = np.concatenate([ramps, walks], axis=1).astype(np.int16)
    payload = encode_samples_packed(counts, 0, 0)
    assert payload[26] == 0b000111
    # A ramp costs one non-zero sub-block per channel with order 2 (r[0] is the slope).
    widths = np.frombuffer(payload, np.uint8, 6 * 8, 27).reshape(6, 8)
    assert np.all(widths[:3, 1:] == 0)
    data = write(counts)
    (blk,) = sample_blocks(data[:-16])  # without the END block
    assert blk.type == BlockType.SAMPLES_PACKED
    assert blk.payload[26] == 0b000111
    np.testing.assert_array_equal(read_run(data).counts, counts)


def test_ties_choose_order_1() -> None:
    payload = encode_samples_packed(np.full((100, 6), 1234, np.int16), 0, 0)
    assert payload[26] == 0  # all residuals zero with either order
    assert len(payload) == 27 + 6 * 4  # four zero-width sub-blocks per channel, no data


def test_worst_case_block_size_matches_the_spec() -> None:
    blk = encode_samples_block(noise(256, 9), 0, 0)
    assert blk[4] == BlockType.SAMPLES_RAW
    assert len(blk) == 12 + 14 + 3072 == 3098


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_writer_output_does_not_depend_on_how_samples_arrive(seed: int) -> None:
    counts = np.concatenate([smooth(700, seed), noise(300, seed)])
    whole = write(counts, block_samples=256)
    assert write(counts, block_samples=256, chunks=[1] * len(counts)) == whole
    rng = np.random.default_rng(seed)
    cuts, left = [], len(counts)
    while left:
        cuts.append(min(left, int(rng.integers(0, 400))))
        left -= cuts[-1]
    assert write(counts, block_samples=256, chunks=cuts) == whole


@pytest.mark.parametrize("seed", [0, 1])
def test_blocks_of_mixed_lengths_decode_in_file_order(seed: int) -> None:
    """Packed blocks of equal length are decoded together: interleave lengths and raw blocks."""
    rng = np.random.default_rng(seed)
    w = RunWriter(header(), block_samples=64)
    parts, want = [w.start()], []
    for k in range(30):
        n = int(rng.choice([1, 33, 64, 40, 33, 64]))
        c = noise(n, k) if k % 7 == 3 else smooth(n, k)
        want.append(c)
        parts.append(w.samples(c, T0_US + w.n_samples * PERIOD_US) + w.flush())
    data = b"".join(parts)
    types = [b.type for b in sample_blocks(data)]
    assert BlockType.SAMPLES_RAW in types
    assert BlockType.SAMPLES_PACKED in types
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, np.concatenate(want))
    np.testing.assert_array_equal(run.sample_index, np.arange(len(run.counts)))
    assert run.block_n.tolist() == [len(c) for c in want]


def test_unpacked_writer() -> None:
    counts = smooth(600, 3)
    data = write(counts, packed=False)
    assert {b.type for b in sample_blocks(data)} == {BlockType.SAMPLES_RAW}
    np.testing.assert_array_equal(read_run(data).counts, counts)


# --------------------------------------------------------------------------- other blocks
def _session_run() -> tuple[bytes, np.ndarray, list[m.Event]]:
    """Samples, an event, a time anchor, a firmware-reported loss, more samples, END."""
    w = RunWriter(header(), block_samples=32)
    a, b = smooth(70, 1), noise(40, 2)
    ev1 = m.Event(m.EventCode.RECORDING_STARTED, T0_US, 0)
    ev2 = m.Event(m.EventCode.BUTTON, T0_US + 123, 1)
    parts = [w.start(), w.event(ev1), w.samples(a, T0_US), w.time_anchor(T0_US + 5, 1_700_000_000_005),
             w.event(ev2), w.lost(25), w.samples(b, T0_US + 95 * PERIOD_US), w.end()]
    return b"".join(parts), np.concatenate([a, b]), [ev1, ev2]


def test_events_time_lost_and_end_blocks() -> None:
    data, counts, evs = _session_run()
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, counts)
    np.testing.assert_array_equal(run.sample_index,
                                  np.concatenate([np.arange(70), np.arange(95, 135)]))
    assert run.events == tuple(evs)
    assert run.time_anchors == ((T0_US + 5, 1_700_000_000_005),)
    assert run.lost == ((70, 25),)
    assert run.ended_cleanly
    assert run.blocks_ok == len(blocks(data))
    assert run.n_bytes == len(data)
    end = blocks(data)[-1]
    assert end.type == BlockType.END
    assert struct.unpack("<I", end.payload) == (135,)
    assert run.block_first_index.tolist() == [0, 32, 64, 95, 127]
    assert run.block_n.tolist() == [32, 32, 6, 32, 8]


def test_without_end_block_the_run_is_not_clean() -> None:
    run = read_run(write(smooth(100, 0), end=False))
    assert not run.ended_cleanly
    assert len(run.counts) == 100


def test_unknown_block_types_are_skipped() -> None:
    counts = smooth(100, 4)
    data = write(counts, block_samples=50)
    bl = blocks(data)
    future = encode_block(0x77, b"a block type from the future")
    data2 = data[:bl[1].offset] + future + data[bl[1].offset:]
    run = read_run(data2)
    np.testing.assert_array_equal(run.counts, counts)
    assert run.blocks_ok == len(bl) + 1
    assert run.damaged == ()


@pytest.mark.parametrize(("btype", "payload"), [
    (BlockType.SAMPLES_RAW, struct.pack("<IQH", 0, 0, 0)),  # n = 0
    (BlockType.SAMPLES_RAW, struct.pack("<IQH", 0, 0, 1025) + bytes(12 * 1025)),
    (BlockType.SAMPLES_RAW, struct.pack("<IQH", 0, 0, 5) + bytes(12 * 4)),  # short
    (BlockType.SAMPLES_RAW, b"\x00" * 5),
    (BlockType.SAMPLES_PACKED, b"\x00" * 20),
    (BlockType.SAMPLES_PACKED, PACKED_HEAD.pack(0, 0, 0, *[0] * 6, 0)),  # n = 0
    (BlockType.SAMPLES_PACKED, PACKED_HEAD.pack(0, 0, 1025, *[0] * 6, 0) + bytes(200)),
    (BlockType.SAMPLES_PACKED, PACKED_HEAD.pack(0, 0, 33, *[0] * 6, 0) + bytes(3)),  # widths cut
    (BlockType.SAMPLES_PACKED, PACKED_HEAD.pack(0, 0, 33, *[0] * 6, 0) + bytes([17] * 6)
     + bytes(6 * 68)),  # width above 16
    (BlockType.SAMPLES_PACKED, PACKED_HEAD.pack(0, 0, 33, *[0] * 6, 0) + bytes([16] * 6)
     + bytes(10)),  # data shorter than the widths need
    (BlockType.EVENT, b"\x01\x02"),
    (BlockType.TIME, bytes(15)),
    (BlockType.SAMPLES_LOST, bytes(7)),
])
def test_blocks_with_a_good_crc_but_bad_content_cost_only_themselves(btype: int,
                                                                     payload: bytes) -> None:
    counts = smooth(100, 5)
    data = write(counts, block_samples=50)
    bl = blocks(data)
    bad = encode_block(btype, payload)
    run = read_run(data[:bl[1].offset] + bad + data[bl[1].offset:])
    np.testing.assert_array_equal(run.counts, counts)
    assert len(run.damaged) == 1
    assert run.damaged[0].offset == bl[1].offset
    assert run.damaged[0].n_bytes == len(bad)
    assert run.blocks_ok == len(bl)


def test_encoder_argument_checks() -> None:
    with pytest.raises(RunFormatError):
        encode_samples_packed(np.zeros((0, 6), np.int16), 0, 0)
    with pytest.raises(RunFormatError):
        encode_samples_raw(np.zeros((MAX_BLOCK_SAMPLES + 1, 6), np.int16), 0, 0)
    with pytest.raises(RunFormatError):
        encode_samples_raw(np.zeros((5, 3), np.int16), 0, 0)
    with pytest.raises(RunFormatError):
        encode_block(1, bytes(MAX_BLOCK_PAYLOAD + 1))
    with pytest.raises(RunFormatError):
        header(sample_rate_hz=0)
    assert len(encode_block(1, bytes(MAX_BLOCK_PAYLOAD))) == MAX_BLOCK_PAYLOAD + BLOCK_OVERHEAD


# --------------------------------------------------------------------------- damage
def _damage_fixture() -> tuple[bytes, list[Block]]:
    """A small run with raw and packed sample blocks and every other block type."""
    w = RunWriter(header(), block_samples=40)
    parts = [w.start(), w.samples(smooth(100, 7), T0_US),
             w.event(m.Event(m.EventCode.BUTTON, T0_US + 1, 2)),
             w.samples(noise(45, 8), T0_US + 100 * PERIOD_US),
             w.time_anchor(T0_US, 1_700_000_000_000), w.lost(10),
             w.samples(smooth(50, 9), T0_US + 155 * PERIOD_US), w.end()]
    data = b"".join(parts)
    return data, blocks(data)


def _expected_without(data: bytes, bl: list[Block], k: int) -> StoredRun:
    """What the reader must return when block ``k`` is gone and nothing else."""
    return read_run(data[:bl[k].offset] + data[bl[k].end:])


def test_fixture_has_every_kind_of_block() -> None:
    data, bl = _damage_fixture()
    assert {b.type for b in bl} == set(BlockType)


def test_a_flipped_byte_costs_exactly_its_block() -> None:
    data, bl = _damage_fixture()
    full = read_run(data)
    for k, b in enumerate(bl):
        want = _expected_without(data, bl, k)
        assert want.blocks_ok == len(bl) - 1
        for pos in range(b.offset, b.end):
            bad = bytearray(data)
            bad[pos] ^= 0xFF
            run = read_run(bytes(bad))
            assert_same_run(run, want)
            assert run.blocks_ok == len(bl) - 1, (k, pos)
            assert run.damaged, (k, pos)
            assert run.damaged[0].offset == b.offset, (k, pos)
            assert all(b.offset <= d.offset < b.end for d in run.damaged), (k, pos)
        if b.type in (BlockType.SAMPLES_RAW, BlockType.SAMPLES_PACKED):
            # The hole shows in sample_index: the block's samples are missing, no others.
            n = struct.unpack_from("<H", b.payload, 12)[0]
            first = struct.unpack_from("<I", b.payload, 0)[0]
            assert len(want.counts) == len(full.counts) - n
            assert not np.isin(np.arange(first, first + n), want.sample_index).any()


def test_truncation_at_every_byte_gives_a_prefix() -> None:
    data, bl = _damage_fixture()
    full = read_run(data)
    for cut in range(len(data) + 1):
        if cut < HEADER_SIZE:
            with pytest.raises(RunFormatError):
                read_run(data[:cut])
            continue
        run = read_run(data[:cut])
        n = len(run.counts)
        np.testing.assert_array_equal(run.counts, full.counts[:n])
        np.testing.assert_array_equal(run.sample_index, full.sample_index[:n])
        assert run.events == full.events[:len(run.events)]
        complete = [b for b in bl if b.end <= cut]
        assert run.blocks_ok == len(complete)
        assert run.ended_cleanly == (cut == len(data))
        assert bool(run.damaged) == (cut not in {HEADER_SIZE, *(b.end for b in bl)})


def _planted_event() -> m.Event:
    # device_time_us carries a sync word and a plausible block head (type 1, length 10);
    # value carries another sync word.
    t = int.from_bytes(SYNC + bytes([1, 0, 10, 0]), "little")
    return m.Event(m.EventCode.BUTTON, t, int.from_bytes(SYNC, "little"))


def _sync_samples() -> np.ndarray:
    # int16 0x5AA5, 0x3CC3 are the bytes A5 5A C3 3C: the sync word inside a raw sample block.
    c = noise(20, 11)
    c[5, 0], c[5, 1] = 0x5AA5, 0x3CC3
    c[12, 4], c[12, 5] = 0x5AA5, 0x3CC3
    return c


def _planted_run() -> tuple[bytes, list[Block], np.ndarray]:
    w = RunWriter(header(), block_samples=20)
    a = _sync_samples()
    b = smooth(40, 12)
    data = b"".join([w.start(), w.samples(a, T0_US), w.event(_planted_event()),
                     w.samples(b, T0_US + 20 * PERIOD_US), w.end()])
    return data, blocks(data), np.concatenate([a, b])


def test_sync_words_inside_payloads_do_not_derail_the_reader() -> None:
    data, bl, counts = _planted_run()
    assert data.count(SYNC) > len(bl)
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, counts)
    assert run.events == (_planted_event(),)
    assert run.damaged == ()
    # Damage the blocks that hold planted sync words: the reader searches from inside them,
    # rejects every planted candidate by its CRC and resumes at the next real block.
    for k in (0, 1):
        for pos in (bl[k].offset + 4, bl[k].end - 1):
            bad = bytearray(data)
            bad[pos] ^= 0x55
            assert_same_run(read_run(bytes(bad)), _expected_without(data, bl, k))


# --------------------------------------------------------------------------- garbage around blocks
def _junk(rng: np.random.Generator, n: int, *, sync: bool) -> bytes:
    g = bytearray(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    while SYNC in g:  # only the planted ones
        g[g.find(SYNC)] ^= 0xFF
    if sync:
        for _ in range(3):
            at = int(rng.integers(0, max(1, n - 12)))
            g[at:at + 4] = SYNC
            g[at + 6:at + 8] = int(rng.integers(0, 40)).to_bytes(2, "little")
    return bytes(g)


@pytest.mark.parametrize("sync", [False, True], ids=["junk", "junk-with-sync-words"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_garbage_before_between_and_after_blocks(sync: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    data, bl = _damage_fixture()
    clean = read_run(data)
    out = [data[:HEADER_SIZE]]
    spans = []
    for b in [*bl, None]:
        if rng.random() < 0.7:
            g = _junk(rng, int(rng.choice([1, 3, 12, 40, 300])), sync=sync)
            start = sum(map(len, out))
            spans.append((start, start + len(g)))
            out.append(g)
        if b is not None:
            out.append(data[b.offset:b.end])
    dirty = b"".join(out)
    run = read_run(dirty)
    assert_same_run(run, clean)
    assert run.blocks_ok == clean.blocks_ok
    assert run.damaged
    for d in run.damaged:
        assert any(s <= d.offset < e for s, e in spans), d


def test_run_crc_depends_on_content_not_only_on_block_lengths() -> None:
    """Regression: with each block's CRC at its end, every run file of one layout had the same
    CRC-32 (the CRC residue property), so the catalogue could not tell two runs apart."""
    import zlib

    from firmware_protocol.runfile import RunHeader, RunWriter

    h = RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.0048, 0.001)
    crcs = set()
    for seed in (1, 2, 3):
        c = np.random.default_rng(seed).integers(-100, 100, (1000, 6)).astype(np.int16)
        w = RunWriter(h, packed=False)
        crcs.add(zlib.crc32(w.start() + w.samples(c, 0) + w.end()))
    assert len(crcs) == 3


@pytest.mark.parametrize("t_us", [2**63, 2**64 - 1])
def test_sample_block_encoders_refuse_times_the_reader_rejects(t_us: int) -> None:
    """Regression: a block time >= 2**63 was written, then discarded by read_run as damaged.

    SPEC §5.2: such a time is invalid and the block is treated as damaged, so writing one only
    loses its samples; the encoders refuse it, as SampleBatch does (SPEC §3.2).
    """
    counts = np.zeros((4, 6), np.int16)
    for encode in (encode_samples_block, encode_samples_packed, encode_samples_raw):
        with pytest.raises(RunFormatError, match="device_time_us"):
            encode(counts, 0, t_us)
    header = RunHeader(1, 1, 1, 200, 0, 0, 16, 2000, 0.001, 0.001)
    with pytest.raises(RunFormatError, match="device_time_us"):
        RunWriter(header, block_samples=4).samples(counts, t_us)
    ok = encode_samples_block(counts, 0, 2**63 - 1)
    assert not read_run(bytes(header) + ok).damaged


@pytest.mark.parametrize("payload", [b"", b"\x01\x02\x03"])
def test_end_block_too_short_is_damage_not_a_clean_end(payload: bytes) -> None:
    """Regression: an END block of fewer than 4 bytes (no ``n_samples u32``) passed as a clean end.

    Every other known block that passes its CRC but is too short for its fields is damaged
    (SPEC §5.2); END was read without looking at its payload.
    """
    header = RunHeader(1, 1, 1, 200, 0, 0, 16, 2000, 0.001, 0.001)
    w = RunWriter(header, block_samples=8)
    body = w.start() + w.samples(np.zeros((8, 6), np.int16), 0)
    bad_end = encode_block(BlockType.END, payload)
    run = read_run(body + bad_end)
    assert not run.ended_cleanly
    assert [(d.offset, d.n_bytes) for d in run.damaged] == [(len(body), len(bad_end))]
    assert read_run(body + w.end()).ended_cleanly


def test_run_writer_refuses_a_call_whose_later_block_would_start_at_2_63_before_writing() -> None:
    """Regression: only the first sample's time was checked. With a later block of the same
    call starting at >= 2**63, the first block was encoded and counted, then the call raised:
    its bytes were lost, and the samples left pending made every later flush and end() raise."""
    header = RunHeader(1, 1, 1, 200, 0, 0, 16, 2000, 0.001, 0.001)
    w = RunWriter(header, block_samples=4)
    with pytest.raises(RunFormatError, match="device_time_us"):
        w.samples(np.zeros((8, 6), np.int16), 2**63 - 1)
    assert (w.n_samples, w._pending_n) == (0, 0)  # nothing written, nothing pending
    body = w.start() + w.samples(np.zeros((4, 6), np.int16), 2**63 - 1) + w.end()
    run = read_run(body)
    assert run.ended_cleanly
    assert not run.damaged


@pytest.mark.parametrize("fs", [3, 128, 200, 256, 3200, 65535])
def test_a_batch_spanning_blocks_times_each_block_half_up(fs: int) -> None:
    """Regression: RunWriter timed a block that begins k samples into one samples() call with
    float round() (ties to even: 789062 µs for k = 101 at 128 Hz), where SPEC §5.2 and the C
    reference's imr_sample_time_us give k·10⁶/fs rounded half up in integers (789063)."""
    from fractions import Fraction

    w = RunWriter(header(sample_rate_hz=fs), block_samples=101)
    c = np.zeros((1000, 6), np.int16)
    run = read_run(w.start() + w.samples(c[:40], T0_US) + w.samples(c[40:], 5 * T0_US) + w.end())
    first = run.block_first_index.tolist()
    assert first == list(range(0, 1000, 101))
    # block 0 starts in the first call; the others k samples into the second (k = index - 40)
    want = [T0_US] + [5 * T0_US + int(Fraction((i - 40) * 10**6, fs) + Fraction(1, 2))
                      for i in first[1:]]
    assert run.block_device_time_us.tolist() == want
