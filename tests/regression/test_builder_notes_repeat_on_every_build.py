"""Regression: ``RecordingBuilder.build()`` added its notes again on every call.

``build()`` is documented as repeatable, but it appended its own notes ("no time-sync pairs",
"overlaps the previous one") to the builder's list, so a second build carried each note twice
(and ``imurun stream``, which builds after streaming, could not build again for a summary).
``build()`` now works on a copy of the notes fed so far.
"""

from __future__ import annotations

from tests.ingest_support import clean_script, feed


def test_second_build_has_the_same_notes() -> None:
    builder = feed(clean_script(2.0, syncs=False).bursts())
    first = builder.build()
    second = builder.build()
    assert first.meta.notes == ("boot 1: no time-sync pairs; host time from arrival times",)
    assert second.meta.notes == first.meta.notes
