"""Decoded messages -> :class:`Recording`: clock correction, gap accounting, unit conversion.

The same :class:`RecordingBuilder` consumes a live link, a replayed session and (through
:func:`recording_from_run`) a synced run file, so every source ends up on one time base with the
same rules:

* Samples are ordered and de-duplicated by the sensor's ``sample_counter`` within each boot; a
  counter jump is a gap, its cause taken from what the link reported in between (frames lost,
  corrupt frames, a disconnect). A new boot id is a boot boundary.
* Per boot, the device clock is fitted against the sample counter (the true sample period on the
  device clock) and mapped to the host clock with the ``TIME_SYNC`` pairs: offset and drift by
  least squares on the pairs with the shortest round trips (Cristian 1989). Without pairs the
  offset comes from the earliest-arriving batch (minimum latency) and drift is not corrected.
  The boots follow each other on the host clock. :mod:`imurun.ingest.clock` holds these rules;
  the live analysis places each boot with them too.
* Raw counts become m/s² and rad/s here, with the scale factors the sensor declared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_protocol.codec import DecoderStats, Dropped, Lost, ParseEvent, Rebooted, Received
from firmware_protocol.messages import DeviceInfo, SampleBatch, Scale, TimeSync
from firmware_protocol.runfile import StoredRun
from imurun.errors import IngestError
from imurun.ingest.clock import BootTimes, boot_of, fit_line, place_boots
from imurun.ingest.recording import (
    Gap,
    GapCause,
    IngestStats,
    Recording,
    RecordingMeta,
    Segment,
)


@dataclass
class _Boot(BootTimes):
    """One boot's samples: what places it in time (:class:`BootTimes`) and the counts."""

    counts: list[npt.NDArray[np.int16]] = field(default_factory=list)  # per batch

    @property
    def batches(self) -> list[tuple[int, int, npt.NDArray[np.int16], float]]:
        """``(counter, device_time_us, counts, t_rx)`` per batch, in arrival order."""
        return [(c, d, k, t) for (c, d, _, t), k in zip(self.batch_times, self.counts, strict=True)]


@dataclass
class _Marker:
    t_host_s: float
    cause: GapCause


