"""The one in-memory form every source becomes: :class:`Recording`.

A recording holds the samples that arrived, never invented ones. Samples are mapped to one time
base in seconds; within a :class:`Segment` they are uniformly spaced at ``fs_hz`` (after the
device clock has been corrected for offset and drift). Between segments there is a :class:`Gap`
that says why. Accelerations are m/s², angular rates rad/s, both in the *sensor* frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from imurun.errors import IngestError

FloatArray = npt.NDArray[np.float64]


class GapCause(StrEnum):
    """Why samples are missing between two segments."""

    LOST_FRAMES = "lost_frames"  # sequence numbers show frames never arrived
    CORRUPT = "corrupt"  # bytes arrived but failed their CRC
    REBOOT = "reboot"  # the sensor restarted (new boot id)
    DISCONNECT = "disconnect"  # the link dropped
    DAMAGED_BLOCK = "damaged_block"  # a stored-run block failed its CRC
    SOURCE = "source"  # the source file itself has a hole in its time column
    PAUSED = "paused"  # the recording was paused (a phone app's pause button): nothing was lost
    UNKNOWN = "unknown"

    @property
    def words(self) -> str:
        """The cause as a person reads it ("frames lost on the link"); the value is the key."""
        return GAP_CAUSE_WORDS[self.value]


#: Each :class:`GapCause` value in words, for text a person reads (reports, ``imurun analyze``);
#: files and JSON keep the values.
GAP_CAUSE_WORDS: Final[dict[str, str]] = {
    "lost_frames": "frames lost on the link", "corrupt": "damaged frames",
    "reboot": "sensor restart", "disconnect": "link lost",
    "damaged_block": "damaged block of the stored run", "source": "hole in the file's times",
    "paused": "paused", "unknown": "unknown cause"}


@dataclass(frozen=True)
class Gap:
    """Samples missing between ``start_s`` (last sample before) and ``end_s`` (first after)."""

    start_s: float
    end_s: float
    cause: GapCause
    n_missing: int = 0  # samples known (from counters) to be missing; 0 when unknown

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``: seconds from the last sample before the gap to the first after."""
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Segment:
    """Samples ``[start, stop)`` are contiguous and uniformly spaced; ``boot_id`` is the sensor's."""

    start: int
    stop: int
    boot_id: int | None = None

    def __len__(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True)
class IngestStats:
    """What the link delivered and what it cost to get there."""

    frames_ok: int = 0
    frames_corrupt: int = 0  # failed CRC / framing
    frames_lost: int = 0  # missing from the sequence numbers (corrupted in transit or never sent)
    messages_unknown: int = 0  # intact frames of a type this version does not know
    bytes_received: int = 0
    blocks_ok: int = 0
    blocks_damaged: int = 0
    samples_missing: int = 0  # from the sample counters
    reboots: int = 0
    disconnects: int = 0


@dataclass(frozen=True)
class RecordingMeta:
    """Where the samples came from."""

    source: str = ""  # path or link description
    source_format: str = ""  # "session", "stored-run", "csv", "xsens", ...
    device_id: str | None = None
    firmware_version: str | None = None
    protocol_version: int | None = None
    start_unix_s: float | None = None  # wall clock of t_s == 0 when known
    mounting_hint: str | None = None
    notes: tuple[str, ...] = ()


