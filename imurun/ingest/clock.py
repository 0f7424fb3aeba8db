"""Where each boot of a live link falls in time: sample counter -> host clock.

One implementation for the recording and for the live analysis. :class:`RecordingBuilder
<imurun.ingest.builder.RecordingBuilder>` places every boot with it once all the data are in;
:class:`imurun.analysis_live.LiveStreamHook` places a new boot with it as the data come in,
with what has arrived by then (docs/api.md, "Live analysis", says what it waits for), and
times the samples within a boot by its fit on the boot's data so far.

* :class:`BootTimes` collects what places one boot: each sample batch's first counter (unwrapped
  from the u32 on the wire), its device time and its arrival time, and the ``TIME_SYNC`` pairs.
* :meth:`BootTimes.clock` fits the boot's :class:`BootClock`: the sample period on the device
  clock against the sample counter, and device time -> host time from the pairs with the
  shortest round trips (offset and drift, Cristian 1989), or, without pairs, from the
  earliest-arriving batch (a batch cannot arrive before its last sample was taken).
* :func:`place_boots` lays the boots one after the other: a boot that would start before the
  previous one ended starts one sample period after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from firmware_protocol.messages import TimeSync
from imurun.errors import IngestError

FloatArray = npt.NDArray[np.float64]

MAX_PLAUSIBLE_DRIFT_PPM = 1000.0


@dataclass(frozen=True)
class BootClock:
    """A boot's fitted clock: the host time of any sample counter.

    ``device_us = dev_a + dev_b * counter``; host time (Unix seconds) ``= off + slope *
    device_us``. ``paired``: placed with ``TIME_SYNC`` pairs (else by arrival times).
    ``first_counter`` / ``last_counter``: the boot's first and last sample it was fitted on.
    """

    boot_id: int
    t_ref: float  # Unix seconds near the boot: times relative to it keep their precision
    dev_a: float
    dev_b: float
    off: float
    slope: float
    paired: bool
    first_counter: int
    last_counter: int

    @property
    def period_s(self) -> float:
        """The sample period, host seconds."""
        return self.dev_b * self.slope

    def host_s(self, counters: npt.ArrayLike) -> FloatArray:
        """Host time of each (unwrapped) counter, seconds after :attr:`t_ref`.

        Times stay relative: as Unix seconds, float64 rounds to 0.24 µs.
        """
        dev_us = self.dev_a + self.dev_b * np.asarray(counters, dtype=np.int64).astype(np.float64)
        return (self.off - self.t_ref) + self.slope * dev_us


@dataclass
class BootTimes:
    """What places one boot in time, as it arrives (see the module notes)."""

    boot_id: int
    first_rx_s: float  # arrival of the boot's first batch or time sync (its clock's t_ref)
    # per sample batch: unwrapped counter of its first sample, device time (µs), n, arrival (s)
    batch_times: list[tuple[int, int, int, float]] = field(default_factory=list)
    pairs: list[tuple[float, float, float]] = field(default_factory=list)  # host tx, device us, host rx
    last_counter: int | None = None  # unwrapped u32 sample counter of the last batch

    @property
    def has_samples(self) -> bool:
        """Whether a batch of it holds a sample: an empty batch (``n`` 0) places nothing."""
        return any(n for _, _, n, _ in self.batch_times)

    def add_batch(self, sample_counter: int, device_time_us: int, n: int, t_rx_s: float) -> int:
        """A sample batch arrived; its first counter unwrapped (to the nearest of the last)."""
        c = sample_counter
        if self.last_counter is not None:  # unwrap the u32 counter to the nearest value, so a
            # batch that arrives late across a wrap stays next to its neighbours
            c = self.last_counter + (c - self.last_counter + 2**31) % 2**32 - 2**31
        self.last_counter = c
        self.batch_times.append((c, device_time_us, n, t_rx_s))
        return c

    def add_pair(self, m: TimeSync, t_rx_s: float) -> None:
        """A ``TIME_SYNC`` answer arrived (the host's send time is echoed in it)."""
        self.pairs.append((m.host_time_us * 1e-6, float(m.device_time_us), t_rx_s))

    def round_trips_s(self) -> FloatArray:
        """The round trip of each time-sync pair, s."""
        p = np.asarray(self.pairs, dtype=np.float64).reshape(-1, 3)
        return p[:, 2] - p[:, 0]

    def kept_pairs(self, rtt_ref_s: float | None = None) -> FloatArray:
        """The pairs the clock is fitted on: those with a short round trip.

        Short: at most 1.5 times ``rtt_ref_s`` + 1 ms, and not negative. ``rtt_ref_s`` is the
        usual round trip of the link, by default the median of this boot's pairs (the
        recording's rule); the live analysis gives the median of the boots before while this
        one has few pairs yet (the answers to the first ones after a reboot can be slow to arrive).
        ``(k, 3)`` rows as :attr:`pairs`; none when none is short.
        """
        p = np.asarray(self.pairs, dtype=np.float64).reshape(-1, 3)
        if not len(p):
            return p
        rtt = p[:, 2] - p[:, 0]
        ref = float(np.quantile(rtt, 0.5)) if rtt_ref_s is None else rtt_ref_s
        return p[(rtt >= 0) & (rtt <= ref * 1.5 + 1e-3)]

    def unique_batches(self, fs_nominal: float) -> list[tuple[int, int, int, int, int, float]]:
        """The batches in counter order, each sample once.

        ``(i, skip, c0, t0_us, n, t_rx)`` each: batch ``i`` of :attr:`batch_times` without its
        first ``skip`` samples (held by an earlier batch: one sent twice, e.g. after a
        retransmission), from counter ``c0`` (device time ``t0_us``), ``n`` samples.
        """
        order = sorted(range(len(self.batch_times)), key=lambda i: self.batch_times[i][0])
        out = []
        seen_until = -1
        for i in order:
            c0, t0_us, n, t_rx = self.batch_times[i]
            if c0 + n - 1 <= seen_until:
                continue
            skip = 0
            if c0 <= seen_until:
                skip = seen_until - c0 + 1
                c0, t0_us, n = c0 + skip, t0_us + int(skip * 1e6 / fs_nominal), n - skip
            out.append((i, skip, c0, t0_us, n, t_rx))
            seen_until = c0 + n - 1
        return out

    def clock(self, fs_nominal: float, notes: list[str], *, rtt_ref_s: float | None = None,
              kept: list[tuple[int, int, int, int, int, float]] | None = None) -> BootClock:
        """The boot's clock from what has arrived (at least one batch); notes to ``notes``.

        ``rtt_ref_s``: see :meth:`kept_pairs`; with it, pairs none of which is short count as
        none (the boot is placed by its batches' arrival times). ``kept``: its
        :meth:`unique_batches` when the caller has them already.
        """
        if kept is None:
            kept = self.unique_batches(fs_nominal)
        if not kept:
            raise IngestError(f"boot {self.boot_id} has no samples to place in time")
        firsts = np.asarray([(c0, t0) for _, _, c0, t0, _, _ in kept], dtype=np.float64)
        # Device clock vs sample counter: the sample period in device microseconds.
        if len(firsts) >= 2 and firsts[-1, 0] > firsts[0, 0]:
            dev_a, dev_b = fit_line(firsts[:, 0], firsts[:, 1])
        else:
            dev_b = 1e6 / fs_nominal
            dev_a = firsts[0, 1] - dev_b * firsts[0, 0]
        if not 0.5 < dev_b * fs_nominal / 1e6 < 2.0:
            notes.append(f"boot {self.boot_id}: device timestamps disagree with the declared "
                         "rate; using the declared rate")
            dev_b = 1e6 / fs_nominal
            dev_a = firsts[0, 1] - dev_b * firsts[0, 0]
        # Device clock -> host clock.
        slope = 1e-6
        good = self.kept_pairs(rtt_ref_s)
        if self.pairs and not len(good) and rtt_ref_s is None:
            good = np.asarray(self.pairs, dtype=np.float64)
        if len(good):
            mid = (good[:, 0] + good[:, 2]) / 2
            if len(good) >= 2 and np.ptp(good[:, 1]) > 1e6:
                off, slope_fit = fit_line(good[:, 1], mid)
                ppm = (slope_fit / 1e-6 - 1) * 1e6
                if abs(ppm) <= MAX_PLAUSIBLE_DRIFT_PPM:
                    slope = slope_fit
                else:
                    notes.append(_implausible_clock_note(self.boot_id, slope_fit,
                                                         float(np.ptp(mid))))
                    off = float(np.median(mid - slope * good[:, 1]))
            else:
                off = float(np.median(mid - slope * good[:, 1]))
        else:
            # Earliest possible arrival: a batch cannot arrive before its last sample was
            # taken (the time the sample after it is due, device clock).
            last = np.asarray([c0 + n - 1 for _, _, c0, _, n, _ in kept], dtype=np.float64)
            rx = np.asarray([t_rx for *_, t_rx in kept])
            off = float(np.min(rx - slope * (dev_a + dev_b * last + dev_b)))
            notes.append(f"boot {self.boot_id}: no time-sync pairs; host time from arrival times")
        return BootClock(self.boot_id, self.first_rx_s, dev_a, dev_b, off, slope, bool(len(good)),
                         kept[0][2], kept[-1][2] + kept[-1][4] - 1)


B = TypeVar("B", bound=BootTimes)


def boot_of(boots: list[B], boot_id: int, t_rx_s: float, new: Callable[[int, float], B]) -> B:
    """The boot a batch or time sync of ``boot_id`` arriving at ``t_rx_s`` belongs to.

    The last of ``boots``, or a new one (``new(boot_id, t_rx_s)``, appended) when its boot id
    differs: a boot lasts as long as its id.
    """
    if not boots or boots[-1].boot_id != boot_id:
        boots.append(new(boot_id, t_rx_s))
    return boots[-1]


def place_boots(spans: Sequence[tuple[float, float, float]]) -> list[float]:
    """Where each boot starts: ``(first_s, last_s, period_s)`` in, the first sample's time out.

    ``spans``: each boot's first and last sample on its own clock and its sample period, in
    the order the boots' data arrived, on one host time base (seconds). A boot that would
    start at or before the end of the one before (as placed) starts one sample period after
    it (a clock that cannot be right: the boots cannot overlap): its times ``t`` become
    ``t + (end_before - first_s) + period_s``, evaluated in that order (what
    :meth:`RecordingBuilder.build <imurun.ingest.builder.RecordingBuilder.build>` does to the
    boot's times, so that its start here is theirs to the bit).
    """
    starts: list[float] = []
    prev_last: float | None = None
    for first, last, period in spans:
        if prev_last is not None and first <= prev_last:
            move = prev_last - first
            starts.append(first + move + period)
            prev_last = last + move + period
        else:
            starts.append(first)
            prev_last = last
    return starts


def fit_line(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """Least-squares ``y = a + b x`` (centred for numerical safety)."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    den = float(dx @ dx)
    b = float(dx @ (y - ym)) / den if den > 0 else 0.0
    return ym - b * xm, b


def _implausible_clock_note(boot_id: int, host_s_per_device_us: float, span_s: float) -> str:
    """The note for time syncs whose clock drift no crystal has, in the sensor's terms."""
    rate = 1e-6 / host_s_per_device_us if host_s_per_device_us > 0 else 0.0  # sensor s per host s
    if rate <= 0:
        how = "did not advance with the host's"
    elif rate >= 2:
        how = f"ran {rate:.3g} times as fast as the host's"
    elif rate <= 0.5:
        how = f"ran at {rate:.3g} times the host's pace"
    else:
        how = f"ran {(rate - 1) * 1e6:+.0f} ppm against the host's"
    return (f"boot {boot_id}: the sensor's clock {how} over {span_s:.1f} s of time syncs; no "
            f"crystal is that far off (±{MAX_PLAUSIBLE_DRIFT_PPM:.0f} ppm), so no drift is "
            "corrected (a virtual sensor at --speed max does this: its clock keeps pace with "
            "the samples it sends flat out)")
