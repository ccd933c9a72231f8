//! Outbound webhooks (docs/WEBHOOKS.md): every status change and recording of a bot is
//! delivered to its `callback_url` and to its owner's endpoints, signed the Standard Webhooks
//! way, at least once, in order per bot, from a durable outbox in PostgreSQL.
//!
//! - [`outbox`]: the rows written in the transaction of the event.
//! - [`delivery`]: claims, retries, disabling; the senders every replica runs.
//! - [`sender`]: one HTTP attempt, guarded against server-side request forgery.
//! - [`signing`]: secrets and signatures.

pub mod delivery;
pub mod outbox;
pub mod sender;
pub mod signing;
