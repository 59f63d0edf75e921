//! Identity: keyed hashing of identifiers and subjects, and the identity graph that resolves
//! identifiers (email, device ids, user ids, account ids) to one subject per tenant.
//!
//! Privacy by construction: an identifier is never stored or logged in clear. Every identifier
//! and every subject id is turned into a keyed hash (HMAC-SHA256 with the server's hashing key,
//! truncated to 128 bits, hex) before it becomes a key in the store or a field in a log line or
//! audit record. The key comes from the configuration or, when none is configured, is generated
//! once and kept in the store, so hashes are stable across restarts (and across replicas that
//! share the key).
//!
//! The graph, in [`Tree::Identity`]:
//!
//! - `tenant/link/<identifier hash>` → the subject id the identifier belongs to;
//! - `tenant/rev/<subject hash>/<identifier hash>` → the reverse index, for merges;
//! - `tenant/alias/<subject hash>` → the subject a merged subject now lives in;
//! - `tenant/subject/<subject hash>` → the subject id of a stored profile, so that batch plans,
//!   which walk the profiles (keyed by hash), can give policies the id they see online.
//!
//! The subject id itself (the tenant's pseudonymous customer key, such as `u-00042`) is what
//! policies see and what experiments bucket on, so it is kept as the value of a link or alias;
//! e-mail addresses, device ids and other identifiers exist only as hashes.

use crate::store::{key, Store, StoreError, Tree};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How many alias hops resolution follows before giving up (a merge chain longer than this is
/// reported, not followed forever).
const MAX_ALIAS_HOPS: usize = 16;

/// The kinds of identifier the graph accepts.
pub const IDENTIFIER_KINDS: &[&str] = &["email", "device_id", "user_id", "account_id", "phone"];

/// Keyed hashing of identifiers and subjects.
#[derive(Clone)]
pub struct Hasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hasher(<key>)")
    }
}

impl Hasher {
    /// A hasher with `key` (any length; at least 32 random bytes is right).
    pub fn new(key: &[u8]) -> Hasher {
        // HMAC accepts keys of every length, so this cannot fail.
        let mac = match Hmac::<Sha256>::new_from_slice(key) {
            Ok(m) => m,
            Err(_) => unreachable_hmac(),
        };
        Hasher { mac }
    }

    fn hash(&self, parts: &[&str]) -> String {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(&[0]);
        }
        let bytes = mac.finalize().into_bytes();
        bytes.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    /// The hash of a subject id within a tenant.
    pub fn subject(&self, tenant: &str, subject: &str) -> String {
        self.hash(&["subject", tenant, subject])
    }

    /// The hash of an identifier within a tenant, after normalizing it (e-mail addresses are
    /// trimmed and lower-cased).
    pub fn identifier(&self, tenant: &str, id: &Identifier) -> String {
        let value = normalize(&id.kind, &id.value);
        self.hash(&["identifier", tenant, &id.kind, &value])
    }
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    // `Hmac::new_from_slice` only fails for MACs with fixed key sizes; HMAC has none. Keep a
    // non-panicking path anyway: a fixed key (documented as a bug if ever reached).
    match Hmac::<Sha256>::new_from_slice(b"tailor") {
        Ok(m) => m,
        Err(_) => std::process::abort(),
    }
}

fn normalize(kind: &str, value: &str) -> String {
    match kind {
        "email" => value.trim().to_lowercase(),
        _ => value.trim().to_string(),
    }
}

/// One identifier of a subject.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identifier {
    /// One of [`IDENTIFIER_KINDS`].
    pub kind: String,
    pub value: String,
}

