"""Untrusted files: every importer, fed mutated files, loads a sound recording or says why not.

The contract (docs/formats.md, "Bad input"): :func:`imurun.load_recording` given a damaged file
of any supported kind (generic CSV in several dialects, Xsens MT Manager text, Sensor Logger
folder, zip and JSON, phyphox zip and folder, session ``.imrs``, stored run ``.imrn``) either
returns a :class:`~imurun.Recording` that holds its invariants (finite times increasing within
each segment, shapes that agree, values an IMU can measure, a gap where time jumps) or raises
one of the project's errors, one line naming the file. Never a bare ``ValueError``,
``IndexError``, ``csv.Error``, ``zipfile.BadZipFile``, ``UnicodeDecodeError`` or a NumPy warning
(``filterwarnings = error`` turns those into failures here), and never a hang: the seeds are a
few hundred samples and the mutations add at most a few dozen bytes.

``imurun info`` on a sample of the mutants exits 0, or 3 (a file error) with one line on
standard error and no traceback.

A wider search: ``IMURUN_FUZZ_EXAMPLES=500 HYPOTHESIS_PROFILE=explore pytest tests/test_file_fuzz.py``.

Seeds are written by the support modules the other importer tests use (``ingest_support``,
``phyphox_support``) or by the small generators below, from ``ingest_support.motion``.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ingest_support import clean_script, motion, mt_export, write_csv, write_session
from phyphox_support import Export

from imurun.cli import EXIT_FILE, EXIT_OK, main
from imurun.consts import DEG2RAD, G_MS2
from imurun.errors import FileFormatError, ImurunError, IngestError, UsageError
from imurun.ingest.files import load_recording
from imurun.ingest.recording import Recording

CORPUS_DIR = Path(__file__).resolve().parent / "fuzz_corpus"
N = 240  # samples of each seed (2.4 s at 100 Hz): small, so that no mutant can be slow
T0_NS = 1_732_000_000_000_000_000
SL_META = ("version,device name,recording epoch time,recording time,recording timezone,"
           "platform,appVersion,device id,sensors,sampleRateMs,standardisation,"
           "platform version\n3,phone,1732000000000,2024-11-19_08-06-40,UTC,{platform},1.40,"
           "id,Accelerometer|Gravity|Gyroscope,10|10|10,false,17\n")
#: What a recording read from any file may hold: no IMU measures beyond these.
MAX_ACC_MS2 = 400.0 * G_MS2
MAX_GYR_RADS = 4000.0 * DEG2RAD
#: Examples per fuzz test (a wider search sets IMURUN_FUZZ_EXAMPLES).
EXAMPLES = int(os.environ.get("IMURUN_FUZZ_EXAMPLES", "30"))


# ----------------------------------------------------------------------------------- seeds
@cache
def _signals() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return motion(N)


def _rows(cols: list[np.ndarray], sep: str = ",", fmt: str = "{:.6f}", decimal: str = ".",
          ) -> str:
    table = np.column_stack(cols)
    return "".join(sep.join(fmt.format(v).replace(".", decimal) for v in r) + "\n"
                   for r in table)


def _csv_plain() -> bytes:
    t, acc, gyr = _signals()
    with tempfile.TemporaryDirectory() as d:
        return write_csv(Path(d) / "x.csv", t, acc, gyr).read_bytes()


def _csv_semicolon_comma() -> bytes:
    """A spreadsheet's: ``sep=;``, decimal commas, a units row, gyroscope in deg/s."""
    t, acc, gyr = _signals()
    head = "sep=;\ntime_s;acc_x;acc_y;acc_z;gyr_x;gyr_y;gyr_z\ns;m/s2;;;deg/s;;\n"
    return (head + _rows([t, acc, gyr / DEG2RAD], ";", decimal=",")).encode()


def _csv_unix_ns() -> bytes:
    """A logger's: ``# start_unix_s:`` comment, ns since the epoch, acceleration in g."""
    t, acc, _ = _signals()
    ns = [str(T0_NS + round(s * 1e9)) for s in t]
    body = "".join(f"{n},{a[0] / G_MS2:.5f},{a[1] / G_MS2:.5f},{a[2] / G_MS2:.5f}\n"
                   for n, a in zip(ns, acc, strict=True))
    return ("# logger v1\n# start_unix_s: 1732000000\ntimestamp_ns,accX (g),accY (g),accZ (g)\n"
            + body).encode()


