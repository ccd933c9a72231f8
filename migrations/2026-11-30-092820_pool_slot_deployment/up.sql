-- The Coolify pool: the deployment a slot's last start made (the pool worker follows it to
-- HEALTHY or ERROR, and the image pull lock asks it whether the image is pulled), and when the
-- slot entered its current status (a DEPLOYING slot stuck for 15 minutes is recovered).
ALTER TABLE bot_pool_slots ADD COLUMN deployment_uuid TEXT;
ALTER TABLE bot_pool_slots ADD COLUMN status_changed_at TIMESTAMPTZ NOT NULL DEFAULT now();
