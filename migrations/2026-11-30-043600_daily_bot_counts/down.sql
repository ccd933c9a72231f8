DROP TABLE daily_bot_counts;
