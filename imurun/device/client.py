"""Request/response on top of a transport and the protocol decoders (no link specifics).

The same :class:`SensorClient` drives serial, BLE and replayed links: it picks the decoder from
the transport's framing, tees every byte into an optional session file, and turns sensor
``ERROR`` answers and timeouts into project errors that name the operation.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from firmware_protocol.codec import Encoder, PacketDecoder, ParseEvent, Received, StreamDecoder
from firmware_protocol.messages import (
    AnyMessage,
    Catalogue,
    CatalogueRequest,
    DeviceInfo,
    DeviceInfoRequest,
    Error,
    RunErase,
    RunErased,
    Status,
    StatusRequest,
    TimeSync,
    TimeSyncRequest,
    UnknownMessage,
)
from imurun.errors import DeviceError, DeviceTimeoutError
from imurun.transport.base import Framing, Transport
from imurun.transport.session import SessionWriter

M = TypeVar("M")
EventHandler = Callable[[float, ParseEvent], None]

#: Default BLE write size when the link does not say (ATT_MTU 23 - 3).
DEFAULT_MAX_WRITE = 20


class SensorClient:
    """One conversation with one sensor over an open transport."""

    def __init__(self, transport: Transport, *, session: SessionWriter | None = None,
                 timeout_s: float = 2.0, max_write: int | None = None,
                 on_event: EventHandler | None = None, tap: EventHandler | None = None) -> None:
        self.transport = transport
        self.session = session
        self.timeout_s = timeout_s
        self.max_write = max_write
        self.on_event = on_event  # events that arrive while a request waits for something else
        self.tap = tap  # every decoded event, as it is decoded (recording builders listen here)
        self.decoder: StreamDecoder | PacketDecoder = (
            StreamDecoder() if transport.framing == Framing.STREAM else PacketDecoder())
        self.encoder = Encoder(boot_id=0)
        self.info: DeviceInfo | None = None
        self._pending: deque[tuple[float, ParseEvent]] = deque()

    def reset_link(self) -> None:
        """Forget decoder state after a reconnect (a new link starts a new byte stream)."""
        stats = self.decoder.stats
        self.decoder = StreamDecoder() if self.transport.framing == Framing.STREAM else PacketDecoder()
        self.decoder.assembler.stats = stats
        self._pending.clear()

    async def send(self, msg: AnyMessage) -> None:
        if self.transport.framing == Framing.STREAM:
            data = self.encoder.stream_bytes(msg)
            if self.session is not None:
                self.session.tx(data)
            await self.transport.write(data)
        else:
            for pkt in self.encoder.packets(msg, self.max_write or DEFAULT_MAX_WRITE):
                if self.session is not None:
                    self.session.tx(pkt)
                await self.transport.write(pkt)

    async def next_event(self, timeout_s: float | None = None) -> tuple[float, ParseEvent]:
        """The next decoded event with the host time its bytes arrived.

        :class:`DeviceTimeoutError` when none is decoded within ``timeout_s`` in all, even while
        bytes keep arriving (something other than a sensor talking on the port).
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        while not self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeoutError("a message from the sensor", timeout)
            chunk = await self.transport.read(left)
            if self.session is not None:
                self.session.rx(chunk)
            for ev in self.decoder.feed(chunk.data):
                if self.session is not None and isinstance(ev, Received):
                    self.session.publish()  # a sensor answered: the recording is worth keeping
                if self.tap is not None:
                    self.tap(chunk.t_host_s, ev)
                self._pending.append((chunk.t_host_s, ev))
        return self._pending.popleft()

    async def request(self, msg: AnyMessage, expect: type[M], *, operation: str,
                      timeout_s: float | None = None, attempts: int = 3) -> tuple[float, M]:
        """Send ``msg`` and wait for a message of type ``expect``, resending on silence.

        Every request of the protocol is idempotent, so a lost request or answer is resent up to
        ``attempts`` times, each waiting ``timeout_s``. Anything else that arrives meanwhile goes to
        ``on_event``. An ``ERROR`` answer naming this request raises :class:`DeviceError`;
        silence after the last attempt raises :class:`DeviceTimeoutError`.
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        rtype = None if isinstance(msg, UnknownMessage) else int(msg.TYPE)
        for attempt in range(attempts):
            await self.send(msg)
            try:
                return await self.wait_for(expect, operation=operation, timeout_s=timeout,
                                           request_type=rtype)
            except DeviceTimeoutError:
                if attempt == attempts - 1:
                    raise DeviceTimeoutError(operation, timeout * attempts) from None
        raise AssertionError("unreachable")

    async def wait_for(self, expect: type[M], *, operation: str, timeout_s: float,
                       request_type: int | None = None) -> tuple[float, M]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise DeviceTimeoutError(operation, timeout_s)
            try:
                t, ev = await self.next_event(left)
            except DeviceTimeoutError as e:
                raise DeviceTimeoutError(operation, timeout_s) from e
            if isinstance(ev, Received):
                m = ev.message
                if isinstance(m, expect):
                    return t, m
                if isinstance(m, Error) and (request_type is None or m.request_type == request_type):
                    raise DeviceError(m.code, m.text, operation=operation)
            if self.on_event is not None:
                self.on_event(t, ev)

    # ------------------------------------------------------------------ conveniences
    async def device_info(self) -> DeviceInfo:
        _, info = await self.request(DeviceInfoRequest(), DeviceInfo, operation="device info")
        self.info = info
        return info

    async def status(self) -> Status:
        return (await self.request(StatusRequest(), Status, operation="status"))[1]

    async def catalogue(self) -> Catalogue:
        return (await self.request(CatalogueRequest(), Catalogue, operation="run catalogue"))[1]

    async def time_sync(self) -> tuple[float, TimeSync, float]:
        """(host send time, answer, host receive time); times in Unix seconds."""
        t_tx = time.time()
        t_rx, ans = await self.request(TimeSyncRequest(int(t_tx * 1e6)), TimeSync,
                                       operation="time sync")
        return t_tx, ans, t_rx

    async def erase(self, run_id: int, crc32: int) -> None:
        await self.request(RunErase(run_id, crc32), RunErased, operation=f"erase run {run_id}")
