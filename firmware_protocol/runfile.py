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
from typing import Final, Self

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
    """Fixed part of a run file. Calibration: ``acc = (counts*lsb - offset) * gain``.

    One made here must be writable: ``sample_rate_hz`` >= 1 and finite positive float32 scale
    factors, or :class:`RunFormatError`. One read by :meth:`from_bytes` keeps what the firmware
    wrote, even a rate of 0 or an invalid scale factor, which SPEC §5.1 forbids a firmware to
    write but which do not stop the blocks from being read: :attr:`problems` names them.
    """

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
        try:  # the scale check lives in the message layer: report it as a run-format error
            Scale(self.acc_lsb_ms2, self.gyr_lsb_rads)
        except MessageError as e:
            raise RunFormatError(f"header: {e.reason}") from e
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
        """The scale factors; :class:`MessageError` when the header's are invalid."""
        return Scale(self.acc_lsb_ms2, self.gyr_lsb_rads)

    @property
    def faulty_fields(self) -> tuple[str, ...]:
        """The fields a firmware must never write as they are here (SPEC §5.1); () when none.

        ``sample_rate_hz`` of 0 (a host recovers it from the blocks' device times), and
        ``acc_lsb_ms2`` / ``gyr_lsb_rads`` that are not finite positive float32 (counts cannot
        become SI units): the blocks are read all the same.
        """
        out = ["sample_rate_hz"] if self.sample_rate_hz == 0 else []
        for name in ("acc_lsb_ms2", "gyr_lsb_rads"):
            try:
                Scale(**{"acc_lsb_ms2": 1.0, "gyr_lsb_rads": 1.0, name: getattr(self, name)})
            except MessageError:
                out.append(name)
        return tuple(out)

    @property
    def problems(self) -> tuple[str, ...]:
        """:attr:`faulty_fields` said for people, one sentence each."""
        return tuple("sample_rate_hz is 0" if name == "sample_rate_hz" else
                     f"{name} is {getattr(self, name)!r}, not a finite positive float32"
                     for name in self.faulty_fields)

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
        fields = dict(device_id=f[3], run_id=f[4], boot_id=f[5], sample_rate_hz=f[6],
                      start_unix_ms=f[7], start_device_time_us=f[8], acc_range_g=f[9],
                      mounting_hint=f[10], gyr_range_dps=f[11], acc_lsb_ms2=f[12],
                      gyr_lsb_rads=f[13], acc_offset_ms2=tuple(f[14:17]),
                      acc_gain=tuple(f[17:20]), gyr_offset_rads=tuple(f[20:23]),
                      firmware=tuple(f[23:26]), format_version=version)
        # Every field is in range as unpacked; only the rate and scale checks of a header to be
        # written can fail, and a header read keeps what was written (see ``problems``).
        header = object.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(header, name, value)
        return header


def _header_len(data: bytes | memoryview) -> int:
    (n,) = struct.unpack_from("<H", data, 6)
    return int(n)


# --------------------------------------------------------------------------- sample coding
def _zigzag(r: npt.NDArray[np.int16]) -> npt.NDArray[np.uint16]:
    r32 = r.astype(np.int32)
    return (((r32 << 1) ^ (r32 >> 15)) & 0xFFFF).astype(np.uint16)


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


def _check_block_time(device_time_us: int) -> None:
    """SPEC §5.2: a sample block time >= 2**63 is invalid; the reader would discard the block."""
    if not 0 <= device_time_us < 2**63:
        raise RunFormatError(f"device_time_us {device_time_us} is out of range 0..2**63-1")


def sample_time_us(t0_us: int, k: int, sample_rate_hz: int) -> int:
    """Device time of the sample ``k`` places after one taken at ``t0_us`` (SPEC §5.2).

    ``k * 10**6 / sample_rate_hz`` microseconds later, rounded half up, in integers: what a
    writer that knows only a batch's first sample time gives a block that begins inside it
    (``imr_sample_time_us`` in the C reference), so every writer gives the same bytes.
    """
    return t0_us + (2 * k * 1_000_000 + sample_rate_hz) // (2 * sample_rate_hz)


