//! The configuration rules, checked on plain variable maps.

use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vars {
    let mut all = vec![("DATABASE_URL", "postgres://u:p@127.0.0.1/db")];
    all.extend_from_slice(pairs);
    all.into_iter().collect()
}

fn errors(pairs: &[(&str, &str)]) -> ConfigErrors {
    Config::from_vars(&vars(pairs)).expect_err("should be invalid")
}

#[test]
fn development_defaults_to_the_local_platform() {
    let c = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development")])).unwrap();
    assert_eq!(c.mode, RunMode::Development);
    assert_eq!(c.platforms.len(), 1);
    assert_eq!(c.platforms[0].platform, DeploymentPlatform::Local);
    assert_eq!(c.global_queue_timeout, Duration::from_millis(600_000));
    assert_eq!(c.deployment_queue_max_concurrent, 4);
    assert_eq!(c.log_format, LogFormat::Pretty);
}

#[test]
fn production_requires_platform_priority() {
    let e = errors(&[]);
    assert!(e.mentions("PLATFORM_PRIORITY"), "{e}");
}

#[test]
fn local_is_refused_in_production_and_allowed_in_development() {
    let e = errors(&[("PLATFORM_PRIORITY", "local"), ("LOCAL_BOT_LIMIT", "5")]);
    assert!(e.to_string().contains("'local' is not allowed in production"), "{e}");
    let c = Config::from_vars(&vars(&[
        ("MEEBOTER_ENV", "development"),
        ("PLATFORM_PRIORITY", "local"),
        ("LOCAL_BOT_LIMIT", "5"),
    ]))
    .unwrap();
    assert_eq!(c.platforms[0].limit, 5);
}

#[test]
fn platforms_without_a_limit_are_skipped_but_one_must_remain() {
    let c = Config::from_vars(&vars(&[("PLATFORM_PRIORITY", "k8s,coolify"), ("K8S_BOT_LIMIT", "30")])).unwrap();
    assert_eq!(c.platforms.len(), 1);
    assert_eq!(c.platforms[0].platform, DeploymentPlatform::K8s);
    assert_eq!(c.platforms[0].queue_timeout, Duration::from_millis(60_000));
    assert_eq!(c.skipped_platforms, vec![DeploymentPlatform::Coolify]);

    let e = errors(&[("PLATFORM_PRIORITY", "k8s,aws")]);
    assert!(e.to_string().contains("K8S_BOT_LIMIT or AWS_BOT_LIMIT"), "{e}");
}

#[test]
fn priority_order_and_timeouts_are_kept() {
    let c = Config::from_vars(&vars(&[
        ("PLATFORM_PRIORITY", "k8s, aws ,coolify"),
        ("K8S_BOT_LIMIT", "30"),
        ("AWS_BOT_LIMIT", "100"),
        ("AWS_REGION", "us-east-2"),
        ("AWS_ECS_CLUSTER", "bots"),
        ("AWS_ECS_SUBNETS", "subnet-1,subnet-2"),
        ("AWS_ECS_SECURITY_GROUPS", "sg-1"),
        ("AWS_ECS_TASK_DEF_GOOGLE_MEET", "meet"),
        ("AWS_ECS_TASK_DEF_MICROSOFT_TEAMS", "teams"),
        ("AWS_ECS_TASK_DEF_ZOOM", "zoom"),
        ("COOLIFY_BOT_LIMIT", "50"),
        ("COOLIFY_API_URL", "https://coolify.example.com/api/v1"),
        ("COOLIFY_API_TOKEN", "t"),
        ("COOLIFY_PROJECT_UUID", "p"),
        ("COOLIFY_SERVER_UUID", "s"),
        ("COOLIFY_DESTINATION_UUID", "d"),
        ("AWS_QUEUE_TIMEOUT_MS", "1000"),
    ]))
    .unwrap();
    let order: Vec<_> = c.platforms.iter().map(|p| p.platform.as_str()).collect();
    assert_eq!(order, ["k8s", "aws", "coolify"]);
    assert_eq!(c.platforms[1].queue_timeout, Duration::from_millis(1000));
    assert_eq!(c.aws.subnets, ["subnet-1", "subnet-2"]);
}

