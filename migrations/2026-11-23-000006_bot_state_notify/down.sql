DROP TRIGGER bots_deleted ON bots;
DROP TRIGGER bots_state_changed ON bots;
DROP FUNCTION notify_bot_state();
