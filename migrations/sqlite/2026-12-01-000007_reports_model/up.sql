-- Model health and fairness (docs/reports.md): the model's predictions as they were made at
-- ingest, kept as binned aggregates so the reports never scan the events.

-- Per skill, day of the answer (days since 1970-01-01 UTC), model and bin of the predicted
-- P(correct) (bin = floor(p / 0.02), 0..49): right and wrong answers, the sum of the
-- predictions and of the squared errors. model_at is the fitted_at of the model that
-- predicted (0 for the default model), so accuracy after a refit is the new model's alone.
-- Only answers that count as evidence are recorded (first attempts, rapid guesses excluded).
CREATE TABLE prediction_bins (
    org_id     TEXT NOT NULL,
    skill_id   TEXT NOT NULL,
    day        INTEGER NOT NULL,
    model_at   BIGINT NOT NULL,
    bin        INTEGER NOT NULL,
    correct    BIGINT NOT NULL,
    wrong      BIGINT NOT NULL,
    sum_pred   REAL NOT NULL,
    sum_sq_err REAL NOT NULL,
    PRIMARY KEY (org_id, skill_id, day, model_at, bin)
) WITHOUT ROWID;

-- The same per student, in ten bins of 0.1 (all skills, all time): the fairness report rolls
-- them up by the students' current group, so a roster uploaded later still counts.
CREATE TABLE student_predictions (
    org_id     TEXT NOT NULL,
    student_id TEXT NOT NULL,
    bin        INTEGER NOT NULL,
    correct    BIGINT NOT NULL,
    wrong      BIGINT NOT NULL,
    sum_pred   REAL NOT NULL,
    sum_sq_err REAL NOT NULL,
    PRIMARY KEY (org_id, student_id, bin)
) WITHOUT ROWID;

-- A skill's in-sample accuracy when it was fitted (reports::model_health::Accuracy as JSON).
ALTER TABLE skill_models ADD COLUMN accuracy TEXT;

-- Refits started from the model-health page, run in the background.
-- status: queued, running, done, failed. At most one queued or running per organisation.
CREATE TABLE refit_jobs (
    job_id         TEXT NOT NULL PRIMARY KEY,
    org_id         TEXT NOT NULL,
    status         TEXT NOT NULL,
    phase          TEXT NOT NULL,
    skills_done    INTEGER NOT NULL,
    skills_total   INTEGER NOT NULL,
    students_done  INTEGER NOT NULL,
    students_total INTEGER NOT NULL,
    result         TEXT,
    error          TEXT,
    requested_by   TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
CREATE UNIQUE INDEX refit_jobs_one_active ON refit_jobs (org_id) WHERE status IN ('queued', 'running');
CREATE INDEX refit_jobs_org ON refit_jobs (org_id, created_at);
