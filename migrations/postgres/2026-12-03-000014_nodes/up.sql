-- Runs of the background jobs (refit, retention), one row per organisation per run: which node
-- ran it and when. Only the leader runs jobs (cluster.rs); the rows show that runs never overlap
-- and when the next one is due, whichever node leads then.
CREATE TABLE job_runs (
    org_id      TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    job         TEXT NOT NULL,
    node        TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    result      TEXT,
    PRIMARY KEY (org_id, run_id)
);
CREATE INDEX job_runs_job ON job_runs (job, started_at);

-- Every table keyed by organisation: the organisation leads each primary key, so the tables
-- can be distributed by org_id (Citus requires the distribution column in every unique key).
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (org_id, seq);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey, ADD PRIMARY KEY (org_id, id);
ALTER TABLE review_decisions DROP CONSTRAINT review_decisions_pkey, ADD PRIMARY KEY (org_id, decision_id);
ALTER TABLE group_plans DROP CONSTRAINT group_plans_pkey, ADD PRIMARY KEY (org_id, plan_id);
ALTER TABLE refit_jobs DROP CONSTRAINT refit_jobs_pkey, ADD PRIMARY KEY (org_id, job_id);
ALTER TABLE checkins DROP CONSTRAINT checkins_pkey, ADD PRIMARY KEY (org_id, checkin_id);
