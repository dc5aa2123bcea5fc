-- Insights, small groups and the review queue (issue 5).

-- A teacher's decision on a review item or an insight: append-only, so the administrator's
-- reports see every decision with who and when. The current decision for a key
-- (org, student, skill, kind) is its latest row. skill_id is '' for a decision not about one
-- skill. kind: 'estimate', 'flag:<flag kind>' or 'insight:<insight kind>'.
-- evidence_marker is what "new evidence" is measured against: the skill state's opportunity
-- count for estimates and insights, the decision time (ms) for flags. A dismissal silences the
-- key only while the marker is unchanged.
CREATE TABLE review_decisions (
    decision_id     TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL,
    student_id      TEXT NOT NULL,
    skill_id        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('confirm', 'dismiss')),
    note            TEXT,
    evidence_marker BIGINT NOT NULL,
    decided_by      TEXT NOT NULL,
    decided_at      BIGINT NOT NULL
);
-- A class's decisions: by the students of the class, latest last.
CREATE INDEX review_decisions_student ON review_decisions (org_id, student_id, decided_at);

-- A small-group plan a teacher saved: members as a JSON array of student ids (a handful).
CREATE TABLE group_plans (
    plan_id        TEXT PRIMARY KEY NOT NULL,
    org_id         TEXT NOT NULL,
    class_id       TEXT NOT NULL,
    focus_skill_id TEXT NOT NULL,
    students       TEXT NOT NULL,
    note           TEXT,
    source_group   TEXT,
    done           BOOLEAN NOT NULL DEFAULT FALSE,
    done_at        BIGINT,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX group_plans_class ON group_plans (org_id, class_id, created_at);
