//! The embedded default store: sled 0.34, one [`sled::Tree`] per [`Tree`].
//!
//! sled has open reports of corruption after crashes, so durability is not taken on trust:
//! the end-to-end tests kill the real server with SIGKILL mid-traffic and check that every
//! acknowledged decision's audit record is there after a restart (`tests/server_durability.rs`).
//! [`Store::flush`] is sled's `flush`: on Linux it writes the log buffers and waits for them with
//! `sync_file_range` (not `fdatasync`), which survives a process crash but does not flush the
//! disk's write cache; see `docs/runtime.md`.

use super::{Entry, Store, StoreError, Tree};
use std::path::Path;

/// A sled database with the runtime's trees open.
pub struct SledStore {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

fn engine(e: sled::Error) -> StoreError {
    StoreError::Engine(e.to_string())
}

impl SledStore {
    /// Opens (or creates) the database in `dir`. `flush_every_ms` is sled's background flush
    /// interval; durability of the audit log does not depend on it (the audit writer flushes
    /// before acknowledging).
    pub fn open(dir: &Path, flush_every_ms: Option<u64>) -> Result<SledStore, StoreError> {
        SledStore::open_with_cache(dir, flush_every_ms, SledStore::DEFAULT_CACHE_BYTES)
    }

    /// sled's own default page cache size: right for a server, which reads the same subjects,
    /// bundles and catalogs again and again.
    pub const DEFAULT_CACHE_BYTES: u64 = 1 << 30;

    /// [`SledStore::open`] with a page cache of `cache_bytes`. A tool that reads a stopped
    /// server's log once from start to end (replay, export) wants a small one: a large cache
    /// only keeps pages that are never read again, and on a 608,593-record log (2.8 GB) the
    /// default one took replay's peak memory from 0.74 GB to 1.69 GB and cost it 1.5 s of
    /// system time (docs/benchmarks.md).
    pub fn open_with_cache(dir: &Path, flush_every_ms: Option<u64>, cache_bytes: u64) -> Result<SledStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .flush_every_ms(flush_every_ms)
            .cache_capacity(cache_bytes)
            .open()
            .map_err(engine)?;
        let trees = Tree::ALL
            .iter()
            .map(|t| db.open_tree(t.name()).map_err(engine))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SledStore { db, trees })
    }

    fn tree(&self, tree: Tree) -> Result<&sled::Tree, StoreError> {
        let i = Tree::ALL.iter().position(|t| *t == tree).unwrap_or(usize::MAX);
        self.trees
            .get(i)
            .ok_or_else(|| StoreError::Engine(format!("tree {} is not open", tree.name())))
    }
}

impl Store for SledStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree(tree)?.get(key).map_err(engine)?.map(|v| v.to_vec()))
    }

    fn put(&self, tree: Tree, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.tree(tree)?.insert(key, value).map_err(engine)?;
        Ok(())
    }

    fn remove(&self, tree: Tree, key: &[u8]) -> Result<(), StoreError> {
        self.tree(tree)?.remove(key).map_err(engine)?;
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
        let start = match after {
            Some(a) => Bound::Excluded(a.to_vec()),
            None => Bound::Included(prefix.to_vec()),
        };
        let mut out = Vec::new();
        for r in self.tree(tree)?.range::<Vec<u8>, _>((start, Bound::Unbounded)) {
            let (k, v) = r.map_err(engine)?;
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.to_vec(), v.to_vec()));
        }
        Ok(out)
    }

    fn scan_prefix_rev_before(
        &self,
        tree: Tree,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        let Some(before) = before else {
            return self
                .tree(tree)?
                .scan_prefix(prefix)
                .rev()
                .take(limit)
                .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(engine))
                .collect();
        };
        if before <= prefix {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for r in self.tree(tree)?.range(prefix..before).rev() {
            if out.len() >= limit {
                break;
            }
            let (k, v) = r.map_err(engine)?;
            // Keys between the prefix's range and `before` (when `before` lies past it).
            if k.starts_with(prefix) {
                out.push((k.to_vec(), v.to_vec()));
            }
        }
        Ok(out)
    }

    fn put_many(&self, tree: Tree, entries: &[Entry]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in entries {
            batch.insert(k.as_slice(), v.as_slice());
        }
        self.tree(tree)?.apply_batch(batch).map_err(engine)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush().map_err(engine)?;
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        self.db.generate_id().map_err(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tailor-sled-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn sled_keeps_the_contract() {
        let dir = temp_dir("contract");
        let store = SledStore::open(&dir, None).unwrap();
        super::super::tests::contract(&store);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn data_survives_reopening() {
        let dir = temp_dir("reopen");
        {
            let store = SledStore::open(&dir, None).unwrap();
            store.put(Tree::Audit, b"d1", b"record").unwrap();
            store.flush().unwrap();
        }
        let store = SledStore::open(&dir, None).unwrap();
        assert_eq!(store.get(Tree::Audit, b"d1").unwrap(), Some(b"record".to_vec()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