class RecordingBuilder:
    """Accumulates one link's events; :meth:`build` makes the recording (repeatable)."""

    def __init__(self, *, source: str = "", source_format: str = "session") -> None:
        self.source = source
        self.source_format = source_format
        self.info: DeviceInfo | None = None  # the last DEVICE_INFO received
        self.boot_info: dict[int, DeviceInfo] = {}  # the last one of each boot
        self.boots: list[_Boot] = []
        self.markers: list[_Marker] = []
        self.decoder_stats: DecoderStats | None = None
        self.disconnects = 0
        self.n_samples = 0
        self.notes: list[str] = []

    # ------------------------------------------------------------------ feeding
    def _boot(self, boot_id: int, t: float) -> _Boot:
        return boot_of(self.boots, boot_id, t, _Boot)

    def feed(self, t_host_s: float, ev: ParseEvent) -> None:
        if isinstance(ev, Received):
            m = ev.message
            if isinstance(m, SampleBatch):
                b = self._boot(ev.boot_id, t_host_s)
                b.add_batch(m.sample_counter, m.device_time_us, m.n, t_host_s)
                b.counts.append(m.counts)
                self.n_samples += m.n
            elif isinstance(m, DeviceInfo):
                before = self.boot_info.get(ev.boot_id)
                if before is not None and before.scale != m.scale:
                    self.notes.append(f"scale factors changed within boot {ev.boot_id}; the "
                                      "last ones apply to all of its samples")
                if self.info is not None and self.info.scale != m.scale and before is None:
                    self.notes.append(f"boot {ev.boot_id} declares other scale factors than the "
                                      "boot before; each boot's samples use its own")
                self.boot_info[ev.boot_id] = m
                self.info = m
            elif isinstance(m, TimeSync):
                self._boot(ev.boot_id, t_host_s).add_pair(m, t_host_s)
        elif isinstance(ev, Dropped):
            self.markers.append(_Marker(t_host_s, GapCause.CORRUPT))
        elif isinstance(ev, Lost):
            self.markers.append(_Marker(t_host_s, GapCause.LOST_FRAMES))
        elif isinstance(ev, Rebooted):
            self.markers.append(_Marker(t_host_s, GapCause.REBOOT))

    def mark_disconnect(self, t_host_s: float) -> None:
        self.disconnects += 1
        self.markers.append(_Marker(t_host_s, GapCause.DISCONNECT))

    # ------------------------------------------------------------------ building
    def _cause_between(self, t_a: float, t_b: float) -> GapCause:
        """Why samples are missing inside one boot (a reboot cannot be: it starts a new boot)."""
        causes = {m.cause for m in self.markers if t_a <= m.t_host_s <= t_b}
        for c in (GapCause.DISCONNECT, GapCause.CORRUPT, GapCause.LOST_FRAMES):
            if c in causes:
                return c
        return GapCause.LOST_FRAMES

    def _info(self, boot_id: int) -> DeviceInfo:
        """The DEVICE_INFO of a boot (the last received when the boot sent none)."""
        info = self.boot_info.get(boot_id, self.info)
        assert info is not None
        return info

    def build(self) -> Recording:
        if self.info is None:
            raise IngestError("no DEVICE_INFO in the data: the sample units are unknown")
        notes = list(self.notes)  # build() is repeatable: its own notes are not kept
        parts = []
        for b in self.boots:
            if b.has_samples:  # (a boot that sent only empty batches has none to place)
                parts.append(_boot_samples(b, float(self._info(b.boot_id).sample_rate_hz), notes))
        if not parts:
            raise IngestError("no samples in the data")
        parts.sort(key=lambda p: float(p.rx[0]))  # boots in the order their data arrived
        ref = parts[0].t_ref
        t_own = [p.t_host + (p.t_ref - ref) for p in parts]  # seconds after ref, host clock
        starts = place_boots([(float(t[0]), float(t[-1]), p.period_s)
                              for t, p in zip(t_own, parts, strict=True)])
        t_all, seg_list, gaps = [], [], []
        si_parts: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
        pos = 0
        prev_t_last: float | None = None
        for part, t_host, start in zip(parts, t_own, starts, strict=True):
            counters, counts, rx = part.counters, part.counts, part.rx
            if start != t_host[0]:  # it would start inside the boot before (place_boots)
                assert prev_t_last is not None
                notes.append(f"boot {part.boot_id} overlaps the previous one in time; shifted")
                t_host = t_host + (prev_t_last - t_host[0]) + part.period_s  # as place_boots
            if prev_t_last is not None:
                gaps.append(Gap(prev_t_last, float(t_host[0]), GapCause.REBOOT, 0))
            jumps = np.flatnonzero(np.diff(counters) != 1) + 1
            edges = [0, *jumps.tolist(), len(counters)]
            for a, z in zip(edges[:-1], edges[1:], strict=True):
                seg_list.append(Segment(pos + a, pos + z, part.boot_id))
            for j in jumps.tolist():
                missing = int(counters[j] - counters[j - 1] - 1)
                cause = self._cause_between(rx[j - 1], rx[j])
                gaps.append(Gap(float(t_host[j - 1]), float(t_host[j]), cause, missing))
            t_all.append(t_host)
            # counts to SI with the scale factors this boot declared (SPEC §3.1)
            si_parts.append(self._info(part.boot_id).scale.to_si(counts))
            pos += len(counters)
            prev_t_last = float(t_host[-1])
        t = np.concatenate(t_all)
        acc = np.concatenate([a for a, _ in si_parts])
        gyr = np.concatenate([g for _, g in si_parts])
        t0 = float(t[0])
        periods = [p.period_s for p in parts]
        fs = 1.0 / float(np.median(periods))
        st = self.decoder_stats or DecoderStats()
        missing = sum(g.n_missing for g in gaps)
        stats = IngestStats(frames_ok=st.frames_ok, frames_corrupt=st.frames_corrupt,
                            frames_lost=st.frames_lost, messages_unknown=st.messages_unknown,
                            bytes_received=st.bytes_in, samples_missing=missing,
                            reboots=len(parts) - 1, disconnects=self.disconnects)
        meta = RecordingMeta(source=self.source, source_format=self.source_format,
                             device_id=f"{self.info.device_id:016x}",
                             firmware_version=self.info.firmware_version,
                             protocol_version=self.info.protocol_version, start_unix_s=ref + t0,
                             mounting_hint=_mounting_name(self.info.mounting_hint),
                             notes=tuple(notes))
        shifted = tuple(Gap(g.start_s - t0, g.end_s - t0, g.cause, g.n_missing) for g in gaps)
        return Recording(t - t0, acc, gyr, fs, tuple(seg_list), shifted, meta, stats)


