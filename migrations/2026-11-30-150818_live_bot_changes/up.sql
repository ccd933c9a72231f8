-- Live updates (docs/ARCHITECTURE.md, "Live updates"): every change a page shows of a bot is
-- announced on the channel `bot_changes`, in the transaction that makes it, so every replica's
-- live hub hears changes made by any replica. The payload is small JSON with ids and the status
-- only: {"bot": id, "user": owner id, "status": "...", "kind": "created|deleted|status|updated|event",
-- "queue": whether the bot entered or left the queue (other queued bots' positions moved)}.
--
-- A trigger rather than code in the lifecycle module: creation, deletion, renames and platform
-- identifiers are written outside it, and a trigger cannot be forgotten by a new writer. Only
-- the columns pages show fire it (never last_heartbeat, which is written in batches all the time).
CREATE FUNCTION notify_bot_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    r RECORD;
    kind TEXT;
    queue BOOLEAN;
BEGIN
    IF TG_OP = 'INSERT' THEN
        r := NEW; kind := 'created'; queue := NEW.status = 'QUEUED';
    ELSIF TG_OP = 'DELETE' THEN
        r := OLD; kind := 'deleted'; queue := OLD.status = 'QUEUED';
    ELSE
        r := NEW;
        kind := CASE WHEN OLD.status IS DISTINCT FROM NEW.status THEN 'status' ELSE 'updated' END;
        queue := (OLD.status = 'QUEUED') <> (NEW.status = 'QUEUED');
    END IF;
    PERFORM pg_notify('bot_changes', json_build_object(
        'bot', r.id, 'user', r.user_id, 'status', r.status, 'kind', kind, 'queue', queue)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER bots_live_inserted
    AFTER INSERT ON bots
    FOR EACH ROW
    EXECUTE FUNCTION notify_bot_change();

CREATE TRIGGER bots_live_deleted
    AFTER DELETE ON bots
    FOR EACH ROW
    EXECUTE FUNCTION notify_bot_change();

CREATE TRIGGER bots_live_updated
    AFTER UPDATE OF status, display_name, meeting, meeting_platform, deployment_platform,
        platform_identifier, log_level, end_time, recording, screenshots ON bots
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.display_name IS DISTINCT FROM NEW.display_name
          OR OLD.meeting IS DISTINCT FROM NEW.meeting
          OR OLD.meeting_platform IS DISTINCT FROM NEW.meeting_platform
          OR OLD.deployment_platform IS DISTINCT FROM NEW.deployment_platform
          OR OLD.platform_identifier IS DISTINCT FROM NEW.platform_identifier
          OR OLD.log_level IS DISTINCT FROM NEW.log_level
          OR OLD.end_time IS DISTINCT FROM NEW.end_time
          OR OLD.recording IS DISTINCT FROM NEW.recording
          OR OLD.screenshots IS DISTINCT FROM NEW.screenshots)
    EXECUTE FUNCTION notify_bot_change();

-- A bot's events (the details dialog lists them): one notification per bot and statement. The
-- status events the lifecycle writes with each status change are left out: the change of
-- `bots.status` in the same transaction already announces them.
CREATE FUNCTION notify_bot_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bot_changes', json_build_object(
        'bot', b.id, 'user', b.user_id, 'status', b.status, 'kind', 'event', 'queue', false)::text)
    FROM bots b WHERE b.id IN (
        SELECT DISTINCT bot_id FROM new_events
        WHERE event_type NOT IN ('SCHEDULED', 'QUEUED', 'DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM',
                                 'IN_CALL', 'LEAVING', 'CALL_ENDED', 'DONE', 'FATAL'));
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_live_inserted
    AFTER INSERT ON events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT
    EXECUTE FUNCTION notify_bot_events();