#[test]
fn an_enabled_platform_names_every_missing_variable() {
    let e = errors(&[("PLATFORM_PRIORITY", "coolify"), ("COOLIFY_BOT_LIMIT", "5")]);
    for v in ["COOLIFY_API_URL", "COOLIFY_API_TOKEN", "COOLIFY_PROJECT_UUID", "COOLIFY_SERVER_UUID"] {
        assert!(e.mentions(v), "{v} missing from {e}");
    }
    // Coolify needs a destination only on a server with more than one (docs/COOLIFY.md).
    assert!(!e.mentions("COOLIFY_DESTINATION_UUID"), "{e}");
    let e = errors(&[("PLATFORM_PRIORITY", "aws"), ("AWS_BOT_LIMIT", "5")]);
    assert!(e.mentions("AWS_REGION") && e.mentions("AWS_ECS_TASK_DEF_ZOOM"), "{e}");
}

#[test]
fn bad_values_name_the_variable() {
    let e = errors(&[
        ("MEEBOTER_ENV", "development"),
        ("GLOBAL_QUEUE_TIMEOUT_MS", "ten"),
        ("DEPLOYMENT_QUEUE_MAX_CONCURRENT", "0"),
        ("K8S_BOT_CPU_REQUEST", "lots"),
        ("APP_ORIGIN_URL", "ftp://x"),
        ("PLATFORM_PRIORITY", "local,gcp,local"),
    ]);
    for v in ["GLOBAL_QUEUE_TIMEOUT_MS", "DEPLOYMENT_QUEUE_MAX_CONCURRENT", "K8S_BOT_CPU_REQUEST", "APP_ORIGIN_URL"] {
        assert!(e.mentions(v), "{v} missing from {e}");
    }
    let text = e.to_string();
    assert!(text.contains("'gcp' is not a platform"), "{text}");
    assert!(text.contains("listed twice"), "{text}");
}

#[test]
fn database_url_is_required_and_checked() {
    let e = Config::from_vars(&[("MEEBOTER_ENV", "development")].into_iter().collect()).unwrap_err();
    assert!(e.mentions("DATABASE_URL"));
    let e = errors(&[("MEEBOTER_ENV", "development"), ("DATABASE_URL", "mysql://x")]);
    assert!(e.mentions("DATABASE_URL"));
}

#[test]
fn s3_needs_all_four_variables() {
    let e = errors(&[("MEEBOTER_ENV", "development"), ("S3_ENDPOINT", "http://127.0.0.1:9000")]);
    assert!(e.mentions("S3_BUCKET_NAME") && e.mentions("S3_ACCESS_KEY") && e.mentions("S3_SECRET_KEY"));
}

#[test]
fn the_legacy_token_is_off_by_default_and_must_be_long() {
    let c = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development"), ("MILO_AUTH_TOKEN", "x")])).unwrap();
    assert!(c.legacy_bot_token.is_none());
    let e =
        errors(&[("MEEBOTER_ENV", "development"), ("LEGACY_BOT_TOKEN_ENABLED", "true"), ("MILO_AUTH_TOKEN", "short")]);
    assert!(e.mentions("MILO_AUTH_TOKEN"));
}

