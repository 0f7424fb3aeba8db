"""Ingest: decoded link events and stored runs -> one gap-aware, clock-corrected Recording.

Link traffic is scripted frame by frame (``tests/ingest_support.py``) and decoded by the real
``StreamDecoder``, so every test goes through the path a live link takes. Each test knows the
exact counts it sent, the clock it used and what it broke, and checks the recording against them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.messages import Event, EventCode, SampleBatch
from firmware_protocol.runfile import (
    BLOCK_HEAD,
    BLOCK_OVERHEAD,
    HEADER_SIZE,
    BlockType,
    RunHeader,
    RunWriter,
    read_run,
)
from imurun.errors import FileFormatError, IngestError
from imurun.ingest.builder import RecordingBuilder, recording_from_run
from imurun.ingest.files import load_recording
from imurun.ingest.recording import GapCause, Recording
from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor
from tests.ingest_support import (
    HOST_T0,
    Burst,
    LinkScript,
    assert_same_recording,
    build,
    chunk_bursts,
    clean_script,
    feed,
)

CFG = SensorConfig()
ACC_LSB = np.float64(np.float32(CFG.acc_lsb_ms2))
GYR_LSB = np.float64(np.float32(CFG.gyr_lsb_rads))


def si(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(counts)
    return c[:, :3] * ACC_LSB, c[:, 3:] * GYR_LSB


def assert_values(rec: Recording, counts: np.ndarray) -> None:
    acc, gyr = si(counts)
    np.testing.assert_array_equal(rec.acc_ms2, acc)
    assert rec.gyr_rads is not None
    np.testing.assert_array_equal(rec.gyr_rads, gyr)


def assert_uniform_segments(rec: Recording, tol_s: float = 1e-9) -> None:
    """Inside every segment, consecutive samples are exactly one period apart."""
    for seg in rec.segments:
        d = np.diff(rec.t_s[seg.start:seg.stop])
        if d.size:
            np.testing.assert_allclose(d, 1.0 / rec.fs_hz, rtol=0, atol=tol_s)


def gap_summary(rec: Recording) -> list[tuple[GapCause, int]]:
    return [(g.cause, g.n_missing) for g in rec.gaps]


# --------------------------------------------------------------------------- clean stream
def test_clean_stream_is_uniform_at_the_declared_rate_in_si_units() -> None:
    s = clean_script(5.0)
    rec = build(s.bursts())
    assert rec.n_samples == 1000
    assert rec.fs_hz == pytest.approx(200.0, rel=1e-9)
    assert rec.t_s[0] == 0.0
    assert_uniform_segments(rec)
    assert rec.segments == (rec.segments[0],)
    assert rec.segments[0].boot_id == CFG.boot_id
    assert rec.gaps == ()
    assert_values(rec, s.sent_counts())
    assert rec.meta.device_id == f"{CFG.device_id:016x}"
    assert rec.meta.firmware_version == "1.0.0"
    assert rec.meta.notes == ()
    # The first sample was taken at script time 0.01; the time-sync pairs put it there.
    assert rec.meta.start_unix_s == pytest.approx(HOST_T0 + 0.01, abs=1e-5)
    st = rec.stats
    assert (st.frames_corrupt, st.frames_lost, st.reboots, st.disconnects) == (0, 0, 0, 0)
    assert st.samples_missing == 0
    assert st.frames_ok > 100


def test_virtual_sensor_batches_ingest_exactly(tmp_path: Path) -> None:
    """Batches straight from the virtual sensor's firmware state machine, no link script."""
    counts = np.random.default_rng(3).integers(-9000, 9000, (730, 6)).astype(np.int16)
    sensor = VirtualSensor(CFG, Flash(tmp_path / "flash"), motion=lambda seconds, tag: counts)
    sensor.start_stream(0.0)
    msgs = [sensor.info(), *sensor.stream_batches(None, 1000)]
    assert isinstance(msgs[-1], Event)
    assert msgs[-1].code == EventCode.STREAM_ENDED
    from firmware_protocol.codec import Encoder

    enc = Encoder(boot_id=CFG.boot_id)
    bursts = [Burst(HOST_T0 + 0.05 * i, enc.stream_bytes(m)) for i, m in enumerate(msgs)]
    rec = build(bursts)
    assert rec.n_samples == len(counts)
    assert_values(rec, counts)
    assert rec.gaps == ()


