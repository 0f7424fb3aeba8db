"""Pasted output in the docs names the runs the documented commands really make.

docs/library.md and docs/workflows.md paste the output of `imurun simulate serial ...` followed by
`imurun sync`. A run id is the SHA-256 of the run file, and the virtual sensor records the same
bytes for the same options, so the ids can be checked without a serial link: record the flash as
`simulate` does (:func:`imurun.sim.runner.make_sensor`) and compare with the ids pasted after
`imurun sync`. When the analysis or the simulator changes on purpose, re-run the documented
commands and paste their output again.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from imurun.sim.runner import SimulateOptions, make_sensor

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _run_ids(opts: SimulateOptions) -> list[str]:
    sensor = make_sensor(opts, say=lambda _: None)
    return [hashlib.sha256(sensor.flash.path(r).read_bytes()).hexdigest()
            for r in sensor.flash.run_ids()]


def _synced_ids(text: str) -> list[str]:
    """The short ids of the run lines `imurun sync` printed in the first sync of ``text``."""
    start = text.index("$ imurun sync --port")
    block = text[start:text.index("\n$ ", start + 1)]
    return re.findall(r"^  ([0-9a-f]{10})  \d{4}-\d\d-\d\d \d\d:\d\d  ", block, flags=re.M)


@pytest.mark.slow
def test_library_md_run_ids_are_those_of_its_command(tmp_path: Path) -> None:
    text = (DOCS / "library.md").read_text(encoding="utf-8")
    m = re.search(r"imurun simulate serial --link \S+ --flash \S+ --runs (\d+) --minutes (\d+)"
                  r"\s+--seed (\d+)", text)
    assert m is not None, "library.md no longer says how its runs were made"
    ids = _run_ids(SimulateOptions(link=tmp_path / "tty", flash=tmp_path / "flash",
                                   runs=int(m[1]), minutes=float(m[2]), seed=int(m[3])))
    assert _synced_ids(text) == [i[:10] for i in ids]
    shown = re.search(r"\$ imurun show latest\nrun ([0-9a-f]{64})", text)
    assert shown is not None
    assert shown[1] == ids[-1]


@pytest.mark.slow
def test_workflows_md_run_ids_are_those_of_its_plan(tmp_path: Path) -> None:
    text = (DOCS / "workflows.md").read_text(encoding="utf-8")
    plan = re.search(r"\$ cat plan\.json\n(.*?)\n\$ ", text, flags=re.S)
    cmd = re.search(r"\$ imurun simulate serial .*--plan plan\.json --seed (\d+)", text)
    assert plan is not None, "workflows.md no longer shows its plan.json"
    assert cmd is not None
    (tmp_path / "plan.json").write_text(plan[1], encoding="utf-8")
    ids = _run_ids(SimulateOptions(link=tmp_path / "tty", flash=tmp_path / "flash",
                                   seed=int(cmd[1]), plan=tmp_path / "plan.json"))
    assert _synced_ids(text) == [i[:10] for i in ids]


@pytest.mark.slow
def test_library_md_watch_section_is_what_its_commands_print(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch example: the simulated run and its watch file, imported and attached."""
    from imurun.cli import main

    text = (DOCS / "library.md").read_text(encoding="utf-8")
    section = text[text.index("No watch at hand?"):]
    m = re.search(r"imurun simulate serial --link \S+ --flash \S+ --runs (\d+) --minutes (\d+) "
                  r"--seed (\d+) --watch", section)
    assert m is not None, "library.md no longer says how its watch example was made"
    flash = tmp_path / "flash"
    make_sensor(SimulateOptions(link=tmp_path / "tty", flash=flash, runs=int(m[1]),
                                minutes=float(m[2]), seed=int(m[3]), watch=True),
                say=lambda _: None)
    home = ["--home", str(tmp_path / "home")]
    monkeypatch.setenv("TZ", "Europe/Berlin")
    import time

    time.tzset()
    try:
        for argv in (["athlete", "add", "Ana", "--mass-kg", "58"],
                     ["sensor", "bind", "1d0c5e7500000001", "Ana"],
                     ["import", str(flash / "run-00000001.imrn")]):
            assert main([*home, *argv]) == 0
        imported = capsys.readouterr().out.splitlines()
        assert main([*home, "attach", "latest", str(flash / "watch" / "run-00000001.fit")]) == 0
        attached = capsys.readouterr().out.strip()
        assert main([*home, "show", "latest"]) == 0
        shown = capsys.readouterr().out.splitlines()
    finally:
        monkeypatch.undo()
        time.tzset()
    for line in (*[ln for ln in imported if "Ana  5:00" in ln], attached):
        assert line in section, line
    for line in shown:
        if line.startswith(("run ", "  stride", "  pelvis")):
            assert line in section, line
