-- The lesson: a teacher's check-ins with students during practice (docs/lesson.md).

-- One row per student a teacher checked in with; skill_id and note are optional.
CREATE TABLE checkins (
    checkin_id  TEXT PRIMARY KEY NOT NULL,
    org_id      TEXT NOT NULL,
    class_id    TEXT NOT NULL,
    student_id  TEXT NOT NULL,
    skill_id    TEXT,
    note        TEXT,
    checked_by  TEXT NOT NULL,
    at          BIGINT NOT NULL
);
-- A student's check-ins (the Now view, the student page, export, erasure).
CREATE INDEX checkins_student ON checkins (org_id, student_id, at);
-- A class's check-ins (attention coverage, the adoption report).
CREATE INDEX checkins_class ON checkins (org_id, class_id, at);
