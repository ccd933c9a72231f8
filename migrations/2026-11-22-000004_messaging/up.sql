-- Chat message templates and the per-bot outgoing chat queue.
CREATE TABLE message_templates (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    template_name TEXT NOT NULL CHECK (char_length(template_name) BETWEEN 1 AND 255),
    messages      JSONB NOT NULL CHECK (jsonb_typeof(messages) = 'array' AND jsonb_array_length(messages) >= 1),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX message_templates_user_id_idx ON message_templates (user_id, created_at DESC);

CREATE TABLE bot_chat_messages (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id       BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_text TEXT NOT NULL CHECK (char_length(message_text) BETWEEN 1 AND 1000),
    template_id  BIGINT REFERENCES message_templates (id) ON DELETE SET NULL,
    sent_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    status       TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    delivered_at TIMESTAMPTZ,
    error        TEXT
);
-- Dequeue: the oldest queued message of a bot.
CREATE INDEX bot_chat_messages_queue_idx ON bot_chat_messages (bot_id, sent_at) WHERE status = 'queued';
CREATE INDEX bot_chat_messages_bot_id_idx ON bot_chat_messages (bot_id, sent_at);
CREATE INDEX bot_chat_messages_user_id_idx ON bot_chat_messages (user_id);
CREATE INDEX bot_chat_messages_template_id_idx ON bot_chat_messages (template_id);
