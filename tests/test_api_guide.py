"""docs/api.md: every example runs, prints the output pasted under it, and type-checks strictly.

Each ```python block of the guide is followed by a plain ``` block holding what it printed. The
examples run one by one in a fresh interpreter from the root of the repository (they read the
bundled ``recordings/``), and their output must be the pasted one, character for character: the
examples print rounded numbers, so a difference is a change of behaviour, or of the docs. When
the analysis changes on purpose, run the examples again and paste their output.

``mypy --strict`` checks the examples as a user's scripts: an example that needs a cast or a
``# type: ignore`` shows an API whose types are wrong or missing.

The API fixes the guide led to have their regression tests here too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "api.md"

_BLOCK = re.compile(r"```python\n(.*?)```\n\n```\n(.*?)```", flags=re.S)


def examples() -> list[tuple[str, str]]:
    """The (code, pasted output) pairs of docs/api.md, in order."""
    text = GUIDE.read_text(encoding="utf-8")
    pairs = [(m[1], m[2]) for m in _BLOCK.finditer(text)]
    assert len(pairs) == text.count("```python"), "a python block without its output block"
    return pairs


def run_example(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TZ": "UTC", "PYTHONHASHSEED": "0"}
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300, check=False)
    assert res.returncode == 0, res.stderr
    assert res.stderr == "", res.stderr
    return res.stdout


def test_the_guide_has_its_examples() -> None:
    pairs = examples()
    assert len(pairs) >= 13
    assert all(out.strip() for _, out in pairs), "an example without pasted output"


@pytest.mark.slow
@pytest.mark.parametrize("k", range(len(examples())))
def test_example_prints_what_the_guide_says(k: int) -> None:
    code, pasted = examples()[k]
    assert run_example(code) == pasted


@pytest.mark.slow
def test_the_examples_type_check_strictly(tmp_path: Path) -> None:
    names = []
    for k, (code, _) in enumerate(examples()):
        (tmp_path / f"example_{k:02d}.py").write_text(code, encoding="utf-8")
        names.append(f"example_{k:02d}.py")
    (tmp_path / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")  # not the project's
    # this checkout's package, whatever the environment has installed
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "MYPYPATH": str(ROOT)}
    res = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--config-file", "mypy.ini",
         "--cache-dir", str(tmp_path / "cache"), *names],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    out = res.stdout + res.stderr
    # mypy checks the package too, found through MYPYPATH as source code (its own check is
    # `make lint`): only what it says of the examples counts here
    assert "Cannot find implementation or library stub" not in out, out
    assert [ln for ln in out.splitlines() if ln.startswith("example_")] == [], out
    n = len(names)
    assert (f"(checked {n} source files)" in out
            or f"Success: no issues found in {n} source files" in out), out
    assert not any("type: ignore" in code or "cast(" in code for code, _ in examples())


# ------------------------------------------------------------------ the API fixes
def test_save_and_load_an_analysis_are_top_level() -> None:
    """They were only in imurun.analysis, though every saved analysis needs them."""
    import imurun
    import imurun.analysis

    assert imurun.write_analysis_json is imurun.analysis.write_analysis_json
    assert imurun.load_analysis is imurun.analysis.load_analysis
    assert {"write_analysis_json", "load_analysis"} <= set(imurun.__all__)


def test_arrays_refused_by_analyze_are_sent_to_the_public_name() -> None:
    """The message named the private path imurun.ingest.recording.Recording.from_arrays."""
    import imurun
    from imurun.errors import UsageError

    with pytest.raises(UsageError, match=r"imurun\.Recording\.from_arrays\(t_s"):
        imurun.analyze([[0.0, 0.0, 9.8]])  # type: ignore[arg-type]  # the mistake under test


def test_write_run_report_is_typed() -> None:
    """``lib`` and ``run`` were ``Any``: mypy let a user pass a run id or a path unchecked.

    ``run`` is what the library's other run methods take (``Library.resolve_run``): a
    ``RunRecord`` or its id as text; a path or anything else is still a type error.
    """
    from imurun.report.run_report import write_reports, write_run_report
    from imurun.store.library import Library, RunRecord

    hints = typing.get_type_hints(write_run_report)
    assert hints["lib"] is Library
    assert hints["run"] == RunRecord | str
    assert hints["run"] == typing.get_type_hints(Library.resolve_run)["run"]
    hints = typing.get_type_hints(write_reports)
    assert hints["lib"] is Library
    assert typing.get_args(hints["runs"]) == (RunRecord,)


def test_firmware_protocol_exports_its_main_names() -> None:
    """``import firmware_protocol`` gave a package with nothing in it but submodules."""
    import firmware_protocol
    from firmware_protocol import codec, frame, messages, runfile

    assert firmware_protocol.StreamDecoder is codec.StreamDecoder
    assert firmware_protocol.decode_stream is codec.decode_stream
    assert firmware_protocol.Frame is frame.Frame
    assert firmware_protocol.DeviceInfo is messages.DeviceInfo
    assert firmware_protocol.read_run is runfile.read_run
    for name in firmware_protocol.__all__:
        assert getattr(firmware_protocol, name) is not None


def test_replay_session_is_what_imurun_replay_builds(tmp_path: Path) -> None:
    """A replay through the live path in one call: the recording ``imurun replay`` describes."""
    import asyncio

    from imurun.analysis_live import LiveStreamHook, replay_session
    from imurun.device.client import SensorClient
    from imurun.device.stream import replay
    from imurun.errors import FileFormatError
    from imurun.ingest.builder import RecordingBuilder
    from imurun.transport.session import ReplayTransport, read_session

    path = ROOT / "recordings" / "reboot-and-gaps.imrs"
    lines: list[str] = []
    rec = replay_session(path, LiveStreamHook(lines.append, report_every_s=20))
    sf = read_session(path)
    builder = RecordingBuilder(source=str(path), source_format="session")
    asyncio.run(replay(SensorClient(ReplayTransport(sf)), builder))
    builder.notes += sf.notes
    want = builder.build()
    assert rec.n_samples == want.n_samples
    assert rec.gaps == want.gaps
    assert (rec.acc_ms2 == want.acc_ms2).all()
    assert rec.meta == want.meta
    # a line every 20 s of samples (85 s), and one more when the 40-s one's numbers were due
    assert len(lines) == 5
    assert "first numbers in ~3 s" in lines[1]
    (tmp_path / "x.imrs").write_bytes(b"not a session")
    with pytest.raises(FileFormatError, match="x.imrs"):
        replay_session(tmp_path / "x.imrs")


def test_a_library_run_gives_its_analysis_as_a_run_analysis(tmp_path: Path) -> None:
    """``Library.analysis`` gave plain JSON data only (``dict[str, Any]``), to be parsed by hand."""
    import imurun
    from imurun.errors import FileFormatError
    from imurun.store.library import Library
    from imurun.workflows import analyse_runs, import_path

    src = ROOT / "recordings" / "stored-run.imrn"
    with Library.open(tmp_path / "home") as lib:
        import_path(lib, src, analyse=False)
        run = lib.run("latest")
        assert lib.run_analysis(run) is None  # not analysed yet
        analyse_runs(lib, [run])
        run = lib.run("latest")
        got = lib.run_analysis(run)
        assert isinstance(got, imurun.RunAnalysis)
        assert got.to_dict() == lib.analysis(run)
        assert got.summary.n_steps == imurun.analyze(src).summary.n_steps
        (run.directory / "analysis.json").write_text('{"schema": "other"}', encoding="utf-8")
        with pytest.raises(FileFormatError, match=r"analysis\.json: not an imurun analysis"):
            lib.run_analysis(run)


def test_analyze_says_every_kind_of_file_it_reads() -> None:
    """Its docstring listed four kinds of file; load_recording (and so analyze) reads six."""
    import imurun

    doc = " ".join((imurun.analyze.__doc__ or "").split())
    for kind in ("session ``.imrs``", "stored run ``.imrn``", "CSV", "Xsens",
                 "Sensor Logger export", "phyphox export"):
        assert kind in doc, kind


def test_a_missing_file_is_a_file_not_found_error(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """It was a ``FileFormatError`` (a ``ValueError``) only: ``except FileNotFoundError`` missed it."""
    import errno

    import imurun
    from imurun.cli import main
    from imurun.errors import FileFormatError, MissingFileError

    missing = tmp_path / "gone.imrs"
    for call in (imurun.load_recording, imurun.analyze):
        with pytest.raises(FileNotFoundError) as got:
            call(missing)
        e = got.value
        assert isinstance(e, MissingFileError)
        assert isinstance(e, FileFormatError)  # as before: a ValueError too
        assert isinstance(e, ValueError)
        assert str(e) == f"{missing}: cannot read: No such file or directory"  # the old message
        assert e.path == str(missing)
        assert e.errno == errno.ENOENT
    # a file that exists but cannot be read as a recording is not "missing"
    (tmp_path / "x.imrs").write_bytes(b"")
    with pytest.raises(FileFormatError) as bad:
        imurun.load_recording(tmp_path / "x.imrs")
    assert not isinstance(bad.value, FileNotFoundError)
    with pytest.raises(FileFormatError) as folder:
        imurun.load_recording(tmp_path)
    assert not isinstance(folder.value, OSError)
    # the CLI: the same line and the exit code of every unreadable input
    capsys.readouterr()
    assert main(["analyze", str(missing)]) == 3
    err = capsys.readouterr().err
    assert err == f"imurun: error: {missing}: cannot read: No such file or directory\n"


def test_the_guide_talks_to_a_sensor_with_public_names() -> None:
    """Talking to a sensor needed the CLI's private ``_serial_connect``: the guide had no example.

    The executed example streams from and syncs the virtual sensor; the BLE snippet (not run: it
    needs a sensor or the bumble emulation) must still call the API as it is.
    """
    import ast
    import inspect

    from imurun.device import connect
    from imurun.device.stream import StreamSettings

    text = GUIDE.read_text(encoding="utf-8")
    section = text[text.index("## Talking to a sensor"):text.index("## Bytes")]
    code = [c for c, _ in examples() if c in section]
    assert len(code) == 1
    assert "from imurun.device.connect import" in code[0]
    assert "_serial_connect" not in code[0]
    snippet = re.search(r"```py\n(.*?)```", section, flags=re.S)
    assert snippet is not None
    known = {"ble_connection": connect.ble_connection, "stream_to_file": connect.stream_to_file,
             "sync_to_folder": connect.sync_to_folder, "StreamSettings": StreamSettings}
    called = set()
    for node in ast.walk(ast.parse(snippet[1])):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in known:
            called.add(node.func.id)
            inspect.signature(known[node.func.id]).bind(
                *node.args, **{k.arg: k.value for k in node.keywords if k.arg is not None})
    assert called == set(known)
    assert set(connect.__all__) >= {"serial_connection", "ble_connection", "stream_to_file",
                                    "sync_to_folder", "Connect", "StreamedFile"}
