-- Runs of the background jobs (refit, retention), one row per organisation per run: which node
-- ran it and when (cluster.rs). On SQLite the one process is the only node.
CREATE TABLE job_runs (
    org_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    job         TEXT NOT NULL,
    node        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    result      TEXT,
    PRIMARY KEY (org_id, run_id)
) WITHOUT ROWID;
CREATE INDEX job_runs_job ON job_runs (job, started_at);
