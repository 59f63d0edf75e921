//! The Tailor decision runtime: `tailor serve`.
//!
//! Channels call `POST /personalization/decide` on every page view and message; the runtime
//! answers from the tenant's active, compiled bundle (never parsing policies on the request
//! path), the subject's profile, features, consent and impressions, and appends an audit record
//! before it answers. See `docs/runtime.md` for the API, configuration and guarantees.
//!
//! Modules, by what they hold:
//!
//! - [`store`]: the [`store::Store`] trait and its sled, in-memory and fault-injecting
//!   implementations.
//! - [`identity`]: keyed hashing and the identity graph; [`profiles`]: profiles, features and
//!   engagement counters; [`consent`]: consent records; [`caps`]: impressions and events.
//! - [`catalog`]: offers and templates, validated per bundle; [`registry`]: versioned bundles
//!   and the hot-swapped live state per tenant.
//! - [`audit`]: the durable, group-committed audit log; [`replay`]: audit records run again;
//!   [`batch`]: batch plans, one placement decided for many subjects into a JSON-lines file.
//! - [`engine`]: the decide flow and ingestion; [`http`]: the axum server.
//! - [`config`], [`metrics`], [`demo`] (the `--demo` tenant).

pub mod audit;
pub mod batch;
pub mod caps;
pub mod catalog;
pub mod compliance;
pub mod config;
pub mod consent;
pub mod demo;
pub mod engine;
pub mod explain;
pub mod http;
pub mod identity;
pub mod metrics;
pub mod profiles;
pub mod registry;
pub mod replay;
pub mod store;

pub use config::Config;
pub use engine::Engine;
