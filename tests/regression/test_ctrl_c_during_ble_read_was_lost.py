"""Regression: a single Ctrl-C during ``sync --ble`` / ``stream --ble`` could be lost.

``asyncio.run`` turns the first SIGINT into a cancellation of the main task. The BLE transport
waited for the next notification with ``asyncio.wait_for(queue.get(), timeout)``, which on
Python 3.11 returns the item instead of raising when the inner ``get`` finished just as the
caller was cancelled (CPython gh-86296). While the sensor was notifying, the cancellation was
then lost and the sync went on (and could erase runs). The serial transport had the same bug
(``test_ctrl_c_during_sync_was_ignored.py``); the BLE transport now also waits with
``asyncio.timeout`` in the calling task.

Real bleak against an emulated peripheral: a read is cancelled at each step of its first wait
while a notification is already queued, for both readers that share the wait
(:class:`BleTransport` frames and :class:`RscReader` measurements).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from bumble import gatt

from imurun.testing.bleak_bumble import make_backends
from imurun.testing.bumble_link import (
    EmulatedRadio,
    notify_characteristic,
    readable_characteristic,
    writable_characteristic,
)
from imurun.transport.ble import (
    COMMANDS_UUID,
    FRAMES_UUID,
    IMURUN_SERVICE_UUID,
    RSC_FEATURE_UUID,
    RSC_MEASUREMENT_UUID,
    RSC_SERVICE_UUID,
    BleBackend,
    BleTransport,
    RscReader,
)
from tests.cancel_support import lost_cancellations

ROUNDS = 60
RSC_VALUE = bytes.fromhex("07341256890704030201")  # a well-formed RSC Measurement


@pytest.mark.parametrize("reader", ["frames", "rsc"])
def test_a_ble_read_cancelled_while_a_notification_is_waiting_ends_cancelled(reader: str) -> None:
    async def main() -> list[int]:
        async with EmulatedRadio() as radio:
            frames = notify_characteristic(FRAMES_UUID)
            rsc = notify_characteristic(RSC_MEASUREMENT_UUID)
            commands, _ = writable_characteristic(COMMANDS_UUID)
            pod = await radio.add_peripheral("imurun-cancel", [
                gatt.Service(IMURUN_SERVICE_UUID, [frames, commands]),
                gatt.Service(RSC_SERVICE_UUID, [
                    rsc, readable_characteristic(RSC_FEATURE_UUID, b"\x07\x00")]),
            ])
            backend = BleBackend(*make_backends(radio))
            peer: BleTransport | RscReader
            if reader == "frames":
                peer = BleTransport("imurun-cancel", backend=backend)
                characteristic, value = frames, b"\x01" * 20
            else:
                peer = RscReader("imurun-cancel", backend=backend)
                characteristic, value = rsc, RSC_VALUE
            read: Callable[[float], Awaitable[object]] = peer.read
            async with peer:
                queue = peer._queue
                assert queue is not None

                async def produce() -> None:
                    await pod.notify(characteristic, value)

                return await lost_cancellations(ROUNDS, produce, lambda: read(5.0), queue)

    async def bounded() -> list[int]:
        async with asyncio.timeout(60.0):
            return await main()

    lost = asyncio.run(bounded())
    assert lost == [], f"{len(lost)} of {ROUNDS} cancellations were lost"
