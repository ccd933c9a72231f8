-- Webhooks (docs/WEBHOOKS.md): the endpoints a user registers, plus one row per user for the
-- bots' own callback URLs, and the durable outbox of deliveries. The first webhook_deliveries
-- table never had a writer: it is replaced.
DROP TABLE webhook_deliveries;

CREATE TABLE webhook_endpoints (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'endpoint': an account-level URL; 'callback': each bot's own callback_url (url is NULL).
    kind                 TEXT NOT NULL CHECK (kind IN ('endpoint', 'callback')),
    url                  TEXT CHECK ((kind = 'endpoint') = (url IS NOT NULL) AND char_length(url) <= 2048),
    description          TEXT NOT NULL DEFAULT '' CHECK (char_length(description) <= 200),
    -- Standard Webhooks signing secret (whsec_<base64>): the server signs with it, so it is
    -- kept, but it is shown to its owner only once, when created or rotated.
    secret               TEXT NOT NULL,
    enabled              BOOLEAN NOT NULL DEFAULT true,
    disabled_at          TIMESTAMPTZ,
    disabled_reason      TEXT,
    -- The current run of failed attempts (reset by a success): an endpoint failing long enough
    -- is disabled, with a notice on the Webhooks page.
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    failing_since        TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at           TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_user_id_idx ON webhook_endpoints (user_id);
CREATE UNIQUE INDEX webhook_endpoints_one_callback_idx ON webhook_endpoints (user_id) WHERE kind = 'callback';

-- One row per event and destination. bot_id has no foreign key: a deleted bot's last events
-- are still delivered. body is the exact JSON signed and sent on every attempt.
CREATE TABLE webhook_deliveries (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id      BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    bot_id           BIGINT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    url              TEXT NOT NULL,
    body             TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'DELIVERED', 'FAILED')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- When the next attempt is due; while an attempt runs, when its claim lapses (a replica
    -- that dies mid-delivery leaves the row to be tried again by another).
    next_attempt_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at  TIMESTAMPTZ,
    last_status_code INTEGER,
    last_error       TEXT,
    last_response    TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at     TIMESTAMPTZ
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'PENDING';
-- In order per bot: an attempt waits for every earlier pending delivery of the same bot to the
-- same endpoint.
CREATE INDEX webhook_deliveries_chain_idx ON webhook_deliveries (endpoint_id, bot_id, id) WHERE status = 'PENDING';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (endpoint_id, id DESC);
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (created_at) WHERE status <> 'PENDING';


-- Bots created before this migration with a callback_url: their owners get the row that signs
-- callbacks (a new random secret; the Webhooks page rotates it to show one).
INSERT INTO webhook_endpoints (user_id, kind, secret)
SELECT DISTINCT user_id, 'callback',
       'whsec_' || encode(decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'), 'base64')
FROM bots WHERE callback_url IS NOT NULL;
