-- The durable deployment queue, the Coolify pool and outgoing webhooks.

-- One row per bot that must be deployed. Dispatchers claim rows with FOR UPDATE SKIP LOCKED.
-- platform_index/platform_wait_until track waiting on a full platform before trying the next.
CREATE TABLE deployment_queue (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id              BIGINT NOT NULL CONSTRAINT deployment_queue_bot_id_unique UNIQUE
                            REFERENCES bots (id) ON DELETE CASCADE,
    priority            INTEGER NOT NULL DEFAULT 0,
    status              TEXT NOT NULL DEFAULT 'WAITING' CHECK (status IN ('WAITING', 'PROCESSING', 'EXPIRED')),
    queued_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    timeout_at          TIMESTAMPTZ NOT NULL,
    platform_index      INTEGER NOT NULL DEFAULT 0 CHECK (platform_index >= 0),
    platform_wait_until TIMESTAMPTZ,
    next_attempt_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts            INTEGER NOT NULL DEFAULT 0,
    claimed_by          TEXT,
    claimed_at          TIMESTAMPTZ,
    last_error          TEXT
);
CREATE INDEX deployment_queue_status_idx ON deployment_queue (status);
CREATE INDEX deployment_queue_order_idx ON deployment_queue (priority DESC, queued_at);
CREATE INDEX deployment_queue_ready_idx ON deployment_queue (next_attempt_at) WHERE status = 'WAITING';

CREATE TABLE bot_pool_slots (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meeting_platform  TEXT NOT NULL CHECK (meeting_platform IN ('zoom', 'microsoft-teams', 'google-meet', 'unknown')),
    application_uuid  TEXT NOT NULL CONSTRAINT bot_pool_slots_application_uuid_unique UNIQUE,
    slot_name         TEXT NOT NULL CONSTRAINT bot_pool_slots_slot_name_unique UNIQUE,
    status            TEXT NOT NULL DEFAULT 'IDLE' CHECK (status IN ('IDLE', 'DEPLOYING', 'HEALTHY', 'ERROR')),
    assigned_bot_id   BIGINT CONSTRAINT bot_pool_slots_assigned_bot_id_unique UNIQUE
                          REFERENCES bots (id) ON DELETE SET NULL,
    token_hash        BYTEA CONSTRAINT bot_pool_slots_token_hash_unique UNIQUE,
    last_used_at      TIMESTAMPTZ,
    error_message     TEXT,
    recovery_attempts INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX bot_pool_slots_status_idx ON bot_pool_slots (meeting_platform, status);

-- Signed callbacks to a bot's callback_url, retried with back-off.
CREATE TABLE webhook_deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id           BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    url              TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          JSONB NOT NULL,
    status           TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_bot_id_idx ON webhook_deliveries (bot_id);
