DROP TABLE signing_keys;
DROP INDEX bots_recording_at_idx;
ALTER TABLE bots DROP COLUMN recording_deleted_at, DROP COLUMN recording_at;
