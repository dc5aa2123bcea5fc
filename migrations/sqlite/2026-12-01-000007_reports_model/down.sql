DROP TABLE refit_jobs;
ALTER TABLE skill_models DROP COLUMN accuracy;
DROP TABLE student_predictions;
DROP TABLE prediction_bins;