# --------------------------------------------------------------------------- clocks
@pytest.mark.parametrize("drift_ppm", [80.0, -45.0])
def test_device_clock_drift_is_corrected_with_time_sync_pairs(drift_ppm: float) -> None:
    s = LinkScript(drift_ppm=drift_ppm, seed=1)
    s.info(0.0)
    s.syncs(0.0, 122.0, jitter_s=0.0005)
    s.stream(120 * s.fs)
    rec = build(s.bursts())
    # The device clock is off by drift_ppm; host-time spacing must match the true rate.
    dev = [b for b in s._items if isinstance(b.msg, SampleBatch)]
    dev_rate = (len(dev) - 1) * 10 / ((dev[-1].msg.device_time_us - dev[0].msg.device_time_us) * 1e-6)
    assert (200.0 / dev_rate - 1) * 1e6 == pytest.approx(drift_ppm, abs=0.5)  # the test can fail
    assert abs(rec.fs_hz / 200.0 - 1) < 3e-6
    span_rate = (rec.n_samples - 1) / (rec.t_s[-1] - rec.t_s[0])
    assert abs(span_rate / 200.0 - 1) < 3e-6
    assert_uniform_segments(rec)
    assert rec.meta.start_unix_s == pytest.approx(HOST_T0 + 0.01, abs=2e-4)
    assert rec.meta.notes == ()


@pytest.mark.parametrize(("drift_ppm", "said"), [(5000.0, "+5000 ppm"), (-5000.0, "-5000 ppm")])
def test_an_implausible_clock_is_said_in_the_sensors_terms(drift_ppm: float, said: str) -> None:
    """Regression: a sensor clock running 5000 ppm fast was noted as 'clock drift of -4975 ppm'
    (host seconds per sensor second), the opposite sign of the sensor's own error; and the
    virtual sensor at --speed max, whose clock runs hundreds of times as fast as the host's,
    read as a clock that had nearly stopped (-998498 ppm)."""
    s = LinkScript(drift_ppm=drift_ppm, seed=1)
    s.info(0.0)
    s.syncs(0.0, 62.0)
    s.stream(60 * s.fs)
    rec = build(s.bursts())
    assert rec.meta.notes == (
        f"boot {CFG.boot_id}: the sensor's clock ran {said} against the host's over 61.0 s of "
        "time syncs; no crystal is that far off (±1000 ppm), so no drift is corrected (a virtual "
        "sensor at --speed max does this: its clock keeps pace with the samples it sends flat "
        "out)",)


def test_without_time_sync_pairs_the_recording_is_sane_and_says_so() -> None:
    s = LinkScript(drift_ppm=80.0, seed=2)
    s.info(0.0)
    s.stream(60 * s.fs)
    rec = build(s.bursts())
    assert rec.n_samples == 60 * 200
    assert any("no time-sync pairs" in n for n in rec.meta.notes)
    assert_uniform_segments(rec)
    # Drift is not corrected without pairs: the rate is the device's view (80 ppm slow).
    assert rec.fs_hz == pytest.approx(200.0, rel=2e-4)
    # Time from the earliest arrivals: within a few milliseconds of the truth.
    assert rec.meta.start_unix_s == pytest.approx(HOST_T0 + 0.01, abs=0.01)
    assert_values(rec, s.sent_counts())


