DROP INDEX bots_unstopped_idx;
DROP INDEX bots_platform_active_idx;
CREATE INDEX bots_platform_active_idx ON bots (deployment_platform)
    WHERE status IN ('DEPLOYING', 'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING');
ALTER TABLE bots DROP COLUMN resource_stopped_at;
ALTER TABLE bots DROP COLUMN status_changed_at;
