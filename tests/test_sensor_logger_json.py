"""Sensor Logger's JSON export: one array of records, as the app's documentation shows it.

"awesome-sensor-logger", README, "File Handling > JSON": an array of objects, one per sample,
``{"sensor": "Accelerometer", "time": "1698501144401773000", "seconds_elapsed": "0.2167...",
"z": "...", "y": "...", "x": "..."}`` (values as strings), the records of each sensor together
and sorted by time. The documentation shows no metadata record: an export whose acceleration
needs Gravity (and so the platform's sign) is read only with a ``"sensor": "Metadata"`` record
naming the platform; ``TotalAcceleration`` (Android) needs none. Built from the same samples
as the CSV exports of tests/test_phone_exports.py, so both must read the same.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from imurun.cli import EXIT_OK, main
from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording, sniff
from tests.test_phone_exports import T0_NS, _sensor_logger, _signals


def _records(sensor: str, t: np.ndarray, xyz: np.ndarray) -> list[dict[str, str]]:
    return [{"sensor": sensor, "time": str(T0_NS + round(s * 1e9)), "seconds_elapsed": repr(float(s)),
             "z": repr(float(v[2])), "y": repr(float(v[1])), "x": repr(float(v[0]))}
            for s, v in zip(t, xyz, strict=True)]


def _json_export(path: Path, platform: str, *, total: bool, metadata: bool = True) -> Path:
    t, acc, gyr, grav = _signals()
    sign = -1.0 if platform == "ios" else 1.0
    recs = _records("Accelerometer", t, sign * (acc - grav)) + _records("Gravity", t, sign * grav)
    if total:
        recs += _records("TotalAcceleration", t, acc)
    recs += _records("Gyroscope", t, gyr)
    recs += _records("Location", t[::200], np.zeros((len(t[::200]), 3)))  # (not read)
    if metadata:
        recs.append({"sensor": "Metadata", "platform": platform, "standardisation": "false"})
    path.write_text(json.dumps(recs, indent=2), encoding="utf-8")
    return path


@pytest.mark.parametrize(("platform", "total"), [("android", True), ("ios", False)])
def test_json_reads_as_the_csv_export(tmp_path: Path, platform: str, total: bool) -> None:
    p = _json_export(tmp_path / "2024-11-19_08-06-40.json", platform, total=total)
    # before: "not a supported format"
    assert sniff(p) == "sensorlogger"
    rec = load_recording(p)
    csv = load_recording(_sensor_logger(tmp_path / "csv", platform, total=total))
    np.testing.assert_allclose(rec.t_s, csv.t_s, atol=1e-9)
    np.testing.assert_allclose(rec.acc_ms2, csv.acc_ms2, atol=1e-6)
    assert rec.gyr_rads is not None
    assert csv.gyr_rads is not None
    np.testing.assert_allclose(rec.gyr_rads, csv.gyr_rads, atol=1e-6)
    assert rec.meta.start_unix_s == pytest.approx(T0_NS * 1e-9)
    assert rec.meta.notes[0].startswith("Sensor Logger JSON export: ")


def test_json_without_metadata_needs_total_acceleration(tmp_path: Path) -> None:
    android = _json_export(tmp_path / "a.json", "android", total=True, metadata=False)
    assert load_recording(android).n_samples > 1000
    ios = _json_export(tmp_path / "i.json", "ios", total=False, metadata=False)
    with pytest.raises(FileFormatError, match=r"holds no Metadata record .*export the recording "
                                              r"as a zip"):
        load_recording(ios)


def test_json_without_gravity_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "Sensor Logger.json"
    p.write_text('[{"sensor": "Accelerometer", "time": "1698501144401773000", '
                 '"seconds_elapsed": "0.2", "z": "-0.1", "y": "0", "x": "0.06"}]',
                 encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"Accelerometer records hold no gravity .*Gravity"):
        load_recording(p)


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda r: r[5].pop("x"), r"record 6 \(Accelerometer\) has no 'x'"),
    (lambda r: r[7].update(y="abc"), r"record 8 \(Accelerometer\) holds y 'abc', not a number"),
    (lambda r: r[9].update(seconds_elapsed=r[3]["seconds_elapsed"]),
     r"Accelerometer records: time column is not increasing: record 10 has seconds_elapsed"),
    (lambda r: r[4].update(z="NaN"), r"Accelerometer records: rows hold NaN or infinite values "
                                     r"\(the first on record 5\)"),
])
def test_bad_records_are_named(tmp_path: Path, edit: object, reason: str) -> None:
    p = _json_export(tmp_path / "x.json", "ios", total=False)
    recs = json.loads(p.read_text(encoding="utf-8"))
    edit(recs)  # type: ignore[operator]
    p.write_text(json.dumps(recs), encoding="utf-8")
    with pytest.raises(FileFormatError, match=reason):
        load_recording(p)


def test_a_json_cut_short_says_so(tmp_path: Path) -> None:
    p = _json_export(tmp_path / "x.json", "android", total=True)
    p.write_bytes(p.read_bytes()[:50_000])
    with pytest.raises(FileFormatError, match=r"not valid JSON .*cut short\? export it again"):
        load_recording(p)


def test_json_import_is_kept_as_it_is_and_held_once(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    p = _json_export(tmp_path / "2024-11-19_08-06-40.json", "android", total=True)
    home = ["--home", str(tmp_path / "home")]
    for expect in ("1 new run(s)", "0 new run(s), 1 already held"):
        assert main([*home, "import", str(p)]) == EXIT_OK
        assert expect in capsys.readouterr().out
    assert main([*home, "runs"]) == EXIT_OK
    assert "2024-11-19" in capsys.readouterr().out