def _own(x: npt.ArrayLike) -> FloatArray:
    """``x`` as a float64 array this recording owns: the caller's array is never frozen.

    A writable array that shares memory with ``x`` (``x`` itself, or a view of it) is copied,
    so that making the recording's arrays read-only does not make the caller's read-only too,
    and later writes to the caller's array cannot change the recording. Read-only input (the
    arrays of another recording) is kept as it is.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.flags.writeable and isinstance(x, np.ndarray) and np.shares_memory(arr, x):
        arr = arr.copy()
    return arr


def _check_time_precision(t_in: npt.NDArray[np.generic], t: FloatArray) -> None:
    """Refuse times whose floating-point type cannot tell neighbouring samples apart.

    float32 holds 24 bits: Unix seconds (about 1.7e9) in float32 are 128 s apart, so every
    sample of a run would share a handful of time stamps.
    """
    if not (np.issubdtype(t_in.dtype, np.floating) and t_in.dtype.itemsize < 8):
        return
    resolution = float(np.spacing(np.abs(t_in).max()))
    if resolution > 1e-3:
        raise IngestError(f"t_s is {t_in.dtype}: at {float(np.abs(t).max()):.6g} s its "
                          f"resolution is {resolution:g} s, too coarse for samples; pass float64 "
                          "times (or times from the start of the recording)")


@dataclass(frozen=True)
class Recording:
    """Samples on one time base, SI units, sensor frame, gaps explicit.

    ``t_s`` has shape ``(n,)``; ``acc_ms2`` ``(n, 3)``; ``gyr_rads`` ``(n, 3)`` or ``None`` for
    accelerometer-only sources. ``segments`` partition ``range(n)`` in order; ``gaps`` has one
    entry per boundary between consecutive segments (and may describe losses at the edges).
    """

    t_s: FloatArray
    acc_ms2: FloatArray
    gyr_rads: FloatArray | None
    fs_hz: float
    segments: tuple[Segment, ...]
    gaps: tuple[Gap, ...] = ()
    meta: RecordingMeta = field(default_factory=RecordingMeta)
    stats: IngestStats = field(default_factory=IngestStats)

    def __post_init__(self) -> None:
        t = _own(self.t_s)
        acc = _own(self.acc_ms2)
        n = t.shape[0] if t.ndim == 1 else -1
        if t.ndim != 1:
            raise IngestError(f"t_s must have shape (n,), got {t.shape}")
        if acc.shape != (n, 3):
            raise IngestError(f"acc_ms2 must have shape ({n}, 3), got {acc.shape}")
        gyr = None
        if self.gyr_rads is not None:
            gyr = _own(self.gyr_rads)
            if gyr.shape != (n, 3):
                raise IngestError(f"gyr_rads must have shape ({n}, 3), got {gyr.shape}")
        if not (np.isfinite(self.fs_hz) and self.fs_hz > 0):
            raise IngestError(f"fs_hz must be positive, got {self.fs_hz}")
        pos = 0
        for seg in self.segments:
            if seg.start != pos or seg.stop <= seg.start:
                raise IngestError(f"segments must partition the samples in order, got {seg}")
            pos = seg.stop
        if pos != n:
            raise IngestError(f"segments cover {pos} samples, recording has {n}")
        for arr in (t, acc, gyr):
            if arr is not None:
                arr.setflags(write=False)
        object.__setattr__(self, "t_s", t)
        object.__setattr__(self, "acc_ms2", acc)
        object.__setattr__(self, "gyr_rads", gyr)
        object.__setattr__(self, "segments", tuple(self.segments))
        object.__setattr__(self, "gaps", tuple(self.gaps))

    def __reduce__(self) -> tuple[type[Recording], tuple[object, ...]]:
        """Unpickle through ``__init__`` (pickle alone would give back writable arrays)."""
        return type(self), (self.t_s, self.acc_ms2, self.gyr_rads, self.fs_hz, self.segments,
                            self.gaps, self.meta, self.stats)

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of ``t_s``, ``acc_ms2`` and ``gyr_rads``)."""
        return int(self.t_s.shape[0])

    @property
    def has_gyro(self) -> bool:
        """Whether the recording has angular rates (``gyr_rads`` is not ``None``)."""
        return self.gyr_rads is not None

    @property
    def duration_s(self) -> float:
        """Wall time from first to last sample (gaps included)."""
        if self.n_samples == 0:
            return 0.0
        return float(self.t_s[-1] - self.t_s[0]) + 1.0 / self.fs_hz

    @classmethod
    def from_arrays(
        cls,
        t_s: npt.ArrayLike,
        acc_ms2: npt.ArrayLike,
        gyr_rads: npt.ArrayLike | None = None,
        *,
        fs_hz: float | None = None,
        meta: RecordingMeta | None = None,
        gap_factor: float = 1.5,
    ) -> Recording:
        """Build a recording from plain arrays, splitting segments where time jumps.

        A step in ``t_s`` larger than ``gap_factor`` sample periods starts a new segment with a
        :attr:`GapCause.SOURCE` gap, whose ``n_missing`` is the samples its duration holds at
        ``fs_hz``; ``stats.samples_missing`` is their sum, as for the other sources. ``fs_hz``
        defaults to the median rate. A time that repeats or goes back (rows out of order, or
        two recordings in one) is refused (:class:`~imurun.errors.IngestError` naming the
        index), as a file's is: the analysis needs strictly increasing times.
        """
        t_in = np.asarray(t_s)
        t = np.asarray(t_in, dtype=np.float64).reshape(-1)
        acc = np.asarray(acc_ms2, dtype=np.float64)
        gyr = None if gyr_rads is None else np.asarray(gyr_rads, dtype=np.float64)
        if t.size == 0:
            raise IngestError("no samples")
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            raise IngestError(f"t_s must be finite: {bad.size} value(s) are NaN or infinite, "
                              f"the first at index {int(bad[0])}")
        _check_time_precision(t_in, t)
        for name, x in (("acc_ms2", acc), ("gyr_rads", gyr)):
            if x is None or x.ndim != 2:
                continue  # (the shape is checked where the recording is made)
            finite = np.isfinite(x)
            present = finite.any(axis=0)  # an axis that is NaN throughout was not measured
            rows = np.flatnonzero(~finite[:, present].all(axis=1))
            if rows.size:
                raise IngestError(
                    f"{name} must be finite: {rows.size} row(s) hold NaN or infinite values, the "
                    f"first at index {int(rows[0])}; drop those rows (with their t_s) and "
                    "from_arrays marks a gap where samples are missing")
        dt = np.diff(t)
        back = np.flatnonzero(dt <= 0)
        if back.size:  # rows out of order, repeated, or two recordings in one
            j = int(back[0]) + 1
            how = "repeats" if t[j] == t[j - 1] else "is less than"
            more = f" ({back.size} values in all do not follow the one before)" if (
                back.size > 1) else ""
            raise IngestError(
                f"t_s is not increasing: t_s[{j}] = {t[j]:.15g} {how} t_s[{j - 1}] = "
                f"{t[j - 1]:.15g}{more}; sort the samples by time, drop repeated ones, or split "
                "the arrays into one recording each")
        if fs_hz is None:
            pos = dt[dt > 0]
            if pos.size == 0:
                raise IngestError("cannot infer a sample rate from the time column")
            fs_hz = float(1.0 / np.median(pos))
        breaks = np.flatnonzero((dt > gap_factor / fs_hz) | (dt <= 0)) + 1
        edges = np.concatenate(([0], breaks, [t.size]))
        segments = tuple(Segment(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True))
        gaps = tuple(
            Gap(float(t[b - 1]), float(t[b]), GapCause.SOURCE,
                max(int(round((t[b] - t[b - 1]) * fs_hz)) - 1, 0))
            for b in breaks
        )
        stats = IngestStats(samples_missing=sum(g.n_missing for g in gaps))
        return cls(t, acc, gyr, float(fs_hz), segments, gaps, meta or RecordingMeta(), stats)
