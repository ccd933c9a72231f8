DROP TABLE bot_logs;
DROP TABLE events;
DROP TABLE bots;