def _csv_iso() -> bytes:
    t, acc, _ = _signals()
    t0 = datetime.datetime(2024, 11, 19, 8, 0, tzinfo=datetime.UTC)
    rows = "".join(f"{(t0 + datetime.timedelta(seconds=float(s))).isoformat()},"
                   f"{a[0]:.4f},{a[1]:.4f},{a[2]:.4f}\n" for s, a in zip(t, acc, strict=True))
    return ("time,acc_x,acc_y,acc_z\n" + rows).encode()


def _xsens() -> bytes:
    t, acc, gyr = _signals()
    with tempfile.TemporaryDirectory() as d:
        return mt_export(Path(d) / "x.txt", np.arange(N), acc, gyr,
                         stf=np.arange(N) * 100).read_bytes()


def _xsens_counter() -> bytes:
    """The other dialect: an ``Acquisition frequency`` line, time from ``PacketCounter``."""
    _, acc, gyr = _signals()
    head = "Acquisition frequency: 100 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\tGyr_X\tGyr_Y\tGyr_Z\n"
    return (head + _rows([np.arange(N) + 65500, acc, gyr], "\t")).encode()


def _sensor_logger(platform: str = "android") -> dict[str, bytes]:
    t, acc, gyr = _signals()
    grav = np.tile([0.0, 0.0, G_MS2], (N, 1))

    def sensor(xyz: np.ndarray) -> bytes:
        return ("time,seconds_elapsed,z,y,x\n" + "".join(
            f"{T0_NS + round(s * 1e9)},{s:.9f},{v[2]:.6f},{v[1]:.6f},{v[0]:.6f}\n"
            for s, v in zip(t, xyz, strict=True))).encode()

    return {"Accelerometer.csv": sensor(acc - grav), "Gravity.csv": sensor(grav),
            "Gyroscope.csv": sensor(gyr),
            "Metadata.csv": SL_META.format(platform=platform).encode()}


def _sensor_logger_json() -> bytes:
    t, acc, gyr = _signals()
    recs: list[dict[str, str]] = []
    for name, xyz in (("TotalAcceleration", acc), ("Gyroscope", gyr)):
        recs += [{"sensor": name, "time": str(T0_NS + round(s * 1e9)),
                  "seconds_elapsed": repr(float(s)), "z": repr(float(v[2])),
                  "y": repr(float(v[1])), "x": repr(float(v[0]))}
                 for s, v in zip(t, xyz, strict=True)]
    recs.append({"sensor": "Metadata", "platform": "android", "standardisation": "false"})
    return json.dumps(recs, indent=1).encode()


def _phyphox(sep: str = ",", decimal: str = ".") -> dict[str, bytes]:
    t, acc, gyr = _signals()
    ex = Export(t, acc, t + 0.003, gyr, pauses=[(1.0, 0.4)], sep=sep, decimal=decimal)
    return {k: v.encode() for k, v in ex.files().items()}


def _session() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        return write_session(Path(d) / "s.imrs", clean_script(1.0).bursts()).read_bytes()


#: kind -> (file name, its bytes): one file.
FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    "csv": ("run.csv", _csv_plain),
    "csv-semicolon-comma": ("run.csv", _csv_semicolon_comma),
    "csv-unix-ns": ("log.csv", _csv_unix_ns),
    "csv-iso": ("phone.csv", _csv_iso),
    "xsens": ("MT_0001.txt", _xsens),
    "xsens-counter": ("subject_lb.txt", _xsens_counter),
    "sensorlogger-json": ("2024-11-19_08-06-40.json", _sensor_logger_json),
    "session": ("run.imrs", _session),
    "stored-run": ("run.imrn", lambda: (CORPUS_DIR / "run-full.imrn").read_bytes()),
}
#: kind -> (export name, its files): written as a folder, a zip, or a folder read by one file.
EXPORTS: dict[str, tuple[str, Callable[[], dict[str, bytes]]]] = {
    "sensorlogger": ("2024-11-19_08-06-40", _sensor_logger),
    "sensorlogger-ios": ("2024-11-19_08-06-41", lambda: _sensor_logger("ios")),
    "phyphox": ("Acceleration 2024-11-19 08-00-00", _phyphox),
    "phyphox-decimal-comma": ("Acceleration 2024-11-19 08-00-01", lambda: _phyphox(";", ",")),
}
FORMS = ("folder", "zip", "one-file")


@cache
def seed_file(kind: str) -> bytes:
    return FILES[kind][1]()