# --------------------------------------------------------------------------- losses and their causes
def test_lost_frames_become_gaps_with_the_exact_number_of_samples() -> None:
    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 6.0)
    s.stream(1000, fates={20: "drop", 21: "drop", 50: "drop"})
    rec = build(s.bursts())
    assert gap_summary(rec) == [(GapCause.LOST_FRAMES, 20), (GapCause.LOST_FRAMES, 10)]
    assert rec.n_samples == 970
    assert [(g.start, g.stop) for g in rec.segments] == [(0, 200), (200, 480), (480, 970)]
    for g in rec.gaps:
        assert g.duration_s == pytest.approx((g.n_missing + 1) / 200.0, abs=1e-9)
    assert rec.t_s[200] - rec.t_s[199] == pytest.approx(21 / 200.0, abs=1e-9)
    assert rec.stats.samples_missing == 30
    assert rec.stats.frames_lost == 3
    assert_values(rec, s.sent_counts())
    assert_uniform_segments(rec)


def test_corrupt_frames_become_corrupt_gaps() -> None:
    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 6.0)
    s.stream(1000, fates={20: "corrupt", 60: "corrupt", 61: "drop"})
    rec = build(s.bursts())
    assert gap_summary(rec) == [(GapCause.CORRUPT, 10), (GapCause.CORRUPT, 20)]
    assert rec.stats.frames_corrupt == 2
    assert_values(rec, s.sent_counts())


def test_disconnect_becomes_a_disconnect_gap() -> None:
    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 6.0)
    s.stream(400)
    s.disconnect(s.t_next + 0.05)
    s.skip(300)  # taken while the link was down: never sent
    s.info(s.t_next)
    s.stream(400)
    rec = build(s.bursts())
    assert gap_summary(rec) == [(GapCause.DISCONNECT, 300)]
    assert rec.gaps[0].duration_s == pytest.approx(301 / 200.0, abs=1e-9)
    assert rec.stats.disconnects == 1
    assert_values(rec, s.sent_counts())


def test_reboot_gives_two_boots_in_arrival_order_with_a_reboot_gap() -> None:
    s = LinkScript(cfg=SensorConfig(boot_id=7))
    s.info(0.0)
    s.syncs(0.0, 2.5)
    s.stream(400)
    s.reboot(2.5, new_boot_id=3)  # a lower id: order must come from arrival, not the id
    s.info(2.6)
    s.syncs(2.6, 6.0)
    s.stream(500)
    rec = build(s.bursts())
    assert [seg.boot_id for seg in rec.segments] == [7, 3]
    assert [(seg.start, seg.stop) for seg in rec.segments] == [(0, 400), (400, 900)]
    assert gap_summary(rec) == [(GapCause.REBOOT, 0)]
    gap = rec.gaps[0]
    # Last sample of boot 7 at 0.01 + 399/200; first of boot 3 at 2.5 + 0.25 (script times).
    assert gap.start_s == pytest.approx(399 / 200.0, abs=1e-4)
    assert gap.end_s == pytest.approx(2.75 - 0.01, abs=1e-4)
    assert rec.stats.reboots == 1
    assert_values(rec, s.sent_counts())
    assert_uniform_segments(rec)


def test_each_boot_is_converted_with_the_scale_factors_it_declared() -> None:
    """A sensor rebooted into another range (±8 g, ±1000 °/s): SPEC §3.1 has counts become SI
    units with the scale factors declared, so each boot's with its own."""
    from dataclasses import replace

    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 2.5)
    s.stream(400)
    s.reboot(2.5)
    s.cfg = replace(s.cfg, acc_range_g=8, gyr_range_dps=1000)
    s.info(2.6)
    s.syncs(2.6, 6.0)
    s.stream(500)
    rec = build(s.bursts())
    counts = s.sent_counts()
    acc16, gyr16 = si(counts[:400])
    np.testing.assert_array_equal(rec.acc_ms2[:400], acc16)
    assert rec.gyr_rads is not None
    np.testing.assert_array_equal(rec.gyr_rads[:400], gyr16)
    acc8 = counts[400:, :3] * np.float64(np.float32(s.cfg.acc_lsb_ms2))
    gyr8 = counts[400:, 3:] * np.float64(np.float32(s.cfg.gyr_lsb_rads))
    assert s.cfg.acc_lsb_ms2 == pytest.approx(CFG.acc_lsb_ms2 / 2)
    np.testing.assert_array_equal(rec.acc_ms2[400:], acc8)
    np.testing.assert_array_equal(rec.gyr_rads[400:], gyr8)
    assert any("each boot's samples use its own" in n for n in rec.meta.notes)


