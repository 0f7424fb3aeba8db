"""The cancel race of CPython gh-86296, driven the same way against any transport's read."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def lost_cancellations(rounds: int, produce: Callable[[], Awaitable[None]],
                             read: Callable[[], Awaitable[object]],
                             queue: asyncio.Queue[object]) -> list[int]:
    """Rounds in which cancelling a read that has data waiting did not end it cancelled.

    Each round: data arrives and is read, more data arrives and is queued, then a task that
    reads forever is cancelled after ``k % 6`` event-loop steps (at each step of its first
    wait). With ``asyncio.wait_for`` on Python 3.11 the read may return the item instead of
    raising, and the task reads on: the round is lost.
    """
    lost = []

    async def read_forever() -> None:
        while True:
            await read()

    for k in range(rounds):
        await produce()
        await read()
        await produce()
        async with asyncio.timeout(5.0):
            while queue.empty():  # until the data has been queued
                await asyncio.sleep(0.001)
        task = asyncio.create_task(read_forever())
        for _ in range(k % 6):
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
        if not task.cancelled():
            lost.append(k)
            task.cancel()  # a second cancellation gets it out
            await asyncio.wait({task}, timeout=0.5)
        while not queue.empty():
            queue.get_nowait()
    return lost