@cache
def seed_export(kind: str) -> dict[str, bytes]:
    return EXPORTS[kind][1]()


# ------------------------------------------------------------------------------- mutations
#: What a damaged number, a wrong editor or a stray keystroke puts into a file.
TOKENS = [b"", b"nan", b"NaN", b"inf", b"-inf", b"1e308", b"-1e308", b"1e999", b"9" * 40,
          b"0", b"-0", b"1e-320", b"1e30", b"0x1p3", b"1_0", b"\xc3\xa9", b"\xe2\x88\x92",
          b"\xff", b"\x00", b",", b";", b"\t", b"\r", b"\r\n", b"\n", b'"', b"#", b"//",
          b"1,5", b"\xef\xbb\xbf", b"sep=;", b"2024-11-19T08:00:00Z", b"{", b"]"]
#: Separator and header edits: (what, by what).
SWAPS = [(b",", b";"), (b",", b"\t"), (b"\t", b","), (b";", b","), (b".", b","),
         (b"acc", b"gyr"), (b"time", b"tick"), (b"Acc_X", b"AccX"), (b'"', b""),
         (b"seconds_elapsed", b"elapsed"), (b"START", b"PAUSE"), (b"Time (s)", b"t"),
         (b"platform", b"os"), (b"\n", b"\n\n")]
_NUMBER = re.compile(rb"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")

pos = st.integers(0, 1 << 20)
op_strategy = st.one_of(
    st.tuples(st.just("flip"), pos, st.integers(0, 7)),
    st.tuples(st.just("insert"), pos, st.sampled_from(TOKENS)),
    st.tuples(st.just("delete"), pos, st.integers(1, 16)),
    st.tuples(st.just("truncate"), pos),
    st.tuples(st.just("dup-line"), pos, pos),
    st.tuples(st.just("swap-lines"), pos, pos),
    st.tuples(st.just("number"), pos, st.sampled_from(TOKENS)),
    st.tuples(st.just("line-ends"), st.sampled_from([b"\r\n", b"\r"])),
    st.tuples(st.just("prefix"), st.sampled_from([b"\xef\xbb\xbf", b"\xff\xfe", b"\n\n",
                                                   b"# note\n", b"\x00"])),
    st.tuples(st.just("swap"), st.sampled_from(SWAPS), st.integers(1, 3)),
)
ops_strategy = st.lists(op_strategy, min_size=1, max_size=4)
Op = tuple[object, ...]


def mutate(data: bytes, ops: list[Op]) -> bytes:
    """``data`` with ``ops`` applied in turn (positions are taken modulo the length)."""
    for op in ops:
        name, args = op[0], op[1:]
        n = len(data)
        if name == "flip" and n:
            i = int(args[0]) % n  # type: ignore[call-overload]
            data = data[:i] + bytes([data[i] ^ (1 << int(args[1]))]) + data[i + 1:]  # type: ignore[call-overload]
        elif name == "insert":
            i = int(args[0]) % (n + 1)  # type: ignore[call-overload]
            data = data[:i] + args[1] + data[i:]  # type: ignore[operator]
        elif name == "delete" and n:
            i = int(args[0]) % n  # type: ignore[call-overload]
            data = data[:i] + data[i + int(args[1]):]  # type: ignore[call-overload]
        elif name == "truncate":
            data = data[:int(args[0]) % (n + 1)]  # type: ignore[call-overload]
        elif name in ("dup-line", "swap-lines"):
            lines = data.split(b"\n")
            i, j = (int(a) % len(lines) for a in args)  # type: ignore[call-overload]
            if name == "dup-line":
                lines.insert(j, lines[i])
            else:
                lines[i], lines[j] = lines[j], lines[i]
            data = b"\n".join(lines)
        elif name == "number":
            found = list(_NUMBER.finditer(data))
            if found:
                m = found[int(args[0]) % len(found)]  # type: ignore[call-overload]
                data = data[:m.start()] + args[1] + data[m.end():]  # type: ignore[operator]
        elif name == "line-ends":
            data = data.replace(b"\n", args[0])  # type: ignore[arg-type]
        elif name == "prefix":
            data = args[0] + data  # type: ignore[operator]
        elif name == "swap":
            (a, b), count = args  # type: ignore[misc]
            data = data.replace(a, b, count)
    return data


