"""Untrusted input (SPEC.md §1): arbitrary and mutated bytes never break a decoder.

Each decoder must accept any byte sequence: no exception but the documented ones, no hang, no
unbounded buffer, and the same result however a stream is cut. Seeds for the mutation tests
come from ``tests/fuzz_corpus/`` (made by ``make_corpus.py`` there).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from protocol_support import (
    any_message,
    garbage,
    random_chunks,
    received,
    stream_four_ways,
)

from firmware_protocol.codec import (
    DecoderStats,
    Dropped,
    Encoder,
    Lost,
    PacketDecoder,
    ParseEvent,
    Rebooted,
    Received,
    StreamDecoder,
)
from firmware_protocol.errors import RunFormatError
from firmware_protocol.frame import MAX_ENCODED_FRAME
from firmware_protocol.messages import Event
from firmware_protocol.runfile import (
    HEADER_SIZE,
    MAX_BLOCK_SAMPLES,
    SYNC,
    RunHeader,
    StoredRun,
    read_run,
)

CORPUS_DIR = Path(__file__).resolve().parent / "fuzz_corpus"
CORPUS = {p.name: p.read_bytes() for p in sorted(CORPUS_DIR.iterdir())
          if p.suffix in (".bin", ".imrn")}
HEADER = bytes(RunHeader(1, 2, 3, 200, 0, 0, 16, 2000, 0.001, 0.001))


def _make_corpus_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_corpus", CORPUS_DIR / "make_corpus.py")
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


MAKE_CORPUS = _make_corpus_module()


# --------------------------------------------------------------------------- invariants
def check_stream_feed(chunks: list[bytes]) -> tuple[list[ParseEvent], DecoderStats]:
    """Feed ``chunks``; after every call the buffer is bounded; events agree with the stats."""
    dec = StreamDecoder()
    events: list[ParseEvent] = []
    fed = 0
    for c in chunks:
        out = dec.feed(c)
        fed += len(c)
        assert dec.pending_bytes <= MAX_ENCODED_FRAME
        for e in out:
            if isinstance(e, Dropped):
                assert 0 <= e.offset
                assert e.n_bytes > 0
                assert e.offset + e.n_bytes <= fed
        events.extend(out)
    _check_stats(events, dec.stats, fed)
    return events, dec.stats


def _check_stats(events: list[ParseEvent], stats: DecoderStats, fed: int) -> None:
    assert all(isinstance(e, Received | Dropped | Lost | Rebooted) for e in events)
    assert stats.bytes_in == fed
    assert stats.messages == sum(isinstance(e, Received) for e in events)
    assert stats.frames_lost == sum(e.n_frames for e in events if isinstance(e, Lost))
    assert stats.reboots == sum(isinstance(e, Rebooted) for e in events)
    assert (stats.frames_corrupt + stats.messages_malformed
            == sum(isinstance(e, Dropped) for e in events))


def check_packets(packets: list[bytes]) -> tuple[list[ParseEvent], DecoderStats]:
    dec = PacketDecoder()
    events = [e for p in packets for e in dec.feed(p)]
    _check_stats(events, dec.stats, sum(map(len, packets)))
    assert dec.stats.frames_ok + dec.stats.frames_corrupt == len(packets)
    return events, dec.stats


def check_run(data: bytes) -> StoredRun | None:
    """``read_run`` returns a consistent run, or raises RunFormatError for an unusable header."""
    try:
        run = read_run(data)
    except RunFormatError:
        return None
    n = len(run.counts)
    assert run.counts.shape == (n, 6)
    assert run.sample_index.shape == (n,)
    assert int(run.block_n.sum()) == n
    assert np.all((run.block_n >= 1) & (run.block_n <= MAX_BLOCK_SAMPLES))
    assert len(run.block_first_index) == len(run.block_device_time_us) == len(run.block_n)
    assert run.n_bytes == len(data)
    for d in run.damaged:
        assert HEADER_SIZE <= d.offset
        assert d.n_bytes > 0
        assert d.offset + d.n_bytes <= len(data)
    return run


def decode_seed(name: str, data: bytes) -> object:
    if name.startswith("stream-"):
        return check_stream_feed([data])
    if name.startswith("packets-"):
        return check_packets(MAKE_CORPUS.unpack_packets(data))
    return check_run(data)


# --------------------------------------------------------------------------- the corpus
def test_corpus_is_what_the_script_makes() -> None:
    built = MAKE_CORPUS.build_corpus()
    assert sorted(built) == sorted(CORPUS), "run tests/fuzz_corpus/make_corpus.py"
    for name, data in built.items():
        assert CORPUS[name] == data, f"{name} is stale: run tests/fuzz_corpus/make_corpus.py"


def test_corpus_has_a_few_dozen_small_seeds_of_every_kind() -> None:
    assert 30 <= len(CORPUS) <= 80
    for prefix in ("stream-", "packets-", "run-"):
        assert sum(n.startswith(prefix) for n in CORPUS) >= 5
    assert all(len(d) <= 4096 for d in CORPUS.values())


@pytest.mark.parametrize("name", sorted(n for n in CORPUS if n.startswith("stream-")))
def test_stream_seeds_four_ways(name: str) -> None:
    data = CORPUS[name]
    runs = stream_four_ways(data)
    for way, run in runs.items():
        assert run == runs["whole"], way
    check_stream_feed(random_chunks(data, 99, max_chunk=5))


@pytest.mark.parametrize("name", sorted(n for n in CORPUS if not n.startswith("stream-")))
def test_packet_and_run_seeds_decode(name: str) -> None:
    decode_seed(name, CORPUS[name])


def test_what_some_seeds_must_decode_to() -> None:
    events, stats = check_stream_feed([CORPUS["stream-every-message.bin"]])
    assert len(received(events)) == 10
    assert stats.frames_corrupt == 0
    events, _ = check_stream_feed([CORPUS["stream-overflow.bin"]])
    assert [type(e) for e in events] == [Dropped, Received]
    events, stats = check_packets(MAKE_CORPUS.unpack_packets(CORPUS["packets-mtu20.bin"]))
    assert len(received(events)) == 10
    assert stats.frames_lost == 0
    events, stats = check_packets(MAKE_CORPUS.unpack_packets(CORPUS["packets-lost-fragments.bin"]))
    # The partial SAMPLE_BATCH is discarded, and so is its tail after the gap (CONT set, no
    # message in progress): it is never taken for a message.
    assert (stats.frames_lost, stats.messages, stats.messages_malformed) == (2, 9, 0)
    assert stats.fragments_discarded >= 2
    full = check_run(CORPUS["run-full.imrn"])
    assert full is not None
    assert full.ended_cleanly
    assert full.damaged == ()
    damaged = check_run(CORPUS["run-damaged-block.imrn"])
    assert damaged is not None
    assert len(damaged.damaged) >= 1
    assert len(damaged.counts) < len(full.counts)
    assert check_run(CORPUS["run-bad-header.imrn"]) is None
    beyond = check_run(CORPUS["run-time-beyond-int64.imrn"])
    assert beyond is not None
    assert len(beyond.counts) == 0
    assert len(beyond.damaged) == 1


MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2**16), st.integers(1, 255)),
    st.tuples(st.just("delete"), st.integers(0, 2**16), st.integers(1, 64)),
    st.tuples(st.just("insert"), st.integers(0, 2**16), st.binary(min_size=1, max_size=64)),
    st.tuples(st.just("duplicate"), st.integers(0, 2**16), st.integers(1, 300)),
    st.tuples(st.just("truncate"), st.integers(0, 2**16), st.just(0)),
)


def mutate(data: bytes, mutations: list[tuple]) -> bytes:
    b = bytearray(data)
    for kind, at, arg in mutations:
        i = at % (len(b) + 1)
        if kind == "flip" and i < len(b):
            b[i] ^= arg
        elif kind == "delete":
            del b[i:i + arg]
        elif kind == "insert":
            b[i:i] = arg
        elif kind == "duplicate":
            b[i:i] = b[i:i + arg]
        elif kind == "truncate":
            del b[i:]
    return bytes(b)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(CORPUS)), st.lists(MUTATION, min_size=1, max_size=6),
       st.integers(0, 2**32 - 1))
def test_mutated_seeds_never_break_a_decoder(name: str, mutations: list[tuple],
                                             seed: int) -> None:
    data = mutate(CORPUS[name], mutations)
    result = decode_seed(name, data)
    if name.startswith("stream-"):
        # Cutting the mutated stream anywhere changes nothing.
        assert check_stream_feed(random_chunks(data, seed, max_chunk=50)) == result


# --------------------------------------------------------------------------- arbitrary bytes
@settings(max_examples=300)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 3000), max_size=20))
def test_stream_decoder_accepts_any_bytes_cut_anywhere(data: bytes, cuts: list[int]) -> None:
    whole = check_stream_feed([data])
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    chunks = [data[a:b] for a, b in zip(points, points[1:], strict=False)]
    assert check_stream_feed(chunks) == whole


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=40))
def test_stream_decoder_on_zero_heavy_and_zero_free_runs(runs: list[tuple[int, int]]) -> None:
    # Runs of a repeated byte: long zero-free stretches (overflow) and long zero stretches.
    data = b"".join(bytes([v]) * (n * 9) for v, n in runs)
    whole = check_stream_feed([data])
    assert check_stream_feed([data[i:i + 1] for i in range(len(data))]) == whole


@pytest.mark.parametrize("zero_fraction", [0.0, 1 / 1500, 1 / 256, 1 / 16, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_stream_decoder_on_seeded_random_bytes(zero_fraction: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 1 << 17
    d = rng.integers(1, 256, n, dtype=np.uint8)
    d[rng.random(n) < zero_fraction] = 0
    data = d.tobytes()
    t0 = time.perf_counter()
    whole = check_stream_feed([data])
    assert check_stream_feed(random_chunks(data, seed, max_chunk=4000)) == whole
    assert time.perf_counter() - t0 < 30  # linear time: a hang or a quadratic path fails here


@settings(max_examples=200)
@given(st.lists(st.binary(max_size=1100), max_size=12))
def test_packet_decoder_accepts_any_packets(packets: list[bytes]) -> None:
    check_packets(packets)


@settings(max_examples=100)
@given(st.lists(st.tuples(st.binary(max_size=400), any_message(max_batch=30)), min_size=1,
                max_size=6),
       st.binary(max_size=400), st.integers(0, 2**32 - 1))
def test_frames_in_delimited_garbage_are_all_recovered(items: list, tail: bytes,
                                                       seed: int) -> None:
    enc = Encoder(boot_id=2, seq=65534)
    data = b"".join(junk + b"\x00" + enc.stream_bytes(msg) for junk, msg in items) + tail
    msgs = [msg for _, msg in items]
    for chunks in ([data], random_chunks(data, seed)):
        events, stats = check_stream_feed(chunks)
        assert received(events) == msgs
        assert stats.frames_lost == 0
        assert stats.reboots == 0


@pytest.mark.parametrize("seed", range(6))
def test_frames_in_seeded_garbage_are_all_recovered(seed: int) -> None:
    rng = np.random.default_rng(seed)
    enc = Encoder(boot_id=2)
    msgs, parts = [], []
    for i in range(40):
        parts.append(garbage(rng, int(rng.integers(0, 2500)), zeros=bool(i % 2)) + b"\x00")
        msg = Event(1, i, int(rng.integers(0, 2**32)))
        msgs.append(msg)
        parts.append(enc.stream_bytes(msg))
    data = b"".join(parts)
    runs = stream_four_ways(data)
    for way, (events, _stats) in runs.items():
        assert received(events) == msgs, way
        assert events == runs["whole"][0], way


@settings(max_examples=200)
@given(st.binary(max_size=3000))
def test_read_run_accepts_any_blocks_after_a_valid_header(body: bytes) -> None:
    run = check_run(HEADER + body)
    assert run is not None


@settings(max_examples=100)
@given(st.lists(st.one_of(st.binary(max_size=60), st.just(SYNC),
                          st.builds(lambda n: SYNC + bytes([1, 0]) + n.to_bytes(2, "little"),
                                    st.integers(0, 65535))), max_size=30))
def test_read_run_on_sync_rich_bodies(pieces: list[bytes]) -> None:
    assert check_run(HEADER + b"".join(pieces)) is not None


@settings(max_examples=200)
@given(st.binary(max_size=400))
def test_read_run_on_fully_random_bytes_fails_only_on_the_header(data: bytes) -> None:
    check_run(data)
    with pytest.raises(RunFormatError):
        read_run(b"IMRN" + data[:92])  # at most a header's worth: never a valid header CRC
    check_run(b"IMRN" + data)


@pytest.mark.parametrize("seed", range(4))
def test_read_run_on_seeded_random_bytes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    body = bytearray(rng.integers(0, 256, 1 << 16, dtype=np.uint8).tobytes())
    for at in rng.integers(0, len(body) - 8, 200):  # sprinkle candidate block heads
        body[at:at + 8] = SYNC + bytes([int(rng.integers(0, 3)), 0]) + int(
            rng.integers(0, 20000)).to_bytes(2, "little")
    t0 = time.perf_counter()
    run = check_run(HEADER + bytes(body))
    assert run is not None
    assert run.damaged
    assert time.perf_counter() - t0 < 30
    for _ in range(20):
        cut = int(rng.integers(0, len(body)))
        check_run(bytes(body[:cut]))  # no header at all: RunFormatError or a (random) run
