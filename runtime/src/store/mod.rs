//! Storage: the one [`Store`] trait every piece of runtime state goes through, and the
//! in-memory and fault-injecting implementations used by tests.
//!
//! The trait is deliberately a small ordered key-value interface (get, put, remove, prefix
//! scans, atomic batches, a durable flush and a monotonic id generator) over a fixed set of
//! named [`Tree`]s: that is all the runtime needs, it maps one-to-one onto sled (the embedded
//! default, [`sled::SledStore`]) and onto any distributed engine that plugs in later. Keys are
//! built by [`key`] from `/`-separated parts whose first part is the tenant, so one tenant's
//! data is one prefix.

pub mod sled;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The named key spaces of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tree {
    /// Server-wide facts: the identity hashing key, active bundle pointers.
    Meta,
    /// Bundle versions, by tenant and version number.
    Bundles,
    /// Catalogs (offers and templates), by tenant.
    Catalogs,
    /// Profiles, by tenant and hashed subject.
    Profiles,
    /// Online features, by tenant and hashed subject.
    Features,
    /// Identity links and subject aliases, by tenant and hashed identifier.
    Identity,
    /// Consent records, by tenant and hashed subject.
    Consent,
    /// Impressions (for caps), by tenant, hashed subject and time.
    Impressions,
    /// Engagement events (clicks, conversions, dismissals), by tenant, hashed subject and time.
    Events,
    /// The audit log, by decision id.
    Audit,
}

impl Tree {
    /// Every tree, in a fixed order.
    pub const ALL: [Tree; 10] = [
        Tree::Meta,
        Tree::Bundles,
        Tree::Catalogs,
        Tree::Profiles,
        Tree::Features,
        Tree::Identity,
        Tree::Consent,
        Tree::Impressions,
        Tree::Events,
        Tree::Audit,
    ];

    /// The tree's name in the store.
    pub fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Bundles => "bundles",
            Tree::Catalogs => "catalogs",
            Tree::Profiles => "profiles",
            Tree::Features => "features",
            Tree::Identity => "identity",
            Tree::Consent => "consent",
            Tree::Impressions => "impressions",
            Tree::Events => "events",
            Tree::Audit => "audit",
        }
    }
}

/// A storage failure. The message comes from the engine; callers degrade (serve a fallback) or
/// report a 5xx, never panic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("storage error: {0}")]
    Engine(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the store is unavailable (fault injected)")]
    Injected,
}

/// A key/value pair.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Ordered key-value storage over named trees.
pub trait Store: Send + Sync + 'static {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    fn put(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError>;
    /// Entries whose key starts with `prefix`, in key order, at most `limit`: the first page of
    /// [`Store::scan_prefix_after`].
    fn scan_prefix(&self, tree: Tree, prefix: &[u8], limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.scan_prefix_after(tree, prefix, None, limit)
    }
    /// Like [`Store::scan_prefix`], in reverse key order (newest first for time-ordered keys):
    /// the first page of [`Store::scan_prefix_rev_before`].
    fn scan_prefix_rev(&self, tree: Tree, prefix: &[u8], limit: usize) -> Result<Vec<Entry>, StoreError> {
        self.scan_prefix_rev_before(tree, prefix, None, limit)
    }
    /// Entries whose key starts with `prefix` and sorts after `after` (all of them when `after`
    /// is `None`), in key order, at most `limit`: a prefix scan in pages, for readers that must
    /// not hold a whole tenant in memory (batch plans). A range scan, not a filtered full scan.
    fn scan_prefix_after(
        &self,
        tree: Tree,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
    /// Entries whose key starts with `prefix` and sorts before `before` (all of them when
    /// `before` is `None`), in reverse key order, at most `limit`: a reverse scan in pages, for
    /// readers of the newest entries that must not hold a whole tree in memory (the audit log).
    /// A range scan, not a filtered full scan.
    fn scan_prefix_rev_before(
        &self,
        tree: Tree,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError>;
    /// Writes every entry, atomically: all or none.
    fn put_many(&self, tree: Tree, entries: &[Entry]) -> Result<(), StoreError>;
    /// Makes every write acknowledged so far durable (written and synced to disk).
    fn flush(&self) -> Result<(), StoreError>;
    /// A number never returned before, even across restarts.
    fn next_id(&self) -> Result<u64, StoreError>;
}

/// A shared store.
pub type SharedStore = Arc<dyn Store>;

/// A key from `/`-separated parts. Parts are tenant ids, hex hashes, fixed words and
/// fixed-width numbers, none of which contains `/`, so keys of one prefix sort together.
pub fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("/").into_bytes()
}