#: What is done to one file of an export: its bytes mutated, or the file gone, empty, or a
#: directory in its place.
member_strategy = st.tuples(st.integers(0, 15),
                            st.sampled_from(["mutate"] * 6 + ["drop", "empty", "directory"]),
                            ops_strategy)


def write_export(root: Path, kind: str, form: str, edits: list[tuple[int, str, list[Op]]],
                 zip_ops: list[Op]) -> Path:
    """The export ``kind`` with ``edits`` made, as ``form``; the path to give the loader."""
    name, _ = EXPORTS[kind]
    files = dict(seed_export(kind))
    dirs: set[str] = set()
    for index, action, ops in edits:
        member = sorted(files)[index % len(files)] if files else None
        if member is None:
            break
        if action == "mutate":
            files[member] = mutate(files[member], ops)
        elif action == "empty":
            files[member] = b""
        else:
            del files[member]
            if action == "directory":
                dirs.add(member)
    if form == "zip":
        out = root / f"{name}.zip"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for member, data in files.items():
                z.writestr(member, data)
            for member in dirs:
                z.writestr(member + "/", b"")
        out.write_bytes(mutate(out.read_bytes(), zip_ops))
        return out
    folder = root / name
    folder.mkdir()
    for member, data in files.items():
        (folder / member).parent.mkdir(parents=True, exist_ok=True)
        (folder / member).write_bytes(data)
    for member in dirs:
        (folder / member).mkdir(parents=True, exist_ok=True)
    if form == "one-file":
        sets = sorted(f for f in folder.glob("*.csv") if f.is_file())
        return sets[0] if sets else folder
    return folder


# ------------------------------------------------------------------------------- contract
def check_recording(rec: Recording) -> None:
    """The invariants every recording holds, whatever file it came from."""
    n = rec.n_samples
    assert n >= 1
    assert rec.t_s.shape == (n,)
    assert rec.acc_ms2.shape == (n, 3)
    assert rec.gyr_rads is None or rec.gyr_rads.shape == (n, 3)
    assert np.isfinite(rec.t_s).all()
    assert np.isfinite(rec.acc_ms2).all()
    assert np.abs(rec.acc_ms2).max() <= MAX_ACC_MS2
    if rec.gyr_rads is not None:
        assert np.isfinite(rec.gyr_rads).all()
        assert np.abs(rec.gyr_rads).max() <= MAX_GYR_RADS
    assert 5.0 <= rec.fs_hz <= 5000.0
    assert rec.segments[0].start == 0
    assert rec.segments[-1].stop == n
    for a, b in zip(rec.segments[:-1], rec.segments[1:], strict=True):
        assert a.stop == b.start
    for seg in rec.segments:  # uniform within a segment: a jump in time is a gap
        dt = np.diff(rec.t_s[seg.start:seg.stop])
        assert (dt > 0).all()
        assert (dt <= 1.5 / rec.fs_hz * (1 + 1e-6)).all()
    assert (np.diff(rec.t_s) > 0).all()  # across segments too: time never goes back
    assert len(rec.gaps) >= len(rec.segments) - 1
    for g in rec.gaps:
        assert g.end_s > g.start_s
        assert g.n_missing >= 0
    assert rec.stats.samples_missing >= 0


def named(path: Path) -> Path:
    """What an error about ``path`` names: the file, or for one file of an export its folder."""
    return path.parent if path.parent.name in {n for n, _ in EXPORTS.values()} else path


def check_error(e: ImurunError, path: Path) -> None:
    """One of the project's file errors, one line, naming the file (or its export's folder)."""
    assert isinstance(e, FileFormatError | IngestError | UsageError), repr(e)
    text = str(e)
    assert "\n" not in text, text
    assert str(named(path)) in text, text


def check_load(path: Path) -> Recording | None:
    """Load ``path``: a sound recording or a project error naming it (anything else fails)."""
    try:
        rec = load_recording(path)
    except ImurunError as e:
        check_error(e, path)
        return None
    check_recording(rec)
    return rec


