//! Argon2id password hashes, computed off the async runtime and bounded: at most one hash per
//! CPU core runs at a time (each takes ~19 MiB and a core for tens of milliseconds). A request
//! that cannot start hashing within [`HASH_WAIT`] is refused with [`Busy`] instead of queueing
//! without bound. Callers hold no database connection while they hash.

use std::sync::OnceLock;
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

/// How long a request waits for a free hashing slot before it is refused.
pub const HASH_WAIT: Duration = Duration::from_secs(2);

/// Every hashing slot stayed taken for [`HASH_WAIT`]: the server is busy checking passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("busy checking other passwords")]
pub struct Busy;

/// The process-wide hashing slots, one per core.
fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())))
}

/// Runs `f` on the blocking pool once a hashing slot is free (or fails with [`Busy`]).
async fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    bounded_on(slots(), HASH_WAIT, f).await
}

async fn bounded_on<T: Send + 'static>(
    slots: &Semaphore,
    wait: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Busy> {
    let _permit = tokio::time::timeout(wait, slots.acquire()).await.map_err(|_| Busy)?.map_err(|_| Busy)?;
    tokio::task::spawn_blocking(f).await.map_err(|_| Busy)
}

/// A hash could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error(transparent)]
    Busy(#[from] Busy),
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Hashes a password with Argon2id (default parameters) on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, HashError> {
    bounded(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await?
    .map_err(|e| HashError::Failed(e.to_string()))
}

/// Checks a password against a stored hash on a blocking thread. With no stored hash (unknown
/// email) it checks against a fixed hash anyway, so both cases take the same time.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, Busy> {
    let known = stored.is_some();
    let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
    bounded(move || {
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return false;
        };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
}

/// The Argon2id hash of a random string nobody knows; used to equalise timing.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$J4moa2MM0/6uf3HbY2Tf5Fux8JIBTwIhmhxGRE8qDHE";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_eq!(verify_password("correct horse battery".into(), Some(h.clone())).await, Ok(true));
        assert_eq!(verify_password("wrong".into(), Some(h)).await, Ok(false));
    }

    #[tokio::test]
    async fn work_beyond_the_slots_waits_briefly_then_is_refused() {
        let slots = Semaphore::new(1);
        let wait = Duration::from_millis(50);
        let held = slots.acquire().await.unwrap();
        assert_eq!(bounded_on(&slots, wait, || 1).await, Err(Busy), "no slot: refused, not queued");
        drop(held);
        assert_eq!(bounded_on(&slots, wait, || 2).await, Ok(2));
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies() {
        assert_eq!(verify_password("anything".into(), None).await, Ok(false));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
