"""Files on disk: session files (write, read back, damage, replay) and the synced-run directory.

A session keeps the raw bytes of a link; whatever happens to the file afterwards (a killed
writer, flipped bits, junk appended, hostile content), reading it back never raises anything but
:class:`FileFormatError` for an unusable header, keeps every intact record, and says what it
skipped.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol.codec import Encoder, PacketDecoder
from firmware_protocol.crc import crc32
from firmware_protocol.messages import RunEntry
from imurun.device.client import SensorClient
from imurun.device.stream import replay
from imurun.errors import FileFormatError, StoreError, SyncError, TransportError
from imurun.ingest.builder import RecordingBuilder
from imurun.ingest.files import load_session
from imurun.ingest.recording import GapCause, Recording
from imurun.sim.firmware import Flash, VirtualSensor
from imurun.store.rundir import RunDirectory
from imurun.transport.base import Chunk, EndOfData, Framing
from imurun.transport.session import (
    _REC,
    MAGIC,
    MAX_RECORD,
    SYNC,
    RecordKind,
    ReplayTransport,
    SessionRecord,
    SessionWriter,
    read_session,
)
from tests.ingest_support import (
    HOST_T0,
    Burst,
    LinkScript,
    assert_same_recording,
    build,
    clean_script,
    write_session,
)

META = {"framing": "stream", "link": "test"}


def small_session(path: Path) -> tuple[Path, list[SessionRecord]]:
    """A few records of every kind, some data holding the sync word itself."""
    recs = [
        SessionRecord(RecordKind.CONNECT, HOST_T0, b""),
        SessionRecord(RecordKind.TX, HOST_T0 + 0.001, b"\x05\x01\x02\x00"),
        SessionRecord(RecordKind.RX, HOST_T0 + 0.010, b"abc" + SYNC + b"\x01def\x00"),
        SessionRecord(RecordKind.NOTE, HOST_T0 + 0.011, json.dumps({"k": 1}).encode()),
        SessionRecord(RecordKind.RX, HOST_T0 + 0.020, bytes(range(40))),
        SessionRecord(RecordKind.DISCONNECT, HOST_T0 + 0.030, b"link lost"),
        SessionRecord(RecordKind.RX, HOST_T0 + 0.040, b"\x00" * 7),
    ]
    with SessionWriter(path, META) as w:
        for r in recs:
            w.write(r.kind, r.t_host_s, r.data)
    return path, recs


def record_spans(buf: bytes) -> tuple[int, list[tuple[int, int]]]:
    """End of the header and (start, end) of every record, walking the file as written."""
    (mlen,) = struct.unpack_from("<I", buf, len(MAGIC))
    pos = head = len(MAGIC) + 4 + mlen
    spans = []
    while pos < len(buf):
        (n,) = struct.unpack_from("<I", buf, pos + _REC.size - 4)
        spans.append((pos, pos + _REC.size + n + 4))
        pos = spans[-1][1]
    return head, spans


# --------------------------------------------------------------------------- round trip
def test_write_read_round_trip(tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    sf = read_session(p)
    assert list(sf.records) == recs
    assert (sf.damaged, sf.truncated) == (0, False)
    assert sf.meta["format"] == "imurun.session/1"
    assert sf.meta["link"] == "test"
    assert sf.framing == Framing.STREAM
    assert [c.data for c in sf.rx_chunks()] == [r.data for r in recs if r.kind == RecordKind.RX]


def test_writer_splits_data_longer_than_a_record(tmp_path: Path) -> None:
    big = np.random.default_rng(0).integers(0, 256, 2 * MAX_RECORD + 1000, np.uint8).tobytes()
    with SessionWriter(tmp_path / "big.imrs", META) as w:
        w.write(RecordKind.RX, HOST_T0, big)
        w.write(RecordKind.RX, HOST_T0 + 1, b"after")
    sf = read_session(tmp_path / "big.imrs")
    assert [len(r.data) for r in sf.records] == [MAX_RECORD, MAX_RECORD, 1000, 5]
    assert b"".join(r.data for r in sf.records[:3]) == big
    assert sf.damaged == 0


def test_closed_writer_refuses_to_write(tmp_path: Path) -> None:
    w = SessionWriter(tmp_path / "c.imrs", META)
    w.close()
    w.close()
    with pytest.raises(TransportError, match="closed"):
        w.write(RecordKind.RX, 0.0, b"x")


# --------------------------------------------------------------------------- damage
def test_truncation_at_every_byte_keeps_every_complete_record(tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    full = p.read_bytes()
    head, spans = record_spans(full)
    ends = {e for _, e in spans}
    cut_file = tmp_path / "cut.imrs"
    for cut in range(len(full) + 1):
        cut_file.write_bytes(full[:cut])
        if cut < head:
            with pytest.raises(FileFormatError):
                read_session(cut_file)
            continue
        sf = read_session(cut_file)
        complete = sum(1 for e in ends if e <= cut)
        assert list(sf.records) == recs[:complete], cut
        assert sf.damaged == 0, cut
        assert sf.truncated == (cut != head and cut not in ends), cut


def test_a_flipped_byte_costs_its_own_record_only(tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    full = p.read_bytes()
    head, spans = record_spans(full)
    bad_file = tmp_path / "bad.imrs"
    for i, (a, z) in enumerate(spans):
        for pos in range(a, z):
            b = bytearray(full)
            b[pos] ^= 0xFF
            bad_file.write_bytes(bytes(b))
            sf = read_session(bad_file)
            assert list(sf.records) == recs[:i] + recs[i + 1:], (i, pos - a)
            last_length = i == len(spans) - 1 and a + _REC.size - 4 <= pos < a + _REC.size
            if last_length and not sf.damaged:  # indistinguishable from a cut tail
                assert sf.truncated
            else:
                assert (sf.damaged, sf.truncated) == (1, False), (i, pos - a)


def test_a_record_longer_than_the_cap_is_skipped(tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    full = p.read_bytes()
    head, spans = record_spans(full)
    data = bytes(MAX_RECORD + 1)
    body = _REC.pack(SYNC, int(RecordKind.RX), HOST_T0, len(data))[2:] + data
    oversized = SYNC + body + crc32(body).to_bytes(4, "little")  # a valid CRC, still refused
    a = spans[2][0]
    p.write_bytes(full[:a] + oversized + full[a:])
    sf = read_session(p)
    assert list(sf.records) == recs
    assert (sf.damaged, sf.truncated) == (1, False)


@pytest.mark.parametrize("where", ["end", "after header", "between records"])
def test_garbage_is_skipped_and_counted(tmp_path: Path, where: str) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    full = p.read_bytes()
    head, spans = record_spans(full)
    junk = np.random.default_rng(1).integers(0, 256, 300, np.uint8).tobytes()
    junk = junk[:100] + SYNC + b"\x01" + junk[100:] + SYNC  # sync words in the junk too
    at = {"end": len(full), "after header": head, "between records": spans[3][0]}[where]
    p.write_bytes(full[:at] + junk + full[at:])
    sf = read_session(p)
    assert list(sf.records) == recs
    assert sf.damaged == 1
    assert sf.truncated is False


@pytest.mark.parametrize(("content", "reason"), [
    (b"", "not an imurun session"),
    (b"IMRSE", "not an imurun session"),
    (MAGIC + b"\x01\x00", "header truncated"),
    (MAGIC + struct.pack("<I", 10) + b"{}", "metadata truncated"),
    (MAGIC + struct.pack("<I", 2**31) + b"{}", "metadata truncated or oversized"),
    (MAGIC + struct.pack("<I", 2) + b"[]", "not valid JSON"),
    (MAGIC + struct.pack("<I", 2) + b"\xff\xfe", "not valid JSON"),
])
def test_an_unusable_header_is_a_file_format_error(tmp_path: Path, content: bytes,
                                                   reason: str) -> None:
    p = tmp_path / "h.imrs"
    p.write_bytes(content)
    with pytest.raises(FileFormatError, match=reason):
        read_session(p)


def test_missing_file_is_a_file_format_error(tmp_path: Path) -> None:
    with pytest.raises(FileFormatError, match="cannot read"):
        read_session(tmp_path / "nope.imrs")


# --------------------------------------------------------------------------- damaged header
def flipped(p: Path, offset: int, bit: int, name: str = "flipped.imrs") -> Path:
    """A copy of ``p`` with one bit flipped at ``offset`` (negative: from the end)."""
    b = bytearray(p.read_bytes())
    b[offset] ^= bit
    out = p.with_name(name)
    out.write_bytes(bytes(b))
    return out


def meta_end(buf: bytes) -> int:
    (mlen,) = struct.unpack_from("<I", buf, len(MAGIC))
    return len(MAGIC) + 4 + mlen


def same_samples(rec: Recording, ref: Recording) -> None:
    """The same samples, gaps and statistics; the source and notes may differ."""
    assert_same_recording(rec, replace(rec, meta=replace(ref.meta, source=rec.meta.source,
                                                         notes=rec.meta.notes)))
    assert_same_recording(replace(rec, meta=ref.meta), ref)


def test_a_flipped_bit_anywhere_in_the_metadata_keeps_every_record(tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    buf = p.read_bytes()
    recovered = 0
    for offset in range(len(MAGIC) + 4, meta_end(buf)):
        for bit in range(8):
            sf = read_session(flipped(p, offset, 1 << bit))
            assert list(sf.records) == recs, (offset, bit)
            assert (sf.damaged, sf.truncated) == (0, False), (offset, bit)
            assert sf.framing == Framing.STREAM, (offset, bit)
            # (a flip that leaves valid JSON naming the framing, in a digit say, goes unseen)
            if sf.recovered is not None:
                recovered += 1
                assert sf.recovered.startswith(("session header damaged",
                                                "session metadata names no framing")), sf.recovered
    assert recovered > 4 * (meta_end(buf) - len(MAGIC) - 4)  # most flips break the JSON


def test_a_damaged_header_is_reported_and_the_samples_are_all_there(tmp_path: Path) -> None:
    p = write_session(tmp_path / "s.imrs", clean_script(3.0, seed=2).bursts())
    bad = flipped(p, len(MAGIC) + 4 + 1, 0x04)  # '"' -> '&': not JSON any more
    sf = read_session(bad)
    assert sf.recovered == ("session header damaged (metadata is not valid JSON); framing "
                            "inferred as 'stream' from the records")
    assert sf.meta == {}  # nothing invented: the link and creation time are unknown
    assert sf.records == read_session(p).records
    rec, ref = load_session(bad), load_session(p)
    same_samples(rec, ref)
    assert rec.meta.notes == (sf.recovered,)
    assert rec.meta.device_id == ref.meta.device_id  # from the sensor's DEVICE_INFO, not the header
    assert rec.meta.start_unix_s == ref.meta.start_unix_s


@pytest.mark.parametrize("damage", ["json", "framing key", "framing value"])
def test_the_framing_of_a_ble_session_with_a_damaged_header_is_inferred(tmp_path: Path,
                                                                         damage: str) -> None:
    p, _ = ble_session(tmp_path)
    buf = p.read_bytes()
    offset = {"json": meta_end(buf) - 1,  # the closing brace
              "framing key": buf.index(b'"framing"') + 2,
              "framing value": buf.index(b'"packet"') + 2}[damage]
    sf = read_session(flipped(p, offset, 0x20))
    assert sf.framing == Framing.PACKET
    assert sf.recovered is not None
    assert "framing inferred as 'packet' from the records" in sf.recovered
    same_samples(load_session(sf.path), load_session(p))


@pytest.mark.parametrize("bit", [0, 1, 4, 12, 31], ids=lambda b: f"bit{b}")
def test_a_damaged_metadata_length_is_recovered(tmp_path: Path, bit: int) -> None:
    """Shorter, a little or much longer (past the end of the file), oversized."""
    p = write_session(tmp_path / "s.imrs", clean_script(3.0, seed=2).bursts())
    bad = flipped(p, len(MAGIC) + bit // 8, 1 << (bit % 8))
    sf, ref = read_session(bad), read_session(p)
    assert sf.records == ref.records
    assert (sf.damaged, sf.truncated) == (0, False)
    assert sf.meta == ref.meta  # the JSON itself is intact: read up to the first record
    assert sf.recovered == ("session header damaged (metadata length); the metadata was read "
                            "up to the first record")
    same_samples(load_session(bad), load_session(p))


def test_damaged_metadata_and_length_together_are_recovered(tmp_path: Path) -> None:
    p = write_session(tmp_path / "s.imrs", clean_script(3.0, seed=2).bursts())
    bad = flipped(flipped(p, len(MAGIC) + 3, 0x10), len(MAGIC) + 4, 0x01, "twice.imrs")  # { -> z
    sf = read_session(bad)
    assert sf.recovered is not None
    assert sf.recovered.startswith("session header damaged (metadata truncated or oversized)")
    assert sf.framing == Framing.STREAM
    same_samples(load_session(bad), load_session(p))


def test_a_damaged_header_before_records_of_no_frame_says_the_framing_is_unknown(
        tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")  # its received bytes are not frames
    sf = read_session(flipped(p, len(MAGIC) + 5, 0x01))
    assert list(sf.records) == recs
    assert sf.inferred_framing is None
    assert sf.framing == Framing.STREAM
    assert sf.recovered is not None
    assert "no frame decodes either way" in sf.recovered


@pytest.mark.parametrize("after", ["nothing", "garbage", "damaged records", "a cut record"])
def test_a_damaged_header_without_an_intact_record_is_a_file_format_error(
        tmp_path: Path, after: str) -> None:
    p, _ = small_session(tmp_path / "s.imrs")
    buf = bytearray(p.read_bytes())
    head, spans = record_spans(bytes(buf))
    buf[len(MAGIC) + 5] ^= 0x01
    for a, _ in spans:
        buf[a + _REC.size] ^= 0x01  # every record's CRC fails
    tail = {"nothing": b"", "garbage": bytes(range(256)) * 3 + SYNC + b"\x01",
            "damaged records": bytes(buf[head:]), "a cut record": p.read_bytes()[head:head + 10]}
    p.write_bytes(bytes(buf[:head]) + tail[after])
    with pytest.raises(FileFormatError, match="not valid JSON.*no intact record follows it"):
        read_session(p)
    with pytest.raises(FileFormatError, match="not valid JSON.*no intact record follows it"):
        load_session(p)


_HEADER = MAGIC + struct.pack("<I", 2) + b"{}"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tail=st.binary(max_size=600), n_good=st.integers(0, 3))
def test_arbitrary_bytes_after_a_valid_header_never_crash(tail: bytes, n_good: int) -> None:
    good = b""
    expected = []
    for k in range(n_good):
        data = bytes([k]) * k
        body = _REC.pack(SYNC, int(RecordKind.RX), float(k), len(data))[2:] + data
        good += SYNC + body + crc32(body).to_bytes(4, "little")
        expected.append(SessionRecord(RecordKind.RX, float(k), data))
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.imrs"
        p.write_bytes(_HEADER + good + tail)
        sf = read_session(p)
    assert list(sf.records[:n_good]) == expected
    assert all(isinstance(r.kind, RecordKind) for r in sf.records)
    assert sf.damaged >= 0


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(tail=st.binary(max_size=400))
def test_arbitrary_session_content_loads_or_fails_with_a_file_format_error(tail: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "f.imrs"
        p.write_bytes(MAGIC + struct.pack("<I", 2) + b"{}" + tail)
        try:
            rec = load_session(p)
        except FileFormatError:
            return
    assert rec.n_samples > 0


def test_hostile_sync_words_cost_linear_time(tmp_path: Path) -> None:
    """Every sync word declaring the largest record: the reader must not CRC each one."""
    rec = SYNC + bytes([RecordKind.RX]) + struct.pack("<dI", 0.0, MAX_RECORD)
    p = tmp_path / "hostile.imrs"
    p.write_bytes(_HEADER + rec * (2 * MAX_RECORD // len(rec)))
    t0 = time.perf_counter()
    sf = read_session(p)
    assert time.perf_counter() - t0 < 5.0  # was minutes (a CRC of 1 MiB per sync word)
    assert sf.records == ()
    assert sf.damaged + sf.truncated >= 1


# --------------------------------------------------------------------------- replay
def replayed(sf_path: Path, speed: float | None) -> tuple[RecordingBuilder, float]:
    builder = RecordingBuilder(source=str(sf_path))
    client = SensorClient(ReplayTransport(read_session(sf_path), speed=speed))
    t0 = time.monotonic()
    asyncio.run(replay(client, builder))
    return builder, time.monotonic() - t0


def test_load_session_gives_what_the_live_link_gave(tmp_path: Path) -> None:
    s = clean_script(5.0, seed=8)
    bursts = s.bursts()
    p = write_session(tmp_path / "s.imrs", bursts)
    live = build(bursts, source=str(p))
    rec = load_session(p)
    assert rec.meta.source_format == "session"
    assert_same_recording(rec, live)


def test_replay_flat_out_and_at_recorded_pace_give_the_same_recording(tmp_path: Path) -> None:
    s = LinkScript(seed=6)
    s.info(0.0)
    s.syncs(0.0, 0.3, every_s=0.1)
    s.stream(60)  # 0.3 s of samples
    bursts = s.bursts()
    span = bursts[-1].t_host_s - bursts[0].t_host_s
    assert 0.25 < span < 0.35
    p = write_session(tmp_path / "s.imrs", bursts)
    fast, fast_s = replayed(p, None)
    paced, paced_s = replayed(p, 1.0)
    assert paced_s >= span - 0.02  # the feature: it waits as the link did
    assert fast_s < paced_s
    assert_same_recording(fast.build(), paced.build())


def test_flat_out_replay_does_not_wait(tmp_path: Path) -> None:
    s = clean_script(30.0, seed=7)  # 30 s recorded
    p = write_session(tmp_path / "s.imrs", s.bursts())
    builder, elapsed = replayed(p, None)
    assert builder.n_samples == 6000
    assert elapsed < 15.0


async def _read_all(t: ReplayTransport) -> list[Chunk]:
    await t.open(0)
    out = []
    while True:
        try:
            out.append(await t.read(1.0))
        except EndOfData:
            break
        except TransportError:
            continue
    await t.close()
    return out


def test_replay_transport_plays_rx_only_and_signals_the_end(tmp_path: Path) -> None:
    p, recs = small_session(tmp_path / "s.imrs")
    t = ReplayTransport(read_session(p))

    async def closed_read() -> None:
        await t.read(1.0)

    with pytest.raises(TransportError, match="not open"):
        asyncio.run(closed_read())
    chunks = asyncio.run(_read_all(t))
    assert [(c.t_host_s, c.data) for c in chunks] == [
        (r.t_host_s, r.data) for r in recs if r.kind == RecordKind.RX]


def test_disconnect_records_become_disconnect_gaps(tmp_path: Path) -> None:
    s = LinkScript(seed=3)
    s.info(0.0)
    s.syncs(0.0, 6.0)
    s.stream(400)
    s.disconnect(s.t_next + 0.05)
    s.skip(300)
    s.info(s.t_next)
    s.stream(400)
    s.disconnect(s.t_next + 0.05)
    s.skip(50)
    s.stream(200)
    bursts = s.bursts()
    p = write_session(tmp_path / "d.imrs", bursts)
    rec = load_session(p)
    assert [(g.cause, g.n_missing) for g in rec.gaps] == [(GapCause.DISCONNECT, 300),
                                                         (GapCause.DISCONNECT, 50)]
    assert rec.stats.disconnects == 2
    assert_same_recording(rec, build(bursts, source=str(p)))


def test_damage_and_truncation_are_noted_by_load_session(tmp_path: Path) -> None:
    s = clean_script(3.0, seed=2)
    p = write_session(tmp_path / "s.imrs", s.bursts())
    full = p.read_bytes()
    head, spans = record_spans(full)
    b = bytearray(full[:-5])  # cut tail
    b[spans[40][0] + 20] ^= 0x01  # and one damaged record
    p.write_bytes(bytes(b))
    rec = load_session(p)
    notes = " | ".join(rec.meta.notes)
    assert "1 damaged region" in notes
    assert "truncated" in notes
    assert 0 < rec.n_samples < 600


def ble_session(tmp_path: Path) -> tuple[Path, list[tuple[float, bytes]]]:
    """A BLE session of 300 samples: one frame per notification, framing "packet"."""
    counts = np.random.default_rng(4).integers(-500, 500, (300, 6)).astype(np.int16)
    sensor = VirtualSensor(LinkScript().cfg, Flash(tmp_path / "flash"),
                           motion=lambda seconds, tag: counts)
    sensor.start_stream(0.0)
    enc = Encoder(boot_id=1)
    packets = []
    for i, m in enumerate([sensor.info(), *sensor.stream_batches(None, 100)]):
        packets += [(HOST_T0 + 0.05 * i, pk) for pk in enc.packets(m, 60)]  # MTU-sized fragments
    p = tmp_path / "ble.imrs"
    with SessionWriter(p, {"framing": "packet", "link": "ble test"}) as w:
        for t, pk in packets:
            w.rx(Chunk(t, pk))
    return p, packets


def test_packet_framed_sessions_replay_through_the_packet_decoder(tmp_path: Path) -> None:
    """A BLE session: one frame per notification, framing "packet" in the metadata."""
    p, packets = ble_session(tmp_path)
    rec = load_session(p)
    assert rec.n_samples == 300
    dec, builder = PacketDecoder(), RecordingBuilder(source=str(p), source_format="session")
    for t, pk in packets:
        for ev in dec.feed(pk):
            builder.feed(t, ev)
    builder.decoder_stats = dec.stats
    assert_same_recording(rec, builder.build())


def test_session_without_device_info_is_a_file_format_error(tmp_path: Path) -> None:
    s = LinkScript()
    s.stream(100)
    p = write_session(tmp_path / "n.imrs", s.bursts())
    with pytest.raises(FileFormatError, match="DEVICE_INFO"):
        load_session(p)


def test_empty_session_is_a_file_format_error(tmp_path: Path) -> None:
    p = write_session(tmp_path / "e.imrs", [Burst(HOST_T0, b"")])
    with pytest.raises(FileFormatError):
        load_session(p)


# --------------------------------------------------------------------------- run directory
DEV = 0x1D0C_5E75_0000_0001


def entry_for(data: bytes, run_id: int = 3) -> RunEntry:
    return RunEntry(run_id, 1_790_000_000_000, len(data), crc32(data))


def blob(n: int = 5000) -> bytes:
    return np.random.default_rng(n).integers(0, 256, n, np.uint8).tobytes()


def test_run_directory_append_and_commit(tmp_path: Path) -> None:
    store = RunDirectory(tmp_path / "store")
    data = blob()
    e = entry_for(data)
    assert not store.is_stored(DEV, e)
    assert store.verified_prefix(DEV, e) == 0
    for off in range(0, len(data), 1024):
        store.append(DEV, e, off, data[off:off + 1024])
        assert store.verified_prefix(DEV, e) == min(off + 1024, len(data))
    where = store.commit(DEV, e)
    assert Path(where) == store.run_path(DEV, e)
    assert Path(where).read_bytes() == data
    assert store.is_stored(DEV, e)
    assert store.runs() == [Path(where)]
    assert store.verified_prefix(DEV, e) == 0  # the partial file is gone
    assert list((tmp_path / "store" / ".partial").iterdir()) == []


def test_run_directory_commit_refuses_incomplete_or_wrong_crc(tmp_path: Path) -> None:
    store = RunDirectory(tmp_path / "store")
    data = blob()
    e = entry_for(data)
    with pytest.raises(SyncError, match="incomplete"):
        store.commit(DEV, e)  # nothing at all
    store.append(DEV, e, 0, data[:3000])
    with pytest.raises(SyncError, match="incomplete"):
        store.commit(DEV, e)
    bad = bytearray(data)
    bad[4000] ^= 1
    store.append(DEV, e, 3000, bytes(bad[3000:]))
    with pytest.raises(SyncError, match="CRC-32"):
        store.commit(DEV, e)
    assert not store.is_stored(DEV, e)
    assert store.runs() == []
    store.discard(DEV, e)
    assert store.verified_prefix(DEV, e) == 0
    store.discard(DEV, e)  # twice is fine


def test_run_directory_resumes_after_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "store"
    data = blob(9000)
    e = entry_for(data)
    store = RunDirectory(root)
    store.append(DEV, e, 0, data[:4096])
    # The process dies half-way through its next write: a torn append on disk.
    partial = next((root / ".partial").iterdir())
    with open(partial, "ab") as fh:
        fh.write(data[4096:5000])
    again = RunDirectory(root)  # a new process
    prefix = again.verified_prefix(DEV, e)
    assert prefix == 5000
    again.append(DEV, e, 4096, data[4096:8192])  # resent from an earlier offset: rewritten
    assert again.verified_prefix(DEV, e) == 8192
    again.append(DEV, e, 8192, data[8192:])
    again.commit(DEV, e)
    assert again.is_stored(DEV, e)
    assert again.run_path(DEV, e).read_bytes() == data


def test_run_directory_refuses_an_append_beyond_what_it_holds(tmp_path: Path) -> None:
    store = RunDirectory(tmp_path / "store")
    data = blob()
    e = entry_for(data)
    store.append(DEV, e, 0, data[:100])
    with pytest.raises(StoreError, match="only 100 bytes held"):
        store.append(DEV, e, 200, data[200:300])


def test_run_directory_is_stored_checks_size_and_crc(tmp_path: Path) -> None:
    store = RunDirectory(tmp_path / "store")
    data = blob()
    e = entry_for(data)
    store.append(DEV, e, 0, data)
    path = Path(store.commit(DEV, e))
    assert store.is_stored(DEV, e)
    other = entry_for(data, run_id=4)
    assert not store.is_stored(DEV, other)
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # damaged on disk later
    assert not store.is_stored(DEV, e)
    path.write_bytes(data[:-1])
    assert not store.is_stored(DEV, e)


def test_run_directory_on_an_unusable_root_is_a_store_error(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(StoreError, match="cannot create store"):
        RunDirectory(f / "store")


def test_deferred_session_appears_with_the_first_data_and_replaces_the_old_file(
        tmp_path: Path) -> None:
    path = tmp_path / "live.imrs"
    path.write_bytes(b"an earlier recording")
    w = SessionWriter(path, {"framing": "stream"}, defer=True)
    w.tx(b"\x01")  # a command sent to the sensor is not data from it
    w.marker(RecordKind.CONNECT)
    assert not w.published
    assert path.read_bytes() == b"an earlier recording"
    w.write(RecordKind.RX, 1.0, b"abc")
    assert w.published
    w.write(RecordKind.RX, 2.0, b"def")  # appended to the file now at ``path``
    w.close()
    s = read_session(path)
    assert [r.kind for r in s.records] == [RecordKind.TX, RecordKind.CONNECT, RecordKind.RX,
                                           RecordKind.RX]
    assert b"".join(c.data for c in s.rx_chunks()) == b"abcdef"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.imrs"]


def test_deferred_session_that_receives_nothing_leaves_no_file(tmp_path: Path) -> None:
    old = tmp_path / "old.imrs"
    old.write_bytes(b"keep me")
    for path in (tmp_path / "new.imrs", old):
        w = SessionWriter(path, {}, defer=True)
        w.marker(RecordKind.CONNECT)
        w.close()
        assert not w.published
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.imrs"]
    assert old.read_bytes() == b"keep me"