# --------------------------------------------------------------------------- duplicates, order, wrap
def test_duplicated_and_reordered_batches_are_deduplicated_and_sorted() -> None:
    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 6.0)
    batches = s.stream(1000)
    s.resend(batches[5], 3.0)  # retransmissions: new frames, same content
    s.resend(batches[7], 3.001)
    b = batches[30]  # a batch overlapping two others by half
    s.resend(SampleBatch(b.device_time_us + 25000, b.sample_counter + 5,
                         s.sent_counts()[305:315]), 3.002)
    items = [i for i in s._items if isinstance(i.msg, SampleBatch)]
    items[40].t, items[43].t = items[43].t, items[40].t  # out of order arrival
    rec = build(s.bursts())
    assert rec.n_samples == 1000
    assert rec.gaps == ()
    assert len(rec.segments) == 1
    assert_values(rec, s.sent_counts())
    assert_uniform_segments(rec)


@pytest.mark.parametrize("reorder", [False, True])
def test_u32_sample_counter_wrap(reorder: bool) -> None:
    s = LinkScript()
    s.counter = 2**32 - 25
    s.info(0.0)
    s.syncs(0.0, 6.0)
    s.stream(1000)
    if reorder:  # the batch holding the wrap arrives after the first one past it
        items = [i for i in s._items if isinstance(i.msg, SampleBatch)]
        assert items[2].msg.sample_counter == 2**32 - 5
        assert items[3].msg.sample_counter == 5
        items[2].t, items[3].t = items[3].t, items[2].t
    rec = build(s.bursts())
    assert rec.n_samples == 1000
    assert rec.gaps == ()
    assert len(rec.segments) == 1
    assert_values(rec, s.sent_counts())


# --------------------------------------------------------------------------- refusals
def test_without_device_info_the_units_are_unknown() -> None:
    s = LinkScript()
    s.syncs(0.0, 3.0)
    s.stream(200)
    with pytest.raises(IngestError, match="DEVICE_INFO"):
        build(s.bursts())


def test_without_samples_there_is_no_recording() -> None:
    s = LinkScript()
    s.info(0.0)
    s.syncs(0.0, 3.0)
    with pytest.raises(IngestError, match="no samples"):
        build(s.bursts())


# --------------------------------------------------------------------------- chunking
def messy_script() -> LinkScript:
    """Every kind of trouble in one stream: drift, losses, corruption, disconnect, reboot."""
    s = LinkScript(drift_ppm=30.0, seed=5)
    s.info(0.0)
    s.syncs(0.0, 4.0, jitter_s=0.001)
    s.stream(600, fates={7: "drop", 19: "corrupt", 33: "drop", 34: "drop"})
    s.disconnect(s.t_next + 0.02)
    s.skip(120)
    s.info(s.t_next)
    s.stream(300, fates={4: "corrupt"})
    s.reboot(s.t_next + 0.1)
    s.info(s.t_next)
    s.syncs(s.t_next, s.t_next + 3.0)
    s.stream(500, fates={12: "drop"})
    return s


@pytest.mark.parametrize(("mode", "seed"), [("whole", 0), ("bytes", 0), ("random", 1),
                                            ("random", 2), ("random", 3)])
def test_any_chunking_gives_the_same_recording(mode: str, seed: int) -> None:
    s = messy_script()
    bursts = s.bursts()
    reference = build(bursts)
    assert [g.cause for g in reference.gaps] == [
        GapCause.LOST_FRAMES, GapCause.CORRUPT, GapCause.LOST_FRAMES, GapCause.DISCONNECT,
        GapCause.CORRUPT, GapCause.REBOOT, GapCause.LOST_FRAMES]
    assert_values(reference, s.sent_counts())
    assert_same_recording(build(chunk_bursts(bursts, mode, seed)), reference)


