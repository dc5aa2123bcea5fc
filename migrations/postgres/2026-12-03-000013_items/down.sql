ALTER TABLE events DROP COLUMN response;
ALTER TABLE items
    DROP COLUMN described_at,
    DROP COLUMN described_by,
    DROP COLUMN answer,
    DROP COLUMN prompt;
