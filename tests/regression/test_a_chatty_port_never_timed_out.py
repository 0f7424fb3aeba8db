"""Regression: a request to a port where something other than a sensor talks never timed out.

``SensorClient.next_event`` read chunk after chunk until one decoded to an event, each read with
the full timeout: bytes that never form a frame (a GPS receiver's NMEA sentences, a console)
kept it waiting forever, so ``imurun sync`` / ``stream`` hung instead of exiting 4. The timeout
now bounds the wait for an event, however many bytes arrive meanwhile.
"""

from __future__ import annotations

import asyncio

import pytest

from imurun.device.client import SensorClient
from imurun.errors import DeviceTimeoutError
from imurun.transport.serial import SerialTransport
from tests.sim_support import nonsense_port


def test_device_info_times_out_while_nonsense_keeps_arriving() -> None:
    async def main(port: str) -> None:
        t = SerialTransport(port)
        await t.open(1.0)
        c = SensorClient(t, timeout_s=0.3)
        try:
            async with asyncio.timeout(20.0):  # the bug: this one fired (a TimeoutError) instead
                with pytest.raises(DeviceTimeoutError):
                    await c.device_info()
        finally:
            await t.close()

    with nonsense_port() as port:
        asyncio.run(main(port))
