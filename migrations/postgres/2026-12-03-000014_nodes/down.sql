ALTER TABLE checkins DROP CONSTRAINT checkins_pkey, ADD PRIMARY KEY (checkin_id);
ALTER TABLE refit_jobs DROP CONSTRAINT refit_jobs_pkey, ADD PRIMARY KEY (job_id);
ALTER TABLE group_plans DROP CONSTRAINT group_plans_pkey, ADD PRIMARY KEY (plan_id);
ALTER TABLE review_decisions DROP CONSTRAINT review_decisions_pkey, ADD PRIMARY KEY (decision_id);
ALTER TABLE audit_log DROP CONSTRAINT audit_log_pkey, ADD PRIMARY KEY (id);
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (seq);
DROP TABLE job_runs;