def test_every_seed_loads() -> None:
    """The unmutated seeds are valid files: the mutants start from something that works."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for kind, (name, _) in FILES.items():
            p = root / name
            p.write_bytes(seed_file(kind))
            assert check_load(p) is not None, kind
            p.unlink()
        for kind in EXPORTS:
            for form in FORMS:
                sub = root / f"{kind}-{form}"
                sub.mkdir()
                assert check_load(write_export(sub, kind, form, [], [])) is not None, (kind, form)


# ------------------------------------------------------------------------------- the fuzz
@pytest.mark.parametrize("kind", sorted(FILES))
@settings(max_examples=EXAMPLES)
@given(ops=ops_strategy)
def test_a_mutated_file_loads_soundly_or_is_refused_naming_it(kind: str, ops: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / FILES[kind][0]
        p.write_bytes(mutate(seed_file(kind), ops))
        check_load(p)


@pytest.mark.parametrize("kind", sorted(EXPORTS))
@settings(max_examples=EXAMPLES)
@given(form=st.sampled_from(FORMS), edits=st.lists(member_strategy, min_size=1, max_size=2),
       zip_ops=st.lists(op_strategy, max_size=2))
def test_a_mutated_export_loads_soundly_or_is_refused_naming_it(
        kind: str, form: str, edits: list[tuple[int, str, list[Op]]], zip_ops: list[Op]) -> None:
    with tempfile.TemporaryDirectory() as d:
        check_load(write_export(Path(d), kind, form, edits, zip_ops if form == "zip" else []))


@settings(max_examples=max(1, EXAMPLES * 5 // 6))
@given(kind=st.sampled_from(sorted(FILES) + sorted(EXPORTS)), ops=ops_strategy,
       form=st.sampled_from(FORMS))
def test_info_on_a_mutant_exits_cleanly(kind: str, ops: list[Op], form: str) -> None:
    """``imurun info``: exit 0, or 3 with one line naming the file; never a traceback."""
    with tempfile.TemporaryDirectory() as d:
        if kind in FILES:
            p = Path(d) / FILES[kind][0]
            p.write_bytes(mutate(seed_file(kind), ops))
        else:
            p = write_export(Path(d), kind, form, [(0, "mutate", ops), (1, "mutate", ops)], [])
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["info", str(p)])
        text = err.getvalue()
        assert "Traceback" not in text
        assert code in (EXIT_OK, EXIT_FILE), text
        if code == EXIT_FILE:
            assert text.startswith("imurun: error: ")
            assert text.count("\n") == 1, text
            assert str(named(p)) in text, text


def test_the_export_forms_cover_zip_damage() -> None:
    """A zip cut short or with a damaged member is refused naming the zip (not BadZipFile)."""
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for kind in EXPORTS:
            z = write_export(root, kind, "zip", [], [])
            data = z.read_bytes()
            for cut in (len(data) // 2, len(data) - 10):
                z.write_bytes(data[:cut])
                check_load(z)
            z.unlink()


# ----------------------------------------------------------------- what the fuzz found
# Each failed on the code before its fix (the commit says how).
@pytest.mark.parametrize("kind", sorted(EXPORTS))
@pytest.mark.parametrize("form", ["folder", "zip"])
def test_an_export_with_old_mac_line_ends_reads_as_with_newlines(tmp_path: Path, kind: str,
                                                                  form: str) -> None:
    """A lone CR ends a line, as in a file opened as text (was: a bare ``csv.Error``)."""
    plain = load_recording(write_export(tmp_path, kind, form, [], []))
    cr = tmp_path / "cr"
    cr.mkdir()
    edits = [(k, "mutate", [("line-ends", b"\r")]) for k in range(len(seed_export(kind)))]
    rec = load_recording(write_export(cr, kind, form, edits, []))
    np.testing.assert_array_equal(rec.t_s, plain.t_s)
    np.testing.assert_array_equal(rec.acc_ms2, plain.acc_ms2)


def _line(data: bytes, k: int, edit: Callable[[list[bytes]], list[bytes]]) -> bytes:
    """``data`` with line ``k`` (from 1) split at tabs or commas and edited."""
    lines = data.split(b"\n")
    sep = b"\t" if b"\t" in lines[k - 1] else b","
    lines[k - 1] = sep.join(edit(lines[k - 1].split(sep)))
    return b"\n".join(lines)


def _cell(j: int, value: bytes) -> Callable[[list[bytes]], list[bytes]]:
    def edit(cells: list[bytes]) -> list[bytes]:
        cells[j] = value
        return cells
    return edit


def test_an_infinite_sample_time_fine_is_refused_at_its_line(tmp_path: Path) -> None:
    """(was: NumPy's "invalid value encountered in remainder" out of ``np.unwrap``)."""
    p = tmp_path / "MT_0001.txt"
    header = seed_file("xsens").split(b"\n").index(next(
        ln for ln in seed_file("xsens").split(b"\n") if ln.startswith(b"PacketCounter"))) + 1
    p.write_bytes(_line(seed_file("xsens"), header + 40, _cell(1, b"1e999")))
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(p))}: 1 row\(s\) hold NaN or "
                                              rf"infinite values \(the first on line {header + 40}\)"):
        load_recording(p)


