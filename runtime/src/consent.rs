//! Consent: per subject, per purpose and (optionally) per channel, with the time it was given
//! or withdrawn and where it came from.
//!
//! A subject's records are one JSON list under `tenant/<subject hash>` in [`Tree::Consent`].
//! For each (purpose, channel) pair only the newest record counts, by its own timestamp, so
//! updates that arrive out of order (a withdrawal from the preference centre racing a bulk
//! import) settle on the latest decision of the customer. A record for a specific channel
//! overrides the channel-less record of the same purpose on that channel.

use crate::store::{decode, encode, key, Store, StoreError, Tree};
use serde::{Deserialize, Serialize};

/// One consent decision of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    /// The purpose, as policies name it in `consent …` (e.g. `marketing`).
    pub purpose: String,
    /// A channel (`Email`, `Web`, …), or `None` for every channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Given (`true`) or withdrawn (`false`).
    pub granted: bool,
    /// When the customer decided, milliseconds since the epoch.
    pub at_ms: i64,
    /// Where the record came from (`preference-centre`, `import`, …).
    pub source: String,
}

fn consent_key(tenant: &str, subject_hash: &str) -> Vec<u8> {
    key(&[tenant, subject_hash])
}

/// A subject's consent records.
pub fn get(store: &dyn Store, tenant: &str, subject_hash: &str) -> Result<Vec<ConsentRecord>, StoreError> {
    match store.get(Tree::Consent, &consent_key(tenant, subject_hash))? {
        Some(b) => decode(&b),
        None => Ok(Vec::new()),
    }
}

/// Folds `new` into `records`: it replaces the record of the same purpose and channel unless
/// that one is newer. Returns whether anything changed.
pub fn merge_record(records: &mut Vec<ConsentRecord>, new: ConsentRecord) -> bool {
    match records
        .iter_mut()
        .find(|r| r.purpose == new.purpose && r.channel == new.channel)
    {
        Some(old) if old.at_ms > new.at_ms => false,
        Some(old) => {
            *old = new;
            true
        }
        None => {
            records.push(new);
            true
        }
    }
}

/// Records consent decisions for a subject.
pub fn record(store: &dyn Store, tenant: &str, subject_hash: &str, new: Vec<ConsentRecord>) -> Result<(), StoreError> {
    let mut records = get(store, tenant, subject_hash)?;
    let mut changed = false;
    for r in new {
        changed |= merge_record(&mut records, r);
    }
    if changed {
        store.put(Tree::Consent, &consent_key(tenant, subject_hash), &encode(&records)?)?;
    }
    Ok(())
}

/// Removes a subject's consent records.
pub fn remove(store: &dyn Store, tenant: &str, subject_hash: &str) -> Result<(), StoreError> {
    store.remove(Tree::Consent, &consent_key(tenant, subject_hash))
}

/// The purposes granted on `channel`: a channel-specific record wins over the channel-less one.
pub fn granted_purposes(records: &[ConsentRecord], channel: &str) -> Vec<String> {
    let mut purposes: Vec<String> = Vec::new();
    for r in records {
        if purposes.contains(&r.purpose) {
            continue;
        }
        let specific = records
            .iter()
            .find(|s| s.purpose == r.purpose && s.channel.as_deref() == Some(channel));
        let general = records.iter().find(|s| s.purpose == r.purpose && s.channel.is_none());
        if specific.or(general).is_some_and(|c| c.granted) {
            purposes.push(r.purpose.clone());
        }
    }
    purposes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(purpose: &str, channel: Option<&str>, granted: bool, at_ms: i64) -> ConsentRecord {
        ConsentRecord {
            purpose: purpose.into(),
            channel: channel.map(Into::into),
            granted,
            at_ms,
            source: "test".into(),
        }
    }

    #[test]
    fn the_newest_record_wins_even_when_it_arrives_first() {
        let mut records = Vec::new();
        merge_record(&mut records, rec("marketing", None, false, 200));
        assert!(!merge_record(&mut records, rec("marketing", None, true, 100)));
        assert_eq!(granted_purposes(&records, "Email"), Vec::<String>::new());
        merge_record(&mut records, rec("marketing", None, true, 300));
        assert_eq!(granted_purposes(&records, "Email"), vec!["marketing".to_string()]);
    }

    #[test]
    fn a_channel_record_overrides_the_general_one_on_its_channel() {
        let records = vec![
            rec("marketing", None, true, 1),
            rec("marketing", Some("Email"), false, 2),
        ];
        assert!(granted_purposes(&records, "Email").is_empty());
        assert_eq!(granted_purposes(&records, "Web"), vec!["marketing".to_string()]);
    }
}