/// The entries of `tree` whose key starts with `prefix`, in key order, a page of at most `page`
/// at a time ([`Store::scan_prefix_after`] from the last key of the page before), so a long
/// scan never holds the whole prefix in memory. Ends after the first page shorter than `page`,
/// or after an error.
pub fn pages<'a>(
    store: &'a dyn Store,
    tree: Tree,
    prefix: &'a [u8],
    page: usize,
) -> impl Iterator<Item = Result<Vec<Entry>, StoreError>> + 'a {
    // A page of one at least: an empty page would never move on.
    let page = page.max(1);
    let mut after: Option<Vec<u8>> = None;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        let entries = store.scan_prefix_after(tree, prefix, after.as_deref(), page);
        match &entries {
            Ok(e) if e.len() >= page => after = e.last().map(|(k, _)| k.clone()),
            _ => done = true,
        }
        Some(entries)
    })
}

/// A JSON value from a stored entry.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored entry for a JSON value.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Every entry of the in-memory store, by tree and key.
type Entries = BTreeMap<(Tree, Vec<u8>), Vec<u8>>;

/// An in-memory store, for tests. Nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    trees: Mutex<Entries>,
    ids: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Entries>, StoreError> {
        self.trees
            .lock()
            .map_err(|_| StoreError::Engine("memory store lock poisoned".into()))
    }
}

