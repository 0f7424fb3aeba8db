"""Regression: "Chloé" and "CHLOÉ" were two athletes of one library; "Émile" sorted after "Zoë".

A library never holds two athletes of one name, case ignored (docs/library.md), but the check
was SQLite's ``COLLATE NOCASE``, which folds ASCII letters only: ``athlete add CHLOÉ`` beside
"Chloé" added a second athlete, and from then on every command naming either said "2 athletes
are called 'chloé'". A name whose "é" is an "e" plus a combining accent (some keyboards, macOS
file names, copied text; a bundle from such a library) was a third "Chloé" that looked the
same. And lists sorted by code point put an accented first letter after "Z": the roster of
athletes without a reason to check in read "Zoë, Émile".
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from imurun.errors import UsageError
from imurun.report.weekly import weekly_summary
from imurun.store.bundle import import_bundle, share
from imurun.store.library import Library
from tests.library_support import DEVICE_A, T0_MS, analysis_json, write_run

NFD_CHLOE = "Chloe\u0301"  # "Chloé" with a combining acute accent


@pytest.mark.parametrize("other", ["CHLOÉ", "chloé", NFD_CHLOE, "CHLOE\u0301"])
def test_a_name_in_another_case_or_spelling_is_the_same_name(tmp_path: Path, other: str) -> None:
    with Library.open(tmp_path / "home") as lib:
        ana = lib.add_athlete("Chloé")
        with pytest.raises(UsageError, match="exists already"):
            lib.add_athlete(other)
        assert lib.athlete(other).id == ana.id
        ben = lib.add_athlete("Ben")
        with pytest.raises(UsageError, match="exists already"):
            lib.rename_athlete(ben.id, other)
        assert [a.name for a in lib.athletes()] == ["Ben", "Chloé"]


def test_a_name_is_kept_in_one_spelling(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        a = lib.add_athlete(NFD_CHLOE)
        assert a.name == "Chloé"  # one code point for the é: it prints and aligns as one letter
        assert lib.athlete("Chloé").name == "Chloé"


def test_a_bundles_athlete_in_another_spelling_is_taken_as_the_local_one(tmp_path: Path) -> None:
    with Library.open(tmp_path / "runner") as src:
        src.add_athlete("CHLOE\u0301")  # as an older library kept it
        src.bind_sensor(DEVICE_A, "CHLOÉ")
        run = src.add_file(write_run(tmp_path / "in", DEVICE_A, 1, start_unix_ms=T0_MS)).run
        src.set_analysis(run.id, analysis_json(20))
        share(src, "CHLOÉ", tmp_path / "b.zip")
    with Library.open(tmp_path / "coach") as coach:
        ours = coach.add_athlete("Chloé")
        res = import_bundle(coach, tmp_path / "b.zip")
        assert res.athletes_added == []
        assert [a.id for a in coach.athletes()] == [ours.id]
        assert len(coach.runs(athlete=ours.id)) == 1


def test_accented_names_sort_with_their_letter(tmp_path: Path) -> None:
    with Library.open(tmp_path / "home") as lib:
        for name in ("Zoë", "Émile", "ana", "Bo"):
            lib.add_athlete(name)
        assert [a.name for a in lib.athletes()] == ["ana", "Bo", "Émile", "Zoë"]
        week = weekly_summary(lib, "2026-W47", today=dt.date(2026, 12, 1))
        assert [a.name for a in week.athletes] == ["ana", "Bo", "Émile", "Zoë"]  # no reasons
