//! Object storage for screenshots, recordings and archived logs, through the
//! `object_store` crate: a local directory (`STORAGE_DIR`) by default, S3 or MinIO when the
//! `S3_*` variables are set.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::config::Config;
use super::error::internal;
use crate::model::error::AppError;

/// Where objects go.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The S3 store again, for presigned links (`None` for the local directory).
    s3: Option<Arc<object_store::aws::AmazonS3>>,
    /// For logs and `config check`: `s3://bucket` or the directory.
    pub location: String,
}

impl Storage {
    /// The store the configuration asks for; an error names what is wrong.
    pub fn from_config(config: &Config) -> Result<Storage, String> {
        if let Some(s3) = &config.s3 {
            use secrecy::ExposeSecret;
            let store = object_store::aws::AmazonS3Builder::new()
                .with_endpoint(s3.endpoint.as_str().trim_end_matches('/'))
                .with_region(&s3.region)
                .with_bucket_name(&s3.bucket)
                .with_access_key_id(s3.access_key.expose_secret())
                .with_secret_access_key(s3.secret_key.expose_secret())
                .with_virtual_hosted_style_request(!s3.force_path_style)
                .with_allow_http(s3.endpoint.scheme() == "http")
                .build()
                .map_err(|e| format!("S3 storage: {e}"))?;
            let store = Arc::new(store);
            return Ok(Storage { store: store.clone(), s3: Some(store), location: format!("s3://{}", s3.bucket) });
        }
        std::fs::create_dir_all(&config.storage_dir)
            .map_err(|e| format!("STORAGE_DIR {}: cannot create it: {e}", config.storage_dir))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&config.storage_dir)
            .map_err(|e| format!("STORAGE_DIR {}: {e}", config.storage_dir))?;
        Ok(Storage { store: Arc::new(store), s3: None, location: config.storage_dir.clone() })
    }

    /// Stores `bytes` under `key` (slash-separated).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), AppError> {
        self.store
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(|e| internal("storing an object failed", e))
    }

    /// The keys under `prefix`, sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, AppError> {
        use futures_util::StreamExt;
        let prefix = Path::from(prefix.trim_end_matches('/'));
        let mut stream = self.store.list(Some(&prefix));
        let mut keys = Vec::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(meta) => keys.push(meta.location.to_string()),
                Err(object_store::Error::NotFound { .. }) => break,
                Err(e) => return Err(internal("listing objects failed", e)),
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The object under `key`, or `None` when there is none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, AppError> {
        match self.store.get(&Path::from(key)).await {
            Ok(r) => r.bytes().await.map(|b| Some(b.to_vec())).map_err(|e| internal("reading an object failed", e)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(internal("reading an object failed", e)),
        }
    }

    /// Deletes the object under `key`; deleting what is not there succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), AppError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(internal("deleting an object failed", e)),
        }
    }

    /// Deletes every object under `prefix` (a bot's screenshots and archived logs); answers how
    /// many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, AppError> {
        let keys = self.list(prefix).await?;
        for k in &keys {
            self.delete(k).await?;
        }
        Ok(keys.len())
    }

    /// Whether objects are in S3 (which signs its own links) rather than a local directory.
    pub fn is_s3(&self) -> bool {
        self.s3.is_some()
    }

    /// A presigned S3 GET of `key` valid for `ttl`, served with `disposition` and `content_type`
    /// (`None` when storage is not S3).
    pub async fn presigned_get(
        &self,
        key: &str,
        ttl: std::time::Duration,
        disposition: &str,
        content_type: &str,
    ) -> Result<Option<String>, AppError> {
        use object_store::signer::{SignedUrlOptions, Signer};
        let Some(s3) = &self.s3 else { return Ok(None) };
        let options = SignedUrlOptions::new()
            .with_query([("response-content-disposition", disposition), ("response-content-type", content_type)]);
        s3.signed_url_opts(http::Method::GET, &Path::from(key), ttl, &options)
            .await
            .map(|u| Some(u.to_string()))
            .map_err(|e| internal("signing a storage link failed", e))
    }

    /// Stores what `body` yields under `key`, in parts, never the whole object in memory;
    /// refuses (and removes what was written) past `max` bytes. Answers the size.
    pub async fn put_stream<S, E>(&self, key: &str, mut body: S, max: u64) -> Result<u64, StreamError>
    where
        S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        let upload = self
            .store
            .put_multipart(&Path::from(key))
            .await
            .map_err(|e| StreamError::Store(internal("starting an upload failed", e)))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, 8 * 1024 * 1024);
        let mut size = 0u64;
        let failure = loop {
            match body.next().await {
                None => break None,
                Some(Err(e)) => break Some(StreamError::Body(e.to_string())),
                Some(Ok(chunk)) => {
                    size += chunk.len() as u64;
                    if size > max {
                        break Some(StreamError::TooLarge);
                    }
                    if let Err(e) = writer.wait_for_capacity(4).await {
                        break Some(StreamError::Store(internal("uploading a part failed", e)));
                    }
                    writer.write(&chunk);
                }
            }
        };
        if let Some(e) = failure {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(|e| StreamError::Store(internal("finishing an upload failed", e)))?;
        Ok(size)
    }

    /// The object under `key` as a stream, whole or the bytes of `range` (clamped to its size),
    /// with its total size; `None` when there is no such object.
    pub async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Option<ObjectRead>, AppError> {
        let path = Path::from(key);
        let size = match self.store.head(&path).await {
            Ok(meta) => meta.size,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(internal("reading an object failed", e)),
        };
        let wanted = match range.map(|r| r.resolve(size)) {
            None => None,
            Some(Some(r)) => Some(r),
            Some(None) => return Ok(Some(ObjectRead { size, range: None, stream: None })),
        };
        let options = object_store::GetOptions {
            range: wanted.clone().map(object_store::GetRange::Bounded),
            ..Default::default()
        };
        match self.store.get_opts(&path, options).await {
            Ok(r) => {
                use futures_util::StreamExt;
                let stream = r.into_stream().map(|c| c.map_err(std::io::Error::other)).boxed();
                Ok(Some(ObjectRead { size, range: wanted, stream: Some(stream) }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(internal("reading an object failed", e)),
        }
    }
}

/// Why storing a stream failed.
#[derive(Debug)]
pub enum StreamError {
    /// More than the maximum.
    TooLarge,
    /// The client's body broke off.
    Body(String),
    Store(AppError),
}

/// A byte range a client asks for (`Range: bytes=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (inclusive) or `bytes=a-` (`None`: to the end).
    From(u64, Option<u64>),
    /// `bytes=-n`: the last n bytes.
    Last(u64),
}

impl ByteRange {
    /// A single range of a `Range` header; `None` for anything else (which is then ignored,
    /// as RFC 9110 allows, and the whole object is sent).
    pub fn parse(header: &str) -> Option<ByteRange> {
        let spec = header.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        let (a, b) = (a.trim(), b.trim());
        match (a.is_empty(), b.is_empty()) {
            (true, false) => b.parse().ok().map(ByteRange::Last),
            (false, true) => a.parse().ok().map(|a| ByteRange::From(a, None)),
            (false, false) => {
                let (a, b) = (a.parse().ok()?, b.parse().ok()?);
                (a <= b).then_some(ByteRange::From(a, Some(b)))
            }
            (true, true) => None,
        }
    }

    /// The half-open byte range within an object of `size` bytes; `None` when it is not
    /// satisfiable (416).
    pub fn resolve(self, size: u64) -> Option<std::ops::Range<u64>> {
        match self {
            ByteRange::From(a, _) if a >= size => None,
            ByteRange::From(a, b) => Some(a..b.map_or(size, |b| (b + 1).min(size))),
            ByteRange::Last(0) => None,
            ByteRange::Last(n) => Some(size.saturating_sub(n)..size),
        }
    }
}

/// An object being read: its size, the range sent (`None`: all of it) and the bytes (`None`
/// when the range asked for cannot be satisfied).
pub struct ObjectRead {
    pub size: u64,
    pub range: Option<std::ops::Range<u64>>,
    pub stream: Option<futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>>,
}

#[cfg(test)]
mod tests {
    use super::ByteRange;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(ByteRange::parse("bytes=0-99"), Some(ByteRange::From(0, Some(99))));
        assert_eq!(ByteRange::parse("bytes=100-"), Some(ByteRange::From(100, None)));
        assert_eq!(ByteRange::parse("bytes=-10"), Some(ByteRange::Last(10)));
        assert_eq!(ByteRange::parse("bytes=5-1"), None);
        assert_eq!(ByteRange::parse("bytes=0-1,5-9"), None);
        assert_eq!(ByteRange::parse("items=0-1"), None);
        assert_eq!(ByteRange::From(0, Some(99)).resolve(50), Some(0..50));
        assert_eq!(ByteRange::From(10, None).resolve(50), Some(10..50));
        assert_eq!(ByteRange::From(50, None).resolve(50), None);
        assert_eq!(ByteRange::Last(10).resolve(50), Some(40..50));
        assert_eq!(ByteRange::Last(99).resolve(50), Some(0..50));
        assert_eq!(ByteRange::Last(0).resolve(50), None);
    }
}
