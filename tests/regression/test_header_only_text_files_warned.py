"""Regression: a CSV or Xsens file with a header and no rows leaked a NumPy warning.

``np.loadtxt`` on an empty body emits ``UserWarning: loadtxt: input contained no data`` before
the importer noticed there were no samples. ``imurun info`` then printed the warning's two lines
on stderr before its own error line (and under ``-W error`` the warning escaped as an
"unexpected error", exit code 1). The importers now refuse an empty body before parsing it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from imurun.errors import FileFormatError
from imurun.ingest.files import load_recording


@pytest.mark.parametrize("text", [
    "time_s,acc_x,acc_y,acc_z\n",
    "time_s,acc_x,acc_y,acc_z\n\n \n",
    "// Update Rate: 100.0Hz\nPacketCounter\tSampleTimeFine\tAcc_X\tAcc_Y\tAcc_Z\n",
    "Acquisition frequency: 100 Hz\nPacketCounter\tAcc_X\tAcc_Y\tAcc_Z\n\n",
])
def test_header_only_is_a_clean_file_format_error(tmp_path: Path, text: str) -> None:
    p = tmp_path / "h.txt"
    p.write_text(text)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FileFormatError, match="no samples"):
            load_recording(p)
