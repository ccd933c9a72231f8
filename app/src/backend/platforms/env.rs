//! The environment every bot starts with, whatever runs it (the contract of the bot images,
//! docs/BOT_API.md): who it is, where Meeboter is, its token, and where recordings go. Values
//! that are secrets are kept apart, so a platform can put them where secrets belong (a
//! Kubernetes Secret, never the Job spec).

use secrecy::ExposeSecret;

use super::BotLaunch;
use crate::backend::config::S3Config;

/// A bot's environment, split into plain values and secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotEnvironment {
    pub plain: Vec<(&'static str, String)>,
    pub secret: Vec<(&'static str, String)>,
}

impl BotEnvironment {
    /// Every variable, plain first.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.plain.iter().chain(&self.secret).map(|(k, v)| (*k, v.as_str()))
    }
}

/// The environment of `bot`: `BOT_ID`, `MILO_URL`, `DOCKER_MEETING_PLATFORM`, `NODE_ENV`, where
/// the recording goes (the `S3_*` settings when S3 is configured, otherwise
/// `RECORDING_UPLOAD_URL`, the bot API's upload route), and the secrets `MILO_AUTH_TOKEN`,
/// `S3_ACCESS_KEY`, `S3_SECRET_KEY`.
pub fn bot_environment(bot: &BotLaunch, s3: Option<&S3Config>) -> BotEnvironment {
    let mut plain = vec![
        ("BOT_ID", bot.bot_id.to_string()),
        ("MILO_URL", bot.milo_url.clone()),
        ("DOCKER_MEETING_PLATFORM", bot.meeting_platform.as_str().to_owned()),
        ("NODE_ENV", "production".to_owned()),
    ];
    let mut secret = vec![("MILO_AUTH_TOKEN", bot.token.clone())];
    if let Some(s3) = s3 {
        plain.extend([
            ("S3_ENDPOINT", s3.endpoint.as_str().trim_end_matches('/').to_owned()),
            ("S3_BUCKET_NAME", s3.bucket.clone()),
            ("S3_REGION", s3.region.clone()),
        ]);
        secret.extend([
            ("S3_ACCESS_KEY", s3.access_key.expose_secret().to_owned()),
            ("S3_SECRET_KEY", s3.secret_key.expose_secret().to_owned()),
        ]);
    } else {
        let base = bot.milo_url.trim_end_matches('/');
        plain.push(("RECORDING_UPLOAD_URL", format!("{base}/api/v1/bot/{}/recording", bot.bot_id)));
    }
    BotEnvironment { plain, secret }
}

/// The environment of a Coolify pool slot running `bot`: the same as [`bot_environment`], but
/// the slot is named by `POOL_SLOT_UUID` instead of `BOT_ID` (the bot asks the slot route which
/// bot it runs), and `MILO_AUTH_TOKEN` is the slot's own token, not the bot's.
pub fn slot_environment(bot: &BotLaunch, slot_uuid: &str, slot_token: &str, s3: Option<&S3Config>) -> BotEnvironment {
    let mut env = bot_environment(bot, s3);
    for (k, v) in env.plain.iter_mut() {
        if *k == "BOT_ID" {
            *k = "POOL_SLOT_UUID";
            *v = slot_uuid.to_owned();
        }
    }
    for (k, v) in env.secret.iter_mut() {
        if *k == "MILO_AUTH_TOKEN" {
            *v = slot_token.to_owned();
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::model::bot::MeetingPlatform;

    fn bot() -> BotLaunch {
        BotLaunch {
            bot_id: 42,
            meeting_platform: MeetingPlatform::Zoom,
            token: "mbt_secret".into(),
            milo_url: "https://meeboter.example.com".into(),
        }
    }

    fn keys(v: &[(&'static str, String)]) -> Vec<&'static str> {
        v.iter().map(|(k, _)| *k).collect()
    }

    #[test]
    fn without_s3_the_token_is_the_only_secret() {
        let env = bot_environment(&bot(), None);
        assert_eq!(
            keys(&env.plain),
            ["BOT_ID", "MILO_URL", "DOCKER_MEETING_PLATFORM", "NODE_ENV", "RECORDING_UPLOAD_URL"]
        );
        assert_eq!(env.secret, [("MILO_AUTH_TOKEN", "mbt_secret".to_owned())]);
        assert!(env
            .all()
            .any(|(k, v)| k == "RECORDING_UPLOAD_URL" && v == "https://meeboter.example.com/api/v1/bot/42/recording"));
        assert!(env.all().any(|(k, v)| k == "DOCKER_MEETING_PLATFORM" && v == "zoom"));
        assert!(env.all().any(|(k, v)| k == "BOT_ID" && v == "42"));
    }

    #[test]
    fn a_slot_is_named_by_its_uuid_and_carries_the_slot_token() {
        let env = slot_environment(&bot(), "app-uuid-1", "mbt_slot", None);
        assert_eq!(
            keys(&env.plain),
            ["POOL_SLOT_UUID", "MILO_URL", "DOCKER_MEETING_PLATFORM", "NODE_ENV", "RECORDING_UPLOAD_URL"]
        );
        assert!(env.plain.contains(&("POOL_SLOT_UUID", "app-uuid-1".to_owned())));
        assert_eq!(env.secret, [("MILO_AUTH_TOKEN", "mbt_slot".to_owned())]);
        assert!(!env.all().any(|(_, v)| v == "mbt_secret"), "the bot's own token must not reach a slot");
    }

    #[test]
    fn s3_keys_are_secrets_and_the_rest_of_s3_is_plain() {
        let s3 = S3Config {
            endpoint: "http://minio:9000/".parse().unwrap(),
            region: "eu-west-1".into(),
            bucket: "recordings".into(),
            access_key: SecretString::from("AKIA"),
            secret_key: SecretString::from("shh"),
            force_path_style: true,
        };
        let env = bot_environment(&bot(), Some(&s3));
        assert_eq!(keys(&env.secret), ["MILO_AUTH_TOKEN", "S3_ACCESS_KEY", "S3_SECRET_KEY"]);
        assert!(env.plain.contains(&("S3_ENDPOINT", "http://minio:9000".to_owned())));
        assert!(env.plain.contains(&("S3_REGION", "eu-west-1".to_owned())));
        assert!(!env.plain.iter().any(|(_, v)| v == "shh" || v == "AKIA" || v == "mbt_secret"));
        assert!(!env.all().any(|(k, _)| k == "RECORDING_UPLOAD_URL"), "with S3 a bot uploads to the bucket");
    }
}
