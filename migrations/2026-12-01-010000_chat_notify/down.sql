DROP TRIGGER bot_chat_messages_notify ON bot_chat_messages;
DROP FUNCTION notify_bot_chat();
