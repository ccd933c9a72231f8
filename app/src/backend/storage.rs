//! Object storage for screenshots (and, later, recordings and archived logs), through the
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
            return Ok(Storage { store: Arc::new(store), location: format!("s3://{}", s3.bucket) });
        }
        std::fs::create_dir_all(&config.storage_dir)
            .map_err(|e| format!("STORAGE_DIR {}: cannot create it: {e}", config.storage_dir))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&config.storage_dir)
            .map_err(|e| format!("STORAGE_DIR {}: {e}", config.storage_dir))?;
        Ok(Storage { store: Arc::new(store), location: config.storage_dir.clone() })
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
}
