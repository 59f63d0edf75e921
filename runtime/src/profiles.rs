//! Profiles and online features: what the store knows about a subject, and how it becomes the
//! `profile` record the policies read.
//!
//! A profile is a JSON object stored under `tenant/<subject hash>` in [`Tree::Profiles`]. Online
//! features are a second JSON object per subject in [`Tree::Features`], written by feature
//! pipelines at any rate; at decide time the features are laid over the profile (a feature wins
//! over the profile field of the same name) and the result is checked against the bundle's
//! `Profile` schema. Both are validated at ingestion against the active bundle, so a bad row is
//! rejected where it arrives, not discovered as a surprising decision.
//!
//! Engagement counters (from `POST /personalization/events`) are kept per subject too; a
//! `Profile` field named `views_total`, `clicks_total`, `conversions_total` or
//! `dismissals_total` (of type `Int`) is filled from them.

use crate::store::{decode, encode, key, Store, StoreError, Tree};
use serde_json::{Map, Value as Json};
use tailor_compiler::interp::{value_from_json, DataError, Value};
use tailor_compiler::ir::{Program, Type};

/// A JSON object.
pub type Object = Map<String, Json>;

/// The names of the engagement counters, by event type.
pub const COUNTER_FIELDS: &[(&str, &str)] = &[
    ("view", "views_total"),
    ("click", "clicks_total"),
    ("conversion", "conversions_total"),
    ("dismissal", "dismissals_total"),
];

fn profile_key(tenant: &str, subject_hash: &str) -> Vec<u8> {
    key(&[tenant, subject_hash])
}

/// Stores (replaces) a subject's profile.
pub fn put_profile(store: &dyn Store, tenant: &str, subject_hash: &str, profile: &Object) -> Result<(), StoreError> {
    store.put(Tree::Profiles, &profile_key(tenant, subject_hash), &encode(profile)?)
}

/// A subject's profile, if the store has one.
pub fn get_profile(store: &dyn Store, tenant: &str, subject_hash: &str) -> Result<Option<Object>, StoreError> {
    store
        .get(Tree::Profiles, &profile_key(tenant, subject_hash))?
        .map(|b| decode(&b))
        .transpose()
}

/// Merges `features` into a subject's online features (a feature given again replaces the old
/// value; `null` removes it).
pub fn put_features(store: &dyn Store, tenant: &str, subject_hash: &str, features: &Object) -> Result<(), StoreError> {
    let k = key(&[tenant, subject_hash, "features"]);
    let mut current: Object = match store.get(Tree::Features, &k)? {
        Some(b) => decode(&b)?,
        None => Object::new(),
    };
    for (name, value) in features {
        if value.is_null() {
            current.remove(name);
        } else {
            current.insert(name.clone(), value.clone());
        }
    }
    store.put(Tree::Features, &k, &encode(&current)?)
}

/// A subject's online features (empty when none).
pub fn get_features(store: &dyn Store, tenant: &str, subject_hash: &str) -> Result<Object, StoreError> {
    match store.get(Tree::Features, &key(&[tenant, subject_hash, "features"]))? {
        Some(b) => decode(&b),
        None => Ok(Object::new()),
    }
}

/// Adds one to a subject's engagement counter for `event_type`.
pub fn bump_counter(store: &dyn Store, tenant: &str, subject_hash: &str, event_type: &str) -> Result<(), StoreError> {
    let k = key(&[tenant, subject_hash, "counters"]);
    let mut current: Object = match store.get(Tree::Features, &k)? {
        Some(b) => decode(&b)?,
        None => Object::new(),
    };
    let n = current.get(event_type).and_then(Json::as_i64).unwrap_or(0);
    current.insert(event_type.to_string(), Json::from(n.saturating_add(1)));
    store.put(Tree::Features, &k, &encode(&current)?)
}

/// A subject's engagement counters.
pub fn get_counters(store: &dyn Store, tenant: &str, subject_hash: &str) -> Result<Object, StoreError> {
    match store.get(Tree::Features, &key(&[tenant, subject_hash, "counters"]))? {
        Some(b) => decode(&b),
        None => Ok(Object::new()),
    }
}

