"""The real bleak.BleakScanner / bleak.BleakClient against emulated bumble peripherals.

No bleak class is mocked: bleak runs unchanged with ``backend=`` set to the bumble backend of
``imurun.testing.bleak_bumble``, and the peripherals are bumble devices speaking real
HCI/L2CAP/ATT/GATT over an in-process link. Tests wait on events with timeouts, never sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_16
from bumble import gatt, hci
from bumble.device import Connection

from imurun.testing.bleak_bumble import BumbleBackends, BumbleDeviceDetails, make_backends
from imurun.testing.bumble_link import (
    EmulatedPeripheral,
    EmulatedRadio,
    WriteRecorder,
    notify_characteristic,
    readable_characteristic,
    writable_characteristic,
)

IMU_SERVICE = "a3c87500-8ed3-4bdf-8a39-a01bebede295"
IMU_DATA = "a3c87501-8ed3-4bdf-8a39-a01bebede295"  # notify
IMU_CONTROL = "a3c87502-8ed3-4bdf-8a39-a01bebede295"  # write, write without response
RSC_SERVICE = normalize_uuid_16(0x1814)
RSC_MEASUREMENT = normalize_uuid_16(0x2A53)
RSC_FEATURE = normalize_uuid_16(0x2A54)
CCCD = normalize_uuid_16(0x2902)
RSC_FEATURE_VALUE = b"\x03\x00"  # stride length + walking/running status supported
COMPANY_ID = 0xFFFF  # reserved for tests by the Bluetooth SIG
MANUFACTURER_PAYLOAD = b"\x01\x02"
TIMEOUT_S = 5.0
PAYLOAD_SIZE = 244  # ATT_MTU 247 - 3


@dataclass
class Sensor:
    """One emulated sensor and the handles a test needs to play its firmware."""

    peripheral: EmulatedPeripheral
    data: gatt.Characteristic[bytes]
    rsc_measurement: gatt.Characteristic[bytes]
    control: WriteRecorder


async def add_sensor(
    radio: EmulatedRadio, name: str = "IMU-1", *, address: str | None = None, public: bool = False
) -> Sensor:
    data = notify_characteristic(IMU_DATA)
    control_char, control = writable_characteristic(IMU_CONTROL)
    measurement = notify_characteristic(RSC_MEASUREMENT)
    services = [
        gatt.Service(IMU_SERVICE, [data, control_char]),
        gatt.Service(
            RSC_SERVICE, [measurement, readable_characteristic(RSC_FEATURE, RSC_FEATURE_VALUE)]
        ),
    ]
    peripheral = await radio.add_peripheral(
        name,
        services,
        address=address,
        public_address=public,
        manufacturer_data={COMPANY_ID: MANUFACTURER_PAYLOAD},
        tx_power_dbm=-4,
    )
    return Sensor(peripheral, data, measurement, control)


def run(
    test: Callable[[EmulatedRadio, BumbleBackends], Awaitable[None]], timeout_s: float = 30.0
) -> None:
    """Run one async test body with a fresh radio, bounded by an overall timeout."""

    async def main() -> None:
        async with asyncio.timeout(timeout_s), EmulatedRadio() as radio:
            await test(radio, make_backends(radio))

    asyncio.run(main())


async def find(backends: BumbleBackends, name: str) -> BLEDevice:
    device = await BleakScanner.find_device_by_name(
        name, timeout=TIMEOUT_S, backend=backends.scanner
    )
    assert device is not None, f"{name} not found"
    return device


def sample(seq: int, size: int = PAYLOAD_SIZE) -> bytes:
    """A notification payload: 4-byte sequence number, then bytes derived from it."""
    head = seq.to_bytes(4, "little")
    body = bytes((seq + i) & 0xFF for i in range(max(size - 4, 0)))
    return (head + body)[:size]


class Inbox:
    """Bleak notification callback per STYLE habit 7: only ``put_nowait((t_host, data))``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[float, bytearray]] = asyncio.Queue()

    def callback(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self.queue.put_nowait((time.monotonic(), data))

    async def take(self, count: int, timeout_s: float = TIMEOUT_S) -> list[bytes]:
        out: list[bytes] = []
        async with asyncio.timeout(timeout_s):
            while len(out) < count:
                _, data = await self.queue.get()
                out.append(bytes(data))
        return out


# --------------------------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------------------------
def test_scan_finds_peripheral_by_name_and_address_with_advertisement_data() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        by_name = await find(backends, "IMU-1")
        assert by_name.address == sensor.peripheral.address_str
        assert by_name.name == "IMU-1"

        by_address = await BleakScanner.find_device_by_address(
            sensor.peripheral.address_str.lower(), timeout=TIMEOUT_S, backend=backends.scanner
        )
        assert by_address is not None
        assert isinstance(by_address.details, BumbleDeviceDetails)
        assert by_address.details.address == sensor.peripheral.address

        seen = asyncio.Event()
        adverts = []

        def on_detect(device: BLEDevice, adv: object) -> None:
            adverts.append(adv)
            seen.set()

        async with BleakScanner(on_detect, backend=backends.scanner) as scanner:
            async with asyncio.timeout(TIMEOUT_S):
                await seen.wait()
        device, adv = scanner.discovered_devices_and_advertisement_data[
            sensor.peripheral.address_str
        ]
        assert adv.local_name == "IMU-1"
        assert isinstance(adv.rssi, int)
        assert -127 <= adv.rssi <= 20
        assert adv.rssi == -50  # what the emulated controller reports
        assert sorted(adv.service_uuids) == sorted([IMU_SERVICE, RSC_SERVICE])
        assert adv.manufacturer_data == {COMPANY_ID: MANUFACTURER_PAYLOAD}
        assert adv.tx_power == -4

    run(body)


def test_discover_return_adv_lists_every_peripheral() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        a = await add_sensor(radio, "IMU-A")
        b = await add_sensor(radio, "IMU-B")
        # discover() scans for a fixed time by design; 0.3 s is 15 advertising intervals.
        found = await BleakScanner.discover(timeout=0.3, return_adv=True, backend=backends.scanner)
        names = {adv.local_name for _, adv in found.values()}
        assert {"IMU-A", "IMU-B"} <= names
        assert {a.peripheral.address_str, b.peripheral.address_str} <= set(found)

    run(body)


def test_service_uuid_filter_hides_other_peripherals() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        await add_sensor(radio, "IMU-1")
        other = notify_characteristic("0000fff1-0000-1000-8000-00805f9b34fb")
        await radio.add_peripheral(
            "OTHER", [gatt.Service("0000fff0-0000-1000-8000-00805f9b34fb", [other])]
        )
        names: list[str | None] = []
        enough = asyncio.Event()

        def on_detect(_device: BLEDevice, adv: object) -> None:
            names.append(getattr(adv, "local_name", None))
            if len(names) >= 10:
                enough.set()

        async with BleakScanner(on_detect, [IMU_SERVICE], backend=backends.scanner):
            async with asyncio.timeout(TIMEOUT_S):
                await enough.wait()
        assert set(names) == {"IMU-1"}

    run(body)


# --------------------------------------------------------------------------------------------
# Connection, discovery, read, write
# --------------------------------------------------------------------------------------------
def test_connect_mtu_and_service_discovery() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        await add_sensor(radio)
        device = await find(backends, "IMU-1")
        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            assert client.is_connected
            assert client.mtu_size == 247
            assert client.name == "IMU-1"
            services = client.services
            imu = services.get_service(IMU_SERVICE)
            rsc = services.get_service(RSC_SERVICE)
            assert imu is not None
            assert rsc is not None
            data = imu.get_characteristic(IMU_DATA)
            control = imu.get_characteristic(IMU_CONTROL)
            assert data is not None
            assert control is not None
            assert data.properties == ["notify"]
            assert set(control.properties) == {"write", "write-without-response"}
            assert control.max_write_without_response_size == PAYLOAD_SIZE
            assert [d.uuid for d in data.descriptors] == [CCCD]
            feature = rsc.get_characteristic(RSC_FEATURE)
            assert feature is not None
            assert feature.properties == ["read"]
            measurement = rsc.get_characteristic(RSC_MEASUREMENT)
            assert measurement is not None
            assert measurement.get_descriptor(CCCD) is not None
            # bumble's own GAP and GATT services are discovered too
            assert services.get_service(normalize_uuid_16(0x1800)) is not None

    run(body)


def test_read_characteristics_and_descriptor() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        await add_sensor(radio)
        device = await find(backends, "IMU-1")
        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            assert await client.read_gatt_char(RSC_FEATURE) == bytearray(RSC_FEATURE_VALUE)
            assert await client.read_gatt_char(normalize_uuid_16(0x2A00)) == bytearray(b"IMU-1")
            data = client.services.get_characteristic(IMU_DATA)
            assert data is not None
            cccd = data.get_descriptor(CCCD)
            assert cccd is not None
            assert await client.read_gatt_descriptor(cccd) == bytearray(b"\x00\x00")
            with pytest.raises(ValueError, match="CCCD"):  # bleak's own cross-platform rule
                await client.write_gatt_descriptor(cccd, b"\x01\x00")

    run(body)


def test_write_with_and_without_response_reaches_peripheral() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            await client.write_gatt_char(IMU_CONTROL, b"\x01start", response=True)
            assert sensor.control.values == [b"\x01start"]  # the response implies arrival
            await client.write_gatt_char(IMU_CONTROL, bytearray(b"\x02"), response=False)
            await client.write_gatt_char(
                IMU_CONTROL, memoryview(bytes(PAYLOAD_SIZE)), response=False
            )
            assert await sensor.control.wait_for(3, TIMEOUT_S) == [
                b"\x01start",
                b"\x02",
                bytes(PAYLOAD_SIZE),
            ]
            long_value = bytes(range(256)) + bytes(range(200))  # > MTU: Prepare/Execute Write
            await client.write_gatt_char(IMU_CONTROL, long_value, response=True)
            assert sensor.control.values[-1] == long_value

    run(body)


def test_write_to_read_only_characteristic_raises_bleak_protocol_error() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        await add_sensor(radio)
        device = await find(backends, "IMU-1")
        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            with pytest.raises(BleakGATTProtocolError) as info:
                await client.write_gatt_char(RSC_FEATURE, b"\x00", response=True)
            assert info.value.code == 0x03  # Write Not Permitted
            assert info.value.__cause__ is not None  # converted with `raise ... from e`

    run(body)


# --------------------------------------------------------------------------------------------
# Notifications
# --------------------------------------------------------------------------------------------
def test_2000_notifications_of_244_bytes_arrive_in_order_none_lost() -> None:
    count = 2000

    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        inbox = Inbox()
        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            await client.start_notify(IMU_DATA, inbox.callback)
            assert sensor.peripheral.is_subscribed(sensor.data)
            for seq in range(count):
                await sensor.peripheral.notify(sensor.data, sample(seq))
            received = await inbox.take(count, timeout_s=20.0)
            await client.stop_notify(IMU_DATA)
            assert not sensor.peripheral.is_subscribed(sensor.data)
        assert [int.from_bytes(r[:4], "little") for r in received] == list(range(count))
        assert received == [sample(seq) for seq in range(count)]
        assert inbox.queue.empty()

    run(body)


def test_notifications_of_every_length_arrive_intact() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        inbox = Inbox()
        sent = [bytes((n * 7 + i) & 0xFF for i in range(n)) for n in range(1, PAYLOAD_SIZE + 1)]
        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            await client.start_notify(RSC_MEASUREMENT, inbox.callback)
            for value in sent:
                await sensor.peripheral.notify(sensor.rsc_measurement, value)
            assert await inbox.take(len(sent)) == sent

    run(body)


def test_notifications_from_two_characteristics_keep_their_sender() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        got: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

        def on_notify(sender: BleakGATTCharacteristic, data: bytearray) -> None:
            got.put_nowait((sender.uuid, bytes(data)))

        async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
            await client.start_notify(IMU_DATA, on_notify)
            await client.start_notify(RSC_MEASUREMENT, on_notify)
            await sensor.peripheral.notify(sensor.data, b"imu")
            await sensor.peripheral.notify(
                sensor.rsc_measurement, bytes.fromhex("07341256890704030201")
            )
            async with asyncio.timeout(TIMEOUT_S):
                assert await got.get() == (IMU_DATA, b"imu")
                assert await got.get() == (RSC_MEASUREMENT, bytes.fromhex("07341256890704030201"))

    run(body)


# --------------------------------------------------------------------------------------------
# Disconnection and reconnection
# --------------------------------------------------------------------------------------------
def test_peripheral_disconnect_calls_disconnected_callback_then_reconnect_works() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        disconnected = asyncio.Event()
        calls: list[BleakClient] = []

        def on_disconnect(client: BleakClient) -> None:
            calls.append(client)
            disconnected.set()

        client = BleakClient(device, on_disconnect, timeout=TIMEOUT_S, backend=backends.client)
        await client.connect()
        inbox = Inbox()
        await client.start_notify(IMU_DATA, inbox.callback)

        await sensor.peripheral.disconnect()  # the sensor drops the link
        async with asyncio.timeout(TIMEOUT_S):
            await disconnected.wait()
        assert calls == [client]
        assert not client.is_connected
        with pytest.raises(BleakError):
            await client.read_gatt_char(RSC_FEATURE)

        # The sensor advertises again; the same BleakClient reconnects.
        disconnected.clear()
        await client.connect()
        assert client.is_connected
        assert await client.read_gatt_char(RSC_FEATURE) == bytearray(RSC_FEATURE_VALUE)
        await client.start_notify(IMU_DATA, inbox.callback)
        await sensor.peripheral.notify(sensor.data, sample(7))
        assert await inbox.take(1) == [sample(7)]
        await client.disconnect()
        assert not client.is_connected
        assert len(calls) == 2  # bleak-initiated disconnects call it too, as on BlueZ

    run(body)


def test_central_side_link_loss_calls_disconnected_callback() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        lost = asyncio.Event()
        async with BleakClient(
            device, lambda _c: lost.set(), timeout=TIMEOUT_S, backend=backends.client
        ) as client:
            central = await radio.central()
            await central.disconnect(sensor.peripheral.address)  # e.g. supervision timeout
            async with asyncio.timeout(TIMEOUT_S):
                await lost.wait()
            assert not client.is_connected
            await sensor.peripheral.wait_disconnected(TIMEOUT_S)

    run(body)


def test_connect_by_address_string_scans_first() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        async with BleakClient(
            sensor.peripheral.address_str, timeout=TIMEOUT_S, backend=backends.client
        ) as client:
            assert await client.read_gatt_char(RSC_FEATURE) == bytearray(RSC_FEATURE_VALUE)
            assert client.name == "IMU-1"

    run(body)


def test_connect_to_absent_device_times_out_within_timeout() -> None:
    timeout_s = 0.5

    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        ghost = BLEDevice(
            "F0:DE:AD:00:00:01", None, BumbleDeviceDetails(hci.Address("F0:DE:AD:00:00:01"))
        )
        client = BleakClient(ghost, timeout=timeout_s, backend=backends.client)
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await client.connect()
        elapsed = time.monotonic() - t0
        assert timeout_s * 0.9 <= elapsed < timeout_s + 0.5
        assert not client.is_connected

        # An address string that never advertises: bleak's BlueZ behaviour.
        t0 = time.monotonic()
        with pytest.raises(BleakDeviceNotFoundError):
            await BleakClient(
                "F0:DE:AD:00:00:02", timeout=timeout_s, backend=backends.client
            ).connect()
        assert time.monotonic() - t0 < timeout_s + 0.5

        # The central is not left with a pending connection: a real device still connects.
        await add_sensor(radio)
        async with BleakClient(await find(backends, "IMU-1"), backend=backends.client) as client:
            assert client.is_connected

    run(body)


def test_cancelling_a_connect_leaves_the_central_usable() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        ghost = BLEDevice(
            "F0:DE:AD:00:00:03", None, BumbleDeviceDetails(hci.Address("F0:DE:AD:00:00:03"))
        )
        client = BleakClient(ghost, timeout=TIMEOUT_S, backend=backends.client)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):  # the caller's own deadline, shorter than bleak's
                await client.connect()
        await add_sensor(radio)
        async with BleakClient(await find(backends, "IMU-1"), backend=backends.client) as client:
            assert client.is_connected

    run(body)


