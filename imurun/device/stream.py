"""Live streaming and replay: one event loop for both, so a replay exercises the live path.

:func:`stream_live` asks a sensor to stream, keeps its clock paired (a ``TIME_SYNC`` every
``time_sync_every_s``), restarts the stream after a sensor reboot, and reconnects after a lost
link, leaving an explicit disconnect gap. A sensor that goes silent with the link still up is said
once (after ``silent_notice_s``: the stream keeps the link and waits, and reconnects after
``timeout_s`` without data), and so is the return of its data (:mod:`imurun.device.linkstatus`,
the words a sync uses). :func:`replay` pushes a recorded session's bytes
through the same :class:`SensorClient` decoding and the same :func:`_attach` ingest step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from firmware_protocol.codec import ParseEvent, Rebooted, Received
from firmware_protocol.messages import (
    DeviceInfoRequest,
    Event,
    EventCode,
    StreamStart,
    StreamStop,
    TimeSyncRequest,
)
from imurun.device.client import SensorClient
from imurun.device.linkstatus import LinkStatus, no_data, why_lost
from imurun.errors import DeviceTimeoutError, TransportError
from imurun.ingest.builder import RecordingBuilder
from imurun.transport.base import EndOfData, LinkLost
from imurun.transport.session import RecordKind

EventHook = Callable[[float, ParseEvent], None]

#: How long a cancelled stream tries to tell the sensor to stop streaming.
STOP_TIMEOUT_S = 1.0
#: What a stream does while its sensor is silent with the link up (said with the silence).
STILL_CONNECTED = "keeping the link and waiting for data"


@dataclass(frozen=True)
class StreamSettings:
    duration_s: float | None = None  # stop after this much wall time (None: until the sensor stops)
    time_sync_every_s: float = 1.0
    timeout_s: float = 3.0  # silence tolerated before the link is considered dead
    silent_notice_s: float = 1.0  # silence after which the stream says the sensor has gone silent
    max_reconnects: int = 20
    backoff_s: tuple[float, float] = (0.1, 2.0)


@dataclass(frozen=True)
class StreamReport:
    samples: int
    reconnects: int
    reboots: int
    ended_by: str  # "sensor", "duration", "stopped", "end of data"
    duration_s: float


@dataclass
class _Control:
    """What the stream loop must react to.

    Set by the tap, so an event consumed while a request waited for its answer is not missed.
    """

    ended: bool = False
    reboots_pending: int = 0


def _attach(client: SensorClient, builder: RecordingBuilder, hook: EventHook | None,
            control: _Control | None = None) -> None:
    """The ingest step shared by live and replay: every decoded event reaches the builder."""

    def tap(t: float, ev: ParseEvent) -> None:
        builder.feed(t, ev)
        if hook is not None:
            hook(t, ev)
        if control is not None:
            if _stream_ended(ev):
                control.ended = True
            elif isinstance(ev, Rebooted):
                control.reboots_pending += 1

    client.tap = tap


def _stream_ended(ev: ParseEvent) -> bool:
    return (isinstance(ev, Received) and isinstance(ev.message, Event)
            and ev.message.code == EventCode.STREAM_ENDED)


async def stream_live(connect: Callable[[], Awaitable[SensorClient]], builder: RecordingBuilder,
                      settings: StreamSettings = StreamSettings(), *,
                      on_event: EventHook | None = None, stop: asyncio.Event | None = None,
                      on_status: Callable[[str], None] | None = None) -> StreamReport:
    """Stream live samples from the sensor ``connect`` reaches into ``builder``.

    The engine of :func:`imurun.device.connect.stream_to_file` (which adds the session file):
    it asks the sensor to stream, syncs its clock every ``settings.time_sync_every_s``,
    reconnects after a lost link (up to ``settings.max_reconnects`` tries, else
    :class:`~imurun.transport.base.LinkLost`) and restarts the stream after a reboot; it ends
    when the sensor stops, after ``settings.duration_s`` seconds, or when ``stop`` is set.
    ``on_event`` hears every decoded message with its host arrival time (s), ``on_status``
    each change of the link.
    """
    t_start = time.monotonic()
    reconnects = reboots = 0
    control = _Control()
    status = LinkStatus(on_status)
    client = await connect()

    async def start(c: SensorClient) -> None:
        _attach(c, builder, on_event, control)
        await c.device_info()
        for _ in range(3):
            await c.time_sync()
        if not control.ended:  # the stream may have ended while we were reconnecting
            await c.send(StreamStart())

    await start(client)
    last_sync = last_rx = time.monotonic()
    ended_by = "stopped"
    link_down = False
    try:
        while True:
            if stop is not None and stop.is_set():
                ended_by = "stopped"
                break
            now = time.monotonic()
            if settings.duration_s is not None and now - t_start >= settings.duration_s:
                ended_by = "duration"
                break
            if control.ended:
                ended_by = "sensor"
                break
            try:
                if now - last_sync >= settings.time_sync_every_s:
                    last_sync = now  # a write can meet a dropped link too (BLE writes often do)
                    await client.send(TimeSyncRequest(int(time.time() * 1e6)))
                t, ev = await client.next_event(min(settings.timeout_s, 0.25))
                arrived = time.monotonic()
                status.data_again(client.transport.description, arrived - last_rx)
                last_rx = arrived
                why = ""
            except DeviceTimeoutError:
                silent_s = time.monotonic() - last_rx
                if silent_s < settings.timeout_s:
                    if silent_s >= settings.silent_notice_s:  # said once per silence
                        status.silent(client.transport.description, silent_s,
                                      f"{STILL_CONNECTED}; reconnecting after "
                                      f"{settings.timeout_s:g} s without data")
                    continue
                # a sensor that stays silent while streaming is as good as gone
                why = no_data(settings.timeout_s)
            except LinkLost as e:
                why = why_lost(e)
            if why:
                builder.mark_disconnect(time.time())
                if client.session is not None:
                    client.session.marker(RecordKind.DISCONNECT, "link lost")
                status.lost(client.transport.description, why)  # one line per loss, with why
                again = await _reconnect(connect, settings, client, stop)
                if again is None:  # stopped while the link was down: nobody to tell
                    ended_by, link_down = "stopped", True
                    break
                client = again
                reconnects += 1
                if client.session is not None:
                    client.session.marker(RecordKind.CONNECT)
                try:
                    await start(client)
                except (LinkLost, DeviceTimeoutError):
                    pass  # lost again at once: the next read notices and reconnects again
                last_rx = time.monotonic()
                continue
            del t, ev  # the tap has ingested it and updated `control`
            if control.ended:
                ended_by = "sensor"
                break
            while control.reboots_pending:
                control.reboots_pending -= 1
                reboots += 1
                if on_status is not None:
                    on_status("sensor rebooted; restarting the stream")
                await client.send(DeviceInfoRequest())
                for _ in range(3):  # pair the new boot's clock at once
                    await client.send(TimeSyncRequest(int(time.time() * 1e6)))
                await client.send(StreamStart())
                last_sync = time.monotonic()
        if ended_by != "sensor" and not link_down:
            try:
                await client.send(StreamStop())
                await client.time_sync()
            except (TransportError, DeviceTimeoutError):
                pass
    except asyncio.CancelledError:
        # Ctrl-C (asyncio.run cancels the task): the sensor must not go on streaming to nobody
        # (a real one would drain its battery; the next host would first read stale samples)
        with contextlib.suppress(TransportError, DeviceTimeoutError, TimeoutError):
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await client.send(StreamStop())
        raise
    finally:
        builder.decoder_stats = client.decoder.stats
        await client.transport.close()
    # A reboot seen across a reconnect (BLE: the link drops with the sensor) starts a new boot
    # on a new decoder, which therefore reports no reboot: the boots with data say it.
    reboots = max(reboots, sum(1 for b in builder.boots if b.has_samples) - 1)
    return StreamReport(builder.n_samples, reconnects, reboots, ended_by,
                        time.monotonic() - t_start)


async def _reconnect(connect: Callable[[], Awaitable[SensorClient]], settings: StreamSettings,
                     old: SensorClient, stop: asyncio.Event | None = None) -> SensorClient | None:
    """A client of the same sensor again, tried ``max_reconnects`` times with back-off.

    ``None`` once ``stop`` is set (checked before each try and during each back-off): a stream
    stopped while its link is down ends then, not after its tries. :class:`LinkLost` when no
    try succeeded.
    """
    try:
        await old.transport.close()
    except TransportError:
        pass
    delay, cap = settings.backoff_s
    want = old.info.device_id if old.info is not None else None
    for _ in range(settings.max_reconnects):
        if stop is not None and stop.is_set():
            return None
        try:
            client = await connect()
            # one count for the whole link, handshake included (as a replay of the session counts)
            client.decoder.assembler.stats = old.decoder.stats
            # A sensor still streaming sends samples during the handshake: they are held, and
            # reach the recording once the sensor is known to be the same one.
            held: list[tuple[float, ParseEvent]] = []
            client.tap = functools.partial(_hold, held)
            info = await client.device_info()
            if want is not None and info.device_id != want:
                # Another sensor on the same port (re-plugged, or a reused device node).
                await client.transport.close()
                raise TransportError(f"a different sensor ({info.device_id:016x}) answered")
            client.session = old.session
            client.tap = old.tap
            if old.tap is not None:
                for t, ev in held:
                    old.tap(t, ev)
            return client
        except (TransportError, DeviceTimeoutError):
            if stop is None:
                await asyncio.sleep(delay)
            else:  # the back-off ends early when the stream is stopped
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, cap)
    if stop is not None and stop.is_set():
        return None
    raise LinkLost(old.transport.description, f"no reconnection after {settings.max_reconnects} tries")


def _hold(held: list[tuple[float, ParseEvent]], t: float, ev: ParseEvent) -> None:
    held.append((t, ev))


async def replay(client: SensorClient, builder: RecordingBuilder, *,
                 on_event: EventHook | None = None) -> StreamReport:
    """Feed a replay transport's bytes through the live decoding and ingest step."""
    t_start = time.monotonic()
    _attach(client, builder, on_event)
    await client.transport.open(0)
    ended_by = "end of data"
    try:
        while True:
            try:
                t, ev = await client.next_event(3600.0)
            except LinkLost as e:
                builder.mark_disconnect(e.t_host_s if e.t_host_s is not None else _last_time(builder))
                client.reset_link()  # as live: a new connection starts a new byte stream
                continue
            except EndOfData:
                break
            del t, ev  # the tap has ingested it
    finally:
        builder.decoder_stats = client.decoder.stats
        await client.transport.close()
    return StreamReport(builder.n_samples, builder.disconnects, 0, ended_by,
                        time.monotonic() - t_start)


def replay_blocking(client: SensorClient, builder: RecordingBuilder, *,
                    on_event: EventHook | None = None) -> StreamReport:
    """:func:`replay`, for code that is not a coroutine; also inside a running event loop.

    With no event loop running in this thread it is ``asyncio.run(replay(...))``. Inside one
    (a Jupyter notebook, an ``async def``), where ``asyncio.run`` refuses, the replay runs on a
    loop of its own in a worker thread while this thread waits for it: the running loop is
    blocked meanwhile (``await replay(...)`` does not block it), and ``on_event`` is called from
    that worker thread. Exceptions (a callback's included) come back as they were raised.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(replay(client, builder, on_event=on_event))
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="imurun-replay") as pool:
        return pool.submit(asyncio.run, replay(client, builder, on_event=on_event)).result()


def _last_time(builder: RecordingBuilder) -> float:
    for b in reversed(builder.boots):
        if b.batch_times:
            return b.batch_times[-1][3]
    return 0.0
