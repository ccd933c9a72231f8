DROP TRIGGER events_live_inserted ON events;
DROP FUNCTION notify_bot_events();
DROP TRIGGER bots_live_updated ON bots;
DROP TRIGGER bots_live_deleted ON bots;
DROP TRIGGER bots_live_inserted ON bots;
DROP FUNCTION notify_bot_change();