def test_link_loss_during_a_read_raises_bleak_error_not_cancelled() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        release = asyncio.Event()
        holder: list[EmulatedPeripheral] = []

        async def read_then_drop_link(_connection: Connection) -> bytes:
            # The sensor resets in the middle of answering a read.
            asyncio.get_running_loop().create_task(holder[0].disconnect())
            await release.wait()
            return b""

        slow: gatt.Characteristic[bytes] = gatt.Characteristic(
            "a3c87503-8ed3-4bdf-8a39-a01bebede295",
            gatt.Characteristic.Properties.READ,
            gatt.Characteristic.READABLE,
            gatt.CharacteristicValue(read=read_then_drop_link),
        )
        holder.append(await radio.add_peripheral("SLOW", [gatt.Service(IMU_SERVICE, [slow])]))
        lost = asyncio.Event()
        device = await find(backends, "SLOW")
        async with BleakClient(
            device, lambda _c: lost.set(), timeout=TIMEOUT_S, backend=backends.client
        ) as client:
            with pytest.raises(BleakError, match="disconnected"):
                await client.read_gatt_char("a3c87503-8ed3-4bdf-8a39-a01bebede295")
            assert lost.is_set()
            assert not client.is_connected
        release.set()

    run(body)


def test_device_that_vanished_after_scan_times_out() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        sensor = await add_sensor(radio)
        device = await find(backends, "IMU-1")
        await sensor.peripheral.close()  # out of range / battery dead
        with pytest.raises(TimeoutError):
            await BleakClient(device, timeout=0.3, backend=backends.client).connect()

    run(body)


