-- People, their sessions, sign-in attempts (for rate limiting) and their plans.
-- Enumerations are text columns with CHECK constraints (see docs/DATABASE.md).

CREATE TABLE users (
    id                     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                   TEXT NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    email                  TEXT NOT NULL CHECK (email = lower(email) AND char_length(email) <= 254),
    password_hash          TEXT NOT NULL,
    role                   TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('admin', 'user')),
    custom_daily_bot_limit INTEGER CHECK (custom_daily_bot_limit >= 0),
    time_zone              TEXT NOT NULL DEFAULT 'UTC',
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_email_unique UNIQUE (email)
);

-- A session cookie holds a random token; only its SHA-256 is stored.
CREATE TABLE sessions (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   BYTEA NOT NULL CONSTRAINT sessions_token_hash_unique UNIQUE,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ip_address   TEXT,
    user_agent   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

-- Every sign-in attempt, so limits hold across replicas. Old rows are pruned.
CREATE TABLE sign_in_attempts (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email      TEXT NOT NULL,
    ip_address TEXT NOT NULL,
    succeeded  BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX sign_in_attempts_email_idx ON sign_in_attempts (email, created_at);
CREATE INDEX sign_in_attempts_ip_idx ON sign_in_attempts (ip_address, created_at);

-- A user without an active subscription row is on the FREE plan.
CREATE TABLE subscriptions (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    plan       TEXT NOT NULL CHECK (plan IN ('FREE', 'PRO', 'PAY_AS_YOU_GO', 'CUSTOM')),
    is_active  BOOLEAN NOT NULL DEFAULT TRUE,
    start_date TIMESTAMPTZ NOT NULL DEFAULT now(),
    end_date   TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (end_date IS NULL OR end_date > start_date)
);
CREATE INDEX subscriptions_user_active_idx ON subscriptions (user_id, is_active, created_at DESC);
