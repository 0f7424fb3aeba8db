"""Regression: a session file could not be read from inside a running event loop (Jupyter).

``imurun.load_recording``, ``imurun.analyze`` and ``replay_session`` read a ``.imrs`` through
the live decoder with ``asyncio.run``, which refuses to run inside a running event loop: in a
Jupyter notebook (whose cells run inside one) or an ``async def``, reading a session raised
``RuntimeError: asyncio.run() cannot be called from a running event loop`` (and left a
never-awaited coroutine). The replay now runs on a loop of its own in a worker thread then
(:func:`imurun.device.stream.replay_blocking`), with the same result.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

import imurun
from imurun.analysis_live import replay_session

SESSION = Path(__file__).resolve().parents[2] / "recordings" / "reboot-and-gaps.imrs"


def test_load_recording_and_analyze_inside_a_running_loop() -> None:
    outside = imurun.load_recording(SESSION)

    async def notebook_cell() -> tuple[imurun.Recording, imurun.RunAnalysis]:
        return imurun.load_recording(SESSION), imurun.analyze(SESSION)

    inside, result = asyncio.run(notebook_cell())
    np.testing.assert_array_equal(inside.t_s, outside.t_s)
    np.testing.assert_array_equal(inside.acc_ms2, outside.acc_ms2)
    assert len(inside.gaps) == len(outside.gaps)
    assert result.to_dict() == imurun.analyze(SESSION).to_dict()


def test_replay_session_inside_a_running_loop_calls_back_as_outside() -> None:
    def events() -> list[str]:
        seen: list[str] = []
        replay_session(SESSION, lambda t, ev: seen.append(type(ev).__name__))
        return seen

    async def notebook_cell() -> list[str]:
        return events()

    assert asyncio.run(notebook_cell()) == events()


def test_a_callback_error_inside_a_running_loop_comes_back_as_raised() -> None:
    def boom(t: float, ev: object) -> None:
        raise ZeroDivisionError("mine")

    async def notebook_cell() -> None:
        replay_session(SESSION, boom)

    with pytest.raises(ZeroDivisionError, match="mine"):
        asyncio.run(notebook_cell())