# --------------------------------------------------------------------------------------------
# Several peripherals, address types
# --------------------------------------------------------------------------------------------
def test_two_peripherals_connected_at_once_keep_their_data_apart() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        left = await add_sensor(radio, "IMU-L")
        right = await add_sensor(radio, "IMU-R")
        dev_l, dev_r = await find(backends, "IMU-L"), await find(backends, "IMU-R")
        inbox_l, inbox_r = Inbox(), Inbox()
        async with (
            BleakClient(dev_l, timeout=TIMEOUT_S, backend=backends.client) as client_l,
            BleakClient(dev_r, timeout=TIMEOUT_S, backend=backends.client) as client_r,
        ):
            await client_l.start_notify(IMU_DATA, inbox_l.callback)
            await client_r.start_notify(IMU_DATA, inbox_r.callback)
            for seq in range(50):
                await left.peripheral.notify(left.data, sample(seq))
                await right.peripheral.notify(right.data, sample(1000 + seq))
            assert await inbox_l.take(50) == [sample(s) for s in range(50)]
            assert await inbox_r.take(50) == [sample(1000 + s) for s in range(50)]
            await client_r.write_gatt_char(IMU_CONTROL, b"R", response=True)
            assert right.control.values == [b"R"]
            assert left.control.values == []

    run(body)


def test_public_and_random_address_with_same_bytes_are_different_devices() -> None:
    async def body(radio: EmulatedRadio, backends: BumbleBackends) -> None:
        same = "C4:11:22:33:44:55"
        await add_sensor(radio, "PUB", address=same, public=True)
        await add_sensor(radio, "RND", address=same, public=False)
        pub, rnd = await find(backends, "PUB"), await find(backends, "RND")
        assert pub.address == rnd.address == same
        assert isinstance(pub.details, BumbleDeviceDetails)
        assert pub.details.address.is_public
        assert isinstance(rnd.details, BumbleDeviceDetails)
        assert rnd.details.address.is_random
        for device, name in ((pub, b"PUB"), (rnd, b"RND")):
            async with BleakClient(device, timeout=TIMEOUT_S, backend=backends.client) as client:
                assert await client.read_gatt_char(normalize_uuid_16(0x2A00)) == bytearray(name)

    run(body)
