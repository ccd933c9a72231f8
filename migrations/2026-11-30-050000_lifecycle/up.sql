-- The lifecycle module (app/src/backend/lifecycle.rs) is the one writer of bots.status.
-- status_changed_at: when the bot entered its current status (timeouts measure from it, not from
--   updated_at, which any edit moves).
-- resource_stopped_at: when the platform confirmed that a finished bot's resource is gone
--   (the reconciler stops each finished bot's own resource until then).
-- CALL_ENDED holds its resource and capacity until DONE/FATAL: it joins the active index.
ALTER TABLE bots ADD COLUMN status_changed_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE bots ADD COLUMN resource_stopped_at TIMESTAMPTZ;
UPDATE bots SET status_changed_at = updated_at;
UPDATE bots SET resource_stopped_at = updated_at WHERE status IN ('DONE', 'FATAL');

DROP INDEX bots_platform_active_idx;
CREATE INDEX bots_platform_active_idx ON bots (deployment_platform)
    WHERE status IN ('DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING', 'CALL_ENDED');
CREATE INDEX bots_unstopped_idx ON bots (status_changed_at)
    WHERE status IN ('DONE', 'FATAL') AND platform_identifier IS NOT NULL AND resource_stopped_at IS NULL;
