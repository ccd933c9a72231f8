DROP TABLE deploy_attempts;
DROP TABLE platform_health;
DROP INDEX bots_finished_runs_idx;
ALTER TABLE bots DROP COLUMN deploying_at;
DROP INDEX deployment_queue_timeout_idx;
ALTER TABLE deployment_queue DROP COLUMN platform_since;
ALTER TABLE deployment_queue DROP COLUMN rejected_by;
ALTER TABLE deployment_queue DROP COLUMN placing_on;
UPDATE deployment_queue SET status = 'PROCESSING' WHERE status = 'PLACING';
ALTER TABLE deployment_queue DROP CONSTRAINT deployment_queue_status_check;
ALTER TABLE deployment_queue ADD CONSTRAINT deployment_queue_status_check
    CHECK (status IN ('WAITING', 'PROCESSING', 'EXPIRED'));
