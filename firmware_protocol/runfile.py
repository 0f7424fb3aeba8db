"""The stored-run format: what the firmware writes to flash and sync copies byte for byte.

A run file is a :class:`RunHeader` followed by self-describing blocks (SPEC.md §5)::

    block := sync(4) type(1) flags(1) length(2) crc32(4) payload(length)

The CRC-32 covers type, flags, length and payload. A damaged block costs that block only:
the reader resynchronises on the next sync word whose block passes its CRC.

Sample blocks use a lossless "delta + zigzag + bit packing" code: per channel, first- or
second-order differences (wrapping int16 arithmetic), zigzag-mapped to unsigned, packed in
sub-blocks of 32 values at the smallest bit width that holds the sub-block's largest value.
Decoding is vectorised over every sub-block of a whole run (no per-sample Python loop).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final, NamedTuple, Self

import numpy as np
import numpy.typing as npt

from firmware_protocol.crc import crc32
from firmware_protocol.errors import MessageError, RunFormatError
from firmware_protocol.messages import SAMPLE_CHANNELS, Event, Scale

MAGIC: Final = b"IMRN"
FORMAT_VERSION: Final = 1
SYNC: Final = b"\xa5\x5a\xc3\x3c"
BLOCK_HEAD: Final = struct.Struct("<4sBBHI")  # sync, type, flags, length, crc32
BLOCK_OVERHEAD: Final = BLOCK_HEAD.size
MAX_BLOCK_PAYLOAD: Final = 16384
MAX_BLOCK_SAMPLES: Final = 1024
DEFAULT_BLOCK_SAMPLES: Final = 256
SUB: Final = 32  # values per bit-packing sub-block
SAMPLE_HEAD: Final = struct.Struct("<IQH")  # first_sample_index, device_time_us, n
PACKED_HEAD: Final = struct.Struct("<IQH6hB")  # ... + first values + orders bitmask
_HEADER: Final = struct.Struct("<4sHHQIHHQQBBHff3f3f3f3BB")
HEADER_SIZE: Final = _HEADER.size + 4  # 96 with its CRC-32


class BlockType(IntEnum):
    SAMPLES_RAW = 0x01
    SAMPLES_PACKED = 0x02
    EVENT = 0x10
    TIME = 0x11  # device_time_us u64, unix_ms u64: a wall-clock anchor
    SAMPLES_LOST = 0x12  # first_sample_index u32, n u32: the firmware could not store these
    END = 0xFE  # n_samples u32: the run was closed cleanly


@dataclass(frozen=True)
class RunHeader:
    """Fixed part of a run file. Calibration: ``acc = (counts*lsb - offset) * gain``."""

    device_id: int
    run_id: int
    boot_id: int
    sample_rate_hz: int
    start_unix_ms: int
    start_device_time_us: int
    acc_range_g: int
    gyr_range_dps: int
    acc_lsb_ms2: float
    gyr_lsb_rads: float
    acc_offset_ms2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    acc_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gyr_offset_rads: tuple[float, float, float] = (0.0, 0.0, 0.0)
    firmware: tuple[int, int, int] = (1, 0, 0)
    mounting_hint: int = 0
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        Scale(self.acc_lsb_ms2, self.gyr_lsb_rads)
        for name, hi in (("device_id", 2**64 - 1), ("run_id", 2**32 - 1), ("boot_id", 65535),
                         ("sample_rate_hz", 65535), ("start_unix_ms", 2**64 - 1),
                         ("start_device_time_us", 2**64 - 1), ("acc_range_g", 255),
                         ("gyr_range_dps", 65535), ("mounting_hint", 255)):
            v = getattr(self, name)
            if not 0 <= v <= hi:
                raise RunFormatError(f"header field {name}={v} outside 0..{hi}")
        if self.sample_rate_hz == 0:
            raise RunFormatError("sample_rate_hz must be positive")

    @property
    def scale(self) -> Scale:
        return Scale(self.acc_lsb_ms2, self.gyr_lsb_rads)

    def __bytes__(self) -> bytes:
        body = _HEADER.pack(MAGIC, self.format_version, HEADER_SIZE, self.device_id, self.run_id,
                            self.boot_id, self.sample_rate_hz, self.start_unix_ms,
                            self.start_device_time_us, self.acc_range_g, self.mounting_hint,
                            self.gyr_range_dps, self.acc_lsb_ms2, self.gyr_lsb_rads,
                            *self.acc_offset_ms2, *self.acc_gain, *self.gyr_offset_rads,
                            *self.firmware, 0)
        return body + crc32(body).to_bytes(4, "little")

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Self:
        data = bytes(data[:HEADER_SIZE])
        if len(data) < 8 or data[:4] != MAGIC:
            raise RunFormatError("not a stored run (bad magic)", offset=0)
        version, header_len = struct.unpack_from("<HH", data, 4)
        if len(data) < HEADER_SIZE:
            raise RunFormatError(f"header truncated at {len(data)} bytes", offset=0)
        if version == 0:
            raise RunFormatError("header format version 0 is invalid", offset=4)
        if header_len < HEADER_SIZE:
            raise RunFormatError(f"header length {header_len} < {HEADER_SIZE}", offset=4)
        # A newer format may have a longer header; v1 fields come first and the CRC is last.
        # Here we read the v1 part; read_run() checks the full header's CRC.
        body = data[:_HEADER.size]
        f = _HEADER.unpack(body)
        try:  # the scale check lives in the message layer: report it as a run-format error
            Scale(f[12], f[13])
        except MessageError as e:
            raise RunFormatError(f"header: {e.reason}", offset=0) from e
        return cls(device_id=f[3], run_id=f[4], boot_id=f[5], sample_rate_hz=f[6],
                   start_unix_ms=f[7], start_device_time_us=f[8], acc_range_g=f[9],
                   mounting_hint=f[10], gyr_range_dps=f[11], acc_lsb_ms2=f[12],
                   gyr_lsb_rads=f[13], acc_offset_ms2=tuple(f[14:17]),
                   acc_gain=tuple(f[17:20]), gyr_offset_rads=tuple(f[20:23]),
                   firmware=tuple(f[23:26]), format_version=version)


def _header_len(data: bytes | memoryview) -> int:
    (n,) = struct.unpack_from("<H", data, 6)
    return int(n)


# --------------------------------------------------------------------------- sample coding
def _zigzag(r: npt.NDArray[np.int16]) -> npt.NDArray[np.uint16]:
    r32 = r.astype(np.int32)
    return (((r32 << 1) ^ (r32 >> 15)) & 0xFFFF).astype(np.uint16)


def _unzigzag(z: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    return (z >> 1) ^ -(z & 1)


def _widths(z: npt.NDArray[np.uint16]) -> npt.NDArray[np.uint8]:
    """Bit width of each 32-value sub-block of ``z`` (length a multiple of 32)."""
    m = z.reshape(-1, SUB).max(axis=1).astype(np.uint32) if z.size else np.zeros(0, np.uint32)
    # bit_length for 0..65535, exact in float64
    w = np.zeros(m.shape, np.uint8)
    nz = m > 0
    w[nz] = np.floor(np.log2(m[nz].astype(np.float64))).astype(np.uint8) + 1
    return w


def _residuals(x: npt.NDArray[np.int16], order: int) -> npt.NDArray[np.int16]:
    with np.errstate(over="ignore"):
        d = np.diff(x.astype(np.int16)).astype(np.int16)
        if order == 2 and d.size > 1:
            d = np.concatenate((d[:1], np.diff(d).astype(np.int16)))
    return d


def _pack(z: npt.NDArray[np.uint16], widths: npt.NDArray[np.uint8]) -> bytes:
    out = []
    for k, w in enumerate(widths.tolist()):
        if w == 0:
            continue
        vals = z[k * SUB:(k + 1) * SUB].astype(np.uint32)
        bits = ((vals[:, None] >> np.arange(w, dtype=np.uint32)) & 1).astype(np.uint8)
        out.append(np.packbits(bits.reshape(-1), bitorder="little").tobytes())
    return b"".join(out)


def encode_samples_packed(counts: npt.ArrayLike, first_sample_index: int, device_time_us: int) -> bytes:
    """Payload of a SAMPLES_PACKED block for ``counts`` of shape ``(n, 6)``, 1 <= n <= 1024.

    Per channel the encoder picks the difference order (1 or 2) that packs smaller, ties to 1.
    """
    c = np.asarray(counts, dtype=np.int16)
    if c.ndim != 2 or c.shape[1] != SAMPLE_CHANNELS or not 1 <= c.shape[0] <= MAX_BLOCK_SAMPLES:
        raise RunFormatError(f"counts must have shape (1..{MAX_BLOCK_SAMPLES}, 6), got {c.shape}")
    n = c.shape[0]
    n_pad = -(-(n - 1) // SUB) * SUB
    orders = 0
    widths_all: list[npt.NDArray[np.uint8]] = []
    data_all: list[bytes] = []
    for ch in range(SAMPLE_CHANNELS):
        best: tuple[int, npt.NDArray[np.uint16], npt.NDArray[np.uint8]] | None = None
        for order in (1, 2):
            z = np.zeros(n_pad, np.uint16)
            z[: n - 1] = _zigzag(_residuals(c[:, ch], order))
            w = _widths(z)
            size = int(w.astype(np.int64).sum()) * 4
            if best is None or size < int(best[2].astype(np.int64).sum()) * 4:
                best = (order, z, w)
        assert best is not None
        order, z, w = best
        if order == 2:
            orders |= 1 << ch
        widths_all.append(w)
        data_all.append(_pack(z, w))
    head = PACKED_HEAD.pack(first_sample_index, device_time_us, n, *c[0].tolist(), orders)
    return head + b"".join(w.tobytes() for w in widths_all) + b"".join(data_all)


def encode_samples_raw(counts: npt.ArrayLike, first_sample_index: int, device_time_us: int) -> bytes:
    """Payload of a SAMPLES_RAW block (int16 little-endian, interleaved)."""
    c = np.ascontiguousarray(counts, dtype="<i2")
    if c.ndim != 2 or c.shape[1] != SAMPLE_CHANNELS or not 1 <= c.shape[0] <= MAX_BLOCK_SAMPLES:
        raise RunFormatError(f"counts must have shape (1..{MAX_BLOCK_SAMPLES}, 6), got {c.shape}")
    return SAMPLE_HEAD.pack(first_sample_index, device_time_us, c.shape[0]) + c.tobytes()


def encode_samples_block(counts: npt.ArrayLike, first_sample_index: int, device_time_us: int,
                         *, packed: bool = True) -> bytes:
    """A complete sample block: packed, unless packing would be longer than raw (SPEC §5.3)."""
    raw = encode_samples_raw(counts, first_sample_index, device_time_us)
    if packed:
        pk = encode_samples_packed(counts, first_sample_index, device_time_us)
        if len(pk) <= len(raw):
            return encode_block(BlockType.SAMPLES_PACKED, pk)
    return encode_block(BlockType.SAMPLES_RAW, raw)


def encode_block(btype: int, payload: bytes, flags: int = 0) -> bytes:
    """A complete block: sync, type, flags, length, CRC-32 (of type..length and payload), payload.

    The CRC precedes the payload on purpose: were it last, every block would end in its own CRC
    and the CRC-32 of a whole run file would depend only on the block lengths (CRC residue
    property), so two different runs of equal layout would share their run CRC.
    """
    if len(payload) > MAX_BLOCK_PAYLOAD:
        raise RunFormatError(f"block payload of {len(payload)} bytes exceeds {MAX_BLOCK_PAYLOAD}")
    tfl = struct.pack("<BBH", btype, flags, len(payload))
    return SYNC + tfl + crc32(tfl + payload).to_bytes(4, "little") + payload


# --------------------------------------------------------------------------- writer
@dataclass
class RunWriter:
    """Builds a run file incrementally, as firmware does: header, then one block at a time."""

    header: RunHeader
    block_samples: int = DEFAULT_BLOCK_SAMPLES
    packed: bool = True
    n_samples: int = 0
    _pending: list[npt.NDArray[np.int16]] = field(default_factory=list)
    _pending_n: int = 0
    _pending_t0: int = 0

    def start(self) -> bytes:
        return bytes(self.header)

    def samples(self, counts: npt.ArrayLike, device_time_us: int) -> bytes:
        """Append samples (first one taken at ``device_time_us``); returns completed blocks."""
        c = np.asarray(counts, dtype=np.int16).reshape(-1, SAMPLE_CHANNELS)
        out = []
        period_us = 1e6 / self.header.sample_rate_hz
        i = 0
        while i < len(c):
            if self._pending_n == 0:
                self._pending_t0 = device_time_us + round(i * period_us)
            take = min(self.block_samples - self._pending_n, len(c) - i)
            self._pending.append(c[i:i + take])
            self._pending_n += take
            i += take
            if self._pending_n == self.block_samples:
                out.append(self.flush())
        return b"".join(out)

    def flush(self) -> bytes:
        """Close the pending sample block, if any."""
        if self._pending_n == 0:
            return b""
        c = np.concatenate(self._pending)
        block = encode_samples_block(c, self.n_samples, self._pending_t0, packed=self.packed)
        self.n_samples += self._pending_n
        self._pending = []
        self._pending_n = 0
        return block

    def event(self, ev: Event) -> bytes:
        return self.flush() + encode_block(BlockType.EVENT, ev.payload())

    def time_anchor(self, device_time_us: int, unix_ms: int) -> bytes:
        return self.flush() + encode_block(BlockType.TIME, struct.pack("<QQ", device_time_us, unix_ms))

    def lost(self, n: int) -> bytes:
        """Record that ``n`` samples could not be stored (they are skipped in the index)."""
        blk = self.flush() + encode_block(BlockType.SAMPLES_LOST, struct.pack("<II", self.n_samples, n))
        self.n_samples += n
        return blk

    def end(self) -> bytes:
        return self.flush() + encode_block(BlockType.END, struct.pack("<I", self.n_samples))


# --------------------------------------------------------------------------- reader
@dataclass(frozen=True)
class DamagedRegion:
    offset: int
    n_bytes: int
    reason: str


@dataclass(frozen=True, eq=False)
class StoredRun:
    """A decoded run. ``counts[i]`` was sample number ``sample_index[i]`` of the run."""

    header: RunHeader
    counts: npt.NDArray[np.int16]
    sample_index: npt.NDArray[np.int64]
    block_first_index: npt.NDArray[np.int64]
    block_device_time_us: npt.NDArray[np.int64]
    block_n: npt.NDArray[np.int64]
    events: tuple[Event, ...] = ()
    time_anchors: tuple[tuple[int, int], ...] = ()  # (device_time_us, unix_ms)
    lost: tuple[tuple[int, int], ...] = ()  # (first_sample_index, n) reported by firmware
    damaged: tuple[DamagedRegion, ...] = ()
    blocks_ok: int = 0
    ended_cleanly: bool = False
    n_bytes: int = 0


class _PackedMeta(NamedTuple):
    first_index: int
    time_us: int
    n: int
    first: list[int]
    orders: int
    widths: bytes
    data_start: int
    data_end: int


def _packed_meta(p: bytes) -> _PackedMeta:
    """Check a SAMPLES_PACKED payload's structure (never reading past its length)."""
    if len(p) < PACKED_HEAD.size:
        raise RunFormatError("packed sample block shorter than its header")
    idx, t_us, n, *first, orders = PACKED_HEAD.unpack_from(p)
    if not 1 <= n <= MAX_BLOCK_SAMPLES:
        raise RunFormatError(f"packed sample block declares {n} samples")
    if t_us >= 2**63:  # StoredRun keeps times as int64; 292,000 years after boot is garbage
        raise RunFormatError(f"device_time_us {t_us} is out of range")
    n_sub = -(-(n - 1) // SUB)
    wend = PACKED_HEAD.size + SAMPLE_CHANNELS * n_sub
    if len(p) < wend:
        raise RunFormatError("packed sample block truncated in its width table")
    w = p[PACKED_HEAD.size:wend]
    if w and max(w) > 16:
        raise RunFormatError("packed sample block declares a bit width above 16")
    need = wend + 4 * sum(w)
    if len(p) < need:
        raise RunFormatError(f"packed sample block holds {len(p)} bytes, its widths need {need}")
    return _PackedMeta(idx, t_us, n, first, orders, w, wend, need)


#: For each bit width w: the byte offset and bit shift of value j (0..31) in a sub-block.
_BYTE_OF = [((np.arange(SUB) * w) >> 3).astype(np.intp) for w in range(17)]
_SHIFT_OF = [((np.arange(SUB) * w) & 7).astype(np.uint32) for w in range(17)]


def _decode_packed(payloads: list[bytes], metas: list[_PackedMeta] | None = None,
                   ) -> tuple[npt.NDArray[np.int16], list[tuple[int, int, int]]]:
    """Decode many SAMPLES_PACKED payloads at once. Returns counts and (index, t_us, n) per block."""
    if metas is None:
        metas = [_packed_meta(p) for p in payloads]
    out_meta = [(m.first_index, m.time_us, m.n) for m in metas]
    if not payloads:
        return np.zeros((0, SAMPLE_CHANNELS), np.int16), out_meta
    n_arr = np.fromiter((m.n for m in metas), np.int64, len(metas))
    nb = n_arr.size
    n_sub_arr = -(-(n_arr - 1) // SUB)
    widths = np.frombuffer(b"".join(m.widths for m in metas), np.uint8).astype(np.intp)
    data = np.frombuffer(b"".join(p[m.data_start:m.data_end] for p, m in zip(payloads, metas, strict=True))
                         + b"\0" * 8, np.uint8)
    sub_off = np.zeros(widths.size, np.intp)
    np.cumsum(4 * widths[:-1], out=sub_off[1:])
    # Sub-blocks of one width share their bit layout: gather their bytes as (k, 4w + 2) rows,
    # then read value j from fixed byte columns with a fixed shift.
    # Unzigzag on the way out, in 16-bit arithmetic: only values mod 2**16 matter downstream.
    d_all = np.zeros((widths.size, SUB), np.uint16)
    order = np.argsort(widths, kind="stable")
    bounds = np.searchsorted(widths[order], np.arange(18))
    for w in range(1, 17):
        sel = order[bounds[w]:bounds[w + 1]]
        if sel.size == 0:
            continue
        rows = data[sub_off[sel, None] + np.arange(4 * w + 2)].astype(np.uint32)
        bo = _BYTE_OF[w]
        word = rows[:, bo] | (rows[:, bo + 1] << 8) | (rows[:, bo + 2] << 16)
        zw = ((word >> _SHIFT_OF[w]) & np.uint32((1 << w) - 1)).astype(np.uint16)
        d_all[sel] = (zw >> 1) ^ (np.uint16(0) - (zw & np.uint16(1)))
    # Blocks of equal length decode together as 2-D arrays: (blocks, channels, samples).
    counts = np.empty((int(n_arr.sum()), SAMPLE_CHANNELS), np.int16)
    row_start = np.zeros(nb, np.int64)
    np.cumsum(n_arr[:-1], out=row_start[1:])
    sub_start = np.zeros(nb, np.int64)
    np.cumsum(SAMPLE_CHANNELS * n_sub_arr[:-1], out=sub_start[1:])
    firsts_a = np.asarray([m.first for m in metas], np.int16)
    orders_a = np.fromiter((m.orders for m in metas), np.int64, nb)
    for n in np.unique(n_arr).tolist():
        blk = np.flatnonzero(n_arr == n)
        n_sub = -(-(n - 1) // SUB)
        contiguous = blk[-1] - blk[0] == blk.size - 1
        if contiguous:
            db = d_all[sub_start[blk[0]]:sub_start[blk[0]] + blk.size * SAMPLE_CHANNELS * n_sub]
        else:
            db = d_all[sub_start[blk, None] + np.arange(SAMPLE_CHANNELS * n_sub)]
        d = db.view(np.int16).reshape(blk.size, SAMPLE_CHANNELS, n_sub * SUB)[:, :, : n - 1]
        o2 = ((orders_a[blk, None] >> np.arange(SAMPLE_CHANNELS)) & 1).astype(bool)
        if o2.any():
            d = d.copy()
            d[o2] = np.cumsum(d[o2], axis=-1, dtype=np.int16)  # wraps mod 2**16
        x = np.empty((blk.size, n, SAMPLE_CHANNELS), np.int16)
        x[:, 0, :] = firsts_a[blk]
        x[:, 1:, :] = d.transpose(0, 2, 1)
        np.cumsum(x, axis=1, dtype=np.int16, out=x)  # int16 arithmetic wraps mod 2**16
        if contiguous:
            r0 = int(row_start[blk[0]])
            counts[r0:r0 + blk.size * n] = x.reshape(-1, SAMPLE_CHANNELS)
        else:
            counts[(row_start[blk, None] + np.arange(n)).reshape(-1)] = x.reshape(-1, SAMPLE_CHANNELS)
    return counts, out_meta


def _ramp(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``[0..l0-1, 0..l1-1, ...]`` for segment lengths ``lengths``."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    return np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)


def _segmented_cumsum(v: npt.NDArray[np.integer], lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    c = np.cumsum(v, dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    before = np.concatenate(([0], c))[starts]
    return c - np.repeat(before, lengths)


def read_run(data: bytes | bytearray | memoryview) -> StoredRun:
    """Decode a whole run file. Damaged blocks are skipped and listed, never fatal.

    Raises :class:`RunFormatError` only when the header itself is unusable.
    """
    buf = bytes(data)
    header = RunHeader.from_bytes(buf)
    hlen = _header_len(buf)
    if len(buf) < hlen:
        raise RunFormatError(f"file of {len(buf)} bytes is shorter than its {hlen}-byte header")
    if crc32(buf[:hlen - 4]) != int.from_bytes(buf[hlen - 4:hlen], "little"):
        raise RunFormatError("header CRC mismatch", offset=0)
    pos = hlen
    damaged: list[DamagedRegion] = []
    packed: list[bytes] = []
    packed_meta: list[_PackedMeta] = []
    raw_blocks: list[tuple[int, int, npt.NDArray[np.int16]]] = []
    order: list[tuple[str, int]] = []  # keeps packed/raw blocks in file order
    events: list[Event] = []
    anchors: list[tuple[int, int]] = []
    lost: list[tuple[int, int]] = []
    blocks_ok = 0
    ended = False
    bad_start: int | None = None

    def mark_bad(start: int, end: int, reason: str) -> None:
        damaged.append(DamagedRegion(start, end - start, reason))

    while pos < len(buf):
        if buf[pos:pos + 4] != SYNC:
            nxt = buf.find(SYNC, pos + 1)
            end = len(buf) if nxt < 0 else nxt
            if bad_start is None:
                mark_bad(pos, end, "bytes outside any valid block")
            pos = end
            bad_start = None
            continue
        if pos + BLOCK_OVERHEAD > len(buf):
            mark_bad(pos, len(buf), "truncated block header")
            break
        _, btype, _flags, length, crc = BLOCK_HEAD.unpack_from(buf, pos)
        end = pos + BLOCK_HEAD.size + length
        reason = None
        if length > MAX_BLOCK_PAYLOAD:
            reason = f"declared length {length} exceeds {MAX_BLOCK_PAYLOAD}"
        elif end > len(buf):
            reason = "block runs past the end of the file (truncated)"
        elif crc32(buf[pos + BLOCK_HEAD.size:end], crc32(buf[pos + 4:pos + 8])) != crc:
            reason = "block CRC mismatch"
        if reason is not None:
            nxt = buf.find(SYNC, pos + 1)
            stop = len(buf) if nxt < 0 else nxt
            mark_bad(pos, stop, reason)
            bad_start = pos
            pos = stop
            continue
        bad_start = None
        payload = buf[pos + BLOCK_HEAD.size:end]
        try:
            if btype == BlockType.SAMPLES_PACKED:
                packed_meta.append(_packed_meta(payload))  # a bad block is skipped alone
                packed.append(payload)
                order.append(("p", len(packed) - 1))
            elif btype == BlockType.SAMPLES_RAW:
                if len(payload) < SAMPLE_HEAD.size:
                    raise RunFormatError("raw sample block shorter than its header")
                idx, t_us, n = SAMPLE_HEAD.unpack_from(payload)
                if len(payload) < SAMPLE_HEAD.size + 12 * n or not 1 <= n <= MAX_BLOCK_SAMPLES:
                    raise RunFormatError("raw sample block length does not match its count")
                if t_us >= 2**63:  # as in _packed_meta
                    raise RunFormatError(f"device_time_us {t_us} is out of range")
                c = np.frombuffer(payload, "<i2", 6 * n, SAMPLE_HEAD.size).reshape(n, 6)
                raw_blocks.append((idx, t_us, c))
                order.append(("r", len(raw_blocks) - 1))
            elif btype == BlockType.EVENT:
                events.append(Event.from_payload(payload))
            elif btype == BlockType.TIME:
                if len(payload) < 16:
                    raise RunFormatError("time block too short")
                anchors.append(struct.unpack_from("<QQ", payload))
            elif btype == BlockType.SAMPLES_LOST:
                if len(payload) < 8:
                    raise RunFormatError("lost-samples block too short")
                lost.append(struct.unpack_from("<II", payload))
            elif btype == BlockType.END:
                ended = True
            # unknown block types: skipped (versioning rule), still counted as intact
            blocks_ok += 1
        except (RunFormatError, ValueError) as e:
            mark_bad(pos, end, f"block type 0x{btype:02X}: {e}")
        pos = end

    # Vectorised decode of all packed blocks, then merge with raw ones in file order.
    pc, pmeta = _decode_packed(packed, packed_meta)
    p_starts = np.concatenate(([0], np.cumsum([m[2] for m in pmeta], dtype=np.int64)))
    parts, bidx, bt, bn = [], [], [], []
    for kind, k in order:
        if kind == "p":
            idx, t_us, n = pmeta[k]
            parts.append(pc[p_starts[k]:p_starts[k + 1]])
        else:
            idx, t_us, c = raw_blocks[k]
            n = len(c)
            parts.append(c)
        bidx.append(idx)
        bt.append(t_us)
        bn.append(n)
    counts = np.concatenate(parts) if parts else np.zeros((0, SAMPLE_CHANNELS), np.int16)
    bidx_a = np.asarray(bidx, np.int64)
    bn_a = np.asarray(bn, np.int64)
    sample_index = np.repeat(bidx_a, bn_a) + _ramp(bn_a)
    counts.setflags(write=False)
    return StoredRun(header, counts, sample_index, bidx_a, np.asarray(bt, np.int64), bn_a,
                     tuple(events), tuple(anchors), tuple(lost), tuple(damaged), blocks_ok,
                     ended, len(buf))
