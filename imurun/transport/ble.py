"""Bluetooth Low Energy transport on bleak: scan, resolve, connect, move frames (SPEC.md §2.2).

Every notification of the frames characteristic is one frame; :class:`BleTransport` hands each
to the layer above as a :class:`~imurun.transport.base.Chunk` stamped with its arrival time and
decodes nothing (``framing`` is :attr:`Framing.PACKET`, so ``SensorClient`` picks the packet
decoder). The notify callback only does ``queue.put_nowait((time.time(), bytes(data)))``; a
disconnect callback queues a marker so that :meth:`BleTransport.read` raises
:class:`~imurun.transport.base.LinkLost` once the notifications that arrived before the
disconnect have been read (nothing received is thrown away).

Sizes: nothing is sized from the MTU a stack reports (BlueZ may say 23 whatever was negotiated).
Notifications of any length are accepted. Writes (host -> sensor frames) are at most
:attr:`BleTransport.max_write` bytes: an explicit ``write_size`` if given, otherwise the
commands characteristic's ``max_write_without_response_size`` (bleak's per-OS view of
ATT_MTU - 3) clamped to [20, 244]: never below the 20 bytes every link carries, never above the
244 a Data-Length-Extension link carries in one packet. The host's largest usual request
(``RUN_READ``, 23 bytes as a frame) is fragmented by the continuation rule when it does not fit.

Timeouts are explicit (``timeout_s``) and raise :class:`~imurun.errors.DeviceTimeoutError` naming
the operation; bleak's exceptions are converted here with ``raise ... from e``. Production code
is plain bleak (``BleakScanner``, ``BleakClient``); ``backend`` only passes an alternative bleak
backend through (tests use an emulated radio, see ``docs/ble.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Final, NamedTuple

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakBluetoothNotAvailableError, BleakError
from bleak.uuids import normalize_uuid_16

from firmware_protocol.rsc import RscError, RscFeature, RscMeasurement, decode_feature
from imurun.errors import DeviceTimeoutError, TransportError
from imurun.transport.base import Chunk, Framing, LinkLost

IMURUN_SERVICE_UUID: Final = "7a1e0001-5c3f-4b6e-9d2a-1f0e8c4b3a20"
FRAMES_UUID: Final = "7a1e0002-5c3f-4b6e-9d2a-1f0e8c4b3a20"  # notify, sensor -> host
COMMANDS_UUID: Final = "7a1e0003-5c3f-4b6e-9d2a-1f0e8c4b3a20"  # write (w/o response), host -> sensor
RSC_SERVICE_UUID: Final = normalize_uuid_16(0x1814)
RSC_MEASUREMENT_UUID: Final = normalize_uuid_16(0x2A53)
RSC_FEATURE_UUID: Final = normalize_uuid_16(0x2A54)

#: Write size when nothing better is known: ATT_MTU 23 - 3, what every BLE link carries.
DEFAULT_WRITE_SIZE: Final = 20
#: Largest write ever used: ATT_MTU 247 - 3, one link packet with Data Length Extension.
MAX_WRITE_SIZE: Final = 244
#: Extra time given to bleak beyond its own timeout before the operation is abandoned.
_GRACE_S: Final = 1.0
_CLEANUP_TIMEOUT_S: Final = 3.0

_MAC = re.compile(r"^[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5}$")
_APPLE_UUID = re.compile(r"^[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")

_Item = tuple[float, bytes] | None  # None: the link was lost
NotificationQueue = asyncio.Queue[tuple[float, bytes]]


class BleBackend(NamedTuple):
    """bleak backend classes to use instead of the OS default (``None``: the platform's own)."""

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


def _scanner_args(backend: BleBackend | None) -> BleakScanner.ExtraArgs:
    args: BleakScanner.ExtraArgs = {}
    if backend is not None and backend.scanner is not None:
        args["backend"] = backend.scanner
    return args


def _client_backend(backend: BleBackend | None) -> type[BaseBleakClient] | None:
    return None if backend is None else backend.client


def is_address(text: str) -> bool:
    """A Bluetooth address (``AA:BB:CC:DD:EE:FF``) or a macOS CoreBluetooth device UUID."""
    return bool(_MAC.match(text) or _APPLE_UUID.match(text))


@dataclass(frozen=True)
class FoundSensor:
    """One advertising device as a scan saw it."""

    name: str
    address: str
    rssi: int | None
    service_uuids: tuple[str, ...] = ()
    device: BLEDevice | None = field(default=None, compare=False, repr=False)

    @property
    def is_imurun(self) -> bool:
        return IMURUN_SERVICE_UUID in self.service_uuids

    @property
    def has_rsc(self) -> bool:
        return RSC_SERVICE_UUID in self.service_uuids

    def __str__(self) -> str:
        return f"{self.name or '(no name)'} [{self.address}]"

    @classmethod
    def from_advertisement(cls, device: BLEDevice, adv: AdvertisementData) -> FoundSensor:
        return cls(adv.local_name or device.name or "", device.address, adv.rssi,
                   tuple(u.lower() for u in adv.service_uuids), device)


def _convert(operation: str, e: BaseException, timeout_s: float) -> TransportError:
    """A bleak/OS exception as this project's error (callers ``raise ... from e``)."""
    if isinstance(e, TimeoutError):
        return DeviceTimeoutError(operation, timeout_s)
    if isinstance(e, BleakBluetoothNotAvailableError | OSError):
        # e.g. no adapter, adapter off, no permission, or (Linux) no BlueZ / system D-Bus
        return TransportError(f"{operation} failed: Bluetooth is not available here "
                              f"({e or type(e).__name__}); is an adapter present and switched "
                              "on, and (Linux) are BlueZ and D-Bus running?")
    return TransportError(f"{operation} failed: {e or type(e).__name__}")


async def scan(timeout_s: float = 5.0, *, backend: BleBackend | None = None,
               service_uuids: tuple[str, ...] | None = (IMURUN_SERVICE_UUID,),
               ) -> list[FoundSensor]:
    """Scan for ``timeout_s`` and list devices advertising one of ``service_uuids``.

    ``service_uuids=None`` lists every advertiser. Strongest signal first.
    """
    try:
        async with asyncio.timeout(timeout_s + _GRACE_S):
            args = _scanner_args(backend)
            if service_uuids:
                args["service_uuids"] = list(service_uuids)
            found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **args)
    except (BleakError, OSError) as e:  # TimeoutError is an OSError
        raise _convert("scanning for BLE devices", e, timeout_s) from e
    out = [FoundSensor.from_advertisement(d, adv) for d, adv in found.values()]
    return sorted(out, key=lambda s: (-(s.rssi if s.rssi is not None else -999), s.address))


