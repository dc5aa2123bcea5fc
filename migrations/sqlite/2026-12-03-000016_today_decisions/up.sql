-- The insight a decision was taken on (NULL for a decision on a review item): deciding on an
-- insight records decisions on the calls behind it, which must not use up the day's review
-- items.
ALTER TABLE review_decisions ADD COLUMN insight_id TEXT;
