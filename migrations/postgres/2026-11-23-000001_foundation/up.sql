-- The organisation (a district) owns everything below it; every key starts with org_id so that
-- data of two districts never meets, even when their tools use the same ids.
-- Times are milliseconds since the Unix epoch (UTC), the same on both backends.

CREATE TABLE orgs (
    org_id     TEXT PRIMARY KEY NOT NULL,
    name       TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE schools (
    org_id     TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    school_id  TEXT NOT NULL,
    name       TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, school_id)
);

CREATE TABLE classes (
    org_id     TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    class_id   TEXT NOT NULL,
    school_id  TEXT,
    name       TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, class_id),
    FOREIGN KEY (org_id, school_id) REFERENCES schools (org_id, school_id)
);

-- Students are pseudonymous ids from tools; a name comes only from the roster.
CREATE TABLE students (
    org_id     TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    student_id TEXT NOT NULL,
    name       TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, student_id)
);

-- Teachers and administrators.
CREATE TABLE users (
    user_id       TEXT PRIMARY KEY NOT NULL,
    org_id        TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT,
    role          TEXT NOT NULL CHECK (role IN ('teacher', 'admin')),
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX users_org ON users (org_id);

CREATE TABLE class_teachers (
    org_id   TEXT NOT NULL,
    class_id TEXT NOT NULL,
    user_id  TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    PRIMARY KEY (org_id, class_id, user_id),
    FOREIGN KEY (org_id, class_id) REFERENCES classes (org_id, class_id) ON DELETE CASCADE
);
CREATE INDEX class_teachers_user ON class_teachers (user_id);

-- source: 'event' when a tool's event enrolled the student, 'roster' from an import.
CREATE TABLE enrolments (
    org_id     TEXT NOT NULL,
    class_id   TEXT NOT NULL,
    student_id TEXT NOT NULL,
    source     TEXT NOT NULL CHECK (source IN ('event', 'roster')),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, class_id, student_id),
    FOREIGN KEY (org_id, class_id) REFERENCES classes (org_id, class_id) ON DELETE CASCADE,
    FOREIGN KEY (org_id, student_id) REFERENCES students (org_id, student_id) ON DELETE CASCADE
);
CREATE INDEX enrolments_student ON enrolments (org_id, student_id);

-- domain is the part of skill_id before the first dot ("fractions" of "fractions.add-unlike").
CREATE TABLE skills (
    org_id     TEXT NOT NULL REFERENCES orgs (org_id) ON DELETE CASCADE,
    skill_id   TEXT NOT NULL,
    name       TEXT,
    domain     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, skill_id)
);

CREATE TABLE items (
    org_id     TEXT NOT NULL,
    item_id    TEXT NOT NULL,
    skill_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, item_id),
    FOREIGN KEY (org_id, skill_id) REFERENCES skills (org_id, skill_id) ON DELETE CASCADE
);

-- The practice events: append-only, the source of truth from which all state is derived.
-- seq is the arrival order. event_id is the tool's UUID as 16 bytes: the idempotency key,
-- kept compact because its index is the one every insert touches at a random place.
CREATE TABLE events (
    seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id        BYTEA NOT NULL,
    org_id          TEXT NOT NULL,
    class_id        TEXT NOT NULL,
    student_id      TEXT NOT NULL,
    skill_id        TEXT NOT NULL,
    item_id         TEXT NOT NULL,
    occurred_at     BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('correct', 'incorrect', 'skipped')),
    attempt         INTEGER NOT NULL,
    response_ms     INTEGER,
    hints_used      INTEGER NOT NULL,
    hint_bottom_out BOOLEAN NOT NULL,
    session_id      TEXT,
    skill_name      TEXT,
    tool            TEXT
);
CREATE UNIQUE INDEX events_event_id ON events (event_id);
-- One student's history in time: rebuilds, the student page. Not keyed by skill: a batch's new
-- events of one student then land side by side at the end of that student's range, so an
-- insert dirties one index page per student rather than one per student and skill.
CREATE INDEX events_student ON events (org_id, student_id, occurred_at);
-- Time ranges (reports, retention); occurred_at mostly grows, so inserts land at the end.
CREATE INDEX events_time ON events (org_id, occurred_at);