def _mounting_name(hint: int) -> str:
    return {0: "unknown", 1: "sacrum clip", 2: "sacrum belt"}.get(int(hint), f"code {hint}")


@dataclass(frozen=True)
class _BootPart:
    counters: npt.NDArray[np.int64]
    t_host: npt.NDArray[np.float64]  # host clock, seconds after t_ref
    counts: npt.NDArray[np.int16]
    rx: npt.NDArray[np.float64]  # arrival time of each sample's batch
    boot_id: int
    period_s: float
    t_ref: float  # Unix seconds. Times stay relative: as Unix seconds, float64 rounds to 0.24 µs.


def _boot_samples(b: _Boot, fs_nominal: float, notes: list[str]) -> _BootPart:
    kept = b.unique_batches(fs_nominal)  # each sample once (a batch sent twice...)
    counters = np.concatenate([np.arange(c0, c0 + n, dtype=np.int64) for _, _, c0, _, n, _ in kept])
    counts = np.concatenate([b.counts[i][skip:] for i, skip, *_ in kept])
    rx = np.concatenate([np.full(n, t_rx) for _, _, _, _, n, t_rx in kept])
    clock = b.clock(fs_nominal, notes, kept=kept)
    return _BootPart(counters, clock.host_s(counters), counts, rx, b.boot_id, clock.period_s,
                     clock.t_ref)


def _in_index_order(run: StoredRun, name: str, notes: list[str],
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int16]]:
    """``(sample_index, counts)`` of ``run`` in the order of the sample index, each sample once.

    Intact blocks whose sample indices go back (a file holding its run twice, or blocks copied
    out of order) would give times that go back. Their samples are put in index order; a
    sample held twice with the same counts is kept once (a note says how many); one held twice
    with different counts is refused (:class:`IngestError`): which is right is not ours to
    guess.
    """
    index, counts = run.sample_index, run.counts
    if index.size < 2 or bool((np.diff(index) > 0).all()):
        return index, counts
    order = np.argsort(index, kind="stable")
    index, counts = index[order], counts[order]
    repeat = np.r_[False, np.diff(index) == 0]
    differ = repeat[1:] & (counts[1:] != counts[:-1]).any(axis=1)
    if differ.any():
        k = int(index[int(np.argmax(differ)) + 1])
        raise IngestError(f"{name}: sample {k} is held twice with different values (two runs "
                          "in one file, or blocks of another run copied in): which is right "
                          "cannot be told; the file is kept as it is")
    notes.append("sample blocks out of order (the file holds some twice?): read in the order of "
                 "their sample index" + (f", {int(repeat.sum())} sample(s) held twice with the "
                                         "same values read once" if repeat.any() else ""))
    return index[~repeat], counts[~repeat]


