"""The C99 reference implementation (firmware_protocol/c) against the Python codec, byte for byte.

The C code is compiled with the system compiler into a temporary directory (with AddressSanitizer
and UndefinedBehaviorSanitizer when the compiler supports them) and driven through its
``vector_tool``: one process reads every command on stdin and answers one line each. Checked:
every golden vector; seeded random cross-checks (sample blocks, payloads, fragmentation, COBS
inputs, request payloads, whole streams with garbage and damage, runs); the stream receiver fed
whole, one byte at a time and in random chunks; and every encoder given exactly the buffer it
needs and one byte less (the tool gives each call an exact-size heap block, so a write past the
capacity would trip AddressSanitizer).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from firmware_protocol import messages as m
from firmware_protocol.codec import Dropped, Encoder, PacketDecoder, Received, StreamDecoder
from firmware_protocol.crc import crc16_ccitt_false, crc32
from firmware_protocol.errors import FrameError, MessageError
from firmware_protocol.frame import Frame, FrameFlags, cobs_decode, cobs_encode
from firmware_protocol.runfile import encode_samples_block, encode_samples_packed
from firmware_protocol.vectors import generate as g

C_DIR = Path(g.__file__).resolve().parent.parent / "c"
SOURCES = [C_DIR / "imurun_proto.c", C_DIR / "vector_tool.c"]
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]
EXTRA_WARNINGS = ["-Wconversion", "-Wsign-conversion", "-Wshadow", "-Wcast-qual",
                  "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wundef"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer",
            "-g"]
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
# One worker builds the tool once and runs every C test (`make test` uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("c_reference")

RX_CAP = 1040  # IMR_MAX_ENCODED_FRAME
ASM_CAP = 65536  # Python's MAX_MESSAGE_SIZE


def _compiler() -> str | None:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass(frozen=True)
class Tool:
    exe: Path
    sanitized: bool

    def run(self, lines: Sequence[str]) -> list[str]:
        """Feed command lines to one vector_tool process; one answer line per command."""
        env = {"PATH": "/usr/bin:/bin", **SAN_ENV}
        proc = subprocess.run([str(self.exe)], input="\n".join(lines) + "\n", env=env,
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, f"vector_tool failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        out = proc.stdout.split("\n")[:-1]
        assert len(out) == len(lines), f"{len(out)} answers for {len(lines)} commands"
        bad = [(q, a) for q, a in zip(lines, out, strict=True) if a.startswith("bad ")]
        assert not bad, f"vector_tool did not understand: {bad[0][0][:200]}"
        return out


@pytest.fixture(scope="module")
def cc() -> str:
    path = _compiler()
    if path is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH; `make test` installs gcc")
    return path


@pytest.fixture(scope="module")
def tool(cc: str, tmp_path_factory: pytest.TempPathFactory) -> Tool:
    out = tmp_path_factory.mktemp("c_ref")
    exe = out / "vector_tool"
    # Sanitizers when this compiler and platform support them (a trial program must run).
    probe = out / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    trial = subprocess.run([cc, *SANITIZE, str(probe), "-o", str(out / "probe")],
                           capture_output=True, check=False)
    sanitized = trial.returncode == 0 and subprocess.run(
        [str(out / "probe")], capture_output=True, env={**SAN_ENV}, check=False).returncode == 0
    # -O1 under the sanitizers (as their docs advise, and much faster to build); the -O2 build
    # is checked for warnings by strict_build.
    flags = [*STRICT, *SANITIZE, "-O1"] if sanitized else STRICT
    build = subprocess.run([cc, *flags, f"-I{C_DIR}", *map(str, SOURCES), "-o", str(exe)],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    return Tool(exe, sanitized)


# --------------------------------------------------------------------------- build hygiene
@dataclass(frozen=True)
class StrictBuild:
    obj: Path
    stderr: str


@pytest.fixture(scope="module")
def strict_build(cc: str, tmp_path_factory: pytest.TempPathFactory) -> StrictBuild:
    """The library alone, with the brief's flags plus the warnings embedded builds often add."""
    obj = tmp_path_factory.mktemp("c_strict") / "imurun_proto.o"
    r = subprocess.run([cc, *STRICT, *EXTRA_WARNINGS, "-c", str(C_DIR / "imurun_proto.c"), "-o",
                        str(obj)], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr
    return StrictBuild(obj, r.stderr)


def test_library_compiles_warning_free_with_extra_warnings(strict_build: StrictBuild) -> None:
    assert strict_build.stderr == ""


def test_library_has_no_allocation_and_no_mutable_globals(strict_build: StrictBuild) -> None:
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("no nm (binutils) to inspect the object file")
    syms = subprocess.run([nm, str(strict_build.obj)], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    undefined = {ln.split()[-1] for ln in syms if ln.split()[-2:-1] == ["U"]}
    assert not undefined & {"malloc", "calloc", "realloc", "free", "printf", "puts", "fopen"}, (
        undefined)
    writable = [ln for ln in syms if ln.split()[-2:-1] and ln.split()[-2] in "BbDdCc"]
    assert not writable, f"mutable statics or globals: {writable}"


# The targets the C reference is written for. An 8-bit AVR has a 16-bit int and size_t (and a
# 32-bit double), where a length bound of 0x7FFFFFF0 or 65536 is always false: -Wextra's
# -Wtype-limits then fails the brief's `-Wall -Wextra -Werror` build, and a size like 14 + 12 n
# wraps. A Cortex-M0+ has no unaligned access and no divide instruction. `make sysdeps` installs
# avr-gcc; arm-none-eabi-gcc is checked when present (its toolchain is large).
CROSS = {
    "avr-atmega2560": ["avr-gcc", "-mmcu=atmega2560"],
    "cortex-m0plus": ["arm-none-eabi-gcc", "-mcpu=cortex-m0plus", "-mthumb", "-Wcast-align=strict"],
}
MAX_STACK_FRAME = 128  # bytes: no function of the library hides a large stack buffer


@pytest.mark.parametrize("target", sorted(CROSS))
def test_library_builds_warning_free_for_microcontrollers(target: str, tmp_path: Path) -> None:
    cc, *arch = CROSS[target]
    if shutil.which(cc) is None:
        pytest.skip(f"no {cc} on PATH" + (" (`make sysdeps` installs it)" if cc == "avr-gcc" else
                    " (an optional, large toolchain: install gcc-arm-none-eabi to check this "
                    "target; the AVR build covers a 16-bit int and size_t)"))
    flags = [f for f in STRICT if f != "-O2"]
    r = subprocess.run([cc, *arch, *flags, "-Os", *EXTRA_WARNINGS, "-Wcast-align", "-Wvla",
                        "-Wdouble-promotion", "-fstack-usage", "-c", str(C_DIR / "imurun_proto.c"),
                        "-o", "imurun_proto.o"], cwd=tmp_path, capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    frames = {}
    for ln in (tmp_path / "imurun_proto.su").read_text().splitlines():
        where, size, kind = ln.split("\t")
        frames[where.rsplit(":", 1)[-1]] = (int(size), kind)
    # "dynamic,bounded" is AVR pushing call arguments; plain "dynamic" would be a VLA or alloca
    assert all(kind in ("static", "dynamic,bounded") for _, kind in frames.values()), frames
    deepest = max(frames.items(), key=lambda kv: kv[1][0])
    assert deepest[1][0] <= MAX_STACK_FRAME, deepest


def test_encoders_refuse_messages_beyond_the_message_bound(tool: Tool) -> None:
    """SPEC §1: a message is at most 65,536 bytes, so a SAMPLE_BATCH holds at most 5,460 samples
    and a CATALOGUE lists at most 3,276 runs. The encoders refuse one more (IMR_ERR_ARG) rather
    than produce a body no sender may send; on a 16-bit size_t, 14 + 12 n and 2 + 20 k wrapped
    and the capacity check passed before a write far past it."""
    def batch(n: int) -> str:
        return f"msg sample_batch 1 2 {'00' * (12 * n) or '-'}"

    def catalogue(k: int) -> str:
        return f"msg catalogue {k} " + " ".join(["7 8 9 10"] * k)

    ok_batch, big_batch, ok_cat, big_cat = tool.run(
        [batch(5460), batch(5461), catalogue(3276), catalogue(3277)])
    assert len(ok_batch) == 2 * 65534
    assert len(ok_cat) == 2 * 65522
    assert (big_batch, big_cat) == ("err arg", "err arg")
    # Python's encoder gives the same boundary: the largest of each frames, one more does not
    enc = Encoder()
    enc.frames(m.SampleBatch(1, 2, np.zeros((5460, 6), np.int16)))
    with pytest.raises(MessageError):
        enc.frames(m.SampleBatch(1, 2, np.zeros((5461, 6), np.int16)))
    entry = m.RunEntry(7, 8, 9, 10)
    enc.frames(m.Catalogue((entry,) * 3276))
    with pytest.raises(MessageError):
        enc.frames(m.Catalogue((entry,) * 3277))


def test_tool_was_built_with_sanitizers_where_available(tool: Tool) -> None:
    # Informational: the suite still runs without them (e.g. on a platform without libasan).
    if not tool.sanitized:
        pytest.skip("this compiler/platform cannot build with -fsanitize=address,undefined")


# --------------------------------------------------------------------------- command builders
def _hex(b: bytes | str) -> str:
    s = b if isinstance(b, str) else b.hex()
    return s or "-"


def _frame_cmd(kind: str, v: dict[str, Any]) -> str:
    return f"{kind} {v['version']} {v['type']} {v['flags']} {v['seq']} {v['boot_id']} {_hex(v['payload'])}"


def _msg_cmd(name: str, f: dict[str, Any]) -> str | None:
    """The vector_tool command that encodes a sensor -> host message (None for requests)."""
    if name == "DeviceInfo":
        fw = f["firmware"]
        return (f"msg device_info {f['device_id']} {fw[0]} {fw[1]} {fw[2]} "
                f"{f['protocol_version']} {f['sample_rate_hz']} {f['acc_range_g']} "
                f"{f['gyr_range_dps']} {float(f['acc_lsb_ms2'])!r} {float(f['gyr_lsb_rads'])!r} "
                f"{f['mounting_hint']} {_hex(f['name'].encode())}")
    if name == "SampleBatch":
        return f"msg sample_batch {f['device_time_us']} {f['sample_counter']} {_hex(f['counts'])}"
    if name == "TimeSync":
        return f"msg time_sync {f['host_time_us']} {f['device_time_us']}"
    if name == "Status":
        return ("msg status {battery_pct} {battery_mv} {storage_used_bytes} {storage_free_bytes} "
                "{state} {n_runs} {device_time_us}").format(**f)
    if name == "Catalogue":
        runs = " ".join(f"{r['run_id']} {r['start_unix_ms']} {r['size']} {r['crc32']}"
                        for r in f["runs"])
        return f"msg catalogue {len(f['runs'])} {runs}".rstrip()
    if name == "RunChunk":
        return f"msg run_chunk {f['run_id']} {f['offset']} {_hex(f['data'])}"
    if name == "RunErased":
        return f"msg run_erased {f['run_id']}"
    if name == "ConfigValue":
        return f"msg config_value {f['key']} {_hex(f['value'])}"
    if name == "Event":
        return f"msg event {f['code']} {f['device_time_us']} {f['value']}"
    if name == "Ack":
        return f"msg ack {f['request_type']}"
    if name == "Error":
        return f"msg error {f['code']} {f['request_type']} {_hex(f['text'].encode())}"
    return None


_REQ_NAMES = {
    "DeviceInfoRequest": "device_info_request", "TimeSyncRequest": "time_sync_request",
    "StatusRequest": "status_request", "CatalogueRequest": "catalogue_request",
    "RunRead": "run_read", "RunErase": "run_erase", "ConfigGet": "config_get",
    "ConfigSet": "config_set", "StreamStart": "stream_start", "StreamStop": "stream_stop",
    "RecordStart": "record_start", "RecordStop": "record_stop",
}


def _req_answer(msg: m.AnyMessage) -> str:
    """What ``vector_tool req`` prints for a decoded request."""
    name = _REQ_NAMES[type(msg).__name__]
    if isinstance(msg, m.TimeSyncRequest):
        return f"{name} {msg.host_time_us}"
    if isinstance(msg, m.RunRead):
        return f"{name} {msg.run_id} {msg.offset} {msg.length}"
    if isinstance(msg, m.RunErase):
        return f"{name} {msg.run_id} {msg.crc32}"
    if isinstance(msg, m.ConfigGet):
        return f"{name} {msg.key}"
    if isinstance(msg, m.ConfigSet):
        return f"{name} {msg.key} {_hex(msg.value)}"
    return name


def _header_args(h: dict[str, Any]) -> str:
    floats = [h["acc_lsb_ms2"], h["gyr_lsb_rads"], *h["acc_offset_ms2"], *h["acc_gain"],
              *h["gyr_offset_rads"]]
    return " ".join([str(h[k]) for k in (
        "format_version", "device_id", "run_id", "boot_id", "sample_rate_hz", "start_unix_ms",
        "start_device_time_us", "acc_range_g", "mounting_hint", "gyr_range_dps")]
        + [repr(float(x)) for x in floats] + [str(x) for x in h["firmware"]])


def _run_cmds(v: dict[str, Any]) -> list[str]:
    cmds = [f"run_begin {'auto' if v['packed'] else 'raw'} {_header_args(v['header'])}"]
    for op in v["ops"]:
        if op["op"] == "samples" and "block_samples" in v:  # a batch spanning blocks
            cmds.append(f"run_batch {v['header']['sample_rate_hz']} {v['block_samples']} "
                        f"{op['device_time_us']} {_hex(op['counts'])}")
        elif op["op"] == "samples":
            cmds.append(f"run_samples {op['device_time_us']} {_hex(op['counts'])}")
        elif op["op"] == "event":
            cmds.append(f"run_event {op['code']} {op['device_time_us']} {op['value']}")
        elif op["op"] == "time":
            cmds.append(f"run_time {op['device_time_us']} {op['unix_ms']}")
        elif op["op"] == "lost":
            cmds.append(f"run_lost {op['n']}")
        else:
            cmds.append("run_end")
    return cmds


def _c_events(records: Iterable[dict[str, Any]]) -> str:
    """Decoder event records rendered the way vector_tool prints them."""
    out = []
    for e in records:
        kind = e["event"]
        if kind == "received":
            out.append(f"R t={e['type']} s={e['seq']} b={e['boot_id']} v={e['version']} "
                       f"f={e['n_frames']} p={_hex(e['payload'])}")
        elif kind == "dropped":
            out.append(f"D k={e['kind']} o={e['offset']} n={e['n_bytes']}")
        elif kind == "lost":
            out.append(f"L n={e['n_frames']} s={e['seq']} b={e['boot_id']}")
        else:
            out.append(f"B o={e['old_boot_id']} n={e['new_boot_id']}")
    return " ; ".join(out) or "-"


def _rx_cmd(stream: bytes, chunks: str = "0") -> str:
    return f"rx {RX_CAP} {ASM_CAP} {chunks} {_hex(stream)}"


def _chunk_spec(rng: np.random.Generator, n: int = 40) -> str:
    sizes = np.where(rng.random(n) < 0.8, rng.integers(1, 40, n), rng.integers(40, 1500, n))
    return ",".join(str(int(s)) for s in sizes)


def _compare(tool: Tool, cases: Sequence[tuple[str, str, str]]) -> None:
    """cases: (label, command, expected answer). Reports every mismatch at once."""
    answers = tool.run([c for _, c, _ in cases])
    bad = [(label, want[:120], got[:120]) for (label, _, want), got
           in zip(cases, answers, strict=True) if got != want]
    assert not bad, f"{len(bad)} of {len(cases)} differ, first: {bad[:3]}"


# --------------------------------------------------------------------------- golden vectors
def test_crc_and_cobs_vectors(tool: Tool) -> None:
    cases = []
    for v in g.load("crc.json")["vectors"]:
        cases += [(v["name"], f"crc16 {_hex(v['data'])}", v["crc16"]),
                  (v["name"], f"crc32 {_hex(v['data'])}", v["crc32"])]
    for v in g.load("cobs.json")["vectors"]:
        if "data" in v:
            cases += [(v["name"], f"cobs {_hex(v['data'])}", v["encoded"]),
                      (v["name"], f"uncobs {v['encoded']}", _hex(v["data"]))]
        elif "decoded" in v:
            cases.append((v["name"], f"uncobs {v['encoded']}", _hex(v["decoded"])))
        else:
            cases.append((v["name"], f"uncobs {v['encoded']}", "err cobs"))
    _compare(tool, cases)


def test_frame_vectors(tool: Tool) -> None:
    cases = []
    for v in g.load("frames.json")["vectors"]:
        cases += [(v["name"], _frame_cmd("frame", v), v["frame"]),
                  (v["name"], _frame_cmd("stream", v), v["stream"])]
    _compare(tool, cases)


def test_message_vectors(tool: Tool) -> None:
    cases = []
    for v in g.load("messages.json")["vectors"]:
        name = v["name"]
        for mode, want in (("packet", " ".join(v["frames"])), ("stream", v["stream"])):
            cases.append((f"{name}/{mode}", f"frag {mode} 1 {v['boot_id']} {v['seq']} {v['type']} "
                          f"{v['max_payload']} {_hex(v['payload'])}", want))
        if v["direction"] == "sensor_to_host":
            cmd = _msg_cmd(v["message"], v["fields"])
            assert cmd is not None, name
            cases.append((name, cmd, _hex(v["payload"])))
        else:
            msg = g.message_from_fields(v["message"], v["fields"])
            cases.append((name, f"req {v['type']} {_hex(v['payload'])}", _req_answer(msg)))
    _compare(tool, cases)


def test_fragment_vectors(tool: Tool) -> None:
    cases = []
    for v in g.load("fragments.json")["vectors"]:
        for mode, want in (("packet", " ".join(v["frames"])), ("stream", v["stream"])):
            cases.append((v["name"], f"frag {mode} 1 {v['boot_id']} {v['seq']} {v['type']} "
                          f"{v['max_payload']} {_hex(v['body'])}", want))
    _compare(tool, cases)


def test_sample_vectors(tool: Tool) -> None:
    cases = []
    for v in g.load("samples.json")["vectors"]:
        args = f"{v['first_sample_index']} {v['device_time_us']} {v['counts']}"
        cases += [(v["name"], f"samples {v['mode']} {args}", v["block"]),
                  (v["name"], f"packed {args}", v["packed_payload"])]
    _compare(tool, cases)


def test_run_vectors(tool: Tool) -> None:
    for v in g.load("runs.json")["vectors"]:
        cmds = _run_cmds(v)
        answers = tool.run(cmds)
        assert "".join(a for a in answers if a != "-") == v["file"], v["name"]
        header_only = tool.run([f"runheader {_header_args(v['header'])}"])[0]
        assert header_only == v["file"][:192]


def test_stream_decode_vectors_whole_bytewise_and_chunked(tool: Tool) -> None:
    rng = np.random.default_rng(2001)
    cases = []
    for v in g.load("stream_decode.json")["vectors"]:
        if not v["c_receiver"]:
            continue
        data = bytes.fromhex(v["stream"])
        want = _c_events(v["events"])
        cases += [(f"{v['name']}/whole", _rx_cmd(data), want),
                  (f"{v['name']}/bytes", _rx_cmd(data, "1"), want)]
        cases += [(f"{v['name']}/chunks{k}", _rx_cmd(data, _chunk_spec(rng)), want)
                  for k in range(3)]
    _compare(tool, cases)


def test_packet_decode_vectors(tool: Tool) -> None:
    cases = []
    for v in g.load("packet_decode.json")["vectors"]:
        if v["c_receiver"]:
            packets = ",".join(_hex(p) for p in v["packets"])
            cases.append((v["name"], f"pkt {ASM_CAP} {packets}", _c_events(v["events"])))
    _compare(tool, cases)


def _c_answers(answers: Iterable[dict[str, Any]]) -> str:
    return " ; ".join(f"H t={a['type']}" if a["answer"] == "serve"
                      else f"E c={a['code']} t={a['request_type']}" for a in answers) or "-"


def test_answer_vectors(tool: Tool) -> None:
    """imr_reply_for gives every answer of answers.json (a receive buffer of 65536 bytes);
    the tool also lists the frames imr_frame_decode dropped ("D ..."), which get no answer."""
    vectors = g.load("answers.json")["vectors"]
    got = tool.run([f"answer {ASM_CAP} {','.join(v['packets'])}" for v in vectors])
    bad = [(v["name"], want, line) for v, line in zip(vectors, got, strict=True)
           if (want := _c_answers(v["answers"])) != (
               " ; ".join(a for a in line.split(" ; ") if not a.startswith("D ")) or "-")]
    assert not bad, bad[:3]


def test_the_c_receiver_skips_only_sensor_to_host_decode_vectors() -> None:
    """The firmware decodes requests only; every vector it skips carries sensor -> host frames."""
    assert all(v["c_receiver"] for v in g.load("stream_decode.json")["vectors"])
    skipped = [v for v in g.load("packet_decode.json")["vectors"] if not v["c_receiver"]]
    assert skipped
    for v in skipped:
        types = {bytes.fromhex(p)[1] for p in v["packets"]}
        assert not types & g.REQUEST_TYPES, v["name"]


# --------------------------------------------------------------------------- buffer capacities
def test_encoders_respect_exact_and_short_buffers(tool: Tool) -> None:
    """Each encoder succeeds with exactly the bytes it needs and fails cleanly with one less."""
    cmds: list[tuple[str, str]] = []
    for v in g.load("messages.json")["vectors"]:
        cmd = _msg_cmd(v["message"], v["fields"])
        if cmd is not None:
            cmds.append((cmd, v["payload"]))
        if len(v["frames"]) == 1:
            cmds.append((f"frag packet 1 {v['boot_id']} {v['seq']} {v['type']} 1024 "
                         f"{_hex(v['payload'])}", v["frames"][0]))
            cmds.append((f"frag stream 1 {v['boot_id']} {v['seq']} {v['type']} 1024 "
                         f"{_hex(v['payload'])}", v["stream"]))
    for v in g.load("frames.json")["vectors"]:
        cmds += [(_frame_cmd("frame", v), v["frame"]), (_frame_cmd("stream", v), v["stream"])]
    for v in g.load("samples.json")["vectors"]:
        args = f"{v['first_sample_index']} {v['device_time_us']} {v['counts']}"
        cmds += [(f"samples {v['mode']} {args}", v["block"]), (f"packed {args}", v["packed_payload"])]
    for v in g.load("cobs.json")["vectors"]:
        if "data" in v:
            cmds.append((f"cobs {_hex(v['data'])}", v["encoded"]))
    v = g.load("runs.json")["vectors"][0]
    cmds.append((f"runheader {_header_args(v['header'])}", v["file"][:192]))
    lines: list[str] = []
    expect: list[str] = []
    for cmd, want in cmds:
        size = len(want.replace("-", "")) // 2
        lines += [f"cap {size}", cmd]
        expect += ["", want or "-"]
        if size > 0:
            lines += [f"cap {size - 1}", cmd]
            expect += ["", "err buffer"]
    lines.append("cap -")
    expect.append("")
    answers = tool.run(lines)
    bad = [(q[:80], w[:40], a[:40]) for q, w, a in zip(lines, expect, answers, strict=True)
           if w != a]
    assert not bad, bad[:5]


def test_receiver_with_a_small_buffer_reports_overflow(tool: Tool) -> None:
    small = Encoder(seq=0).stream_bytes(m.ConfigGet(1))
    big = Encoder(seq=1).stream_bytes(m.ConfigSet(4, bytes(range(1, 65))))
    tail = Encoder(seq=2).stream_bytes(m.StatusRequest())
    cap = len(small) - 1  # holds the small frame, not the big one
    assert len(big) - 1 > cap
    answer = tool.run([f"rx {cap} 128 1 {_hex(small + big + tail)}"])[0]
    assert answer == (f"R t=48 s=0 b=0 v=1 f=1 p=01 ; D k=overflow o={len(small)} n={cap + 1} ; "
                      "L n=1 s=2 b=0 ; R t=19 s=2 b=0 v=1 f=1 p=-")


def test_assembler_bounded_by_its_buffer(tool: Tool) -> None:
    frames = Encoder(seq=0).frames(m.ConfigSet(4, bytes(range(1, 65))), 9)  # 65 bytes in 8
    packets = ",".join(bytes(f).hex() for f in frames)
    ok = tool.run([f"pkt 65 {packets}"])[0]
    assert ok.startswith("R t=49 s=7 b=0 v=1 f=8 p=04")
    # 40 bytes of room: dropped at the 5th frame (45 bytes), the rest skipped silently, and the
    # next message is received normally.
    after = Frame(0x13, b"", seq=8)
    dropped = tool.run([f"pkt 40 {packets},{bytes(after).hex()}"])[0]
    offset = sum(len(bytes(f)) for f in frames[:4])
    assert dropped == (f"D k=too_large o={offset} n={len(bytes(frames[4]))} ; "
                       "R t=19 s=8 b=0 v=1 f=1 p=-")


def _fragments(mtype: int, body: bytes, part: int, seq: int) -> list[bytes]:
    """``body`` as frames of ``part`` bytes by the continuation rule (any type, any length)."""
    parts = [body[i:i + part] for i in range(0, len(body), part)] or [b""]
    out = []
    for i, p in enumerate(parts):
        flags = (FrameFlags.MORE if i < len(parts) - 1 else FrameFlags.NONE) | (
            FrameFlags.CONT if i > 0 else FrameFlags.NONE)
        out.append(bytes(Frame(mtype, p, seq=(seq + i) % 65536, flags=flags)))
    return out


def _python_answers(packets: Sequence[bytes]) -> str:
    """What the virtual sensor (imurun.sim.firmware) answers to ``packets``, as vector_tool prints."""
    from imurun.sim.firmware import VirtualSensor  # answers malformed / oversized messages

    dec = PacketDecoder()
    out = []
    for ev in [e for p in packets for e in dec.feed(p)]:
        if isinstance(ev, Received):
            t = m.message_type(ev.message)
            out.append(f"H t={t}" if t in m.REQUEST_TYPES else f"E c=1 t={t}")
        elif isinstance(ev, Dropped) and ev.msg_type is not None:
            err = VirtualSensor.malformed(ev.msg_type)[0]
            assert isinstance(err, m.Error)
            out.append(f"E c={err.code} t={err.request_type}")
    return " ; ".join(out) or "-"


def test_every_request_is_answered_even_one_longer_than_the_buffer(tool: Tool) -> None:
    """Regression: a request longer than the firmware's 128-byte buffer was dropped without an
    answer (the README's loop skipped every assembler event but a message), so the host waited
    for its timeout. SPEC §2: ERROR 2 once, at the fragment that does not fit; a message of a
    type that is no request ERROR 1; the C reference and the virtual sensor agree."""
    status = bytes(Frame(0x13, b"", seq=20))
    # RUN_READ with 188 bytes a newer host appended: valid, but longer than 128 bytes
    long_read = _fragments(0x22, m.RunRead(7, 0, 100).payload() + bytes(188), 50, 0)
    long_unknown = _fragments(0x99, bytes(300), 100, 10)
    packets = [*long_read, status]
    assert tool.run([f"answer 128 {','.join(_hex(p) for p in packets)}"]) == [
        "E c=2 t=34 ; H t=19"]
    assert tool.run([f"answer 65536 {','.join(_hex(p) for p in packets)}"]) == [
        "H t=34 ; H t=19"]
    packets = [*long_unknown, status]
    assert tool.run([f"answer 128 {','.join(_hex(p) for p in packets)}"]) == [
        "E c=1 t=153 ; H t=19"]
    # The same rules at the protocol's own bound (MAX_MESSAGE_SIZE): C and Python agree.
    huge = _fragments(0x31, b"\x04" + bytes(66 * 1024), 1024, 30)
    huge_unknown = _fragments(0x99, bytes(66 * 1024), 1024, 200)
    cases = [("oversized CONFIG_SET", [*huge, bytes(Frame(0x13, b"", seq=30 + len(huge)))]),
             ("oversized unknown type", [*huge_unknown, bytes(Frame(0x13, b"", seq=200 + len(
                 huge_unknown)))]),
             ("malformed CONFIG_GET", [bytes(Frame(0x30, b"", seq=1))]),
             ("unknown type", [bytes(Frame(0x99, b"x", seq=1))]),
             ("a sensor -> host type", [bytes(Frame(0x02, b"", seq=1))]),
             ("long RUN_READ", long_read)]
    want = {"oversized CONFIG_SET": "E c=2 t=49 ; H t=19",
            "oversized unknown type": "E c=1 t=153 ; H t=19",
            "malformed CONFIG_GET": "E c=2 t=48", "unknown type": "E c=1 t=153",
            "a sensor -> host type": "E c=1 t=2", "long RUN_READ": "H t=34"}
    for label, pk in cases:
        assert _python_answers(pk) == want[label], label
    _compare(tool, [(label, f"answer {ASM_CAP} {','.join(_hex(p) for p in pk)}", want[label])
                    for label, pk in cases])


# --------------------------------------------------------------------------- randomized
def _random_counts(rng: np.random.Generator, n: int) -> npt.NDArray[np.int16]:
    kind = int(rng.integers(0, 7))
    if kind == 0:
        return g.running_counts(rng, n, float(rng.uniform(0, 6)))
    if kind == 1:
        return np.stack([g.random_walk(rng, n, float(rng.uniform(0.1, 500))) for _ in range(6)], 1)
    if kind == 2:
        amp = int(2 ** rng.integers(0, 16))
        return rng.integers(-amp, amp, (n, 6)).astype(np.int16)
    if kind == 3:
        return np.full((n, 6), rng.integers(-32768, 32768, 6), np.int16)
    if kind == 4:
        return rng.choice(np.array([-32768, -32767, -1, 0, 1, 32766, 32767], np.int16), (n, 6))
    if kind == 5:
        base = g.running_counts(rng, n)
        spikes = rng.random((n, 6)) < 0.01
        base[spikes] = rng.integers(-32768, 32768, int(spikes.sum()))
        return base
    return rng.integers(-32768, 32768, (n, 6)).astype(np.int16)


def test_random_sample_blocks(tool: Tool) -> None:
    rng = np.random.default_rng(3001)
    cases = []
    for k in range(160):
        n = int(rng.choice([1, 2, 3, 31, 32, 33, 63, 64, 65])) if k % 3 == 0 else int(
            rng.integers(1, 1025))
        c = _random_counts(rng, n)
        first, t_us = int(rng.integers(0, 2**32)), int(rng.integers(0, 2**63, dtype=np.uint64))
        args = f"{first} {t_us} {g.counts_hex(c)}"
        cases += [
            (f"auto{k}", f"samples auto {args}", encode_samples_block(c, first, t_us).hex()),
            (f"packed{k}", f"packed {args}", encode_samples_packed(c, first, t_us).hex()),
        ]
        if k % 4 == 0:
            cases.append((f"raw{k}", f"samples raw {args}",
                          encode_samples_block(c, first, t_us, packed=False).hex()))
    _compare(tool, cases)


def test_random_payloads_frames_cobs_and_crcs(tool: Tool) -> None:
    rng = np.random.default_rng(3002)
    cases = []
    for k in range(300):
        n = int(rng.choice([0, 1, 253, 254, 255, 508, 1024])) if k % 5 == 0 else int(
            rng.integers(0, 1025))
        zero_p = float(rng.choice([0.0, 0.01, 0.3, 1.0]))
        data = np.where(rng.random(n) < zero_p, 0, rng.integers(1, 256, n)).astype(np.uint8).tobytes()
        f = Frame(int(rng.integers(0, 256)), data, int(rng.integers(0, 65536)),
                  int(rng.integers(0, 65536)), FrameFlags(int(rng.integers(0, 256))),
                  int(rng.integers(1, 256)))
        v = {"version": f.version, "type": f.type, "flags": int(f.flags), "seq": f.seq,
             "boot_id": f.boot_id, "payload": data.hex()}
        cases += [(f"crc16/{k}", f"crc16 {_hex(data)}", f"{crc16_ccitt_false(data):04x}"),
                  (f"crc32/{k}", f"crc32 {_hex(data)}", f"{crc32(data):08x}"),
                  (f"cobs/{k}", f"cobs {_hex(data)}", cobs_encode(data).hex()),
                  (f"frame/{k}", _frame_cmd("frame", v), bytes(f).hex()),
                  (f"stream/{k}", _frame_cmd("stream", v), f.encode_stream().hex())]
    _compare(tool, cases)


def test_random_cobs_decoder_inputs(tool: Tool) -> None:
    rng = np.random.default_rng(3003)
    cases = []
    for k in range(400):
        if k % 2:
            enc = bytearray(cobs_encode(rng.integers(0, 256, int(rng.integers(0, 600)),
                                                     dtype=np.uint8).tobytes()))
            for _ in range(int(rng.integers(0, 3))):  # damage some code or data bytes
                if enc:
                    enc[int(rng.integers(0, len(enc)))] = int(rng.integers(1, 256))
            if rng.random() < 0.3 and enc:
                del enc[int(rng.integers(0, len(enc))):]
        else:
            enc = bytearray(rng.integers(1, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes())
        try:
            want = _hex(cobs_decode(bytes(enc)))
        except FrameError:
            want = "err cobs"
        cases.append((f"uncobs/{k}", f"uncobs {_hex(bytes(enc))}", want))
    _compare(tool, cases)


def test_random_fragmentation(tool: Tool) -> None:
    rng = np.random.default_rng(3004)
    cases = []
    for k in range(100):
        body = rng.integers(0, 256, int(rng.integers(0, 3000)), dtype=np.uint8).tobytes()
        maxp = int(rng.choice([1, 9, 20, 171, 244, 1023, 1024])) if k % 2 else int(
            rng.integers(1, 1025))
        seq, boot, mtype = int(rng.integers(0, 65536)), int(rng.integers(0, 65536)), int(
            rng.integers(0, 256))
        frames = Encoder(boot_id=boot, seq=seq).frames(m.UnknownMessage(mtype, body), maxp)
        for mode, want in (("packet", " ".join(bytes(f).hex() for f in frames)),
                           ("stream", b"".join(f.encode_stream() for f in frames).hex())):
            cases.append((f"frag/{k}/{mode}",
                          f"frag {mode} 1 {boot} {seq} {mtype} {maxp} {_hex(body)}", want))
    _compare(tool, cases)


def _random_request_payload(rng: np.random.Generator) -> tuple[int, bytes]:
    mtype = int(rng.choice(sorted(g.REQUEST_TYPES)))
    return mtype, rng.integers(0, 256, int(rng.integers(0, 80)), dtype=np.uint8).tobytes()


def test_random_request_payloads(tool: Tool) -> None:
    rng = np.random.default_rng(3005)
    cases = []
    for k in range(400):
        mtype, payload = _random_request_payload(rng)
        try:
            want = _req_answer(m.decode_message(mtype, payload))
        except MessageError:
            want = "err malformed"
        cases.append((f"req/{k}", f"req {mtype} {_hex(payload)}", want))
    for mtype in (0x02, 0x10, 0x14, 0x7F, 0x99, 0x00, 0xFF):
        cases.append((f"not_request/{mtype}", f"req {mtype} 00", "err not_request"))
    _compare(tool, cases)


def _random_link(rng: np.random.Generator, n_msgs: int) -> tuple[list[bytes], bytes]:
    """Frames a host might send (and a few a sensor might), with loss, reboots, fragmentation,
    damage and garbage. Returns (packets, COBS stream).
    """
    boot, seq = 0, int(rng.integers(0, 65536))
    packets: list[bytes] = []
    stream = bytearray()
    for _ in range(n_msgs):
        r = rng.random()
        if r < 0.55:
            mtype, payload = _random_request_payload(rng)
            msg: m.AnyMessage = m.UnknownMessage(mtype, payload)
        elif r < 0.7:
            msg = m.UnknownMessage(int(rng.choice([0x05, 0x60, 0x7D, 0x80, 0x99, 0xFE])),
                                   rng.integers(0, 256, int(rng.integers(0, 300)),
                                                dtype=np.uint8).tobytes())
        else:
            sensor_msgs: list[m.AnyMessage] = [
                m.Ack(0x40), m.Event(1, 5, 6), m.RunErased(3), m.TimeSync(1, 2),
                m.Status(5, 6, 7, 8, 1, 2, 3),
                m.SampleBatch(1, 2, g.running_counts(rng, int(rng.integers(0, 85))))]
            msg = sensor_msgs[int(rng.integers(0, len(sensor_msgs)))]
        maxp = int(rng.choice([9, 20, 1024, 1024, 1024]))
        if r >= 0.7:
            # Sensor -> host messages stay whole: the firmware does not validate them, so the
            # tail of one cut by a seq gap would be delivered where Python drops it as malformed.
            maxp = 1024
        enc = Encoder(boot_id=boot, seq=seq)
        frames = enc.frames(msg, maxp)
        seq = enc.seq
        for f in frames:
            raw = bytes(f)
            roll = rng.random()
            if roll < 0.04:
                continue  # lost on the link (seq gap)
            if roll < 0.08:
                pos = int(rng.integers(0, len(raw)))
                raw = raw[:pos] + bytes([raw[pos] ^ int(rng.integers(1, 256))]) + raw[pos + 1:]
            elif roll < 0.10:
                raw = raw[:int(rng.integers(0, len(raw)))]
            packets.append(raw)
            stream += cobs_encode(raw) + b"\x00"
            if rng.random() < 0.05:
                junk = rng.integers(0, 256, int(rng.integers(1, 60)), dtype=np.uint8).tobytes()
                stream += junk + (b"\x00" if rng.random() < 0.7 else b"")
        if rng.random() < 0.03:
            boot = (boot + 1) % 65536  # the sender restarted
            seq = 0
        if rng.random() < 0.02:
            stream += rng.integers(1, 256, int(rng.integers(1000, 1200)), dtype=np.uint8).tobytes()
            stream += b"\x00"
    return packets, bytes(stream)


def test_random_streams_and_packets_against_python_decoders(tool: Tool) -> None:
    rng = np.random.default_rng(3006)
    cases = []
    for k in range(60):
        packets, stream = _random_link(rng, int(rng.integers(1, 80)))
        if rng.random() < 0.5:
            stream = rng.integers(1, 256, int(rng.integers(1, 30)), dtype=np.uint8).tobytes() + stream
        want_stream = _c_events(g.event_record(e) for e in StreamDecoder().feed(stream))
        cases += [(f"rx/{k}/whole", _rx_cmd(stream), want_stream),
                  (f"rx/{k}/bytes", _rx_cmd(stream, "1"), want_stream),
                  (f"rx/{k}/chunks", _rx_cmd(stream, _chunk_spec(rng)), want_stream)]
        dec = PacketDecoder()
        want_pkt = _c_events(g.event_record(e) for p in packets for e in dec.feed(p))
        cases.append((f"pkt/{k}", f"pkt {ASM_CAP} {','.join(_hex(p) for p in packets) or '-'}",
                      want_pkt))
    _compare(tool, cases)


def test_random_runs(tool: Tool) -> None:
    rng = np.random.default_rng(3007)
    header = g.header_fields(g._base_header(9))
    for k in range(12):
        ops: list[dict[str, Any]] = []
        t = int(rng.integers(0, 2**40))
        for _ in range(int(rng.integers(0, 12))):
            r = rng.random()
            if r < 0.6:
                n = int(rng.integers(1, 1025))
                ops.append({"op": "samples", "device_time_us": t,
                            "counts": g.counts_hex(_random_counts(rng, n))})
                t += 5000 * n
            elif r < 0.75:
                ops.append({"op": "event", "code": int(rng.integers(0, 256)),
                            "device_time_us": t, "value": int(rng.integers(0, 2**32))})
            elif r < 0.9:
                ops.append({"op": "time", "device_time_us": t,
                            "unix_ms": int(rng.integers(0, 2**63))})
            else:
                ops.append({"op": "lost", "n": int(rng.integers(0, 5000))})
        if rng.random() < 0.7:
            ops.append({"op": "end"})
        packed = bool(rng.random() < 0.8)
        v = {"header": header, "packed": packed, "ops": ops}
        data, _ = g.write_run(g.header_from_fields(header), packed, ops)
        answers = tool.run(_run_cmds(v))
        assert "".join(a for a in answers if a != "-") == data.hex(), f"run {k}"


def test_sample_block_encoders_refuse_times_the_reader_rejects(tool: Tool) -> None:
    """Regression: imr_block_samples wrote a block time >= 2**63, which read_run discards."""
    counts = _hex(bytes(12 * 4))
    cases = []
    for t_us in (2**63, 2**64 - 1):
        cases += [(f"auto/{t_us}", f"samples auto 0 {t_us} {counts}", "err arg"),
                  (f"raw/{t_us}", f"samples raw 0 {t_us} {counts}", "err arg"),
                  (f"packed/{t_us}", f"packed 0 {t_us} {counts}", "err arg")]
    cases.append(("largest", f"samples auto 0 {2**63 - 1} {counts}",
                  encode_samples_block(np.zeros((4, 6), np.int16), 0, 2**63 - 1).hex()))
    _compare(tool, cases)


@pytest.mark.parametrize(("field", "value"), [
    ("sample_rate_hz", 0), ("acc_lsb_ms2", 0.0), ("gyr_lsb_rads", 0.0), ("acc_lsb_ms2", -1.0),
    ("gyr_lsb_rads", float("nan")), ("acc_lsb_ms2", float("inf")), ("gyr_lsb_rads", 1e39)])
def test_both_writers_refuse_a_header_the_spec_forbids(tool: Tool, field: str, value: float) -> None:
    """SPEC §5.1: a firmware never writes a rate of 0 or an invalid scale factor (a reader
    reads the blocks of such a run all the same: runs_corrupt.json, header_zero_*). The C
    writer and Python's refuse the same headers, and a header read back from such a file
    cannot be given to a writer."""
    from firmware_protocol.errors import RunFormatError
    from firmware_protocol.runfile import RunWriter, read_run

    fields = g.header_fields(g._base_header(1))
    bad = {**fields, field: value}
    assert tool.run([f"runheader {_header_args(bad)}"]) == ["err arg"]
    with pytest.raises(RunFormatError):
        g.header_from_fields(bad)
    v = next(x for x in g.load("runs_corrupt.json")["vectors"]
             if x["name"] == "header_zero_rate_valid_crc")
    read_back = read_run(bytes.fromhex(v["file"])).header
    assert read_back.problems == ("sample_rate_hz is 0",)
    with pytest.raises(RunFormatError, match="never writes"):
        RunWriter(read_back)
