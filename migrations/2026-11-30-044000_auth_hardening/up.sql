-- Sign-up and password-change attempts are rate limited like sign-ins; invitations let the
-- administrator admit new accounts when SIGNUP_MODE=invite.

ALTER TABLE sign_in_attempts
    ADD COLUMN kind TEXT NOT NULL DEFAULT 'sign_in'
        CONSTRAINT sign_in_attempts_kind_check CHECK (kind IN ('sign_in', 'sign_up', 'password_change'));

-- A session ends at its absolute expiry however active it is (SESSION_MAX_DAYS); expires_at
-- slides with use but never past it. The default covers rows written by older code.
ALTER TABLE sessions ADD COLUMN absolute_expires_at TIMESTAMPTZ NOT NULL DEFAULT now() + interval '30 days';
UPDATE sessions SET absolute_expires_at = created_at + interval '30 days';

-- An invitation code is shown once; only its SHA-256 is stored. Single use, expiring, revocable.
CREATE TABLE invitations (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_hash  BYTEA NOT NULL CONSTRAINT invitations_code_hash_unique UNIQUE,
    created_by BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    used_by    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    revoked_at TIMESTAMPTZ,
    CHECK (expires_at > created_at)
);
CREATE INDEX invitations_created_at_idx ON invitations (created_at DESC);
