ALTER TABLE students DROP COLUMN group_label;
DROP TABLE retention_marks;
DROP TABLE audit_log;
DROP TABLE login_failures;