async def resolve(target: str, *, timeout_s: float = 10.0, backend: BleBackend | None = None,
                  ) -> FoundSensor:
    """Find the device whose advertised name or address is ``target`` (scanning ``timeout_s``).

    Addresses compare case-insensitively; names exactly. The first advertiser that matches wins:
    give the address when two sensors share a name.
    """
    want = target.strip()
    by_address = is_address(want)
    seen: list[FoundSensor] = []

    def match(device: BLEDevice, adv: AdvertisementData) -> bool:
        if by_address:
            ok = device.address.upper() == want.upper()
        else:
            ok = want in (adv.local_name, device.name)
        if ok:
            seen.append(FoundSensor.from_advertisement(device, adv))
        return ok

    try:
        async with asyncio.timeout(timeout_s + _GRACE_S):
            device = await BleakScanner.find_device_by_filter(
                match, timeout=timeout_s, **_scanner_args(backend))
    except (BleakError, OSError) as e:
        raise _convert(f"scanning for {want!r}", e, timeout_s) from e
    if device is None or not seen:
        kind = "address" if by_address else "name"
        raise DeviceTimeoutError(f"finding a BLE device with {kind} {want!r} (is it on, in range "
                                 "and not connected to another host?)", timeout_s)
    return seen[-1]


class _Peer:
    """Shared connection handling: resolve, connect within a deadline, notice the link drop."""

    def __init__(self, target: str | FoundSensor, *, backend: BleBackend | None,
                 scan_timeout_s: float | None) -> None:
        self.target = target
        self.found: FoundSensor | None = target if isinstance(target, FoundSensor) else None
        self.backend = backend
        self.scan_timeout_s = scan_timeout_s
        self.description = f"BLE {target}"
        self._client: BleakClient | None = None
        self._queue: asyncio.Queue[_Item] | None = None
        self._lost = False
        self._lost_reason = ""
        self._closing = False

    @property
    def is_open(self) -> bool:
        return self._client is not None and not self._lost

    @property
    def lost_reason(self) -> str:
        """Why the link dropped ('' while it holds)."""
        return self._lost_reason

    @property
    def client(self) -> BleakClient | None:
        """The connected ``BleakClient`` (for extra GATT operations), ``None`` when closed."""
        return self._client

    async def _connect(self, timeout_s: float) -> BleakClient:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self.found is None:
            scan_s = timeout_s if self.scan_timeout_s is None else self.scan_timeout_s
            assert isinstance(self.target, str)
            self.found = await resolve(self.target, timeout_s=min(scan_s, timeout_s),
                                       backend=self.backend)
        self.description = f"BLE {self.found}"
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._queue = queue
        self._lost = False
        self._lost_reason = ""
        self._closing = False

        def on_disconnect(_client: BleakClient) -> None:
            if not self._closing and not self._lost:
                self._lost = True
                self._lost_reason = "disconnected by the sensor or out of range"
                queue.put_nowait(None)

        left = max(deadline - loop.time(), 0.1)
        client = BleakClient(self.found.device or self.found.address, on_disconnect,
                             timeout=left, backend=_client_backend(self.backend))
        try:
            async with asyncio.timeout(left + _GRACE_S):
                await client.connect()
        except (BleakError, OSError) as e:
            raise _convert(f"connecting to {self.description}", e, timeout_s) from e
        self._client = client
        return client

    async def _start_notify(self, uuid: str, on_value: Callable[[BleakGATTCharacteristic, bytearray], None],
                            timeout_s: float) -> None:
        client = self._client
        assert client is not None
        try:
            async with asyncio.timeout(timeout_s):
                await client.start_notify(uuid, on_value)
        except (BleakError, OSError) as e:
            raise _convert(f"subscribing to {uuid} on {self.description}", e, timeout_s) from e

    async def _next(self, timeout_s: float, operation: str) -> tuple[float, bytes]:
        queue = self._queue
        if queue is None:
            raise TransportError(f"{self.description} is not open")
        if self._lost and queue.empty():
            raise LinkLost(self.description, self._lost_reason)
        try:
            # Not asyncio.wait_for: on Python 3.11 it returns the item when the inner get ends
            # just as the caller is cancelled, and the cancellation (Ctrl-C) is lost while
            # notifications keep arriving (CPython gh-86296). asyncio.timeout waits in this
            # task itself, so a cancellation always wins.
            async with asyncio.timeout(timeout_s):
                item = await queue.get()
        except TimeoutError as e:
            raise DeviceTimeoutError(f"{operation} {self.description}", timeout_s) from e
        if item is None:
            raise LinkLost(self.description, self._lost_reason)
        return item

    async def _close(self, subscribed: tuple[str, ...]) -> None:
        self._closing = True
        client, self._client = self._client, None
        if client is None:
            return
        try:
            if client.is_connected and not self._lost:
                for uuid in subscribed:
                    with contextlib.suppress(BleakError, OSError, ValueError):
                        async with asyncio.timeout(_CLEANUP_TIMEOUT_S):
                            await client.stop_notify(uuid)
        finally:
            with contextlib.suppress(BleakError, OSError):
                async with asyncio.timeout(_CLEANUP_TIMEOUT_S):
                    await client.disconnect()


