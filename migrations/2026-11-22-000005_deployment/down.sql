DROP TABLE webhook_deliveries;
DROP TABLE bot_pool_slots;
DROP TABLE deployment_queue;
