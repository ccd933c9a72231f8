//! Recordings (docs/RECORDINGS.md): the key a bot reports must lie under its own prefix; its
//! owner gets a short-lived link (a presigned S3 GET, or a link Meeboter signs and serves itself
//! when storage is the local directory: the link names the bot and a file name, never a path,
//! and the key is read from the bot's row); bots without S3 upload through the bot API; a
//! retention period, when set, deletes old recordings.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::backend::db::schema::{bots, signing_keys};
use crate::backend::error::internal;
use crate::backend::storage::Storage;
use crate::model::error::AppError;
use crate::model::recording::{media_type, RecordingLink, RecordingState};

/// How long a recording link works.
pub const LINK_TTL: Duration = Duration::from_secs(3600);
/// The largest recording the bot API accepts (4 GiB; a bot with S3 uploads there directly).
pub const MAX_RECORDING_BYTES: u64 = 4 << 30;
/// Files one bot may upload through the bot API (a bot reports one of them with DONE; the
/// cap keeps a misbehaving bot from filling the disk).
pub const MAX_UPLOADS_PER_BOT: usize = 5;
/// The name of the key local links are signed with (`signing_keys`).
const LINK_KEY: &str = "recording_links";

/// The prefix every recording key of bot `bot_id` starts with.
pub fn prefix(bot_id: i64) -> String {
    format!("bots/{bot_id}/recordings/")
}

/// Checks the key a bot reports: under its own prefix, one or more path segments of letters,
/// digits, `.`, `_` and `-` (no `..`, no empty segment), and a file with a recording's extension.
pub fn check_key(bot_id: i64, key: &str) -> Result<(), AppError> {
    let prefix = prefix(bot_id);
    let wrong = || {
        AppError::invalid(
            "recording",
            format!(
                "The recording key must lie under this bot's own prefix {prefix}, as segments of letters, digits, \
                 '.', '_' and '-', ending in a recording file (for example {prefix}3f2a-zoom.webm)."
            ),
        )
    };
    let rest = key.strip_prefix(&prefix).ok_or_else(wrong)?;
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    if rest.is_empty() || !rest.split('/').all(segment_ok) {
        return Err(wrong());
    }
    if media_type(rest).is_none() {
        return Err(AppError::invalid(
            "recording",
            "The recording key must end in a recording format: .webm, .mp4, .mkv, .mov, .m4a, .mp3, .wav, .ogg, .opus or .weba.",
        ));
    }
    Ok(())
}

/// The key local links are signed with, if one was made.
async fn read_link_key(conn: &mut AsyncPgConnection) -> Result<Option<Vec<u8>>, AppError> {
    signing_keys::table
        .find(LINK_KEY)
        .select(signing_keys::secret)
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading the link signing key failed", e))
}

/// The key local links are signed with: made at random by the first process that needs it,
/// then shared by every replica (a lost race keeps the other replica's key).
async fn link_key(conn: &mut AsyncPgConnection) -> Result<Vec<u8>, AppError> {
    if let Some(key) = read_link_key(conn).await? {
        return Ok(key);
    }
    let fresh = hex::decode(crate::backend::auth::tokens::random_token()).unwrap_or_default();
    diesel::insert_into(signing_keys::table)
        .values((signing_keys::name.eq(LINK_KEY), signing_keys::secret.eq(fresh)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await
        .map_err(|e| internal("creating the link signing key failed", e))?;
    read_link_key(conn).await?.ok_or_else(|| internal("the link signing key vanished", "no row after insert"))
}

/// The MAC of a local link: HMAC-SHA256 over the bot, its recording's key (so a link dies with
/// the recording it was made for), the expiry and the disposition.
fn link_mac(secret: &[u8], bot_id: i64, key: &str, expires: i64, download: bool) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(format!("recording\n{bot_id}\n{key}\n{expires}\n{}", u8::from(download)).as_bytes());
    mac
}

/// The signature of a local link, in hex.
fn signature(secret: &[u8], bot_id: i64, key: &str, expires: i64, download: bool) -> String {
    hex::encode(link_mac(secret, bot_id, key, expires, download).finalize().into_bytes())
}

/// The file name of a key (its last segment).
fn file_name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// The recording's key of one of the user's bots, or 404 with what there is instead.
async fn owned_key(conn: &mut AsyncPgConnection, user_id: i64, bot_id: i64) -> Result<String, AppError> {
    let bot = super::bots::get_bot(conn, user_id, bot_id).await?;
    match (bot.recording, bot.recording_state) {
        (Some(key), _) => Ok(key),
        (None, RecordingState::Off) => Err(AppError::NotFound(format!("Recording is off for bot {bot_id}."))),
        (None, RecordingState::Pending) => Err(AppError::NotFound(format!(
            "Bot {bot_id} has no recording yet: it is there once the bot has left the call and uploaded it (status DONE)."
        ))),
        (None, RecordingState::Deleted) => Err(AppError::NotFound(format!(
            "The recording of bot {bot_id} was deleted after the retention period (RECORDING_RETENTION_DAYS)."
        ))),
        (None, _) => Err(AppError::NotFound(format!("Bot {bot_id} ended without a recording."))),
    }
}

/// Short-lived links to the recording of one of the user's bots (404 for anyone else's bot,
/// and while there is none). `base` prefixes local links (the public origin for API clients,
/// empty for the browser's own pages).
pub async fn link(
    conn: &mut AsyncPgConnection,
    storage: &Storage,
    user_id: i64,
    bot_id: i64,
    base: &str,
    now: DateTime<Utc>,
) -> Result<RecordingLink, AppError> {
    let key = owned_key(conn, user_id, bot_id).await?;
    let name = file_name(&key).to_owned();
    let content_type = media_type(&name).unwrap_or("application/octet-stream").to_owned();
    let expires_at = now + chrono::Duration::from_std(LINK_TTL).unwrap_or_default();
    let (recording_url, download_url) = if storage.is_s3() {
        let inline = storage.presigned_get(&key, LINK_TTL, "inline", &content_type).await?;
        let attachment =
            storage.presigned_get(&key, LINK_TTL, &format!("attachment; filename=\"{name}\""), &content_type).await?;
        (inline.unwrap_or_default(), attachment.unwrap_or_default())
    } else {
        let secret = link_key(conn).await?;
        let expires = expires_at.timestamp();
        let url = |download: bool| {
            let sig = signature(&secret, bot_id, &key, expires, download);
            format!(
                "{base}/recordings/{bot_id}/{name}?expires={expires}&download={}&signature={sig}",
                u8::from(download)
            )
        };
        (url(false), url(true))
    };
    Ok(RecordingLink { recording_url, download_url, expires_at, content_type, file_name: name })
}

/// Why a local link does not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Altered, made for another recording, or not a link at all.
    Invalid,
    /// Past its expiry.
    Expired,
}

