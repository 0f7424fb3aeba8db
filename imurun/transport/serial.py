"""USB serial / UART transport on pyserial.

A reader thread blocks in ``serial.read`` and hands each chunk, stamped with its arrival time, to
the event loop through a queue; a lost port becomes a :class:`LinkLost` on the next ``read``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import threading
import time

import serial

from imurun.errors import DeviceTimeoutError, TransportError
from imurun.transport.base import Chunk, Framing, LinkLost

_EOF = object()


class SerialTransport:
    """pyserial on ``port`` (a device path such as ``/dev/ttyACM0`` or a pseudo-terminal)."""

    framing = Framing.STREAM

    def __init__(self, port: str, *, baudrate: int = 921_600, read_size: int = 4096) -> None:
        self.port = port
        self.baudrate = baudrate
        self.read_size = read_size
        self.description = f"serial {port}"
        self._ser: serial.Serial | None = None
        self._queue: asyncio.Queue[Chunk | BaseException | object] | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lost = False

    @property
    def is_open(self) -> bool:
        return self._ser is not None and not self._lost

    async def open(self, timeout_s: float = 5.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        last: Exception | None = None
        for what, test in (("a directory", os.path.isdir), ("a regular file", os.path.isfile)):
            if test(self.port):  # never a port: not waited for as for one being plugged in
                raise TransportError(f"serial port {self.port} is {what}, not a serial port "
                                     "(on Linux /dev/ttyACM0 or /dev/ttyUSB0, on macOS "
                                     "/dev/cu.usbmodem..., on Windows COM3)")
        while True:
            try:
                ser = serial.Serial()
                ser.port = self.port
                ser.baudrate = self.baudrate
                ser.timeout = 0.05
                ser.write_timeout = timeout_s
                ser.open()
                break
            except (serial.SerialException, OSError, ValueError) as e:
                last = e
                if loop.time() >= deadline:
                    if isinstance(e, (FileNotFoundError,)) or "No such file" in str(e):
                        raise TransportError(f"serial port {self.port} not found") from e
                    raise DeviceTimeoutError(f"opening serial port {self.port}", timeout_s) from e
                await asyncio.sleep(0.05)
        del last
        self._ser = ser
        self._lost = False
        self._stop.clear()
        self._queue = asyncio.Queue()
        q = self._queue
        self._thread = threading.Thread(target=self._reader, args=(ser, loop, q), daemon=True,
                                        name=f"imurun-serial-{self.port}")
        self._thread.start()

    def _reader(self, ser: serial.Serial, loop: asyncio.AbstractEventLoop,
                q: asyncio.Queue[Chunk | BaseException | object]) -> None:
        def put(item: Chunk | BaseException | object) -> None:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(q.put_nowait, item)

        try:
            while not self._stop.is_set():
                data = ser.read(max(1, min(ser.in_waiting, self.read_size)))
                if data:
                    put(Chunk(time.time(), bytes(data)))
        except (serial.SerialException, OSError, TypeError, AttributeError) as e:
            # TypeError/AttributeError: pyserial raises them when the fd is closed under it.
            if not self._stop.is_set():
                put(e)
        put(_EOF)

    async def read(self, timeout_s: float) -> Chunk:
        if self._queue is None:
            raise TransportError(f"{self.description} is not open")
        if self._lost and self._queue.empty():
            raise LinkLost(self.description, "port closed")
        try:
            # Not asyncio.wait_for: on Python 3.11 it returns the item when the inner get ends
            # just as the caller is cancelled, and the cancellation (Ctrl-C) is lost while data
            # keep arriving (CPython gh-86296). asyncio.timeout waits in this task itself.
            async with asyncio.timeout(timeout_s):
                item = await self._queue.get()
        except TimeoutError as e:
            raise DeviceTimeoutError(f"reading from {self.description}", timeout_s) from e
        if isinstance(item, Chunk):
            return item
        self._lost = True
        reason = lost_reason(item) if isinstance(item, BaseException) else "port closed"
        raise LinkLost(self.description, reason)

    async def write(self, data: bytes) -> None:
        ser = self._ser
        if ser is None or self._lost:
            raise LinkLost(self.description, "not open")
        try:
            await asyncio.to_thread(ser.write, data)
        except serial.SerialTimeoutException as e:
            raise DeviceTimeoutError(f"writing to {self.description}", ser.write_timeout or 0) from e
        except (serial.SerialException, OSError, TypeError) as e:
            self._lost = True
            raise LinkLost(self.description, lost_reason(e)) from e

    async def close(self) -> None:
        self._stop.set()
        ser, self._ser = self._ser, None
        if ser is not None:
            with contextlib.suppress(Exception):
                ser.cancel_read()
            thread = self._thread
            if thread is not None:
                await asyncio.to_thread(thread.join, 2.0)
            with contextlib.suppress(Exception):
                ser.close()
        self._thread = None


def lost_reason(e: BaseException) -> str:
    """Why a serial port was lost, in the user's words rather than pyserial's.

    When the other end goes away (a USB sensor unplugged or reset, a pseudo-terminal closed),
    pyserial reports "device reports readiness to read but returned no data (device disconnected
    or multiple access on port?)" or an I/O error; both say the port closed.
    """
    text = str(e)
    if "returned no data" in text or isinstance(e, (TypeError, AttributeError)):
        return "the port closed (sensor unplugged or reset, or another program opened the port)"
    if isinstance(e, OSError) and e.errno == errno.EIO:
        return "the port closed (input/output error: sensor unplugged or reset)"
    return text or type(e).__name__