def test_garbage_between_frames_changes_no_sample() -> None:
    s = clean_script(4.0, seed=4)
    bursts = s.bursts()
    rng = np.random.default_rng(9)
    dirty: list[Burst] = []
    for i, b in enumerate(bursts):
        if i % 17 == 5:  # line noise arriving on its own, ending in a delimiter
            noise = rng.integers(1, 256, int(rng.integers(1, 40)), dtype=np.uint8).tobytes()
            dirty.append(Burst(b.t_host_s - 1e-4, noise + b"\x00"))
        dirty.append(b)
    clean, noisy = build(bursts), build(dirty)
    np.testing.assert_array_equal(noisy.t_s, clean.t_s)
    np.testing.assert_array_equal(noisy.acc_ms2, clean.acc_ms2)
    assert noisy.segments == clean.segments
    assert noisy.gaps == ()
    assert noisy.stats.frames_corrupt > 0
    assert clean.stats.frames_corrupt == 0


def test_build_can_be_called_again_with_the_same_result() -> None:
    builder = feed(messy_script().bursts())
    first = builder.build()
    assert_same_recording(builder.build(), first)


def test_feeding_events_one_by_one_or_all_at_once_is_the_same() -> None:
    """The builder has no notion of batches of events: feed order is all that counts."""
    from firmware_protocol.codec import StreamDecoder

    bursts = [b for b in messy_script().bursts() if not b.disconnect]
    dec = StreamDecoder()
    events = [(b.t_host_s, ev) for b in bursts for ev in dec.feed(b.data)]
    one = RecordingBuilder(source="script")
    for t, ev in events:
        one.feed(t, ev)
    one.decoder_stats = dec.stats
    assert_same_recording(one.build(), build(bursts))


# --------------------------------------------------------------------------- stored runs
HEADER = RunHeader(device_id=0xABCD, run_id=4, boot_id=9, sample_rate_hz=200,
                   start_unix_ms=1_790_000_000_000, start_device_time_us=1_000_000,
                   acc_range_g=16, gyr_range_dps=2000, acc_lsb_ms2=CFG.acc_lsb_ms2,
                   gyr_lsb_rads=CFG.gyr_lsb_rads, acc_offset_ms2=(0.1, -0.2, 0.3),
                   acc_gain=(1.01, 0.99, 1.002), gyr_offset_rads=(0.01, 0.02, -0.03))


def run_bytes(counts: np.ndarray, *, lost: tuple[int, int] | None = None, end: bool = True,
              anchor: tuple[int, int] | None = None, header: RunHeader = HEADER) -> bytes:
    """A run as the firmware writes it; ``lost=(at, n)`` reports n samples lost at sample at."""
    w = RunWriter(header, block_samples=100)
    parts = [w.start()]
    if anchor is not None:
        parts.append(w.time_anchor(*anchor))
    t_us = header.start_device_time_us
    if lost is None:
        parts.append(w.samples(counts, t_us))
    else:
        at, n = lost
        parts += [w.samples(counts[:at], t_us), w.lost(n),
                  w.samples(counts[at:], t_us + (at + n) * 5000)]
    parts.append(w.end() if end else w.flush())
    return b"".join(parts)


def run_counts(n: int = 1000, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-3000, 3000, (n, 6)).astype(np.int16)


def test_stored_run_applies_the_calibration() -> None:
    c = run_counts()
    run = read_run(run_bytes(c))
    rec = recording_from_run(run, source="r.imrn")
    h = run.header  # the calibration as stored (float32), close to what was written
    np.testing.assert_allclose(h.acc_gain, HEADER.acc_gain, rtol=1e-7)
    np.testing.assert_allclose(h.acc_offset_ms2, HEADER.acc_offset_ms2, rtol=1e-7)
    acc, gyr = si(c)
    np.testing.assert_array_equal(rec.acc_ms2, (acc - h.acc_offset_ms2) * np.asarray(h.acc_gain))
    assert rec.gyr_rads is not None
    np.testing.assert_array_equal(rec.gyr_rads, gyr - np.asarray(h.gyr_offset_rads))
    assert not np.allclose(rec.acc_ms2, acc, atol=0.05)  # the calibration did something
    assert rec.fs_hz == pytest.approx(200.0, rel=1e-6)
    assert rec.gaps == ()
    assert rec.meta.notes == ()
    assert rec.meta.source_format == "stored-run"
    assert rec.meta.device_id == f"{0xABCD:016x}"
    assert [s.boot_id for s in rec.segments] == [9]
    assert_uniform_segments(rec)