/// Why an identity operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("unknown identifier kind `{0}` (expected one of: email, device_id, user_id, account_id, phone)")]
    UnknownKind(String),
    #[error("an identifier value must not be empty")]
    EmptyValue,
    #[error("the request names no subject: give `subject.id` or at least one identifier")]
    NoSubject,
    #[error("cannot merge a subject into itself")]
    SelfMerge,
    #[error("merge chain longer than {MAX_ALIAS_HOPS} hops starting at a subject")]
    AliasLoop,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Identifier {
    /// Checks the kind and value.
    pub fn validate(&self) -> Result<(), IdentityError> {
        if !IDENTIFIER_KINDS.contains(&self.kind.as_str()) {
            return Err(IdentityError::UnknownKind(self.kind.clone()));
        }
        if self.value.trim().is_empty() {
            return Err(IdentityError::EmptyValue);
        }
        Ok(())
    }
}

/// Who a request is about, after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The canonical subject id (what policies and experiments see).
    pub subject: String,
    /// Its keyed hash (what the store and logs see).
    pub subject_hash: String,
}

/// The identity graph of one store.
pub struct Identity<'a> {
    pub store: &'a dyn Store,
    pub hasher: &'a Hasher,
}

impl Identity<'_> {
    /// Follows merge aliases from `subject` to the subject it lives in now.
    pub fn canonical(&self, tenant: &str, subject: &str) -> Result<Resolved, IdentityError> {
        let mut current = subject.to_string();
        for _ in 0..MAX_ALIAS_HOPS {
            let h = self.hasher.subject(tenant, &current);
            match self.store.get(Tree::Identity, &key(&[tenant, "alias", &h]))? {
                Some(next) => current = String::from_utf8_lossy(&next).into_owned(),
                None => {
                    return Ok(Resolved {
                        subject: current,
                        subject_hash: h,
                    })
                }
            }
        }
        Err(IdentityError::AliasLoop)
    }

    /// Resolves a request's subject: `id` if given (through merges), else the first identifier
    /// that is linked to a subject. An identifier nobody is linked to yet gives an anonymous
    /// subject, `anon-<identifier hash>`, so its experiment assignment is still sticky.
    pub fn resolve(
        &self,
        tenant: &str,
        id: Option<&str>,
        identifiers: &[Identifier],
    ) -> Result<Resolved, IdentityError> {
        if let Some(id) = id {
            return self.canonical(tenant, id);
        }
        let mut first_hash = None;
        for ident in identifiers {
            ident.validate()?;
            let h = self.hasher.identifier(tenant, ident);
            if let Some(subject) = self.store.get(Tree::Identity, &key(&[tenant, "link", &h]))? {
                return self.canonical(tenant, &String::from_utf8_lossy(&subject));
            }
            first_hash.get_or_insert(h);
        }
        match first_hash {
            Some(h) => self.canonical(tenant, &format!("anon-{h}")),
            None => Err(IdentityError::NoSubject),
        }
    }

    /// Links identifiers to a subject. An identifier already linked to another subject moves to
    /// this one (the latest link wins); use [`Identity::merge`] to combine two subjects.
    pub fn link(&self, tenant: &str, subject: &str, identifiers: &[Identifier]) -> Result<(), IdentityError> {
        let target = self.canonical(tenant, subject)?;
        for ident in identifiers {
            ident.validate()?;
            let h = self.hasher.identifier(tenant, ident);
            let link_key = key(&[tenant, "link", &h]);
            if let Some(old) = self.store.get(Tree::Identity, &link_key)? {
                let old_hash = self.hasher.subject(tenant, &String::from_utf8_lossy(&old));
                self.store
                    .remove(Tree::Identity, &key(&[tenant, "rev", &old_hash, &h]))?;
            }
            self.store.put(Tree::Identity, &link_key, target.subject.as_bytes())?;
            self.store
                .put(Tree::Identity, &key(&[tenant, "rev", &target.subject_hash, &h]), b"")?;
        }
        Ok(())
    }

    /// Merges subject `from` into subject `into`: `from`'s identifiers now resolve to `into`,
    /// and so does `from` itself. The caller moves the subject's data (see
    /// [`crate::engine::Engine::merge`]); this only rewires the graph.
    pub fn merge_links(&self, tenant: &str, from: &Resolved, into: &Resolved) -> Result<(), IdentityError> {
        if from.subject_hash == into.subject_hash {
            return Err(IdentityError::SelfMerge);
        }
        let prefix = key(&[tenant, "rev", &from.subject_hash, ""]);
        for (k, _) in self.store.scan_prefix(Tree::Identity, &prefix, usize::MAX)? {
            let ident_hash = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            self.store.remove(Tree::Identity, &k)?;
            self.store.put(
                Tree::Identity,
                &key(&[tenant, "link", &ident_hash]),
                into.subject.as_bytes(),
            )?;
            self.store.put(
                Tree::Identity,
                &key(&[tenant, "rev", &into.subject_hash, &ident_hash]),
                b"",
            )?;
        }
        self.store.put(
            Tree::Identity,
            &key(&[tenant, "alias", &from.subject_hash]),
            into.subject.as_bytes(),
        )?;
        Ok(())
    }
}