impl Store for MemoryStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()?.get(&(tree, key.to_vec())).cloned())
    }

    fn put(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.lock()?.insert((tree, key.to_vec()), value.to_vec());
        Ok(())
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError> {
        self.lock()?.remove(&(tree, key.to_vec()));
        Ok(())
    }

    fn scan_prefix_after(
        &self,
        tree: Tree,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        use std::ops::Bound;
        let map = self.lock()?;
        let start = match after {
            Some(a) => Bound::Excluded((tree, a.to_vec())),
            None => Bound::Included((tree, prefix.to_vec())),
        };
        Ok(map
            .range((start, Bound::Unbounded))
            .take_while(|((t, k), _)| *t == tree && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn scan_prefix_rev_before(
        &self,
        tree: Tree,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        use std::ops::Bound;
        if before.is_some_and(|b| b <= prefix) {
            return Ok(Vec::new());
        }
        let map = self.lock()?;
        let end = match before {
            Some(b) => Bound::Excluded((tree, b.to_vec())),
            None => Bound::Unbounded,
        };
        Ok(map
            .range((Bound::Included((tree, prefix.to_vec())), end))
            .rev()
            .filter(|((t, k), _)| *t == tree && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn put_many(&self, tree: Tree, entries: &[Entry]) -> Result<(), StoreError> {
        let mut map = self.lock()?;
        for (k, v) in entries {
            map.insert((tree, k.clone()), v.clone());
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.ids.fetch_add(1, Ordering::Relaxed))
    }
}

/// Faults to inject, switched at run time through the admin API when the configuration enables
/// it (`[faults] enabled = true`). Used by the degradation tests.
#[derive(Debug, Default)]
pub struct Faults {
    /// Every store read and write fails.
    pub store_down: AtomicBool,
    /// Every store read sleeps this long first (milliseconds), to simulate a slow store.
    pub store_delay_ms: AtomicU64,
    /// The catalog is reported unavailable.
    pub catalog_down: AtomicBool,
    /// Audit writes fail.
    pub audit_down: AtomicBool,
}

/// A store that consults [`Faults`] before delegating.
pub struct FaultyStore {
    inner: SharedStore,
    faults: Arc<Faults>,
}

impl FaultyStore {
    pub fn new(inner: SharedStore, faults: Arc<Faults>) -> FaultyStore {
        FaultyStore { inner, faults }
    }

    fn check(&self, tree: Tree, read: bool) -> Result<(), StoreError> {
        // Bundles and the meta tree stay reachable, so deploys and startup still work while the
        // subject data is "down": the faults model a slow or failed profile/feature store.
        if matches!(tree, Tree::Bundles | Tree::Meta | Tree::Catalogs) {
            return Ok(());
        }
        if tree == Tree::Audit {
            if self.faults.audit_down.load(Ordering::Relaxed) {
                return Err(StoreError::Injected);
            }
            return Ok(());
        }
        if self.faults.store_down.load(Ordering::Relaxed) {
            return Err(StoreError::Injected);
        }
        let delay = self.faults.store_delay_ms.load(Ordering::Relaxed);
        if read && delay > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay));
        }
        Ok(())
    }
}

impl Store for FaultyStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(tree, true)?;
        self.inner.get(tree, key)
    }

    fn put(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.check(tree, false)?;
        self.inner.put(tree, key, value)
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError> {
        self.check(tree, false)?;
        self.inner.remove(tree, key)
    }

    fn scan_prefix_after(
        &self,
        tree: Tree,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.check(tree, true)?;
        self.inner.scan_prefix_after(tree, prefix, after, limit)
    }

    fn scan_prefix_rev_before(
        &self,
        tree: Tree,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        self.check(tree, true)?;
        self.inner.scan_prefix_rev_before(tree, prefix, before, limit)
    }

    fn put_many(&self, tree: Tree, entries: &[Entry]) -> Result<(), StoreError> {
        self.check(tree, false)?;
        self.inner.put_many(tree, entries)
    }

    fn flush(&self) -> Result<(), StoreError> {
        if self.faults.audit_down.load(Ordering::Relaxed) {
            return Err(StoreError::Injected);
        }
        self.inner.flush()
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        self.inner.next_id()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The contract every store implements; run against each implementation.
    pub(crate) fn contract(store: &dyn Store) {
        store.put(Tree::Profiles, b"t/a", b"1").unwrap();
        store.put(Tree::Profiles, b"t/b", b"2").unwrap();
        store.put(Tree::Profiles, b"u/a", b"3").unwrap();
        store.put(Tree::Consent, b"t/a", b"other tree").unwrap();
        assert_eq!(store.get(Tree::Profiles, b"t/a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(store.get(Tree::Profiles, b"t/c").unwrap(), None);
        let scan = store.scan_prefix(Tree::Profiles, b"t/", 10).unwrap();
        assert_eq!(scan.len(), 2);
        assert_eq!(scan[0].0, b"t/a");
        let rev = store.scan_prefix_rev(Tree::Profiles, b"t/", 1).unwrap();
        assert_eq!(rev, vec![(b"t/b".to_vec(), b"2".to_vec())]);
        // Paged scans: from the start, after a key, never past the prefix.
        store.put(Tree::Profiles, b"t/c", b"4").unwrap();
        let page = store.scan_prefix_after(Tree::Profiles, b"t/", None, 2).unwrap();
        assert_eq!(
            page.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(),
            [b"t/a", b"t/b"]
        );
        let page = store.scan_prefix_after(Tree::Profiles, b"t/", Some(b"t/b"), 2).unwrap();
        assert_eq!(page, vec![(b"t/c".to_vec(), b"4".to_vec())]);
        assert!(store
            .scan_prefix_after(Tree::Profiles, b"t/", Some(b"t/c"), 2)
            .unwrap()
            .is_empty());
        // Reverse pages: from the end, before a key, never past the prefix.
        let page = store.scan_prefix_rev_before(Tree::Profiles, b"t/", None, 2).unwrap();
        assert_eq!(
            page.iter().map(|(k, _)| k.as_slice()).collect::<Vec<_>>(),
            [b"t/c", b"t/b"]
        );
        let page = store
            .scan_prefix_rev_before(Tree::Profiles, b"t/", Some(b"t/b"), 2)
            .unwrap();
        assert_eq!(page, vec![(b"t/a".to_vec(), b"1".to_vec())]);
        assert!(store
            .scan_prefix_rev_before(Tree::Profiles, b"t/", Some(b"t/a"), 2)
            .unwrap()
            .is_empty());
        let page = store
            .scan_prefix_rev_before(Tree::Profiles, b"u/", Some(b"z"), 5)
            .unwrap();
        assert_eq!(page, vec![(b"u/a".to_vec(), b"3".to_vec())]);
        assert!(store
            .scan_prefix_rev_before(Tree::Profiles, b"u/", Some(b"a"), 5)
            .unwrap()
            .is_empty());
        store.remove(Tree::Profiles, b"t/c").unwrap();
        store
            .put_many(
                Tree::Audit,
                &[(b"1".to_vec(), b"x".to_vec()), (b"2".to_vec(), b"y".to_vec())],
            )
            .unwrap();
        assert_eq!(store.scan_prefix(Tree::Audit, b"", 10).unwrap().len(), 2);
        store.remove(Tree::Profiles, b"t/a").unwrap();
        assert_eq!(store.get(Tree::Profiles, b"t/a").unwrap(), None);
        let a = store.next_id().unwrap();
        let b = store.next_id().unwrap();
        assert!(b > a);
        store.flush().unwrap();
    }

    #[test]
    fn the_memory_store_keeps_the_contract() {
        contract(&MemoryStore::new());
    }

    #[test]
    fn injected_faults_fail_subject_data_but_not_bundles() {
        let faults = Arc::new(Faults::default());
        let store = FaultyStore::new(Arc::new(MemoryStore::new()), faults.clone());
        store.put(Tree::Profiles, b"t/a", b"1").unwrap();
        faults.store_down.store(true, Ordering::Relaxed);
        assert_eq!(store.get(Tree::Profiles, b"t/a"), Err(StoreError::Injected));
        assert!(store.get(Tree::Bundles, b"t/a").is_ok());
        faults.store_down.store(false, Ordering::Relaxed);
        assert!(store.get(Tree::Profiles, b"t/a").is_ok());
    }
}