def encode_samples_packed(counts: npt.ArrayLike, first_sample_index: int, device_time_us: int) -> bytes:
    """Payload of a SAMPLES_PACKED block for ``counts`` of shape ``(n, 6)``, 1 <= n <= 1024.

    Per channel the encoder picks the difference order (1 or 2) that packs smaller, ties to 1.
    """
    c = np.asarray(counts, dtype=np.int16)
    if c.ndim != 2 or c.shape[1] != SAMPLE_CHANNELS or not 1 <= c.shape[0] <= MAX_BLOCK_SAMPLES:
        raise RunFormatError(f"counts must have shape (1..{MAX_BLOCK_SAMPLES}, 6), got {c.shape}")
    _check_block_time(device_time_us)
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
    _check_block_time(device_time_us)
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

    def __post_init__(self) -> None:
        if self.header.problems:  # a header read from a damaged firmware's file, say
            raise RunFormatError(f"a firmware never writes this header: "
                                 f"{'; '.join(self.header.problems)}")

    def start(self) -> bytes:
        return bytes(self.header)

    def samples(self, counts: npt.ArrayLike, device_time_us: int) -> bytes:
        """Append samples (first one taken at ``device_time_us``); returns completed blocks.

        A block that begins ``k`` samples into ``counts`` gets the time
        ``sample_time_us(device_time_us, k, sample_rate_hz)`` (SPEC §5.2).
        """
        c = np.asarray(counts, dtype=np.int16).reshape(-1, SAMPLE_CHANNELS)
        fs = self.header.sample_rate_hz
        # refuse before writing anything: the last block begun here must start before 2**63
        _check_block_time(device_time_us)
        first = (self.block_samples - self._pending_n) % self.block_samples
        if first < len(c):
            last = first + (len(c) - 1 - first) // self.block_samples * self.block_samples
            _check_block_time(sample_time_us(device_time_us, last, fs))
        out = []
        i = 0
        while i < len(c):
            if self._pending_n == 0:
                self._pending_t0 = sample_time_us(device_time_us, i, fs)
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
    #: the END block's count of the samples the run holds (``None`` without an END block)
    end_n_samples: int | None = None

    def rate_from_blocks_hz(self) -> float | None:
        """The sample rate the sample blocks' device times give, for a header of rate 0.

        SPEC §5.1: the least-squares slope of device time over first sample index across all
        sample blocks. ``None`` with fewer than two blocks of different indices, or when the
        rate is not one ``sample_rate_hz`` could hold (1 to 65,535 Hz).
        """
        i = self.block_first_index.astype(np.float64)
        if i.size < 2 or np.ptp(i) == 0:
            return None
        t = self.block_device_time_us.astype(np.float64)
        di = i - i.mean()
        slope_us = float((di * (t - t.mean())).sum() / (di * di).sum())
        if not slope_us > 0:
            return None
        fs = 1e6 / slope_us
        return fs if 1.0 <= fs <= 65535.0 else None