class BleTransport(_Peer):
    """The imurun GATT service as a :class:`~imurun.transport.base.Transport`.

    ``target`` is an advertised name, an address, or a :class:`FoundSensor` from :func:`scan`.
    With ``rsc_queue`` the transport also subscribes to RSC Measurement (when the sensor has it)
    and puts ``(t_host_s, raw bytes)`` there; decoding is :mod:`firmware_protocol.rsc`'s job.
    Use ``async with BleTransport(...) as t:`` or call :meth:`open` / :meth:`close`.
    """

    framing = Framing.PACKET

    def __init__(self, target: str | FoundSensor, *, backend: BleBackend | None = None,
                 scan_timeout_s: float | None = None, write_size: int | None = None,
                 write_with_response: bool = True, write_timeout_s: float = 5.0,
                 open_timeout_s: float = 15.0, rsc_queue: NotificationQueue | None = None,
                 ) -> None:
        super().__init__(target, backend=backend, scan_timeout_s=scan_timeout_s)
        if write_size is not None and not DEFAULT_WRITE_SIZE <= write_size <= 512:
            raise ValueError(f"write_size must be {DEFAULT_WRITE_SIZE}..512, got {write_size}")
        self.write_size = write_size
        self.write_with_response = write_with_response
        self.write_timeout_s = write_timeout_s
        self.open_timeout_s = open_timeout_s
        self.rsc_queue = rsc_queue
        self._max_write = write_size or DEFAULT_WRITE_SIZE
        self._subscribed: tuple[str, ...] = ()

    @property
    def max_write(self) -> int:
        """Largest write this transport makes (see the module docstring for the rule)."""
        return self._max_write

    async def open(self, timeout_s: float) -> None:
        """Resolve, connect, check the GATT layout and subscribe, all within ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        client = await self._connect(timeout_s)
        try:
            services = client.services
            commands = services.get_characteristic(COMMANDS_UUID)
            if services.get_service(IMURUN_SERVICE_UUID) is None or commands is None \
                    or services.get_characteristic(FRAMES_UUID) is None:
                raise TransportError(f"{self.description} has no imurun service "
                                     f"({IMURUN_SERVICE_UUID}); for a footpod use RSC only")
            if self.write_size is None:
                hint = commands.max_write_without_response_size
                self._max_write = min(max(hint, DEFAULT_WRITE_SIZE), MAX_WRITE_SIZE)
            queue = self._queue
            assert queue is not None

            def on_frame(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
                queue.put_nowait((time.time(), bytes(data)))

            subscribed: list[str] = []
            rsc_queue = self.rsc_queue
            if rsc_queue is not None and services.get_characteristic(RSC_MEASUREMENT_UUID):

                def on_rsc(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
                    rsc_queue.put_nowait((time.time(), bytes(data)))

                await self._start_notify(RSC_MEASUREMENT_UUID, on_rsc,
                                         max(deadline - loop.time(), 0.1))
                subscribed.append(RSC_MEASUREMENT_UUID)
            await self._start_notify(FRAMES_UUID, on_frame, max(deadline - loop.time(), 0.1))
            subscribed.append(FRAMES_UUID)
            self._subscribed = tuple(subscribed)
        except BaseException:
            await self._close(self._subscribed)
            raise

    async def close(self) -> None:
        """Unsubscribe and disconnect; safe to call twice and after a lost link."""
        subscribed, self._subscribed = self._subscribed, ()
        await self._close(subscribed)

    async def read(self, timeout_s: float) -> Chunk:
        t, data = await self._next(timeout_s, "reading from")
        return Chunk(t, data)

    async def write(self, data: bytes) -> None:
        client = self._client
        if client is None or self._lost:
            raise LinkLost(self.description, self._lost_reason or "not open")
        try:
            async with asyncio.timeout(self.write_timeout_s):
                await client.write_gatt_char(COMMANDS_UUID, data,
                                             response=self.write_with_response)
        except TimeoutError as e:
            raise DeviceTimeoutError(f"writing to {self.description}", self.write_timeout_s) from e
        except (BleakError, OSError) as e:
            if self._lost or not client.is_connected:
                raise LinkLost(self.description, self._lost_reason or str(e)) from e
            raise TransportError(f"writing to {self.description} failed: {e}") from e

    async def __aenter__(self) -> BleTransport:
        await self.open(self.open_timeout_s)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


@dataclass(frozen=True)
class RscNotification:
    """One RSC Measurement notification: arrival time, the raw bytes, and their decoding."""

    t_host_s: float
    data: bytes
    measurement: RscMeasurement


class RscReader(_Peer):
    """RSC Measurements from any Running Speed and Cadence sensor (a footpod, or an imurun).

    ::

        async with RscReader("Footpod") as rsc:
            while True:
                n = await rsc.read(timeout_s=5.0)
                print(n.measurement.cadence_per_min)

    Malformed values are counted in :attr:`malformed` and skipped; a lost link raises
    :class:`~imurun.transport.base.LinkLost`.
    """

    def __init__(self, target: str | FoundSensor, *, backend: BleBackend | None = None,
                 scan_timeout_s: float | None = None, open_timeout_s: float = 15.0) -> None:
        super().__init__(target, backend=backend, scan_timeout_s=scan_timeout_s)
        self.open_timeout_s = open_timeout_s
        self.features: RscFeature | None = None
        self.malformed = 0
        self.received = 0
        self._subscribed = False

    async def open(self, timeout_s: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        client = await self._connect(timeout_s)
        try:
            services = client.services
            if services.get_characteristic(RSC_MEASUREMENT_UUID) is None:
                raise TransportError(f"{self.description} has no Running Speed and Cadence "
                                     f"service ({RSC_SERVICE_UUID})")
            if services.get_characteristic(RSC_FEATURE_UUID) is not None:
                try:
                    async with asyncio.timeout(max(deadline - loop.time(), 0.1)):
                        raw = await client.read_gatt_char(RSC_FEATURE_UUID)
                    self.features = decode_feature(raw)
                except RscError:
                    self.features = None
                except (BleakError, OSError) as e:
                    raise _convert(f"reading RSC Feature of {self.description}", e,
                                   timeout_s) from e
            queue = self._queue
            assert queue is not None

            def on_rsc(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
                queue.put_nowait((time.time(), bytes(data)))

            await self._start_notify(RSC_MEASUREMENT_UUID, on_rsc, max(deadline - loop.time(), 0.1))
            self._subscribed = True
        except BaseException:
            await self._close(())
            raise

    async def close(self) -> None:
        subscribed, self._subscribed = self._subscribed, False
        await self._close((RSC_MEASUREMENT_UUID,) if subscribed else ())

    async def read(self, timeout_s: float) -> RscNotification:
        """The next well-formed measurement (malformed ones are counted and skipped)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            t, data = await self._next(max(deadline - loop.time(), 0.0), "waiting for RSC from")
            try:
                m = RscMeasurement.from_bytes(data)
            except RscError:
                self.malformed += 1
                continue
            self.received += 1
            return RscNotification(t, data, m)

    async def __aenter__(self) -> RscReader:
        await self.open(self.open_timeout_s)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()


def decode_rsc(data: bytes) -> RscMeasurement | None:
    """Decode one RSC notification from a queue filled by :class:`BleTransport` (None: malformed)."""
    try:
        return RscMeasurement.from_bytes(data)
    except RscError:
        return None
