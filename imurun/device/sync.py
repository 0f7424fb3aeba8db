"""After-run sync: copy every stored run off the sensor, verified, resumable, exactly once.

The procedure (SPEC.md §3.3): read the catalogue; for each run the sink does not hold, fetch the
bytes in windows with ``RUN_READ``, keep every chunk whose CRC-32 passes (also out of order inside
the window), ask again only for the holes, and append the verified prefix durably to the sink.
A lost link reconnects with backoff and resumes at the verified prefix, so nothing verified is
fetched twice, even across processes. The run is committed only when its whole-file CRC-32
matches the catalogue, and erased on the sensor only after that.

``on_status`` hears one line per lost link, with why (the transport's reason, or ``no data for
3 s``), and, once per silence, that the sensor has gone silent with the link up (after
``silent_notice_s``: the sync keeps asking for what is missing and reconnects after
``timeout_s`` without data) and that data came back (:mod:`imurun.device.linkstatus`, shared
with the stream). ``progress`` hears ``(run id, bytes verified, run size)`` as chunks arrive;
one that raises stops the sync (what was verified is kept, to resume) with a
:class:`~imurun.errors.CallbackError` naming it, raised from its exception.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

from firmware_protocol.codec import Received
from firmware_protocol.messages import Error, ErrorCode, MessageType, RunChunk, RunEntry, RunRead
from imurun.device.client import SensorClient
from imurun.device.linkstatus import LinkStatus, Say, no_data, why_lost
from imurun.errors import CallbackError, DeviceError, DeviceTimeoutError, SyncError, TransportError
from imurun.transport.base import LinkLost

T = TypeVar("T")


class RunSink(Protocol):
    """Where synced runs go. Implementations make ``append`` durable and ``commit`` atomic."""

    def is_stored(self, device_id: int, entry: RunEntry) -> bool: ...

    def verified_prefix(self, device_id: int, entry: RunEntry) -> int: ...

    def append(self, device_id: int, entry: RunEntry, offset: int, data: bytes) -> None: ...

    def commit(self, device_id: int, entry: RunEntry) -> str: ...

    def discard(self, device_id: int, entry: RunEntry) -> None: ...


@dataclass(frozen=True)
class SyncSettings:
    window_bytes: int = 64 * 1024  # bytes asked for before the holes are re-requested
    timeout_s: float = 3.0  # silence after which the link is considered lost
    silent_notice_s: float = 1.0  # silence after which the sync says the sensor has gone silent
    round_silence_s: float = 0.4  # silence that ends a round of reads (the rest was lost)
    max_reconnects: int = 20
    backoff_s: tuple[float, float] = (0.1, 2.0)  # first and largest wait between reconnects
    max_rounds_per_window: int = 50
    erase: bool = True


class RunStatus(StrEnum):
    STORED = "stored"
    ALREADY_STORED = "already stored"
    FAILED = "failed"


@dataclass(frozen=True)
class RunResult:
    run_id: int
    size: int
    crc32: int
    status: RunStatus
    location: str = ""
    resumed_from: int = 0
    erased: bool = False
    error: str = ""


@dataclass(frozen=True)
class SyncReport:
    device_id: int
    runs: tuple[RunResult, ...]
    reconnects: int
    bytes_fetched: int
    chunks_rejected: int
    frames_corrupt: int
    duration_s: float

    @property
    def stored(self) -> tuple[RunResult, ...]:
        """The runs this sync stored (verified and written)."""
        return tuple(r for r in self.runs if r.status == RunStatus.STORED)

    @property
    def ok(self) -> bool:
        """Whether no run failed (each failed run has its ``error``)."""
        return all(r.status != RunStatus.FAILED for r in self.runs)


Progress = Callable[[int, int, int], None]  # run_id, bytes verified, run size


@dataclass
class _State:
    client: SensorClient | None = None
    device_id: int | None = None  # the sensor this sync is about; a reconnect must find it again
    reconnects: int = 0
    gone: str = ""  # why reconnecting failed for good; the runs still to do fail at once
    fetched: int = 0
    rejected: int = 0
    corrupt: int = 0
    results: list[RunResult] = field(default_factory=list)
    status: LinkStatus = field(default_factory=lambda: LinkStatus(None))


class _Window:
    """Bytes ``[start, end)`` of a run being assembled from chunks, in any order."""

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.buf = bytearray(end - start)
        self.have = bytearray(end - start)  # 1 where verified bytes are held

    def put(self, offset: int, data: bytes) -> int:
        lo = max(offset, self.start)
        hi = min(offset + len(data), self.end)
        if hi <= lo:
            return 0
        a, b = lo - self.start, hi - self.start
        self.buf[a:b] = data[lo - offset:hi - offset]
        self.have[a:b] = b"\x01" * (b - a)
        return b - a

    def prefix_end(self) -> int:
        i = self.have.find(0)
        return self.end if i < 0 else self.start + i

    def holes(self) -> list[tuple[int, int]]:
        out = []
        i = self.have.find(0)
        while i >= 0:
            j = self.have.find(1, i)
            j = len(self.have) if j < 0 else j
            out.append((self.start + i, self.start + j))
            i = self.have.find(0, j)
        return out


async def sync_runs(connect: Callable[[], Awaitable[SensorClient]], sink: RunSink,
                    settings: SyncSettings = SyncSettings(), *, progress: Progress | None = None,
                    on_status: Say | None = None) -> SyncReport:
    """Download every run ``sink`` does not hold; see the module docstring."""
    t0 = time.monotonic()
    st = _State(status=LinkStatus(on_status))
    if progress is not None:
        progress = _guarded_progress(progress)
    try:
        await _reconnect(connect, st, settings, first=True)
        info = _client(st).info
        if info is None:
            raise SyncError("sensor did not identify itself")
        device_id = info.device_id
        catalogue = await _with_retry(lambda c: c.catalogue(), connect, st, settings)
        for entry in catalogue.runs:
            if st.gone:  # no link and no hope of one: the other runs wait for the next sync
                st.results.append(RunResult(entry.run_id, entry.size, entry.crc32,
                                            RunStatus.FAILED, error=st.gone))
                continue
            try:
                st.results.append(await _sync_one(entry, device_id, connect, sink, st, settings,
                                                  progress))
            except (DeviceError, SyncError) as e:
                st.results.append(RunResult(entry.run_id, entry.size, entry.crc32,
                                            RunStatus.FAILED, error=str(e)))
            except OSError as e:
                if isinstance(e, TransportError):
                    raise
                # The disk, not the link (full, read-only): this run keeps what was verified and
                # stays on the sensor with the ones after it, for the next sync to resume.
                st.gone = f"cannot store runs here: {e.strerror or e}"
                st.results.append(RunResult(entry.run_id, entry.size, entry.crc32,
                                            RunStatus.FAILED, error=st.gone))
    finally:  # also when cancelled (Ctrl-C): the port is let go before the caller goes on
        await _disconnect(st)
    return SyncReport(device_id, tuple(st.results), st.reconnects, st.fetched, st.rejected,
                      st.corrupt, time.monotonic() - t0)


def _guarded_progress(progress: Progress) -> Progress:
    """``progress``, whose errors stop the sync as a :class:`CallbackError` naming it.

    Not as what they are: an ``OSError`` of the callback (a closed pipe it prints to) would
    otherwise be taken for the disk or the link.
    """

    def call(run_id: int, verified: int, size: int) -> None:
        try:
            progress(run_id, verified, size)
        except Exception as e:
            raise CallbackError("progress", e, f"the sync stopped during run {run_id}; what "
                                "was verified is kept, and the next sync resumes there") from e

    return call


def _client(st: _State) -> SensorClient:
    """The connected client; :class:`SyncError` (with the reason) once reconnecting has failed."""
    if st.client is None:
        raise SyncError(st.gone or "not connected to the sensor")
    return st.client


async def _disconnect(st: _State) -> None:
    client, st.client = st.client, None
    if client is not None:
        st.corrupt += client.decoder.stats.frames_corrupt
        try:
            await client.transport.close()
        except TransportError:
            pass


async def _reconnect(connect: Callable[[], Awaitable[SensorClient]], st: _State,
                     settings: SyncSettings, *, first: bool = False,
                     lost: TransportError | None = None) -> None:
    """Connect (``first``), or reconnect after the link was ``lost`` (said once, with why)."""
    if st.gone:
        raise SyncError(st.gone)
    if lost is not None and st.client is not None:
        st.status.lost(st.client.transport.description, why_lost(lost))
    await _disconnect(st)
    delay, cap = settings.backoff_s
    attempt = 0
    while True:
        try:
            client = await connect()
            info = client.info or await client.device_info()
            if st.device_id is not None and info.device_id != st.device_id:
                await client.transport.close()
                raise TransportError(f"a different sensor ({info.device_id:016x}) answered on "
                                     f"{client.transport.description}")
        except (TransportError, DeviceTimeoutError) as e:
            if first:
                raise  # a wrong port or a silent sensor is reported at once, not retried
            attempt += 1
            if attempt > settings.max_reconnects:
                st.gone = f"could not reconnect after {attempt} attempts: {e}"
                raise SyncError(st.gone) from e
            await asyncio.sleep(delay)
            delay = min(delay * 2, cap)
            continue
        st.client = client
        st.device_id = info.device_id
        if not first:
            st.reconnects += 1
        return


async def _with_retry(op: Callable[[SensorClient], Awaitable[T]],
                      connect: Callable[[], Awaitable[SensorClient]], st: _State,
                      settings: SyncSettings) -> T:
    for _ in range(settings.max_reconnects + 1):
        try:
            return await op(_client(st))
        except (LinkLost, DeviceTimeoutError) as e:
            await _reconnect(connect, st, settings, lost=e)
    raise SyncError("operation kept failing after reconnects")


async def _sync_one(entry: RunEntry, device_id: int,
                    connect: Callable[[], Awaitable[SensorClient]], sink: RunSink, st: _State,
                    settings: SyncSettings, progress: Progress | None) -> RunResult:
    if sink.is_stored(device_id, entry):
        erased = await _erase(entry, connect, st, settings) if settings.erase else False
        return RunResult(entry.run_id, entry.size, entry.crc32, RunStatus.ALREADY_STORED,
                         erased=erased)
    resumed_from = prefix = sink.verified_prefix(device_id, entry)
    for _attempt in range(2):
        while prefix < entry.size:
            try:
                prefix = await _fetch_window(entry, device_id, prefix, sink, st, settings, progress)
            except (LinkLost, DeviceTimeoutError) as e:
                await _reconnect(connect, st, settings, lost=e)
                prefix = sink.verified_prefix(device_id, entry)
        try:
            location = sink.commit(device_id, entry)
            break
        except SyncError:
            # Every chunk verified but the whole run did not: the run changed under us. Start over.
            sink.discard(device_id, entry)
            prefix = 0
    else:
        raise SyncError(f"run {entry.run_id}: whole-run CRC-32 kept failing")
    erased = await _erase(entry, connect, st, settings) if settings.erase else False
    return RunResult(entry.run_id, entry.size, entry.crc32, RunStatus.STORED, location,
                     resumed_from, erased)


async def _erase(entry: RunEntry, connect: Callable[[], Awaitable[SensorClient]], st: _State,
                 settings: SyncSettings) -> bool:
    # A sync being cancelled (Ctrl-C) starts no erase. A cancellation that came while the run
    # was being committed (no await there) is delivered here, before anything is sent; the
    # next sync finds the run stored and erases it then.
    await asyncio.sleep(0)
    try:
        await _with_retry(lambda c: c.erase(entry.run_id, entry.crc32), connect, st, settings)
        return True
    except DeviceError as e:
        # An erase whose answer was lost and was resent finds the run already gone.
        return e.code == ErrorCode.UNKNOWN_RUN
    except SyncError:
        return False


#: Reads a sensor queues (SPEC §3.3); a round never asks for more.
MAX_READS_PER_ROUND = 8


async def _fetch_window(entry: RunEntry, device_id: int, prefix: int, sink: RunSink, st: _State,
                        settings: SyncSettings, progress: Progress | None) -> int:
    """Fetch ``[prefix, prefix + window)``; return the new verified prefix (persisted).

    Each round asks for (at most 8 of) the window's holes; the sensor serves reads in order, so
    the chunk that ends the last read ends the round. Lost chunks become holes of the next round.
    """
    client = _client(st)
    win = _Window(prefix, min(prefix + settings.window_bytes, entry.size))
    flushed = prefix

    def persist() -> None:
        # One durable append per round (not per chunk: over BLE a chunk is ~220 bytes and an
        # fsync each would cap the sync far below the link), and before any error propagates,
        # so a lost link or a killed process costs at most the round in flight.
        nonlocal flushed
        end = win.prefix_end()
        if end > flushed:
            sink.append(device_id, entry, flushed, bytes(win.buf[flushed - win.start:end - win.start]))
            flushed = end

    silent_s = 0.0  # empty rounds' silence, for the timeout
    last_data = time.monotonic()  # for what the user is told
    try:
        for _round in range(settings.max_rounds_per_window):
            holes = win.holes()[:MAX_READS_PER_ROUND]
            if not holes:
                break
            for lo, hi in holes:
                await client.send(RunRead(entry.run_id, lo, hi - lo))
            last_end = holes[-1][1]
            got_any = False
            while True:
                try:
                    _, ev = await client.next_event(settings.round_silence_s)
                except DeviceTimeoutError:
                    break  # the rest of this round was lost: ask again for what is missing
                if not isinstance(ev, Received):
                    continue
                m = ev.message
                if isinstance(m, Error) and m.request_type == MessageType.RUN_READ:
                    if m.code == ErrorCode.BUSY:
                        continue  # the queue was full: that hole stays a hole for the next round
                    raise DeviceError(m.code, m.text, operation=f"read run {entry.run_id}")
                if not isinstance(m, RunChunk) or m.run_id != entry.run_id:
                    continue
                if not m.intact or m.offset + len(m.data) > entry.size:
                    st.rejected += 1
                    continue
                if not got_any:
                    st.status.data_again(client.transport.description,
                                         time.monotonic() - last_data)
                got_any = True
                last_data = time.monotonic()
                win.put(m.offset, m.data)
                st.fetched += len(m.data)
                if progress is not None:
                    progress(entry.run_id, win.prefix_end(), entry.size)
                if m.offset + len(m.data) >= last_end:
                    break
            persist()
            desc = client.transport.description
            silent_s = 0.0 if got_any else silent_s + settings.round_silence_s
            if silent_s >= settings.timeout_s:
                # a sensor that stays silent is as good as gone (as for a stream)
                raise LinkLost(desc, no_data(settings.timeout_s))
            if silent_s >= settings.silent_notice_s:
                st.status.silent(desc, silent_s, "asking again for what is missing; reconnecting "
                                 f"after {settings.timeout_s:g} s without data")
            if win.prefix_end() == win.end:
                break
        else:
            raise SyncError(f"run {entry.run_id}: bytes {win.prefix_end()}.. still missing after "
                            f"{settings.max_rounds_per_window} requests")
    finally:
        persist()
    return flushed
