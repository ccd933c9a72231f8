-- The hybrid deployer (docs/ARCHITECTURE.md, "The hybrid deployer").
--
-- A queue row now lives until its bot is placed: PLACING while a replica's platform call is in
-- flight (placing_on names the platform; claimed_at is a lease the replica renews, so a crashed
-- replica's placement is found within seconds); a placement that succeeds deletes the row in
-- the transaction that stores the platform's identifier. rejected_by lists the platforms that refused
-- this bot for its own reasons (a bad image for its meeting platform): it is not tried there
-- again.
ALTER TABLE deployment_queue DROP CONSTRAINT deployment_queue_status_check;
ALTER TABLE deployment_queue ADD CONSTRAINT deployment_queue_status_check
    CHECK (status IN ('WAITING', 'PROCESSING', 'PLACING', 'EXPIRED'));
ALTER TABLE deployment_queue ADD COLUMN placing_on TEXT;
ALTER TABLE deployment_queue ADD COLUMN rejected_by TEXT[] NOT NULL DEFAULT '{}';
-- When the bot reached the platform at platform_index: its wait on a full platform runs from
-- here, whether or not a dispatcher looked at it meanwhile.
ALTER TABLE deployment_queue ADD COLUMN platform_since TIMESTAMPTZ NOT NULL DEFAULT now();
UPDATE deployment_queue SET platform_since = queued_at;
CREATE INDEX deployment_queue_timeout_idx ON deployment_queue (timeout_at) WHERE status = 'WAITING';

-- When the bot was last placed on a platform (its run time and deploy latency are measured from
-- here; queue estimates use them).
ALTER TABLE bots ADD COLUMN deploying_at TIMESTAMPTZ;

-- Each platform's health as every replica's deploys found it: a failing platform is skipped
-- until retry_at, then probed; a successful probe or deploy makes it healthy again. A platform
-- that asked us to slow down is not called before throttled_until; one that answered it is full
-- (a quota) is not tried before full_until.
CREATE TABLE platform_health (
    platform        TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL DEFAULT 0,
    unhealthy_since TIMESTAMPTZ,
    retry_at        TIMESTAMPTZ,
    reason          TEXT,
    throttles       INTEGER NOT NULL DEFAULT 0,
    throttled_until TIMESTAMPTZ,
    full_until      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One row per platform deploy call: what the queue estimates, the infrastructure page's deploy
-- latency and its activity chart are computed from.
CREATE TABLE deploy_attempts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bot_id      BIGINT NOT NULL,
    platform    TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('deployed', 'failed', 'throttled', 'capacity', 'rejected', 'conflict')),
    error_kind  TEXT
);
CREATE INDEX deploy_attempts_started_idx ON deploy_attempts (started_at);
CREATE INDEX deploy_attempts_platform_idx ON deploy_attempts (platform, started_at);
-- The median run of recent bots (queue estimates).
CREATE INDEX bots_finished_runs_idx ON bots (status_changed_at DESC)
    WHERE status IN ('DONE', 'FATAL') AND deploying_at IS NOT NULL;