def test_a_time_beyond_any_clock_is_refused_at_its_line(tmp_path: Path) -> None:
    """(was: NumPy's "overflow encountered in subtract": -1e308 then 1e308 differ by inf)."""
    p = tmp_path / "run.csv"
    data = _line(seed_file("csv"), 2, _cell(0, b"-1e308"))
    p.write_bytes(_line(data, 3, _cell(0, b"1e308")))
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(p))}: line 2: time_s -1e\+308 is "
                                              "no time"):
        load_recording(p)


@pytest.mark.parametrize(("kind", "line", "column", "value", "says"), [
    ("csv", 50, 3, b"6.2865e9", "line 50: acceleration z 6.2865e+09 m/s²"),
    ("csv", 9, 6, b"1e30", "line 9: angular rate z 1e+30 rad/s"),
    ("csv-semicolon-comma", 60, 4, b"79339", "line 60: angular rate x 79339 deg/s"),
    ("csv-unix-ns", 100, 2, b"4000", "line 100: acceleration y 4000 g"),
    ("xsens", 30, 8, b"1e+30", "line 30: acceleration y 1e+30 m/s²"),
])
def test_a_value_beyond_any_imu_is_refused_at_its_line(tmp_path: Path, kind: str, line: int,
                                                       column: int, value: bytes,
                                                       says: str) -> None:
    """A digit or exponent damaged into a value no IMU measures (was: read as a sample)."""
    p = tmp_path / FILES[kind][0]
    data = seed_file(kind)
    if kind == "csv-semicolon-comma":
        data = data.replace(b",", b".")  # (then the cells split at ";")
        lines = data.split(b"\n")
        cells = lines[line - 1].split(b";")
        cells[column] = value
        lines[line - 1] = b";".join(cells)
        data = b"\n".join(lines)
    else:
        data = _line(data, line, _cell(column, value))
    p.write_bytes(data)
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(p))}: {re.escape(says)} is beyond "
                                              r"what any IMU measures"):
        load_recording(p)


def test_a_value_beyond_any_imu_in_a_sensor_logger_export_names_its_file_and_line(
        tmp_path: Path) -> None:
    """(was: NumPy's "overflow encountered in multiply" in the gravity check, JSON 1e200)."""
    recs = json.loads(seed_file("sensorlogger-json"))
    recs[7]["z"] = "1e200"
    p = tmp_path / FILES["sensorlogger-json"][0]
    p.write_text(json.dumps(recs), encoding="utf-8")
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(p))}: TotalAcceleration records: "
                                              r"record 8: acceleration z 1e\+200 m/s² is beyond"):
        load_recording(p)
    d = write_export(tmp_path, "sensorlogger", "folder", [], [])
    grav = d / "Gravity.csv"
    grav.write_bytes(_line(grav.read_bytes(), 11, _cell(2, b"98100.0")))
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(d))}: Accelerometer.csv: line 11: "
                                              r"acceleration z 98[0-9.]+ m/s² is beyond"):
        load_recording(d)


def test_a_stored_run_held_twice_is_read_once(tmp_path: Path) -> None:
    """A run file copied twice into one (was: times going back, samples_missing negative)."""
    once = CORPUS_DIR / "run-full.imrn"
    p = tmp_path / "run.imrn"
    p.write_bytes(once.read_bytes() * 2)
    rec, first = load_recording(p), load_recording(once)
    check_recording(rec)
    np.testing.assert_array_equal(rec.t_s, first.t_s)
    np.testing.assert_array_equal(rec.acc_ms2, first.acc_ms2)
    assert rec.gaps == first.gaps
    assert rec.stats.samples_missing == first.stats.samples_missing == 20
    assert any("held twice with the same values read once" in n for n in rec.meta.notes)


def test_a_stored_run_holding_another_run_is_refused(tmp_path: Path) -> None:
    """Two runs whose samples share indices but not values: which is right is not ours."""
    p = tmp_path / "run.imrn"
    p.write_bytes((CORPUS_DIR / "run-full.imrn").read_bytes()
                  + (CORPUS_DIR / "run-raw-only.imrn").read_bytes())
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(p))}: sample 0 is held twice "
                                              "with different values"):
        load_recording(p)
