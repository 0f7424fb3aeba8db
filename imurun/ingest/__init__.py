"""Frames -> sample blocks -> one gap-aware, clock-corrected :class:`Recording`."""

from imurun.ingest.recording import Gap, GapCause, IngestStats, Recording, RecordingMeta, Segment

__all__ = ["Gap", "GapCause", "IngestStats", "Recording", "RecordingMeta", "Segment"]
