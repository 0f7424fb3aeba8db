"""Notification throughput of the emulated BLE link, measured through the real bleak client.

Path measured: bumble peripheral GATT server -> L2CAP/HCI -> emulated controllers with LE Data
Length Extension (251-byte link payloads) -> bumble central -> imurun's bleak backend ->
``bleak.BleakClient`` notification callback -> ``asyncio.Queue``. CPU-bound: this is a
functional emulator, not a radio model, so the numbers say how fast tests can stream, not how
fast a real link is.

Run: ``python -m benchmarks.ble_emulation_throughput [n_notifications] [size]``.
"""

from __future__ import annotations

import asyncio
import json
import platform
import sys
import time
from importlib.metadata import version
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bumble import gatt

from imurun.testing.bleak_bumble import make_backends
from imurun.testing.bumble_link import (
    DLE_LINK_PAYLOAD_OCTETS,
    EmulatedRadio,
    notify_characteristic,
)

SERVICE = "a3c87500-8ed3-4bdf-8a39-a01bebede295"
DATA = "a3c87501-8ed3-4bdf-8a39-a01bebede295"
DRAIN_EVERY = 32  # let the controller take queued packets, as its buffer would force
TIMEOUT_S = 120.0


async def _measure(n_notifications: int, size: int) -> dict[str, Any]:
    async with asyncio.timeout(TIMEOUT_S), EmulatedRadio() as radio:
        data = notify_characteristic(DATA)
        peripheral = await radio.add_peripheral("BENCH", [gatt.Service(SERVICE, [data])])
        backends = make_backends(radio)
        device = await BleakScanner.find_device_by_name("BENCH", backend=backends.scanner)
        if device is None:
            raise RuntimeError("emulated peripheral not found")
        queue: asyncio.Queue[tuple[float, bytearray]] = asyncio.Queue()

        def on_notify(_sender: BleakGATTCharacteristic, value: bytearray) -> None:
            queue.put_nowait((time.perf_counter(), value))

        payloads = [
            seq.to_bytes(4, "little") + bytes(max(size - 4, 0)) for seq in range(n_notifications)
        ]
        async with BleakClient(device, backend=backends.client) as client:
            mtu = client.mtu_size
            if size > mtu - 3:
                raise ValueError(f"size {size} exceeds ATT_MTU {mtu} - 3")
            await client.start_notify(DATA, on_notify)

            async def produce() -> None:
                for seq, payload in enumerate(payloads):
                    await peripheral.notify(data, payload[:size])
                    if seq % DRAIN_EVERY == DRAIN_EVERY - 1:
                        await peripheral.drain()

            t0 = time.perf_counter()
            producer = asyncio.create_task(produce())
            received = [await queue.get() for _ in range(n_notifications)]
            t_last = received[-1][0]
            await producer
            await client.stop_notify(DATA)

    elapsed_s = t_last - t0
    seqs = [int.from_bytes(v[:4], "little") for _, v in received]
    return {
        "n_notifications": n_notifications,
        "size_bytes": size,
        "elapsed_s": round(elapsed_s, 4),
        "notifications_per_s": round(n_notifications / elapsed_s, 1),
        "kib_per_s": round(n_notifications * size / 1024 / elapsed_s, 1),
        "in_order_none_lost": seqs == list(range(n_notifications)),
        "att_mtu": mtu,
        "link_payload_octets": DLE_LINK_PAYLOAD_OCTETS,
        "python": platform.python_version(),
        "bleak": version("bleak"),
        "bumble": version("bumble"),
    }


def measure(n_notifications: int = 5000, size: int = 244) -> dict[str, Any]:
    """Stream ``n_notifications`` of ``size`` bytes; return rate, KiB/s and integrity."""
    return asyncio.run(_measure(n_notifications, size))


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    print(json.dumps(measure(*args), indent=2))
