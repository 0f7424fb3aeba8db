"""Live running metrics while streaming: rolling cadence, contact time and bounce.

:class:`LiveAnalyzer` takes sensor-frame samples as they arrive, estimates the mounting once
enough locomotion has been seen (:func:`imurun.signal.mounting.estimate_mounting` on the first
seconds: 12 s of walking or running, at the latest on the first 20 s of samples), then runs
:class:`imurun.signal.streaming.StreamingEvents` (the batch detectors on a sliding window, see
there) and reports :class:`imurun.signal.streaming.LiveMetrics` every
``report_every_s`` seconds of samples.

:class:`LiveStreamHook` adapts it to the device layer: it is the ``on_event`` hook of
:func:`imurun.device.stream.stream_live` and :func:`imurun.device.stream.replay`, turning
decoded messages (``DEVICE_INFO`` for the units, ``SAMPLE_BATCH`` for the samples, a reboot or
a jump of the sample counter for a gap) into samples. ``imurun stream ... --live`` prints its
reports. :func:`replay_session` sends a recorded session through that same path, hook and all.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from firmware_protocol.codec import ParseEvent, Rebooted, Received
from firmware_protocol.messages import DeviceInfo, SampleBatch, TimeSync
from imurun.errors import SignalError
from imurun.ingest.clock import BootTimes, boot_of, place_boots
from imurun.signal._segments import as_signal, check_fs
from imurun.signal.cleanup import (
    CleanupSettings,
    StreamingInterpolator,
    bridge_max_missing,
    linear_fill,
)
from imurun.signal.mounting import Mounting, MountingError, MountingSettings, estimate_mounting
from imurun.signal.streaming import LiveMetrics, StreamingEvents, StreamingSettings, StreamSteps

if TYPE_CHECKING:
    from imurun.ingest.recording import Recording

FloatArray = npt.NDArray[np.float64]

# LiveMetrics, StreamSteps and StreamingSettings are what the callbacks and settings of this
# module's classes take: a user of them imports them from here
__all__ = ["BootStart", "LiveAnalyzer", "LiveMetrics", "LiveStreamHook", "StreamSteps",
           "StreamingSettings", "format_live", "replay_session"]


#: Seconds of samples between two early tries of the mounting estimate (``LiveAnalyzer``):
#: half its 4-s window. Each try lays the windows back from its newest sample, so they move on
#: by this much. On the real walking trials of ``benchmarks/live.py`` a try every second took
#: the mounting sooner still, but on one trial 16 degrees from the whole trial's estimate (on
#: windows that every 2 s never meet); every 2 s, at most 5.4 degrees, as every 4 s.
MOUNTING_RETRY_S = 2.0

#: How far the live clock may run from the newest fitted rate of the sensor's clock while it
#: catches up with the fit's line (:class:`LiveStreamHook`): 500 ppm, the most NTP slews a
#: clock by. A time stamp moves by at most 0.05 % of the time since the fit before.
MAX_SLEW = 500e-6

#: Seconds of a boot's samples after which the live times follow the fit of its clock
#: (:class:`LiveStreamHook`) however close it is to them: over the serial link of the bundled
#: sessions, fits on less than a minute of time syncs wandered by up to 67 ppm from the fit on
#: all of them (1 ms at 15 s), more than their sensor's clock was off.
FIT_AFTER_S = 60.0

#: Seconds of a boot's samples between two fits of its clock by the live analysis: an eighth
#: of the boot so far, at least :data:`REFIT_MIN_S` and at most :data:`REFIT_MAX_S`.
REFIT_MIN_S = 1.0
REFIT_MAX_S = 60.0


def format_live(m: LiveMetrics) -> str:
    """One line for the terminal.

    Without running steps in the rolling span it says whether the newest samples show running
    whose numbers are still settling (``m.settling_s``), never a bare "no running" then.
    """
    if m.n_steps == 0 and math.isfinite(m.settling_s):
        return (f"live {m.t_s:7.1f} s: running, settling: first numbers in "
                f"~{math.ceil(m.settling_s):.0f} s")
    if m.n_steps == 0:
        return f"live {m.t_s:7.1f} s: no running in the last seconds"
    return (f"live {m.t_s:7.1f} s: cadence {m.cadence_spm:5.1f} steps/min, contact "
            f"{m.contact_ms:4.0f} ms, bounce {m.vertical_oscillation_cm:4.1f} cm "
            f"({m.n_steps} steps)")


def _check_seconds(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise SignalError(f"{name} must be a positive number of seconds, got {value!r}")


class LiveAnalyzer:
    """Sensor-frame samples in, :class:`LiveMetrics` out every ``report_every_s`` seconds.

    A report whose numbers are still settling (``settling_s``) is followed by one more when
    they are due, if that comes before the next regular one.

    Args:
        fs_hz: sample rate. Below :attr:`CleanupSettings.interpolate_below_hz
            <imurun.signal.cleanup.CleanupSettings.interpolate_below_hz>` (95 Hz) the samples
            are interpolated as :func:`imurun.analyze` interpolates them
            (:class:`~imurun.signal.cleanup.StreamingInterpolator`, the same numbers), and
            everything after works at the interpolated rate (``fs_hz`` then holds it,
            ``source_fs_hz`` the sensor's).
        on_report: called with each report.
        report_every_s: seconds of samples between reports.
        mounting: the sensor-to-body rotation if known (else estimated from the first
            samples; until then nothing is reported).
        settings: :class:`StreamingSettings`.
        mounting_early_s: the estimate is tried every :data:`MOUNTING_RETRY_S` (2 s) of
            samples from ``mounting_early_s`` on, on the estimator's windows
            (:attr:`MountingSettings.window_s <imurun.signal.mounting.MountingSettings.window_s>`,
            4 s) laid back from the newest sample, and taken as soon as at least
            ``mounting_early_s`` seconds of its windows are walking or running; ``0``: only
            at ``mounting_window_s``.
        mounting_window_s: at the latest, the estimate is taken on this many seconds of
            samples, however few of them show walking or running; if it fails (no locomotion
            at all), it is tried again every 5 s, and on ``mounting_max_s`` seconds the sensor
            axes are taken as body axes.
        on_steps: called with the steps of each :meth:`StreamingEvents.update
            <imurun.signal.streaming.StreamingEvents.update>` and ``flush`` that found any
            (:class:`~imurun.signal.streaming.StreamSteps`, times from the first sample).

    State (readable): ``mounting`` (``None`` until known), ``n_seen`` (samples analysed, at
    ``fs_hz``), ``status``.
    Samples that arrive before the mounting is known are held, with the gaps between them,
    and analysed once it is: a gap then still ends a segment, as it does later. The first
    window is checked for units as :func:`imurun.analyze` checks a ``Recording``:
    acceleration in g or angular rate in deg/s raises :class:`~imurun.errors.SignalError`
    (:class:`LiveStreamHook` then stops its live lines, saying why; the stream goes on).

    """

    def __init__(self, fs_hz: float, on_report: Callable[[LiveMetrics], None], *,
                 report_every_s: float = 5.0, mounting: Mounting | None = None,
                 settings: StreamingSettings | None = None, mounting_early_s: float = 12.0,
                 mounting_window_s: float = 20.0, mounting_max_s: float = 60.0,
                 on_steps: Callable[[StreamSteps], None] | None = None) -> None:
        self.source_fs_hz = check_fs(fs_hz)
        k = CleanupSettings().interpolate_factor(self.source_fs_hz)
        # a slow sensor's samples are interpolated as the batch clean-up interpolates them
        self._interp = StreamingInterpolator(k) if k > 1 else None
        self.fs_hz = self.source_fs_hz * k
        _check_seconds(report_every_s=report_every_s, mounting_window_s=mounting_window_s,
                       mounting_max_s=mounting_max_s)
        if not (isinstance(mounting_early_s, int | float) and 0 <= mounting_early_s):
            raise SignalError(f"mounting_early_s must be a number of seconds >= 0, got "
                              f"{mounting_early_s!r}")
        self.on_report = on_report
        self.on_steps = on_steps
        self.report_every_s = float(report_every_s)
        self.mounting = mounting
        self.settings = StreamingSettings() if settings is None else settings
        self.mounting_early_s = float(mounting_early_s)
        self.mounting_window_s = mounting_window_s
        self.mounting_max_s = mounting_max_s
        self.status = "estimating the sensor placement" if mounting is None else "running"
        self.n_seen = 0
        self._events = StreamingEvents(self.fs_hz, self.settings)
        # before the mounting is known: the samples, and a new segment's start time (s) where
        # a gap ends one (nothing is analysed across a gap, whether or not the mounting is known)
        self._pending: list[tuple[FloatArray, FloatArray | None] | float] = []
        self._n_pending = 0
        self._mounting_settings = MountingSettings()
        early = 0.0 < self.mounting_early_s < mounting_window_s
        self._next_try = int(round((self.mounting_early_s if early else mounting_window_s)
                                   * self.fs_hz))
        self._units_checked = mounting is not None
        self._next_report = self.report_every_s
        self._extra_report = False  # the next report is the one a settling report announced
        self._t_next = 0.0  # time of the next sample expected before the mounting is known
        self._has_gyr: bool | None = None  # whether the samples come with a gyroscope

    def gap(self, t_next_s: float | None = None) -> None:
        """Samples are missing: the next ones start a new segment.

        It starts at ``t_next_s`` (seconds, the time base of :attr:`LiveMetrics.t_s
        <imurun.signal.streaming.LiveMetrics.t_s>`: 0 at the first sample) when the time is
        known, else right after the previous one. A ``t_next_s`` before the end of the samples
        so far is a :class:`~imurun.errors.SignalError` (nothing changes): the live times
        never go back. One within half a sample period before it is that end (a caller that
        adds up block durations, as :class:`LiveStreamHook` does, is a few rounding errors off
        after an hour).
        """
        ev = self._events
        if t_next_s is not None:  # checked before anything changes
            held = 0 if self._interp is None else self._interp.pending
            end = self._t_after() + held / self.fs_hz
            if not (math.isfinite(t_next_s) and t_next_s >= end - 0.5 / self.fs_hz):
                raise SignalError(f"gap(t_next_s={t_next_s!r}): the next samples cannot start "
                                  f"before the end of those so far ({end:.6g} s)")
            t_next_s = max(float(t_next_s), end)
        if self._interp is not None and self._interp.n_in:
            self._add_fine(self._interp.end())
            if t_next_s is None:  # one sensor sample period after the last sample
                t_next_s = self._t_after() - 1.0 / self.fs_hz + 1.0 / self.source_fs_hz
        if self.mounting is None:
            self._t_next = self._t_next if t_next_s is None else float(t_next_s)
            self._pending.append(self._t_next)
            return
        t0 = self._t_after() if t_next_s is None else float(t_next_s)
        self._steps(ev.flush())
        ev.reset(t0)

    def _t_after(self) -> float:
        """The time one analysed sample period after the last sample analysed (or held)."""
        if self.mounting is None:
            return self._t_next
        return self._events.t0_s + self._events.n_seen / self.fs_hz

    def flush(self) -> None:
        """The end of the data: the steps of the last seconds (to ``on_steps``)."""
        if self._interp is not None and self._interp.n_in:
            self._add_fine(self._interp.end())
        if self.mounting is None and self._n_pending:
            self._try_mounting(final=True)
        if self.mounting is not None:
            self._steps(self._events.flush())

    def add(self, sf_acc_ms2: npt.ArrayLike, sf_gyr_rads: npt.ArrayLike | None) -> None:
        """Contiguous samples in the sensor frame (continuing the previous ones).

        ``(m, 3)`` arrays of finite values, time on axis 0 (:class:`~imurun.errors.SignalError`
        otherwise, before anything is buffered: the analyzer goes on with the next block); they
        are copied, so the caller may reuse its arrays for the next block. A
        sample that was not measured (NaN) is a missing sample: leave it out and call
        :meth:`gap` where samples are missing.
        """
        # Copies: the blocks are held (until the mounting is known, and in the detectors'
        # windows), and a caller may fill one buffer again for the next block.
        sf_acc_ms2 = as_signal(sf_acc_ms2, "sf_acc_ms2").copy()
        sf_gyr_rads = (None if sf_gyr_rads is None
                       else as_signal(sf_gyr_rads, "sf_gyr_rads", sf_acc_ms2.shape[0]).copy())
        for name, x in (("sf_acc_ms2", sf_acc_ms2), ("sf_gyr_rads", sf_gyr_rads)):
            rows = np.array([], dtype=np.intp) if x is None else np.flatnonzero(
                ~np.isfinite(x).all(axis=1))
            if rows.size:
                raise SignalError(
                    f"{name} must be finite: {rows.size} row(s) of this block hold NaN or "
                    f"infinite values, the first at index {int(rows[0])}; leave those samples "
                    "out and call gap() where samples are missing")
        if self._has_gyr is None:
            self._has_gyr = sf_gyr_rads is not None
        elif self._has_gyr != (sf_gyr_rads is not None):
            had = "with" if self._has_gyr else "without"
            raise SignalError(f"the samples so far came {had} a gyroscope: give sf_gyr_rads "
                              f"{'for every block' if self._has_gyr else 'for none'}")
        if self._interp is None:
            self._add_fine(sf_acc_ms2, sf_gyr_rads)
            return
        both = sf_acc_ms2 if sf_gyr_rads is None else np.hstack([sf_acc_ms2, sf_gyr_rads])
        self._add_fine(self._interp.add(both))

    def _add_fine(self, acc: FloatArray, gyr: FloatArray | None = None) -> None:
        """Samples at the analysed rate.

        Interpolated ones come with the acceleration and the angular rate side by side in
        ``acc`` when the sensor has a gyroscope.
        """
        if acc.shape[0] == 0:
            return
        if self._interp is not None and self._has_gyr:
            acc, gyr = acc[:, :3], acc[:, 3:]
        sf_acc_ms2, sf_gyr_rads = acc, gyr
        if self.mounting is None:
            self._pending.append((sf_acc_ms2, sf_gyr_rads))
            self._n_pending += sf_acc_ms2.shape[0]
            self.n_seen += sf_acc_ms2.shape[0]
            self._t_next += sf_acc_ms2.shape[0] / self.fs_hz
            if self._n_pending >= self._next_try:
                self._try_mounting()
            return
        self.n_seen += sf_acc_ms2.shape[0]
        self._feed(sf_acc_ms2, sf_gyr_rads)

    def _try_mounting(self, *, final: bool = False) -> None:
        blocks = [p for p in self._pending if not isinstance(p, float)]
        acc = np.concatenate([p[0] for p in blocks])
        gyrs = [p[1] for p in blocks]
        gyr = None if any(g is None for g in gyrs) else np.concatenate(
            [g for g in gyrs if g is not None])
        segments, start, n = [], 0, 0
        for p in self._pending:
            if isinstance(p, float):
                segments.append((start, n))
                start = n
            else:
                n += p[0].shape[0]
        segments.append((start, n))
        if not self._units_checked:  # the first window: once, before anything is analysed
            from imurun.analysis import check_si_units

            check_si_units(acc, gyr, "LiveAnalyzer takes")
            self._units_checked = True
        full = final or self._n_pending >= self.mounting_window_s * self.fs_hz
        ms = self._mounting_settings
        # The estimator tiles each segment with its windows from the segment's start; the
        # segments are cut so that the windows end at the newest sample (what is left over
        # is at the start). Windows from the first sample stay put from try to try, and one
        # that straddles the start of the running (after standing) stays lost until the
        # fallback; these move on with each try, so some try has them start within
        # MOUNTING_RETRY_S after the running did.
        w = int(round(ms.window_s * self.fs_hz))
        tiled = [(b - (b - a) // w * w, b) for a, b in segments if b - a >= w]
        try:
            found = estimate_mounting(acc, self.fs_hz, gyr_rads=gyr, segments=tiled,
                                      settings=ms)
        except MountingError:
            if not final and self._n_pending < self.mounting_max_s * self.fs_hz:
                self._next_try = (self._n_pending + int(round(5.0 * self.fs_hz)) if full
                                  else self._early_retry())
                return
            self.mounting = Mounting.identity()
            self.status = "sensor placement unknown: sensor axes taken as body axes"
        else:
            q = found.quality
            moving_s = (0.0 if q is None
                        else (q.n_running_windows + q.n_walking_windows) * ms.window_s)
            if not full and moving_s < self.mounting_early_s:  # too little motion yet
                self._next_try = self._early_retry()
                return
            self.mounting = found
            self.status = "running"
        pending, self._pending, self._n_pending = self._pending, [], 0
        self._events.reset(0.0)
        for p in pending:
            if isinstance(p, float):
                self._steps(self._events.flush())
                self._events.reset(p)
            else:
                self._feed(*p)

    def _early_retry(self) -> int:
        """The next try before ``mounting_window_s``: :data:`MOUNTING_RETRY_S` later, at most then.

        Each try's windows end at its newest sample, so the next one sees windows that many
        seconds later: ``mounting_early_s`` of locomotion in whole windows is found at most
        that long after it is in.
        """
        return min(self._n_pending + int(round(MOUNTING_RETRY_S * self.fs_hz)),
                   int(round(self.mounting_window_s * self.fs_hz)))

    def _steps(self, steps: StreamSteps) -> None:
        if len(steps) and self.on_steps is not None:
            self.on_steps(steps)

    def _feed(self, acc: FloatArray, gyr: FloatArray | None) -> None:
        assert self.mounting is not None
        r = self.mounting.r_sb
        self._steps(self._events.update(np.einsum("nj,kj->nk", acc, r),
                                        None if gyr is None else np.einsum("nj,kj->nk", gyr, r)))
        t = self._events.t0_s + self._events.n_seen / self.fs_hz
        if t >= self._next_report:  # one report even after a catch-up
            m = self._events.live(t)
            self.on_report(m)
            extra, self._extra_report = self._extra_report, False
            self._next_report = (math.floor(t / self.report_every_s) + 1) * self.report_every_s
            # the numbers are settling: one more report when they are due (not at the next
            # regular one, up to report_every_s later); once between two regular reports
            due = t + m.settling_s - 0.5 / self.fs_hz
            if not extra and m.n_steps == 0 and m.settling_s > 0 and due < self._next_report:
                self._next_report = due
                self._extra_report = True


class _LiveClock:
    """Analysis time -> live time: piecewise linear, continuous and increasing.

    The analysis counts samples at the declared rate (its filters need a uniform grid):
    analysis time ``a``. From each knot ``(a_k, l_k)`` on, live time runs at ``r_k`` live
    seconds per analysis second, up to the next knot. Knots are added only at or after the
    end of the samples analysed so far, so a live time once given never changes.
    """

    def __init__(self) -> None:
        self._a: list[float] = [0.0]
        self._l: list[float] = [0.0]
        self._r: list[float] = [1.0]

    def __call__(self, a_s: npt.ArrayLike) -> FloatArray:
        """The live time of each analysis time (NaN stays NaN)."""
        a = np.asarray(a_s, dtype=np.float64)
        k = np.maximum(np.searchsorted(self._a, a, side="right") - 1, 0)
        return np.asarray(self._l)[k] + np.asarray(self._r)[k] * (a - np.asarray(self._a)[k])

    @property
    def rate(self) -> float:
        """The rate from the last knot on."""
        return self._r[-1]

    def at(self, a_s: float) -> float:
        """:meth:`__call__` of one time."""
        return float(self(a_s))

    def knot(self, a_s: float, l_s: float, rate: float) -> None:
        """From ``a_s`` (not before the last knot) on: ``l_s + rate * (a - a_s)``."""
        assert a_s >= self._a[-1]
        assert rate > 0
        if a_s == self._a[-1]:
            del self._a[-1], self._l[-1], self._r[-1]
        self._a.append(float(a_s))
        self._l.append(float(l_s))
        self._r.append(float(rate))


@dataclass(frozen=True)
class BootStart:
    """Where the live analysis placed a boot of the sensor (:attr:`LiveStreamHook.boot_starts`).

    ``t_s``: the live time of its first sample analysed. ``placed_by``: ``"start"`` (the first
    boot: time 0), ``"time sync"`` (its clock paired: the time the recording gives it) or
    ``"arrival times"`` (no time sync: the earliest arrival of its batches, as the recording
    places such a boot). ``provisional``: placed before a time sync with a usual round trip
    came, on what had arrived by then (its samples' first ``place_wait_s`` seconds), so the
    recording, placed on all of the boot's data, can place it elsewhere: its live times are
    off by that much until the next boot.
    """

    t_s: float
    boot_id: int
    placed_by: Literal["start", "time sync", "arrival times"]
    provisional: bool = False


class LiveStreamHook:
    """``on_event`` hook of :func:`imurun.device.stream.stream_live`: decoded messages in.

    The sensor's ``DEVICE_INFO`` gives the units and rate; each ``SAMPLE_BATCH`` is converted
    to SI and added. A reboot (a ``Rebooted`` event, or a new boot id in the frames, which is
    all a reconnection shows of a reboot) or a jump of the sample counter is a gap; a jump of
    at most :attr:`CleanupSettings.bridge_max_samples
    <imurun.signal.cleanup.CleanupSettings.bridge_max_samples>` or ``bridge_max_s`` of samples
    (a lost or damaged frame) is bridged by linear interpolation, as
    :func:`imurun.analyze` bridges it. ``say`` receives one line per report (see
    :func:`format_live`), and once, when the first report is due before the mounting is known,
    a line that says it is being estimated; ``on_steps`` the steps found (see
    :class:`LiveAnalyzer`).

    Time base: the live times (``LiveMetrics.t_s``, ``StreamSteps.ic_s``...) are the stream's
    recording's ``t_s``: 0 at the first sample, then the sensor's clock (see below) over the
    samples, a lost or damaged frame included (the sample counter says how many samples are
    missing). A reboot restarts the counter and
    its duration is not in the samples: the new boot is placed as the recording places it
    (:mod:`imurun.ingest.clock`, the same code), with its ``TIME_SYNC`` pairs. The answers
    to the first time syncs after a reboot can be slow to arrive (192 ms in
    ``recordings/reboot-and-gaps.imrs``, whose reboot took 64 ms), which the recording sees
    among the boot's other pairs and leaves out; live, the boot's samples are therefore held
    until a pair with a round trip as short as the link's usual one (the pairs of the boots
    before: 1.5 times their median + 1 ms, the recording's rule) is in, at most
    ``place_wait_s`` seconds of samples: ``imurun stream`` asks for one every second. Nothing
    is lost and the numbers are the same; a line due meanwhile comes up to that much later.
    A boot not paired by then is placed as the recording would be on what has arrived, and
    :attr:`boot_starts` marks it provisional (a line says so); one that ends, or a stream that
    ends, before that is placed on all its data, as the recording places it. Live times never
    go back: a boot the clocks place before the end of the samples so far starts right after
    them. Within a boot the live times follow the sensor's clock as the recording does, with
    the recording's fit of it (:meth:`BootTimes.clock <imurun.ingest.clock.BootTimes.clock>`:
    the sample period on the device clock, the device clock against the host's by the time
    syncs) on the boot's data so far, refitted every eighth of the boot so far (1 to 60 s of
    samples). The analysis itself counts samples at the declared rate (its filters need a
    uniform grid): only the times given out (``StreamSteps.ic_s`` and ``to_s``, the lines'
    times, :attr:`boot_starts`) follow the clock, never the numbers (step times, contact
    times and bounce stay as counted). From the end of the samples so far, live time runs at
    the newest fitted rate, slewed by at most :data:`MAX_SLEW` (500 ppm) to reach the fit's
    line through the boot's first sample by the next fit: it never goes back or jumps, and a
    time once given stays. A fit on few time syncs is noisier than most crystals are off, so
    a boot's live times follow its fit once it rests on :data:`FIT_AFTER_S` (60 s) of
    samples, or sooner once its line is further from them than half the median round trip
    of the boot's time syncs (how far a time sync's midpoint can be from the sensor's
    clock); until then they count samples at the rate of the last fit followed, in a boot
    before (the same crystal), else at the declared rate. A boot without time syncs is timed by
    its device clock alone, as the recording times it; a sensor without device times counts
    at the declared rate. Lost samples count in the clock's time, as in the recording.
    On the bundled session the live steps stay within 0.2 ms of the batch ones (its clock is
    good: its fits follow only after a minute); a crystal 500 ppm off parts the declared rate
    from the recording by 30 ms a minute, the live steps from the batch ones by under 2 ms
    (``tests/test_live_time_base.py``).

    State (readable): ``info`` (the last ``DEVICE_INFO``), ``analyzer``, ``bridged_samples``,
    ``boot_starts`` (one :class:`BootStart` per boot with samples, in order).
    """

    def __init__(self, say: Callable[[str], None], *, report_every_s: float = 5.0,
                 settings: StreamingSettings | None = None,
                 cleanup: CleanupSettings | None = None,
                 on_steps: Callable[[StreamSteps], None] | None = None,
                 place_wait_s: float = 3.0) -> None:
        _check_seconds(report_every_s=report_every_s, place_wait_s=place_wait_s)
        self.say = say
        self.report_every_s = report_every_s
        self.settings = settings
        self.cleanup = CleanupSettings() if cleanup is None else cleanup
        self.on_steps = on_steps
        self.place_wait_s = float(place_wait_s)
        self.info: DeviceInfo | None = None
        self.analyzer: LiveAnalyzer | None = None
        self.bridged_samples = 0
        self.boot_starts: list[BootStart] = []
        self._boot_id: int | None = None
        self._boot_info: dict[int, DeviceInfo] = {}  # the last DEVICE_INFO of each boot
        self._boots: list[BootTimes] = []  # what places each boot in time, as the recording's
        # the samples of a new boot not yet placed in time: (u32 counter, unwrapped counter,
        # rate, acc, gyr) per batch; None once placed (or for the first boot: it starts at 0)
        self._held: list[tuple[int, int, float, FloatArray, FloatArray | None]] | None = None
        self._next_counter: int | None = None
        self._last: tuple[FloatArray, FloatArray | None] | None = None  # the last sample (SI)
        self._t_next = 0.0  # analysis time of the next expected sample, s
        self._clock = _LiveClock()  # analysis time -> live time (the sensor's clock)
        # the current boot: analysis and live time of its first sample analysed, the samples
        # analysed since (lost ones included) and when its clock is fitted next
        self._anchor = (0.0, 0.0)
        self._n_boot = 0
        self._refit_at = 0.0
        self._following = False  # live times follow the current boot's fit
        self._crystal_rate = 1.0  # the last fit's rate followed: a new boot's until its own
        self._last_status = ""
        self._said_settling = False  # the line that says the placement is being estimated
        self._stopped = False  # the analysis refused the samples: no more live lines

    def __call__(self, t_host_s: float, ev: ParseEvent) -> None:
        try:
            self._handle(t_host_s, ev)
        except SignalError as e:  # samples the analysis refuses: the stream itself goes on
            self._stop(e)

    def _stop(self, e: SignalError) -> None:
        self.analyzer = None
        self._held = None
        self._stopped = True
        self.say(f"live: stopped: {e} (the recording goes on)")

    def _handle(self, t_host_s: float, ev: ParseEvent) -> None:
        if isinstance(ev, Rebooted):
            self._new_boot(ev.new_boot_id)
            return
        if not isinstance(ev, Received):
            return
        if ev.boot_id != self._boot_id:
            self._new_boot(ev.boot_id)
        m = ev.message
        if isinstance(m, DeviceInfo):
            if not self._stopped and (self.info is None
                                      or self.info.sample_rate_hz != m.sample_rate_hz):
                self.analyzer = LiveAnalyzer(float(m.sample_rate_hz), self._report,
                                             report_every_s=self.report_every_s,
                                             settings=self.settings, on_steps=self._steps)
                self._next_counter = None
                self._last = None
                self._said_settling = False
            self.info = m
            self._boot_info[ev.boot_id] = m
        elif isinstance(m, TimeSync):
            boot_of(self._boots, ev.boot_id, t_host_s, BootTimes).add_pair(m, t_host_s)
            self._try_place()
        elif isinstance(m, SampleBatch):
            c = boot_of(self._boots, ev.boot_id, t_host_s, BootTimes).add_batch(
                m.sample_counter, m.device_time_us, m.n, t_host_s)
            if self.info is None or self.analyzer is None:
                return
            fs = float(self.info.sample_rate_hz)
            acc, gyr = self.info.scale.to_si(m.counts)
            if self._held is None:
                if not self.boot_starts:
                    self.boot_starts.append(BootStart(self._t_next, ev.boot_id, "start"))
                    self._start_boot(self._t_next, self._t_next, 1.0, fs)
                self._samples(m.sample_counter, fs, acc, gyr)
            else:
                self._held.append((m.sample_counter, c, fs, acc, gyr))
                self._try_place()

    def _samples(self, counter: int, fs: float, acc: FloatArray, gyr: FloatArray | None) -> None:
        """One batch of the current boot, placed in time, to the analyzer."""
        assert self.analyzer is not None
        n = acc.shape[0]
        if self._next_counter is not None and counter != self._next_counter:
            missing = (counter - self._next_counter) % 2**32
            if missing > 2**31:
                return  # a late duplicate: already seen
            self._t_next += missing / fs
            self._n_boot += missing
            if self._last is not None and missing <= bridge_max_missing(self.cleanup, fs):
                self._bridge(missing, acc, gyr)
            else:
                self.analyzer.gap(self._t_next)
        self._next_counter = (counter + n) % 2**32
        self._t_next += n / fs
        self._n_boot += n
        if self._n_boot >= self._refit_at:
            self._follow_clock(fs)
        self.analyzer.add(acc, gyr)
        self._say_settling()
        if n:
            self._last = (acc[-1], None if gyr is None else gyr[-1])

    def _say_settling(self) -> None:
        """A line is due but the mounting is not known yet: say so once, not nothing.

        The reports due until the mounting is known come together once it is
        (``mounting_early_s`` of walking or running, else ``mounting_window_s`` of samples,
        more when the estimate finds no motion).
        """
        a = self.analyzer
        if (a is None or a.mounting is not None or self._said_settling
                or a.n_seen < self.report_every_s * a.fs_hz):
            return
        self._said_settling = True
        self._last_status = a.status
        if 0 < a.mounting_early_s < a.mounting_window_s:
            when = (f"once {a.mounting_early_s:g} s of walking or running are in, else on the "
                    f"first {a.mounting_window_s:g} s of samples")
        else:
            when = f"on the first {a.mounting_window_s:g} s of samples"
        self.say(f"live: settling: {a.status} {when}; their lines come then")

    def flush(self) -> None:
        """The stream has ended: the steps of its last seconds go to ``on_steps``."""
        try:
            self._place_complete()
            if self.analyzer is not None:
                self.analyzer.flush()
        except SignalError as e:
            self._stop(e)

    def _new_boot(self, boot_id: int) -> None:
        """A reboot: the sample counter starts again and nothing is analysed across it.

        The boot before is complete: placed now if it still waited, and its last steps go out
        (its segment ends here); the new one waits for its place in time (see the class notes).
        """
        self._place_complete()
        if self._boot_id is not None and self.analyzer is not None:
            self.analyzer.gap()
        self._boot_id = boot_id
        self._next_counter = None
        self._last = None
        if any(b.has_samples for b in self._boots):  # the recording's time 0 is behind
            self._held = []

    def _fs_of(self, boot_id: int) -> float:
        """A boot's sample rate: its last ``DEVICE_INFO``'s, else the last one received."""
        info = self._boot_info.get(boot_id, self.info)
        assert info is not None  # samples are analysed only once one has come
        return float(info.sample_rate_hz)

    def _usual_round_trip_s(self) -> float | None:
        """The median round trip of the time syncs of the boots before this one (None: none)."""
        rtt = np.concatenate([b.round_trips_s() for b in self._boots[:-1]] or [np.zeros(0)])
        return float(np.quantile(rtt, 0.5)) if rtt.size else None

    def _try_place(self) -> None:
        """Place the new boot if a time sync tells where, or once it waited long enough."""
        held = self._held
        if held is None or not _has_samples(held) or self._boots[-1].boot_id != self._boot_id:
            return  # nothing to place yet (an empty batch places nothing)
        usual = self._usual_round_trip_s()
        b = self._boots[-1]
        if len(b.kept_pairs(usual)):
            self._place(rtt_ref_s=usual)
        elif sum(h[3].shape[0] / h[2] for h in held) >= self.place_wait_s:
            self._place(provisional=True)

    def _place_complete(self) -> None:
        """A boot that still waits and will get no more data: placed on all of it."""
        if _has_samples(self._held):
            self._place()
        self._held = None

    def _place(self, *, rtt_ref_s: float | None = None, provisional: bool = False) -> None:
        """The new boot's time, as the recording places it on the data so far; then its samples.

        ``rtt_ref_s``: the usual round trip its time syncs are judged by (see
        :meth:`BootTimes.kept_pairs <imurun.ingest.clock.BootTimes.kept_pairs>`).
        """
        held, self._held = self._held, None
        if held is None or not _has_samples(held) or self.analyzer is None:
            return
        boots = [b for b in self._boots if b.has_samples]  # the last is the new one
        ref = boots[0].first_rx_s  # one host time base for all: the recording's arithmetic
        spans, clock = [], None
        for b in boots:
            clock = b.clock(self._fs_of(b.boot_id), [],
                            rtt_ref_s=rtt_ref_s if b is boots[-1] else None)
            ends = clock.host_s([clock.first_counter, clock.last_counter]) + (clock.t_ref - ref)
            spans.append((float(ends[0]), float(ends[1]), clock.period_s))
        assert clock is not None
        starts = place_boots(spans)
        # the first sample analysed is the boot's first unless an earlier one arrives late
        first = next(h[1] for h in held if h[3].shape[0])
        at_first = float(clock.host_s([first])[0] + (clock.t_ref - ref)) - spans[-1][0]
        end = self._clock.at(self._t_next)  # live time of the sample after the last
        t0 = max(starts[-1] + at_first - starts[0], end)  # never back
        a0 = self._t_next + (t0 - end)  # the analysis time runs on across the reboot
        self.analyzer.gap(a0)
        self._t_next = a0
        fs = self._fs_of(boots[-1].boot_id)
        self._start_boot(a0, t0, self._crystal_rate, fs)
        self.boot_starts.append(BootStart(t0, boots[-1].boot_id,
                                          "time sync" if clock.paired else "arrival times",
                                          provisional))
        if provisional:
            by = ("time syncs with long round trips" if clock.paired
                  else "the arrival times of its samples")
            self.say(f"live: the sensor restarted and no time sync placed its clock in "
                     f"{self.place_wait_s:g} s: its times from {t0:.1f} s on are provisional "
                     f"(placed by {by})")
        for counter, _, fs, acc, gyr in held:
            self._samples(counter, fs, acc, gyr)

    def _start_boot(self, a_s: float, t_s: float, rate: float, fs: float) -> None:
        """A boot's first sample analysed: at analysis time ``a_s``, live time ``t_s``."""
        self._anchor = (a_s, t_s)
        self._n_boot = 0
        self._refit_at = REFIT_MIN_S * fs
        self._following = False
        self._clock.knot(a_s, t_s, rate)

    def _follow_clock(self, fs: float) -> None:
        """Fit the current boot's clock on its data so far; live times follow it from here.

        The fit is the recording's (:meth:`BootTimes.clock
        <imurun.ingest.clock.BootTimes.clock>`, the time syncs judged as when the boot was
        placed). Live times follow it once it rests on :data:`FIT_AFTER_S` of samples, or
        sooner once its line (through the boot's first sample analysed) is further from them
        than half the median round trip of the boot's time syncs; then from
        the end of the samples so far live time runs at the fitted rate, slewed by at most
        :data:`MAX_SLEW` to reach the fit's line by the next fit: it never goes back or jumps.
        """
        b = self._boots[-1]
        clock = b.clock(fs, [], rtt_ref_s=self._usual_round_trip_s())
        rate = clock.period_s * fs  # live seconds per analysis second
        a_first, t_first = self._anchor
        a_now = self._t_next
        until_s = min(max(REFIT_MIN_S, (a_now - a_first) / 8), REFIT_MAX_S)
        self._refit_at = self._n_boot + until_s * fs
        t_now = self._clock.at(a_now)
        behind = t_first + rate * (a_now - a_first) - t_now
        noise_s = float(np.median(b.round_trips_s())) / 2 if b.pairs else 0.0
        if not (self._following or a_now - a_first >= FIT_AFTER_S or abs(behind) > noise_s):
            return
        self._following = True
        self._crystal_rate = rate
        slew = min(max(behind / until_s, -MAX_SLEW), MAX_SLEW)
        self._clock.knot(a_now, t_now, rate + slew)

    def _steps(self, steps: StreamSteps) -> None:
        """Steps found: their times on the live clock, to ``on_steps``."""
        if self.on_steps is not None:
            self.on_steps(replace(steps, ic_s=self._clock(steps.ic_s),
                                  to_s=self._clock(steps.to_s)))

    def _bridge(self, k: int, acc: FloatArray, gyr: FloatArray | None) -> None:
        """Fill ``k`` missing samples between the last one and ``acc[0]`` (as batch does)."""
        assert self._last is not None
        assert self.analyzer is not None
        last_acc, last_gyr = self._last
        fill_gyr = None if gyr is None or last_gyr is None else linear_fill(last_gyr, gyr[0], k)
        self.analyzer.add(linear_fill(last_acc, acc[0], k), fill_gyr)
        self.bridged_samples += k

    def _report(self, metrics: LiveMetrics) -> None:
        assert self.analyzer is not None
        if self.analyzer.status != self._last_status and self.analyzer.status != "running":
            self.say(f"live: {self.analyzer.status}")
        self._last_status = self.analyzer.status
        if math.isfinite(metrics.t_s):
            self.say(format_live(replace(metrics, t_s=self._clock.at(metrics.t_s))))


