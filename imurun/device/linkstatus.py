"""What a host says about its link while it streams or syncs: one line per change.

:func:`imurun.device.stream.stream_live` and :func:`imurun.device.sync.sync_runs` share it, over
serial and BLE alike, so a lost link reads the same everywhere: ``<link>: <why>; reconnecting``
(``why`` is the transport's reason, or ``no data for 3 s`` when the sensor stayed silent that
long). A stream and a sync also say, once, when the sensor goes silent with the link still up
and what they do about it, and say when data come back.
"""

from __future__ import annotations

from collections.abc import Callable

from imurun.errors import TransportError
from imurun.transport.base import LinkLost

Say = Callable[[str], None]


def no_data(silent_s: float) -> str:
    """Why a link that stayed silent for ``silent_s`` counts as lost."""
    return f"no data for {silent_s:g} s"


def why_lost(e: TransportError) -> str:
    """The reason to show for a link lost with ``e``."""
    if isinstance(e, LinkLost):
        return e.reason or "link lost"
    return str(e)


class LinkStatus:
    """Says link changes through ``say`` (nothing when ``say`` is ``None``), each once."""

    def __init__(self, say: Say | None) -> None:
        self.say = say
        self.silent_said = False  # "gone silent" said, "data again" not yet

    def _say(self, line: str) -> None:
        if self.say is not None:
            self.say(line)

    def lost(self, description: str, why: str) -> None:
        """The link is lost (or given up as silent): one line, with why; reconnecting follows."""
        self.silent_said = False
        self._say(f"{description}: {why}; reconnecting")

    def silent(self, description: str, silent_s: float, doing: str) -> None:
        """The sensor has sent nothing for ``silent_s`` while the link is up; said once."""
        if not self.silent_said:
            self.silent_said = True
            self._say(f"{description}: the sensor has gone silent ({no_data(round(silent_s, 1))}); "
                      f"{doing}")

    def data_again(self, description: str, silent_s: float) -> None:
        """Data arrived again after a silence that was said."""
        if self.silent_said:
            self.silent_said = False
            self._say(f"{description}: data again after {silent_s:.1f} s of silence")
