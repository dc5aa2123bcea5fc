DROP TABLE report_rejections;
DROP TABLE report_tool_days;
DROP TABLE report_activity;
