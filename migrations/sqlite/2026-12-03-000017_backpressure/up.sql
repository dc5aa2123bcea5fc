-- An organisation whose refit has stored new models and not yet recomputed every state from
-- them: set in the models' transaction, cleared once the states are done. A refit cut short
-- by a crash is finished from here at the next start (store::state::finish_interrupted_refits).
CREATE TABLE refit_pending (
    org_id TEXT PRIMARY KEY NOT NULL,
    since BIGINT NOT NULL
);
