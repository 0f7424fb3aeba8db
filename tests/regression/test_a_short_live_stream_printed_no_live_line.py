"""``imurun replay|stream --live`` never flushed the live analysis at the end of the data.

The live analysis holds the samples of the first seconds until it has estimated the sensor's
mounting (20 s of them then; now 12 s of walking or running, at most 20 s); the CLI never called
``LiveStreamHook.flush()``, so a replay or a stream shorter than that printed no live line at
all: the samples seen were never analysed. At the end of the data the commands now flush, and
the held samples give their lines (a longer stream's output is unchanged:
``tests/test_streaming.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imurun.cli import main as cli

REC = Path(__file__).parents[2] / "recordings"


SETTLING = ("live: settling: estimating the sensor placement once 12 s of walking or running "
            "are in, else on the first 20 s of samples; their lines come then")


def _live(out: str) -> list[str]:
    """The live lines: the one said while the mounting is estimated, then one per interval."""
    return [ln.strip() for ln in out.splitlines() if ln.strip().startswith("live")]


def test_a_short_replay_prints_its_live_lines(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # the first 15.1 s of the bundled session, cut mid-record: its mounting is known at 16 s
    short = tmp_path / "short.imrs"
    short.write_bytes((REC / "clean-run.imrs").read_bytes()[:58_000])
    assert cli(["replay", str(short), "--live", "--live-every", "5"]) == 0
    out = capsys.readouterr().out
    # running starts at 12.3 s: the 15 s line says so, its numbers not final yet (they wait
    # for 6 final running steps, StreamingSettings.min_steps)
    assert _live(out) == [SETTLING,
                          "live     5.0 s: no running in the last seconds",
                          "live    10.0 s: no running in the last seconds",
                          "live    15.0 s: running, settling: first numbers in ~3 s"]
    assert out.splitlines()[4].endswith("short.imrs (session)")  # then the summary


@pytest.mark.slow
@pytest.mark.xdist_group("serial_e2e")
def test_a_short_stream_prints_its_live_lines(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    from tests.sim_support import virtual_sensor

    with virtual_sensor(tmp_path, "--seed", "21", "--stream-minutes", "0.25", "--speed",
                        "max") as s:
        assert cli(["stream", "--port", str(s.link), "--out", str(tmp_path / "s.imrs"),
                    "--live", "--live-every", "5"]) == 0
    out = capsys.readouterr().out
    lines = _live(out)
    assert lines[0] == SETTLING
    assert [ln.split(":")[0] for ln in lines[1:]] == ["live     5.0 s", "live    10.0 s",
                                                      "live    15.0 s"]
    assert out.rstrip().splitlines()[-1].startswith("streamed 3000 samples (15.0 s)")
