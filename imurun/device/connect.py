"""Connect to a sensor from Python: over serial or BLE, then stream to a file or sync to a folder.

:func:`serial_connection` and :func:`ble_connection` return a :data:`Connect`: an async callable
that opens the link and returns a :class:`~imurun.device.client.SensorClient`, what
:func:`~imurun.device.stream.stream_live` and :func:`~imurun.device.sync.sync_runs` take (they
call it again to reconnect after a lost link). :func:`stream_to_file` and :func:`sync_to_folder`
are ``imurun stream`` and ``imurun sync --store`` in one call, without their printing. The CLI
commands connect with these functions, ``imurun stream`` is :func:`stream_to_file` (with a
:class:`StreamProgress` for what it says after Ctrl-C; ``--rsc`` is its ``rsc_queue``) and
``imurun sync --store`` is :func:`sync_to_folder`.

Everything here is asynchronous: run it with :func:`asyncio.run`. Errors: a port that cannot be
opened or a sensor that does not answer is a :class:`~imurun.errors.TransportError` (its
subclass :class:`~imurun.errors.DeviceTimeoutError` for a timeout), naming the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from imurun.device.client import SensorClient
from imurun.device.linkstatus import Say
from imurun.device.stream import EventHook, StreamReport, StreamSettings, stream_live
from imurun.device.sync import Progress, SyncReport, SyncSettings, sync_runs
from imurun.errors import CallbackError, FileFormatError, ImurunError
from imurun.ingest.recording import Recording
from imurun.transport.base import LinkLost

if TYPE_CHECKING:
    from imurun.ingest.builder import RecordingBuilder
    from imurun.transport.ble import BleBackend, FoundSensor, NotificationQueue
    from imurun.transport.session import SessionWriter

__all__ = ["BLE_CONNECT_TIMEOUT_S", "BLE_SCAN_TIMEOUT_S", "Connect", "OnNotification",
           "StreamProgress",
           "StreamedFile", "ble_connection", "serial_connection", "stream_to_file",
           "sync_to_folder"]

#: Open the link and return a client talking over it (again after a lost link).
Connect = Callable[[], Awaitable[SensorClient]]
#: Hears a notification as it is kept: ``(host time it arrived in s, its raw bytes)``.
OnNotification = Callable[[float, bytes], None]

#: How long a BLE connection scans for its sensor before it gives up.
BLE_SCAN_TIMEOUT_S = 10.0
#: How long a BLE connection waits for the link to come up.
BLE_CONNECT_TIMEOUT_S = 15.0


def serial_connection(port: str | os.PathLike[str], timeout_s: float = 3.0, *,
                      session: SessionWriter | None = None,
                      on_status: Say | None = None) -> Connect:
    """Connect (and reconnect) to the sensor on serial port ``port`` (a path, pyserial).

    Args:
        port: the port's path (``/dev/ttyACM0``, a pseudo-terminal of the virtual sensor), as
            text or a :class:`~pathlib.Path` (pyserial takes text: a ``Path`` it refused, which
            looked like a port that never opened).
        timeout_s: to open the port, and for each request's answer.
        session: every byte sent and received is also written there (a recording).
        on_status: hears ``reconnected to serial PORT`` when a later call opens the port again (the
            loss itself is said by the stream or sync that noticed it).

    """
    from imurun.transport.serial import SerialTransport

    port = os.fspath(port)
    opened: list[bool] = []

    async def connect() -> SensorClient:
        t = SerialTransport(port)
        await t.open(timeout_s)
        if opened and on_status is not None:
            on_status(f"reconnected to {t.description}")
        opened.append(True)
        return SensorClient(t, session=session, timeout_s=timeout_s)

    return connect


def ble_connection(name_or_address: str, timeout_s: float = 3.0, *,
                   found: FoundSensor | None = None, backend: BleBackend | None = None,
                   session: SessionWriter | None = None,
                   rsc_queue: NotificationQueue | None = None, on_status: Say | None = None,
                   scan_timeout_s: float = BLE_SCAN_TIMEOUT_S,
                   connect_timeout_s: float = BLE_CONNECT_TIMEOUT_S) -> Connect:
    """Connect (and reconnect) to the BLE sensor advertising ``name_or_address`` (bleak).

    Args:
        name_or_address: its advertised name or its address (see ``imurun devices``).
        timeout_s: for each request's answer.
        found: the sensor as a scan already saw it (:func:`imurun.transport.ble.resolve`):
            the first connection skips the scan.
        backend: the bleak backend (``None``: the operating system's; the tests give an
            emulated radio's, see docs/ble.md).
        session: every packet sent and received is also written there (a recording).
        rsc_queue: receives the sensor's Running Speed and Cadence notifications.
        on_status: hears ``connected to SENSOR`` and ``reconnected to SENSOR``.
        scan_timeout_s: how long to scan for it.
        connect_timeout_s: how long to wait for the link to come up.

    A failed connection scans afresh the next time (the sensor may advertise another address).

    """
    from imurun.transport.ble import BleTransport

    known: list[FoundSensor] = [] if found is None else [found]
    connected: list[bool] = []

    async def connect() -> SensorClient:
        t = BleTransport(known[0] if known else name_or_address, backend=backend,
                         scan_timeout_s=scan_timeout_s, rsc_queue=rsc_queue)
        try:
            await t.open(connect_timeout_s)
        except ImurunError:
            known.clear()
            raise
        if t.found is not None:
            known[:] = [t.found]
        if on_status is not None:
            on_status(f"{'reconnected' if connected else 'connected'} to {t.description}")
        connected.append(True)
        return SensorClient(t, session=session, timeout_s=timeout_s, max_write=t.max_write)

    return connect


@dataclass(frozen=True)
class StreamedFile:
    """What :func:`stream_to_file` did."""

    path: Path
    report: StreamReport
    #: what was streamed (as :func:`imurun.load_recording` reads the file); ``None`` when the
    #: sensor never answered: then no file was written (an existing one is left as it was)
    recording: Recording | None


class StreamProgress:
    """How far a :func:`stream_to_file` has got.

    Read it while the stream runs, or after it was interrupted (Ctrl-C: :func:`asyncio.run`
    raises :class:`KeyboardInterrupt`, and there is no :class:`StreamedFile` to read).
    """

    def __init__(self) -> None:
        self._builder: RecordingBuilder | None = None
        self._session: SessionWriter | None = None

    @property
    def samples(self) -> int:
        """Samples received so far."""
        return 0 if self._builder is None else self._builder.n_samples

    @property
    def written(self) -> bool:
        """Whether the file was written (a sensor answered; it is kept, whatever happens next)."""
        return self._session is not None and self._session.published


async def stream_to_file(connect: Connect, path: str | os.PathLike[str],
                         settings: StreamSettings | None = None, *,
                         on_event: EventHook | None = None, on_status: Say | None = None,
                         stop: asyncio.Event | None = None,
                         progress: StreamProgress | None = None,
                         rsc_queue: NotificationQueue | None = None,
                         on_rsc: OnNotification | None = None) -> StreamedFile:
    """Stream from the sensor ``connect`` reaches into the session file ``path`` (``.imrs``).

    As ``imurun stream --port PORT --out PATH`` (or ``--ble``), without its printing
    (``settings``: a :class:`~imurun.device.stream.StreamSettings`): it ends when the sensor
    stops streaming, after ``settings.duration_s``, or when ``stop`` is set (also while it
    reconnects: it stops trying), reconnecting after a lost link and restarting the stream after
    a reboot. ``on_event`` hears every decoded message
    (a :class:`~imurun.analysis_live.LiveStreamHook` for live numbers), ``on_status`` each change
    of the link. Every byte of every connection is written to ``path`` (a session of the
    connection's own, if it was given one, is not used).

    The file appears (or replaces an existing ``path``) once the sensor answers: a wrong port or
    a silent sensor leaves ``path`` as it was, and ``recording`` is then ``None``. A ``path``
    that cannot be written is a :class:`~imurun.errors.FileFormatError` naming it. ``progress``
    (a new :class:`StreamProgress`) says meanwhile how many samples arrived and whether the
    file was written: what ``imurun stream`` says when it is interrupted.

    ``rsc_queue`` is the queue given to :func:`ble_connection` (``rsc_queue=``): each Running
    Speed and Cadence notification the sensor sends is kept in ``path`` too, raw, as a note
    ``{"rsc": hex, "t_host_s": t}`` (as ``imurun stream --ble --rsc`` does), including those
    still queued when the stream ends; ``on_rsc`` hears each ``(t_host_s, raw bytes)`` as it is
    kept (:func:`imurun.transport.ble.decode_rsc` decodes it). A kept measurement counts as an
    answer of the sensor: the file is written.

    A callback (``on_rsc``, ``on_event``, ``on_status``) that raises stops the stream as
    ``stop`` does, within a fraction of a second (the sensor is told to stop streaming; a
    stream whose link is down stops trying to reconnect); it is not called again,
    while everything that arrives until then is still written to ``path`` (RSC measurements
    still queued included), and the file is closed, valid. Then
    :class:`~imurun.errors.CallbackError` is raised, naming the callback, from its exception.

    A link that drops and does not come back within ``settings.max_reconnects`` tries raises
    :class:`~imurun.transport.base.LinkLost` (a :class:`~imurun.errors.TransportError`) once
    the file is closed, valid: its message says whether what arrived is in ``path`` (read it
    with :func:`imurun.load_recording`).
    """
    from imurun import __version__
    from imurun.ingest.builder import RecordingBuilder
    from imurun.transport.session import SessionWriter

    out = Path(path)
    builder = RecordingBuilder(source=str(out), source_format="session")
    held: list[SessionWriter] = []
    draining: list[asyncio.Task[None]] = []
    if progress is not None:
        progress._builder, progress._session = builder, None
    # A callback that raises stops the stream as `stop` does (within a read of the loop,
    # 0.25 s); it is not called again, while everything that arrives until the stream has
    # stopped is still kept; its error is raised once the file is closed.
    failed: list[tuple[str, Exception]] = []
    halt = asyncio.Event()

    def guarded(name: str, fn: Callable[..., None] | None) -> Callable[..., None] | None:
        if fn is None:
            return None

        def call(*args: object) -> None:
            if failed:
                return
            try:
                fn(*args)
            except Exception as e:  # the caller's code: raised once the stream has stopped
                failed.append((name, e))
                halt.set()

        return call

    hear_rsc = guarded("on_rsc", on_rsc)

    def keep_rsc(t_host_s: float, data: bytes) -> None:
        held[0].note(rsc=data.hex(), t_host_s=t_host_s)
        if hear_rsc is not None:
            hear_rsc(t_host_s, data)

    async def drain(queue: NotificationQueue) -> None:
        while True:
            keep_rsc(*await queue.get())

    async def relay(user_stop: asyncio.Event) -> None:
        await user_stop.wait()
        halt.set()

    async def recording() -> SensorClient:
        client = await connect()
        if not held:  # the first link says what the file holds
            t = client.transport
            meta = {"framing": str(t.framing.value), "link": t.description,
                    "imurun_version": __version__}
            try:  # the bytes go to a hidden file beside `out` until a valid frame arrives
                held.append(SessionWriter(out, meta, defer=True, publish_on_rx=False))
            except OSError as e:
                await t.close()
                raise FileFormatError(str(out), f"cannot write: {e.strerror or e}") from e
            if progress is not None:
                progress._session = held[0]
            if rsc_queue is not None:  # what arrived while connecting waits in the queue
                draining.append(asyncio.create_task(drain(rsc_queue)))
        client.session = held[0]
        return client

    relaying = [] if stop is None else [asyncio.create_task(relay(stop))]
    lost: LinkLost | None = None
    try:
        report = await stream_live(recording, builder,
                                   StreamSettings() if settings is None else settings,
                                   on_event=guarded("on_event", on_event),
                                   on_status=guarded("on_status", on_status), stop=halt)
    except LinkLost as gone:  # raised again once the file is closed, saying where the data is
        lost = gone
    finally:
        for task in draining + relaying:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if held and rsc_queue is not None:  # what came after the stream's last frame
            while not rsc_queue.empty():
                keep_rsc(*rsc_queue.get_nowait())
        for session in held:
            session.close()
    published = bool(held) and held[0].published
    kept = (f"what arrived until then is in {out}" if published
            else f"nothing was written to {out}")
    if failed:
        name, e = failed[0]
        raise CallbackError(name, e, f"the stream stopped; {kept}") from e
    if lost is not None:
        raise LinkLost(lost.description, f"{lost.reason}; {kept}" if lost.reason else kept,
                       t_host_s=lost.t_host_s) from lost
    return StreamedFile(out, report, builder.build() if published else None)


async def sync_to_folder(connect: Connect, folder: str | os.PathLike[str],
                         settings: SyncSettings | None = None, *,
                         progress: Progress | None = None,
                         on_status: Say | None = None) -> SyncReport:
    """Copy every run the sensor holds and ``folder`` does not into ``folder``.

    As ``imurun sync --store FOLDER`` (``settings``: a
    :class:`~imurun.device.sync.SyncSettings`): each run is verified (CRC-32) and written whole as
    ``FOLDER/<device id>/run-<run id>-<crc>.imrn`` (a stored run, read by
    :func:`imurun.load_recording`), then erased on the sensor unless ``settings.erase`` is
    false; a sync cut short resumes where it stopped. ``folder`` is held alone meanwhile: a
    second sync into it raises :class:`~imurun.errors.StoreError` before touching the sensor.
    ``report.ok`` is false when a run could not be synced (its ``error`` says why).
    """
    from imurun.store.rundir import RunDirectory

    sink = RunDirectory(folder)
    with sink.lock("sync"):
        return await sync_runs(connect, sink, SyncSettings() if settings is None else settings,
                               progress=progress, on_status=on_status)
