DROP TABLE student_items;
DROP TABLE skill_states;
DROP TABLE skill_models;
