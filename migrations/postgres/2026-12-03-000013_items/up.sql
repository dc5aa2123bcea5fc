-- The item catalogue: what a tool or an administrator says an item asks (a short plain-text
-- prompt) and its correct answer, so that teachers read the problem rather than its id.
-- described_by is 'tool' or 'admin': a tool never changes what an administrator described.
ALTER TABLE items
    ADD COLUMN prompt TEXT,
    ADD COLUMN answer TEXT,
    ADD COLUMN described_by TEXT,
    ADD COLUMN described_at BIGINT;

-- The student's answer as given (at most 200 characters), for the most common wrong answers.
-- Student data: exported, erased and purged with its event.
ALTER TABLE events ADD COLUMN response TEXT;
