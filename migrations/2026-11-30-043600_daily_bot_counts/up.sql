-- Bots created per user per UTC day: what a plan's daily limit counts. A row is only ever
-- incremented (by a conditional upsert in the create transaction), so deleting bots, moving
-- their start time or asking in another time zone does not give back room.
CREATE TABLE daily_bot_counts (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     DATE NOT NULL,
    created INTEGER NOT NULL CHECK (created >= 0),
    PRIMARY KEY (user_id, day)
);

-- Carry over the bots created today and yesterday (UTC) so the limit holds across the upgrade.
INSERT INTO daily_bot_counts (user_id, day, created)
SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, count(*)
FROM bots
WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'
GROUP BY 1, 2;