impl Identity<'_> {
    /// Records the subject id behind a profile's hash (see the module comment).
    pub fn remember_subject(&self, tenant: &str, subject: &Resolved) -> Result<(), IdentityError> {
        self.store.put(
            Tree::Identity,
            &key(&[tenant, "subject", &subject.subject_hash]),
            subject.subject.as_bytes(),
        )?;
        Ok(())
    }

    /// The subject id behind a hash, when a profile ingestion recorded it.
    pub fn subject_id(&self, tenant: &str, subject_hash: &str) -> Result<Option<String>, IdentityError> {
        Ok(self
            .store
            .get(Tree::Identity, &key(&[tenant, "subject", subject_hash]))?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// Removes every identifier linked to `subject` and every alias that resolves to it
    /// (erasure). Returns how many identifiers were removed.
    pub fn erase(&self, tenant: &str, subject: &Resolved) -> Result<usize, IdentityError> {
        let prefix = key(&[tenant, "rev", &subject.subject_hash, ""]);
        let mut removed = 0;
        for (k, _) in self.store.scan_prefix(Tree::Identity, &prefix, usize::MAX)? {
            let ident_hash = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            self.store
                .remove(Tree::Identity, &key(&[tenant, "link", &ident_hash]))?;
            self.store.remove(Tree::Identity, &k)?;
            removed += 1;
        }
        self.store
            .remove(Tree::Identity, &key(&[tenant, "subject", &subject.subject_hash]))?;
        let aliases = key(&[tenant, "alias", ""]);
        for (k, v) in self.store.scan_prefix(Tree::Identity, &aliases, usize::MAX)? {
            if v == subject.subject.as_bytes() {
                self.store.remove(Tree::Identity, &k)?;
            }
        }
        Ok(removed)
    }
}

/// The hashing key: the configured one, or the one generated at first start and kept in the
/// store's meta tree.
pub fn load_or_create_key(store: &dyn Store, configured: Option<&str>) -> Result<Vec<u8>, StoreError> {
    if let Some(k) = configured {
        return Ok(k.as_bytes().to_vec());
    }
    if let Some(k) = store.get(Tree::Meta, b"identity/hash_key")? {
        return Ok(k);
    }
    let k = random_bytes(32);
    store.put(Tree::Meta, b"identity/hash_key", &k)?;
    store.flush()?;
    Ok(k)
}

/// `n` random bytes from the operating system, or (if that is unavailable) a hash of the time,
/// process id and an address: unique enough for a key that only needs to be unguessable to
/// outsiders who cannot read the store.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(&mut buf).is_ok() {
            return buf;
        }
    }
    use sha2::Digest;
    let mut out = Vec::new();
    let mut counter = 0u64;
    while out.len() < n {
        let mut h = Sha256::new();
        h.update(format!(
            "{:?}{}{:p}{counter}",
            std::time::SystemTime::now(),
            std::process::id(),
            &buf
        ));
        out.extend_from_slice(&h.finalize());
        counter += 1;
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn profile_subject_ids_are_remembered_and_erased() {
        let store = MemoryStore::new();
        let hasher = Hasher::new(b"k");
        let g = Identity {
            store: &store,
            hasher: &hasher,
        };
        let r = g.canonical("demo", "u-7").unwrap();
        assert_eq!(g.subject_id("demo", &r.subject_hash).unwrap(), None);
        g.remember_subject("demo", &r).unwrap();
        assert_eq!(g.subject_id("demo", &r.subject_hash).unwrap().as_deref(), Some("u-7"));
        assert_eq!(g.subject_id("other", &r.subject_hash).unwrap(), None);
        g.erase("demo", &r).unwrap();
        assert_eq!(g.subject_id("demo", &r.subject_hash).unwrap(), None);
    }

    fn email(v: &str) -> Identifier {
        Identifier {
            kind: "email".into(),
            value: v.into(),
        }
    }

    #[test]
    fn hashes_are_keyed_stable_and_never_contain_the_identifier() {
        let a = Hasher::new(b"key-one");
        let b = Hasher::new(b"key-two");
        let h = a.identifier("demo", &email("Ann@Example.com"));
        assert_eq!(h, a.identifier("demo", &email(" ann@example.com ")));
        assert_ne!(h, b.identifier("demo", &email("ann@example.com")));
        assert_ne!(h, a.identifier("other", &email("ann@example.com")));
        assert_eq!(h.len(), 32);
        assert!(!h.contains("ann"));
        assert_ne!(a.subject("demo", "u-1"), a.subject("demo", "u-2"));
    }

    #[test]
    fn identifiers_resolve_to_their_subject_and_merges_move_them() {
        let store = MemoryStore::new();
        let hasher = Hasher::new(b"k");
        let g = Identity {
            store: &store,
            hasher: &hasher,
        };
        g.link("demo", "u-1", &[email("ann@example.com")]).unwrap();
        g.link(
            "demo",
            "u-2",
            &[Identifier {
                kind: "device_id".into(),
                value: "phone-9".into(),
            }],
        )
        .unwrap();
        assert_eq!(
            g.resolve("demo", None, &[email("ANN@example.com")]).unwrap().subject,
            "u-1"
        );
        // Another tenant does not see the link.
        assert!(g
            .resolve("other", None, &[email("ann@example.com")])
            .unwrap()
            .subject
            .starts_with("anon-"));

        let from = g.canonical("demo", "u-2").unwrap();
        let into = g.canonical("demo", "u-1").unwrap();
        g.merge_links("demo", &from, &into).unwrap();
        let device = Identifier {
            kind: "device_id".into(),
            value: "phone-9".into(),
        };
        assert_eq!(g.resolve("demo", None, &[device]).unwrap().subject, "u-1");
        assert_eq!(g.resolve("demo", Some("u-2"), &[]).unwrap().subject, "u-1");
        assert!(matches!(
            g.merge_links("demo", &into, &into),
            Err(IdentityError::SelfMerge)
        ));
        // Nothing in the store holds the e-mail address in clear.
        for (k, v) in store.scan_prefix(Tree::Identity, b"", usize::MAX).unwrap() {
            assert!(!String::from_utf8_lossy(&k).contains("ann"));
            assert!(!String::from_utf8_lossy(&v).contains("ann"));
        }
    }

    #[test]
    fn unknown_kinds_and_empty_requests_are_rejected() {
        let store = MemoryStore::new();
        let hasher = Hasher::new(b"k");
        let g = Identity {
            store: &store,
            hasher: &hasher,
        };
        let bad = Identifier {
            kind: "ssn".into(),
            value: "1".into(),
        };
        assert!(matches!(
            g.resolve("demo", None, &[bad]),
            Err(IdentityError::UnknownKind(_))
        ));
        assert!(matches!(g.resolve("demo", None, &[]), Err(IdentityError::NoSubject)));
    }
}
