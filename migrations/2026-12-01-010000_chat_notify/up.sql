-- A chat message queued for a bot tells every process's heartbeat cache (NOTIFY bot_state,
-- '<bot id>'), which then answers the bot's next poll from the database instead of "nothing
-- waits". Chat messages are rare; the bots' polls (every 5 s each) are not.
CREATE FUNCTION notify_bot_chat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bot_state', NEW.bot_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER bot_chat_messages_notify
    AFTER INSERT OR UPDATE OF status ON bot_chat_messages
    FOR EACH ROW WHEN (NEW.status = 'queued')
    EXECUTE FUNCTION notify_bot_chat();
