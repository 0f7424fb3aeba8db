"""An emulated BLE radio for tests: bumble peripherals and one bumble central on a LocalLink.

No kernel Bluetooth, no hardware: every device is a bumble ``Device`` (host) driving a bumble
``Controller`` (link layer), all attached to one in-process link, so they exchange real
HCI/L2CAP/ATT/GATT traffic. The central is what :mod:`imurun.testing.bleak_bumble` drives
behind the real ``bleak.BleakScanner`` / ``bleak.BleakClient``.

Everything here must be created and used inside one running asyncio event loop::

    async with EmulatedRadio() as radio:
        notify = notify_characteristic(DATA_UUID)
        await radio.add_peripheral("IMU-1", [gatt.Service(SERVICE_UUID, [notify])])
        ...

Emulation choices (see DEVICES.md): LE Data Length Extension is on (251-byte link payloads),
the central asks for ATT_MTU 247, peripherals advertise every 20 ms, and the emulated
controller reports every advertisement with RSSI -50 dBm.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

from bumble import att, gatt, hci
from bumble.controller import Controller
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData, PhysicalTransport
from bumble.device import (
    Advertisement,
    AdvertisingEventProperties,
    AdvertisingParameters,
    AdvertisingSet,
    Connection,
    Device,
)
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

__all__ = [
    "DEFAULT_ATT_MTU",
    "DLE_LINK_PAYLOAD_OCTETS",
    "EmulatedCentral",
    "EmulatedPeripheral",
    "EmulatedRadio",
    "WriteRecorder",
    "notify_characteristic",
    "readable_characteristic",
    "writable_characteristic",
]

DLE_LINK_PAYLOAD_OCTETS = 251
"""LE Data Length Extension: link-layer payload per packet (27 without DLE)."""

DEFAULT_ATT_MTU = 247
"""ATT_MTU the central requests: 251 link octets minus the 4-byte L2CAP header."""

LEGACY_ADVERTISING_DATA_MAX = 31
"""Legacy advertising PDUs carry at most 31 bytes; longer data uses extended advertising."""

_FLAGS_LE_GENERAL_DISCOVERABLE_NO_BREDR = 0x06

AdvertisementListener = Callable[[Advertisement], None]


class _AddressTypeAwareLink(LocalLink):
    """A ``LocalLink`` that stamps LE ACL data with the sending connection's own address.

    bumble 0.0.236's ``LocalLink.send_acl_data`` always uses the sender controller's *random*
    address as the LE source. A peripheral advertising with its *public* address therefore
    never gets an ATT response delivered: the central keys that connection by the public
    address. Using the connection's ``self_address`` keeps the address type intact.
    """

    def send_acl_data(
        self,
        sender_controller: Controller,
        destination_address: hci.Address,
        transport: PhysicalTransport,
        data: bytes,
    ) -> None:
        if transport == PhysicalTransport.LE:
            connection = sender_controller.le_connections.get(destination_address)
            destination = self.find_le_controller(destination_address)
            if connection is not None and destination is not None:
                source = connection.self_address
                asyncio.get_running_loop().call_soon(
                    destination.on_link_acl_data, source, transport, data
                )
                return
        super().send_acl_data(sender_controller, destination_address, transport, data)


class _Controller(Controller):
    """bumble's emulated controller with LE Create Connection Cancel as the spec requires.

    In bumble 0.0.236 the cancel command only answers "success": the pending connection stays
    armed and no LE Connection Complete (status Unknown Connection Identifier) is sent, so a
    host waiting after a connect timeout hangs. Core spec Vol 4, Part E, 7.8.13.
    """

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        event = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0,
            role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address.address_type,
            peer_address=pending.peer_address,
            connection_interval=0,
            peripheral_latency=0,
            supervision_timeout=0,
            central_clock_accuracy=0,
        )
        # Scheduled so that it reaches the host after this command's Command Complete.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


def _new_controller(name: str, link: LocalLink, public_address: hci.Address | None) -> Controller:
    controller = _Controller(name, link=link, public_address=public_address)
    # Emulate LE Data Length Extension; must be set before the host powers on and reads
    # the buffer sizes. Set on the instance, never on the class (other tests share it).
    controller.le_acl_data_packet_length = DLE_LINK_PAYLOAD_OCTETS
    controller.supported_max_tx_octets = DLE_LINK_PAYLOAD_OCTETS
    controller.supported_max_rx_octets = DLE_LINK_PAYLOAD_OCTETS
    controller.suggested_max_tx_octets = DLE_LINK_PAYLOAD_OCTETS
    return controller


def _new_device(name: str, random_address: hci.Address, controller: Controller) -> Device:
    return Device(
        name=name, address=random_address, host=Host(controller, AsyncPipeSink(controller))
    )


# --------------------------------------------------------------------------------------------
# GATT helpers for building peripherals
# --------------------------------------------------------------------------------------------
class WriteRecorder:
    """Records every value written to a characteristic, in arrival order.

    ``values`` holds the raw bytes; :meth:`wait_for` waits (with a timeout) until a number
    of writes has arrived. Use as the value of a bumble characteristic via
    :func:`writable_characteristic`.
    """

    def __init__(self, initial: bytes = b"") -> None:
        self.values: list[bytes] = []
        self.current = bytes(initial)
        self._changed: asyncio.Event | None = None

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def read(self, _connection: Connection | None) -> bytes:
        return self.current

    def write(self, _connection: Connection | None, value: bytes) -> None:
        self.current = bytes(value)
        self.values.append(self.current)
        self._event().set()

    async def wait_for(self, count: int, timeout_s: float) -> list[bytes]:
        """Wait until at least ``count`` writes arrived; raise ``TimeoutError`` otherwise."""
        async with asyncio.timeout(timeout_s):
            while len(self.values) < count:
                event = self._event()
                event.clear()
                await event.wait()
        return list(self.values)


def _read_only(value: bytes) -> gatt.CharacteristicValue[bytes]:
    # bumble 0.0.236's GATT server does not check write permissions ("TODO" in
    # gatt_server.py); a real stack answers Write Not Permitted, so do that here.
    def reject(_connection: Connection | None, _value: bytes) -> None:
        raise att.ATT_Error(att.ATT_WRITE_NOT_PERMITTED_ERROR)

    return gatt.CharacteristicValue(read=lambda _connection: value, write=reject)


def notify_characteristic(uuid: str, *, indicate: bool = False) -> gatt.Characteristic[bytes]:
    """Build a characteristic that only notifies (or indicates); bumble adds its CCCD."""
    prop = (
        gatt.Characteristic.Properties.INDICATE
        if indicate
        else gatt.Characteristic.Properties.NOTIFY
    )
    return gatt.Characteristic(uuid, prop, gatt.Characteristic.READABLE, _read_only(b""))


def readable_characteristic(uuid: str, value: bytes) -> gatt.Characteristic[bytes]:
    """Build a read-only characteristic with a fixed value; writes get Write Not Permitted."""
    return gatt.Characteristic(
        uuid, gatt.Characteristic.Properties.READ, gatt.Characteristic.READABLE, _read_only(value)
    )


def writable_characteristic(
    uuid: str,
    *,
    with_response: bool = True,
    without_response: bool = True,
    readable: bool = False,
    initial: bytes = b"",
) -> tuple[gatt.Characteristic[bytes], WriteRecorder]:
    """Build a characteristic whose writes are recorded; return it and its :class:`WriteRecorder`."""
    props = gatt.Characteristic.Properties(0)
    if with_response:
        props |= gatt.Characteristic.Properties.WRITE
    if without_response:
        props |= gatt.Characteristic.Properties.WRITE_WITHOUT_RESPONSE
    if readable:
        props |= gatt.Characteristic.Properties.READ
    recorder = WriteRecorder(initial)
    characteristic: gatt.Characteristic[bytes] = gatt.Characteristic(
        uuid,
        props,
        gatt.Characteristic.READABLE | gatt.Characteristic.WRITEABLE,
        gatt.CharacteristicValue(read=recorder.read, write=recorder.write),
    )
    return characteristic, recorder


def _advertising_data(
    name: str,
    service_uuids: Sequence[str],
    manufacturer_data: Mapping[int, bytes],
    tx_power_dbm: int | None,
) -> bytes:
    structures: list[tuple[int, bytes]] = [
        (AdvertisingData.FLAGS, bytes([_FLAGS_LE_GENERAL_DISCOVERABLE_NO_BREDR]))
    ]
    if name:
        structures.append((AdvertisingData.COMPLETE_LOCAL_NAME, name.encode("utf-8")))
    by_size: dict[int, bytes] = {2: b"", 4: b"", 16: b""}
    for text in service_uuids:
        raw = BumbleUUID(text).to_bytes()
        by_size[len(raw)] += raw
    for size, ad_type in (
        (2, AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS),
        (4, AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS),
        (16, AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS),
    ):
        if by_size[size]:
            structures.append((ad_type, by_size[size]))
    if tx_power_dbm is not None:
        structures.append(
            (AdvertisingData.TX_POWER_LEVEL, tx_power_dbm.to_bytes(1, "little", signed=True))
        )
    for company_id, payload in manufacturer_data.items():
        structures.append(
            (AdvertisingData.MANUFACTURER_SPECIFIC_DATA, company_id.to_bytes(2, "little") + payload)
        )
    return bytes(AdvertisingData(structures))


# --------------------------------------------------------------------------------------------
# Peripheral
# --------------------------------------------------------------------------------------------
class EmulatedPeripheral:
    """One emulated BLE peripheral: a bumble ``Device`` with a GATT server that advertises.

    Created by :meth:`EmulatedRadio.add_peripheral`. The test (playing the sensor firmware)
    uses it to notify, to disconnect from the peripheral side, and to stop or restart
    advertising. With ``readvertise`` on (the default) it advertises again after every
    disconnection, as a real sensor does, so a reconnect works.
    """

    def __init__(
        self,
        *,
        device: Device,
        controller: Controller,
        link: LocalLink,
        address: hci.Address,
        advertising_data: bytes,
        advertising_interval_ms: float,
        readvertise: bool,
    ) -> None:
        self.device = device
        self.controller = controller
        self.address = address
        self.name: str = device.name
        self.advertising_data = advertising_data
        self.readvertise = readvertise
        self._link = link
        self._advertising_interval_ms = advertising_interval_ms
        self._advertising_set: AdvertisingSet | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._closed = False
        device.on(device.EVENT_CONNECTION, self._on_connection)

    @property
    def address_str(self) -> str:
        """The address as bleak shows it: ``"F0:00:00:00:00:01"``, no type suffix."""
        return self.address.to_string(with_type_qualifier=False)

    @property
    def connections(self) -> list[Connection]:
        """Live connections in which this device is the peripheral."""
        return [c for c in self.device.connections.values() if c.role == hci.Role.PERIPHERAL]

    @property
    def is_advertising(self) -> bool:
        return self._advertising_set is not None and self._advertising_set.enabled

    async def start_advertising(self) -> None:
        """Start (or restart) connectable advertising with this peripheral's data."""
        if self._advertising_set is not None:
            if not self._advertising_set.enabled:
                await self._advertising_set.start()
            return
        legacy = len(self.advertising_data) <= LEGACY_ADVERTISING_DATA_MAX
        own_address_type = (
            hci.OwnAddressType.PUBLIC if self.address.is_public else hci.OwnAddressType.RANDOM
        )
        parameters = AdvertisingParameters(
            advertising_event_properties=AdvertisingEventProperties(
                is_connectable=True, is_scannable=legacy, is_legacy=legacy
            ),
            primary_advertising_interval_min=self._advertising_interval_ms,
            primary_advertising_interval_max=self._advertising_interval_ms,
            own_address_type=own_address_type,
        )
        self._advertising_set = await self.device.create_advertising_set(
            advertising_parameters=parameters,
            random_address=None if self.address.is_public else self.address,
            advertising_data=self.advertising_data,
            auto_start=True,
            auto_restart=False,  # we restart ourselves, see _on_disconnection
        )

    async def stop_advertising(self) -> None:
        """Stop advertising (the peripheral stays powered and keeps its connections)."""
        if self._advertising_set is not None and self._advertising_set.enabled:
            await self._advertising_set.stop()

    async def wait_connected(self, timeout_s: float) -> Connection:
        """Wait until a central is connected; return that connection."""
        async with asyncio.timeout(timeout_s):
            await self._connected.wait()
        return self.connections[0]

    async def wait_disconnected(self, timeout_s: float) -> None:
        """Wait until no central is connected."""
        async with asyncio.timeout(timeout_s):
            await self._disconnected.wait()

    async def disconnect(
        self, reason: int = hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR
    ) -> None:
        """Peripheral-initiated disconnect of every connection (e.g. the sensor rebooting)."""
        for connection in self.connections:
            await connection.disconnect(reason)

    async def notify(self, characteristic: gatt.Characteristic[Any], value: bytes) -> None:
        """Notify every subscribed central (values longer than ATT_MTU - 3 are truncated)."""
        await self.device.notify_subscribers(characteristic, value)

    async def drain(self) -> None:
        """Wait until every queued link packet has been taken by the controller."""
        for connection in self.connections:
            await connection.drain()

    def is_subscribed(self, characteristic: gatt.Characteristic[Any]) -> bool:
        """Tell whether some central enabled notifications or indications on ``characteristic``."""
        for cccds in self.device.gatt_server.subscribers.values():
            cccd = cccds.get(characteristic.handle)
            if cccd and any(cccd):
                return True
        return False

    async def close(self) -> None:
        """Stop advertising, drop connections and leave the air (the device 'vanishes')."""
        if self._closed:
            return
        self._closed = True
        # Let a pending re-advertise finish: cancelling bumble mid-HCI-command would leave
        # its host waiting for a response that is then delivered to a cancelled future.
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task
        await self.stop_advertising()
        await self.disconnect(hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR)
        if self.controller in self._link.controllers:
            self._link.remove_controller(self.controller)

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL:
            return
        self._disconnected.clear()
        self._connected.set()
        connection.on(connection.EVENT_DISCONNECTION, lambda _reason: self._on_disconnection())

    def _on_disconnection(self) -> None:
        if self.connections:
            return
        self._connected.clear()
        self._disconnected.set()
        if self.readvertise and not self._closed:
            task = asyncio.get_running_loop().create_task(self.start_advertising())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