def recording_from_run(run: StoredRun, *, source: str = "", scale: Scale | None = None,
                       ) -> Recording:
    """A synced run file as a :class:`Recording` (calibration applied, holes as gaps).

    A header with a sample rate of 0 (SPEC §5.1: a firmware never writes one) takes the rate
    of its sample blocks' device times, with a note; with fewer than two sample blocks there
    is nothing to take it from (:class:`IngestError`). A header with an invalid scale factor
    cannot give SI units (:class:`IngestError`, naming it) unless ``scale`` gives the factors
    (the sensor's, known otherwise); the header's offsets and gains still apply.
    """
    h = run.header
    name = source or "run"
    if scale is None:
        bad = [p for f, p in zip(h.faulty_fields, h.problems, strict=True)
               if f in ("acc_lsb_ms2", "gyr_lsb_rads")]
        if bad:
            raise IngestError(f"{name}: the header's {'; '.join(bad)} (a firmware fault): its "
                              "counts cannot be put in SI units; the file is kept as it is "
                              "(docs/protocol.md, 'A header a firmware should never write')")
        scale = h.scale
    if len(run.counts) == 0:
        raise IngestError(f"{name}: no intact sample blocks")
    notes: list[str] = []
    sample_index, counts = _in_index_order(run, name, notes)
    idx = sample_index.astype(np.float64)
    fitted = len(run.block_first_index) >= 2 and np.ptp(run.block_first_index) > 0
    if fitted:
        a, b = fit_line(run.block_first_index.astype(np.float64),
                         run.block_device_time_us.astype(np.float64))
    if h.sample_rate_hz == 0:
        # SPEC §5.1: the rate of the blocks' device times, if it is one the header could hold.
        fs_blocks = run.rate_from_blocks_hz()
        if fs_blocks is None:
            why = ("it has a single sample block" if not fitted else
                   f"its block times give {1e6 / b if b > 0 else 0.0:.6g} Hz")
            raise IngestError(f"{name}: the header's sample_rate_hz is 0 (a firmware fault) and "
                              f"{why}, so the rate cannot be recovered; the file is kept as it "
                              "is")
        notes.append(f"the header's sample_rate_hz is 0 (a firmware fault): {fs_blocks:.3f} Hz "
                     f"taken from the device times of {len(run.block_first_index)} sample "
                     "blocks")
    else:
        fs_nom = float(h.sample_rate_hz)
        if not fitted or not 0.5 < b * fs_nom / 1e6 < 2.0:
            b = 1e6 / fs_nom
            a = float(run.block_device_time_us[0] - b * run.block_first_index[0])
    dev_us = a + b * idx
    # Wall clock: the first anchor (device_us, unix_ms), else the header's start.
    if run.time_anchors:
        anchor_dev, anchor_ms = run.time_anchors[0]
    else:
        anchor_dev, anchor_ms = h.start_device_time_us, h.start_unix_ms
    # Relative times from device times (Unix seconds in float64 would round each to 0.24 µs).
    t_rel = (dev_us - dev_us[0]) * 1e-6
    t0 = anchor_ms * 1e-3 + (float(dev_us[0]) - anchor_dev) * 1e-6
    acc, gyr = scale.to_si(counts)
    acc = (acc - np.asarray(h.acc_offset_ms2)) * np.asarray(h.acc_gain)
    gyr = gyr - np.asarray(h.gyr_offset_rads)
    jumps = np.flatnonzero(np.diff(sample_index) != 1) + 1
    edges = [0, *jumps.tolist(), len(idx)]
    segments = tuple(Segment(a_, z_, h.boot_id) for a_, z_ in zip(edges[:-1], edges[1:], strict=True))
    lost_ranges = [(f, f + n) for f, n in run.lost]
    gaps = []
    for j in jumps.tolist():
        s_prev, s_next = int(sample_index[j - 1]), int(sample_index[j])
        reported = any(lo <= s_prev + 1 < hi for lo, hi in lost_ranges)
        cause = GapCause.LOST_FRAMES if reported else GapCause.DAMAGED_BLOCK
        gaps.append(Gap(float(t_rel[j - 1]), float(t_rel[j]), cause, s_next - s_prev - 1))
    if not run.ended_cleanly:
        notes.append("run has no END block: the sensor lost power or rebooted")
    # Samples missing before the first intact block (sample 0 on) and after the last one (up to
    # the END block's count): not a gap inside the recording, which starts and ends with the
    # samples there are, but data the run held and the file does not give.
    fs_run = 1e6 / b
    lead = int(sample_index[0])
    tail = (max(int(run.end_n_samples) - int(sample_index[-1]) - 1, 0)
            if run.end_n_samples is not None else 0)
    for n_miss, where, first in ((lead, "first", 0), (tail, "last", int(sample_index[-1]) + 1)):
        if n_miss:
            reported = any(lo <= first < hi for lo, hi in lost_ranges)
            why = ("the sensor reported it could not store them" if reported
                   else "their blocks were damaged")
            notes.append(f"the run's {where} {n_miss} samples ({n_miss / fs_run:.2f} s) are "
                         f"missing ({why}): the recording "
                         f"{'starts' if where == 'first' else 'ends'} without them")
    stats = IngestStats(bytes_received=run.n_bytes, blocks_ok=run.blocks_ok,
                        blocks_damaged=len(run.damaged),
                        samples_missing=sum(g.n_missing for g in gaps) + lead + tail)
    meta = RecordingMeta(source=source, source_format="stored-run",
                         device_id=f"{h.device_id:016x}",
                         firmware_version=".".join(map(str, h.firmware)), start_unix_s=t0,
                         mounting_hint=_mounting_name(h.mounting_hint), notes=tuple(notes))
    return Recording(t_rel, acc, gyr, 1e6 / b, segments, tuple(gaps), meta, stats)
