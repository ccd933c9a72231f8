DROP TABLE api_request_logs;
DROP TABLE api_keys;
