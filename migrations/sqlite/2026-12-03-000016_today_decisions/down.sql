ALTER TABLE review_decisions DROP COLUMN insight_id;
