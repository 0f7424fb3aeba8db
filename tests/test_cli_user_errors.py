"""Mistakes a new user makes at the command line: one clear line, the right exit code, and
nothing written where it does not belong.

Found by following the documentation as a new user would (the audit of session 12); each test
names what the command did before."""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.cli import main
from imurun.store.library import Library
from tests.library_support import DEVICE_A, analysis_json, write_run

REPO = Path(__file__).resolve().parents[1]
SESSION = REPO / "recordings" / "clean-run.imrs"
EXIT_NOT_FOUND = 7


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, *expect: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("imurun: error: "), err
    for e in expect:
        assert e in lines[0], err
    return lines[0]


def _tree(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*"))


# ------------------------------------------------------------ a --home that is not a library
_READING = [["runs"], ["show", "latest"], ["athlete", "list"], ["sensor", "list"],
            ["weekly"], ["weekly", "--format", "json"], ["report", "latest"],
            ["store", "check"], ["store", "restore"], ["store", "reanalyze"],
            ["store", "set-aside", "latest"], ["share", "--athlete", "Ana", "--out", "{tmp}/a.zip"],
            ["export", "latest", "--fit", "{tmp}/a.fit"], ["attach", "latest", "{tmp}/w.fit"],
            ["athlete", "set", "Ana", "--mass-kg", "60"], ["sensor", "bind", "1d0c5e7500000001", "Ana"]]


@pytest.mark.parametrize("argv", _READING, ids=lambda a: "-".join(a[:2]))
@pytest.mark.parametrize("where", ["missing", "a-folder"])
def test_a_home_that_is_no_library_is_exit_7_and_nothing_is_written(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], where: str) -> None:
    """A mistyped ``--home`` (or a folder of other files) was silently made an empty library:
    ``runs`` said "no runs in ..." (exit 0), ``weekly`` wrote ``reports/`` and ``runs/`` into
    the folder; cli.md gives exit 7 for "no such library"."""
    home = tmp_path / "my-documents"
    if where == "a-folder":
        home.mkdir()
        (home / "notes.txt").write_text("mine\n")
    before = _tree(home) if home.exists() else None
    code, out, err = run(capsys, "--home", str(home), *(a.format(tmp=tmp_path) for a in argv))
    assert code == EXIT_NOT_FOUND, err
    line = one_line(err, str(home))
    assert ("no library at" if where == "missing" else "is not an imurun library") in line
    assert out == ""
    assert (_tree(home) if home.exists() else None) == before


@pytest.mark.parametrize("argv", [["athlete", "add", "Ana"], ["import", str(SESSION)]],
                         ids=["athlete-add", "import"])
def test_the_commands_that_bring_things_in_still_make_a_library(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str]) -> None:
    home = tmp_path / "new" / "home"
    code, _, err = run(capsys, "--home", str(home), *argv)
    assert code == 0, err
    code, out, err = run(capsys, "--home", str(home), "athlete", "list")
    assert code == 0, err


def test_a_library_that_lost_its_index_is_still_a_library(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """library.md: `rm index.sqlite3`, and the next command (`runs`) rebuilds it."""
    home = tmp_path / "home"
    with Library.open(home) as lib:
        r = lib.add_file(write_run(tmp_path / "in", DEVICE_A, 1, seconds=20.0)).run
        lib.set_analysis(r.id, analysis_json(50, seed=3))
    (home / "index.sqlite3").unlink()
    code, out, err = run(capsys, "--home", str(home), "runs")
    assert code == 0, err
    assert r.id[:10] in out


def test_library_open_without_create_refuses_and_leaves_the_folder_alone(tmp_path: Path) -> None:
    from imurun.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no library at"):
        Library.open(tmp_path / "nothing", create=False)
    assert not (tmp_path / "nothing").exists()
    (tmp_path / "folder").mkdir()
    with pytest.raises(NotFoundError, match="not an imurun library"):
        Library.open(tmp_path / "folder", create=False)
    assert _tree(tmp_path / "folder") == []
    with Library.open(tmp_path / "lib"):
        pass
    with Library.open(tmp_path / "lib", create=False) as lib:
        assert lib.root == tmp_path / "lib"

