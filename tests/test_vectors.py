"""Golden vectors (firmware_protocol/vectors/v1): the Python codec reproduces every one of them.

Encoders must give the stored bytes, decoders the stored outcome; and regenerating the vectors
must reproduce the committed files byte for byte, so a vector changes only on purpose. Stream
vectors are also decoded the four ways (whole, one byte at a time, seeded random chunks, with
garbage around them) and must give the same events each time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import messages as m
from firmware_protocol.codec import Dropped, Encoder, PacketDecoder, Received, StreamDecoder
from firmware_protocol.crc import crc16_ccitt_false, crc32
from firmware_protocol.errors import FrameError, MessageError
from firmware_protocol.frame import Frame, FrameFlags, cobs_decode, cobs_encode
from firmware_protocol.runfile import (
    RunHeader,
    encode_samples_block,
    encode_samples_packed,
    read_run,
)
from firmware_protocol.vectors import generate as g

VECTOR_FILES = sorted(g.BUILDERS)


def _vectors(name: str) -> list[g.Json]:
    doc = g.load(name)
    assert doc["protocol_version"] == g.PROTOCOL_VERSION
    vectors: list[g.Json] = doc["vectors"]
    return vectors


def _ids(name: str) -> list[str]:
    return [v["name"] for v in _vectors(name)]


def _params(name: str) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("v", _vectors(name), ids=_ids(name))


# --------------------------------------------------------------------------- the files themselves
def test_regeneration_is_byte_identical() -> None:
    fresh = g.build_all()
    on_disk = {p.name for p in g.OUT_DIR.glob("*.json")}
    assert on_disk == set(fresh), "vector files on disk differ from the generator's list"
    for name, text in fresh.items():
        assert (g.OUT_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run `python -m firmware_protocol.vectors.generate` and review the diff")


def test_check_mode_reports_clean() -> None:
    assert g.main(["--check"]) == 0


@pytest.mark.parametrize("name", VECTOR_FILES)
def test_vector_names_are_unique(name: str) -> None:
    names = _ids(name)
    assert len(names) == len(set(names))


def test_every_message_type_both_directions_is_covered() -> None:
    vs = _vectors("messages.json")
    assert {v["type"] for v in vs} == {int(t) for t in m.MessageType}
    assert {v["direction"] for v in vs} == {"host_to_sensor", "sensor_to_host"}


# --------------------------------------------------------------------------- crc, cobs, frames
@_params("crc.json")
def test_crc(v: g.Json) -> None:
    data = bytes.fromhex(v["data"])
    assert f"{crc16_ccitt_false(data):04x}" == v["crc16"]
    assert f"{crc32(data):08x}" == v["crc32"]


@_params("cobs.json")
def test_cobs(v: g.Json) -> None:
    if "data" in v:
        data = bytes.fromhex(v["data"])
        assert cobs_encode(data).hex() == v["encoded"]
        assert cobs_decode(bytes.fromhex(v["encoded"])) == data
        assert b"\x00" not in bytes.fromhex(v["encoded"])
    elif "decoded" in v:
        assert cobs_decode(bytes.fromhex(v["encoded"])).hex() == v["decoded"]
    else:
        with pytest.raises(FrameError, match="COBS"):
            cobs_decode(bytes.fromhex(v["encoded"]))


@_params("frames.json")
def test_frames(v: g.Json) -> None:
    f = Frame(v["type"], bytes.fromhex(v["payload"]), v["seq"], v["boot_id"],
              FrameFlags(v["flags"]), v["version"])
    assert bytes(f).hex() == v["frame"]
    assert f.encode_stream().hex() == v["stream"]
    assert Frame.from_bytes(bytes.fromhex(v["frame"])) == f
    assert cobs_decode(bytes.fromhex(v["stream"])[:-1]).hex() == v["frame"]


# --------------------------------------------------------------------------- messages, fragments
@_params("messages.json")
def test_message_encodes_to_vector(v: g.Json) -> None:
    msg = g.message_from_fields(v["message"], v["fields"])
    assert m.message_type(msg) == v["type"]
    assert msg.payload().hex() == v["payload"]
    frames = Encoder(boot_id=v["boot_id"], seq=v["seq"]).frames(msg, v["max_payload"])
    assert [bytes(f).hex() for f in frames] == v["frames"]
    assert b"".join(f.encode_stream() for f in frames).hex() == v["stream"]
    assert g.message_fields(msg) == v["fields"]


def _as_sent(msg: m.AnyMessage) -> m.AnyMessage:
    """``msg`` with its float fields rounded to float32, as they travel."""
    if isinstance(msg, m.DeviceInfo):
        return dataclasses.replace(msg, acc_lsb_ms2=float(np.float32(msg.acc_lsb_ms2)),
                                   gyr_lsb_rads=float(np.float32(msg.gyr_lsb_rads)))
    return msg


def _header_as_sent(fields: g.Json) -> g.Json:
    def f32(x: float) -> float:
        return float(np.float32(x))

    out = dict(fields)
    for k in ("acc_lsb_ms2", "gyr_lsb_rads"):
        out[k] = f32(out[k])
    for k in ("acc_offset_ms2", "acc_gain", "gyr_offset_rads"):
        out[k] = [f32(x) for x in out[k]]
    return out


@_params("messages.json")
def test_message_decodes_from_vector(v: g.Json) -> None:
    msg = _as_sent(g.message_from_fields(v["message"], v["fields"]))
    assert m.decode_message(v["type"], bytes.fromhex(v["payload"])) == msg
    dec = PacketDecoder()
    for events in (StreamDecoder().feed(bytes.fromhex(v["stream"])),
                   [e for p in v["frames"] for e in dec.feed(bytes.fromhex(p))]):
        assert len(events) == 1, events
        assert isinstance(events[0], Received)
        assert events[0].message == msg
        assert events[0].n_frames == len(v["frames"])
        assert (events[0].seq, events[0].boot_id) == (
            (v["seq"] + len(v["frames"]) - 1) % 65536, v["boot_id"])


@_params("fragments.json")
def test_fragments(v: g.Json) -> None:
    body = bytes.fromhex(v["body"])
    frames = Encoder(boot_id=v["boot_id"], seq=v["seq"]).frames(
        m.UnknownMessage(v["type"], body), v["max_payload"])
    assert [bytes(f).hex() for f in frames] == v["frames"]
    assert b"".join(f.encode_stream() for f in frames).hex() == v["stream"]
    assert all(f.flags & FrameFlags.MORE for f in frames[:-1])
    assert not frames[-1].flags & FrameFlags.MORE
    # Both decoders reassemble the body (as the message type's canonical payload).
    expect = m.decode_message(v["type"], body)
    dec = PacketDecoder()
    for events in (StreamDecoder().feed(bytes.fromhex(v["stream"])),
                   [e for p in v["frames"] for e in dec.feed(bytes.fromhex(p))]):
        assert len(events) == 1, events
        assert isinstance(events[0], Received)
        assert events[0].message == expect
        assert events[0].n_frames == len(v["frames"])


# --------------------------------------------------------------------------- stored runs
@_params("samples.json")
def test_sample_block(v: g.Json) -> None:
    counts = g.counts_from_hex(v["counts"])
    assert counts.shape == (v["n"], 6)
    block = encode_samples_block(counts, v["first_sample_index"], v["device_time_us"],
                                 packed=v["mode"] == "auto")
    assert block.hex() == v["block"]
    packed = encode_samples_packed(counts, v["first_sample_index"], v["device_time_us"])
    assert packed.hex() == v["packed_payload"]
    assert packed[26] == v["orders"]
    # The raw fallback: packed exactly when it is not longer than raw (and allowed).
    use_packed = v["mode"] == "auto" and len(packed) <= v["raw_size"]
    assert v["block_type"] == ("SAMPLES_PACKED" if use_packed else "SAMPLES_RAW")


@_params("samples.json")
def test_sample_block_round_trips(v: g.Json) -> None:
    header = RunHeader(1, 1, 1, 200, 0, 0, 16, 2000, 0.001, 0.001)
    run = read_run(bytes(header) + bytes.fromhex(v["block"]))
    assert not run.damaged
    np.testing.assert_array_equal(run.counts, g.counts_from_hex(v["counts"]))
    assert run.block_first_index.tolist() == [v["first_sample_index"]]
    assert run.block_device_time_us.tolist() == [v["device_time_us"]]


@_params("runs.json")
def test_run_file(v: g.Json) -> None:
    header = g.header_from_fields(v["header"])
    data, _ = g.write_run(header, v["packed"], v["ops"], v.get("block_samples", 1024))
    assert data.hex() == v["file"]
    assert len(data) == v["size"]
    assert f"{crc32(data):08x}" == v["crc32"]
    assert g.run_outcome(data) == v["expect"]
    assert g.header_fields(RunHeader.from_bytes(data)) == _header_as_sent(v["header"])


@_params("runs_corrupt.json")
def test_corrupt_run(v: g.Json) -> None:
    assert g.run_outcome(bytes.fromhex(v["file"])) == v["expect"]


# --------------------------------------------------------------------------- decoders, four ways
def _feed(chunks: list[bytes]) -> list[g.Json]:
    dec = StreamDecoder()
    return [g.event_record(e) for c in chunks for e in dec.feed(c)]


def _random_chunks(data: bytes, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    out, pos = [], 0
    while pos < len(data):
        k = int(rng.integers(1, 64)) if rng.random() < 0.8 else int(rng.integers(64, 2048))
        out.append(data[pos:pos + k])
        pos += k
    return out


@_params("stream_decode.json")
def test_stream_decode_whole(v: g.Json) -> None:
    assert g.decode_stream_records(bytes.fromhex(v["stream"])) == v["events"]


@_params("stream_decode.json")
def test_stream_decode_one_byte_at_a_time(v: g.Json) -> None:
    data = bytes.fromhex(v["stream"])
    assert _feed([data[i:i + 1] for i in range(len(data))]) == v["events"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@_params("stream_decode.json")
def test_stream_decode_random_chunks(v: g.Json, seed: int) -> None:
    assert _feed(_random_chunks(bytes.fromhex(v["stream"]), seed)) == v["events"]


@_params("stream_decode.json")
def test_stream_decode_with_garbage_around(v: g.Json) -> None:
    data = bytes.fromhex(v["stream"])
    if data and data[-1] != 0:
        pytest.skip("the vector ends inside a frame: a trailing delimiter would change it")
    before = b"\x05\x01\x02\x00"  # a COBS code pointing past the end: one 'cobs' drop
    after = b"\x07\x01\x00"
    shifted = [{**e, "offset": e["offset"] + len(before)} if "offset" in e else e
               for e in v["events"]]
    expect = [{"event": "dropped", "kind": "cobs", "offset": 0, "n_bytes": 4}, *shifted,
              {"event": "dropped", "kind": "cobs", "offset": len(before) + len(data), "n_bytes": 3}]
    assert _feed([before + data + after]) == expect
    assert _feed(_random_chunks(before + data + after, 7)) == expect


@_params("packet_decode.json")
def test_packet_decode(v: g.Json) -> None:
    assert g.decode_packet_records([bytes.fromhex(p) for p in v["packets"]]) == v["events"]


@_params("answers.json")
def test_answers_are_what_the_virtual_sensor_answers(v: g.Json, tmp_path: Path) -> None:
    """The answers vectors hold for the project's own firmware model (imurun.sim), whose
    dispatcher is independent of the generator's rule: ERROR 1 or 2 where the vector says so,
    any other answer (the request's own, or an error of its state: unknown run, busy...) where
    it says 'serve'."""
    from imurun.sim.firmware import Flash, SensorConfig, VirtualSensor

    sensor = VirtualSensor(SensorConfig(), Flash(tmp_path))
    dec = PacketDecoder()
    got: list[g.Json] = []
    for ev in (e for p in v["packets"] for e in dec.feed(bytes.fromhex(p))):
        if isinstance(ev, Received):
            answer = sensor.handle(ev.message, 0.0)
        elif isinstance(ev, Dropped) and ev.msg_type is not None:
            answer = VirtualSensor.malformed(ev.msg_type)
        else:
            continue
        first = answer[0] if answer else None  # a RUN_READ is answered by its chunks, later
        if isinstance(first, m.Error) and first.code in (1, 2):
            got.append({"answer": "error", "code": first.code, "request_type": first.request_type})
        else:
            assert isinstance(ev, Received)  # a drop is always answered ERROR 1 or 2
            got.append({"answer": "serve", "type": m.message_type(ev.message)})
    assert got == v["answers"]


def test_answers_cover_every_request_and_both_error_codes() -> None:
    answers = [a for v in _vectors("answers.json") for a in v["answers"]]
    assert {a["type"] for a in answers if a["answer"] == "serve"} == set(g.REQUEST_TYPES)
    assert {a["code"] for a in answers if a["answer"] == "error"} == {1, 2}
    assert any(not v["answers"] for v in _vectors("answers.json")) or any(
        len(v["answers"]) < len(v["packets"]) for v in _vectors("answers.json"))


def test_crc_zero_frames_hold_zero_crc_bytes() -> None:
    """frames.json pins the COBS escaping of the CRC itself: its low byte, its high byte, both."""
    crcs = {v["name"]: bytes.fromhex(v["frame"])[-2:] for v in _vectors("frames.json")}
    assert crcs["crc_low_byte_zero"][0] == 0
    assert crcs["crc_low_byte_zero"][1] != 0
    assert crcs["crc_high_byte_zero"][1] == 0
    assert crcs["crc_high_byte_zero"][0] != 0
    assert crcs["crc_zero"] == b"\x00\x00"


# --------------------------------------------------------------------------- regressions
@pytest.mark.parametrize("lsb", [1e-50, 1e39])
def test_device_info_scale_checked_as_sent(lsb: float) -> None:
    """The scale is checked as float32, as sent: what the encoder accepts, the decoder accepts."""
    with pytest.raises(MessageError, match="float32"):
        m.DeviceInfo(1, (1, 0, 0), 1, 200, 16, 2000, lsb, 1.0)


def _decode_vector(name: str) -> g.Json:
    return next(v for v in _vectors("stream_decode.json") if v["name"] == name)


def test_reserved_flag_bits_vector_tests_reserved_bits() -> None:
    """Regression: the vector of this name used flags 0xFE, i.e. CONT with no message begun.

    It then pinned down the orphan rule, not SPEC §2's "bits 2-7: ignore on receipt"; a
    receiver that rejected reserved bits passed it. Now it carries reserved bits on a single
    frame and on both fragments of a message, and every one must be received.
    """
    v = _decode_vector("reserved_flag_bits_ignored")
    flags = [cobs_decode(p)[2] for p in bytes.fromhex(v["stream"]).split(b"\x00") if p]
    assert flags
    assert all(f & 0xFC == 0xFC for f in flags)
    received = [e for e in v["events"] if e["event"] == "received"]
    assert [(e["type"], e["n_frames"]) for e in received] == [(0x30, 1), (0x31, 2)]
    assert received == v["events"]
    orphan = _decode_vector("orphan_cont_with_reserved_bits")
    assert orphan["events"] == []


def test_intact_bad_width_vector_has_a_valid_block_crc() -> None:
    """Regression: the generator re-sealed the edited block as if its CRC-32 came last.

    SPEC §5.2 puts the block CRC at offset 8, before the payload, so the old helper wrote a
    CRC over the last four payload bytes and left the real one stale: the vector named
    "intact" tested a CRC mismatch. The block must pass its CRC and fail on its width table.
    """
    v = next(x for x in _vectors("runs_corrupt.json") if x["name"] == "intact_block_bad_packed_width")
    data = bytes.fromhex(v["file"])
    (region,) = v["expect"]["damaged"]
    assert region["kind"] == "payload"
    pos = region["offset"]
    assert data[pos:pos + 4] == bytes.fromhex("a55ac33c")
    length = int.from_bytes(data[pos + 6:pos + 8], "little")
    assert region["n_bytes"] == 12 + length
    payload = data[pos + 12:pos + 12 + length]
    assert int.from_bytes(data[pos + 8:pos + 12], "little") == crc32(payload, crc32(data[pos + 4:pos + 8]))
    assert max(payload[27:27 + 6 * 8]) == 17  # n = 256: 8 sub-blocks per channel


def test_block_crc_flip_vector_flips_the_crc_field() -> None:
    """Regression: "one bit flipped in a block's CRC-32" flipped the block's last payload byte.

    The generator still assumed the CRC ended the block; SPEC §5.2 has it at bytes 8..11.
    """
    base = bytes.fromhex(next(x for x in _vectors("runs.json") if x["name"] == "basic")["file"])
    v = next(x for x in _vectors("runs_corrupt.json") if x["name"] == "crc_flip_in_block_crc")
    data = bytes.fromhex(v["file"])
    assert len(data) == len(base)
    (diff,) = [i for i in range(len(base)) if base[i] != data[i]]
    (region,) = v["expect"]["damaged"]
    assert region["kind"] == "crc"
    assert region["offset"] + 8 <= diff < region["offset"] + 12
