-- Recordings (docs/RECORDINGS.md): when a bot reported its recording (retention counts from
-- it), and when retention deleted it (the table then says "Deleted" instead of "Off").
ALTER TABLE bots
    ADD COLUMN recording_at TIMESTAMPTZ,
    ADD COLUMN recording_deleted_at TIMESTAMPTZ;
UPDATE bots SET recording_at = updated_at WHERE recording IS NOT NULL;
-- The retention worker's scan: the oldest recordings first.
CREATE INDEX bots_recording_at_idx ON bots (recording_at) WHERE recording IS NOT NULL;

-- Keys Meeboter signs its own links with (the local store's recording links), shared by every
-- replica: made once, at random, by the first process that needs one.
CREATE TABLE signing_keys (
    name       TEXT PRIMARY KEY,
    secret     BYTEA NOT NULL CHECK (length(secret) >= 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