#[test]
fn describe_redacts_secrets() {
    let c = Config::from_vars(&vars(&[
        ("MEEBOTER_ENV", "development"),
        ("S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("S3_ACCESS_KEY", "AKIA-VISIBLE-NEVER"),
        ("S3_SECRET_KEY", "super-secret-value"),
        ("S3_BUCKET_NAME", "bots"),
    ]))
    .unwrap();
    let text = format!("{:?}", c.describe());
    assert!(!text.contains("super-secret-value") && !text.contains("AKIA-VISIBLE-NEVER"), "{text}");
    assert!(!text.contains(":p@"), "database password leaked: {text}");
    assert!(text.contains("[redacted]"));
}

#[test]
fn k8s_quantities() {
    for ok in ["500m", "1", "1.5", "2Gi", "512Mi", "1000m"] {
        assert!(platforms::is_k8s_quantity(ok), "{ok}");
    }
    for bad in ["", "m", "1.2.3", "lots", "2 Gi", "Gi"] {
        assert!(!platforms::is_k8s_quantity(bad), "{bad}");
    }
}

#[test]
fn migrate_needs_only_the_database_url() {
    // Production with no PLATFORM_PRIORITY, no URLs, no storage: the full config refuses it...
    let only_db: Vars = [("DATABASE_URL", "postgres://u:p@127.0.0.1/db")].into_iter().collect();
    assert!(Config::from_vars(&only_db).expect_err("full config").mentions("PLATFORM_PRIORITY"));
    // ...but migrating needs none of it.
    let m = MigrateConfig::from_vars(&only_db).unwrap();
    assert_eq!(m.database_url.expose_secret(), "postgres://u:p@127.0.0.1/db");
    assert_eq!(m.log_format, LogFormat::Json);
    // Broken platform settings do not stop a migration either.
    let broken: Vars =
        [("DATABASE_URL", "postgres://u:p@127.0.0.1/db"), ("PLATFORM_PRIORITY", "nonsense"), ("K8S_BOT_LIMIT", "x")]
            .into_iter()
            .collect();
    assert!(MigrateConfig::from_vars(&broken).is_ok());
    let e = MigrateConfig::from_vars(&Vars::default()).expect_err("no database");
    assert!(e.mentions("DATABASE_URL") && !e.mentions("PLATFORM_PRIORITY"), "{e}");
}

#[test]
fn sign_up_is_open_in_development_and_by_invitation_in_production() {
    let dev = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development")])).unwrap();
    assert_eq!(dev.signup_mode, SignupMode::Open);
    let prod = Config::from_vars(&vars(&[("PLATFORM_PRIORITY", "k8s"), ("K8S_BOT_LIMIT", "3")])).unwrap();
    assert_eq!(prod.mode, RunMode::Production);
    assert_eq!(prod.signup_mode, SignupMode::Invite);
    let closed = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development"), ("SIGNUP_MODE", "Closed")])).unwrap();
    assert_eq!(closed.signup_mode, SignupMode::Closed);
    let e = errors(&[("MEEBOTER_ENV", "development"), ("SIGNUP_MODE", "everyone")]);
    assert!(e.mentions("SIGNUP_MODE"), "{e}");
}

#[test]
fn auth_and_timeout_settings_are_validated_by_name() {
    let c = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development")])).unwrap();
    assert_eq!(c.session_max_lifetime, Duration::from_secs(30 * 86_400));
    assert_eq!(c.statement_timeout, Duration::from_secs(30));
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.trusted_proxy_hops, 1);
    for (k, v) in [
        ("SESSION_MAX_DAYS", "0"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "soon"),
        ("REQUEST_TIMEOUT_SECS", "0"),
        ("TRUSTED_PROXY_HOPS", "0"),
    ] {
        let e = errors(&[("MEEBOTER_ENV", "development"), (k, v)]);
        assert!(e.mentions(k), "{k}: {e}");
    }
}