def _damage_sample_blocks(data: bytes, which: list[int]) -> bytes:
    """``data`` with a byte flipped in the payload of the sample blocks ``which`` (0 = first)."""
    b = bytearray(data)
    pos, sample_blocks = HEADER_SIZE, []
    while pos < len(b):
        _, btype, _, length, _crc = BLOCK_HEAD.unpack_from(b, pos)
        if btype in (BlockType.SAMPLES_RAW, BlockType.SAMPLES_PACKED):
            sample_blocks.append(pos)
        pos += BLOCK_OVERHEAD + length
    assert len(sample_blocks) == 10  # run_bytes' 1000 samples in blocks of 100
    for i in which:
        b[sample_blocks[i] + 30] ^= 0xFF
    return bytes(b)


def test_stored_run_damaged_block_costs_that_block_only() -> None:
    c = run_counts()
    # Block 4 of 10 (samples 400..499): flip a byte in its payload.
    run = read_run(_damage_sample_blocks(run_bytes(c), [4]))
    rec = recording_from_run(run)
    assert gap_summary(rec) == [(GapCause.DAMAGED_BLOCK, 100)]
    assert rec.n_samples == 900
    assert rec.stats.blocks_damaged == 1
    assert rec.stats.samples_missing == 100
    assert rec.gaps[0].duration_s == pytest.approx(101 / 200.0, abs=1e-9)
    acc, _ = si(c[np.r_[0:400, 500:1000]])
    h = run.header
    np.testing.assert_array_equal(rec.acc_ms2, (acc - h.acc_offset_ms2) * np.asarray(h.acc_gain))


# before: a damaged first (or last) block shortened the recording without a word: no gap,
# samples_missing 0, as if the run had started at its second block
def test_stored_run_damaged_first_and_last_blocks_are_counted_and_said() -> None:
    c = run_counts()
    run = read_run(_damage_sample_blocks(run_bytes(c), [0, 9]))
    assert run.end_n_samples == 1000
    rec = recording_from_run(run)
    assert rec.n_samples == 800
    assert rec.gaps == ()  # the recording starts and ends with the samples there are
    assert rec.stats.samples_missing == 200
    notes = rec.meta.notes
    assert any("the run's first 100 samples (0.50 s) are missing (their blocks were damaged)"
               in n for n in notes), notes
    assert any("the run's last 100 samples (0.50 s) are missing" in n for n in notes), notes
    # without an END block the end of the run is not known: only the start is counted
    rec = recording_from_run(read_run(_damage_sample_blocks(run_bytes(c, end=False), [0])))
    assert rec.stats.samples_missing == 100


def test_stored_run_samples_lost_block_is_a_lost_frames_gap() -> None:
    c = run_counts()
    rec = recording_from_run(read_run(run_bytes(c, lost=(450, 37))))
    assert gap_summary(rec) == [(GapCause.LOST_FRAMES, 37)]
    assert rec.n_samples == 1000
    assert rec.gaps[0].duration_s == pytest.approx(38 / 200.0, abs=1e-9)
    assert_uniform_segments(rec)


def test_stored_run_without_end_block_says_so() -> None:
    rec = recording_from_run(read_run(run_bytes(run_counts(), end=False)))
    assert rec.n_samples == 1000
    assert any("no END block" in n for n in rec.meta.notes)


