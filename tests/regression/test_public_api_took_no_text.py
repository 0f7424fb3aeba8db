"""Regression: the public API took no text where the CLI does, and failed deep inside.

An untyped caller (a notebook) naming a run by its id, as every command does, got
``AttributeError: 'str' object has no attribute 'directory'`` (``Library.analysis``,
``run_analysis``, ``indicators``, ``same_time_runs``, ``export_fit``, ``export_steps_csv``,
``run_length``, ``run_indicators``, ``run_spike``, ``analysed_mass``...), or a wrong answer
without a word: ``Library.steps`` of a short id gave no steps, ``pause_counted_as_lost`` of an
id said False, ``athlete_baseline`` of an athlete's name found no runs, and
``weekly_summary(athletes="Ana")`` looked for athletes ``'A'``, ``'n'`` and ``'a'``. A
``pathlib.Path`` port made ``serial_connection`` wait out its timeout (pyserial takes text);
``report_path``, ``file_facts``, ``is_prefix_of`` and ``is_library_root`` refused a path given as
text.

Where the function has the library to look a run up in, it now takes a ``RunRecord`` or its id
as the CLI reads it (``Library.resolve_run``: 4+ hex digits or ``latest``, the CLI's errors for
an unknown or ambiguous id; ``write_run_report`` too, since it has the library: it refused an id
until then). Where it has none, it refuses anything else at once with a ``UsageError`` naming
the parameter and how to get a ``RunRecord``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from imurun.errors import NotFoundError, TransportError, UsageError
from imurun.report.fit import export_fit
from imurun.report.history import (
    athlete_baseline,
    athlete_runs,
    run_indicators,
    run_length,
    run_value,
)
from imurun.report.run_report import report_path, write_reports, write_run_report
from imurun.report.steps import export_steps_csv
from imurun.report.weekly import run_spike, weekly_summary
from imurun.store.library import Library, RunRecord, file_facts, is_library_root, is_prefix_of
from imurun.workflows import (
    analyse_runs,
    analysed_mass,
    import_path,
    mass_changed,
    outdated,
    outdated_note,
    pause_counted_as_lost,
    slow_rate_not_interpolated,
)
from tests.library_support import STORED_RUN as RUN
from tests.library_support import import_stored_run


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Library, RunRecord]]:
    home = tmp_path_factory.mktemp("home")
    with Library.open(home) as lib:
        run = import_stored_run(lib)
        assert run.analysed
        yield lib, run


def refs(run: RunRecord) -> dict[str, str]:
    return {"full id": run.id, "short id": run.id[:6], "latest": "latest"}


REF_KINDS = ("full id", "short id", "latest")

#: functions with a library: a run id in, the same answer as for the RunRecord
ACCEPTED: dict[str, Callable[[Library, Any, Path], object]] = {
    "Library.analysis": lambda lib, r, _: lib.analysis(r),
    "Library.run_analysis": lambda lib, r, _: (lambda a: None if a is None else a.to_dict())(
        lib.run_analysis(r)),
    "Library.indicators": lambda lib, r, _: lib.indicators(r),
    "Library.same_time_runs": lambda lib, r, _: lib.same_time_runs(r),
    "Library.steps": lambda lib, r, _: lib.steps(r),
    "export_fit": lambda lib, r, d: export_fit(lib, r, d / "run.fit").records,
    "export_steps_csv": lambda lib, r, d: export_steps_csv(lib, r, d / "steps.csv").rows,
    "run_length": lambda lib, r, _: run_length(lib, r),
    "run_indicators": lambda lib, r, _: run_indicators(lib, r),
    "run_spike": lambda lib, r, _: run_spike(lib, r).category,
    "analysed_mass": lambda lib, r, _: analysed_mass(lib, r),
    # (the page says when it was made: that row left out)
    "write_run_report": lambda lib, r, d: re.sub(
        r"<tr><td>Made</td>.*?</tr>", "",
        write_run_report(lib, r, d / "r.html").read_text(encoding="utf-8")),
}


@pytest.mark.parametrize("kind", REF_KINDS)
@pytest.mark.parametrize("name", list(ACCEPTED))
def test_a_run_id_is_taken_where_a_library_can_look_it_up(
        held: tuple[Library, RunRecord], tmp_path: Path, name: str, kind: str) -> None:
    lib, run = held
    fn = ACCEPTED[name]
    expected = fn(lib, run, tmp_path)
    if name != "Library.same_time_runs":  # (one run held: none shares its time)
        assert expected not in (None, [], {}, 0)  # the run is analysed: a real answer to compare
    assert fn(lib, refs(run)[kind], tmp_path) == expected


@pytest.mark.parametrize("name", ["Library.analysis", "export_fit", "run_length", "write_run_report"])
def test_an_unknown_or_malformed_id_is_said_as_the_cli_says_it(
        held: tuple[Library, RunRecord], tmp_path: Path, name: str) -> None:
    lib, _ = held
    fn = ACCEPTED[name]
    with pytest.raises(NotFoundError, match=r"no run '0000' in .*imurun runs"):
        fn(lib, "0000", tmp_path)
    with pytest.raises(UsageError, match="at least 4 hex digits"):
        fn(lib, "ab", tmp_path)
    with pytest.raises(UsageError, match="run takes a RunRecord or a run id"):
        fn(lib, 42, tmp_path)


@pytest.mark.parametrize("kind", ["short id", "latest"])
@pytest.mark.parametrize("name", ["assign_run", "set_aside"])
def test_run_id_methods_take_what_the_cli_takes(
        tmp_path: Path, name: str, kind: str) -> None:
    """``assign_run``/``set_aside`` took a full id only ("no run 5771b5") and no RunRecord."""
    with Library.open(tmp_path / "home") as lib:
        lib.add_athlete("Ana", mass_kg=58)
        import_path(lib, RUN, analyse=False)
        run = lib.run("latest")
        assert run.athlete_id is None
        ref = refs(run)[kind]
        if name == "assign_run":
            assert lib.assign_run(ref, athlete="Ana").athlete_name == "Ana"
            assert lib.assign_run(run, athlete="Ana").athlete_name == "Ana"
        else:
            assert lib.set_aside(ref).is_dir()
            assert lib.get(run.id) is None


#: functions without a library to look an id up in: refused at once
REFUSED: dict[str, Callable[[Library, Any, Path], object]] = {
    "write_reports": lambda lib, r, _: write_reports(lib, [r]),
    "run_value": lambda _, r, __: run_value(r, "cadence_spm"),
    "pause_counted_as_lost": lambda _, r, __: pause_counted_as_lost(r),
    "slow_rate_not_interpolated": lambda _, r, __: slow_rate_not_interpolated(r),
    "analyse_runs": lambda lib, r, _: analyse_runs(lib, [r]),
    "mass_changed": lambda lib, r, _: mass_changed(lib, [r]),
    "outdated": lambda lib, r, _: outdated(lib, [r]),
    "outdated_note": lambda lib, r, _: outdated_note(lib, [r]),
}


@pytest.mark.parametrize("kind", ["full id", "short id"])
@pytest.mark.parametrize("name", list(REFUSED))
def test_a_run_id_is_refused_at_once_where_none_can_be_looked_up(
        held: tuple[Library, RunRecord], tmp_path: Path, name: str, kind: str) -> None:
    lib, run = held
    ref = refs(run)[kind]
    with pytest.raises(UsageError, match=r"runs? takes a RunRecord .*not str: Library\.run\("):
        REFUSED[name](lib, ref, tmp_path)
    REFUSED[name](lib, run, tmp_path)  # a RunRecord, as before


def test_a_text_for_a_sequence_of_runs_is_refused_whole(held: tuple[Library, RunRecord]) -> None:
    lib, run = held
    with pytest.raises(UsageError, match="^runs takes a RunRecord"):
        write_reports(lib, run.id)
    with pytest.raises(UsageError, match="^runs takes a RunRecord"):
        outdated(lib, run.id)


def test_an_athlete_name_finds_their_runs(held: tuple[Library, RunRecord]) -> None:
    """``athlete_baseline(lib, "Ana", ...)`` found no runs (the name taken for an id)."""
    lib, run = held
    assert run.athlete_id is not None
    assert run.start_unix_s is not None
    until = run.start_unix_s + 1.0
    by_id = athlete_baseline(lib, run.athlete_id, until)
    assert by_id.n_runs == 1
    assert athlete_baseline(lib, "Ana", until) == by_id
    assert athlete_baseline(lib, "ana", until) == by_id
    assert [r.id for r in athlete_runs(lib, "Ana", 0.0, until)] == [run.id]
    with pytest.raises(NotFoundError, match="no athlete 'Zoe'"):
        athlete_baseline(lib, "Zoe", until)


def test_an_athlete_object_is_taken_where_a_name_is(tmp_path: Path) -> None:
    """``lib.runs(athlete=ana)`` (the ``Athlete`` add_athlete gave): ``no attribute 'strip'``."""
    with Library.open(tmp_path / "home") as lib:
        ana = lib.add_athlete("Ana", mass_kg=58)
        assert lib.athlete(ana) == ana
        assert lib.bind_sensor("1d0c5e7500000001", ana) == (ana, 0)
        import_path(lib, RUN, analyse=False)
        assert [r.athlete_id for r in lib.runs(athlete=ana)] == [ana.id]
        assert lib.update_athlete(ana, mass_kg=60).mass_kg == 60
        with pytest.raises(UsageError, match="named by their name or id"):
            lib.athlete(7)  # type: ignore[arg-type]


def test_weekly_summary_takes_one_athlete_as_text(held: tuple[Library, RunRecord]) -> None:
    lib, _ = held
    one = weekly_summary(lib, "2026-W45", athletes="Ana")
    assert [a.name for a in one.athletes] == ["Ana"]
    assert one.athletes == weekly_summary(lib, "2026-W45", athletes=["Ana"]).athletes


def test_report_path_takes_a_home_as_text(tmp_path: Path) -> None:
    assert report_path(str(tmp_path), "ab" * 32) == tmp_path / "reports" / f"run-{'ab' * 6}.html"


@pytest.mark.parametrize("name", ["file_facts", "is_prefix_of", "is_library_root"])
def test_library_path_functions_take_text(held: tuple[Library, RunRecord], name: str) -> None:
    """Each failed on text: ``'str' object has no attribute 'stat'``, or ``str / str``."""
    lib, run = held
    fn: Callable[[Any], object] = {
        "file_facts": file_facts,
        "is_prefix_of": lambda p: is_prefix_of(p, p),
        "is_library_root": lambda _: is_library_root(str(lib.root)),
    }[name]
    expected = {"file_facts": file_facts(RUN), "is_prefix_of": False,
                "is_library_root": True}[name]
    assert fn(str(RUN)) == expected
    assert file_facts(str(RUN)).sensor_run_id == run.sensor_run_id


def test_serial_connection_opens_a_port_given_as_a_path() -> None:
    """A ``Path`` port (``SerialLink.link_path`` is one) never opened: a DeviceTimeoutError."""
    from imurun.device.connect import serial_connection

    controller, device = os.openpty()
    try:
        port = Path(os.ttyname(device))

        async def opened() -> str:
            client = await serial_connection(port, timeout_s=1.0)()
            try:
                return client.transport.description
            finally:
                await client.transport.close()

        assert asyncio.run(opened()) == f"serial {port}"
        with pytest.raises(TransportError, match="not found"):
            asyncio.run(serial_connection(port.parent / "no-such-port", timeout_s=0.2)())
    finally:
        os.close(device)
        os.close(controller)