def _has_samples(held: list[tuple[int, int, float, FloatArray, FloatArray | None]] | None,
                 ) -> bool:
    """Whether held batches hold a sample (a boot's empty batches alone place nothing)."""
    return any(h[3].shape[0] for h in held or ())


def replay_session(path: str | os.PathLike[str],
                   on_event: Callable[[float, ParseEvent], None] | None = None, *,
                   speed: float | None = None) -> Recording:
    """Replay a recorded session (``.imrs``) through the live path; return its recording.

    The recorded bytes go through the decoder and ingest step of a live stream
    (:func:`imurun.device.stream.replay`, what ``imurun replay`` runs), each decoded message to
    ``on_event(t_host_s, event)`` as it would during ``imurun stream`` (a
    :class:`LiveStreamHook` for the live numbers: call its :meth:`~LiveStreamHook.flush`
    afterwards for the steps of the last seconds). ``speed``: ``None`` as fast as possible,
    ``1.0`` in the original timing. Blocking; it also works inside a running event loop (a
    Jupyter notebook), which it then blocks until the end of the replay, calling ``on_event``
    from a worker thread (:func:`imurun.device.stream.replay_blocking`): to keep that loop
    running, await :func:`imurun.device.stream.replay` instead.

    Raises:
        FileFormatError: the file is not a session (the error names it).

    """
    from imurun.device.client import SensorClient
    from imurun.device.stream import replay_blocking
    from imurun.ingest.builder import RecordingBuilder
    from imurun.transport.session import ReplayTransport, read_session

    sf = read_session(path)
    builder = RecordingBuilder(source=os.fspath(path), source_format="session")
    replay_blocking(SensorClient(ReplayTransport(sf, speed=speed)), builder, on_event=on_event)
    builder.notes += sf.notes
    return builder.build()
