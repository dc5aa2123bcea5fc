DROP TABLE flags;
DROP TABLE student_signals;
DROP TABLE item_norms;
