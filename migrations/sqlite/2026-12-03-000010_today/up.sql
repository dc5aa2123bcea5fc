-- A teacher may mark an insight done (it feeds the "after you acted" follow-up): the decision
-- column accepts 'done' besides 'confirm' and 'dismiss'. SQLite cannot change a CHECK, so the
-- table is rebuilt with the same columns and index.
CREATE TABLE review_decisions_next (
    decision_id     TEXT PRIMARY KEY NOT NULL,
    org_id          TEXT NOT NULL,
    student_id      TEXT NOT NULL,
    skill_id        TEXT NOT NULL,
    kind            TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision IN ('confirm', 'dismiss', 'done')),
    note            TEXT,
    evidence_marker BIGINT NOT NULL,
    decided_by      TEXT NOT NULL,
    decided_at      BIGINT NOT NULL
);
INSERT INTO review_decisions_next
    SELECT decision_id, org_id, student_id, skill_id, kind, decision, note, evidence_marker,
           decided_by, decided_at
    FROM review_decisions;
DROP TABLE review_decisions;
ALTER TABLE review_decisions_next RENAME TO review_decisions;
CREATE INDEX review_decisions_student ON review_decisions (org_id, student_id, decided_at);
