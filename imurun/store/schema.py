"""The SQLite index of a library: tables, and the migrations that build them.

The index is derived data: every row can be rebuilt from the files of the library
(``imurun store check --repair``). Its version is ``PRAGMA user_version``; each migration moves
it up by one inside one transaction, so a database is always at a version this module knows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from imurun.errors import StoreError

#: Per-step metrics kept as columns (the ``steps`` objects of ``imurun.analysis/1``).
STEP_COLUMNS: tuple[str, ...] = (
    "ic_s", "to_s", "side", "activity", "contact_s", "flight_s", "step_s",
    "vertical_oscillation_m", "braking_mps", "impact_g", "pelvic_tilt_range_deg",
    "pelvic_drop_deg", "pelvic_rotation_range_deg",
)

#: Those of :data:`STEP_COLUMNS` that hold text (the others hold numbers).
TEXT_STEP_COLUMNS: frozenset[str] = frozenset({"side", "activity"})

#: Run summary values kept as columns (the ``summary`` object of ``imurun.analysis/1``).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "n_steps", "running_s", "cadence_spm", "contact_ms", "flight_ms", "contact_balance_left_pct",
    "vertical_oscillation_cm", "braking_mps", "impact_g", "pelvic_tilt_range_deg",
    "pelvic_drop_stance_left_deg", "pelvic_drop_stance_right_deg", "pelvic_rotation_range_deg",
)

_V1 = f"""
CREATE TABLE athletes (
    id           TEXT PRIMARY KEY,          -- uuid4 hex, the same in every store
    name         TEXT NOT NULL,
    mass_kg      REAL,
    leg_length_m REAL,
    created_at   TEXT NOT NULL
);
CREATE INDEX athletes_name ON athletes (name COLLATE NOCASE);

CREATE TABLE sensors (
    device_id    TEXT PRIMARY KEY,          -- 16 hex digits
    athlete_id   TEXT REFERENCES athletes (id) ON DELETE SET NULL,
    bound_at     TEXT NOT NULL
);

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,      -- SHA-256 of the run file
    path             TEXT NOT NULL UNIQUE,  -- relative to the library root
    format           TEXT NOT NULL,         -- stored-run, session, csv, xsens
    size             INTEGER NOT NULL,
    athlete_id       TEXT REFERENCES athletes (id) ON DELETE SET NULL,
    device_id        TEXT,
    sensor_run_id    INTEGER,
    sensor_start_ms  INTEGER,               -- the run header's start_unix_ms
    crc32            INTEGER,
    start_unix_s     REAL,
    duration_s       REAL,
    source           TEXT NOT NULL,         -- sync, import, bundle, store
    source_name      TEXT NOT NULL,
    added_at         TEXT NOT NULL,
    analysis_version TEXT,
    analysis_error   TEXT
);
CREATE UNIQUE INDEX runs_sensor ON runs (device_id, sensor_run_id, sensor_start_ms, crc32)
    WHERE device_id IS NOT NULL AND sensor_run_id IS NOT NULL;
CREATE INDEX runs_athlete_start ON runs (athlete_id, start_unix_s);
CREATE INDEX runs_start ON runs (start_unix_s);

CREATE TABLE run_summaries (
    run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    {", ".join(f"{c} REAL" for c in SUMMARY_COLUMNS)},
    summary_json TEXT NOT NULL              -- the whole summary object, extra keys included
);

CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    i      INTEGER NOT NULL,
    {", ".join(f"{c} {'TEXT' if c in ('side', 'activity') else 'REAL'}" for c in STEP_COLUMNS)},
    PRIMARY KEY (run_id, i)
) WITHOUT ROWID;

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_V2 = """
CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,          -- SHA-256 of the attached file
    run_id       TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,             -- watch-fit
    path         TEXT NOT NULL UNIQUE,
    offset_s     REAL NOT NULL,             -- watch time - run time, s
    overlap_s    REAL NOT NULL,
    distance_m   REAL,                      -- over the run
    added_at     TEXT NOT NULL
);
CREATE INDEX attachments_run ON attachments (run_id);

CREATE TABLE watch_samples (                -- one row per second of the run the watch covered
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    t_s            REAL NOT NULL,           -- run time base (that of the steps' ic_s)
    speed_mps      REAL,
    distance_m     REAL,                    -- from the start of the run
    heart_rate_bpm REAL,
    cadence_spm    REAL,
    PRIMARY KEY (run_id, t_s)
) WITHOUT ROWID;
"""


