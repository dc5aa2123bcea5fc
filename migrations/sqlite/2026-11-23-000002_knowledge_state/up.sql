-- Knowledge-tracing state, derived from the events (rebuildable: see docs/knowledge-tracing.md).

-- The fitted BKT model of each skill (kt::SkillModel as JSON). A skill without a row uses
-- kt::SkillModel::default(). fitted_at is NULL for a row that only records defaults.
CREATE TABLE skill_models (
    org_id         TEXT NOT NULL,
    skill_id       TEXT NOT NULL,
    model          TEXT NOT NULL,
    fitted_at      BIGINT,
    students       INTEGER NOT NULL,
    rows           INTEGER NOT NULL,
    log_likelihood REAL,
    PRIMARY KEY (org_id, skill_id),
    FOREIGN KEY (org_id, skill_id) REFERENCES skills (org_id, skill_id) ON DELETE CASCADE
);

-- One row per student and skill (kt::SkillState as JSON, ~100 bytes). Keyed by student first:
-- a batch's updates then touch few pages. last_occurred_at is the latest event of the student on
-- the skill (retries included): an event earlier than it is late and the row is replayed.
-- session_start starts the session derived from 30 minutes of inactivity on this skill.
CREATE TABLE skill_states (
    org_id           TEXT NOT NULL,
    student_id       TEXT NOT NULL,
    skill_id         TEXT NOT NULL,
    state            TEXT NOT NULL,
    last_occurred_at BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL,
    session_start    BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (org_id, student_id, skill_id)
);

-- The items each student has met on each skill, and when first: only the first attempt at an
-- item is an opportunity. Existence is what the online path checks.
CREATE TABLE student_items (
    org_id            TEXT NOT NULL,
    student_id        TEXT NOT NULL,
    skill_id          TEXT NOT NULL,
    item_id           TEXT NOT NULL,
    first_occurred_at BIGINT NOT NULL,
    PRIMARY KEY (org_id, student_id, skill_id, item_id)
);
