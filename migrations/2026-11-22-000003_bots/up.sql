-- Bots, their events and their logs. Deleting a bot deletes its events and logs.
CREATE TABLE bots (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display_name        TEXT NOT NULL DEFAULT 'Meeboter' CHECK (char_length(display_name) BETWEEN 1 AND 255),
    image_url           TEXT,
    meeting             JSONB NOT NULL CHECK (jsonb_typeof(meeting) = 'object'),
    meeting_platform    TEXT NOT NULL CHECK (meeting_platform IN ('zoom', 'microsoft-teams', 'google-meet')),
    automatic_leave     JSONB NOT NULL CHECK (jsonb_typeof(automatic_leave) = 'object'),
    start_time          TIMESTAMPTZ NOT NULL,
    end_time            TIMESTAMPTZ NOT NULL,
    recording           TEXT,
    recording_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    speaker_timeframes  JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(speaker_timeframes) = 'array'),
    status              TEXT NOT NULL DEFAULT 'QUEUED' CHECK (status IN (
                            'SCHEDULED', 'QUEUED', 'DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM',
                            'IN_CALL', 'LEAVING', 'CALL_ENDED', 'DONE', 'FATAL')),
    last_heartbeat      TIMESTAMPTZ,
    callback_url        TEXT CHECK (callback_url IS NULL OR callback_url ~ '^https?://'),
    screenshots         JSONB NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(screenshots) = 'array'),
    log_level           TEXT NOT NULL DEFAULT 'TRACE' CHECK (log_level IN ('TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL')),
    deployment_platform TEXT CHECK (deployment_platform IN ('k8s', 'aws', 'coolify', 'local')),
    platform_identifier TEXT,
    token_hash          BYTEA CONSTRAINT bots_token_hash_unique UNIQUE,
    queue_timeout_ms    INTEGER CHECK (queue_timeout_ms BETWEEN 0 AND 600000),
    idempotency_key     TEXT CHECK (char_length(idempotency_key) <= 255),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (end_time >= start_time),
    CONSTRAINT bots_user_idempotency_unique UNIQUE (user_id, idempotency_key)
);
CREATE INDEX bots_user_id_idx ON bots (user_id);
CREATE INDEX bots_status_idx ON bots (status);
CREATE INDEX bots_start_time_idx ON bots (start_time);
CREATE INDEX bots_end_time_idx ON bots (end_time);
CREATE INDEX bots_last_heartbeat_idx ON bots (last_heartbeat);
CREATE INDEX bots_user_status_idx ON bots (user_id, status);
CREATE INDEX bots_user_created_idx ON bots (user_id, created_at DESC, id DESC);
CREATE INDEX bots_created_at_idx ON bots (created_at);
CREATE INDEX bots_deployment_platform_idx ON bots (deployment_platform);
-- Capacity: active bots per platform (DEPLOYING through LEAVING).
CREATE INDEX bots_platform_active_idx ON bots (deployment_platform)
    WHERE status IN ('DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING');
-- Scheduler: bots waiting for their start time.
CREATE INDEX bots_scheduled_start_idx ON bots (start_time) WHERE status = 'SCHEDULED';
-- Daily usage: bots of a user by start time.
CREATE INDEX bots_user_start_idx ON bots (user_id, start_time);

CREATE TABLE events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id     BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    event_type TEXT NOT NULL CHECK (event_type IN (
                   'SCHEDULED', 'QUEUED', 'DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL',
                   'LEAVING', 'CALL_ENDED', 'DONE', 'FATAL',
                   'PARTICIPANT_JOIN', 'PARTICIPANT_LEAVE', 'LOG', 'USER_REMOVED_FROM_CALL',
                   'USER_CANCELLED_DEPLOYMENT', 'SIGN_IN_REQUIRED', 'CAPTCHA_DETECTED',
                   'MEETING_NOT_FOUND', 'MEETING_ENDED', 'PERMISSION_DENIED', 'JOIN_BLOCKED',
                   'RESTARTING', 'HEARTBEAT_TIMEOUT', 'DEPLOYMENT_FAILED')),
    event_time TIMESTAMPTZ NOT NULL,
    data       JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_bot_time_idx ON events (bot_id, event_time DESC);
CREATE INDEX events_event_time_idx ON events (event_time);
CREATE INDEX events_event_type_idx ON events (event_type);
CREATE INDEX events_created_at_idx ON events (created_at);

-- Recent log lines of each bot; archived to object storage when the bot ends.
CREATE TABLE bot_logs (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id    BIGINT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    entry_id  TEXT NOT NULL,
    logged_at TIMESTAMPTZ NOT NULL,
    level     TEXT NOT NULL CHECK (level IN ('TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL')),
    message   TEXT NOT NULL,
    state     TEXT,
    location  TEXT,
    context   JSONB,
    elapsed   TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX bot_logs_bot_id_idx ON bot_logs (bot_id, id);
