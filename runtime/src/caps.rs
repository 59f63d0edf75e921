//! Frequency caps: the impressions a subject has seen, counted from view events, and the
//! engagement events (clicks, conversions, dismissals) joined to the decision that caused them.
//!
//! Impressions live under `tenant/<subject hash>/<time, 16 hex digits>-<sequence>` in
//! [`Tree::Impressions`], so a subject's history is one prefix in time order and the decide path
//! reads only the newest entries, back to the longest cap window any decision of the active
//! bundle declares. The caps themselves (`cap offer 3 per 7d`, `cap placement 10 per 1d`) are
//! part of the policies; the interpreter applies them to the impressions handed to it, with
//! the channel and placement each impression was shown at.

use crate::store::{decode, encode, key, Store, StoreError, Tree};
use serde::{Deserialize, Serialize};

/// Impressions read per request at most (the newest ones): a bound on the work one request
/// can cause, far above any sensible cap.
pub const MAX_IMPRESSIONS_READ: usize = 5_000;

/// A stored impression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredImpression {
    pub offer_id: String,
    pub placement: String,
    /// The channel's variant name (`Web`, `Email`, …).
    pub channel: String,
    pub at_ms: i64,
    /// The decision it was shown for.
    pub decision_id: String,
}

impl StoredImpression {
    /// The impression as the policies see it, with the channel as its index in `channels` (the
    /// bundle's `std.Channel` variants); `None` for a channel the bundle does not know.
    pub fn for_policies(&self, channels: &[String]) -> Option<tailor_compiler::interp::Impression> {
        let c = channels.iter().position(|c| *c == self.channel)?;
        Some(tailor_compiler::interp::Impression {
            offer_id: self.offer_id.clone(),
            placement: self.placement.clone(),
            channel: c as u32,
            at_ms: self.at_ms,
        })
    }
}

/// A stored engagement event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(rename = "type")]
    pub event_type: String,
    pub offer_id: Option<String>,
    pub placement: String,
    pub channel: String,
    pub at_ms: i64,
    pub decision_id: String,
}

fn time_key(tenant: &str, subject_hash: &str, at_ms: i64, seq: u64) -> Vec<u8> {
    // Timestamps before 1970 are clamped to zero so the key order is the time order.
    key(&[tenant, subject_hash, &format!("{:016x}-{seq:016x}", at_ms.max(0))])
}

/// Records an impression.
pub fn record_impression(
    store: &dyn Store,
    tenant: &str,
    subject_hash: &str,
    impression: &StoredImpression,
) -> Result<(), StoreError> {
    let seq = store.next_id()?;
    store.put(
        Tree::Impressions,
        &time_key(tenant, subject_hash, impression.at_ms, seq),
        &encode(impression)?,
    )
}

/// Records an engagement event.
pub fn record_event(
    store: &dyn Store,
    tenant: &str,
    subject_hash: &str,
    event: &StoredEvent,
) -> Result<(), StoreError> {
    let seq = store.next_id()?;
    store.put(
        Tree::Events,
        &time_key(tenant, subject_hash, event.at_ms, seq),
        &encode(event)?,
    )
}

/// A subject's impressions after `since_ms` (exclusive), newest first, at most
/// [`MAX_IMPRESSIONS_READ`].
pub fn impressions_since(
    store: &dyn Store,
    tenant: &str,
    subject_hash: &str,
    since_ms: i64,
) -> Result<Vec<StoredImpression>, StoreError> {
    let prefix = key(&[tenant, subject_hash, ""]);
    let mut out = Vec::new();
    for (_, v) in store.scan_prefix_rev(Tree::Impressions, &prefix, MAX_IMPRESSIONS_READ)? {
        let imp: StoredImpression = decode(&v)?;
        if imp.at_ms <= since_ms {
            break;
        }
        out.push(imp);
    }
    Ok(out)
}

/// Moves every impression and event of one subject to another (merges), or deletes them
/// (`to = None`, erasure).
pub fn move_subject(store: &dyn Store, tenant: &str, from_hash: &str, to_hash: Option<&str>) -> Result<(), StoreError> {
    let prefix = key(&[tenant, from_hash, ""]);
    for tree in [Tree::Impressions, Tree::Events] {
        for (k, v) in store.scan_prefix(tree, &prefix, usize::MAX)? {
            if let Some(to) = to_hash {
                let suffix = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                store.put(tree, &key(&[tenant, to, &suffix]), &v)?;
            }
            store.remove(tree, &k)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn imp(at_ms: i64) -> StoredImpression {
        StoredImpression {
            offer_id: "o".into(),
            placement: "p".into(),
            channel: "Web".into(),
            at_ms,
            decision_id: "d".into(),
        }
    }

    #[test]
    fn only_impressions_inside_the_window_are_read_newest_first() {
        let store = MemoryStore::new();
        for at in [100, 200, 300, 400] {
            record_impression(&store, "t", "h", &imp(at)).unwrap();
        }
        record_impression(&store, "t", "other", &imp(500)).unwrap();
        let got = impressions_since(&store, "t", "h", 200).unwrap();
        assert_eq!(got.iter().map(|i| i.at_ms).collect::<Vec<_>>(), vec![400, 300]);
    }

    #[test]
    fn a_merge_moves_impressions() {
        let store = MemoryStore::new();
        record_impression(&store, "t", "a", &imp(100)).unwrap();
        move_subject(&store, "t", "a", Some("b")).unwrap();
        assert!(impressions_since(&store, "t", "a", 0).unwrap().is_empty());
        assert_eq!(impressions_since(&store, "t", "b", 0).unwrap().len(), 1);
    }
}
