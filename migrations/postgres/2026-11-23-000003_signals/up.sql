-- Behaviour signals, derived from the events (rebuildable: see docs/signals.md).

-- The typical response time of each item (item_id = '' pools the skill's items): a count and
-- a sum of the natural logs of the response times (ms) of correct first attempts without hints
-- that were not rapid guesses. Their geometric mean is the norm the rapid-guess threshold is
-- a fraction of. Updated at ingest by adding to both columns (order does not matter).
CREATE TABLE item_norms (
    org_id     TEXT NOT NULL,
    skill_id   TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    responses  INTEGER NOT NULL,
    sum_log_ms DOUBLE PRECISION NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, skill_id, item_id)
);

-- One row per student: the detectors' state (signals::Tracker as JSON: the latest actions of
-- the current sitting, counters, the flags still going on). last_occurred_at is the latest
-- event applied: an earlier event is late and the student is replayed from the events.
CREATE TABLE student_signals (
    org_id           TEXT NOT NULL,
    student_id       TEXT NOT NULL,
    state            TEXT NOT NULL,
    last_occurred_at BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (org_id, student_id)
);

-- One row per flag episode. skill_id is '' for student-wide flags. ended_at is NULL while the
-- behaviour goes on. evidence is the data behind the flag (JSON), sentence the plain sentence.
-- Idle flags still going on are not stored: they depend on the current time (worked out on read).
CREATE TABLE flags (
    org_id     TEXT NOT NULL,
    student_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    skill_id   TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at   BIGINT,
    evidence   TEXT NOT NULL,
    sentence   TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, student_id, kind, skill_id, started_at)
);