def test_stored_run_wall_clock_comes_from_the_time_anchor() -> None:
    anchor_dev, anchor_ms = 1_500_000, 1_790_000_123_456
    rec = recording_from_run(read_run(run_bytes(run_counts(), anchor=(anchor_dev, anchor_ms))))
    # First sample at device time 1_000_000, half a second before the anchor.
    assert rec.meta.start_unix_s == pytest.approx(anchor_ms / 1000 - 0.5, abs=1e-6)
    plain = recording_from_run(read_run(run_bytes(run_counts())))
    assert plain.meta.start_unix_s == pytest.approx(HEADER.start_unix_ms / 1000, abs=1e-6)


def _with_header_field(data: bytes, offset: int, raw: bytes) -> bytes:
    """``data`` with header bytes at ``offset`` replaced and the header CRC made to match:
    what a faulty firmware writes (SPEC §5.1 forbids it, the CRC cannot tell)."""
    import zlib

    head = data[:offset] + raw + data[offset + len(raw):HEADER_SIZE - 4]
    return head + zlib.crc32(head).to_bytes(4, "little") + data[HEADER_SIZE:]


def test_stored_run_with_a_zero_rate_takes_the_rate_of_its_block_times(tmp_path: Path) -> None:
    """Regression: a header of sample_rate_hz 0 with a valid CRC made the whole run unreadable
    although every block was intact. SPEC §5.1: the rate comes from the blocks' device times."""
    c = run_counts()
    good = run_bytes(c, lost=(450, 37))
    data = _with_header_field(good, 22, bytes(2))
    p = tmp_path / "run.imrn"
    p.write_bytes(data)
    rec = load_recording(p)
    want = recording_from_run(read_run(good))
    assert rec.fs_hz == pytest.approx(200.0, rel=1e-9)
    np.testing.assert_allclose(rec.t_s, want.t_s, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(rec.acc_ms2, want.acc_ms2)
    assert rec.gaps == want.gaps
    assert rec.meta.start_unix_s == want.meta.start_unix_s
    assert rec.meta.notes == ("the header's sample_rate_hz is 0 (a firmware fault): 200.000 Hz "
                              "taken from the device times of 11 sample blocks",)
    # One sample block: nothing to take the rate from, and the error says so.
    p.write_bytes(_with_header_field(run_bytes(c[:80]), 22, bytes(2)))
    with pytest.raises(FileFormatError, match="sample_rate_hz is 0 .* single sample block"):
        load_recording(p)


@pytest.mark.parametrize(("offset", "field"), [(44, "acc_lsb_ms2"), (48, "gyr_lsb_rads")])
def test_stored_run_with_an_invalid_scale_is_kept_refused_by_name_and_convertible(
        tmp_path: Path, offset: int, field: str) -> None:
    """A header scale factor of 0 (valid CRC): the counts are read, but nothing says their
    unit; load_recording names the field, and the sensor's factors, given, convert them."""
    from firmware_protocol.messages import Scale

    c = run_counts()
    good = run_bytes(c)
    data = _with_header_field(good, offset, bytes(4))
    run = read_run(data)
    np.testing.assert_array_equal(run.counts, c)
    assert run.header.problems == (f"{field} is 0.0, not a finite positive float32",)
    p = tmp_path / "run.imrn"
    p.write_bytes(data)
    with pytest.raises(FileFormatError, match=f"the header's {field} is 0.0"):
        load_recording(p)
    rec = recording_from_run(run, scale=Scale(CFG.acc_lsb_ms2, CFG.gyr_lsb_rads))
    assert_same_recording(rec, recording_from_run(read_run(good)))


def test_stored_run_files_load_through_the_sniffer(tmp_path: Path) -> None:
    p = tmp_path / "run.imrn"
    p.write_bytes(run_bytes(run_counts(), lost=(200, 10)))
    rec = load_recording(p)
    assert rec.meta.source == str(p)
    assert rec.n_samples == 1000
    assert gap_summary(rec) == [(GapCause.LOST_FRAMES, 10)]
    p.write_bytes(bytes(HEADER))  # a header and nothing else
    with pytest.raises(FileFormatError, match="no intact sample blocks"):
        load_recording(p)
    p.write_bytes(bytes(HEADER)[:50])
    with pytest.raises(FileFormatError):
        load_recording(p)
