-- Every process caches each bot's token hash, status and log level for the heartbeat path; this
-- trigger tells them (NOTIFY bot_state, '<id>') when one of those changes or the bot is deleted.
CREATE FUNCTION notify_bot_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bot_state', OLD.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER bots_state_changed
    AFTER UPDATE OF status, log_level, token_hash ON bots
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.log_level IS DISTINCT FROM NEW.log_level
          OR OLD.token_hash IS DISTINCT FROM NEW.token_hash)
    EXECUTE FUNCTION notify_bot_state();

CREATE TRIGGER bots_deleted
    AFTER DELETE ON bots
    FOR EACH ROW
    EXECUTE FUNCTION notify_bot_state();
