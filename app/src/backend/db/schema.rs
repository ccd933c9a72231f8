//! Diesel table definitions, matching `migrations/` (checked by the schema test in
//! `server/tests/it/schema.rs`, which compares every column with `information_schema`).

diesel::table! {
    users (id) {
        id -> Int8,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        custom_daily_bot_limit -> Nullable<Int4>,
        time_zone -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    sessions (id) {
        id -> Int8,
        token_hash -> Bytea,
        user_id -> Int8,
        ip_address -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        absolute_expires_at -> Timestamptz,
    }
}

diesel::table! {
    sign_in_attempts (id) {
        id -> Int8,
        email -> Text,
        ip_address -> Text,
        succeeded -> Bool,
        created_at -> Timestamptz,
        kind -> Text,
    }
}

diesel::table! {
    invitations (id) {
        id -> Int8,
        code_hash -> Bytea,
        created_by -> Int8,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        used_by -> Nullable<Int8>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    subscriptions (id) {
        id -> Int8,
        user_id -> Int8,
        plan -> Text,
        is_active -> Bool,
        start_date -> Timestamptz,
        end_date -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Int8,
        user_id -> Int8,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        last_used_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_request_logs (id) {
        id -> Int8,
        api_key_id -> Int8,
        user_id -> Int8,
        method -> Text,
        path -> Text,
        status_code -> Int4,
        duration_ms -> Int4,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    bots (id) {
        id -> Int8,
        user_id -> Int8,
        display_name -> Text,
        image_url -> Nullable<Text>,
        meeting -> Jsonb,
        meeting_platform -> Text,
        automatic_leave -> Jsonb,
        start_time -> Timestamptz,
        end_time -> Timestamptz,
        recording -> Nullable<Text>,
        recording_enabled -> Bool,
        speaker_timeframes -> Jsonb,
        status -> Text,
        last_heartbeat -> Nullable<Timestamptz>,
        callback_url -> Nullable<Text>,
        screenshots -> Jsonb,
        log_level -> Text,
        deployment_platform -> Nullable<Text>,
        platform_identifier -> Nullable<Text>,
        token_hash -> Nullable<Bytea>,
        queue_timeout_ms -> Nullable<Int4>,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        status_changed_at -> Timestamptz,
        resource_stopped_at -> Nullable<Timestamptz>,
        deploying_at -> Nullable<Timestamptz>,
        recording_at -> Nullable<Timestamptz>,
        recording_deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    events (id) {
        id -> Int8,
        bot_id -> Int8,
        event_type -> Text,
        event_time -> Timestamptz,
        data -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    bot_logs (id) {
        id -> Int8,
        bot_id -> Int8,
        entry_id -> Text,
        logged_at -> Timestamptz,
        level -> Text,
        message -> Text,
        state -> Nullable<Text>,
        location -> Nullable<Text>,
        context -> Nullable<Jsonb>,
        elapsed -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    message_templates (id) {
        id -> Int8,
        user_id -> Int8,
        template_name -> Text,
        messages -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bot_chat_messages (id) {
        id -> Int8,
        bot_id -> Int8,
        user_id -> Int8,
        message_text -> Text,
        template_id -> Nullable<Int8>,
        sent_at -> Timestamptz,
        status -> Text,
        delivered_at -> Nullable<Timestamptz>,
        error -> Nullable<Text>,
    }
}

diesel::table! {
    deployment_queue (id) {
        id -> Int8,
        bot_id -> Int8,
        priority -> Int4,
        status -> Text,
        queued_at -> Timestamptz,
        timeout_at -> Timestamptz,
        platform_index -> Int4,
        platform_wait_until -> Nullable<Timestamptz>,
        next_attempt_at -> Timestamptz,
        attempts -> Int4,
        claimed_by -> Nullable<Text>,
        claimed_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        placing_on -> Nullable<Text>,
        rejected_by -> Array<Text>,
        platform_since -> Timestamptz,
    }
}

diesel::table! {
    platform_health (platform) {
        platform -> Text,
        failures -> Int4,
        unhealthy_since -> Nullable<Timestamptz>,
        retry_at -> Nullable<Timestamptz>,
        reason -> Nullable<Text>,
        throttles -> Int4,
        throttled_until -> Nullable<Timestamptz>,
        full_until -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    deploy_attempts (id) {
        id -> Int8,
        bot_id -> Int8,
        platform -> Text,
        started_at -> Timestamptz,
        duration_ms -> Int4,
        outcome -> Text,
        error_kind -> Nullable<Text>,
    }
}

diesel::table! {
    bot_pool_slots (id) {
        id -> Int8,
        meeting_platform -> Text,
        application_uuid -> Text,
        slot_name -> Text,
        status -> Text,
        assigned_bot_id -> Nullable<Int8>,
        token_hash -> Nullable<Bytea>,
        last_used_at -> Nullable<Timestamptz>,
        error_message -> Nullable<Text>,
        recovery_attempts -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deployment_uuid -> Nullable<Text>,
        status_changed_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Int8,
        user_id -> Int8,
        kind -> Text,
        url -> Nullable<Text>,
        description -> Text,
        secret -> Text,
        enabled -> Bool,
        disabled_at -> Nullable<Timestamptz>,
        disabled_reason -> Nullable<Text>,
        consecutive_failures -> Int4,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Int8,
        endpoint_id -> Int8,
        bot_id -> Int8,
        event_id -> Text,
        event_type -> Text,
        url -> Text,
        body -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        last_response -> Nullable<Text>,
        created_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    daily_bot_counts (user_id, day) {
        user_id -> Int8,
        day -> Date,
        created -> Int4,
    }
}

diesel::table! {
    image_pulls (image) {
        image -> Text,
        job_name -> Text,
        started_at -> Timestamptz,
        pulled_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(subscriptions -> users (user_id));
diesel::joinable!(api_keys -> users (user_id));
diesel::joinable!(api_request_logs -> api_keys (api_key_id));
diesel::joinable!(bots -> users (user_id));
diesel::joinable!(events -> bots (bot_id));
diesel::joinable!(bot_logs -> bots (bot_id));
diesel::joinable!(message_templates -> users (user_id));
diesel::joinable!(bot_chat_messages -> bots (bot_id));
diesel::joinable!(bot_chat_messages -> message_templates (template_id));
diesel::joinable!(deployment_queue -> bots (bot_id));
diesel::joinable!(bot_pool_slots -> bots (assigned_bot_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_endpoints -> users (user_id));
diesel::joinable!(daily_bot_counts -> users (user_id));

diesel::table! {
    signing_keys (name) {
        name -> Text,
        secret -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    sign_in_attempts,
    invitations,
    subscriptions,
    api_keys,
    api_request_logs,
    bots,
    events,
    bot_logs,
    message_templates,
    bot_chat_messages,
    deployment_queue,
    bot_pool_slots,
    webhook_deliveries,
    webhook_endpoints,
    daily_bot_counts,
    image_pulls,
    platform_health,
    deploy_attempts,
    signing_keys,
);