/// Checks a local link's parts; answers the key to serve. The key comes from the bot's row:
/// the file name in the link only has to match it.
pub async fn open_link(
    conn: &mut AsyncPgConnection,
    bot_id: i64,
    file: &str,
    expires: i64,
    download: bool,
    signature_hex: &str,
    now: DateTime<Utc>,
) -> Result<Result<String, LinkRefusal>, AppError> {
    let key: Option<Option<String>> = bots::table
        .find(bot_id)
        .select(bots::recording)
        .first(conn)
        .await
        .optional()
        .map_err(|e| internal("reading a recording failed", e))?;
    let Some(key) = key.flatten().filter(|k| file_name(k) == file) else {
        return Ok(Err(LinkRefusal::Invalid));
    };
    // No key yet: no link was ever signed, so this one is not valid.
    let Some(secret) = read_link_key(conn).await? else {
        return Ok(Err(LinkRefusal::Invalid));
    };
    // `verify_slice` compares in constant time.
    let mac = link_mac(&secret, bot_id, &key, expires, download);
    let valid = hex::decode(signature_hex).is_ok_and(|given| mac.verify_slice(&given).is_ok());
    if !valid {
        return Ok(Err(LinkRefusal::Invalid));
    }
    if now.timestamp() > expires {
        return Ok(Err(LinkRefusal::Expired));
    }
    Ok(Ok(key))
}

/// Whether bot `bot_id` records (the bot API refuses uploads otherwise).
pub async fn records(conn: &mut AsyncPgConnection, bot_id: i64) -> Result<bool, AppError> {
    bots::table
        .find(bot_id)
        .select(bots::recording_enabled)
        .first(conn)
        .await
        .optional()
        .map(|r| r.unwrap_or(false))
        .map_err(|e| internal("reading a bot failed", e))
}

/// Deletes up to `batch` recordings reported more than `days` days ago: the object, then the
/// key (the bot then shows "Deleted"). Answers how many.
pub async fn apply_retention(
    conn: &mut AsyncPgConnection,
    storage: &Storage,
    days: u32,
    batch: i64,
) -> Result<usize, AppError> {
    let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
    let due: Vec<(i64, Option<String>)> = bots::table
        .filter(bots::recording.is_not_null())
        .filter(bots::recording_at.lt(cutoff))
        .order(bots::recording_at.asc())
        .limit(batch)
        .select((bots::id, bots::recording))
        .load(conn)
        .await
        .map_err(|e| internal("finding recordings past retention failed", e))?;
    let mut deleted = 0;
    for (id, key) in due {
        let Some(key) = key else { continue };
        // The object first: if that fails the row still names it, and the next pass retries.
        storage.delete(&key).await?;
        diesel::update(bots::table.find(id).filter(bots::recording.eq(&key)))
            .set((bots::recording.eq(None::<String>), bots::recording_deleted_at.eq(Utc::now())))
            .execute(conn)
            .await
            .map_err(|e| internal("marking a recording deleted failed", e))?;
        deleted += 1;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_must_lie_under_the_bots_own_prefix() {
        assert!(check_key(7, "bots/7/recordings/3f2a-zoom.webm").is_ok());
        assert!(check_key(7, "bots/7/recordings/2026/11/a_b-c.wav").is_ok());
        for bad in [
            "bots/8/recordings/x.webm",
            "bots/7/recordings/",
            "bots/7/recordings/../../8/recordings/x.webm",
            "bots/7/recordings//x.webm",
            "bots/7/recordings/./x.webm",
            "bots/7/screenshots/x.png",
            "bots/77/recordings/x.webm",
            "/bots/7/recordings/x.webm",
            "bots/7/recordings/x y.webm",
            "bots/7/recordings/x.html",
            "bots/7/recordings/x",
        ] {
            assert!(check_key(7, bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_signature_binds_bot_key_expiry_and_disposition() {
        let s = signature(b"k", 1, "bots/1/recordings/a.wav", 100, false);
        assert_eq!(s.len(), 64);
        assert_eq!(s, signature(b"k", 1, "bots/1/recordings/a.wav", 100, false));
        for other in [
            signature(b"j", 1, "bots/1/recordings/a.wav", 100, false),
            signature(b"k", 2, "bots/1/recordings/a.wav", 100, false),
            signature(b"k", 1, "bots/1/recordings/b.wav", 100, false),
            signature(b"k", 1, "bots/1/recordings/a.wav", 101, false),
            signature(b"k", 1, "bots/1/recordings/a.wav", 100, true),
        ] {
            assert_ne!(s, other);
        }
    }
}