# --------------------------------------------------------------------------------------------
# Central
# --------------------------------------------------------------------------------------------
class EmulatedCentral:
    """The emulated host adapter on the central side, shared by every bleak backend object.

    Like a real adapter it multiplexes: several scanners may be active at once (scanning
    stays on while any is registered) and LE connection attempts are serialised (a
    controller has one pending LE connection at a time).
    """

    def __init__(self, device: Device, att_mtu: int) -> None:
        self.device = device
        self.att_mtu = att_mtu
        self._listeners: dict[object, AdvertisementListener] = {}
        self._scan_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._active_scan = True
        device.on(device.EVENT_ADVERTISEMENT, self._on_advertisement)

    @property
    def address(self) -> hci.Address:
        return self.device.random_address

    async def start_scan(self, listener: AdvertisementListener, *, active: bool = True) -> object:
        """Register ``listener`` for advertisements, starting the scan if needed; return a token."""
        token = object()
        async with self._scan_lock:
            if self._listeners and active and not self._active_scan:
                await self.device.stop_scanning()
            self._listeners[token] = listener
            if not self.device.is_scanning:
                self._active_scan = active
                await self.device.start_scanning(active=active, filter_duplicates=False)
        return token

    async def stop_scan(self, token: object) -> None:
        """Unregister a listener; the scan stops with the last one."""
        async with self._scan_lock:
            if self._listeners.pop(token, None) is None:
                return
            if not self._listeners and self.device.is_scanning:
                await self.device.stop_scanning()

    async def connect(self, address: hci.Address, timeout_s: float) -> Connection:
        """Create an LE connection; raise bumble's ``core.TimeoutError`` after ``timeout_s``.

        The address type matters: a public and a random address with the same bytes are two
        different devices. If the calling task is cancelled, the pending connection is
        cancelled in the controller too, so a later attempt is not blocked.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with asyncio.timeout_at(deadline):
            await self._connect_lock.acquire()
        try:
            remaining = max(deadline - loop.time(), 1e-3)
            try:
                return await self.device.connect_le(
                    address, own_address_type=hci.OwnAddressType.RANDOM, timeout=remaining
                )
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await self.device.send_sync_command(
                        hci.HCI_LE_Create_Connection_Cancel_Command()
                    )
                raise
        finally:
            self._connect_lock.release()

    def connection_to(self, address: hci.Address) -> Connection | None:
        """Return the live connection to ``address``, if any."""
        for connection in self.device.connections.values():
            if connection.peer_address == address:
                return connection
        return None

    async def disconnect(
        self, address: hci.Address, reason: int = hci.HCI_CONNECTION_TIMEOUT_ERROR
    ) -> None:
        """Central-side link drop that bypasses bleak (default reason: supervision timeout)."""
        if (connection := self.connection_to(address)) is not None:
            await connection.disconnect(reason)

    async def close(self) -> None:
        async with self._scan_lock:
            self._listeners.clear()
            if self.device.is_scanning:
                await self.device.stop_scanning()
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(Exception):
                await connection.disconnect()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners.values()):
            listener(advertisement)


# --------------------------------------------------------------------------------------------
# Radio
# --------------------------------------------------------------------------------------------
class EmulatedRadio:
    """An in-process BLE 'air' with any number of emulated peripherals and one central.

    Use as ``async with EmulatedRadio() as radio:`` inside the test's event loop; leaving the
    block stops all advertising and scanning and drops every connection.
    """

    def __init__(self, *, att_mtu: int = DEFAULT_ATT_MTU) -> None:
        self.link: LocalLink = _AddressTypeAwareLink()
        self.att_mtu = att_mtu
        self.peripherals: list[EmulatedPeripheral] = []
        self._central: EmulatedCentral | None = None
        self._central_lock = asyncio.Lock()
        self._next_index = 1

    async def __aenter__(self) -> EmulatedRadio:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _next_address(self, prefix: str) -> str:
        index = self._next_index
        self._next_index += 1
        return f"{prefix}:00:00:00:{index >> 8:02X}:{index & 0xFF:02X}"

    async def add_peripheral(
        self,
        name: str,
        services: Sequence[gatt.Service] = (),
        *,
        address: str | None = None,
        public_address: bool = False,
        advertised_service_uuids: Sequence[str] | None = None,
        manufacturer_data: Mapping[int, bytes] | None = None,
        tx_power_dbm: int | None = None,
        advertise: bool = True,
        readvertise: bool = True,
        advertising_interval_ms: float = 20.0,
    ) -> EmulatedPeripheral:
        """Create a powered-on peripheral with ``services`` and (by default) start advertising.

        Args:
            name: GAP device name and advertised complete local name.
            services: bumble GATT services (GAP and GATT services are added by bumble).
            address: ``"XX:XX:XX:XX:XX:XX"``; generated (static random) when omitted.
            public_address: advertise and connect with a public instead of a random address.
            advertised_service_uuids: defaults to the UUIDs of ``services``.
            manufacturer_data: company id -> payload, advertised as manufacturer data.
            tx_power_dbm: adds a TX Power Level field when given.
            advertise: start advertising now.
            readvertise: advertise again after each disconnection.
            advertising_interval_ms: 20 ms (the BLE minimum) keeps discovery fast.

        """
        text = address or self._next_address("F0")
        address_type = (
            hci.Address.PUBLIC_DEVICE_ADDRESS
            if public_address
            else hci.Address.RANDOM_DEVICE_ADDRESS
        )
        own_address = hci.Address(text, address_type)
        # Even a public-address device keeps a (distinct) random address in its host.
        random_address = (
            own_address if not public_address else hci.Address(self._next_address("E0"))
        )
        controller = _new_controller(
            f"peripheral-{name}", self.link, own_address if public_address else None
        )
        device = _new_device(name, random_address, controller)
        device.add_services(services)
        await device.power_on()
        if advertised_service_uuids is None:
            advertised_service_uuids = [s.uuid.to_hex_str("-") for s in services]
        peripheral = EmulatedPeripheral(
            device=device,
            controller=controller,
            link=self.link,
            address=own_address,
            advertising_data=_advertising_data(
                name, advertised_service_uuids, manufacturer_data or {}, tx_power_dbm
            ),
            advertising_interval_ms=advertising_interval_ms,
            readvertise=readvertise,
        )
        self.peripherals.append(peripheral)
        if advertise:
            await peripheral.start_advertising()
        return peripheral

    async def central(self) -> EmulatedCentral:
        """Return the central adapter shared by all bleak objects (created on first use)."""
        async with self._central_lock:
            if self._central is None:
                address = hci.Address(self._next_address("C0"))
                controller = _new_controller("central", self.link, None)
                device = _new_device("imurun-central", address, controller)
                await device.power_on()
                self._central = EmulatedCentral(device, self.att_mtu)
            return self._central

    async def close(self) -> None:
        """Stop all advertising and scanning and drop all connections."""
        if self._central is not None:
            await self._central.close()
        for peripheral in self.peripherals:
            await peripheral.close()
