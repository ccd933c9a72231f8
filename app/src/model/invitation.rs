//! Invitations to sign up (`SIGNUP_MODE=invite`), as the administrator sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One invitation; the code itself is never listed (only shown once, when created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    /// The email of the account that used it.
    pub used_by: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Invitation {
    /// "used", "revoked", "expired" or "open" at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> &'static str {
        if self.used_at.is_some() {
            "used"
        } else if self.revoked_at.is_some() {
            "revoked"
        } else if self.expires_at <= now {
            "expired"
        } else {
            "open"
        }
    }
}

/// A new invitation and its sign-up link (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    pub link: String,
}
