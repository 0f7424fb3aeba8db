"""Regression: an empty SAMPLE_BATCH at a reboot raised out of the live hook and the recording.

A ``SAMPLE_BATCH`` may hold no sample (``n`` 0, SPEC §3). When the first batch of a new boot
was empty and a time sync came before its next one, ``LiveStreamHook`` tried to place the boot
on that batch alone: ``IngestError: boot 2 has no samples to place in time`` left the hook,
which is not the ``SignalError`` it stops its lines on, so it ended ``imurun stream --live``
(the hook is called inside the link's reader) and the replay. A boot that sent only an empty
batch made ``RecordingBuilder.build`` fail with numpy's "need at least one array to
concatenate" (older than the live placement): ``imurun.load_recording`` could not read such a
session. A boot's empty batches now place nothing: the boot is placed once a batch with
samples is in, and a boot without a sample is no part of the recording.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import imurun
from firmware_protocol.messages import SampleBatch
from imurun.analysis_live import BootStart, LiveStreamHook, replay_session
from imurun.ingest.recording import GapCause
from tests.ingest_support import LinkScript, write_session

FS = 200


def _empty_batch(s: LinkScript, t: float) -> None:
    """An empty batch from the current boot, arriving at script time ``t``."""
    s._add(t, SampleBatch(s.dev_us(t), s.counter, np.zeros((0, 6), np.int16)))


def _session(tmp_path: Path, *, then_s: float) -> Path:
    """2 s of samples, a reboot, an empty batch, a time sync, ``then_s`` of samples."""
    s = LinkScript(seed=7)
    s.info(0.0)
    s.syncs(0.0, 2.0)
    s.stream(2 * FS)
    s.reboot(s.t_next + 0.05)
    s.info(s.boot_t)
    _empty_batch(s, s.boot_t + 0.01)
    s.sync(s.boot_t + 0.02)  # a usual round trip: the boot can be placed
    if then_s:
        s.syncs(s.boot_t + 1.0, s.t_next + then_s)
        s.stream(int(then_s * FS))
    return write_session(tmp_path / "empty-batch.imrs", s.bursts())


def test_a_new_boot_that_starts_with_an_empty_batch_is_placed_by_its_samples(
        tmp_path: Path) -> None:
    path = _session(tmp_path, then_s=2.0)
    hook = LiveStreamHook(lambda line: None)
    rec = replay_session(path, hook)  # before: IngestError out of the hook
    hook.flush()
    ((_, end_s),) = [(g.start_s, g.end_s) for g in rec.gaps if g.cause == GapCause.REBOOT]
    assert [(b.boot_id, b.placed_by, b.provisional) for b in hook.boot_starts] == [
        (1, "start", False), (2, "time sync", False)]
    assert hook.boot_starts[1].t_s == pytest.approx(end_s, abs=0.2e-3)
    assert hook.analyzer is not None
    assert hook.analyzer.n_seen == rec.n_samples == 4 * FS  # each sample once


def test_a_boot_that_sent_only_an_empty_batch_is_no_part_of_the_recording(
        tmp_path: Path) -> None:
    path = _session(tmp_path, then_s=0.0)
    rec = imurun.load_recording(path)  # before: ValueError from the recording's build
    assert rec.n_samples == 2 * FS
    lines: list[str] = []
    hook = LiveStreamHook(lines.append)
    rec = replay_session(path, hook)  # before: IngestError out of the hook
    hook.flush()
    assert rec.n_samples == 2 * FS
    assert rec.stats.reboots == 0
    assert [g for g in rec.gaps if g.cause == GapCause.REBOOT] == []
    assert hook.boot_starts == [BootStart(0.0, 1, "start")]
    assert not [ln for ln in lines if "stopped" in ln]
