//! The simulated bot's recording: a few seconds of generated audio (two "speakers", a tone
//! each, in turn), uploaded where the bot contract says: straight to S3 when the bot has the
//! `S3_*` settings (as the real bot images do), otherwise to `RECORDING_UPLOAD_URL` (the bot
//! API's upload route). It then reports the key and who spoke when with DONE.

use serde_json::{json, Value};

use super::client::{describe, Client};
use super::SimError;

/// Samples per second of the generated audio (telephone quality, small).
const RATE: u32 = 8_000;
/// Seconds of audio, split evenly between the speakers.
pub const SECONDS: u32 = 3;
/// Who speaks, in turn, with the pitch of their tone (Hz).
const SPEAKERS: [(&str, f32); 2] = [("participant-1", 440.0), ("participant-2", 660.0)];

/// Where the bot puts its recording.
#[derive(Debug, Clone)]
pub enum RecordingTarget {
    /// The bot API's upload route (a URL with the bot's id).
    Upload(String),
    /// The bucket, with the bot's own S3 settings.
    S3(S3Settings),
}

/// The `S3_*` settings a bot gets when Meeboter stores objects in S3.
#[derive(Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings").field("endpoint", &self.endpoint).field("bucket", &self.bucket).finish()
    }
}

/// A WAV file (PCM, 16-bit, mono) of [`SECONDS`] seconds: each speaker's tone in turn.
pub fn tone_wav() -> Vec<u8> {
    let samples = RATE * SECONDS;
    let per_speaker = samples / SPEAKERS.len() as u32;
    let data_len = samples * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // the fmt chunk's size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes()); // bytes per second
    wav.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let (_, pitch) = SPEAKERS[((i / per_speaker) as usize).min(SPEAKERS.len() - 1)];
        let t = i as f32 / RATE as f32;
        let sample = (t * pitch * std::f32::consts::TAU).sin() * 0.3 * f32::from(i16::MAX);
        wav.extend_from_slice(&(sample as i16).to_le_bytes());
    }
    wav
}

/// Who spoke when in [`tone_wav`], as bots report it (milliseconds from the start).
pub fn speaker_timeframes() -> Value {
    let each = f64::from(SECONDS) * 1000.0 / SPEAKERS.len() as f64;
    let frames: Vec<Value> = SPEAKERS
        .iter()
        .enumerate()
        .map(|(i, (name, _))| json!({ "speakerName": name, "start": each * i as f64, "end": each * (i + 1) as f64 }))
        .collect();
    Value::Array(frames)
}

/// Uploads the recording of bot `id`; answers its key.
pub(super) async fn upload(client: &Client, id: i64, target: &RecordingTarget) -> Result<String, SimError> {
    let wav = tone_wav();
    match target {
        RecordingTarget::Upload(url) => {
            let res = client
                .http
                .post(url)
                .header("X-Milo-Token", &client.token)
                .header(reqwest::header::CONTENT_TYPE, "audio/wav")
                .body(wav)
                .send()
                .await
                .map_err(|e| SimError::Http { method: "POST", url: url.clone(), reason: describe(&e) })?;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            if status != 201 {
                return Err(SimError::Refused { what: format!("POST {url}"), status, body: body.to_string() });
            }
            body["key"].as_str().map(str::to_owned).ok_or_else(|| SimError::Other(format!("upload answered {body}")))
        }
        RecordingTarget::S3(s3) => {
            use object_store::{ObjectStoreExt, PutPayload};
            let store = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(s3.endpoint.trim_end_matches('/'))
                .with_region(&s3.region)
                .with_bucket_name(&s3.bucket)
                .with_access_key_id(&s3.access_key)
                .with_secret_access_key(&s3.secret_key)
                .with_allow_http(s3.endpoint.starts_with("http://"))
                .build()
                .map_err(|e| SimError::Other(format!("S3 settings: {e}")))?;
            let key = format!("bots/{id}/recordings/{}-simulated.wav", app::backend::auth::tokens::random_token());
            store
                .put(&object_store::path::Path::from(key.as_str()), PutPayload::from(wav))
                .await
                .map_err(|e| SimError::Other(format!("uploading the recording to S3 failed: {e}")))?;
            Ok(key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_is_a_wav_of_three_seconds() {
        let wav = tone_wav();
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!(wav.len(), 44 + (RATE * SECONDS * 2) as usize);
        let frames = speaker_timeframes();
        assert_eq!(frames[1]["end"], json!(3000.0));
        assert_eq!(frames[0]["speakerName"], "participant-1");
    }
}