# start_given = 1: the recording has no date and its start was given by hand (`--start`). (No
# SQL comment here: ALTER TABLE keeps the text of the column definition in the schema.)
_V3 = """
ALTER TABLE runs ADD COLUMN start_given INTEGER NOT NULL DEFAULT 0
"""


# The body mass the kept analysis used (its ``parameters.mass_kg``); analysis_mass_known = 0 for an
# analysis indexed before this column existed (or one that does not say).
_V4 = """
ALTER TABLE runs ADD COLUMN analysis_mass_kg REAL;
ALTER TABLE runs ADD COLUMN analysis_mass_known INTEGER NOT NULL DEFAULT 0
"""


# One watch file may cover two runs (a sensor that rebooted during the run makes two): the
# attachment is keyed by its run (a run holds one), the file's SHA-256 is no longer unique.
_V5 = """
CREATE TABLE attachments_v5 (
    id           TEXT NOT NULL,             -- SHA-256 of the attached file
    run_id       TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,             -- watch-fit
    path         TEXT NOT NULL UNIQUE,
    offset_s     REAL NOT NULL,             -- watch time - run time, s
    overlap_s    REAL NOT NULL,
    distance_m   REAL,                      -- over the run
    added_at     TEXT NOT NULL
);
INSERT INTO attachments_v5 SELECT id, run_id, kind, path, offset_s, overlap_s, distance_m,
    added_at FROM attachments WHERE rowid IN (SELECT MAX(rowid) FROM attachments GROUP BY run_id);
DROP TABLE attachments;
ALTER TABLE attachments_v5 RENAME TO attachments;
CREATE INDEX attachments_file ON attachments (id)
"""


# Other ids an athlete is known by: the id of a profile merged into them, or the id another
# library gives them (`import --athlete`), so their runs and later bundles find them.
_V6 = """
CREATE TABLE athlete_aliases (
    id         TEXT PRIMARY KEY,
    athlete_id TEXT NOT NULL REFERENCES athletes (id) ON DELETE CASCADE
)
"""


# The ``indicators`` list of a run's analysis, so reports and the weekly summary need not read
# (and parse) the whole analysis.json of every run they count; NULL for an analysis indexed
# before this column existed (then the file is read).
_V7 = """
ALTER TABLE run_summaries ADD COLUMN indicators_json TEXT
"""


def _script(sql: str) -> Callable[[sqlite3.Connection], None]:
    def apply(db: sqlite3.Connection) -> None:
        for stmt in sql.split(";"):
            if stmt.strip():
                db.execute(stmt)

    return apply


#: ``MIGRATIONS[k]`` moves a database from version ``k`` to ``k + 1``.
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _script(_V1), _script(_V2), _script(_V3), _script(_V4),
    _script(_V5), _script(_V6), _script(_V7))
VERSION = len(MIGRATIONS)


def migrate(db: sqlite3.Connection, target: int = VERSION, *,
            created: Callable[[sqlite3.Connection], None] | None = None) -> int:
    """Bring ``db`` (autocommit mode) to version ``target``; return the version it had.

    ``created(db)`` runs in the same transaction when the tables are created (version 0).
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        have = int(db.execute("PRAGMA user_version").fetchone()[0])
        if have > VERSION:
            raise StoreError(f"the library index is version {have}, newer than this imurun "
                             f"knows ({VERSION}); upgrade imurun")
        for k in range(have, target):
            MIGRATIONS[k](db)
            db.execute(f"PRAGMA user_version = {k + 1}")
        if have == 0 and created is not None:
            created(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return have
