ALTER TABLE bot_pool_slots DROP COLUMN status_changed_at;
ALTER TABLE bot_pool_slots DROP COLUMN deployment_uuid;