/// The bundle's `Profile` type.
pub fn profile_type(program: &Program) -> Option<Type> {
    program.profile.map(Type::Record)
}

/// Checks a profile against the bundle's `Profile` schema.
pub fn validate_profile(program: &Program, profile: &Json) -> Result<(), DataError> {
    let Some(ty) = profile_type(program) else {
        return Err(DataError {
            path: String::new(),
            message: "the active bundle declares no `Profile` schema".into(),
        });
    };
    value_from_json(program, &ty, profile).map(|_| ())
}

/// Checks features: each must name a `Profile` field and fit its type.
pub fn validate_features(program: &Program, features: &Object) -> Result<(), DataError> {
    let schema = program.profile.and_then(|p| program.schemas.get(p as usize));
    let Some(schema) = schema else {
        return Err(DataError {
            path: String::new(),
            message: "the active bundle declares no `Profile` schema".into(),
        });
    };
    for (name, value) in features {
        let Some(field) = schema.fields.iter().find(|f| &f.name == name) else {
            return Err(DataError {
                path: format!("/{name}"),
                message: format!("`Profile` has no field `{name}`"),
            });
        };
        if value.is_null() {
            continue;
        }
        value_from_json(program, &field.ty, value).map_err(|e| DataError {
            path: format!("/{name}{}", e.path),
            message: e.message,
        })?;
    }
    Ok(())
}

/// The `profile` record for a request: the stored profile with the features and counters laid
/// over it, typed by the bundle's schema. `None` when the store has no profile.
pub fn profile_value(
    program: &Program,
    profile: Option<Object>,
    features: &Object,
    counters: &Object,
) -> Result<Option<(Value, Json)>, DataError> {
    let (Some(mut profile), Some(ty)) = (profile, profile_type(program)) else {
        return Ok(None);
    };
    for (k, v) in features {
        profile.insert(k.clone(), v.clone());
    }
    if !counters.is_empty() {
        if let Some(schema) = program.profile.and_then(|p| program.schemas.get(p as usize)) {
            for (event, field) in COUNTER_FIELDS {
                if schema.fields.iter().any(|f| f.name == *field && f.ty == Type::Int) {
                    let n = counters.get(*event).and_then(Json::as_i64).unwrap_or(0);
                    profile.insert((*field).to_string(), Json::from(n));
                }
            }
        }
    }
    let json = Json::Object(profile);
    let value = value_from_json(program, &ty, &json)?;
    Ok(Some((value, json)))
}

/// Removes a subject's profile, features and counters (merges and erasure).
pub fn remove_subject(store: &dyn Store, tenant: &str, subject_hash: &str) -> Result<(), StoreError> {
    store.remove(Tree::Profiles, &profile_key(tenant, subject_hash))?;
    store.remove(Tree::Features, &key(&[tenant, subject_hash, "features"]))?;
    store.remove(Tree::Features, &key(&[tenant, subject_hash, "counters"]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn features_merge_and_null_removes() {
        let store = MemoryStore::new();
        let mut f = Object::new();
        f.insert("a".into(), Json::from(1));
        f.insert("b".into(), Json::from(2));
        put_features(&store, "t", "h", &f).unwrap();
        let mut g = Object::new();
        g.insert("a".into(), Json::Null);
        g.insert("c".into(), Json::from(3));
        put_features(&store, "t", "h", &g).unwrap();
        let got = get_features(&store, "t", "h").unwrap();
        assert_eq!(got.get("a"), None);
        assert_eq!(got.get("b"), Some(&Json::from(2)));
        assert_eq!(got.get("c"), Some(&Json::from(3)));
    }

    #[test]
    fn counters_count() {
        let store = MemoryStore::new();
        bump_counter(&store, "t", "h", "click").unwrap();
        bump_counter(&store, "t", "h", "click").unwrap();
        assert_eq!(
            get_counters(&store, "t", "h").unwrap().get("click"),
            Some(&Json::from(2))
        );
    }
}
