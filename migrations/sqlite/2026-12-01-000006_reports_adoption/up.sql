-- Maintained aggregates for the administrators' reports (issue 8, part A): written in the
-- ingest transaction from each batch's newly inserted events (duplicates are never inserted,
-- so a re-sent or replayed event is never counted twice), read instead of scanning events.
-- Times are milliseconds since the Unix epoch (UTC); week_start is a Monday 00:00 UTC, day a
-- midnight UTC. See docs/reports.md for how each figure is computed.

-- Practice per week, class and student (the week and class the event names).
-- practice_ms: the sum of the events' response times, each capped at 5 minutes.
-- timed_events: events that carried a response time.
CREATE TABLE report_activity (
    org_id       TEXT NOT NULL,
    week_start   BIGINT NOT NULL,
    class_id     TEXT NOT NULL,
    student_id   TEXT NOT NULL,
    events       BIGINT NOT NULL,
    timed_events BIGINT NOT NULL,
    practice_ms  BIGINT NOT NULL,
    first_at     BIGINT NOT NULL,
    last_at      BIGINT NOT NULL,
    PRIMARY KEY (org_id, week_start, class_id, student_id)
);

-- What each tool sent, per day of receipt: events stored, re-sent duplicates, late events
-- (received 24 hours or more after they occurred), future-dated events (occurred after they
-- were received, within the 5 minutes allowed) and their clock skew, events without a
-- response time. tool is the event's tool field, '' when it had none.
CREATE TABLE report_tool_days (
    org_id          TEXT NOT NULL,
    day             BIGINT NOT NULL,
    tool            TEXT NOT NULL,
    received        BIGINT NOT NULL,
    duplicates      BIGINT NOT NULL,
    late            BIGINT NOT NULL,
    max_late_ms     BIGINT NOT NULL,
    future          BIGINT NOT NULL,
    max_future_ms   BIGINT NOT NULL,
    sum_future_ms   BIGINT NOT NULL,
    without_time    BIGINT NOT NULL,
    PRIMARY KEY (org_id, day, tool)
);

-- Refused events (they are not stored) per day of receipt, tool and error code.
CREATE TABLE report_rejections (
    org_id  TEXT NOT NULL,
    day     BIGINT NOT NULL,
    tool    TEXT NOT NULL,
    code    TEXT NOT NULL,
    events  BIGINT NOT NULL,
    PRIMARY KEY (org_id, day, tool, code)
);
