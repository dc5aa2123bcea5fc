ALTER TABLE events DROP COLUMN response;
ALTER TABLE items DROP COLUMN described_at;
ALTER TABLE items DROP COLUMN described_by;
ALTER TABLE items DROP COLUMN answer;
ALTER TABLE items DROP COLUMN prompt;
