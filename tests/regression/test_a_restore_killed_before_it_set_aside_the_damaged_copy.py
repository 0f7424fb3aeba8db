"""`store restore` killed after it indexed the intact run again, before it set aside the damaged
copy of the same sensor run the library held: the library counted the run twice, and running
the restore again said no such run was set aside (exit 7), leaving it so."""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store.library import Library
from tests.crash_support import KILLED, run_killed
from tests.library_support import DEVICE_A, damaged_copy, write_run


def test_a_restore_killed_before_it_set_aside_the_damaged_copy_is_finished_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    src = write_run(tmp_path / "in", DEVICE_A, 1)
    bad = damaged_copy(src, tmp_path / "bad" / "run.imrn")
    with Library.open(home) as lib:
        run = lib.add_file(src).run
        lib.set_aside(run.id)
        copy = lib.add_file(bad).run
    # killed at the damaged copy's take-over: the intact run is indexed again, the copy too
    killed = run_killed(["--home", str(home), "store", "restore", run.id[:8]], call="replace",
                        match="meta.json")
    assert killed.returncode == KILLED, killed.stdout + killed.stderr
    with Library.open(home) as lib:
        assert {r.id for r in lib.runs()} == {run.id, copy.id}  # (the window this test is about)
    assert main(["--home", str(home), "store", "restore", run.id[:8]]) == 0
    capsys.readouterr()
    with Library.open(home) as lib:
        assert [r.id for r in lib.runs()] == [run.id]
        (e,) = lib.set_aside_entries()
        assert e.id == copy.id
        assert lib.check().ok