def _check_packed(buf: bytes, start: int, length: int) -> None:
    """Check the structure of the SAMPLES_PACKED payload ``buf[start:start + length]``.

    Never reads past the payload. Raises :class:`RunFormatError` naming the first problem.
    """
    if length < PACKED_HEAD.size:
        raise RunFormatError("packed sample block shorter than its header")
    _idx, t_us, n = SAMPLE_HEAD.unpack_from(buf, start)
    if not 1 <= n <= MAX_BLOCK_SAMPLES:
        raise RunFormatError(f"packed sample block declares {n} samples")
    if t_us >= 2**63:  # StoredRun keeps times as int64; 292,000 years after boot is garbage
        raise RunFormatError(f"device_time_us {t_us} is out of range")
    wstart = start + PACKED_HEAD.size
    wend = wstart + SAMPLE_CHANNELS * -(-(n - 1) // SUB)
    if start + length < wend:
        raise RunFormatError("packed sample block truncated in its width table")
    w = buf[wstart:wend]
    if w and max(w) > 16:
        raise RunFormatError("packed sample block declares a bit width above 16")
    need = wend - start + 4 * sum(w)
    if length < need:
        raise RunFormatError(f"packed sample block holds {length} bytes, its widths need {need}")


#: The fixed head of a SAMPLES_PACKED payload (PACKED_HEAD) as a NumPy record.
_PACKED_DTYPE: Final = np.dtype([("first_index", "<u4"), ("time_us", "<u8"), ("n", "<u2"),
                                 ("first", "<i2", (SAMPLE_CHANNELS,)), ("orders", "u1")])
#: For each bit width w (rows): the byte offset and bit shift of value j (columns) in a sub-block.
_BYTE_OF: Final = (np.arange(17)[:, None] * np.arange(SUB) >> 3).astype(np.intp)
_SHIFT_OF: Final = (np.arange(17)[:, None] * np.arange(SUB) & 7).astype(np.uint32)
_MASK_OF: Final = (np.uint32(1) << np.arange(17, dtype=np.uint32)) - np.uint32(1)
#: Sub-blocks unpacked per step: the temporaries (a few MB) stay in the CPU caches.
_CHUNK: Final = 2048


def _unpack_subblocks(u8: npt.NDArray[np.uint8], sub_off: npt.NDArray[np.intp],
                      widths: npt.NDArray[np.intp]) -> npt.NDArray[np.uint32]:
    """Residuals of every 32-value sub-block, shape ``(len(widths), 32)``, as wrapping uint32.

    Sub-block ``k`` is ``4 * widths[k]`` bytes at ``u8[sub_off[k]:]``, ``sub_off`` increasing.
    Value ``j`` (``w`` bits) lies within the 3 bytes from byte ``(j * w) >> 3``, so it is one
    little-endian uint32 read at that byte, shifted and masked; ``u8`` needs 3 bytes of padding
    past the last sub-block. Unzigzag on the way out.
    """
    # Each byte offset of the buffer as the start of an unaligned little-endian uint32.
    u32 = np.ndarray(shape=(u8.size - 3,), dtype="<u4", buffer=u8, strides=(1,))
    out = np.empty((widths.size, SUB), np.uint32)
    for a in range(0, widths.size, _CHUNK):
        b = min(a + _CHUNK, widths.size)
        w = widths[a:b]
        lo = int(sub_off[a])
        idx = _BYTE_OF[w]
        idx += (sub_off[a:b] - lo)[:, None]
        # take() on a small window: it copies an unaligned source, so not the whole file
        z = u32[lo:int(sub_off[b - 1]) + 4 * 16].take(idx)
        z >>= _SHIFT_OF[w]
        z &= _MASK_OF[w][:, None]
        o = out[a:b]
        np.bitwise_and(z, 1, out=o)
        np.negative(o, out=o)
        z >>= 1
        o ^= z
    return out


def _decode_packed(u8: npt.NDArray[np.uint8], starts: npt.NDArray[np.intp],
                   ) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.void]]:
    """Decode the SAMPLES_PACKED payloads starting at ``u8[starts]``, checked by _check_packed.

    ``u8`` holds the file and at least 8 bytes of padding. Returns the counts of all blocks,
    one after the other, and the head record (``_PACKED_DTYPE``) of each block.
    """
    nb = starts.size
    heads = u8[starts[:, None] + np.arange(PACKED_HEAD.size)].view(_PACKED_DTYPE)[:, 0]
    if nb == 0:
        return np.zeros((0, SAMPLE_CHANNELS), np.int16), heads
    n_arr = heads["n"].astype(np.intp)
    n_w = SAMPLE_CHANNELS * (-(-(n_arr - 1) // SUB))  # widths (= sub-blocks) per block
    w_start = starts + PACKED_HEAD.size
    widths = u8[np.repeat(w_start, n_w) + _ramp(n_w)].astype(np.intp)
    # Byte offset of each sub-block: its block's data start plus the sizes of those before it.
    sub_start = np.zeros(nb, np.intp)
    np.cumsum(n_w[:-1], out=sub_start[1:])
    before = np.zeros(widths.size + 1, np.intp)
    np.cumsum(4 * widths, out=before[1:])
    sub_off = before[:-1] + np.repeat(w_start + n_w - before[sub_start], n_w)
    d_all = _unpack_subblocks(u8, sub_off, widths)
    # Blocks of equal length decode together as (blocks, channels, samples) arrays: the
    # cumulative sums run along the contiguous last axis, wrapping (only the low 16 bits
    # matter), and the last one writes the int16 counts through a transposed view.
    counts = np.empty((int(n_arr.sum()), SAMPLE_CHANNELS), np.int16)
    row_start = np.zeros(nb, np.intp)
    np.cumsum(n_arr[:-1], out=row_start[1:])
    firsts = heads["first"].astype(np.uint32)  # wraps like the int16 values
    o2_all = (heads["orders"][:, None] >> np.arange(SAMPLE_CHANNELS) & 1).astype(bool)
    for n in np.unique(n_arr).tolist():
        blk = np.flatnonzero(n_arr == n)
        cols = n_w[blk[0]] * SUB // SAMPLE_CHANNELS
        contiguous = blk[-1] - blk[0] == blk.size - 1
        if contiguous:  # views: the residuals and counts of these blocks are runs of rows
            s0, r0 = sub_start[blk[0]], row_start[blk[0]]
            d = d_all[s0:s0 + blk.size * n_w[blk[0]]].reshape(blk.size, SAMPLE_CHANNELS, cols)
            x = counts[r0:r0 + blk.size * n].reshape(blk.size, n, SAMPLE_CHANNELS)
        else:
            d = d_all[(sub_start[blk, None] + np.arange(n_w[blk[0]])).reshape(-1)]
            d = d.reshape(blk.size, SAMPLE_CHANNELS, cols)
            x = np.empty((blk.size, n, SAMPLE_CHANNELS), np.int16)
        x[:, 0, :] = heads["first"][blk]
        if n > 1:
            # Order-2 channels first sum their second differences into first differences (in
            # uint32, wrapping); then every channel is x[i + 1] = first + cumsum(r)[i], summed
            # in uint16 (modular) straight into the transposed counts.
            o2 = o2_all[blk]
            if o2.any():
                keep = d[~o2]
                np.cumsum(d, axis=-1, out=d)
                d[~o2] = keep
            d[:, :, 0] += firsts[blk]
            np.cumsum(d[:, :, :n - 1], axis=-1, dtype=np.uint16,
                      out=x.view(np.uint16)[:, 1:, :].transpose(0, 2, 1))
        if not contiguous:
            counts[(row_start[blk, None] + np.arange(n)).reshape(-1)] = x.reshape(-1, SAMPLE_CHANNELS)
    return counts, heads


def _ramp(lengths: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """``[0..l0-1, 0..l1-1, ...]`` for segment lengths ``lengths``."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    return np.arange(total, dtype=np.int64) - np.repeat(_exclusive_cumsum(lengths), lengths)


def _exclusive_cumsum(v: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    out = np.zeros(v.size, np.int64)
    np.cumsum(v[:-1], out=out[1:])
    return out


def read_run(data: bytes | bytearray | memoryview) -> StoredRun:
    """Decode a whole run file. Damaged blocks are skipped and listed, never fatal.

    Raises :class:`RunFormatError` only when the header itself is unusable (bad magic, CRC,
    length or version 0). A header with a sample rate of 0 or an invalid scale factor is
    read, and so are its blocks: ``run.header.problems`` names what is wrong (SPEC §5.1).
    """
    buf = bytes(data)
    header = RunHeader.from_bytes(buf)
    hlen = _header_len(buf)
    if len(buf) < hlen:
        raise RunFormatError(f"file of {len(buf)} bytes is shorter than its {hlen}-byte header")
    if crc32(buf[:hlen - 4]) != int.from_bytes(buf[hlen - 4:hlen], "little"):
        raise RunFormatError("header CRC mismatch", offset=0)
    pos = hlen
    mv = memoryview(buf)  # CRCs over slices of it copy nothing
    damaged: list[DamagedRegion] = []
    packed_starts: list[int] = []  # payload offsets of the packed blocks
    raw_blocks: list[tuple[int, int, npt.NDArray[np.int16]]] = []
    is_packed: list[bool] = []  # per sample block, in file order
    events: list[Event] = []
    anchors: list[tuple[int, int]] = []
    lost: list[tuple[int, int]] = []
    blocks_ok = 0
    ended = False
    end_n: int | None = None
    bad_start: int | None = None

    def mark_bad(start: int, end: int, reason: str) -> None:
        damaged.append(DamagedRegion(start, end - start, reason))

    while pos < len(buf):
        if not buf.startswith(SYNC, pos):
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
        elif crc32(mv[pos + BLOCK_HEAD.size:end], crc32(mv[pos + 4:pos + 8])) != crc:
            reason = "block CRC mismatch"
        if reason is not None:
            nxt = buf.find(SYNC, pos + 1)
            stop = len(buf) if nxt < 0 else nxt
            mark_bad(pos, stop, reason)
            bad_start = pos
            pos = stop
            continue
        bad_start = None
        start = pos + BLOCK_HEAD.size
        payload = buf[start:end]
        try:
            if btype == BlockType.SAMPLES_PACKED:
                _check_packed(buf, start, length)  # a bad block is skipped alone
                packed_starts.append(start)
                is_packed.append(True)
            elif btype == BlockType.SAMPLES_RAW:
                if len(payload) < SAMPLE_HEAD.size:
                    raise RunFormatError("raw sample block shorter than its header")
                idx, t_us, n = SAMPLE_HEAD.unpack_from(payload)
                if len(payload) < SAMPLE_HEAD.size + 12 * n or not 1 <= n <= MAX_BLOCK_SAMPLES:
                    raise RunFormatError("raw sample block length does not match its count")
                if t_us >= 2**63:  # as in _check_packed
                    raise RunFormatError(f"device_time_us {t_us} is out of range")
                c = np.frombuffer(payload, "<i2", 6 * n, SAMPLE_HEAD.size).reshape(n, 6)
                raw_blocks.append((idx, t_us, c))
                is_packed.append(False)
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
                if len(payload) < 4:
                    raise RunFormatError("end block too short")
                ended = True
                end_n = struct.unpack_from("<I", payload)[0]
            # unknown block types: skipped (versioning rule), still counted as intact
            blocks_ok += 1
        except (RunFormatError, ValueError) as e:
            mark_bad(pos, end, f"block type 0x{btype:02X}: {e}")
        pos = end

    # Vectorised decode of all packed blocks, then merge with raw ones in file order.
    # The 8 zero bytes of padding: the unpacker reads up to 3 bytes past a sub-block.
    u8 = np.frombuffer(buf + bytes(8), np.uint8)
    pc, heads = _decode_packed(u8, np.asarray(packed_starts, np.intp))
    kinds = np.asarray(is_packed, bool)
    bidx_a = np.empty(kinds.size, np.int64)
    bt_a = np.empty(kinds.size, np.int64)
    bn_a = np.empty(kinds.size, np.int64)
    bidx_a[kinds] = heads["first_index"]
    bt_a[kinds] = heads["time_us"]
    bn_a[kinds] = heads["n"]
    if raw_blocks:
        bidx_a[~kinds] = [idx for idx, _, _ in raw_blocks]
        bt_a[~kinds] = [t_us for _, t_us, _ in raw_blocks]
        bn_a[~kinds] = [len(c) for _, _, c in raw_blocks]
        # Packed rows first, then raw rows; gather them back into file order.
        src = np.concatenate([pc, *(c for _, _, c in raw_blocks)])
        src_start = np.empty(kinds.size, np.int64)
        src_start[kinds] = _exclusive_cumsum(bn_a[kinds])
        src_start[~kinds] = len(pc) + _exclusive_cumsum(bn_a[~kinds])
        counts = src[np.repeat(src_start, bn_a) + _ramp(bn_a)]
    else:
        counts = pc
    sample_index = np.repeat(bidx_a, bn_a) + _ramp(bn_a)
    counts.setflags(write=False)
    return StoredRun(header, counts, sample_index, bidx_a, bt_a, bn_a,
                     tuple(events), tuple(anchors), tuple(lost), tuple(damaged), blocks_ok,
                     ended, len(buf), end_n)
