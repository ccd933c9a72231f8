DROP TABLE bot_chat_messages;
DROP TABLE message_templates;