#[test]
fn aws_strategy_and_credentials_are_checked_by_name() {
    let e = errors(&[
        ("MEEBOTER_ENV", "development"),
        ("AWS_ECS_CAPACITY_PROVIDERS", "FARGATE_SPOT:lots"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
    ]);
    assert!(e.mentions("AWS_ECS_CAPACITY_PROVIDERS") && e.mentions("AWS_SECRET_ACCESS_KEY"), "{e}");
    let c = Config::from_vars(&vars(&[
        ("MEEBOTER_ENV", "development"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ECS_CAPACITY_PROVIDERS", "FARGATE_SPOT:4,FARGATE:1"),
        ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-never-shown"),
    ]))
    .unwrap();
    assert_eq!(c.aws.capacity_providers.len(), 2);
    assert!(!format!("{:?}", c.describe()).contains("aws-secret-never-shown"));
    assert!(format!("{:?}", c.describe()).contains("FARGATE_SPOT:4:0,FARGATE:1:0"));
}

#[test]
fn coolify_limits_are_validated_in_docker_notation() {
    use super::platforms::{is_docker_cpus, is_docker_memory};
    assert!(is_docker_cpus("1") && is_docker_cpus("0.5") && is_docker_cpus("2.25"));
    assert!(!is_docker_cpus("0") && !is_docker_cpus("1 cpu") && !is_docker_cpus("-1") && !is_docker_cpus(""));
    assert!(is_docker_memory("2048m") && is_docker_memory("2g") && is_docker_memory("1073741824"));
    assert!(!is_docker_memory("2Gi") && !is_docker_memory("m") && !is_docker_memory("0m") && !is_docker_memory(""));
    let e = errors(&[("COOLIFY_BOT_CPUS", "two"), ("COOLIFY_BOT_MEMORY", "2Gi"), ("COOLIFY_IMAGE_TAG", "a:b")]);
    for v in ["COOLIFY_BOT_CPUS", "COOLIFY_BOT_MEMORY", "COOLIFY_IMAGE_TAG"] {
        assert!(e.mentions(v), "{v} missing from {e}");
    }
    let e = errors(&[("PLATFORM_PRIORITY", "coolify"), ("COOLIFY_BOT_LIMIT", "1000")]);
    assert!(e.mentions("COOLIFY_BOT_LIMIT"), "slot names have three digits: {e}");
}

#[test]
fn the_remove_from_call_grace_defaults_to_a_minute_and_is_validated() {
    let c = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development")])).unwrap();
    assert_eq!(c.remove_from_call_grace, Duration::from_secs(60));
    assert!(c.describe().contains(&("REMOVE_FROM_CALL_GRACE_MS".to_owned(), "60000".to_owned())));
    let c =
        Config::from_vars(&vars(&[("MEEBOTER_ENV", "development"), ("REMOVE_FROM_CALL_GRACE_MS", "5000")])).unwrap();
    assert_eq!(c.remove_from_call_grace, Duration::from_secs(5));
    for bad in ["soon", "0", "999", "3600001"] {
        let e = errors(&[("MEEBOTER_ENV", "development"), ("REMOVE_FROM_CALL_GRACE_MS", bad)]);
        assert!(e.mentions("REMOVE_FROM_CALL_GRACE_MS"), "{bad}: {e}");
        assert!(e.to_string().contains("from 1000 to 3600000"), "{e}");
    }
}

#[test]
fn a_simulated_platform_url_is_refused_in_production() {
    let e = errors(&[
        ("PLATFORM_PRIORITY", "k8s"),
        ("K8S_BOT_LIMIT", "5"),
        ("SIMULATED_PLATFORM_URL", "http://127.0.0.1:9400"),
    ]);
    assert!(e.mentions("SIMULATED_PLATFORM_URL"), "{e}");
    assert!(e.to_string().contains("not allowed in production"), "{e}");
}

#[test]
fn simulated_platforms_need_only_their_limits_and_say_so_loudly() {
    let c = Config::from_vars(&vars(&[
        ("MEEBOTER_ENV", "development"),
        ("PLATFORM_PRIORITY", "k8s,aws,coolify,local"),
        ("K8S_BOT_LIMIT", "30"),
        ("AWS_BOT_LIMIT", "50"),
        ("AWS_QUEUE_TIMEOUT_MS", "1234"),
        ("COOLIFY_BOT_LIMIT", "100"),
        ("SIMULATED_PLATFORM_URL", "http://127.0.0.1:9400"),
    ]))
    .expect("no AWS_* or COOLIFY_* connection settings needed");
    assert_eq!(c.platforms.len(), 4);
    assert_eq!(c.platforms[1].queue_timeout, Duration::from_millis(1234));
    let simulated: Vec<DeploymentPlatform> = c.simulated_platforms().into_iter().map(|(p, _)| p).collect();
    assert_eq!(simulated, [DeploymentPlatform::K8s, DeploymentPlatform::Aws, DeploymentPlatform::Coolify]);
    let row = c.describe().into_iter().find(|(k, _)| k == "SIMULATED_PLATFORM_URL").expect("described").1;
    assert!(row.contains("SIMULATED: k8s,aws,coolify") && row.contains("127.0.0.1:9400"), "{row}");

    let e = errors(&[
        ("MEEBOTER_ENV", "development"),
        ("PLATFORM_PRIORITY", "aws"),
        ("AWS_BOT_LIMIT", "5"),
        ("SIMULATED_PLATFORM_URL", "ftp://fleet"),
    ]);
    assert!(e.mentions("SIMULATED_PLATFORM_URL"), "{e}");
    let plain = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development")])).unwrap();
    assert!(plain.simulated_platforms().is_empty());
}

#[test]
fn live_stream_settings_have_defaults_and_are_validated_by_name() {
    let c = Config::from_vars(&vars(&[("MEEBOTER_ENV", "development")])).unwrap();
    assert_eq!(c.live.streams_per_user, 10);
    assert_eq!(c.live.event_buffer, 1024);
    assert_eq!(c.live.session_recheck, Duration::from_secs(60));
    for (k, v) in [("LIVE_STREAMS_PER_USER", "0"), ("LIVE_EVENT_BUFFER", "lots"), ("LIVE_SESSION_RECHECK_SECS", "0")] {
        let e = errors(&[("MEEBOTER_ENV", "development"), (k, v)]);
        assert!(e.mentions(k), "{k}: {e}");
    }
}
