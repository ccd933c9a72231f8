//! Random secrets (session tokens, API keys, bot tokens) and the hashes stored in their place.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random secret: 32 bytes from the OS, hex encoded (64 characters).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 of a secret: what the database stores and looks up.
///
/// Secrets are 256 random bits, so a fast hash is enough (no dictionary to attack) and keeps
/// the lookup on every request cheap.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hash_stably() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token(&a).len(), 32);
    }
}
