-- A teacher may mark an insight done (it feeds the "after you acted" follow-up): the decision
-- column accepts 'done' besides 'confirm' and 'dismiss'.
ALTER TABLE review_decisions DROP CONSTRAINT IF EXISTS review_decisions_decision_check;
ALTER TABLE review_decisions ADD CONSTRAINT review_decisions_decision_check
    CHECK (decision IN ('confirm', 'dismiss', 'done'));
