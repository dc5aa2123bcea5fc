DROP TABLE refit_pending;
