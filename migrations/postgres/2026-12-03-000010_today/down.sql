DELETE FROM review_decisions WHERE decision = 'done';
ALTER TABLE review_decisions DROP CONSTRAINT IF EXISTS review_decisions_decision_check;
ALTER TABLE review_decisions ADD CONSTRAINT review_decisions_decision_check
    CHECK (decision IN ('confirm', 'dismiss'));
