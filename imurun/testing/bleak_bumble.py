"""A bleak backend driving the emulated bumble central of :mod:`imurun.testing.bumble_link`.

Test and developer infrastructure only: production code stays plain bleak and merely accepts
an optional ``backend`` that it passes to ``BleakScanner`` / ``BleakClient``::

    async with EmulatedRadio() as radio:
        await radio.add_peripheral("IMU-1", services)
        backends = make_backends(radio)
        device = await BleakScanner.find_device_by_name("IMU-1", backend=backends.scanner)
        async with BleakClient(device, backend=backends.client) as client:
            ...

Like a real backend, every bumble exception leaving connect/read/write/notify is converted
(``raise ... from e``) into bleak's own types: ``BleakError``, ``BleakGATTProtocolError``,
``BleakDeviceNotFoundError`` or the builtin ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, NamedTuple, TypeVar, cast

from bleak import BleakScanner
from bleak.args import SizedBuffer
from bleak.assigned_numbers import CHARACTERISTIC_PROPERTIES, CharacteristicPropertyName
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bleak.uuids import normalize_uuid_16, normalize_uuid_32, normalize_uuid_str
from bumble import att, core, hci
from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Peer
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR
from bumble.gatt_client import CharacteristicProxy

from imurun.testing.bumble_link import EmulatedCentral, EmulatedRadio

__all__ = [
    "BumbleBackends",
    "BumbleClientBackend",
    "BumbleDeviceDetails",
    "BumbleScannerBackend",
    "make_backends",
]

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_ATT_DEFAULT_MTU = 23


@dataclass(frozen=True)
class BumbleDeviceDetails:
    """``BLEDevice.details`` of this backend: the typed address and the raw advertisement.

    The address type (public/random) is what lets a scanned device be connected.
    """

    address: hci.Address
    advertisement: Advertisement | None = None


class BumbleBackends(NamedTuple):
    """The two backend classes bound to one :class:`EmulatedRadio` (see :func:`make_backends`)."""

    scanner: type[BumbleScannerBackend]
    client: type[BumbleClientBackend]


def make_backends(radio: EmulatedRadio) -> BumbleBackends:
    """Bleak backend classes bound to ``radio``: pass them as ``backend=`` to bleak.

    bleak instantiates backends itself, so the radio travels as a class attribute of a
    per-radio subclass rather than as a global.
    """
    scanner = cast(
        "type[BumbleScannerBackend]",
        type("BumbleScannerBackend", (BumbleScannerBackend,), {"_radio": radio}),
    )
    client = cast(
        "type[BumbleClientBackend]",
        type(
            "BumbleClientBackend",
            (BumbleClientBackend,),
            {"_radio": radio, "_scanner_backend": scanner},
        ),
    )
    return BumbleBackends(scanner=scanner, client=client)


async def _central_of(cls: type[Any]) -> EmulatedCentral:
    radio: EmulatedRadio | None = cls._radio
    if radio is None:
        raise BleakError(f"{cls.__name__} is not bound to a radio; use make_backends(radio)")
    try:
        return await radio.central()
    except core.BaseBumbleError as e:
        raise BleakError(f"emulated central could not power on: {e}") from e


def _uuid_str(value: BumbleUUID) -> str:
    return normalize_uuid_str(value.to_hex_str("-"))


def _uuid_list(data: bytes, size: int) -> list[str]:
    out: list[str] = []
    for i in range(0, len(data) - size + 1, size):
        raw = data[i : i + size]
        if size == 2:
            out.append(normalize_uuid_16(int.from_bytes(raw, "little")))
        elif size == 4:
            out.append(normalize_uuid_32(int.from_bytes(raw, "little")))
        else:
            out.append(str(uuid.UUID(bytes=bytes(reversed(raw)))))
    return out


_UUID_LIST_SIZES = {
    AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}
_SERVICE_DATA_SIZES = {
    AdvertisingData.SERVICE_DATA_16_BIT_UUID: 2,
    AdvertisingData.SERVICE_DATA_32_BIT_UUID: 4,
    AdvertisingData.SERVICE_DATA_128_BIT_UUID: 16,
}


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Convert a bumble advertisement (AD structures) into bleak's ``AdvertisementData``."""
    complete_name: str | None = None
    short_name: str | None = None
    manufacturer_data: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    service_uuids: dict[str, None] = {}  # ordered set: scan responses repeat fields
    tx_power: int | None = None
    for ad_type, value in advertisement.data.ad_structures:
        if ad_type == AdvertisingData.COMPLETE_LOCAL_NAME and complete_name is None:
            complete_name = value.decode("utf-8", errors="replace")
        elif ad_type == AdvertisingData.SHORTENED_LOCAL_NAME and short_name is None:
            short_name = value.decode("utf-8", errors="replace")
        elif ad_type in _UUID_LIST_SIZES:
            service_uuids.update(dict.fromkeys(_uuid_list(value, _UUID_LIST_SIZES[ad_type])))
        elif ad_type in _SERVICE_DATA_SIZES and len(value) >= _SERVICE_DATA_SIZES[ad_type]:
            size = _SERVICE_DATA_SIZES[ad_type]
            service_data[_uuid_list(value[:size], size)[0]] = bytes(value[size:])
        elif ad_type == AdvertisingData.MANUFACTURER_SPECIFIC_DATA and len(value) >= 2:
            manufacturer_data[int.from_bytes(value[:2], "little")] = bytes(value[2:])
        elif ad_type == AdvertisingData.TX_POWER_LEVEL and len(value) == 1:
            tx_power = int.from_bytes(value, "little", signed=True)
    return AdvertisementData(
        local_name=complete_name if complete_name is not None else short_name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=list(service_uuids),
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


# --------------------------------------------------------------------------------------------
# Scanner
# --------------------------------------------------------------------------------------------
class BumbleScannerBackend(BaseBleakScanner):
    """``BaseBleakScanner`` over the emulated central; obtain a bound class via :func:`make_backends`.

    ``BLEDevice.address`` is ``"XX:XX:XX:XX:XX:XX"`` (no type); ``BLEDevice.details`` is a
    :class:`BumbleDeviceDetails` that keeps the address type for connecting.
    """

    _radio: ClassVar[EmulatedRadio | None] = None

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._active = scanning_mode == "active"
        self._central: EmulatedCentral | None = None
        self._token: object | None = None
        self._names: dict[str, str] = {}

    async def start(self) -> None:
        """Start scanning; ``seen_devices`` is cleared as bleak requires."""
        if self._token is not None:
            raise BleakError("Scanner already started")
        self.seen_devices = {}
        self._names = {}
        self._central = await _central_of(type(self))
        try:
            self._token = await self._central.start_scan(
                self._on_advertisement, active=self._active
            )
        except core.BaseBumbleError as e:
            raise BleakError(f"start scanning failed: {e}") from e

    async def stop(self) -> None:
        """Stop scanning (a no-op when not scanning)."""
        if self._central is None or self._token is None:
            return
        token, self._token = self._token, None
        try:
            await self._central.stop_scan(token)
        except core.BaseBumbleError as e:
            raise BleakError(f"stop scanning failed: {e}") from e

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = advertisement.address
        key = str(address)  # keeps the "/P" qualifier: public and random are distinct devices
        if adv.local_name is not None:
            self._names[key] = adv.local_name
        device = self.create_or_update_device(
            key,
            address.to_string(with_type_qualifier=False),
            self._names.get(key),
            BumbleDeviceDetails(address=address, advertisement=advertisement),
            adv,
        )
        self.call_detection_callbacks(device, adv)


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------
def _properties(flags: int) -> list[CharacteristicPropertyName]:
    return [name for bit, name in CHARACTERISTIC_PROPERTIES.items() if flags & bit]


class BumbleClientBackend(BaseBleakClient):
    """``BaseBleakClient`` over the emulated central; obtain a bound class via :func:`make_backends`.

    ``connect`` honours ``timeout`` for the whole of scanning (when given an address string),
    connecting, the MTU exchange (ATT_MTU 247) and service discovery. The disconnected
    callback runs on every disconnection of an established link, whoever initiated it (as
    on BlueZ), and ``services`` is cleared.
    """

    _radio: ClassVar[EmulatedRadio | None] = None
    _scanner_backend: ClassVar[type[BumbleScannerBackend]] = BumbleScannerBackend

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._peer_address: hci.Address | None = None
        self._name: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._name = address_or_ble_device.name
            if isinstance(address_or_ble_device.details, BumbleDeviceDetails):
                self._peer_address = address_or_ble_device.details.address
        self._service_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._connecting = False
        # One bumble subscriber per characteristic handle; it forwards to the current callback.
        self._notify_callbacks: dict[int, NotifyCallback] = {}
        self._bumble_subscribers: dict[int, Callable[[bytes], None]] = {}

    # ---- properties ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        """Advertised local name, else the address with dashes (bleak's convention)."""
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT_MTU (23 when not connected)."""
        return self._connection.att_mtu if self._connection is not None else _ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and not self._connecting

    # ---- connection ------------------------------------------------------------------------
    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Scan if needed, connect, exchange MTU and discover services within ``timeout``.

        Raises:
            BleakDeviceNotFoundError: an address string was not seen while scanning.
            TimeoutError: the link or the discovery did not complete within ``timeout``.
            BleakError: already connected, or the stack refused the connection.

        """
        if self._connection is not None:
            raise BleakError("Client is already connected")
        if pair:
            logger.info("bumble backend: pairing is not emulated, ignoring pair=True")
        timeout_s = float(kwargs.get("timeout", self._timeout))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        central = await _central_of(type(self))

        if self._peer_address is None:
            found = await BleakScanner.find_device_by_address(
                self.address, timeout=timeout_s, backend=self._scanner_backend
            )
            if found is None or not isinstance(found.details, BumbleDeviceDetails):
                raise BleakDeviceNotFoundError(
                    self.address, f"Device with address {self.address} was not found."
                )
            self._peer_address = found.details.address
            self._name = self._name or found.name

        try:
            connection = await central.connect(
                self._peer_address, timeout_s=max(deadline - loop.time(), 0.0)
            )
        except (TimeoutError, core.TimeoutError) as e:
            raise TimeoutError(f"connect to {self.address} timed out after {timeout_s:g} s") from e
        except core.BaseBumbleError as e:
            raise BleakError(f"connect to {self.address} failed: {e}") from e

        self._connection = connection
        self._peer = Peer(connection)
        self._connecting = True
        connection.on(connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            async with asyncio.timeout_at(deadline):
                await self._gatt("MTU exchange", lambda peer: peer.request_mtu(central.att_mtu))
                self.services = await self._gatt("service discovery", self._discover)
        except BaseException as e:
            await self._abort_connection()
            if isinstance(e, TimeoutError):
                raise TimeoutError(
                    f"connect to {self.address}: service discovery timed out after {timeout_s:g} s"
                ) from e
            raise
        finally:
            self._connecting = False

    async def _abort_connection(self) -> None:
        connection = self._connection
        if connection is None:
            return
        try:
            await asyncio.shield(connection.disconnect())
        except core.BaseBumbleError:
            logger.debug("bumble backend: disconnect after failed connect failed", exc_info=True)

    async def disconnect(self) -> None:
        """Disconnect; returns once the link is down (the disconnected callback has run)."""
        connection = self._connection
        if connection is None:
            return
        try:
            await connection.disconnect()
        except core.BaseBumbleError as e:
            if self._connection is not None:  # not merely a race with a remote disconnect
                raise BleakError(f"disconnect from {self.address} failed: {e}") from e

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Not emulated."""
        raise NotImplementedError("pairing is not emulated by the bumble backend")

    async def unpair(self) -> None:
        """Not emulated."""
        raise NotImplementedError("unpairing is not emulated by the bumble backend")

    def _on_disconnection(self, reason: int) -> None:
        logger.debug("bumble backend: %s disconnected, reason 0x%02X", self.address, reason)
        was_established = not self._connecting
        self._connection = None
        self._peer = None
        self.services = None
        self._notify_callbacks.clear()
        self._bumble_subscribers.clear()
        if was_established and self._disconnected_callback is not None:
            try:
                self._disconnected_callback()
            except Exception:
                logger.exception("bumble backend: disconnected callback raised")

    # ---- GATT ------------------------------------------------------------------------------
    async def _gatt(self, operation: str, call: Callable[[Peer], Awaitable[_T]]) -> _T:
        """Run one GATT operation, converting bumble's exceptions into bleak's."""
        peer = self._peer
        if peer is None:
            raise BleakError(f"{operation}: not connected")
        try:
            return await call(peer)
        except att.ATT_Error as e:
            raise BleakGATTProtocolError(e.error_code) from e
        except core.TimeoutError as e:
            raise TimeoutError(f"{operation}: no response from {self.address}") from e
        except asyncio.CancelledError:
            # bumble cancels the pending ATT response future when the link drops; that is
            # not a cancellation of our task.
            task = asyncio.current_task()
            if self._peer is not peer and task is not None and task.cancelling() == 0:
                raise BleakError(f"{operation}: {self.address} disconnected") from None
            raise
        except core.BaseBumbleError as e:
            raise BleakError(f"{operation} failed: {e}") from e

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        filter_uuids = [BumbleUUID(u) for u in self._service_filter or ()]
        collection = BleakGATTServiceCollection()
        for service in await peer.discover_services(filter_uuids):
            bleak_service = BleakGATTService(service, service.handle, _uuid_str(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in await peer.discover_characteristics(service=service):
                bleak_char = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    _uuid_str(characteristic.uuid),
                    _properties(characteristic.properties),
                    lambda: self.mtu_size - 3,
                    bleak_service,
                )
                collection.add_characteristic(bleak_char)
                for descriptor in await peer.discover_descriptors(characteristic=characteristic):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, _uuid_str(descriptor.type), bleak_char
                        )
                    )
                characteristic.descriptors_discovered = True
        return collection

    def _cached(self, handle: int) -> bytearray | None:
        if self._peer is None:
            return None
        cached = self._peer.gatt_client.cached_values.get(handle)
        return bytearray(cached[1]) if cached is not None else None

    async def read_gatt_char(
        self,
        characteristic: BleakGATTCharacteristic,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        """Read a characteristic value (long values via Read Blob)."""
        if use_cached and (value := self._cached(characteristic.handle)) is not None:
            return value
        data = await self._gatt(
            f"read {characteristic.uuid}", lambda peer: peer.read_value(characteristic.handle)
        )
        return bytearray(data)

    async def read_gatt_descriptor(
        self,
        descriptor: BleakGATTDescriptor,
        *,
        use_cached: bool = False,
        **kwargs: Any,
    ) -> bytearray:
        """Read a descriptor value."""
        if use_cached and (value := self._cached(descriptor.handle)) is not None:
            return value
        data = await self._gatt(
            f"read descriptor {descriptor.handle}", lambda peer: peer.read_value(descriptor.handle)
        )
        return bytearray(data)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        """Write with response (ATT Write Request) or without (ATT Write Command)."""
        value = bytes(data)
        await self._gatt(
            f"write {characteristic.uuid}",
            lambda peer: peer.write_value(characteristic.handle, value, with_response=response),
        )

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        """Write a descriptor value (always with response)."""
        value = bytes(data)
        await self._gatt(
            f"write descriptor {descriptor.handle}",
            lambda peer: peer.write_value(descriptor.handle, value, with_response=True),
        )

    async def start_notify(
        self,
        characteristic: BleakGATTCharacteristic,
        callback: NotifyCallback,
        **kwargs: Any,
    ) -> None:
        """Enable notifications (preferred) or indications by writing the CCCD."""
        handle = characteristic.handle
        self._notify_callbacks[handle] = callback
        if handle in self._bumble_subscribers:
            return  # already subscribed: only the callback changes
        proxy = cast("CharacteristicProxy[bytes]", characteristic.obj)
        if proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR) is None:
            del self._notify_callbacks[handle]
            raise BleakError(f"characteristic {characteristic.uuid} has no CCCD, cannot notify")

        callbacks = self._notify_callbacks

        def on_value(value: bytes) -> None:
            if (current := callbacks.get(handle)) is not None:
                current(bytearray(value))

        self._bumble_subscribers[handle] = on_value
        try:
            await self._gatt(
                f"start_notify {characteristic.uuid}",
                lambda peer: peer.subscribe(proxy, on_value, prefer_notify=True),
            )
        except BaseException:
            self._bumble_subscribers.pop(handle, None)
            self._notify_callbacks.pop(handle, None)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications/indications (writes 0 to the CCCD)."""
        handle = characteristic.handle
        self._notify_callbacks.pop(handle, None)
        subscriber = self._bumble_subscribers.pop(handle, None)
        if subscriber is None:
            return
        proxy = cast("CharacteristicProxy[bytes]", characteristic.obj)
        await self._gatt(
            f"stop_notify {characteristic.uuid}",
            lambda peer: peer.unsubscribe(proxy, subscriber),
        )
