DROP TABLE invitations;
ALTER TABLE sign_in_attempts DROP COLUMN kind;
ALTER TABLE sessions DROP COLUMN absolute_expires_at;
