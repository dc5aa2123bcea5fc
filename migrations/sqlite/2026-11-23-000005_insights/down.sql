DROP TABLE group_plans;
DROP TABLE review_decisions;
