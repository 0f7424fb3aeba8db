"""Regression: a Sensor Logger error about a row named the wrong line, and no file.

``load_sensor_logger`` dropped repeated rows (and samples without gravity or gyroscope
neighbours), then told the common checks that row ``k`` was on line ``k + 2``: after a dropped
row, every line named was one short, and the message named the export, not the file of the
export the line is in. Now the lines are those of the accelerometer file, through every row
dropped, and the message names that file (for the JSON export, its records).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording
from tests.test_phone_exports import _sensor_logger
from tests.test_sensor_logger_json import _json_export


def test_a_row_after_a_dropped_repeat_is_named_at_its_line(tmp_path: Path) -> None:
    d = _sensor_logger(tmp_path / "rep", "ios", total=False)
    acc, grav = d / "Accelerometer.csv", d / "Gravity.csv"
    a = acc.read_text(encoding="utf-8").splitlines()
    g = grav.read_text(encoding="utf-8").splitlines()
    # a value beyond any sensor in both (finite, alone), whose sum is not finite, on the file
    # line 301 of Accelerometer.csv once a repeated row is inserted before it
    for lines in (a, g):
        cells = lines[299].split(",")
        lines[299] = ",".join([*cells[:4], "1.7e308"])
    acc.write_text("\n".join([*a[:100], a[99], *a[100:]]) + "\n", encoding="utf-8")
    grav.write_text("\n".join(g) + "\n", encoding="utf-8")
    # before: "rep: 1 row(s) hold NaN or infinite values (the first on line 300)"
    with pytest.raises(FileFormatError, match=r"rep: Accelerometer\.csv: 1 row\(s\) hold NaN or "
                                              r"infinite values \(the first on line 301\)"):
        load_recording(d)


def test_the_json_export_names_the_record(tmp_path: Path) -> None:
    p = _json_export(tmp_path / "x.json", "ios", total=False)
    recs = json.loads(p.read_text(encoding="utf-8"))
    recs.insert(50, dict(recs[49]))  # a repeated record, dropped
    n_acc = sum(r["sensor"] == "Accelerometer" for r in recs)
    for k in (299, n_acc + 298):  # the 300th Accelerometer record and the Gravity one at its time
        recs[k]["x"] = "1.7e308"
    p.write_text(json.dumps(recs), encoding="utf-8")
    with pytest.raises(FileFormatError, match=r"x\.json: Accelerometer records: 1 row\(s\) hold "
                                              r"NaN or infinite values \(the first on record "
                                              r"300\)"):
        load_recording(p)
